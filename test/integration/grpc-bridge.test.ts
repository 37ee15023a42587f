import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from '@jest/globals';
import type { GrpcBridgeSinkConfig } from '../../src/config/schema.js';
import { parseFalcoJson } from '../../src/events/parse-falco-json.js';
import { Priority } from '../../src/events/priority.js';
import { type FalcoResponse, type FalcoVersionResponse, loadFalcoProto } from '../../src/grpc/falco-proto.js';
import type { Enrichment } from '../../src/kube/pod-context.js';
import { createLogger } from '../../src/logging/logger.js';
import { PerchMetrics } from '../../src/metrics/perch-metrics.js';
import { alertFromEvent, type EventAlert } from '../../src/pipeline/alert.js';
import { FALCO_API_VERSION, GrpcBridgeSink } from '../../src/sinks/grpc-bridge-sink.js';
import { CURRENT_ALERT, HOST_ALERT, INTERNAL_DROP_ALERT } from '../fixtures/falco-alerts.js';
import { podContext } from '../fixtures/pod-context.js';
import { metricValue } from '../helpers/agent-harness.js';
import { until } from '../helpers/until.js';

const CERTS = new URL('../fixtures/certs/', import.meta.url).pathname;
const cert = (name: string) => readFileSync(join(CERTS, name));
const SERVER_TLS = {
  ca: join(CERTS, 'ca.crt'),
  cert: join(CERTS, 'server.crt'),
  key: join(CERTS, 'server.key'),
};

const ENRICHED: Enrichment = {
  outcome: 'container_id',
  pod: podContext({
    namespace: 'tools',
    pod: 'toolbox-6d8f9c7b5-x2x7q',
    workload: { kind: 'Deployment', name: 'toolbox' },
    runtimeClass: 'gvisor',
    handler: 'runsc',
    isolation: 'sandbox',
    posture: {
      level: 'privileged',
      violations: [
        { check: 'privileged', level: 'baseline', container: 'app', field: 'privileged', value: 'true' },
        { check: 'hostPathVolumes', level: 'baseline', field: 'spec.volumes[0]', value: '/' },
        { check: 'privileged', level: 'baseline', container: 'side', field: 'privileged', value: 'true' },
      ],
    },
  }),
};

const EMERGENCY_ALERT =
  '{"hostname":"worker-2","output":"boom","output_fields":{"proc.name":"sh"},"priority":"Emergency","rule":"Everything is on fire","source":"syscall","tags":["x"],"time":"2026-01-01T00:00:00.000000007Z"}';

function alertOf(json: string, enrichment: Enrichment = { outcome: 'not_applicable' }): EventAlert {
  return alertFromEvent({ event: parseFalcoJson(json), enrichment }, Date.now());
}

/** The n-th alert of a numbered run, with enough output text that a few dozen fill HTTP/2 windows. */
function numbered(n: number): EventAlert {
  const time = `2026-01-01T00:00:00.${String(n).padStart(9, '0')}Z`;
  const output = `alert ${n} ${'x'.repeat(2000)}`;
  return alertOf(
    JSON.stringify({
      output,
      output_fields: { seq: n },
      priority: 'Warning',
      rule: 'R',
      source: 'syscall',
      time,
    }),
  );
}
const seqOf = (r: FalcoResponse) => Number(r.output_fields?.seq);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Bridge {
  sink: GrpcBridgeSink;
  metrics: PerchMetrics;
  socket: string;
  counter(name: string, labels?: Record<string, string>): Promise<number>;
}

