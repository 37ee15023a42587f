/**
 * How an alert becomes one OpenTelemetry LogRecord (the table in docs/delivery.md). The result is
 * plain JSON on purpose: it is what the delivery engine keeps in memory and in the spool, and what
 * several alerts are batched from; the OTLP encoding (protobuf or JSON) happens just before sending.
 *
 * Semantic conventions where they exist (k8s.*, container.*, process.*, user.name); everything
 * else under `falco.*` (what Falco wrote) and `perch.*` (what Perch added).
 */
import {
  containerFullId,
  containerId,
  eventTags,
  type FalcoEvent,
  isHostEvent,
  namespaceName,
  outputFieldsOf,
  outputText,
  podName,
  podUid,
  resolvedFieldText,
  sourceKind,
} from '../../events/falco-event.js';
import type { FieldValue } from '../../events/field-value.js';
import { Priority, priorityName } from '../../events/priority.js';
import type { PodContext } from '../../kube/pod-context.js';
import type { Alert, DigestAlert, EventAlert, IncidentAlert } from '../../pipeline/alert.js';
import { digestSummary } from '../../pipeline/digest-summary.js';

/** An attribute value as OTLP carries it: integers stay integers, lists are lists of text. */
export type OtlpValue = string | number | boolean | string[];
export type OtlpAttributes = Record<string, OtlpValue>;

export interface OtlpRecord {
  /** Where it happened: one ResourceLogs per distinct set (pod, or node for host events). */
  resource: OtlpAttributes;
  /** Nanoseconds since the epoch as decimal text: Falco's times have more digits than a double keeps. */
  timeNs: string;
  observedNs: string;
  severityNumber: number;
  severityText: string;
  body: string;
  attributes: OtlpAttributes;
}

/**
 * Falco's priorities are syslog's; the logs data model leaves the finer steps to the source. The
 * three most severe spread over FATAL so a backend can still tell them apart; Notice sits above
 * Informational as syslog has it.
 */
export const SEVERITY_NUMBER: Readonly<Record<Priority, number>> = Object.freeze({
  [Priority.Emergency]: 24, // FATAL4
  [Priority.Alert]: 23, // FATAL3
  [Priority.Critical]: 21, // FATAL
  [Priority.Error]: 17, // ERROR
  [Priority.Warning]: 13, // WARN
  [Priority.Notice]: 10, // INFO2
  [Priority.Informational]: 9, // INFO
  [Priority.Debug]: 5, // DEBUG
});

/** Semantic-convention resource attribute for the workload kinds that have one. */
const WORKLOAD_ATTRIBUTE: Readonly<Record<string, string>> = Object.freeze({
  Deployment: 'k8s.deployment.name',
  StatefulSet: 'k8s.statefulset.name',
  DaemonSet: 'k8s.daemonset.name',
  Job: 'k8s.job.name',
  CronJob: 'k8s.cronjob.name',
  ReplicaSet: 'k8s.replicaset.name',
});

const NS_PER_MS = 1_000_000n;

export function alertToRecord(alert: Alert): OtlpRecord {
  switch (alert.kind) {
    case 'event':
      return eventRecord(alert);
    case 'digest':
      return digestRecord(alert);
    case 'incident':
      return incidentRecord(alert);
  }
}

function eventRecord(alert: EventAlert): OtlpRecord {
  return record(alert, alert, alert.event.timeNs.toString(), outputText(alert.event));
}

function digestRecord(alert: DigestAlert): OtlpRecord {
  // The latest repeat: a digest is sent when its window closes, about what happened up to then.
  const out = record(alert, alert.sample, msToNs(alert.lastSeenMs), digestSummary(alert));
  Object.assign(out.attributes, {
    'perch.digest.count': alert.count,
    'perch.digest.first_seen': msToNs(alert.firstSeenMs),
    'perch.digest.last_seen': msToNs(alert.lastSeenMs),
    'perch.digest.window_ms': alert.windowMs,
    'perch.digest.fingerprint': alert.fingerprint,
    'perch.digest.pods': alert.pods,
    'perch.digest.pod_count': alert.podCount,
  });
  return out;
}

function incidentRecord(alert: IncidentAlert): OtlpRecord {
  const out = record(alert, alert.sample, msToNs(alert.lastSeenMs), alert.title);
  const group = Object.fromEntries(
    Object.entries(alert.group).map(([key, value]) => [`perch.incident.group.${key}`, value]),
  );
  Object.assign(out.attributes, {
    'perch.incident.correlation': alert.correlation,
    'perch.incident.type': alert.type,
    'perch.incident.event_count': alert.eventCount,
    'perch.incident.first_seen': msToNs(alert.firstSeenMs),
    'perch.incident.last_seen': msToNs(alert.lastSeenMs),
    'perch.incident.members': alert.timeline.map(
      (t) =>
        `${new Date(t.timeMs).toISOString()} ${priorityName(t.priority)} ${t.rule}${t.pod ? ` ${t.pod}` : ''}: ${t.summary}`,
    ),
    ...group,
  });
  return out;
}

/**
 * The record with what every kind shares; `sample` is the event itself, or the example a digest or
 * incident carries. Built in one literal: V8 gives an object made by a spread and then given more
 * properties (`{ ...base, timeNs }`) a hidden class of its own, on every alert.
 */
