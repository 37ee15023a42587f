import { sourceKind } from '../events/falco-event.js';
import { priorityName } from '../events/priority.js';
import { toFalcoShape } from '../events/serialize-event.js';
import type { Alert, EventAlert } from '../pipeline/alert.js';
import { deeplyFrozen } from '../util/deep-freeze.js';
import { markIntegers, stringifyMarked } from './marked-integers.js';

const iso = (ms: number) => new Date(ms).toISOString();

/** How an alert's bigints come out: as they are (for stringifyExact) or marked (for stringifyMarked). */
type Integers = 'bigint' | 'marked';

// `event` is Falco's alert as Falco wrote it; what Perch derives sits beside it, never inside.
function eventJson(alert: EventAlert, integers: Integers): Record<string, unknown> {
  const event = toFalcoShape(alert.event);
  // Output fields are the only place an alert holds bigints (parse-falco-json.ts).
  if (integers === 'marked' && event.output_fields !== undefined)
    event.output_fields = markIntegers(event.output_fields as Record<string, unknown>);
  return {
    kind: 'event',
    id: alert.id,
    priority: priorityName(alert.priority),
    source: sourceKind(alert.event),
    reasons: alert.reasons,
    ...(alert.routes ? { routes: alert.routes } : {}),
    enrichment: alert.enrichment,
    event,
  };
}

/**
 * The JSON shape of every kind of alert, as `--json`, webhooks and replay print it. With `marked`,
 * big integers are marked strings: for stringifyMarked only (see marked-integers.ts).
 */
export function alertToJson(alert: Alert, integers: Integers = 'bigint'): Record<string, unknown> {
  switch (alert.kind) {
    case 'event':
      return eventJson(alert, integers);
    case 'digest':
      return {
        kind: 'digest',
        id: alert.id,
        priority: priorityName(alert.priority),
        reasons: alert.reasons,
        rule: alert.rule,
        fingerprint: alert.fingerprint,
        count: alert.count,
        firstSeen: iso(alert.firstSeenMs),
        lastSeen: iso(alert.lastSeenMs),
        windowMs: alert.windowMs,
        pods: alert.pods,
        podCount: alert.podCount,
        ...(alert.namespace ? { namespace: alert.namespace } : {}),
        ...(alert.workload ? { workload: alert.workload } : {}),
        ...(alert.escalations
          ? {
              escalations: alert.escalations.map((e) => ({
                priority: priorityName(e.priority),
                at: iso(e.atMs),
              })),
            }
          : {}),
        sample: eventJson(alert.sample, integers),
      };
    case 'incident':
      return {
        kind: 'incident',
        id: alert.id,
        priority: priorityName(alert.priority),
        reasons: alert.reasons,
        correlation: alert.correlation,
        type: alert.type,
        title: alert.title,
        group: alert.group,
        eventCount: alert.eventCount,
        firstSeen: iso(alert.firstSeenMs),
        lastSeen: iso(alert.lastSeenMs),
        // Field by field, in the entry's own order: a spread then extended would get a hidden class
        // of its own per entry in V8.
        timeline: alert.timeline.map((t) => ({
          timeMs: t.timeMs,
          rule: t.rule,
          priority: priorityName(t.priority),
          ...(t.pod !== undefined ? { pod: t.pod } : {}),
          summary: t.summary,
          time: iso(t.timeMs),
        })),
        sample: eventJson(alert.sample, integers),
      };
  }
}

/**
 * The JSON text of `alertToJson(alert)` with exact big integers, as `--json`, replay and webhooks
 * write it. An event's enrichment is shared by every alert of its container and frozen, so its text
 * is written once and reused: most of an alert's JSON is its pod context.
 */
export function formatAlertJson(alert: Alert): string {
  if (alert.kind !== 'event') return stringifyMarked(alertToJson(alert, 'marked'));
  const event = toFalcoShape(alert.event);
  if (event.output_fields !== undefined)
    event.output_fields = markIntegers(event.output_fields as Record<string, unknown>);
  // The members of eventJson, in its order, each as JSON.stringify writes it (undefined: left out).
  return (
    `{"kind":"event"${member('id', alert.id)}${member('priority', priorityName(alert.priority))}` +
    `${member('source', sourceKind(alert.event))}${member('reasons', alert.reasons)}` +
    `${alert.routes ? member('routes', alert.routes) : ''}` +
    `${alert.enrichment === undefined ? '' : `,"enrichment":${enrichmentText(alert.enrichment)}`}` +
    `,"event":${stringifyMarked(event)}}`
  );
}

/** `,"key":value` as JSON.stringify writes a member, or nothing for a value it leaves out. */
function member(key: string, value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? '' : `,${JSON.stringify(key)}:${text}`;
}

const enrichmentTexts = new WeakMap<object, string>();

/** An enrichment's JSON text, kept for as long as the (deeply frozen, so unchanging) object lives. */
function enrichmentText(enrichment: object): string {
  let text = enrichmentTexts.get(enrichment);
  if (text === undefined) {
    text = JSON.stringify(enrichment);
    // Only what cannot change may be kept; an enrichment built elsewhere (tests, the hub) is written each time.
    if (deeplyFrozen(enrichment)) enrichmentTexts.set(enrichment, text);
  }
  return text;
}
