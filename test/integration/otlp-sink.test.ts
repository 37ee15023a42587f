import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { testSink } from '../../src/app/test-sink.js';
import { ConfigError } from '../../src/config/config-error.js';
import { validateConfig } from '../../src/config/load-config.js';
import { configSchema, type OtlpSinkConfig } from '../../src/config/schema.js';
import type { DeliverySink } from '../../src/delivery/delivery-sink.js';
import { outputText } from '../../src/events/falco-event.js';
import { parseFalcoJson } from '../../src/events/parse-falco-json.js';
import { Priority, priorityName } from '../../src/events/priority.js';
import type { PodContext } from '../../src/kube/pod-context.js';
import { PerchMetrics } from '../../src/metrics/perch-metrics.js';
import { alertFromEvent, type EventAlert } from '../../src/pipeline/alert.js';
import { createSinks } from '../../src/sinks/create-sinks.js';
import { logsUrl } from '../../src/sinks/destinations/otlp.js';
import { partialSuccess } from '../../src/sinks/destinations/otlp-encoding.js';
import { captureLogger, metricValue, until } from '../fakes/http-receiver-fixtures.js';
import { encodeLogsResponse, OtlpReceiver, type ReceivedRecord } from '../fakes/otlp-receiver.js';
import { CURRENT_ALERT, HOST_ALERT } from '../fixtures/falco-alerts.js';
import { corpus } from '../fixtures/falco-corpus/corpus.js';
import { podContext } from '../fixtures/pod-context.js';
import { sentRecords } from '../helpers/otlp-request.js';

const RECEIVED_AT_MS = 1_767_258_903_250;

let receiver: OtlpReceiver;
let dir: string;
const cleanups: (() => Promise<void> | void)[] = [];

beforeEach(async () => {
  receiver = await OtlpReceiver.start();
  dir = await mkdtemp(join(tmpdir(), 'perch-otlp-'));
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await receiver.stop();
  await rm(dir, { recursive: true, force: true });
});

function otlpConfig(fields: Record<string, unknown> = {}): OtlpSinkConfig {
  const config = configSchema.parse({
    sinks: {
      logs: { type: 'otlp', endpoint: receiver.url, retry: { initial: '10ms', max: '100ms' }, ...fields },
    },
  });
  return config.sinks.logs as OtlpSinkConfig;
}

/** The demo alert (Falco ≥ 0.41) with a pid, from a gVisor pod of a Deployment that fails a baseline check. */
function demoAlert(): EventAlert {
  const doc = JSON.parse(CURRENT_ALERT) as { output_fields: Record<string, unknown> };
  doc.output_fields['proc.pid'] = 4242;
  // Keeps the 19-digit evt.time exact: JSON.parse above rounded it, the original text has it.
  const line = JSON.stringify(doc).replace(/"evt\.time":\d+/, '"evt.time":1767258902123456789');
  const pod: PodContext = podContext({
    namespace: 'tools',
    pod: 'toolbox-6d8f9c7b5-x2x7q',
    uid: '0f3c7d52-1111-4a4a-9b9b-123456789abc',
    node: 'worker-2',
    workload: { kind: 'Deployment', name: 'toolbox' },
    runtimeClass: 'gvisor',
    handler: 'runsc',
    isolation: 'sandbox',
    posture: {
      level: 'privileged',
      violations: [
        {
          check: 'privileged',
          level: 'baseline',
          field: 'spec.containers[toolbox].securityContext.privileged',
          value: 'true',
        },
        {
          check: 'runAsNonRoot',
          level: 'restricted',
          field: 'spec.securityContext.runAsNonRoot',
          value: '<unset>',
        },
      ],
    },
    container: {
      name: 'toolbox',
      kind: 'container',
      image: 'registry.example.com/team/toolbox:1.2.3',
      id: '4b1d2c3e5f60',
    },
  });
  return alertFromEvent(
    { event: parseFalcoJson(line), enrichment: { outcome: 'container_id', pod } },
    RECEIVED_AT_MS,
  );
}

