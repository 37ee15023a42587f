import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import type { PerchMetrics } from '../../src/metrics/perch-metrics.js';
import { CURRENT_ALERT, HOST_ALERT, INTERNAL_DROP_ALERT, PRE_030_ALERT } from '../fixtures/falco-alerts.js';
import { type Harness, metricValue, startAgent } from '../helpers/agent-harness.js';
import { until } from '../helpers/until.js';

let a: Harness | undefined;
let b: Harness | undefined;
afterEach(async () => {
  await b?.stop();
  await a?.stop();
  a = undefined;
  b = undefined;
});

describe('gRPC bridge round trip', () => {
  it('Perch A (http_output input) → bridge → Perch B (gRPC input) delivers the same alerts', async () => {
    const socket = `unix://${join(mkdtempSync(join(tmpdir(), 'perch-bridge-')), 'falco.sock')}`;
    a = await startAgent({
      sinks: {
        out: { type: 'console', format: 'json' },
        bridge: { type: 'grpc-bridge', listen: socket, enrichedFields: false },
      },
    });
    b = await startAgent({
      sources: {
        http: { enabled: false },
        grpc: {
          enabled: true,
          address: socket,
          pollInterval: '50ms',
          reconnectInitial: '20ms',
          reconnectMax: '200ms',
        },
      },
    });
    // B subscribes asynchronously; alerts posted before its subscription exists are not bridged (like Falco's sub).
    let subscribed = false;
    await until(() => {
      void metricValue(a?.metrics as PerchMetrics, 'perch_grpc_bridge_subscribers', {
        component_id: 'bridge',
      }).then((n) => {
        subscribed = n === 1;
      });
      return subscribed;
    }, 'B to subscribe to the bridge');
    const alerts = [CURRENT_ALERT, PRE_030_ALERT, INTERNAL_DROP_ALERT, HOST_ALERT];
    for (const body of alerts) {
      const res = await fetch(`${a.url}/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      expect(res.status).toBe(200);
    }
    await until(() => b?.out.lines.length === alerts.length, 'the bridged alerts');
    const sent = a.out.alerts().map((x) => x.event);
    const received = b.out.alerts().map((x) => x.event);
    expect(received.map((e) => e.rule)).toEqual(sent.map((e) => e.rule));
    for (let i = 0; i < sent.length; i++) {
      const s = sent[i] as unknown as Record<string, unknown>;
      const r = received[i] as unknown as Record<string, unknown>;
      for (const key of ['time', 'priority', 'rule', 'output', 'source', 'hostname', 'tags'])
        expect(r[key]).toEqual(s[key]);
      // gRPC carries every field as a string, as Falco 0.43 did; nulls travel as <NA> and come back null.
      const fields = s.output_fields as Record<string, unknown>;
      const back = r.output_fields as Record<string, unknown>;
      for (const [k, v] of Object.entries(fields)) {
        // JSON.parse in this test rounds integers beyond 2^53; compare those against A's raw line.
        if (typeof v === 'number' && !Number.isSafeInteger(v))
          expect(a.out.lines[i]).toContain(`"${k}":${String(back[k])}`);
        else expect(back[k]).toEqual(v === null ? null : String(v));
      }
    }
    expect(b.out.lines[0]).toContain('"evt.time":"1767258902123456789"');
  });
});
