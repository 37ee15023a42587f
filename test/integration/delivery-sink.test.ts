import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { DeliverySink, type DeliverySinkDeps } from '../../src/delivery/delivery-sink.js';
import type { RenderedRequest } from '../../src/delivery/destination.js';
import { Spool } from '../../src/delivery/spool.js';
import { Priority } from '../../src/events/priority.js';
import { PerchMetrics } from '../../src/metrics/perch-metrics.js';
import type { Alert, DigestAlert } from '../../src/pipeline/alert.js';
import { HttpReceiver } from '../fakes/http-receiver.js';
import {
  captureLogger,
  deliveryConfig,
  JsonDestination,
  labelledAlert,
  labelOf,
  metricValue,
  sleep,
  URL_SECRET,
  until,
} from '../fakes/http-receiver-fixtures.js';

const FAST_RETRY = { initial: '10ms', max: '100ms' };

let receiver: HttpReceiver;
let metrics: PerchMetrics;
let logs: ReturnType<typeof captureLogger>;
let dir: string;
const sinks: DeliverySink[] = [];
const spools: Spool[] = [];

beforeEach(async () => {
  receiver = await HttpReceiver.start();
  metrics = new PerchMetrics({ processMetrics: false });
  logs = captureLogger();
  dir = await mkdtemp(join(tmpdir(), 'perch-delivery-'));
});

afterEach(async () => {
  for (const sink of sinks.splice(0)) await sink.close();
  for (const spool of spools.splice(0)) spool.close();
  await receiver.stop();
  await rm(dir, { recursive: true, force: true });
});

function openSpool(maxEntries = 1000): Spool {
  const spool = new Spool({ path: join(dir, 'spool.db'), maxEntries });
  spools.push(spool);
  return spool;
}

function makeSink(
  fields: Record<string, unknown> = {},
  deps: Partial<DeliverySinkDeps> = {},
  destination = new JsonDestination(receiver.url),
): DeliverySink {
  const sink = new DeliverySink('test', deliveryConfig({ retry: FAST_RETRY, ...fields }), destination, {
    metrics,
    log: logs.log,
    ...deps,
  });
  sinks.push(sink);
  return sink;
}

async function started(fields: Record<string, unknown> = {}, deps: Partial<DeliverySinkDeps> = {}) {
  const sink = makeSink(fields, deps);
  await sink.start();
  return sink;
}

const labels = (bodies: string[]) => bodies.map(labelOf);
const requested = () => receiver.requests.map((r) => labelOf(r.body));
const deliveries = (status: string) =>
  metricValue(metrics, 'perch_sink_deliveries_total', { sink: 'test', status });
const discarded = (reason: string) =>
  metricValue(metrics, 'perch_component_discarded_events_total', { component_id: 'test', reason });
const gapBetween = (first: number, second: number) =>
  (receiver.requests[second]?.atMs ?? 0) - (receiver.requests[first]?.atMs ?? 0);

function sendAll(sink: DeliverySink, alerts: Alert[]): void {
  for (const alert of alerts) sink.send(alert);
}

