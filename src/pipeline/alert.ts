import type { FalcoEvent } from '../events/falco-event.js';
import type { Priority } from '../events/priority.js';
import type { Enrichment, PodContext } from '../kube/pod-context.js';
import type { EnrichedEvent } from './enrich.js';

interface AlertBase {
  /** Stable id for this alert (idempotency keys, Alertmanager fingerprints, logs). */
  id: string;
  /** Starts as Falco's priority; rules may raise or lower it, saying why in `reasons`. */
  priority: Priority;
  reasons: string[];
  /** Sink names chosen by rules; undefined means every sink. */
  routes?: string[];
  /** When Perch took the (first) event in, ms since the epoch, by the pipeline's clock. */
  receivedAtMs: number;
}

/** How repeats of an event are collapsed: events with the same key inside the window become one digest. */
export interface DedupSetting {
  key: string;
  windowMs: number;
}

/** One Falco event with its cluster context. */
export interface EventAlert extends AlertBase {
  kind: 'event';
  event: FalcoEvent;
  enrichment: Enrichment;
  /** Set by the policy stage; undefined = never deduplicated. */
  dedup?: DedupSetting;
}

/**
 * An alert of a dedup window that was more severe than any sent before it for its key: it went out
 * at once instead of waiting for the digest.
 */
export interface Escalation {
  priority: Priority;
  /** The alert's own time (Falco's, see alert-time.ts), the same clock as `firstSeenMs`. */
  atMs: number;
}

/** The repeats of one event fingerprint inside a dedup window, as one message. */
export interface DigestAlert extends AlertBase {
  kind: 'digest';
  fingerprint: string;
  rule: string;
  /** Repeats collapsed into this digest (the first occurrence was sent on its own). */
  count: number;
  /** The earliest alert time in the window (its first occurrence's, or a late one's before it). */
  firstSeenMs: number;
  /** The latest time among the repeats, whatever order they arrived in. */
  lastSeenMs: number;
  windowMs: number;
  /** Distinct pods the repeats came from (at most a few names; podCount has the total). */
  pods: string[];
  podCount: number;
  namespace?: string;
  workload?: PodContext['workload'];
  /** An example: the first repeat at the digest's priority (whose reasons and routes it carries). */
  sample: EventAlert;
  /**
   * The window's escalations, in the order they were sent; absent when there were none. Each is
   * more severe than the last, so there are at most seven. They are not in `count`: each was
   * delivered on its own.
   */
  escalations?: Escalation[];
}

export interface TimelineEntry {
  /** The event's own time (Falco's, see alert-time.ts). */
  timeMs: number;
  rule: string;
  priority: Priority;
  pod?: string;
  summary: string;
}

/** Related events joined by a correlation rule. */
export interface IncidentAlert extends AlertBase {
  kind: 'incident';
  correlation: string;
  type: 'event_count' | 'value_count' | 'temporal' | 'temporal_ordered';
  title: string;
  /** The group-by values that tie the events together, e.g. { pod: 'payments/api-1' }. */
  group: Record<string, string>;
  /** The events that made the incident, in the order of their own times (bounded; eventCount has the total). */
  timeline: TimelineEntry[];
  eventCount: number;
  /** The earliest and the latest of its events' own times: the timeline lies between them. */
  firstSeenMs: number;
  lastSeenMs: number;
  /** Context of the last event, for where it happened. */
  sample: EventAlert;
}

export type Alert = EventAlert | DigestAlert | IncidentAlert;

let sequence = 0;
// When this process started: ids of a restarted agent differ from the last run's without a clock
// read for every alert.
const processStamp = Date.now().toString(36);

// `evt-<stamp>-` and the like, joined once: the template joined its parts anew for every alert,
// a string made at each step.
const idHeads = new Map<string, string>();

/** Ids unique within the process (and across its restarts), in creation order by their sequence. */
export function nextAlertId(prefix: string): string {
  sequence = (sequence + 1) % Number.MAX_SAFE_INTEGER;
  let head = idHeads.get(prefix);
  if (head === undefined) {
    head = `${prefix}-${processStamp}-`;
    idHeads.set(prefix, head);
  }
  return head + sequence.toString(36);
}

export function alertFromEvent({ event, enrichment }: EnrichedEvent, receivedAtMs: number): EventAlert {
  return eventAlert(event, enrichment, receivedAtMs);
}

/** The same, for a caller that holds the parts (the pipeline, for every event). */
export function eventAlert(event: FalcoEvent, enrichment: Enrichment, receivedAtMs: number): EventAlert {
  return {
    kind: 'event',
    id: nextAlertId('evt'),
    event,
    enrichment,
    priority: event.priority,
    reasons: [],
    receivedAtMs,
  };
}

/**
 * Every field of an EventAlert, optional ones included: a field added to the type fails to compile
 * until it is listed here, and a test copies an alert with each of them set.
 */
export const EVENT_ALERT_FIELDS = Object.freeze({
  kind: true,
  id: true,
  event: true,
  enrichment: true,
  priority: true,
  reasons: true,
  routes: true,
  receivedAtMs: true,
  dedup: true,
} satisfies Record<keyof EventAlert, true>);

/**
 * A copy of an event alert that the rules may change. Written out field by field rather than as
 * `{ ...alert }`: V8 gives a spread copy that is then given a property it lacked (dedup, routes) a
 * hidden class of its own, for every event. Those cost about 300 bytes per event that only a full
 * garbage collection frees, and turn the property reads of every later stage megamorphic. Built
 * like this, all copies share the few classes of the literal.
 */
export function copyEventAlert(alert: EventAlert): EventAlert {
  const copy: EventAlert = {
    kind: 'event',
    id: alert.id,
    event: alert.event,
    enrichment: alert.enrichment,
    priority: alert.priority,
    reasons: alert.reasons,
    receivedAtMs: alert.receivedAtMs,
  };
  if (alert.routes !== undefined) copy.routes = alert.routes;
  if (alert.dedup !== undefined) copy.dedup = alert.dedup;
  return copy;
}