function hostAlert(): EventAlert {
  return alertFromEvent(
    { event: parseFalcoJson(HOST_ALERT), enrichment: { outcome: 'host', node: 'worker-3' } },
    RECEIVED_AT_MS,
  );
}

function startSink(config: OtlpSinkConfig) {
  const metrics = new PerchMetrics({ processMetrics: false });
  const logs = captureLogger();
  const { sinks, close } = createSinks(
    { ...configSchema.parse({}), sinks: { logs: config } },
    process.stdout,
    metrics,
    logs.log,
  );
  const sink = sinks[0] as DeliverySink;
  cleanups.push(async () => {
    await sink.close();
    close();
  });
  return { sink, metrics, logs };
}

const EXPECTED_DEMO_RESOURCE = {
  'k8s.node.name': 'worker-2',
  'k8s.namespace.name': 'tools',
  'k8s.pod.name': 'toolbox-6d8f9c7b5-x2x7q',
  'k8s.pod.uid': '0f3c7d52-1111-4a4a-9b9b-123456789abc',
  'k8s.deployment.name': 'toolbox',
  'container.id': '4b1d2c3e5f60',
  'container.name': 'toolbox',
  'container.image.name': 'registry.example.com/team/toolbox',
  'container.image.tags': ['1.2.3'],
};

function expectDemoRecord(record: ReceivedRecord | undefined, alert: EventAlert): void {
  expect(record?.resource).toEqual(EXPECTED_DEMO_RESOURCE);
  expect(record?.timeNs).toBe('1767258902123456789');
  expect(record?.observedNs).toBe(`${RECEIVED_AT_MS}000000`);
  expect(record?.severityNumber).toBe(10); // INFO2
  expect(record?.severityText).toBe('Notice');
  expect(record?.body).toBe(outputText(alert.event));
  expect(record?.attributes).toMatchObject({
    'process.executable.name': 'kubectl',
    'process.command_line': 'kubectl get secrets -A',
    'process.pid': 4242,
    'user.name': 'app',
    'falco.rule': 'Contact K8S API Server From Container',
    'falco.priority': 'Notice',
    'falco.source': 'syscall',
    'falco.hostname': 'worker-2',
    'falco.tags': ['T1565', 'container', 'k8s', 'maturity_stable', 'mitre_discovery', 'network'],
    'falco.output_fields.fd.name': '10.244.1.17:51234->10.96.0.1:443',
    'falco.output_fields.fd.lport': 51234,
    'falco.output_fields.user.loginuid': -1,
    'falco.output_fields.evt.time': '1767258902123456789',
    'perch.alert.id': alert.id,
    'perch.alert.kind': 'event',
    'perch.priority': 'Notice',
    'perch.enrichment': 'container_id',
    'perch.isolation': 'sandbox',
    'perch.runtime_class': 'gvisor',
    'perch.pss.level': 'privileged',
    'perch.pss.violations': ['privileged', 'runAsNonRoot'],
    'perch.workload.kind': 'Deployment',
    'perch.workload.name': 'toolbox',
  });
}

