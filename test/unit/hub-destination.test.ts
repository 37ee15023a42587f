import { describe, expect, it } from '@jest/globals';
import { parseFalcoJson } from '../../src/events/parse-falco-json.js';
import { hubEventId } from '../../src/hub/event-id.js';
import { hubDestination } from '../../src/hub/hub-destination.js';
import { decodeBatch } from '../../src/hub/wire.js';
import { alertFromEvent } from '../../src/pipeline/alert.js';
import { podContext } from '../fixtures/pod-context.js';

const falco = (n: number) =>
  `{"time":"2026-01-01T00:00:0${n}.000000000Z","priority":"Critical","rule":"Drop and execute new binary in container","output":"x","output_fields":{"evt.time":1767225600123456789,"n":${n}}}`;

describe('hub destination (agent side)', () => {
  it('posts events with their context, node and a stable id to the versioned ingest path, several per request', () => {
    const destination = hubDestination('http://perch-hub.perch:2805', 'node-b');
    const enrichment = { outcome: 'container_id' as const, pod: podContext() };
    const requests = [1, 2].map((n) =>
      destination.render(alertFromEvent({ event: parseFalcoJson(falco(n)), enrichment }, 0)),
    );
    expect(requests[0]?.url).toBe('http://perch-hub.perch:2805/v1/hub/alerts');
    const combined = destination.batch?.combine(requests);
    const alerts = decodeBatch(JSON.parse(combined?.body ?? ''));
    expect(alerts.map((a) => a.node)).toEqual(['node-b', 'node-b']);
    expect(alerts.map((a) => a.id)).toEqual(
      [1, 2].map((n) => hubEventId('node-b', parseFalcoJson(falco(n)))),
    );
    expect(alerts[0]?.enrichment).toEqual(JSON.parse(JSON.stringify(enrichment)));
    // Falco's nanosecond integers keep every digit on the way
    expect(alerts[0]?.event.outputFields?.['evt.time']).toBe(1767225600123456789n);
  });

  it('with a token: adds it to each attempt only, never to the request that is queued and spooled', () => {
    const destination = hubDestination('http://perch-hub.perch:2805', 'node-b', 'hub-token-1');
    const rendered = destination.render(
      alertFromEvent({ event: parseFalcoJson(falco(1)), enrichment: { outcome: 'disabled' } }, 0),
    );
    expect(JSON.stringify(rendered)).not.toContain('hub-token-1');
    expect(destination.prepare?.(rendered, 1).headers.authorization).toBe('Bearer hub-token-1');
    expect(hubDestination('http://h:2805', 'n').prepare).toBeUndefined();
  });

  it('gives the same alert the same id on every send, and different alerts or nodes different ids', () => {
    const id = (node: string, n: number) => hubEventId(node, parseFalcoJson(falco(n)));
    expect(id('node-a', 1)).toBe(id('node-a', 1));
    expect(id('node-a', 1)).not.toBe(id('node-a', 2));
    expect(id('node-a', 1)).not.toBe(id('node-b', 1));
  });

  it('sends again only the alerts of a batch the hub did not take, after the delay it asked for', () => {
    const destination = hubDestination('http://hub:2805', 'node-a');
    const verdicts = destination.batch?.classifyBatch?.(
      {
        status: 503,
        headers: { get: (name: string) => (name === 'retry-after' ? '1' : null) },
        body: JSON.stringify({ status: 'not settled yet', results: ['taken', 'not_taken', 'taken'] }),
      },
      3,
    );
    expect(verdicts).toEqual([
      { kind: 'delivered' },
      expect.objectContaining({ kind: 'retry', afterMs: 1000 }),
      { kind: 'delivered' },
    ]);
  });
});
