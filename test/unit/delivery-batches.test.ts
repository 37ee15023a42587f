/**
 * Batches: a destination that takes several alerts per request gets up to batch.maxAlerts queued
 * alerts in one, gathered for at most batch.maxWait; the alerts share the answer.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { Priority } from '../../src/events/priority.js';
import { BatchingJsonDestination, DeliveryHarness } from '../fakes/delivery-harness.js';
import { labelledAlert, metricValue, sleep, until } from '../fakes/http-receiver-fixtures.js';
import { ManualPoster } from '../fakes/manual-poster.js';

let h: DeliveryHarness;

beforeEach(async () => {
  h = await DeliveryHarness.create();
});

afterEach(async () => {
  await h.dispose();
});

const destination = () => new BatchingJsonDestination('http://127.0.0.1:1');
const labels = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);

describe('DeliverySink batches', () => {
  it('sends up to maxAlerts queued alerts per request, oldest first, counted per alert', async () => {
    const sink = h.sink({ batch: { maxAlerts: 3 } }, {}, destination());
    for (const label of labels('a', 7)) sink.send(labelledAlert(label));
    await sink.start();
    for (let n = 1; n <= 3; n++) {
      await h.poster.waitFor(n);
      h.poster.held[n - 1]?.answer(200);
    }
    await until(() => sink.status().detail === '0 queued');
    expect(h.sent()).toEqual([['a1', 'a2', 'a3'], ['a4', 'a5', 'a6'], ['a7']]);
    // A lone alert goes as the destination renders it, not as a one-element array.
    expect(h.poster.held[2]?.request.body.startsWith('{')).toBe(true);
    expect(await h.deliveries('delivered')).toBe(7);
    expect(await metricValue(h.metrics, 'perch_component_sent_events_total', { component_id: 'test' })).toBe(
      7,
    );
    const exposition = await h.metrics.registry.getSingleMetricAsString(
      'perch_sink_request_duration_seconds',
    );
    expect(exposition).toContain('perch_sink_request_duration_seconds_count{sink="test"} 3');
  });

  it('without a batch setting (and no destination default) sends one alert per request', async () => {
    const sink = h.sink({}, {}, destination());
    sink.send(labelledAlert('a1'));
    sink.send(labelledAlert('a2'));
    await sink.start();
    await h.poster.waitFor(1);
    h.poster.held[0]?.answer(200);
    await h.poster.waitFor(2);
    expect(h.sent()).toEqual([['a1'], ['a2']]);
  });

  it('waits up to maxWait after the first alert for more, and no longer', async () => {
    const sink = h.sink({ batch: { maxAlerts: 10, maxWait: '300ms' } }, {}, destination());
    await sink.start();
    const firstAt = Date.now();
    sink.send(labelledAlert('a1'));
    await sleep(100);
    expect(h.poster.held).toHaveLength(0);
    sink.send(labelledAlert('a2'));
    await h.poster.waitFor(1);
    expect((h.poster.held[0]?.atMs ?? 0) - firstAt).toBeGreaterThanOrEqual(290);
    expect(h.sent()).toEqual([['a1', 'a2']]);
  });

  it('sends at once when maxAlerts are queued, without waiting for maxWait', async () => {
    const sink = h.sink({ batch: { maxAlerts: 2, maxWait: '10s' } }, {}, destination());
    await sink.start();
    sink.send(labelledAlert('a1'));
    sink.send(labelledAlert('a2'));
    await h.poster.waitFor(1, 2000);
    expect(h.sent()).toEqual([['a1', 'a2']]);
  });

  it('a 4xx rejects every alert of the batch: counted per alert, logged once', async () => {
    const sink = h.sink({ batch: { maxAlerts: 5 } }, {}, destination());
    for (const label of labels('a', 3)) sink.send(labelledAlert(label));
    await sink.start();
    await h.poster.waitFor(1);
    h.poster.held[0]?.answer(400, {}, 'invalid_payload');
    await until(() => sink.status().detail === '0 queued');
    await sleep(50);
    expect(h.poster.held).toHaveLength(1);
    expect(await h.deliveries('rejected')).toBe(3);
    expect(await h.discarded('rejected')).toBe(3);
    const rejections = h.logs.lines().filter((l) => String(l.msg).includes('rejected'));
    expect(rejections).toHaveLength(1);
    expect(rejections[0]).toMatchObject({ reason: 'HTTP 400: invalid_payload', alerts: 3 });
  });

  it('retries the batch after the delay a 429 Retry-After asks for', async () => {
    const sink = h.sink({ batch: { maxAlerts: 5 } }, {}, destination());
    for (const label of labels('a', 3)) sink.send(labelledAlert(label));
    await sink.start();
    await h.poster.waitFor(1);
    h.poster.held[0]?.answer(429, { 'retry-after': '1' });
    await h.poster.waitFor(2, 3000);
    expect((h.poster.held[1]?.atMs ?? 0) - (h.poster.held[0]?.atMs ?? 0)).toBeGreaterThanOrEqual(900);
    expect(h.sent()).toEqual([
      ['a1', 'a2', 'a3'],
      ['a1', 'a2', 'a3'],
    ]);
    h.poster.held[1]?.answer(200);
    await until(() => sink.status().detail === '0 queued');
    expect(await h.deliveries('retried')).toBe(3);
    expect(await h.deliveries('delivered')).toBe(3);
    // Retry-After paces; it is not a failure of the destination.
    expect(sink.status().up).toBe(true);
  });

  it('applies per-alert verdicts a destination reads from the answer', async () => {
    const perAlert = destination();
    Object.assign(perAlert.batch, {
      classifyBatch: () => [
        { kind: 'delivered' },
        { kind: 'rejected', reason: 'field too long' },
        { kind: 'retry', reason: 'try again' },
      ],
    });
    const sink = h.sink({ batch: { maxAlerts: 3 } }, {}, perAlert);
    for (const label of labels('a', 3)) sink.send(labelledAlert(label));
    await sink.start();
    await h.poster.waitFor(1);
    h.poster.held[0]?.answer(200);
    await h.poster.waitFor(2);
    expect(h.sent()[1]).toEqual(['a3']);
    expect(await h.deliveries('delivered')).toBe(1);
    expect(await h.deliveries('rejected')).toBe(1);
    expect(await h.deliveries('retried')).toBe(1);
  });

  it('keeps a spooled batch across a restart and sends it again as one request', async () => {
    const config = { batch: { maxAlerts: 10 }, spoolMinPriority: 'Warning', timeout: '200ms' };
    const first = h.sink(config, { spool: h.openSpool(), flushStallMs: 100 }, destination());
    for (const label of labels('w', 3)) first.send(labelledAlert(label, Priority.Warning));
    await first.start();
    await h.poster.waitFor(1);
    h.poster.held[0]?.answer(503);
    await first.flush();
    await first.close();
    h.closeSpools();

    const spool = h.openSpool();
    expect(spool.count('test')).toBe(3);
    h.poster = new ManualPoster();
    const second = h.sink(config, { spool }, destination());
    await second.start();
    await h.poster.waitFor(1);
    expect(h.sent()).toEqual([['w1', 'w2', 'w3']]);
    h.poster.held[0]?.answer(200);
    await until(() => spool.count('test') === 0);
    expect(await h.deliveries('delivered')).toBe(3);
  });
});