function record(alert: Alert, sample: EventAlert, timeNs: string, body: string): OtlpRecord {
  const event = sample.event;
  const pod = sample.enrichment.pod;
  // Falco's priority, as Falco wrote it; an incident has none of its own: Perch's is its severity.
  const severity = alert.kind === 'incident' ? alert.priority : event.priority;
  // Added to the process attributes' own (fresh) object rather than spread into a new one, which
  // would start a hidden class of its own and a new one for each attribute added after.
  const attributes = Object.assign(processAttributes(event), {
    'falco.rule': alert.kind === 'digest' ? alert.rule : event.rule,
    'falco.priority': priorityName(event.priority),
    'falco.source': sourceKind(event),
    'perch.alert.id': alert.id,
    'perch.alert.kind': alert.kind,
    // What Perch's sinks filter and route by: Falco's unless a rule changed it (perch.reasons says why).
    'perch.priority': priorityName(alert.priority),
    'perch.enrichment': sample.enrichment.outcome,
  });
  const tags = eventTags(event);
  if (tags.length > 0) attributes['falco.tags'] = [...tags];
  if (event.hostname) attributes['falco.hostname'] = event.hostname;
  if (alert.reasons.length > 0) attributes['perch.reasons'] = [...alert.reasons];
  if (pod) Object.assign(attributes, podAttributes(pod));
  for (const [name, value] of Object.entries(outputFieldsOf(event))) {
    const converted = fieldAttribute(value);
    if (converted !== undefined) attributes[`falco.output_fields.${name}`] = converted;
  }
  return {
    resource: resourceOf(sample),
    timeNs,
    observedNs: msToNs(alert.receivedAtMs),
    severityNumber: SEVERITY_NUMBER[severity],
    severityText: priorityName(severity),
    body,
    attributes,
  };
}

function podAttributes(pod: PodContext): OtlpAttributes {
  const out: OtlpAttributes = {
    'perch.isolation': pod.isolation,
    'perch.pss.level': pod.posture.level,
    'perch.workload.kind': pod.workload.kind,
    'perch.workload.name': pod.workload.name,
  };
  if (pod.runtimeClass) out['perch.runtime_class'] = pod.runtimeClass;
  const checks = [...new Set(pod.posture.violations.map((v) => v.check))];
  if (checks.length > 0) out['perch.pss.violations'] = checks;
  if (pod.deleted) out['perch.pod.deleted'] = true;
  return out;
}

function processAttributes(event: FalcoEvent): OtlpAttributes {
  const out: OtlpAttributes = {};
  const name = resolvedFieldText(event, 'proc.name');
  if (name !== undefined) out['process.executable.name'] = name;
  const cmdline = resolvedFieldText(event, 'proc.cmdline');
  if (cmdline !== undefined) out['process.command_line'] = cmdline;
  const pid = integerField(event, 'proc.pid');
  if (pid !== undefined) out['process.pid'] = pid;
  const user = resolvedFieldText(event, 'user.name');
  if (user !== undefined) out['user.name'] = user;
  return out;
}

function integerField(event: FalcoEvent, name: string): number | undefined {
  const text = resolvedFieldText(event, name);
  if (text === undefined || !/^-?\d{1,15}$/.test(text)) return undefined;
  return Number(text);
}

/** Resource attributes: the node, and for a container its pod, workload, container and image. */
export function resourceOf(alert: EventAlert): OtlpAttributes {
  const { event, enrichment } = alert;
  const pod = enrichment.pod;
  const resource: OtlpAttributes = {};
  const node = pod?.node ?? enrichment.node ?? (event.hostname || undefined);
  if (node) resource['k8s.node.name'] = node;
  if (isHostEvent(event)) return resource;
  const namespace = pod?.namespace ?? namespaceName(event);
  if (namespace) resource['k8s.namespace.name'] = namespace;
  const podNameValue = pod?.pod ?? podName(event);
  if (podNameValue) resource['k8s.pod.name'] = podNameValue;
  const uid = pod?.uid || podUid(event);
  if (uid) resource['k8s.pod.uid'] = uid;
  const workloadKey = pod ? WORKLOAD_ATTRIBUTE[pod.workload.kind] : undefined;
  if (pod && workloadKey) resource[workloadKey] = pod.workload.name;
  const id = containerFullId(event) ?? pod?.container?.id ?? containerId(event);
  if (id) resource['container.id'] = id;
  const container = pod?.container?.name ?? resolvedFieldText(event, 'container.name');
  if (container) resource['container.name'] = container;
  const image = imageOf(event, pod);
  if (image) {
    resource['container.image.name'] = image.name;
    if (image.tag) resource['container.image.tags'] = [image.tag];
  }
  return resource;
}

/** Repository and tag: Falco's fields first, else the pod spec's `image` split at the tag's colon. */
export function imageOf(
  event: FalcoEvent,
  pod: PodContext | undefined,
): { name: string; tag?: string } | undefined {
  const repository = resolvedFieldText(event, 'container.image.repository');
  if (repository) {
    const tag = resolvedFieldText(event, 'container.image.tag');
    return tag ? { name: repository, tag } : { name: repository };
  }
  const image = pod?.container?.image;
  if (!image) return undefined;
  const withoutDigest = image.split('@')[0] ?? image;
  // A colon after the last slash is the tag's; one before it is a registry's port.
  const colon = withoutDigest.lastIndexOf(':');
  if (colon > withoutDigest.lastIndexOf('/')) {
    return { name: withoutDigest.slice(0, colon), tag: withoutDigest.slice(colon + 1) };
  }
  return { name: withoutDigest };
}

/**
 * Output fields keep their JSON type. Integers beyond what a double holds exactly (Falco's
 * nanosecond times) are written as their decimal text; unresolved fields (`<NA>`, null) are left out.
 */
function fieldAttribute(value: FieldValue): OtlpValue | undefined {
  if (value === null) return undefined;
  if (Array.isArray(value)) return value.map((v) => (v === null ? '<NA>' : String(v)));
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number' && Number.isInteger(value) && !Number.isSafeInteger(value))
    return String(value);
  return value;
}

function msToNs(ms: number): string {
  return (BigInt(Math.trunc(ms)) * NS_PER_MS).toString();
}
