import { type FalcoEvent, outputText, sourceKind } from '../events/falco-event.js';
import { Priority, priorityName } from '../events/priority.js';
import type { Alert, DigestAlert, EventAlert, IncidentAlert } from '../pipeline/alert.js';
import { digestSummary } from '../pipeline/digest-summary.js';
import { workloadRef } from '../rules/alert-facts.js';
import { alertPlace, failingChecks, listChecks } from './alert-place.js';
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
/** What an attacker-chosen name (rule, pod, incident title) may take of a line. */
const MAX_NAME = 200;

/**
 * Untrusted text as the terminal gets it: cut first, on a character boundary (so no escape is cut in
 * half), then with control and invisible characters as visible escapes.
 */
const shown = (text: string, max = MAX_NAME) => escapeControlChars(clipText(text, max));

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

// Digests and incidents are headed by the time of their latest alert, on Falco's clock like an
// event's line: never by when Perch sent them, which may be earlier than the alerts themselves when a
// node's clock runs ahead.
function digestLine(alert: DigestAlert, paint: Paint): string {
  const parts = [
    ...head(alert.lastSeenMs, alert.priority, paint),
    paint(DIM, 'DIGEST'),
    shown(digestSummary(alert), MAX_OUTPUT),
  ];
  // The sample is the first repeat at the digest's priority, not necessarily the latest one.
  return `${parts.join(' ')}
    e.g.: ${eventMessage(alert.sample.event)}`;
}

function incidentLine(alert: IncidentAlert, paint: Paint): string {
  const group = Object.entries(alert.group)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  const parts = [
    ...head(alert.lastSeenMs, alert.priority, paint),
    paint(COLOURS[alert.priority], 'INCIDENT'),
    shown(alert.title),
    paint(DIM, `[${shown(group)}] ${alert.eventCount} events`),
  ];
  if (alert.reasons.length > 0) parts.push(paint(DIM, `(${shown(alert.reasons.join('; '), MAX_OUTPUT)})`));
  const listed = alert.timeline.slice(-MAX_TIMELINE_LINES);
  const lines = listed.map(
    (t) =>
      `    ${new Date(t.timeMs).toISOString().slice(11, 23)} ${priorityName(t.priority).padEnd(13)} ${shown(t.summary, MAX_OUTPUT)}`,
  );
  if (alert.eventCount > listed.length) lines.unshift(`    … ${earlier(alert.eventCount - listed.length)}`);
  return [parts.join(' '), ...lines].join('\n');
}

function eventMessage(event: FalcoEvent): string {
  return shown(outputText(event).replace(OUTPUT_PREFIX, '').replace(CONTAINER_SUFFIX, ''), MAX_OUTPUT);
}

function eventLine(alert: EventAlert, paint: Paint): string {
  const { event } = alert;
  const time = event.time.slice(11, 23);
  const level = priorityName(alert.priority).toUpperCase().padEnd(13);
  const message = eventMessage(event);
  const parts = [
    paint(DIM, time),
    paint(COLOURS[alert.priority], level),
    shown(event.rule),
    paint(DIM, `[${shown(where(alert), MAX_OUTPUT)}]`),
  ];
  const risk = clusterRisk(alert);
  if (risk)
    parts.push(
      paint(
        alert.enrichment.pod?.posture.level === 'privileged' ? COLOURS[Priority.Warning] : DIM,
        // A missing RuntimeClass is shown by the name the pod asked for: anyone creating pods chooses it.
        shown(risk, MAX_OUTPUT),
      ),
    );
  if (alert.reasons.length > 0) parts.push(paint(DIM, `(${shown(alert.reasons.join('; '), MAX_OUTPUT)})`));
  return `${parts.join(' ')}\n    ${message}`;
}

function where(alert: EventAlert): string {
  const place = alertPlace(alert);
  const node = place.node ?? 'unknown-host';
  if (place.host) return `${node} host`;
  const bits = [node];
  if (place.namespace || place.pod) bits.push(`${place.namespace ?? '?'}/${place.pod ?? '?'}`);
  if (place.workload) bits.push(workloadRef(place.workload));
  if (place.container) bits.push(`container ${place.container}`);
  // Without the cluster's view of the pod, the id is what to look the container up by (crictl inspect).
  if (!place.workload && place.containerId && place.containerId !== place.container)
    bits.push(place.containerId);
  const source = sourceKind(alert.event);
  if (source !== 'syscall') bits.push(`source ${source}`);
  if (place.deleted) bits.push('(pod deleted)');
  if (place.unresolved) bits.push('(pod not found in the cluster)');
  return bits.join(' ');
}

const MAX_LISTED_CHECKS = 4;

/** Isolation and Pod Security posture: how much the pod was allowed to do in the first place. */
function clusterRisk(alert: EventAlert): string | undefined {
  const pod = alert.enrichment.pod;
  if (!pod) return undefined;
  const runtime = pod.missingRuntimeClass
    ? `runtimeclass ${pod.runtimeClass ?? '?'} missing`
    : `${pod.isolation}${pod.handler ? `(${pod.handler})` : ''}`;
  const checks = failingChecks(pod);
  const posture = `pss=${pod.posture.level}${checks.length > 0 ? `(${listChecks(checks, MAX_LISTED_CHECKS, ',')})` : ''}`;
  return `isolation=${runtime} ${posture}`;
}

function earlier(count: number): string {
  return `${count} earlier event${count === 1 ? '' : 's'}`;
}
