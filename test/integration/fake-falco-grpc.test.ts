// Drives FakeFalcoGrpc with a plain grpc-js client built from proto/ (loadFalcoProto()), proving it
// reproduces Falco 0.43's gRPC server as a client sees it (shared reference falco.md §10.6–10.9).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from '@jest/globals';
import type { FalcoResponse } from '../../src/grpc/falco-proto.js';
import { FakeFalcoGrpc } from '../fakes/fake-falco-grpc.js';
import {
  collectStream,
  type FalcoGrpcClient,
  falcoClient,
  isServiceError,
  mutualTls,
  testCerts,
} from '../fakes/fake-falco-grpc-client.js';
import {
  AUDIT_ALERT_WITHOUT_OUTPUT,
  CURRENT_ALERT,
  HOST_ALERT,
  INTERNAL_DROP_ALERT,
} from '../fixtures/falco-alerts.js';

const WAIT_MS = 3000;
/** How long "nothing arrives" is watched for; the server-side counters make the claim exact. */
const QUIET_MS = 150;

const certs = testCerts();
const fakes: FakeFalcoGrpc[] = [];
const clients: FalcoGrpcClient[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  for (const fake of fakes.splice(0)) await fake.stop();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function socketAddress(): string {
  const dir = mkdtempSync(join(tmpdir(), 'perch-falco-'));
  dirs.push(dir);
  // A subdirectory that does not exist yet: Falco creates the socket's directory.
  return `unix://${join(dir, 'run', 'falco.sock')}`;
}

async function startFake(options: Partial<ConstructorParameters<typeof FakeFalcoGrpc>[0]> = {}) {
  const fake = new FakeFalcoGrpc({ address: socketAddress(), ...options });
  fakes.push(fake);
  const address = await fake.start();
  return { fake, address };
}

function tlsServer() {
  return { ca: certs.ca, cert: certs.serverCert, key: certs.serverKey };
}

function connect(address: string, credentials?: grpc.ChannelCredentials): FalcoGrpcClient {
  const client = falcoClient(address, credentials);
  clients.push(client);
  return client;
}

/** A Falco JSON alert with its rule renamed, so that each queued alert is recognisable. */
function alert(n: number, base = CURRENT_ALERT): string {
  // Text replacement, not JSON.parse: the 19-digit evt.time must stay exact.
  return base.replace(/"rule":"[^"]*"/, `"rule":"rule-${n}"`);
}

function alerts(count: number): string[] {
  return Array.from({ length: count }, (_, i) => alert(i));
}

/** Resolves with the responses once `count` have arrived on the stream. */
function receive(
  stream: grpc.ClientDuplexStream<Record<string, never>, FalcoResponse>,
  count: number,
): Promise<FalcoResponse[]> {
  const received: FalcoResponse[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stream.off('data', onData);
      reject(new Error(`received ${received.length} of ${count} responses in ${WAIT_MS} ms`));
    }, WAIT_MS);
    const onData = (response: FalcoResponse) => {
      received.push(response);
      if (received.length < count) return;
      clearTimeout(timer);
      stream.off('data', onData);
      resolve(received);
    };
    stream.on('data', onData);
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The error a failing unary call rejects with. */
async function failure(call: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await call;
  } catch (err) {
    if (isServiceError(err)) return err;
    throw err;
  }
  throw new Error('the call succeeded');
}

describe('FakeFalcoGrpc get', () => {
  it('drains the queue one write at a time, ends with OK, and a second get on an empty queue ends at once', async () => {
    const { fake, address } = await startFake();
    fake.pushEvent(...alerts(5));
    const client = connect(address);

    const first = await collectStream(client.get());
    expect(first.status.code).toBe(grpc.status.OK);
    expect(first.responses.map((r) => r.rule)).toEqual(['rule-0', 'rule-1', 'rule-2', 'rule-3', 'rule-4']);
    expect(fake.queueLength).toBe(0);

    const second = await collectStream(client.get());
    expect(second.status.code).toBe(grpc.status.OK);
    expect(second.responses).toEqual([]);
    expect(fake.stats).toMatchObject({ getCalls: 2, written: 5 });
  });
});

