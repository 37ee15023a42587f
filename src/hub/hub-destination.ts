import { defaultClassify } from '../delivery/classify.js';
import type { DeliveryVerdict, Destination, RenderedRequest } from '../delivery/destination.js';
import { toFalcoJson } from '../events/serialize-event.js';
import type { Alert } from '../pipeline/alert.js';
import { parseJsonObject } from '../sinks/destinations/http.js';
import { eventIdOf } from './event-id.js';
import { combineBatches, encodeBatch, HUB_INGEST_PATH } from './wire.js';

/** A batch waits for no more than what is queued; the hub answers each within hub.ackTimeout. */
const DEFAULT_BATCH = { maxAlerts: 100, maxWaitMs: 0 };
/** Requests in flight: the hub holds each until its alerts are settled, so one at a time would idle. */
const DEFAULT_IN_FLIGHT = 4;

/**
 * The agent's side of the hub: posts events, with their Kubernetes context and this node's name, to
 * the hub's ingest path. The hub answers 200 once each one is settled there, 503 with Retry-After
 * while it is not (or while it is a standby), so the delivery engine keeps them (spooled) and
 * sends them again; the hub drops the ids it has taken already.
 */
export function hubDestination(baseUrl: string, node: string, token?: string): Destination {
  const url = new URL(HUB_INGEST_PATH, baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`).toString();
  // The hub sink is fed every event, never a digest or an incident.
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
    defaultMaxInFlight: DEFAULT_IN_FLIGHT,
    render: (alert) => renderBatch([alert]),
    // Added to each attempt rather than rendered: a rendered request is spooled, a token must not be.
    ...(token === undefined
      ? {}
      : {
          prepare: (request: RenderedRequest): RenderedRequest => ({
            ...request,
            headers: { ...request.headers, authorization: `Bearer ${token}` },
          }),
        }),
    batch: {
      defaults: DEFAULT_BATCH,
      combine: (requests) => ({
        url,
        body: combineBatches(requests.map((r) => r.body)),
        headers: { 'content-type': 'application/json; charset=utf-8' },
      }),
      classifyBatch: (response, count) => {
        const verdict = defaultClassify(response);
        const results = parseJsonObject(response.body)?.results;
        if (verdict.kind !== 'retry' || !Array.isArray(results) || results.length !== count) return verdict;
        // Only what the hub has not taken is sent again.
        return results.map((r): DeliveryVerdict => (r === 'taken' ? { kind: 'delivered' } : verdict));
      },
    },
  };
}
