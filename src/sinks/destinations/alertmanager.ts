/**
 * Prometheus Alertmanager (API v2): one Perch alert becomes one element of the array a
 * `POST /api/v2/alerts` carries; the delivery engine puts up to `batch.maxAlerts` queued alerts
 * in one post (reference chat-and-alerting.md §7).
 *
 * Labels identify an alert to Alertmanager: it deduplicates, groups, inhibits and silences by
 * them, and alerts with the same label set are ONE alert whose annotations the latest post
 * replaces. So labels hold only stable, identifying, classic-safe (`[a-zA-Z_][a-zA-Z0-9_]*`)
 * facts with bounded values; everything that changes from event to event (Falco's output line,
 * command lines, counts, timelines) goes into annotations.
 *
 * Mapping decisions:
 * - `alertname`: the Falco rule (events, digests) or the correlation's name (incidents).
 * - `severity` (see SEVERITY_BY_PRIORITY): Emergency, Alert, Critical → critical; Error, Warning →
 *   warning; Notice, Informational, Debug → info. These are the three values Prometheus alerting
 *   rules conventionally use, so one Alertmanager route serves both. (falcosidekick says
 *   `information` for the last; a route written for it needs `info` here.) `priority` keeps
 *   Perch's priority name for finer matching.
 * - `pod` is NOT a label when Perch knows the pod's workload: pods of a Deployment come and go,
 *   and the workload is what identifies "this rule fires in payments-api". Consequence: the same
 *   rule from several replicas of one workload on one node is one Alertmanager alert (the latest
 *   pod is named in the `pod` annotation and the description), and `group_by: [pod]` cannot split
 *   it. Only when no workload is known (the pod was not found in the cluster cache) does `pod`
 *   identify the alert and become a label. For incidents `pod` is a label only when the
 *   correlation groups by pod.
 * - `node` is always a label: each node's Perch sees only its own node, so the same rule on two
 *   nodes is two alerts (group_by without `node` still makes one notification of them).
 * - `perch_kind` (event, digest, incident) keeps a digest ("×57 more") from replacing the
 *   annotations of the event it follows, and lets routes treat incidents differently.
 * - Incidents carry their correlation's group-by values as labels (two groups of one
 *   correlation are two alerts) and only the context those values pin down: a correlation
 *   grouped by namespace names no workload, since its events may come from several.
 * - `config.labels` (e.g. `cluster`) are applied last and may override the built-in ones, so a
 *   route written for falcosidekick's `source="falco"` can be kept.
 * - No `generatorURL`: Perch has no page for an alert, and a made-up link would mislead.
 * - No `runbook_url`: the sink's config has no field for one yet.
 *
 * Times: events start at Falco's event time and end `resolveAfter` later; digests start at
 * their first repeat and end `resolveAfter` after their LAST repeat (ending after the first
 * would send a digest of a long window already resolved); incidents see incidentEndsAt.
 */

import type { AlertmanagerSinkConfig } from '../../config/schema.js';
import { retryAfterMs } from '../../delivery/classify.js';
import type {
  DeliveryVerdict,
  Destination,
  DestinationResponse,
  RenderedRequest,
} from '../../delivery/destination.js';
import { formatEventTime } from '../../events/event-time.js';
import {
  eventTags,
  eventTimeMs,
  isHostEvent,
  outputText,
  podName,
  sourceKind,
} from '../../events/falco-event.js';
import { Priority, priorityName } from '../../events/priority.js';
import type { Alert, DigestAlert, EventAlert, IncidentAlert } from '../../pipeline/alert.js';
import { digestSummary } from '../../pipeline/digest-summary.js';
import { alertIsolation, alertNamespace, alertWorkload, workloadRef } from '../../rules/alert-facts.js';
import { graphemeStart } from '../../util/graphemes.js';
import { escapeControlChars } from '../untrusted-text.js';

/** What the destination reads of the sink's config (the whole config satisfies it). */
export type AlertmanagerOptions = Pick<
  AlertmanagerSinkConfig,
  'labels' | 'resolveAfter' | 'resendInterval' | 'incidentActiveFor'
>;

/**
 * An incident the sink ends early (its active set is full): a copy carrying the time its active
 * period now ends, read when the copy is rendered.
 */
export type AlertmanagerIncident = IncidentAlert & { alertmanagerEndsAtMs?: number };

export type AlertmanagerSeverity = 'critical' | 'warning' | 'info';

