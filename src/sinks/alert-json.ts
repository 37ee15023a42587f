import { sourceKind } from '../events/falco-event.js';
import { priorityName } from '../events/priority.js';
import { stringifyExact, toFalcoShape } from '../events/serialize-event.js';
import type { Alert, EventAlert } from '../pipeline/alert.js';

const iso = (ms: number) => new Date(ms).toISOString();

// `event` is Falco's alert as Falco wrote it; what Perch derives sits beside it, never inside.
function eventJson(alert: EventAlert): Record<string, unknown> {
  return {
    kind: 'event',
    id: alert.id,
    priority: priorityName(alert.priority),
    source: sourceKind(alert.event),
    reasons: alert.reasons,
    ...(alert.routes ? { routes: alert.routes } : {}),
    enrichment: alert.enrichment,
    event: toFalcoShape(alert.event),
  };
}

/** The JSON shape of every kind of alert, as `--json`, webhooks and replay print it. */
export function alertToJson(alert: Alert): Record<string, unknown> {
  switch (alert.kind) {
    case 'event':
      return eventJson(alert);
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
        sample: eventJson(alert.sample),
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
        timeline: alert.timeline.map((t) => ({
          ...t,
          time: iso(t.timeMs),
          priority: priorityName(t.priority),
        })),
        sample: eventJson(alert.sample),
      };
  }
}

export function formatAlertJson(alert: Alert): string {
  return stringifyExact(alertToJson(alert));
}
