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
    escapeControlChars(digestSummary(alert)),
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
    escapeControlChars(alert.title),
    paint(DIM, `[${escapeControlChars(group)}] ${alert.eventCount} events`),
  ];
  if (alert.reasons.length > 0) parts.push(paint(DIM, `(${escapeControlChars(alert.reasons.join('; '))})`));
  const shown = alert.timeline.slice(-MAX_TIMELINE_LINES);
  const lines = shown.map(
    (t) =>
      `    ${new Date(t.timeMs).toISOString().slice(11, 23)} ${priorityName(t.priority).padEnd(13)} ${escapeControlChars(t.summary)}`,
  );
  if (alert.eventCount > shown.length) lines.unshift(`    … ${earlier(alert.eventCount - shown.length)}`);
  return [parts.join(' '), ...lines].join('\n');
}

function eventMessage(event: FalcoEvent): string {
  return clipText(
    escapeControlChars(outputText(event).replace(OUTPUT_PREFIX, '').replace(CONTAINER_SUFFIX, '')),
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
