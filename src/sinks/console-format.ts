import { containerId, type FalcoEvent, isHostEvent, namespaceName, podName } from '../events/falco-event.js';
import { Priority, priorityName } from '../events/priority.js';
import { stringifyExact, toFalcoShape } from '../events/serialize-event.js';
import type { Alert } from '../pipeline/alert.js';
import { clipText, escapeControlChars } from './untrusted-text.js';

const COLOURS: Record<Priority, string> = {
  [Priority.Emergency]: '\x1b[1;97;41m',
  [Priority.Alert]: '\x1b[1;31m',
  [Priority.Critical]: '\x1b[1;31m',
  [Priority.Error]: '\x1b[31m',
  [Priority.Warning]: '\x1b[33m',
  [Priority.Notice]: '\x1b[36m',
  [Priority.Informational]: '\x1b[32m',
  [Priority.Debug]: '\x1b[90m',
};
const RESET = '\x1b[0m';
const DIM = '\x1b[2m';
const MAX_OUTPUT = 400;

// Falco's text output starts with "HH:MM:SS.nnnnnnnnn: Priority "; the line already shows both.
const OUTPUT_PREFIX = /^\d{2}:\d{2}:\d{2}\.\d+: \w+ /;
// Falco ≥ 0.41 appends the container plugin's fields to every output; the bracket shows them already.
const CONTAINER_SUFFIX = /\s+container_id=\S*( container_name=.*)? k8s_pod_name=\S* k8s_ns_name=\S*$/;

/** One readable line per alert: when, how bad, what, where, and Falco's own words. */
export function formatAlertLine(alert: Alert, colour: boolean): string {
  const { event } = alert;
  const time = event.time.slice(11, 23);
  const level = priorityName(alert.priority).toUpperCase().padEnd(13);
  const paint = (code: string, text: string) => (colour ? `${code}${text}${RESET}` : text);
  const message = clipText(
    escapeControlChars(event.output.replace(OUTPUT_PREFIX, '').replace(CONTAINER_SUFFIX, '')),
    MAX_OUTPUT,
  );
  const parts = [
    paint(DIM, time),
    paint(COLOURS[alert.priority], level),
    escapeControlChars(event.rule),
    paint(DIM, `[${escapeControlChars(where(event))}]`),
  ];
  if (alert.reasons.length > 0) parts.push(paint(DIM, `(${escapeControlChars(alert.reasons.join('; '))})`));
  return `${parts.join(' ')}\n    ${message}`;
}

function where(event: FalcoEvent): string {
  const host = event.hostname || 'unknown-host';
  if (isHostEvent(event)) return `${host} host`;
  const ns = namespaceName(event);
  const pod = podName(event);
  const id = containerId(event);
  const bits = [host];
  if (ns || pod) bits.push(`${ns ?? '?'}/${pod ?? '?'}`);
  if (id) bits.push(`container ${id}`);
  if (event.source !== 'syscall') bits.push(`source ${event.source}`);
  return bits.join(' ');
}

/** The JSON form of an alert: Falco's own fields plus what Perch decided. */
export function formatAlertJson(alert: Alert): string {
  return stringifyExact({
    kind: alert.kind,
    priority: priorityName(alert.priority),
    reasons: alert.reasons,
    event: toFalcoShape(alert.event),
  });
}