export const SEVERITY_BY_PRIORITY: Readonly<Record<Priority, AlertmanagerSeverity>> = Object.freeze({
  [Priority.Emergency]: 'critical',
  [Priority.Alert]: 'critical',
  [Priority.Critical]: 'critical',
  [Priority.Error]: 'warning',
  [Priority.Warning]: 'warning',
  [Priority.Notice]: 'info',
  [Priority.Informational]: 'info',
  [Priority.Debug]: 'info',
});

/** Label values are identities, not text: long ones (attacker-chosen command lines) are cut. */
export const MAX_LABEL_VALUE = 256;
export const MAX_SUMMARY = 300;
/** Alertmanager has no limit, but its notifiers do (Slack section text 3000): keep it readable. */
export const MAX_DESCRIPTION = 4000;
const MAX_TIMELINE_LINES = 10;
const MAX_VIOLATIONS = 5;

/** Classic Prometheus label names, valid in every Alertmanager mode and template. */
export const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** The `endsAt` of a firing incident is this many re-send intervals ahead (Prometheus uses 4). */
export const RESEND_SLACK = 3;

/**
 * At most `max` code points, cut between characters (never inside an emoji sequence or between a
 * letter and its accents), ending with `…` when something was left out.
 */
function clipCodePoints(text: string, max: number): string {
  if (text.length <= max) return text;
  const points = Array.from(text);
  if (points.length <= max) return text;
  const end = points.slice(0, max - 1).join('').length;
  return `${text.slice(0, graphemeStart(text, end))}…`;
}

function labelValue(value: string): string {
  return clipCodePoints(escapeControlChars(value), MAX_LABEL_VALUE);
}

const iso = (ms: number) => new Date(ms).toISOString();

export function alertmanagerSeverity(priority: Priority): AlertmanagerSeverity {
  return SEVERITY_BY_PRIORITY[priority] ?? 'info';
}

function nodeOf(alert: EventAlert): string | undefined {
  const { enrichment, event } = alert;
  return enrichment.pod?.node ?? enrichment.node ?? (event.hostname || undefined);
}

/** Where the pod of an event alert runs and how it is confined: the same for all its replicas. */
function podLabels(alert: EventAlert): Record<string, string | undefined> {
  const pod = alert.enrichment.pod;
  return {
    isolation: alertIsolation(alert),
    runtime_class: pod?.runtimeClass,
    pss_level: pod?.posture.level,
  };
}

function eventLabels(alert: EventAlert): Record<string, string | undefined> {
  const { event, enrichment } = alert;
  const workload = alertWorkload(alert);
  return {
    alertname: event.rule,
    perch_kind: 'event',
    falco_source: sourceKind(event),
    node: nodeOf(alert),
    namespace: alertNamespace(alert),
    workload,
    // See the file comment: the pod identifies the alert only when no workload does.
    pod: workload === undefined ? (enrichment.pod?.pod ?? podName(event)) : undefined,
    ...podLabels(alert),
  };
}

/** `payments/api-1` → `api-1`: the namespace has a label of its own. */
function bareName(namespacedPod: string): string {
  const slash = namespacedPod.indexOf('/');
  return slash === -1 ? namespacedPod : namespacedPod.slice(slash + 1);
}

function digestLabels(alert: DigestAlert): Record<string, string | undefined> {
  const onlyPod = alert.podCount === 1 ? alert.pods[0] : undefined;
  return {
    alertname: alert.rule,
    perch_kind: 'digest',
    falco_source: sourceKind(alert.sample.event),
    node: nodeOf(alert.sample),
    namespace: alert.namespace,
    workload: alert.workload ? workloadRef(alert.workload) : undefined,
    pod: alert.workload === undefined && onlyPod !== undefined ? bareName(onlyPod) : undefined,
    ...podLabels(alert.sample),
  };
}

/** Correlation group-by names (src/rules/alert-keys.ts) that have a label of their own. */
const GROUP_LABELS: Readonly<Record<string, string>> = {
  rule: 'rule',
  workload: 'workload',
  namespace: 'namespace',
  node: 'node',
  source: 'falco_source',
  container: 'container_id',
  priority: 'falco_priority',
};

/** An output field name (`proc.name`) as a classic label name (`proc_name`). */
function fieldLabelName(name: string): string {
  const cleaned = name
    .replace(/[^a-zA-Z0-9_]+/g, '_')
    .replace(/_+/g, '_')
    .replace(/^_|_$/g, '');
  return cleaned === '' || /^\d/.test(cleaned) ? `field_${cleaned}` : cleaned;
}