describe('FakeFalcoGrpc sub', () => {
  it('writes nothing until the client writes {}, then everything queued; later alerts wait for the next {}', async () => {
    const { fake, address } = await startFake();
    fake.pushEvent(...alerts(3));
    const client = connect(address);
    const stream = client.sub();
    const seen: FalcoResponse[] = [];
    stream.on('data', (r: FalcoResponse) => seen.push(r));
    stream.on('error', () => {});

    await fake.waitFor((f) => f.stats.activeSubStreams === 1, WAIT_MS, 'the sub stream');
    await sleep(QUIET_MS);
    expect(seen).toEqual([]);
    expect(fake.queueLength).toBe(3);
    expect(fake.stats).toMatchObject({ written: 0, clientMessages: 0 });

    const firstBatch = receive(stream, 3);
    stream.write({});
    expect((await firstBatch).map((r) => r.rule)).toEqual(['rule-0', 'rule-1', 'rule-2']);
    await fake.waitFor((f) => f.stats.written === 3, WAIT_MS, 'three writes');

    fake.pushEvent(alert(3));
    await sleep(QUIET_MS);
    expect(seen).toHaveLength(3);
    expect(fake.queueLength).toBe(1);

    const late = receive(stream, 1);
    stream.write({});
    expect((await late).map((r) => r.rule)).toEqual(['rule-3']);
    expect(fake.stats).toMatchObject({ subStreams: 1, clientMessages: 2, written: 4 });
    expect(fake.queueLength).toBe(0);
  });

  it('splits alerts between two competing sub clients: each alert reaches exactly one', async () => {
    const { fake, address } = await startFake();
    const total = 200;
    fake.pushEvent(...alerts(total));
    const a = connect(address).sub();
    const b = connect(address).sub();
    const got: { a: string[]; b: string[] } = { a: [], b: [] };
    a.on('data', (r: FalcoResponse) => got.a.push(r.rule ?? ''));
    b.on('data', (r: FalcoResponse) => got.b.push(r.rule ?? ''));
    a.on('error', () => {});
    b.on('error', () => {});
    await fake.waitFor((f) => f.stats.activeSubStreams === 2, WAIT_MS, 'two sub streams');
    a.write({});
    b.write({});
    await fake.waitFor(
      (f) => f.queueLength === 0 && f.stats.written === total,
      WAIT_MS,
      'the queue to drain',
    );
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('responses missing')), WAIT_MS);
      const check = () => {
        if (got.a.length + got.b.length < total) return;
        clearTimeout(timer);
        resolve();
      };
      a.on('data', check);
      b.on('data', check);
      check();
    });
    const all = [...got.a, ...got.b];
    expect(all).toHaveLength(total);
    expect(new Set(all).size).toBe(total);
    // Both loops pop alternately while both are writing (100 / 100 in practice); only the union is asserted.
    expect(got.a.length + got.b.length).toBe(total);
  });
});

