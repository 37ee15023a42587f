// The hub's ingest contract with agents, in process: acknowledged only once settled, ids taken once.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from '@jest/globals';
import { configSchema } from '../../src/config/schema.js';
import { parseFalcoJson } from '../../src/events/parse-falco-json.js';
import { toFalcoJson } from '../../src/events/serialize-event.js';
import { hubEventId } from '../../src/hub/event-id.js';
import { Hub } from '../../src/hub/hub.js';
import { encodeBatch, HUB_INGEST_PATH } from '../../src/hub/wire.js';
import { createLogger } from '../../src/logging/logger.js';
import { FakeKubeApi } from '../fakes/fake-kube-api.js';
import { HttpReceiver } from '../fakes/http-receiver.js';
import { fakeKubeconfig } from '../helpers/fake-kubeconfig.js';
import { until } from '../helpers/until.js';

const sink = () =>
  new Writable({
    write: (_chunk, _encoding, done) => done(),
  });

let hub: Hub | undefined;
let receiver: HttpReceiver | undefined;
let fake: FakeKubeApi | undefined;

afterEach(async () => {
  await hub?.stop();
  await receiver?.stop();
  await fake?.stop();
  hub = undefined;
  receiver = undefined;
  fake = undefined;
});

async function startHub(receiverUrl: string, extra: Record<string, unknown> = {}): Promise<string> {
  const config = configSchema.parse({
    server: { listen: '127.0.0.1:0', shutdownGrace: '1s' },
    kubernetes: { enabled: false },
    rules: { dedup: { window: '0s' } },
    hub: { ackTimeout: '300ms', leaderElection: { enabled: false } },
    sinks: {
      hook: {
        type: 'webhook',
        url: `${receiverUrl}/hook`,
        retry: { initial: '50ms', max: '100ms' },
        rateLimit: { perSecond: 1000, burst: 1000 },
      },
    },
    ...extra,
  });
  hub = new Hub(config, { stdout: sink(), log: createLogger('silent'), onLostLeadership: () => undefined });
  const { port } = await hub.start();
  return `http://127.0.0.1:${port}`;
}

function forwarded(n: number) {
  const event = parseFalcoJson(
    JSON.stringify({
      time: `2026-01-01T00:00:0${n}.000000000Z`,
      priority: 'Warning',
      rule: 'Terminal shell in container',
      output: `shell n=${n}`,
    }),
  );
  return {
    id: hubEventId('node-a', event),
    node: 'node-a',
    enrichment: { outcome: 'disabled' as const },
    falcoJson: toFalcoJson(event),
  };
}

async function post(
  hubUrl: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; retryAfter: string | null; body: unknown }> {
  const res = await fetch(`${hubUrl}${HUB_INGEST_PATH}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.json() };
}

describe('hub ingest', () => {
  it('acknowledges a batch only once its alerts are delivered, and delivers an id sent again only once', async () => {
    receiver = await HttpReceiver.start();
    // failing for longer than the hub's ackTimeout (300 ms), whatever the backoff's jitter
    receiver.reply(...Array.from({ length: 20 }, () => ({ status: 503 })));
    receiver.setDefault({ status: 200, body: 'ok', delayMs: 0 });
    const url = await startHub(receiver.url);
    const batch = encodeBatch([forwarded(1), forwarded(2)]);

    // the webhook fails at first: the agent is told to keep the batch and come back
    const first = await post(url, batch);
    expect(first.status).toBe(503);
    expect(first.retryAfter).toBe('1');

    // sent again while pending: joins the first copies, answered once they are delivered
    let again = await post(url, batch);
    while (again.status === 503) again = await post(url, batch);
    expect(again.status).toBe(200);

    // sent once more after it was taken: dropped by id
    const third = await post(url, batch);
    expect(third).toMatchObject({ status: 200, body: { taken: 2, duplicates: 2 } });

    const events = receiver.accepted().filter((b) => b.includes('"type":"alert.event"'));
    expect(events.filter((b) => b.includes('shell n=1'))).toHaveLength(1);
    expect(events.filter((b) => b.includes('shell n=2'))).toHaveLength(1);
    // the receiver sees the forwarded id: the same whichever hub replica delivers it
    const ids = receiver.requests.filter((r) => r.answer === 200).map((r) => r.headers['webhook-id']);
    expect(ids).toContain(forwarded(1).id);
  });

  it('with hub.token: refuses a request without the token, or with another, before reading it', async () => {
    receiver = await HttpReceiver.start();
    const url = await startHub(receiver.url, {
      hub: { token: 's3cret-hub-token', ackTimeout: '300ms', leaderElection: { enabled: false } },
    });
    const batch = encodeBatch([forwarded(1)]);
    expect((await post(url, batch)).status).toBe(401);
    expect((await post(url, batch, { authorization: 'Bearer s3cret-hub-tokem' })).status).toBe(401);
    expect((await post(url, batch, { authorization: 's3cret-hub-token' })).status).toBe(401);
    expect(receiver.accepted()).toHaveLength(0);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^perch_hub_unauthorized_requests_total 3$/m);
    const taken = await post(url, batch, { authorization: 'Bearer s3cret-hub-token' });
    expect(taken).toMatchObject({ status: 200, body: { taken: 1 } });
  });

  it('refuses a malformed batch with 400 naming what is wrong', async () => {
    receiver = await HttpReceiver.start();
    const url = await startHub(receiver.url);
    const res = await post(
      url,
      JSON.stringify({ alerts: [{ id: 'x', node: 'n', enrichment: {}, event: '{}' }] }),
    );
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'alerts[0].enrichment: expected an object with an outcome' });
  });

  it('as a standby (another replica holds the Lease): not ready, and ingest answers 503 naming the leader', async () => {
    receiver = await HttpReceiver.start();
    fake = new FakeKubeApi();
    const apiUrl = await fake.start();
    fake.upsert('Lease', {
      metadata: { name: 'perch-hub', namespace: 'perch' },
      spec: {
        holderIdentity: 'hub-0',
        leaseDurationSeconds: 60,
        renewTime: new Date().toISOString(),
        leaseTransitions: 0,
      },
    });
    const dir = mkdtempSync(join(tmpdir(), 'perch-hub-standby-'));
    const kubeconfig = fakeKubeconfig(apiUrl, undefined, dir);
    const url = await startHub(receiver.url, {
      kubernetes: { kubeconfig },
      hub: {
        leaderElection: { enabled: true, namespace: 'perch', identity: 'hub-1', retryPeriod: '100ms' },
      },
    });
    await until(
      async () => (await fetch(`${url}/readyz`).then((r) => r.text())).includes('hub-0'),
      'standby',
    );
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.text()).toContain('standby (the lease is held by hub-0)');
    const res = await post(url, encodeBatch([forwarded(1)]));
    expect(res).toMatchObject({ status: 503, retryAfter: '2', body: { status: 'standby', leader: 'hub-0' } });
    expect(receiver.requests).toHaveLength(0);
  });
});
