import { formatEventTime } from '../../src/events/event-time.js';
import type { FalcoEvent } from '../../src/events/falco-event.js';
import type { EventAlert } from '../../src/pipeline/alert.js';

/** The same event as if Falco had seen it at `timeMs` (ms since the epoch). */
export function eventAt(event: FalcoEvent, timeMs: number): FalcoEvent {
  const timeNs = BigInt(timeMs) * 1_000_000n;
  return { ...event, time: formatEventTime(timeNs), timeNs };
}

/**
 * Sets when Falco saw an alert and when Perch took it in. The alert object itself is changed, not
 * copied, so that tests can still recognise it (a digest's sample, an incident's) by identity.
 */
export function timeAlert(alert: EventAlert, eventTimeMs: number, receivedAtMs: number): EventAlert {
  alert.event = eventAt(alert.event, eventTimeMs);
  alert.receivedAtMs = receivedAtMs;
  return alert;
}