describe('FakeFalcoGrpc wire format', () => {
  it('leaves proto3 zero values off the wire like Falco and sends output_fields as strings', async () => {
    const { fake, address } = await startFake();
    const emergency = CURRENT_ALERT.replace('"priority":"Notice"', '"priority":"Emergency"');
    const plugin = AUDIT_ALERT_WITHOUT_OUTPUT.replace('"source":"k8s_audit"', '"source":"aws_cloudtrail"');
    fake.pushEvent(emergency, HOST_ALERT, AUDIT_ALERT_WITHOUT_OUTPUT, INTERNAL_DROP_ALERT, plugin);
    const client = connect(address);
    const { responses } = await collectStream(client.get());
    const [em, host, audit, internal, cloudtrail] = responses;

    // Emergency is priority 0 and syscall is source_deprecated 0: neither is on the wire.
    expect(em).toBeDefined();
    expect(em && 'priority' in em).toBe(false);
    expect(em && 'source_deprecated' in em).toBe(false);
    expect(em?.time).toEqual({ seconds: '1767258902', nanos: 123456789 });
    expect(typeof em?.time?.seconds).toBe('string');
    expect(em?.source).toBe('syscall');
    for (const value of Object.values(em?.output_fields ?? {})) expect(typeof value).toBe('string');
    expect(em?.output_fields).toMatchObject({
      'evt.time': '1767258902123456789',
      'fd.lport': '51234',
      'user.loginuid': '-1',
      'proc.tty': '0',
    });

    expect(host?.priority).toBe('WARNING');
    expect(host?.output_fields?.['k8s.pod.name']).toBe('<NA>');
    expect(host?.tags).toEqual(['host', 'maturity_stable']);
    expect(audit?.source_deprecated).toBe('K8S_AUDIT');
    expect(audit && 'output' in audit).toBe(false);
    expect(internal?.source_deprecated).toBe('INTERNAL');
    expect(internal?.priority).toBe('DEBUG');
    expect(cloudtrail?.source_deprecated).toBe('PLUGIN');
    expect(cloudtrail?.source).toBe('aws_cloudtrail');
  });

  it('encodes pushed responses like gRPC C++: explicit zero values are dropped too', async () => {
    const { fake, address } = await startFake();
    fake.push({
      rule: 'raw',
      priority: 'EMERGENCY',
      source: 'syscall',
      time: { seconds: '1700000000', nanos: 0 },
      tags: [],
    });
    const { responses } = await collectStream(connect(address).get());
    expect(responses).toEqual([{ rule: 'raw', source: 'syscall', time: { seconds: '1700000000' } }]);
  });

  it('answers version with Falco 0.43.1 by default (major 0 is absent on the wire) or as configured', async () => {
    const { fake, address } = await startFake();
    const v = await connect(address).version();
    expect(v).toMatchObject({
      version: '0.43.1',
      minor: 43,
      patch: 1,
      engine_version: '0.50.0',
      engine_minor: 50,
    });
    expect(v.engine_fields_checksum).toMatch(/^[0-9a-f]{64}$/);
    for (const zero of ['major', 'prerelease', 'build', 'engine_major', 'engine_patch'])
      expect(v).not.toHaveProperty(zero);
    expect(fake.stats.versionCalls).toBe(1);

    const other = await startFake({
      version: { version: '0.42.0', minor: 42, patch: 0, engine_version: '0.47.0' },
    });
    const w = await connect(other.address).version();
    expect(w).toMatchObject({ version: '0.42.0', minor: 42, engine_version: '0.47.0' });
    expect(w).not.toHaveProperty('patch');
  });
});