describe('OTLP sink: mapping, read back with the generated OTLP decoder', () => {
  it('maps the demo alert to semantic-convention resource and log attributes, nanoseconds exact (protobuf)', () => {
    const alert = demoAlert();
    const { prepared, records } = sentRecords([alert]);
    expect(prepared.headers['content-type']).toBe('application/x-protobuf');
    expect(records).toHaveLength(1);
    expectDemoRecord(records[0], alert);
  });

  it('maps the same in OTLP JSON, gzipped', () => {
    const alert = demoAlert();
    const { prepared, records } = sentRecords([alert], { protocol: 'http/json', compression: 'gzip' });
    expect(prepared.headers).toMatchObject({
      'content-type': 'application/json',
      'content-encoding': 'gzip',
    });
    expectDemoRecord(records[0], alert);
  });

  it("keeps Falco's priority as the severity when a rule raised it, and Perch's under perch.priority", () => {
    const alert = {
      ...demoAlert(),
      priority: Priority.Critical,
      reasons: ['raised: toolbox may not read secrets'],
    };
    const [record] = sentRecords([alert]).records;
    expect([record?.severityText, record?.severityNumber]).toEqual(['Notice', 10]);
    expect(record?.attributes).toMatchObject({
      'perch.priority': 'Critical',
      'perch.reasons': ['raised: toolbox may not read secrets'],
    });
  });

  it('groups records by resource: one ResourceLogs per pod and one for the node', () => {
    const first = demoAlert();
    const host = hostAlert();
    const second = demoAlert();
    const { resourceLogs, records } = sentRecords([first, host, second]);
    expect(resourceLogs).toBe(2);
    const byId = new Map(records.map((r) => [r.attributes['perch.alert.id'], r]));
    expect(byId.get(first.id)?.resourceIndex).toBe(byId.get(second.id)?.resourceIndex);
    expect(byId.get(host.id)?.resourceIndex).not.toBe(byId.get(first.id)?.resourceIndex);
    // A host process has no pod or container: the node is its resource.
    expect(byId.get(host.id)?.resource).toEqual({ 'k8s.node.name': 'worker-3' });
    expect(byId.get(host.id)?.severityNumber).toBe(13); // WARN
  });

  it('keeps every alert of the Falco corpus: time to the nanosecond, output, rule, priority and output fields', () => {
    const files = corpus();
    const alerts = files.map((file) =>
      alertFromEvent(
        { event: parseFalcoJson(file.line), enrichment: { outcome: 'not_applicable' } },
        RECEIVED_AT_MS,
      ),
    );
    const { records } = sentRecords(alerts);
    expect(records).toHaveLength(files.length);
    for (const [i, alert] of alerts.entries()) {
      const record = records.find((r) => r.attributes['perch.alert.id'] === alert.id);
      expect({ name: files[i]?.name, time: record?.timeNs }).toEqual({
        name: files[i]?.name,
        time: alert.event.timeNs.toString(),
      });
      expect(record?.body).toBe(outputText(alert.event));
      expect(record?.severityText).toBe(priorityName(alert.event.priority));
      expect(record?.attributes['falco.rule']).toBe(alert.event.rule);
      for (const [name, value] of Object.entries(alert.event.outputFields ?? {})) {
        if (value === null) continue;
        expect(record?.attributes).toHaveProperty([`falco.output_fields.${name}`]);
      }
    }
  });

  it('reads a partial success in either encoding, and nothing from a full success or a body that is not OTLP', () => {
    const protobuf = encodeLogsResponse({
      partialSuccess: { rejectedLogRecords: 2, errorMessage: 'too big' },
    });
    expect(partialSuccess(protobuf, 'http/protobuf')).toEqual({ rejected: 2, message: 'too big' });
    const json = Buffer.from(
      JSON.stringify({ partialSuccess: { rejectedLogRecords: '2', errorMessage: 'too big' } }),
    );
    expect(partialSuccess(json, 'http/json')).toEqual({ rejected: 2, message: 'too big' });
    // The spec's warning form: nothing rejected, but a message worth reading.
    const warning = encodeLogsResponse({
      partialSuccess: { rejectedLogRecords: 0, errorMessage: 'deprecated field' },
    });
    expect(partialSuccess(warning, 'http/protobuf')).toEqual({ rejected: 0, message: 'deprecated field' });
    expect(partialSuccess(encodeLogsResponse({}), 'http/protobuf')).toBeUndefined();
    expect(partialSuccess(new Uint8Array(), 'http/protobuf')).toBeUndefined();
    expect(partialSuccess(Buffer.from('{}'), 'http/json')).toBeUndefined();
    expect(partialSuccess(Buffer.from('<html>ok</html>'), 'http/json')).toBeUndefined();
  });

  it('appends /v1/logs to a base endpoint and keeps a full one', () => {
    expect(logsUrl('http://otel-collector:4318')).toBe('http://otel-collector:4318/v1/logs');
    expect(logsUrl('https://gateway.example/otlp/')).toBe('https://gateway.example/otlp/v1/logs');
    expect(logsUrl('https://gateway.example/otlp/v1/logs?tenant=a')).toBe(
      'https://gateway.example/otlp/v1/logs?tenant=a',
    );
  });
});