function incidentLabels(alert: IncidentAlert): Record<string, string | undefined> {
  const sample = alert.sample;
  const labels: Record<string, string | undefined> = {
    alertname: alert.correlation,
    perch_kind: 'incident',
    // Each node's Perch correlates only its own events: the node is part of what the incident is.
    node: nodeOf(sample),
  };
  const group = alert.group;
  if ('pod' in group || 'workload' in group) {
    // One pod, or one workload's pods: the sample's context describes them all.
    labels.namespace = alertNamespace(sample);
    labels.workload = alertWorkload(sample);
    Object.assign(labels, podLabels(sample));
  }
  for (const [key, value] of Object.entries(group)) {
    if (key === 'pod') {
      const slash = value.indexOf('/');
      if (slash > 0) labels.namespace = value.slice(0, slash);
      labels.pod = bareName(value);
      continue;
    }
    if (key === 'priority') {
      labels.falco_priority = priorityName(Number(value) as Priority);
      continue;
    }
    let name = GROUP_LABELS[key] ?? fieldLabelName(key);
    // An output field whose cleaned name is one of ours (`node`, `source`…) must not replace it.
    if (!(key in GROUP_LABELS) && name in labels) name = `field_${name}`;
    labels[name] = value;
  }
  return labels;
}

/** The label set of an alert: what Alertmanager identifies, groups and routes it by. */
export function alertmanagerLabels(
  alert: Alert,
  extra: Readonly<Record<string, string>> = {},
): Record<string, string> {
  const specific =
    alert.kind === 'event'
      ? eventLabels(alert)
      : alert.kind === 'digest'
        ? digestLabels(alert)
        : incidentLabels(alert);
  const merged: Record<string, string | undefined> = {
    severity: alertmanagerSeverity(alert.priority),
    priority: priorityName(alert.priority),
    source: 'perch',
    ...specific,
    ...extra,
  };
  const labels: Record<string, string> = {};
  // Sorted, so that equal label sets serialise equally (the sink keys its active incidents by them).
  for (const name of Object.keys(merged).sort()) {
    const value = merged[name];
    // Alertmanager drops empty-valued labels itself; dropping them here keeps the key stable.
    if (value === undefined || value === '' || !LABEL_NAME.test(name)) continue;
    labels[name] = labelValue(value);
  }
  return labels;
}

/** A stable string for a label set: equal strings mean the same Alertmanager alert. */
export function labelSetKey(labels: Readonly<Record<string, string>>): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * When an incident stops being active: `incidentActiveFor` after it was raised, or the time the
 * sink ended it early.
 */
export function incidentActiveUntil(alert: AlertmanagerIncident, options: AlertmanagerOptions): number {
  if (alert.alertmanagerEndsAtMs !== undefined) return alert.alertmanagerEndsAtMs;
  // lastSeenMs is the moment the correlation's condition held, i.e. when the incident was raised.
  return alert.lastSeenMs + options.incidentActiveFor;
}

/**
 * `endsAt` of an incident posted at `nowMs`: RESEND_SLACK re-send intervals ahead while it is
 * active, so that one or two lost re-sends do not resolve it, but never past the end of its active
 * period. The cap means Alertmanager resolves it on time even if Perch dies or the last post is
 * lost, and a post held back by retries past that time arrives already resolved.
 */
export function incidentEndsAt(activeUntilMs: number, options: AlertmanagerOptions, nowMs: number): number {
  return Math.min(nowMs + RESEND_SLACK * options.resendInterval, activeUntilMs);
}

// Falco's text output starts with "HH:MM:SS.nnnnnnnnn: Priority "; startsAt and labels say both.
const OUTPUT_PREFIX = /^\d{2}:\d{2}:\d{2}\.\d+: \w+ /;

function placeText(alert: EventAlert): string {
  const pod = alert.enrichment.pod;
  const node = nodeOf(alert);
  const onNode = node ? ` on node ${node}` : '';
  if (isHostEvent(alert.event)) return `on host ${node ?? '(unknown node)'}`;
  if (pod) {
    const kind = pod.workload.kind;
    // A bare pod's workload is the pod itself: naming it twice says nothing.
    if (kind === 'Pod' || kind === 'StaticPod') return `in pod ${pod.namespace}/${pod.pod}${onNode}`;
    return `in ${workloadRef(pod.workload)} (namespace ${pod.namespace})${onNode}`;
  }
  const name = podName(alert.event);
  const namespace = alertNamespace(alert);
  if (name) return `in pod ${namespace ? `${namespace}/` : ''}${name}${onNode}`;
  return node ? `on node ${node}` : '';
}

