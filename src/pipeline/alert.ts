import type { FalcoEvent } from '../events/falco-event.js';
import type { Priority } from '../events/priority.js';
import type { Enrichment } from '../kube/pod-context.js';
import type { EnrichedEvent } from './enrich.js';

/** What sinks deliver: one Falco event, with its cluster context and the priority Perch settled on. */
export interface Alert {
  kind: 'event';
  event: FalcoEvent;
  enrichment: Enrichment;
  /** Starts as Falco's priority; later stages may raise or lower it, saying why in `reasons`. */
  priority: Priority;
  reasons: string[];
  /** When Perch took the event in (ms since the epoch), for latency and ordering. */
  receivedAtMs: number;
}

export function alertFromEvent({ event, enrichment }: EnrichedEvent, receivedAtMs: number): Alert {
  return { kind: 'event', event, enrichment, priority: event.priority, reasons: [], receivedAtMs };
}