describe('OTLP sink: delivery', () => {
  it('posts to /v1/logs with the configured headers, which the logs never show', async () => {
    const { sink, logs } = startSink(otlpConfig({ headers: { Authorization: 'Bearer s3cr3t-otlp-token' } }));
    await sink.start();
    receiver.reply({ status: 400, body: JSON.stringify({ code: 3, message: 'bad tenant' }) });
    const alert = demoAlert();
    sink.send(alert);
    await until(() => receiver.requests.length === 1);
    expect(receiver.requests[0]?.path).toBe('/v1/logs');
    expect(receiver.requests[0]?.headers.authorization).toBe('Bearer s3cr3t-otlp-token');
    // 400: rejected, not retried.
    await until(() => logs.text().includes('not retried'));
    expect(receiver.requests).toHaveLength(1);
    expect(logs.text()).not.toContain('s3cr3t-otlp-token');
  });

  it.each(['http/protobuf', 'http/json'])(
    'counts and logs a partial success once, and does not send again (%s)',
    async (protocol) => {
      const { sink, metrics, logs } = startSink(otlpConfig({ protocol }));
      await sink.start();
      // 300 is a varint with the high bit set: it survives only if the answer is read as bytes.
      receiver.reply({
        status: 200,
        partialSuccess: { rejectedLogRecords: 300, errorMessage: 'timestamp too old' },
      });
      sink.send(demoAlert());
      await until(() => logs.text().includes('dropped records'));
      expect(await metricValue(metrics, 'perch_sink_rejected_records_total', { component_id: 'logs' })).toBe(
        300,
      );
      expect(
        await metricValue(metrics, 'perch_sink_deliveries_total', { sink: 'logs', status: 'delivered' }),
      ).toBe(1);
      const warnings = logs.lines().filter((l) => String(l.msg).includes('dropped records'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatchObject({ rejectedRecords: 300, reason: 'timestamp too old' });
      expect(receiver.requests).toHaveLength(1);
    },
  );

  it('takes a full success as nothing dropped', async () => {
    const { sink, metrics } = startSink(otlpConfig());
    await sink.start();
    sink.send(demoAlert());
    await until(() => receiver.requests.length === 1);
    await until(() => receiver.accepted().length === 1);
    expect(await metricValue(metrics, 'perch_sink_rejected_records_total', { component_id: 'logs' })).toBe(0);
  });

  it('batches alerts into one request, records of one pod under one ResourceLogs', async () => {
    const { sink } = startSink(otlpConfig({ batch: { maxAlerts: 10, maxWait: '300ms' } }));
    await sink.start();
    const alerts = [demoAlert(), hostAlert(), demoAlert(), demoAlert(), hostAlert()];
    for (const alert of alerts) sink.send(alert);
    await until(() => receiver.accepted().length === alerts.length);
    expect(receiver.requests).toHaveLength(1);
    expect(receiver.requests[0]?.resourceLogs).toBe(2);
    // Grouped by resource, each group in the order the alerts came.
    const ids = (resource: number) =>
      receiver
        .accepted()
        .filter((r) => r.resourceIndex === resource)
        .map((r) => r.attributes['perch.alert.id']);
    const [pod1, host1, pod2, pod3, host2] = alerts.map((a) => a.id);
    expect([ids(0), ids(1)]).toEqual([
      [pod1, pod2, pod3],
      [host1, host2],
    ]);
  });

  it('waits as long as a 429 Retry-After asks before sending again', async () => {
    const { sink } = startSink(otlpConfig());
    await sink.start();
    receiver.reply({ status: 429, headers: { 'retry-after': '1' } });
    const sentAt = Date.now();
    sink.send(demoAlert());
    await until(() => receiver.accepted().length === 1, 10_000);
    // The configured backoff is 10 ms: only the Retry-After explains a second of waiting.
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(950);
    expect(receiver.requests.map((r) => r.answer)).toEqual([429, 200]);
  });

  it('loses nothing to an outage: spooled alerts reach the receiver when it is back, after a restart', async () => {
    const spoolPath = join(dir, 'spool.db');
    const config = otlpConfig({ spoolMinPriority: 'Debug', retry: { initial: '20ms', max: '50ms' } });
    await receiver.down();
    const perchConfig = (path: string) => ({
      ...configSchema.parse({ delivery: { spoolPath: path } }),
      sinks: { logs: config },
    });
    const first = createSinks(
      perchConfig(spoolPath),
      process.stdout,
      new PerchMetrics({ processMetrics: false }),
      captureLogger().log,
    );
    const firstSink = first.sinks[0] as DeliverySink;
    await firstSink.start();
    const sent = Array.from({ length: 12 }, () => demoAlert());
    for (const alert of sent) firstSink.send(alert);
    await new Promise((r) => setTimeout(r, 200));
    await firstSink.close();
    first.close();

    await receiver.up();
    const second = createSinks(
      perchConfig(spoolPath),
      process.stdout,
      new PerchMetrics({ processMetrics: false }),
      captureLogger().log,
    );
    const secondSink = second.sinks[0] as DeliverySink;
    cleanups.push(async () => {
      await secondSink.close();
      second.close();
    });
    await secondSink.start();
    const ids = () => new Set(receiver.accepted().map((r) => r.attributes['perch.alert.id']));
    await until(() => ids().size === sent.length, 15_000);
    expect([...ids()].sort()).toEqual(sent.map((a) => a.id).sort());
  });
});

describe('perch test-sink with an OTLP sink', () => {
  it('sends a test record and reports it delivered', async () => {
    const config = { ...configSchema.parse({}), sinks: { logs: otlpConfig() } };
    const result = await testSink(config, 'logs', { log: captureLogger().log });
    expect(result).toMatchObject({ ok: true });
    expect(result.message).toMatch(/sink logs \(otlp\): the test alert \(Notice\) was delivered/);
    expect(receiver.accepted()[0]?.attributes['falco.rule']).toBe('Perch test alert');
  });

  it('reports a rejection', async () => {
    receiver.reply({ status: 401, body: JSON.stringify({ code: 16, message: 'unauthenticated' }) });
    const config = { ...configSchema.parse({}), sinks: { logs: otlpConfig() } };
    const result = await testSink(config, 'logs', { log: captureLogger().log });
    expect(result.ok).toBe(false);
    expect(result.message).toContain('rejected');
  });
});

describe('OTLP sink configuration', () => {
  function problemsOf(sink: Record<string, unknown>): string[] {
    try {
      validateConfig(
        { sinks: { logs: { type: 'otlp', endpoint: 'http://collector:4318', ...sink } } },
        'test',
        {},
      );
    } catch (err) {
      if (err instanceof ConfigError) return err.problems.map((p) => `${p.path}: ${p.message}`);
      throw err;
    }
    return [];
  }

  it('defaults to protobuf, no compression, batches of up to 64 records', () => {
    expect(otlpConfig()).toMatchObject({
      protocol: 'http/protobuf',
      compression: 'none',
      headers: {},
      batch: { maxAlerts: 64, maxWait: 0 },
    });
  });

  it('refuses a header value that cannot be sent without quoting it, and the headers Perch sets itself', () => {
    const problems = problemsOf({
      headers: { Authorization: 'Bearer s3cr3t\r\nX-Evil: 1', 'Content-Type': 'text/plain' },
    });
    expect(problems).toHaveLength(2);
    expect(problems.join('\n')).not.toContain('s3cr3t');
    expect(problems.join('\n')).toContain('Perch sets content-type');
  });

  it('refuses an unknown protocol and an endpoint that is not a URL', () => {
    expect(problemsOf({ protocol: 'grpc', endpoint: 'collector:4317' })).toHaveLength(2);
  });
});
