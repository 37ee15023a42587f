import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from '@jest/globals';
import { FakeFalcoGrpc } from '../fakes/fake-falco-grpc.js';
import { CURRENT_ALERT } from '../fixtures/falco-alerts.js';
import { type Harness, metricValue, startAgent } from '../helpers/agent-harness.js';
import { until } from '../helpers/until.js';

const CERTS = fileURLToPath(new URL('../fixtures/certs/', import.meta.url));
const cert = (name: string) => join(CERTS, name);

let falco: FakeFalcoGrpc | undefined;
let harness: Harness | undefined;
afterEach(async () => {
  await harness?.stop();
  await falco?.stop();
  harness = undefined;
  falco = undefined;
});

function numbered(id: number, priority = 'Notice'): string {
  return JSON.stringify({
    rule: 'Terminal shell in container',
    priority,
    time: '2026-01-01T09:15:02.123456789Z',
    output: `shell ${id}`,
    hostname: 'worker-2',
    output_fields: { 'test.id': id, 'evt.time': '1767258902123456789' },
  });
}

const ids = (h: Harness) => h.out.alerts().map((a) => Number(a.event.output_fields['test.id']));

function unixFalco(): FakeFalcoGrpc {
  return new FakeFalcoGrpc({
    address: `unix://${join(mkdtempSync(join(tmpdir(), 'perch-falco-')), 'falco.sock')}`,
  });
}

const fastReconnect = { reconnectInitial: '20ms', reconnectMax: '200ms', pollInterval: '50ms' };

/** A Falco serving gRPC over TCP with the test CA's server certificate, asking for a client one. */
function tlsFalco(): FakeFalcoGrpc {
  return new FakeFalcoGrpc({
    address: '127.0.0.1:0',
    tls: {
      ca: readFileSync(cert('ca.crt')),
      cert: readFileSync(cert('server.crt')),
      key: readFileSync(cert('server.key')),
    },
  });
}

/** Perch's gRPC source for `address` over mutual TLS, presenting `<client>.crt`. */
function tlsSource(address: string, client: string) {
  return {
    sources: {
      http: { enabled: false },
      grpc: {
        enabled: true,
        address,
        tls: {
          ca: cert('ca.crt'),
          cert: cert(`${client}.crt`),
          key: cert(`${client}.key`),
          serverName: 'localhost',
        },
        ...fastReconnect,
      },
    },
  };
}

describe('gRPC source (Falco ≤ 0.43)', () => {
  it('subscribes over the unix socket and turns responses into the same events as JSON', async () => {
    falco = unixFalco();
    const address = await falco.start();
    falco.pushEvent(CURRENT_ALERT, numbered(1, 'Emergency'));
    harness = await startAgent({
      sources: { http: { enabled: false }, grpc: { enabled: true, address, ...fastReconnect } },
    });
    await until(() => harness?.out.lines.length === 2, 'two alerts');
    const [first, second] = harness.out.alerts();
    expect(first?.event.rule).toBe('Contact K8S API Server From Container');
    expect(harness.out.lines[0]).toContain('"time":"2026-01-01T09:15:02.123456789Z"');
    expect(first?.event.output_fields['fd.rport']).toBe('443');
    expect(first?.event.output_fields['container.id']).toBe('4b1d2c3e5f60');
    expect(second?.priority).toBe('Emergency');
    // Falco's sub only answers after a client message: alerts pushed later arrive through the periodic nudge.
    falco.pushEvent(numbered(2));
    await until(() => harness?.out.lines.length === 3, 'an alert pushed while the stream was idle');
    const ready = (await (await fetch(`${harness.url}/readyz`)).json()) as {
      checks: { name: string; up: boolean }[];
    };
    expect(ready.checks).toContainEqual({ name: `source grpc:${address}`, up: true });
  });

  it('reconnects after Falco restarts mid-stream and processes nothing twice', async () => {
    falco = unixFalco();
    const address = await falco.start();
    harness = await startAgent({
      sources: { http: { enabled: false }, grpc: { enabled: true, address, ...fastReconnect } },
    });
    for (let i = 0; i < 50; i++) falco.pushEvent(numbered(i));
    await until(() => harness?.out.lines.length === 50, 'the first 50 alerts');
    await falco.restart();
    for (let i = 50; i < 100; i++) falco.pushEvent(numbered(i));
    await until(() => harness?.out.lines.length === 100, 'the next 50 alerts after the restart');
    await new Promise((r) => setTimeout(r, 200));
    expect(ids(harness)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    // grpc-js reports a failed call as error and then end: each restart must leave one stream, not double them.
    for (let i = 0; i < 3; i++) await falco.restart();
    falco.pushEvent(numbered(100));
    await until(() => harness?.out.lines.length === 101, 'an alert after three more restarts');
    await new Promise((r) => setTimeout(r, 300));
    expect(falco.stats.activeSubStreams).toBe(1);
    expect(
      await metricValue(harness.metrics, 'perch_grpc_source_reconnects_total', { address }),
    ).toBeGreaterThanOrEqual(1);
  });

  it('polls with get when configured', async () => {
    falco = unixFalco();
    const address = await falco.start();
    harness = await startAgent({
      sources: { http: { enabled: false }, grpc: { enabled: true, address, mode: 'get', ...fastReconnect } },
    });
    falco.pushEvent(numbered(1), numbered(2));
    await until(() => harness?.out.lines.length === 2, 'polled alerts');
    falco.pushEvent(numbered(3));
    await until(() => harness?.out.lines.length === 3, 'the next poll');
    expect(ids(harness)).toEqual([1, 2, 3]);
  });

  it('uses mutual TLS over TCP', async () => {
    falco = tlsFalco();
    const address = await falco.start();
    falco.pushEvent(numbered(7));
    harness = await startAgent(tlsSource(address, 'client'));
    await until(() => harness?.out.lines.length === 1, 'the alert over mTLS');
    expect(ids(harness)).toEqual([7]);
  });

  it('says clearly when Falco refuses the client certificate', async () => {
    falco = tlsFalco();
    const address = await falco.start();
    falco.pushEvent(numbered(1));
    harness = await startAgent(tlsSource(address, 'rogue-client'));
    let detail = '';
    await until(async () => {
      const body = (await (await fetch(`${harness?.url}/readyz`)).json()) as {
        checks: { detail?: string }[];
      };
      detail = body.checks[0]?.detail ?? '';
      return detail.includes('mutual TLS');
    }, 'a TLS problem in /readyz');
    expect(detail).toContain(`could not establish mutual TLS with Falco at ${address}`);
    expect(harness.out.lines).toHaveLength(0);
    expect(falco.queueLength).toBe(1);
  });

  it('refuses to start with certificate files it cannot read, naming them', async () => {
    await expect(
      startAgent({
        sources: {
          http: { enabled: false },
          grpc: {
            enabled: true,
            address: 'localhost:5060',
            tls: { ca: '/nope/ca.crt', cert: cert('client.crt'), key: cert('ca.crt') },
          },
        },
      }),
    ).rejects.toThrow(
      /sources\.grpc\.tls\.ca: cannot read \/nope\/ca\.crt \(ENOENT\).*sources\.grpc\.tls\.key: .*ca\.crt is not a PEM private key/,
    );
  });
});
