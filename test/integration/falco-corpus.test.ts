/**
 * The corpus of Falco alerts through every way in and out of the running Perch: HTTP (one alert,
 * NDJSON, JSON array), a followed file, `perch replay --json`, the webhook sink's body and the gRPC
 * bridge read back by a Falco gRPC client over the real proto.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import type { FalcoEvent } from '../../src/events/falco-event.js';
import { fromGrpcResponse } from '../../src/events/grpc-response.js';
import { parseFalcoJson } from '../../src/events/parse-falco-json.js';
import { Priority } from '../../src/events/priority.js';
import type { FalcoResponse } from '../../src/grpc/falco-proto.js';
import { createLogger } from '../../src/logging/logger.js';
import { PerchMetrics } from '../../src/metrics/perch-metrics.js';
import { alertFromEvent } from '../../src/pipeline/alert.js';
import { GrpcBridgeSink } from '../../src/sinks/grpc-bridge-sink.js';
import { falcoClient } from '../fakes/fake-falco-grpc-client.js';
import { HttpReceiver } from '../fakes/http-receiver.js';
import { corpus } from '../fixtures/falco-corpus/corpus.js';
import { type Harness, metricValue, startAgent } from '../helpers/agent-harness.js';
import { runPerch } from '../helpers/cli-process.js';
import { canonical, expectedEventJson, expectedGrpc } from '../helpers/corpus-expectations.js';
import { type ExactJson, readExactJson } from '../helpers/exact-json.js';
import { until } from '../helpers/until.js';

const CORPUS = corpus();
const NDJSON = `${CORPUS.map((c) => c.line).join('\n')}\n`;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'perch-corpus-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function agent(config: Record<string, unknown>): Promise<Harness> {
  const harness = await startAgent(config);
  cleanups.push(() => harness.stop());
  return harness;
}

type JsonRecord = Record<string, ExactJson>;
const fieldOf = (json: ExactJson, key: string): ExactJson => (json as JsonRecord)[key] ?? null;
/** Alerts have no id of their own; within the corpus, rule and time tell them apart. */
const keyOf = (falcoAlert: ExactJson) =>
  `${String(fieldOf(falcoAlert, 'rule'))} @ ${String(fieldOf(falcoAlert, 'time'))}`;

/**
 * Asserts that the alert JSON objects (as --json, replay --json and webhooks write them) carry each
 * corpus alert exactly once, as Falco wrote it, with the derived source kind beside it.
 */
function expectEveryAlertAsWritten(alerts: ExactJson[], times = 1): void {
  const events = alerts.filter((a) => fieldOf(a, 'kind') === 'event');
  expect(events).toHaveLength(CORPUS.length * times);
  const byKey = new Map<string, ExactJson[]>();
  for (const a of events) {
    const key = keyOf(fieldOf(a, 'event'));
    byKey.set(key, [...(byKey.get(key) ?? []), a]);
  }
  for (const entry of CORPUS) {
    const expected = expectedEventJson(entry.line);
    const got = byKey.get(keyOf(expected)) ?? [];
    expect(got).toHaveLength(times);
    for (const a of got) {
      expect(canonical(fieldOf(a, 'event'))).toBe(canonical(expected));
      expect(fieldOf(a, 'source')).toBe(entry.sourceKind);
    }
  }
}

const lines = (text: string) => text.split('\n').filter((l) => l.trim() !== '');

describe('the Falco corpus through the running agent', () => {
  it('HTTP one by one, as NDJSON and as a JSON array: --json and the webhook body carry every alert as written', async () => {
    const receiver = await HttpReceiver.start();
    cleanups.push(() => receiver.stop());
    const perch = await agent({
      sinks: {
        out: { type: 'console', format: 'json' },
        hook: { type: 'webhook', url: `${receiver.url}/`, rateLimit: { perSecond: 1000, burst: 1000 } },
      },
    });
    const post = async (body: string, contentType: string) => {
      const res = await fetch(`${perch.url}/`, {
        method: 'POST',
        headers: { 'content-type': contentType },
        body,
      });
      expect(res.status).toBe(200);
    };
    for (const entry of CORPUS) await post(entry.line, 'application/json');
    await post(NDJSON, 'application/x-ndjson');
    await post(`[${CORPUS.map((c) => c.line).join(',')}]`, 'application/json');

    await until(() => perch.out.lines.length >= CORPUS.length * 3, 'the alerts on the console');
    expectEveryAlertAsWritten(perch.out.lines.map(readExactJson), 3);
    await receiver.waitForRequests(CORPUS.length * 3);
    const bodies = receiver.requests.map((r) => readExactJson(r.body));
    expectEveryAlertAsWritten(
      bodies.map((b) => fieldOf(b, 'data')),
      3,
    );
  });

  it('a followed file of JSON lines (Falco file_output) comes out as written', async () => {
    const file = join(await tempDir(), 'events.json');
    await writeFile(file, NDJSON);
    const perch = await agent({
      sources: { files: [{ path: file, fromBeginning: true, pollInterval: '20ms' }] },
    });
    await until(() => perch.out.lines.length >= CORPUS.length, 'the alerts of the file');
    expectEveryAlertAsWritten(perch.out.lines.map(readExactJson));
  });

  it('perch replay --json prints every alert as written', async () => {
    const dir = await tempDir();
    const file = join(dir, 'corpus.jsonl');
    const config = join(dir, 'perch.yaml');
    await writeFile(file, NDJSON);
    // Every alert, each on its own: no default rules, no dedup.
    await writeFile(config, 'rules:\n  defaults: false\n  dedup:\n    window: 0s\n');
    const result = await runPerch(['replay', file, '--json', '-c', config]);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`${CORPUS.length} events, 0 rejected`);
    expectEveryAlertAsWritten(lines(result.stdout).map(readExactJson));
  });
});