async function startBridge(overrides: Partial<GrpcBridgeSinkConfig> = {}): Promise<Bridge> {
  const dir = await mkdtemp(join(tmpdir(), 'perch-bridge-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  // A directory that does not exist yet: the sink creates it, like Falco.
  const socket = join(dir, 'run', 'falco.sock');
  const config: GrpcBridgeSinkConfig = {
    type: 'grpc-bridge',
    listen: `unix://${socket}`,
    bufferSize: 100,
    enrichedFields: true,
    minPriority: Priority.Debug,
    ...overrides,
  };
  const metrics = new PerchMetrics({ processMetrics: false });
  const sink = new GrpcBridgeSink('bridge', config, metrics, createLogger('silent'));
  cleanups.push(() => sink.close());
  await sink.start();
  const counter = (name: string, labels: Record<string, string> = {}) =>
    metricValue(metrics, name, { component_id: 'bridge', ...labels });
  return { sink, metrics, socket, counter };
}

const subscribers = (bridge: Bridge) => bridge.counter('perch_grpc_bridge_subscribers');

interface OutputsClient extends grpc.Client {
  sub(): grpc.ClientDuplexStream<object, FalcoResponse>;
  get(request: object): grpc.ClientReadableStream<FalcoResponse>;
}
interface VersionClient extends grpc.Client {
  version(
    request: object,
    options: grpc.CallOptions,
    callback: (err: grpc.ServiceError | null, res: FalcoVersionResponse) => void,
  ): grpc.ClientUnaryCall;
}

function outputsClient(address: string): OutputsClient {
  const made = new (loadFalcoProto().outputs)(
    address,
    grpc.credentials.createInsecure(),
  ) as unknown as OutputsClient;
  cleanups.push(() => made.close());
  return made;
}

function versionClient(address: string, credentials = grpc.credentials.createInsecure()): VersionClient {
  const made = new (loadFalcoProto().version)(address, credentials) as unknown as VersionClient;
  cleanups.push(() => made.close());
  return made;
}

interface Subscription {
  call: grpc.ClientDuplexStream<object, FalcoResponse>;
  received: FalcoResponse[];
  status: Promise<grpc.StatusObject>;
}

/**
 * `paused` makes a client that stops reading. It must have read once first: a grpc-js call that
 * never asked for a message parks everything that arrives in an unbounded array instead of
 * pausing its HTTP/2 stream, so flow control would never reach the server.
 */
function subscribe(address: string, { request = true, paused = false } = {}): Subscription {
  const call = outputsClient(address).sub();
  const received: FalcoResponse[] = [];
  const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
  call.on('error', () => undefined);
  cleanups.push(() => call.cancel());
  call.on('data', (r: FalcoResponse) => received.push(r));
  if (paused) setImmediate(() => call.pause());
  if (request) call.write({});
  return { call, received, status };
}

function get(address: string): Promise<FalcoResponse[]> {
  const call = outputsClient(address).get({});
  const received: FalcoResponse[] = [];
  call.on('data', (r: FalcoResponse) => received.push(r));
  return new Promise((resolve, reject) => {
    call.on('error', reject);
    call.on('end', () => resolve(received));
  });
}

function version(address: string, credentials?: grpc.ChannelCredentials): Promise<FalcoVersionResponse> {
  return new Promise((resolve, reject) =>
    versionClient(address, credentials).version({}, { deadline: Date.now() + 5000 }, (err, res) =>
      err ? reject(err) : resolve(res),
    ),
  );
}

describe('gRPC bridge: Falco’s outputs API served from Perch’s alerts', () => {
  it('broadcasts every alert, in order and with exact fields, to every sub subscriber', async () => {
    const bridge = await startBridge();
    const a = subscribe(bridge.sink.address ?? '');
    const b = subscribe(bridge.sink.address ?? '');
    await until(async () => (await subscribers(bridge)) === 2, 'two subscribers');

    const raised = alertOf(HOST_ALERT, { outcome: 'host', node: 'worker-3' });
    raised.priority = Priority.Critical;
    raised.reasons = ['kernel module loaded', 'outside maintenance'];
    const alerts = [
      alertOf(CURRENT_ALERT, ENRICHED),
      raised,
      alertOf(EMERGENCY_ALERT),
      alertOf(INTERNAL_DROP_ALERT),
    ];
    for (const alert of alerts) bridge.sink.send(alert);
    await until(() => a.received.length === 4 && b.received.length === 4, 'both to receive all');

    expect(b.received).toEqual(a.received);
    const [current, host, emergency, internal] = a.received;
    expect(current).toEqual({
      time: { seconds: '1767258902', nanos: 123456789 },
      priority: 'NOTICE',
      rule: 'Contact K8S API Server From Container',
      output: alerts[0]?.event.output,
      output_fields: {
        'container.id': '4b1d2c3e5f60',
        'container.image.repository': 'registry.example.com/team/toolbox',
        'container.image.tag': '1.2.3',
        'container.name': 'toolbox',
        'evt.time': '1767258902123456789',
        'evt.type': 'connect',
        'fd.l4proto': 'tcp',
        'fd.lport': '51234',
        'fd.name': '10.244.1.17:51234->10.96.0.1:443',
        'fd.rport': '443',
        'fd.type': 'ipv4',
        'k8s.ns.name': 'tools',
        'k8s.pod.name': 'toolbox-6d8f9c7b5-x2x7q',
        'proc.cmdline': 'kubectl get secrets -A',
        'proc.exepath': '/usr/local/bin/kubectl',
        'proc.name': 'kubectl',
        'proc.pname': 'sh',
        'proc.tty': '0',
        'user.loginuid': '-1',
        'user.name': 'app',
        'user.uid': '1000',
        'perch.namespace': 'tools',
        'perch.pod': 'toolbox-6d8f9c7b5-x2x7q',
        'perch.workload': 'Deployment/toolbox',
        'perch.isolation': 'sandbox',
        'perch.runtime_class': 'gvisor',
        'perch.handler': 'runsc',
        'perch.pss_level': 'privileged',
        'perch.pss_violations': 'privileged,hostPathVolumes',
        'perch.enrichment': 'container_id',
      },
      hostname: 'worker-2',
      tags: ['T1565', 'container', 'k8s', 'maturity_stable', 'mitre_discovery', 'network'],
      source: 'syscall',
    });
    // Falco's priority on the wire; Perch's raised one and its reasons beside it. Nulls are Falco's <NA>.
    expect(host?.priority).toBe('WARNING');
    expect(host?.time).toEqual({ seconds: '1767265200', nanos: 1 });
    expect(host?.output_fields).toEqual({
      'container.id': 'host',
      'container.image.repository': '<NA>',
      'container.image.tag': '<NA>',
      'container.name': 'host',
      'evt.time': '1767265200000000001',
      'k8s.ns.name': '<NA>',
      'k8s.pod.name': '<NA>',
      'proc.name': 'insmod',
      'perch.enrichment': 'host',
      'perch.priority': 'Critical',
      'perch.reasons': 'kernel module loaded; outside maintenance',
    });
    // Emergency is proto3's zero: no priority field at all, as from Falco.
    expect(emergency).not.toHaveProperty('priority');
    expect(emergency?.time).toEqual({ seconds: '1767225600', nanos: 7 });
    expect(internal).toMatchObject({
      priority: 'DEBUG',
      source: 'internal',
      rule: 'Falco internal: syscall event drop',
    });
    expect(internal?.output_fields?.n_drops).toBe('1342');

    expect(await bridge.counter('perch_component_received_events_total')).toBe(4);
    expect(await bridge.counter('perch_component_sent_events_total')).toBe(4);
  });

  it('adds no perch.* fields when enrichedFields is false', async () => {
    const bridge = await startBridge({ enrichedFields: false });
    const sub = subscribe(bridge.sink.address ?? '');
    await until(async () => (await subscribers(bridge)) === 1, 'a subscriber');
    const alert = alertOf(CURRENT_ALERT, ENRICHED);
    alert.priority = Priority.Critical;
    alert.reasons = ['privileged pod'];
    bridge.sink.send(alert);
    await until(() => sub.received.length === 1, 'the alert');
    const fields = sub.received[0]?.output_fields ?? {};
    expect(Object.keys(fields).filter((k) => k.startsWith('perch.'))).toEqual([]);
    expect(Object.keys(fields)).toHaveLength(Object.keys(alert.event.outputFields ?? {}).length);
    expect(sub.received[0]?.priority).toBe('NOTICE');
  });

  it('writes nothing on sub before the first request, then streams without further requests', async () => {
    const bridge = await startBridge();
    const sub = subscribe(bridge.sink.address ?? '', { request: false });
    await until(async () => (await subscribers(bridge)) === 1, 'a subscriber');
    for (let n = 1; n <= 3; n++) bridge.sink.send(numbered(n));
    await sleep(300);
    expect(sub.received).toHaveLength(0);

    // Held, not lost: falco-exporter sends its first request only after a second without traffic.
    sub.call.write({});
    await until(() => sub.received.length === 3, 'the held alerts');
    for (let n = 4; n <= 6; n++) bridge.sink.send(numbered(n));
    await until(() => sub.received.length === 6, 'the later alerts');
    // Further requests (client-go's idle keepalive) change nothing.
    sub.call.write({});
    sub.call.write({});
    bridge.sink.send(numbered(7));
    await until(() => sub.received.length === 7, 'one more');
    await sleep(100);
    expect(sub.received.map(seqOf)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('ends a sub stream with OK once a half-closed client has what was queued', async () => {
    const bridge = await startBridge();
    const sub = subscribe(bridge.sink.address ?? '', { request: false });
    await until(async () => (await subscribers(bridge)) === 1, 'a subscriber');
    for (let n = 1; n <= 3; n++) bridge.sink.send(numbered(n));
    // grpcurl -d '{}' does this: one request, then half-close.
    sub.call.write({});
    sub.call.end();
    expect((await sub.status).code).toBe(grpc.status.OK);
    expect(sub.received.map(seqOf)).toEqual([1, 2, 3]);
    await until(async () => (await subscribers(bridge)) === 0, 'the subscriber to be gone');
  });

  it('drops the oldest alerts of a subscriber that does not read, and only its own', async () => {
    const total = 300;
    const bufferSize = 5;
    const bridge = await startBridge({ bufferSize });
    const fast = subscribe(bridge.sink.address ?? '');
    const slow = subscribe(bridge.sink.address ?? '', { paused: true });
    await until(async () => (await subscribers(bridge)) === 2, 'two subscribers');
    await sleep(50); // both first requests are in

    // Paced by the fast reader, so its buffer never has more than bufferSize waiting.
    for (let n = 1; n <= total; n += bufferSize) {
      for (let k = n; k < n + bufferSize; k++) bridge.sink.send(numbered(k));
      await until(
        () => fast.received.length === n + bufferSize - 1,
        `the fast reader to have ${n + bufferSize - 1}`,
      );
    }
    const dropped = await bridge.counter('perch_component_discarded_events_total', {
      reason: 'subscriber_buffer_full',
    });
    expect(dropped).toBeGreaterThan(0);
    // A reader that stopped cannot hold up shutdown for longer than flush's bound.
    let started = Date.now();
    await bridge.sink.flush();
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);

    slow.call.resume();
    await until(() => slow.received.length + dropped === total, 'the slow reader to catch up');
    await sleep(100);
    const slowSeqs = slow.received.map(seqOf);
    started = Date.now();
    await bridge.sink.flush();
    expect(Date.now() - started).toBeLessThan(500);
    expect(slowSeqs).toHaveLength(total - dropped);
    // In order, with a gap where the oldest were dropped, and ending with the newest bufferSize.
    expect(slowSeqs).toEqual([...slowSeqs].sort((x, y) => x - y));
    expect(slowSeqs.slice(-bufferSize)).toEqual([296, 297, 298, 299, 300]);
    expect(fast.received.map(seqOf)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    // Alerts, not copies: every one reached the fast reader.
    expect(await bridge.counter('perch_component_sent_events_total')).toBe(total);
  });

  it('get drains what arrived since the previous get, then ends; overflow drops the oldest', async () => {
    const bridge = await startBridge({ bufferSize: 5 });
    const address = bridge.sink.address ?? '';
    for (let n = 1; n <= 3; n++) bridge.sink.send(numbered(n));
    expect((await get(address)).map(seqOf)).toEqual([1, 2, 3]);
    expect(await get(address)).toEqual([]);

    for (let n = 4; n <= 11; n++) bridge.sink.send(numbered(n));
    expect((await get(address)).map(seqOf)).toEqual([7, 8, 9, 10, 11]);
    expect(
      await bridge.counter('perch_component_discarded_events_total', { reason: 'get_backlog_full' }),
    ).toBe(3);
    expect(await bridge.counter('perch_component_sent_events_total')).toBe(8);
  });

  it('version answers the Falco API level the bridge speaks', async () => {
    const bridge = await startBridge();
    expect(await version(bridge.sink.address ?? '')).toEqual(FALCO_API_VERSION);
    expect(FALCO_API_VERSION).toMatchObject({
      version: '0.43.0+perch',
      major: 0,
      minor: 43,
      patch: 0,
      build: 'perch',
    });
  });

  it('serves TCP only to clients with a certificate from its CA (mutual TLS)', async () => {
    const bridge = await startBridge({ listen: '127.0.0.1:0', tls: SERVER_TLS });
    const address = bridge.sink.address ?? '';
    expect(address).toMatch(/^127\.0\.0\.1:[1-9]\d*$/);
    const port = address.split(':')[1];
    const trusted = grpc.credentials.createSsl(cert('ca.crt'), cert('client.key'), cert('client.crt'));
    expect(await version(`localhost:${port}`, trusted)).toEqual(FALCO_API_VERSION);

    const rogue = grpc.credentials.createSsl(
      cert('ca.crt'),
      cert('rogue-client.key'),
      cert('rogue-client.crt'),
    );
    await expect(version(`localhost:${port}`, rogue)).rejects.toMatchObject({
      code: grpc.status.UNAVAILABLE,
    });
    const anonymous = grpc.credentials.createSsl(cert('ca.crt'));
    await expect(version(`localhost:${port}`, anonymous)).rejects.toMatchObject({
      code: grpc.status.UNAVAILABLE,
      message: expect.stringContaining('certificate required'),
    });
  });

  it('close() ends open sub streams with OK and removes the socket', async () => {
    const bridge = await startBridge();
    const sub = subscribe(bridge.sink.address ?? '');
    await until(async () => (await subscribers(bridge)) === 1, 'a subscriber');
    expect(bridge.sink.status().up).toBe(true);
    expect(existsSync(bridge.socket)).toBe(true);

    await bridge.sink.close();
    expect((await sub.status).code).toBe(grpc.status.OK);
    expect(existsSync(bridge.socket)).toBe(false);
    expect(bridge.sink.status().up).toBe(false);
    expect(await subscribers(bridge)).toBe(0);
  });

  it('refuses to start with unreadable TLS files, naming the file, or on TCP without TLS', async () => {
    const tls = { ...SERVER_TLS, ca: '/nonexistent/perch/ca.crt' };
    await expect(startBridge({ listen: '127.0.0.1:0', tls })).rejects.toThrow(
      /sinks\.bridge\.tls\.ca: cannot read \/nonexistent\/perch\/ca\.crt \(ENOENT\)/,
    );
    await expect(startBridge({ listen: '127.0.0.1:0' })).rejects.toThrow(/only with mutual TLS/);
  });

  it('replaces a stale socket but not one another server still answers on', async () => {
    const first = await startBridge();
    // A process killed with SIGKILL leaves its socket file behind.
    const holder = spawn(process.execPath, [
      '-e',
      `require('node:net').createServer().listen(${JSON.stringify(`${first.socket}.stale`)}, () => console.log('up'))`,
    ]);
    await once(holder.stdout, 'data');
    holder.kill('SIGKILL');
    await once(holder, 'exit');
    expect(existsSync(`${first.socket}.stale`)).toBe(true);

    const metrics = new PerchMetrics({ processMetrics: false });
    const config = {
      type: 'grpc-bridge',
      bufferSize: 10,
      enrichedFields: true,
      minPriority: Priority.Debug,
    } as const;
    const replacing = new GrpcBridgeSink(
      'b2',
      { ...config, listen: `unix://${first.socket}.stale` },
      metrics,
      createLogger('silent'),
    );
    cleanups.push(() => replacing.close());
    await replacing.start();
    expect(await version(replacing.address ?? '')).toEqual(FALCO_API_VERSION);

    const clashing = new GrpcBridgeSink(
      'b3',
      { ...config, listen: `unix://${first.socket}` },
      metrics,
      createLogger('silent'),
    );
    await expect(clashing.start()).rejects.toThrow(/is in use/);
    expect(await version(first.sink.address ?? '')).toEqual(FALCO_API_VERSION);
  });
});