describe('FakeFalcoGrpc transport', () => {
  it('serves TCP only with mutual TLS: a client certificate signed by the CA works', async () => {
    const { fake, address } = await startFake({ address: '127.0.0.1:0', tls: tlsServer() });
    expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
    fake.pushEvent(alert(1));
    const client = connect(address, mutualTls(certs.ca, certs.clientCert, certs.clientKey));
    expect((await client.version()).version).toBe('0.43.1');
    const { responses, status } = await collectStream(client.get());
    expect(status.code).toBe(grpc.status.OK);
    expect(responses.map((r) => r.rule)).toEqual(['rule-1']);
  });

  it('refuses a client certificate from another CA, and a client without a certificate, with UNAVAILABLE', async () => {
    const { fake, address } = await startFake({ address: '127.0.0.1:0', tls: tlsServer() });
    // TLS 1.3: the client completes its side of the handshake, then the server rejects the
    // certificate and closes; grpc-js reports only
    // "No connection established. Last error: Failed to connect (<time>). Resolution note: ".
    const rogue = await failure(
      connect(address, mutualTls(certs.ca, certs.rogueCert, certs.rogueKey)).version(),
    );
    expect(rogue.code).toBe(grpc.status.UNAVAILABLE);
    expect(rogue.details).toMatch(/^No connection established\. Last error: Failed to connect/);

    // "No connection established. Last error: …:error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13
    // alert certificate required:…:SSL alert number 116\n (<time>). Resolution note: "
    const anonymous = await failure(connect(address, mutualTls(certs.ca)).version());
    expect(anonymous.code).toBe(grpc.status.UNAVAILABLE);
    expect(anonymous.details).toMatch(
      /^No connection established\. Last error: .*alert certificate required/s,
    );
    expect(fake.stats.versionCalls).toBe(0);
  });

  it('rejects the TCP address without TLS material, as Falco has no plaintext TCP mode', () => {
    expect(() => new FakeFalcoGrpc({ address: '127.0.0.1:0' })).toThrow(/mutual TLS/);
  });

  it('reports UNAVAILABLE when nothing listens: no socket, a dead Falco socket file, a closed port', async () => {
    const missing = socketAddress();
    const noSocket = await failure(connect(missing).version());
    expect(noSocket.code).toBe(grpc.status.UNAVAILABLE);
    expect(noSocket.details).toBe(
      `No connection established. Last error: Error: connect ENOENT ${missing.slice('unix://'.length)}. Resolution note: `,
    );

    const dead = await startFake();
    await dead.fake.stop();
    const stale = await failure(connect(dead.address).version());
    expect(stale.code).toBe(grpc.status.UNAVAILABLE);
    expect(stale.details).toMatch(/^No connection established\. Last error: Error: connect ECONNREFUSED \//);

    const { fake, address } = await startFake({ address: '127.0.0.1:0', tls: tlsServer() });
    await fake.stop();
    const closed = await failure(
      connect(address, mutualTls(certs.ca, certs.clientCert, certs.clientKey)).version(),
    );
    expect(closed.code).toBe(grpc.status.UNAVAILABLE);
    expect(closed.details).toBe(
      `No connection established. Last error: Error: connect ECONNREFUSED ${address}. Resolution note: `,
    );
  });
});

describe('FakeFalcoGrpc restart', () => {
  it.each([
    ['unix socket', {}],
    ['TCP with mTLS', { address: '127.0.0.1:0', tls: tlsServer() }],
  ])('ends an open sub stream and serves again on the same address (%s)', async (_transport, options) => {
    const { fake, address } = await startFake(options);
    const credentials =
      'tls' in options
        ? mutualTls(certs.ca, certs.clientCert, certs.clientKey)
        : grpc.credentials.createInsecure();
    const client = connect(address, credentials);
    const stream = client.sub();
    const outcome = collectStream(stream);
    stream.write({});
    await fake.waitFor((f) => f.stats.clientMessages === 1, WAIT_MS, 'the first request');
    fake.pushEvent(alert(1));

    await fake.restart();
    // The connection vanishes under the stream: UNAVAILABLE "Connection dropped". (grpc-js's own
    // forceShutdown() would instead give CANCELLED "Call cancelled", from its RST_STREAM CANCEL.)
    const ended = await outcome;
    expect(ended.status.code).toBe(grpc.status.UNAVAILABLE);
    expect(ended.status.details).toBe('Connection dropped');
    expect(fake.address).toBe(address);
    expect(fake.queueLength).toBe(0);

    const fresh = connect(address, credentials);
    fake.pushEvent(alert(2));
    const { responses } = await collectStream(fresh.get());
    expect(responses.map((r) => r.rule)).toEqual(['rule-2']);
    // The old channel reconnects too.
    expect((await client.version()).version).toBe('0.43.1');
  });

  it('keeps the queue across restart only when asked', async () => {
    const { fake } = await startFake({ keepQueueOnRestart: true });
    fake.pushEvent(alert(1));
    await fake.restart();
    expect(fake.queueLength).toBe(1);
  });
});

describe('FakeFalcoGrpc sub endings', () => {
  it('graceful shutdown (SIGTERM) finishes an idle sub with OK at its next client message', async () => {
    const { fake, address } = await startFake();
    const stream = connect(address).sub();
    const outcome = collectStream(stream);
    stream.write({});
    await fake.waitFor((f) => f.stats.clientMessages === 1, WAIT_MS, 'the first request');
    const stopped = fake.shutdown();
    stream.write({});
    const ended = await outcome;
    expect(ended.status.code).toBe(grpc.status.OK);
    expect(ended.error).toBeUndefined();
    await stopped;
  });

  it('cancels a sub whose client half-closes while Falco waits for its next message (inferred)', async () => {
    const { fake, address } = await startFake();
    const stream = connect(address).sub();
    const outcome = collectStream(stream);
    stream.write({});
    await fake.waitFor((f) => f.stats.clientMessages === 1, WAIT_MS, 'the first request');
    stream.end();
    const ended = await outcome;
    expect(ended.status.code).toBe(grpc.status.CANCELLED);
    await fake.waitFor((f) => f.stats.activeSubStreams === 0, WAIT_MS, 'the stream to close');
  });
});