describe('DeliverySink against a local receiver', () => {
  it('delivers alerts in order and reports it in metrics', async () => {
    const sink = await started();
    sendAll(sink, [labelledAlert('a1'), labelledAlert('a2'), labelledAlert('a3')]);
    await receiver.waitForRequests(3);
    await sink.flush();
    expect(labels(receiver.accepted())).toEqual(['a1', 'a2', 'a3']);
    expect(receiver.requests[0]?.path).toBe(`/hook/${URL_SECRET}`);
    expect(receiver.requests[0]?.headers['content-type']).toBe('application/json');
    expect(await deliveries('delivered')).toBe(3);
    expect(await deliveries('retried')).toBe(0);
    expect(await metricValue(metrics, 'perch_component_sent_events_total', { component_id: 'test' })).toBe(3);
    expect(await metricValue(metrics, 'perch_sink_queue_depth', { sink: 'test' })).toBe(0);
    expect(
      await metricValue(metrics, 'perch_sink_last_success_timestamp_seconds', { sink: 'test' }),
    ).toBeGreaterThan(Date.now() / 1000 - 60);
    expect(sink.status()).toEqual({ up: true, detail: '0 queued' });
    expect(await metricValue(metrics, 'perch_sink_oldest_queued_age_seconds', { sink: 'test' })).toBe(0);
    const exposition = await metrics.registry.getSingleMetricAsString('perch_sink_request_duration_seconds');
    expect(exposition).toContain('perch_sink_request_duration_seconds_count{sink="test"} 3');
  });

  it('retries a 5xx and keeps the order', async () => {
    receiver.reply({ status: 503, body: 'rollup_error' }, { status: 500 });
    const sink = await started();
    sendAll(sink, [labelledAlert('a1'), labelledAlert('a2')]);
    await receiver.waitForRequests(4);
    await sink.flush();
    expect(requested()).toEqual(['a1', 'a1', 'a1', 'a2']);
    expect(labels(receiver.accepted())).toEqual(['a1', 'a2']);
    expect(await deliveries('retried')).toBe(2);
    expect(await deliveries('delivered')).toBe(2);
  });

  it('waits as long as a 429 Retry-After asks', async () => {
    receiver.reply({ status: 429, headers: { 'retry-after': '1' }, body: '{"ok":false}' });
    const sink = await started();
    sink.send(labelledAlert('a1'));
    await receiver.waitForRequests(2);
    expect(gapBetween(0, 1)).toBeGreaterThanOrEqual(900);
    expect(labels(receiver.accepted())).toEqual(['a1']);
  });

  it("waits as long as Discord's JSON retry_after asks", async () => {
    receiver.reply({
      status: 429,
      headers: { 'content-type': 'application/json' },
      body: '{"message":"You are being rate limited.","retry_after":0.5,"global":false}',
    });
    const sink = await started();
    sink.send(labelledAlert('a1'));
    await receiver.waitForRequests(2);
    expect(gapBetween(0, 1)).toBeGreaterThanOrEqual(450);
  });

  it('drops a 400 without retrying, and logs the reason once without the URL', async () => {
    receiver.setDefault({ status: 400, body: 'invalid_payload' });
    const sink = await started();
    sendAll(sink, [labelledAlert('a1'), labelledAlert('a2'), labelledAlert('a3')]);
    await receiver.waitForRequests(3);
    await sink.flush();
    await sleep(100);
    expect(requested()).toEqual(['a1', 'a2', 'a3']);
    expect(await deliveries('rejected')).toBe(3);
    expect(await discarded('rejected')).toBe(3);
    const rejections = logs.lines().filter((l) => String(l.msg).includes('rejected'));
    expect(rejections).toHaveLength(1);
    expect(rejections[0]?.reason).toBe('HTTP 400: invalid_payload');
    expect(logs.text()).not.toContain(URL_SECRET);
    expect(sink.status().up).toBe(true);
  });

  it('retries after a timeout (the first request may have been processed: a duplicate)', async () => {
    receiver.reply({ status: 200, delayMs: 700 });
    const sink = await started({ timeout: '200ms' });
    sink.send(labelledAlert('a1'));
    sink.send(labelledAlert('a2'));
    await receiver.waitForRequests(3);
    await sink.flush();
    expect(requested()).toEqual(['a1', 'a1', 'a2']);
    expect(gapBetween(0, 1)).toBeGreaterThanOrEqual(190);
    expect(await deliveries('retried')).toBe(1);
    expect(await deliveries('delivered')).toBe(2);
    expect(
      await metricValue(metrics, 'perch_component_errors_total', {
        component_id: 'test',
        error_type: 'timeout',
      }),
    ).toBe(1);
  });

  it('retries after a connection reset', async () => {
    receiver.reply({ reset: true });
    const sink = await started();
    sink.send(labelledAlert('a1'));
    await receiver.waitForRequests(2);
    await until(() => sink.status().detail === '0 queued');
    expect(requested()).toEqual(['a1', 'a1']);
    expect(await deliveries('retried')).toBe(1);
    expect(await deliveries('delivered')).toBe(1);
    expect(logs.text()).toContain('connection failed');
    expect(logs.text()).not.toContain(URL_SECRET);
  });

  it('keeps the order across a mix of failures', async () => {
    receiver.reply(
      { status: 503 },
      { status: 200 },
      { reset: true },
      { status: 502 },
      { status: 200 },
      { status: 429, headers: { 'retry-after': '0' } },
      { status: 200 },
    );
    const sink = await started();
    const sent = ['a1', 'a2', 'a3', 'a4', 'a5'];
    sendAll(
      sink,
      sent.map((label) => labelledAlert(label)),
    );
    await receiver.waitForRequests(9);
    expect(labels(receiver.accepted())).toEqual(sent);
    expect(requested()).toEqual(['a1', 'a1', 'a2', 'a2', 'a2', 'a3', 'a3', 'a4', 'a5']);
  });

  it('when the queue is full drops the oldest alert of the lowest priority', async () => {
    const sink = makeSink({ queueSize: 3 });
    // Not started yet: everything stays queued.
    sendAll(sink, [
      labelledAlert('warn-1', Priority.Warning),
      labelledAlert('debug-1', Priority.Debug),
      labelledAlert('warn-2', Priority.Warning),
      labelledAlert('debug-2', Priority.Debug),
      labelledAlert('crit-1', Priority.Critical),
    ]);
    expect(await metricValue(metrics, 'perch_sink_queue_depth', { sink: 'test' })).toBe(3);
    await sink.start();
    await receiver.waitForRequests(3);
    await sink.flush();
    expect(requested()).toEqual(['warn-1', 'warn-2', 'crit-1']);
    expect(await discarded('queue_full')).toBe(2);
  });

  it('paces requests with the rate limit', async () => {
    const sink = await started({ rateLimit: { perSecond: 10, burst: 1 } });
    sendAll(sink, [labelledAlert('a1'), labelledAlert('a2'), labelledAlert('a3')]);
    await receiver.waitForRequests(3);
    expect(gapBetween(0, 2)).toBeGreaterThanOrEqual(180);
  });

  it('opens the circuit after repeated failures and closes it when the destination recovers', async () => {
    receiver.setDefault({ status: 503, body: 'down for maintenance' });
    const sink = await started({}, { breaker: { coolDownMs: 400, maxCoolDownMs: 1000 } });
    sink.send(labelledAlert('a1'));
    await until(() => !sink.status().up);
    const status = sink.status();
    expect(status.detail).toContain('circuit open after 5 consecutive failures');
    expect(status.detail).toContain('HTTP 503: down for maintenance');
    expect(status.detail).not.toContain(URL_SECRET);
    expect(await metricValue(metrics, 'perch_sink_circuit_open', { sink: 'test' })).toBe(1);
    expect(await metricValue(metrics, 'perch_sink_queue_depth', { sink: 'test' })).toBe(1);
    expect(
      await metricValue(metrics, 'perch_sink_oldest_queued_age_seconds', { sink: 'test' }),
    ).toBeGreaterThan(0);
    expect(receiver.requests).toHaveLength(5);
    receiver.setDefault({ status: 200 });
    await receiver.waitForRequests(6);
    // The cool-down held the sixth request back.
    expect(gapBetween(4, 5)).toBeGreaterThanOrEqual(380);
    await until(() => sink.status().up);
    expect(await metricValue(metrics, 'perch_sink_circuit_open', { sink: 'test' })).toBe(0);
    expect(await deliveries('delivered')).toBe(1);
  });

  it('keeps tokens a destination echoes without a scheme out of the logs, /readyz and metrics', async () => {
    const secrets = ['T0001', 'B0002', 'EchoedSlackSecret', 'EchoedBotSecret'];
    const echoed = 'no_service /services/T0001/B0002/EchoedSlackSecret (via /bot123:EchoedBotSecret)';
    receiver.reply({ status: 400, body: JSON.stringify({ ok: false, error: echoed }) });
    receiver.setDefault({ status: 503, body: echoed });
    const sink = await started({}, { breaker: { coolDownMs: 60_000, maxCoolDownMs: 60_000 } });
    sendAll(sink, [labelledAlert('a1'), labelledAlert('a2')]);
    await until(() => !sink.status().up);
    const detail = sink.status().detail ?? '';
    expect(detail).toContain('HTTP 503: no_service /services/<redacted> (via /bot<redacted>)');
    const rejection = logs.lines().find((l) => String(l.msg).includes('rejected'));
    expect(rejection?.reason).toBe(
      'HTTP 400: {"ok":false,"error":"no_service /services/<redacted> (via /bot<redacted>)"}',
    );
    expect(logs.lines().some((l) => String(l.reason).startsWith('HTTP 503: no_service'))).toBe(true);
    const exposition = await metrics.registry.metrics();
    for (const secret of secrets) {
      expect(detail).not.toContain(secret);
      expect(logs.text()).not.toContain(secret);
      expect(exposition).not.toContain(secret);
    }
  });

  it('gives up on an alert the destination keeps failing', async () => {
    receiver.setDefault({ status: 503 });
    const sink = await started({ retry: { ...FAST_RETRY, giveUpAfter: '250ms' } });
    sink.send(labelledAlert('a1'));
    await until(() => logs.text().includes('gave up delivering an alert'), 3000);
    expect(await deliveries('failed')).toBe(1);
    expect(await discarded('retry_expired')).toBe(1);
    expect(await metricValue(metrics, 'perch_sink_queue_depth', { sink: 'test' })).toBe(0);
    receiver.setDefault({ status: 200 });
    sink.send(labelledAlert('a2'));
    await until(() => receiver.accepted().length === 1);
    expect(labels(receiver.accepted())).toEqual(['a2']);
  });

  it('passes only alerts of the configured namespaces', async () => {
    const sink = await started({ namespaces: ['prod-*', 'payments'] });
    const digest: DigestAlert = {
      kind: 'digest',
      id: 'dig-1',
      priority: Priority.Warning,
      reasons: [],
      receivedAtMs: Date.now(),
      fingerprint: 'f',
      rule: 'Terminal shell in container',
      count: 3,
      firstSeenMs: 0,
      lastSeenMs: 1,
      windowMs: 1,
      pods: [],
      podCount: 0,
      namespace: 'prod-us',
      sample: labelledAlert('digest-sample', Priority.Warning, 'elsewhere'),
    };
    sendAll(sink, [
      labelledAlert('prod', Priority.Warning, 'prod-eu'),
      labelledAlert('dev', Priority.Warning, 'dev'),
      labelledAlert('no-namespace'),
      labelledAlert('payments', Priority.Warning, 'payments'),
      digest,
    ]);
    await receiver.waitForRequests(3);
    await sink.flush();
    expect(requested()).toEqual(['prod', 'payments', 'digest-sample']);
    expect(await discarded('filtered')).toBe(2);
  });

  it('counts an alert the destination cannot render and goes on', async () => {
    const destination = new JsonDestination(receiver.url);
    const render = destination.render.bind(destination);
    destination.render = (alert: Alert): RenderedRequest => {
      if (alert.kind === 'event' && alert.event.output === 'bad')
        throw new Error(`cannot render for ${receiver.url}`);
      return render(alert);
    };
    const sink = makeSink({}, {}, destination);
    await sink.start();
    sendAll(sink, [labelledAlert('bad'), labelledAlert('good')]);
    await receiver.waitForRequests(1);
    expect(requested()).toEqual(['good']);
    expect(await discarded('render_error')).toBe(1);
    expect(logs.text()).not.toContain(`127.0.0.1:${receiver.port}`);
  });

  it('keeps spooled alerts across a restart and delivers them in order; in-memory ones are counted at shutdown', async () => {
    receiver.setDefault({ status: 503 });
    const first = await started({ spoolMinPriority: 'Warning' }, { spool: openSpool(), flushStallMs: 200 });
    sendAll(first, [
      labelledAlert('warn-1', Priority.Warning),
      labelledAlert('debug-1', Priority.Debug),
      labelledAlert('warn-2', Priority.Warning),
      labelledAlert('error-1', Priority.Error),
    ]);
    await receiver.waitForRequests(2);
    await first.flush(); // resolves: the destination is failing
    await first.close();
    expect(await discarded('shutdown')).toBe(1);
    for (const spool of spools.splice(0)) spool.close();

    const spool = openSpool();
    expect(spool.count('test')).toBe(3);
    receiver.setDefault({ status: 200 });
    const seen = receiver.requests.length;
    const second = await started({ spoolMinPriority: 'Warning' }, { spool });
    await receiver.waitForRequests(seen + 3);
    await second.flush();
    expect(labels(receiver.accepted())).toEqual(['warn-1', 'warn-2', 'error-1']);
    expect(spool.count()).toBe(0);
    expect(await metricValue(metrics, 'perch_sink_spool_entries', { sink: 'test' })).toBe(0);
  });

  it('counts spool evictions for the sink whose entries were evicted', async () => {
    await receiver.down();
    const spool = openSpool(2);
    const sink = await started({ spoolMinPriority: 'Debug' }, { spool });
    sendAll(sink, [
      labelledAlert('notice-1', Priority.Notice),
      labelledAlert('crit-1', Priority.Critical),
      labelledAlert('crit-2', Priority.Critical),
    ]);
    expect(await metricValue(metrics, 'perch_sink_spool_evictions_total', { sink: 'test' })).toBe(1);
    expect(await metricValue(metrics, 'perch_sink_spool_entries', { sink: 'test' })).toBe(2);
    await receiver.up();
    await receiver.waitForRequests(2);
    await until(() => spool.count() === 0);
    expect(requested()).toEqual(['crit-1', 'crit-2']);
  });
});