function eventSummary(alert: EventAlert): string {
  const place = placeText(alert);
  return place ? `${alert.event.rule} ${place}` : alert.event.rule;
}

/** Falco's words and what Perch knows about the pod, one fact a line. */
function eventDetails(alert: EventAlert): string[] {
  const { event, enrichment } = alert;
  const lines: string[] = [];
  const output = outputText(event).replace(OUTPUT_PREFIX, '');
  if (output) lines.push(output);
  if (alert.reasons.length > 0) lines.push(`Why: ${alert.reasons.join('; ')}`);
  const pod = enrichment.pod;
  if (pod) {
    const container = pod.container
      ? ` (container ${pod.container.name}${pod.container.image ? `, image ${pod.container.image}` : ''})`
      : '';
    lines.push(`Pod: ${pod.namespace}/${pod.pod}${container}${pod.deleted ? ', already deleted' : ''}`);
    lines.push(`Workload: ${workloadRef(pod.workload)}`);
    if (pod.serviceAccount) lines.push(`Service account: ${pod.serviceAccount}`);
    const runtime = [
      pod.runtimeClass ? `RuntimeClass ${pod.runtimeClass}` : 'default runtime',
      pod.handler ? `handler ${pod.handler}` : undefined,
      pod.missingRuntimeClass ? 'RuntimeClass not found in the cluster' : undefined,
    ].filter((p): p is string => p !== undefined);
    lines.push(`Isolation: ${pod.isolation} (${runtime.join(', ')})`);
    const { level, violations, namespaceEnforce } = pod.posture;
    let posture = `Pod security: meets ${level}`;
    if (namespaceEnforce) posture += ` (namespace enforces ${namespaceEnforce})`;
    if (violations.length > 0) {
      const shown = violations
        .slice(0, MAX_VIOLATIONS)
        .map((v) => `${v.check} (${v.field}=${v.value})`)
        .join(', ');
      const more =
        violations.length > MAX_VIOLATIONS ? ` and ${violations.length - MAX_VIOLATIONS} more` : '';
      posture += `; violates ${shown}${more}`;
    }
    lines.push(posture);
  } else if (isHostEvent(event)) {
    lines.push('Isolation: host (a process on the node itself, outside any pod)');
  } else if (enrichment.outcome === 'unresolved') {
    lines.push('Pod: not found in the cluster cache; no Kubernetes context');
  }
  const tags = eventTags(event).length > 0 ? `, tags ${eventTags(event).join(',')}` : '';
  lines.push(
    `Falco: rule "${event.rule}", ${priorityName(event.priority)}, source ${sourceKind(event)}${tags}`,
  );
  return lines;
}

function clock(ms: number): string {
  return new Date(ms).toISOString().slice(11, 23);
}

function incidentSummary(alert: IncidentAlert): string {
  const group = Object.entries(alert.group)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return `${alert.title}: ${alert.eventCount} events${group ? ` [${group}]` : ''}`;
}

function incidentDetails(alert: IncidentAlert): string[] {
  const lines = [...alert.reasons];
  const shown = alert.timeline.slice(-MAX_TIMELINE_LINES);
  lines.push('Timeline (UTC):');
  const earlier = alert.eventCount - shown.length;
  if (earlier > 0) lines.push(`  … ${earlier} earlier event${earlier === 1 ? '' : 's'}`);
  for (const t of shown) {
    const pod = t.pod ? ` [${t.pod}]` : '';
    lines.push(`  ${clock(t.timeMs)} ${priorityName(t.priority)} ${t.rule}${pod}: ${t.summary}`);
  }
  lines.push('Last event:', ...eventDetails(alert.sample));
  return lines;
}

