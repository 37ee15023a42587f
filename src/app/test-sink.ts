import { hostname } from 'node:os';
import { PassThrough, type Writable } from 'node:stream';
import type { PerchConfig, SinkConfig } from '../config/schema.js';
import { formatEventTime } from '../events/event-time.js';
import { Priority, priorityName } from '../events/priority.js';
import type { Logger } from '../logging/logger.js';
import { PerchMetrics } from '../metrics/perch-metrics.js';
import { alertFromEvent, type EventAlert } from '../pipeline/alert.js';
import { anyOf } from '../rules/glob.js';
import { createSinks } from '../sinks/create-sinks.js';

export interface TestSinkResult {
  ok: boolean;
  message: string;
}

export interface TestSinkOptions {
  log: Logger;
  /** Where a console sink prints the test alert. */
  out?: Writable;
  /** Says what test-sink is waiting for, before it waits. */
  progress?: (line: string) => void;
  /** The test alert's namespace, for a sink that takes only some namespaces. */
  namespace?: string;
}

const SETTLE_POLL_MS = 100;
/**
 * How long test-sink waits beyond one attempt's `timeout`: enough for a few quick retries (a
 * refused connection, a 429 with a short Retry-After), short enough to give an answer at once.
 */
export const TEST_SINK_MARGIN_MS = 5_000;

type Outcome = 'delivered' | 'rejected' | 'filtered';

/**
 * `perch test-sink NAME`: builds that one sink from perch.yaml, sends it a test alert and waits
 * for the destination's answer: delivered, rejected (with the reason in the log), or still
 * failing when the sink's timeout plus TEST_SINK_MARGIN_MS has passed. The spool is left out: a
 * test alert must not linger on disk. A sink whose filters would drop the test alert is reported
 * before anything is sent.
 */
export async function testSink(
  config: PerchConfig,
  name: string,
  options: TestSinkOptions,
): Promise<TestSinkResult> {
  const sinkConfig = config.sinks[name];
  if (!sinkConfig) {
    const names = Object.keys(config.sinks);
    return {
      ok: false,
      message: `no sink named "${name}" in the configuration (sinks: ${names.join(', ') || 'none'})`,
    };
  }
  const label = `sink ${name} (${sinkConfig.type})`;
  if (sinkConfig.type === 'grpc-bridge')
    return {
      ok: false,
      message: `${label}: test-sink does not apply to a gRPC bridge: it has no destination to send to, it serves the alerts to the clients that connect to it (falco-exporter); start perch run and connect a client`,
    };
  const excluded = filterProblem(sinkConfig, options.namespace);
  if (excluded) return { ok: false, message: `${label}: ${excluded}` };

  const { spoolMinPriority: _ignored, ...withoutSpool } = sinkConfig as typeof sinkConfig & {
    spoolMinPriority?: unknown;
  };
  const only = { ...config, sinks: { [name]: withoutSpool as typeof sinkConfig } };
  const metrics = new PerchMetrics({ processMetrics: false });
  const console = new PassThrough();
  console.pipe(options.out ?? process.stdout);
  const { sinks, close } = createSinks(only, console, metrics, options.log);
  const sink = sinks[0];
  if (!sink) return { ok: false, message: `${label} could not be built` };
  const priority = Math.max(sink.minPriority, Priority.Notice) as Priority;
  const alert = testAlert(name, priority, options.namespace);
  try {
    await sink.start?.();
    if (!('timeout' in sinkConfig)) {
      sink.send(alert);
      await sink.flush();
      return { ok: true, message: `${label} took the test alert` };
    }
    const waitMs = sinkConfig.timeout + TEST_SINK_MARGIN_MS;
    options.progress?.(
      `${label}: sending a test alert (${priorityName(priority)}); waiting up to ${seconds(waitMs)} for the destination's answer (timeout ${seconds(sinkConfig.timeout)} + ${seconds(TEST_SINK_MARGIN_MS)})`,
    );
    const started = Date.now();
    sink.send(alert);
    let outcome = await deliveryOutcome(metrics, name);
    while (!outcome && Date.now() < started + waitMs) {
      await new Promise((r) => setTimeout(r, SETTLE_POLL_MS));
      outcome = await deliveryOutcome(metrics, name);
    }
    const took = `${Date.now() - started} ms`;
    if (outcome === 'delivered')
      return {
        ok: true,
        message: `${label}: the test alert (${priorityName(priority)}) was delivered in ${took}`,
      };
    if (outcome === 'rejected')
      return {
        ok: false,
        message: `${label}: the destination rejected the test alert (the reason is in the log above)`,
      };
    if (outcome === 'filtered')
      return { ok: false, message: `${label}: the sink's filters dropped the test alert` };
    const lastFailure = sink.lastFailure ? ` (last attempt: ${sink.lastFailure})` : '';
    return {
      ok: false,
      message: `${label}: no answer accepted within ${seconds(waitMs)}, giving up${lastFailure}; see the log above for what failed`,
    };
  } finally {
    await sink.close?.();
    close();
  }
}

/** Why the sink's `namespaces` filter would drop the test alert; its priority always passes minPriority. */
function filterProblem(sink: SinkConfig, namespace: string | undefined): string | undefined {
  if (!('namespaces' in sink) || !sink.namespaces) return undefined;
  const list = sink.namespaces.join(', ');
  if (namespace === undefined)
    return `it takes only alerts from the namespaces ${list} and the test alert has none: give one with --namespace NAME`;
  if (!anyOf(sink.namespaces)(namespace))
    return `it takes only alerts from the namespaces ${list}: --namespace ${namespace} is not one of them`;
  return undefined;
}

function testAlert(name: string, priority: Priority, namespace: string | undefined): EventAlert {
  const now = BigInt(Date.now()) * 1_000_000n;
  const alert = alertFromEvent(
    {
      event: {
        time: formatEventTime(now),
        timeNs: now,
        priority,
        rule: 'Perch test alert',
        output: `Test alert from perch test-sink ${name} on ${hostname()}: if you can read this, delivery to this sink works.`,
        source: 'perch',
        hostname: hostname(),
        tags: ['perch', 'test'],
        outputFields: namespace === undefined ? {} : { 'k8s.ns.name': namespace },
      },
      enrichment: { outcome: 'not_applicable' },
    },
    Date.now(),
  );
  alert.reasons.push('sent by perch test-sink');
  return alert;
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

async function deliveryOutcome(metrics: PerchMetrics, name: string): Promise<Outcome | undefined> {
  // An Alertmanager sink delivers through one inner sink per URL, named "<name>/<host>".
  const mine = (labels: Record<string, unknown>, key: string) =>
    labels[key] === name || String(labels[key]).startsWith(`${name}/`);
  const deliveries =
    (await metrics.registry.getSingleMetric('perch_sink_deliveries_total')?.get())?.values ?? [];
  const settled = deliveries.filter((v) => v.value > 0 && mine(v.labels, 'sink'));
  if (settled.some((v) => v.labels.status === 'delivered')) return 'delivered';
  if (settled.some((v) => v.labels.status === 'rejected')) return 'rejected';
  const discarded =
    (await metrics.registry.getSingleMetric('perch_component_discarded_events_total')?.get())?.values ?? [];
  if (discarded.some((v) => v.value > 0 && v.labels.reason === 'filtered' && mine(v.labels, 'component_id')))
    return 'filtered';
  return undefined;
}
