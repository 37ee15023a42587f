import type { Destination, RenderedRequest } from '../delivery/destination.js';
import { toFalcoJson } from '../events/serialize-event.js';
import type { Alert } from '../pipeline/alert.js';
import { eventIdOf } from './event-id.js';
import { encodeBatch, HUB_INGEST_PATH } from './wire.js';

/** A hub destination renders event alerts only: the hub sink is fed every event, never a digest. */
export interface HubDestination extends Destination {
  renderBatch(alerts: readonly Alert[]): RenderedRequest;
}

/**
 * The agent's side of the hub: posts events, with their Kubernetes context and this node's name, to
 * the hub's ingest path. The hub answers 200 once each one is settled there, 503 with Retry-After
 * while it is not (or while it is a standby), so the delivery engine keeps them (spooled) and
 * sends them again; the hub drops the ids it has taken already.
 */
export function hubDestination(baseUrl: string, node: string): HubDestination {
  const url = new URL(HUB_INGEST_PATH, baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`).toString();
  const renderBatch = (alerts: readonly Alert[]): RenderedRequest => {
    const items = alerts.map((alert) => {
      if (alert.kind !== 'event') throw new Error(`the hub sink forwards events only, got a ${alert.kind}`);
      const falcoJson = toFalcoJson(alert.event);
      return { id: eventIdOf(node, falcoJson), node, enrichment: alert.enrichment, falcoJson };
    });
    return { url, body: encodeBatch(items), headers: { 'content-type': 'application/json; charset=utf-8' } };
  };
  return {
    kind: 'hub',
    // The hub is ours and answers with Retry-After when it is busy: no documented service limit to keep to.
    defaultRate: { perSecond: 500, burst: 1000 },
    render: (alert) => renderBatch([alert]),
    renderBatch,
  };
}