/** Summary, description and the alert's id: replaced by each post, so free to change. */
export function alertmanagerAnnotations(alert: Alert): Record<string, string> {
  let summary: string;
  let details: string[];
  let pod: string | undefined;
  switch (alert.kind) {
    case 'event': {
      summary = eventSummary(alert);
      details = eventDetails(alert);
      const context = alert.enrichment.pod;
      pod = context ? `${context.namespace}/${context.pod}` : podName(alert.event);
      break;
    }
    case 'digest':
      summary = digestSummary(alert);
      details = [summary, 'Last repeat:', ...eventDetails(alert.sample)];
      if (alert.pods.length > 0)
        pod = alert.pods.join(', ') + (alert.podCount > alert.pods.length ? ', …' : '');
      break;
    case 'incident':
      summary = incidentSummary(alert);
      details = incidentDetails(alert);
      break;
  }
  // Annotations are not identities, but they end up in chat messages and e-mails: control
  // characters from Falco's fields are made visible there too, line breaks kept.
  const text = (s: string) =>
    s
      .split('\n')
      .map((line) => escapeControlChars(line))
      .join('\n');
  return {
    summary: clipCodePoints(escapeControlChars(summary), MAX_SUMMARY),
    description: clipCodePoints(text(details.join('\n')), MAX_DESCRIPTION),
    ...(pod ? { pod: clipCodePoints(escapeControlChars(pod), MAX_LABEL_VALUE) } : {}),
    perch_id: alert.id,
  };
}

/** Annotation of incidents: when Perch stops re-sending it and lets it resolve. */
export const ACTIVE_UNTIL = 'perch_active_until';

export interface AlertmanagerAlertBody {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
}

/** The one element of the posted array. */
export function alertmanagerAlert(
  alert: Alert,
  options: AlertmanagerOptions,
  nowMs: number,
): AlertmanagerAlertBody {
  let startsMs: number;
  let startsAt: string;
  let endsMs: number;
  const annotations = alertmanagerAnnotations(alert);
  switch (alert.kind) {
    case 'event':
      startsMs = eventTimeMs(alert.event);
      // Falco's nanoseconds, in UTC; Alertmanager parses RFC 3339 with any fraction.
      startsAt = formatEventTime(alert.event.timeNs);
      endsMs = startsMs + options.resolveAfter;
      break;
    case 'digest':
      startsMs = alert.firstSeenMs;
      startsAt = iso(startsMs);
      endsMs = alert.lastSeenMs + options.resolveAfter;
      break;
    case 'incident': {
      startsMs = alert.firstSeenMs;
      startsAt = iso(startsMs);
      const activeUntil = incidentActiveUntil(alert, options);
      endsMs = incidentEndsAt(activeUntil, options, nowMs);
      // Also what prepare() needs to compute a fresh endsAt from the request alone.
      annotations[ACTIVE_UNTIL] = iso(activeUntil);
      break;
    }
  }
  return {
    labels: alertmanagerLabels(alert, options.labels),
    annotations,
    startsAt,
    // Alertmanager rejects an end before the start ("start time must be before end time").
    endsAt: iso(Math.max(endsMs, startsMs)),
  };
}

/**
 * `http://am:9093`, `http://am:9093/prefix/` (a --web.route-prefix) or the full
 * `…/api/v2/alerts` → the endpoint; credentials in the URL become a Basic Authorization header,
 * because fetch refuses URLs that carry them and they must not end up in logs.
 */
export function alertmanagerEndpoint(base: string): { url: string; headers: Record<string, string> } {
  const url = new URL(base);
  const headers: Record<string, string> = {};
  if (url.username || url.password) {
    const user = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    headers.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    url.username = '';
    url.password = '';
  }
  const path = url.pathname.replace(/\/+$/, '');
  url.pathname = path.endsWith('/api/v2/alerts') ? path : `${path}/api/v2/alerts`;
  return { url: url.toString(), headers };
}

/** Alertmanager answers a 400 with a JSON string, a 422 or parse error with {code, message}. */
export function alertmanagerErrorMessage(body: string): string {
  let message = body.trim();
  try {
    const parsed: unknown = JSON.parse(message);
    if (typeof parsed === 'string') message = parsed;
    else if (typeof parsed === 'object' && parsed !== null && 'message' in parsed) {
      const m = (parsed as { message: unknown }).message;
      if (typeof m === 'string') message = m;
    }
  } catch {
    // Not JSON (a proxy's HTML page, say): the text itself, cut short below.
  }
  return clipCodePoints(escapeControlChars(message), 300) || '(empty body)';
}