describe('the Falco corpus through the gRPC bridge', () => {
  it('a Falco gRPC client receives each alert as Falco 0.43 sent it, and reads it back as Falco wrote it', async () => {
    const socket = join(await tempDir(), 'falco.sock');
    const metrics = new PerchMetrics({ processMetrics: false });
    const bridge = new GrpcBridgeSink(
      'bridge',
      {
        type: 'grpc-bridge',
        listen: `unix://${socket}`,
        bufferSize: 100,
        enrichedFields: true,
        minPriority: Priority.Debug,
      },
      metrics,
      createLogger('silent'),
    );
    cleanups.push(() => bridge.close());
    await bridge.start();
    const client = falcoClient(`unix://${socket}`);
    cleanups.push(() => client.close());
    const call = client.sub();
    cleanups.push(() => call.cancel());
    call.on('error', () => undefined);
    const received: FalcoResponse[] = [];
    call.on('data', (response: FalcoResponse) => received.push(response));
    call.write({});
    await until(
      async () =>
        (await metricValue(metrics, 'perch_grpc_bridge_subscribers', { component_id: 'bridge' })) === 1,
      'the client to subscribe',
    );

    const events: FalcoEvent[] = CORPUS.map((c) => parseFalcoJson(c.line));
    for (const event of events)
      bridge.send(alertFromEvent({ event, enrichment: { outcome: 'not_applicable' } }, 0));
    await until(() => received.length === CORPUS.length, 'every alert over gRPC');

    CORPUS.forEach((entry, i) => {
      const response = received[i] as FalcoResponse;
      const expected = expectedGrpc(entry.line);
      const falcoFields: Record<string, string> = {};
      const perchFields: Record<string, string> = {};
      for (const [key, value] of Object.entries(response.output_fields ?? {}))
        (key.startsWith('perch.') ? perchFields : falcoFields)[key] = value;
      // On the wire: what Falco 0.43 put there (every value a string, lists as (a,b), <NA> for null).
      expect({
        rule: response.rule,
        priority: response.priority,
        output: response.output,
        hostname: response.hostname,
        source: response.source,
        tags: response.tags,
        fields: Object.keys(falcoFields).length > 0 ? falcoFields : undefined,
      }).toEqual({ ...expected, time: undefined });
      // Derived beside it: the source kind only where Falco wrote none.
      expect(perchFields['perch.source']).toBe(expected.source === undefined ? entry.sourceKind : undefined);

      // Read back: the same alert, as far as gRPC can carry it.
      const back = fromGrpcResponse(response);
      const event = events[i] as FalcoEvent;
      expect(back.time).toBe(expected.time);
      expect(back.timeNs).toBe(event.timeNs);
      expect(back.priority).toBe(event.priority);
      expect([back.rule, back.output, back.hostname, back.source, back.tags]).toEqual([
        expected.rule,
        expected.output,
        expected.hostname,
        expected.source,
        expected.tags,
      ]);
      for (const [key, text] of Object.entries(expected.fields ?? {}))
        expect(back.outputFields?.[key]).toBe(text === '<NA>' ? null : text);
    });
    // 19 digits, exact, over the wire and back.
    expect(CORPUS[0]?.name).toBe('syscall-container-plugin');
    expect(received[0]?.output_fields?.['evt.time']).toBe('1772619667004211583');
    expect(fromGrpcResponse(received[0] as FalcoResponse).outputFields?.['evt.time']).toBe(
      '1772619667004211583',
    );
  });
});
