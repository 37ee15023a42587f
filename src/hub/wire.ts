import type { FalcoEvent } from '../events/falco-event.js';
import { parseFalcoJson } from '../events/parse-falco-json.js';
import type { Enrichment } from '../kube/pod-context.js';

/** Where agents post their alerts on the hub; the version changes only with an incompatible change. */
export const HUB_INGEST_PATH = '/v1/hub/alerts';

/** One event as an agent forwards it: the alert as Falco wrote it, and where it happened. */
export interface ForwardedEvent {
  id: string;
  node: string;
  enrichment: Enrichment;
  event: FalcoEvent;
}

/**
 * The request body: `{ "alerts": [ { "id", "node", "enrichment", "event" } ] }`, where `event` is
 * Falco's JSON as a string, so that big integers keep every digit on the way through.
 */
export function encodeBatch(
  items: readonly { id: string; node: string; enrichment: Enrichment; falcoJson: string }[],
): string {
  const alerts = items.map(
    (item) =>
      `{"id":${JSON.stringify(item.id)},"node":${JSON.stringify(item.node)},"enrichment":${JSON.stringify(item.enrichment)},"event":${JSON.stringify(item.falcoJson)}}`,
  );
  return `${BATCH_START}${alerts.join(',')}${BATCH_END}`;
}

const BATCH_START = '{"alerts":[';
const BATCH_END = ']}';

/** One body carrying the alerts of several bodies encodeBatch wrote (oldest first). */
export function combineBatches(bodies: readonly string[]): string {
  return `${BATCH_START}${bodies.map((body) => body.slice(BATCH_START.length, -BATCH_END.length)).join(',')}${BATCH_END}`;
}

/** Per alert of a batch, in its order, in the hub's answer. */
export type BatchResult = 'taken' | 'not_taken';

export class BatchFormatError extends Error {}

/** Reads a request body; throws BatchFormatError naming the first thing that is wrong. */
export function decodeBatch(body: unknown): ForwardedEvent[] {
  const alerts = (body as { alerts?: unknown } | null)?.alerts;
  if (!Array.isArray(alerts)) throw new BatchFormatError('alerts: expected an array of forwarded alerts');
  return alerts.map((item: unknown, index) => {
    const where = `alerts[${index}]`;
    if (typeof item !== 'object' || item === null) throw new BatchFormatError(`${where}: expected an object`);
    const { id, node, enrichment, event } = item as Record<string, unknown>;
    if (typeof id !== 'string' || id === '')
      throw new BatchFormatError(`${where}.id: expected a non-empty string`);
    if (typeof node !== 'string') throw new BatchFormatError(`${where}.node: expected a string`);
    if (typeof event !== 'string')
      throw new BatchFormatError(`${where}.event: expected Falco's JSON as a string`);
    if (
      typeof enrichment !== 'object' ||
      enrichment === null ||
      typeof (enrichment as Enrichment).outcome !== 'string'
    )
      throw new BatchFormatError(`${where}.enrichment: expected an object with an outcome`);
    let parsed: FalcoEvent;
    try {
      parsed = parseFalcoJson(event);
    } catch (err) {
      throw new BatchFormatError(`${where}.event: ${(err as Error).message}`);
    }
    return { id, node, enrichment: enrichment as Enrichment, event: parsed };
  });
}
