import { createHash } from 'node:crypto';
import type { FalcoEvent } from '../events/falco-event.js';
import { toFalcoJson } from '../events/serialize-event.js';

/**
 * The id an event keeps from the agent to the hub: derived from the node and the alert exactly as
 * Falco wrote it (its nanosecond time included), so the same alert gets the same id however often it
 * is sent again: from the agent's spool after a restart, from its intake journal, or by Falco
 * itself re-posting it. Two different detections never share one: Falco stamps each with the time
 * of the syscall that triggered it.
 */
export function hubEventId(node: string, event: FalcoEvent): string {
  return eventIdOf(node, toFalcoJson(event));
}

/** The same id from the alert's Falco JSON, when the caller has written it already. */
export function eventIdOf(node: string, falcoJson: string): string {
  // 128 bits: collisions among a cluster's alerts are not a practical concern.
  return createHash('sha256').update(node).update('\n').update(falcoJson).digest('base64url').slice(0, 22);
}
