import { containerId, type FalcoEvent, isHostEvent, namespaceName, podName } from '../events/falco-event.js';
import { Priority, priorityName } from '../events/priority.js';
import type { Alert, DigestAlert, EventAlert, IncidentAlert } from '../pipeline/alert.js';
import { digestSummary } from '../pipeline/dedup.js';
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

const MAX_TIMELINE_LINES = 8;

/** One readable entry per alert: when, how bad, what, where, and Falco's own words. */
export function formatAlertLine(alert: Alert, colour: boolean): string {
  const paint = (code: string, text: string) => (colour ? `${code}${text}${RESET}` : text);
  switch (alert.kind) {
    case 'event':
      return eventLine(alert, paint);
    case 'digest':
      return digestLine(alert, paint);
    case 'incident':
      return incidentLine(alert, paint);
  }
}

type Paint = (code: string, text: string) => string;

function head(timeMs: number, priority: Priority, paint: Paint): string[] {
  return [
    paint(DIM, new Date(timeMs).toISOString().slice(11, 23)),
    paint(COLOURS[priority], priorityName(priority).toUpperCase().padEnd(13)),
  ];
}

function digestLine(alert: DigestAlert, paint: Paint): string {
  const parts = [
    ...head(alert.receivedAtMs, alert.priority, paint),
    paint(DIM, 'DIGEST'),
    escapeControlChars(digestSummary(alert)),
  ];
  return `${parts.join(' ')}
    last: ${eventMessage(alert.sample.event)}`;
}

function incidentLine(alert: IncidentAlert, paint: Paint): string {
  const group = Object.entries(alert.group)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  const parts = [
    ...head(alert.receivedAtMs, alert.priority, paint),
    paint(COLOURS[alert.priority], 'INCIDENT'),
    escapeControlChars(alert.title),
    paint(DIM, `[${escapeControlChars(group)}] ${alert.eventCount} events`),
  ];
  if (alert.reasons.length > 0) parts.push(paint(DIM, `(${escapeControlChars(alert.reasons.join('; '))})`));
  const shown = alert.timeline.slice(-MAX_TIMELINE_LINES);
  const lines = shown.map(
    (t) =>
      `    ${new Date(t.timeMs).toISOString().slice(11, 23)} ${priorityName(t.priority).padEnd(13)} ${escapeControlChars(t.summary)}`,
  );
  if (alert.eventCount > shown.length)
    lines.unshift(`    … ${alert.eventCount - shown.length} earlier events`);
  return [parts.join(' '), ...lines].join('\n');
}

function eventMessage(event: FalcoEvent): string {
  return clipText(
    escapeControlChars(event.output.replace(OUTPUT_PREFIX, '').replace(CONTAINER_SUFFIX, '')),
    MAX_OUTPUT,
  );
}

function eventLine(alert: EventAlert, paint: Paint): string {
  const { event } = alert;
  const time = event.time.slice(11, 23);
  const level = priorityName(alert.priority).toUpperCase().padEnd(13);
  const message = eventMessage(event);
  const parts = [
    paint(DIM, time),
    paint(COLOURS[alert.priority], level),
    escapeControlChars(event.rule),
    paint(DIM, `[${escapeControlChars(where(alert))}]`),
  ];
  const risk = clusterRisk(alert);
  if (risk)
    parts.push(
      paint(alert.enrichment.pod?.posture.level === 'privileged' ? COLOURS[Priority.Warning] : DIM, risk),
    );
  if (alert.reasons.length > 0) parts.push(paint(DIM, `(${escapeControlChars(alert.reasons.join('; '))})`));
  return `${parts.join(' ')}\n    ${message}`;
}

function where(alert: EventAlert): string {
  const { event, enrichment } = alert;
  const host = enrichment.pod?.node ?? enrichment.node ?? (event.hostname || 'unknown-host');
  if (isHostEvent(event)) return `${host} host`;
  const pod = enrichment.pod;
  if (pod) {
    const bits = [
      host,
      `${pod.namespace}/${pod.pod}`,
      `${pod.workload.kind.toLowerCase()}/${pod.workload.name}`,
    ];
    if (pod.container) bits.push(`container ${pod.container.name}`);
    if (pod.deleted) bits.push('(pod deleted)');
    return bits.join(' ');
  }
  return (
    fromFalcoFields(event, host) +
    (enrichment.outcome === 'unresolved' ? ' (pod not found in the cluster)' : '')
  );
}

const MAX_LISTED_CHECKS = 4;

/** Isolation and Pod Security posture: how much the pod was allowed to do in the first place. */
function clusterRisk(alert: EventAlert): string | undefined {
  const pod = alert.enrichment.pod;
  if (!pod) return undefined;
  const runtime = pod.missingRuntimeClass
    ? `runtimeclass ${pod.runtimeClass ?? '?'} missing`
    : `${pod.isolation}${pod.handler ? `(${pod.handler})` : ''}`;
  // Name what keeps the pod below the next level up: baseline checks for a privileged pod.
  const failing = pod.posture.level === 'privileged' ? 'baseline' : 'restricted';
  const checks = [...new Set(pod.posture.violations.filter((v) => v.level === failing).map((v) => v.check))];
  const listed =
    checks.slice(0, MAX_LISTED_CHECKS).join(',') + (checks.length > MAX_LISTED_CHECKS ? ',…' : '');
  const posture = `pss=${pod.posture.level}${checks.length > 0 && pod.posture.level !== 'restricted' ? `(${listed})` : ''}`;
  return `isolation=${runtime} ${posture}`;
}

function fromFalcoFields(event: FalcoEvent, host: string): string {
  const ns = namespaceName(event);
  const pod = podName(event);
  const id = containerId(event);
  const bits = [host];
  if (ns || pod) bits.push(`${ns ?? '?'}/${pod ?? '?'}`);
  if (id) bits.push(`container ${id}`);
  if (event.source !== 'syscall') bits.push(`source ${event.source}`);
  return bits.join(' ');
}