export function classifyAlertmanagerResponse(response: DestinationResponse, nowMs: number): DeliveryVerdict {
  const { status } = response;
  if (status >= 200 && status < 300) return { kind: 'delivered' };
  if (status === 429) {
    const afterMs = retryAfterMs(response, nowMs);
    return {
      kind: 'retry',
      reason: 'Alertmanager answered 429',
      ...(afterMs !== undefined ? { afterMs } : {}),
    };
  }
  if (status === 408 || status === 425 || status >= 500) {
    return {
      kind: 'retry',
      reason: `Alertmanager answered ${status}: ${alertmanagerErrorMessage(response.body)}`,
    };
  }
  if (status === 404 || status === 405) {
    return {
      kind: 'rejected',
      reason: `Alertmanager answered ${status}: is the URL Alertmanager's base URL, with its --web.route-prefix? Perch posts to /api/v2/alerts (Alertmanager ≥ 0.16)`,
    };
  }
  // 400 (validation: "start time must be before end time", "invalid label set: …") and 422
  // (schema) say this alert will never be taken: retrying cannot help.
  return {
    kind: 'rejected',
    reason: `Alertmanager rejected the alert (${status}): ${alertmanagerErrorMessage(response.body)}`,
  };
}

/**
 * The Destination for one Alertmanager instance (the sink makes one per URL: HA clusters want
 * every alert posted to every instance). `now` stamps the `endsAt` of incidents.
 */
export function alertmanagerDestination(
  url: string,
  config: AlertmanagerOptions,
  now: () => number = Date.now,
): Destination {
  const endpoint = alertmanagerEndpoint(url);
  const headers = { 'content-type': 'application/json', ...endpoint.headers };
  return {
    kind: 'alertmanager',
    // Alertmanager publishes no limit; it is the cluster's own service. Counted in posts (each of
    // up to batch.maxAlerts alerts): a burst the size of a digest flush, without hammering it.
    defaultRate: { perSecond: 50, burst: 100 },
    render: (alert) => ({
      url: endpoint.url,
      body: JSON.stringify([alertmanagerAlert(alert, config, now())]),
      headers: { ...headers },
    }),
    // Order matters to Alertmanager: the latest post of a label set wins, so an incident's
    // resolution must not overtake its last re-send. Batches carry the volume instead.
    defaultMaxInFlight: 1,
    batch: { defaults: { maxAlerts: 64, maxWaitMs: 0 }, combine: combineAlertmanagerRequests },
    prepare: (request) => refreshIncidentEndsAt(request, config, now()),
    classify: (response) => classifyAlertmanagerResponse(response, now()),
  };
}

/** One post of several alerts: the one-element arrays render() made, as one array. */
export function combineAlertmanagerRequests(requests: readonly RenderedRequest[]): RenderedRequest {
  const [first] = requests;
  if (!first) throw new RangeError('a batch needs at least one request');
  const elements = requests.map((r) => r.body.trim().slice(1, -1).trim()).filter((e) => e !== '');
  return { url: first.url, headers: first.headers, body: `[${elements.join(',')}]` };
}

/** Written by JSON.stringify: a body without it holds no incident, and need not be parsed. */
const INCIDENT_MARK = '"perch_kind":"incident"';

/**
 * The delivery engine renders once, when it takes an alert in, and may post it much later (after
 * retries, or from the spool after a restart). An incident rendered then would arrive with an
 * endsAt long past and show as resolved while still active, so each attempt gets an endsAt
 * computed from the request itself (its active-until annotation). Events and digests keep theirs:
 * they describe the past.
 */
export function refreshIncidentEndsAt(
  request: RenderedRequest,
  options: AlertmanagerOptions,
  nowMs: number,
): RenderedRequest {
  if (!request.body.includes(INCIDENT_MARK)) return request;
  try {
    const alerts = JSON.parse(request.body) as AlertmanagerAlertBody[];
    if (!Array.isArray(alerts)) return request;
    let changed = false;
    const refreshed = alerts.map((alert) => {
      const next = refreshedAlert(alert, options, nowMs);
      if (next !== alert) changed = true;
      return next;
    });
    return changed ? { ...request, body: JSON.stringify(refreshed) } : request;
  } catch {
    // Not one of ours (an older format): sent as it was rendered.
    return request;
  }
}

function refreshedAlert(
  alert: AlertmanagerAlertBody,
  options: AlertmanagerOptions,
  nowMs: number,
): AlertmanagerAlertBody {
  if (alert?.labels?.perch_kind !== 'incident') return alert;
  const activeUntil = Date.parse(alert.annotations?.[ACTIVE_UNTIL] ?? '');
  const starts = Date.parse(alert.startsAt);
  if (Number.isNaN(activeUntil) || Number.isNaN(starts)) return alert;
  const endsAt = iso(Math.max(starts, incidentEndsAt(activeUntil, options, nowMs)));
  return endsAt === alert.endsAt ? alert : { ...alert, endsAt };
}
