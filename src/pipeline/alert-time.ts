import { eventTimeMs } from '../events/falco-event.js';
import type { EventAlert } from './alert.js';

/**
 * The one time every window (dedup, digests, correlations, incidents) places an alert at: Falco's
 * own time for the event, so that the order and spacing Falco saw are what windows measure, however
 * late or out of order the alerts reach Perch. A node whose clock runs ahead cannot push a key's
 * windows into the future: its alerts count as no later than `allowedLatenessMs` after Perch took
 * them in.
 */
export function alertTimeMs(alert: EventAlert, allowedLatenessMs: number): number {
  return Math.min(eventTimeMs(alert.event), alert.receivedAtMs + allowedLatenessMs);
}

/** Rejects what would make windows misbehave silently: a negative or non-integer lateness. */
export function checkAllowedLateness(operator: string, allowedLatenessMs: number): number {
  if (!Number.isSafeInteger(allowedLatenessMs) || allowedLatenessMs < 0) {
    throw new RangeError(
      `${operator}: allowedLatenessMs must be a whole number of milliseconds ≥ 0, got ${allowedLatenessMs}`,
    );
  }
  return allowedLatenessMs;
}
