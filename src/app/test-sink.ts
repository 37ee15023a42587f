import { hostname } from 'node:os';
import { PassThrough } from 'node:stream';
import type { PerchConfig } from '../config/schema.js';
import { formatEventTime } from '../events/event-time.js';
import { Priority, priorityName } from '../events/priority.js';
import type { Logger } from '../logging/logger.js';
import { PerchMetrics } from '../metrics/perch-metrics.js';
import { alertFromEvent } from '../pipeline/alert.js';
import { createSinks } from '../sinks/create-sinks.js';

export interface TestSinkResult {
  ok: boolean;
  message: string;
}

const SETTLE_POLL_MS = 100;

/**
 * `perch test-sink NAME`: builds that one sink from perch.yaml, sends it a test alert and waits
 * for the destination's answer: delivered, rejected (with the reason in the log), or still
 * failing when time runs out. The spool is left out: a test alert must not linger on disk.
 */
export async function testSink(
  config: PerchConfig,
  name: string,
  log: Logger,
  out = process.stdout,
): Promise<TestSinkResult> {
  const sinkConfig = config.sinks[name];
  if (!sinkConfig) {
    const names = Object.keys(config.sinks);
    return {
      ok: false,
      message: `no sink named "${name}" in the configuration (sinks: ${names.join(', ') || 'none'})`,
    };
  }
  const { spoolMinPriority: _ignored, ...withoutSpool } = sinkConfig as typeof sinkConfig & {
    spoolMinPriority?: unknown;
  };
  const only = { ...config, sinks: { [name]: withoutSpool as typeof sinkConfig } };
  const metrics = new PerchMetrics({ processMetrics: false });
  const console = new PassThrough();
  console.pipe(out);
  const { sinks, close } = createSinks(only, console, metrics, log);
  const sink = sinks[0];
  if (!sink) return { ok: false, message: `sink "${name}" could not be built` };
  const now = BigInt(Date.now()) * 1_000_000n;
  const priority = Math.max(sink.minPriority, Priority.Notice) as Priority;
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
        outputFields: {},
      },
      enrichment: { outcome: 'not_applicable' },
    },
    Date.now(),
  );
  alert.reasons.push('sent by perch test-sink');
  const started = Date.now();
  try {
    await sink.start?.();
    sink.send(alert);
    const deadline = started + ('timeout' in sinkConfig ? sinkConfig.timeout * 3 : 5000) + 2000;
    let outcome = await deliveryOutcome(metrics, name);
    while (!outcome && Date.now() < deadline && 'timeout' in sinkConfig) {
      await new Promise((r) => setTimeout(r, SETTLE_POLL_MS));
      outcome = await deliveryOutcome(metrics, name);
    }
    const took = `${Date.now() - started} ms`;
    if (!('timeout' in sinkConfig))
      return { ok: true, message: `sink ${name} (${sinkConfig.type}) took the test alert` };
    if (outcome === 'delivered')
      return {
        ok: true,
        message: `sink ${name} (${sinkConfig.type}): the test alert (${priorityName(priority)}) was delivered in ${took}`,
      };
    if (outcome === 'rejected')
      return {
        ok: false,
        message: `sink ${name} (${sinkConfig.type}): the destination rejected the test alert (the reason is in the log above)`,
      };
    return {
      ok: false,
      message: `sink ${name} (${sinkConfig.type}): no answer accepted within ${took} (see the log above for what failed)`,
    };
  } finally {
    await sink.close?.();
    close();
  }
}

async function deliveryOutcome(
  metrics: PerchMetrics,
  name: string,
): Promise<'delivered' | 'rejected' | undefined> {
  const values = (await metrics.registry.getSingleMetric('perch_sink_deliveries_total')?.get())?.values ?? [];
  // An Alertmanager sink delivers through one inner sink per URL, named "<name>/<host>".
  const mine = values.filter(
    (v) => v.value > 0 && (v.labels.sink === name || String(v.labels.sink).startsWith(`${name}/`)),
  );
  if (mine.some((v) => v.labels.status === 'delivered')) return 'delivered';
  if (mine.some((v) => v.labels.status === 'rejected')) return 'rejected';
  return undefined;
}
