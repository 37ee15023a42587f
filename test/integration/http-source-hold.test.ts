/**
 * An NDJSON batch posted while the intake buffer is full waits unread until there is room, so its
 * sender slows down instead of its alerts being shed; single alerts (Falco's http_output) never wait.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { validateConfig } from '../../src/config/load-config.js';
import type { FalcoEvent } from '../../src/events/falco-event.js';
import { createLogger } from '../../src/logging/logger.js';
import { PerchMetrics } from '../../src/metrics/perch-metrics.js';
import { HttpServer } from '../../src/server/http-server.js';
import { HttpSource, MAX_HOLD_MS } from '../../src/sources/http-source.js';
import type { IntakeRoom } from '../../src/sources/source.js';
import { CURRENT_ALERT, PRE_033_ALERT } from '../fixtures/falco-alerts.js';
import { metricValue } from '../helpers/agent-harness.js';

/** A buffer that is full until the test says otherwise. */
class FullIntake implements IntakeRoom {
  full = true;
  private readonly waiting: (() => void)[] = [];
  whenRoom(go: () => void): (() => void) | undefined {
    if (!this.full) return undefined;
    this.waiting.push(go);
    return () => {
      const at = this.waiting.indexOf(go);
      if (at !== -1) this.waiting.splice(at, 1);
    };
  }
  get waiters(): number {
    return this.waiting.length;
  }
  makeRoom(): void {
    this.full = false;
    for (const go of this.waiting.splice(0)) go();
  }
}

let stop: (() => Promise<void>) | undefined;
afterEach(async () => {
  await stop?.();
  stop = undefined;
});

async function startSource(room: IntakeRoom, maxHoldMs = MAX_HOLD_MS) {
  const config = validateConfig({}, 'test', {});
  const metrics = new PerchMetrics();
  const log = createLogger('silent');
  const server = new HttpServer(metrics, log);
  const source = new HttpSource(config.sources.http, metrics, log, maxHoldMs);
  source.register(server.app);
  source.useIntakeRoom(room);
  const events: FalcoEvent[] = [];
  source.events$.subscribe((event) => events.push(event));
  await source.start();
  const { port } = await server.listen({ host: '127.0.0.1', port: 0 });
  let stopped = false;
  const stopAll = async () => {
    if (stopped) return;
    stopped = true;
    await source.stop();
    await server.close();
  };
  stop = stopAll;
  return { url: `http://127.0.0.1:${port}/`, events, metrics, source, stop: stopAll };
}

const NDJSON = { 'content-type': 'application/x-ndjson' };
const settledWithin = async (promise: Promise<unknown>, ms: number) =>
  Promise.race([promise.then(() => true), new Promise((resolve) => setTimeout(() => resolve(false), ms))]);

describe('HTTP source under a full intake buffer', () => {
  it('holds an NDJSON batch unread until there is room, then takes every alert of it', async () => {
    const room = new FullIntake();
    const { url, events, metrics } = await startSource(room);
    const answer = fetch(url, {
      method: 'POST',
      headers: NDJSON,
      body: `${CURRENT_ALERT}\n${PRE_033_ALERT}\n`,
    });
    expect(await settledWithin(answer, 300)).toBe(false);
    expect(events).toHaveLength(0);
    expect(await metricValue(metrics, 'perch_http_ingest_held_total', {})).toBe(1);
    room.makeRoom();
    const res = await answer;
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ accepted: 2 });
    expect(events.map((e) => e.rule)).toEqual([
      'Contact K8S API Server From Container',
      'Read sensitive file untrusted',
    ]);
  });

  it('never holds a single alert: Falco posts one at a time and must not stall', async () => {
    const room = new FullIntake();
    const { url, events, metrics } = await startSource(room);
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: CURRENT_ALERT,
    });
    expect(res.status).toBe(200);
    expect(events).toHaveLength(1);
    expect(await metricValue(metrics, 'perch_http_ingest_held_total', {})).toBe(0);
  });

  it('takes a batch held for the longest hold even if the buffer is still full, so a stuck pipeline holds no sender for ever', async () => {
    const room = new FullIntake();
    const { url, events } = await startSource(room, 300);
    const res = await fetch(url, { method: 'POST', headers: NDJSON, body: `${CURRENT_ALERT}\n` });
    expect(res.status).toBe(200);
    expect(room.full).toBe(true);
    expect(events).toHaveLength(1);
    // It left the line: the next room made goes to a sender still waiting, not to this one.
    expect(room.waiters).toBe(0);
  });

  it('answers a held batch 503 with Retry-After when Perch shuts down, without taking its alerts', async () => {
    const room = new FullIntake();
    const { url, events, stop: stopNow } = await startSource(room);
    const answer = fetch(url, { method: 'POST', headers: NDJSON, body: `${CURRENT_ALERT}\n` });
    expect(await settledWithin(answer, 200)).toBe(false);
    const stopping = stopNow();
    // At once, not when the hold would have run out.
    expect(await settledWithin(answer, MAX_HOLD_MS / 2)).toBe(true);
    const res = await answer;
    await stopping;
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(events).toHaveLength(0);
  });
});
