import { Writable } from 'node:stream';
import { configSchema, type DeliverySinkConfig } from '../../src/config/schema.js';
import type { Destination, RenderedRequest } from '../../src/delivery/destination.js';
import { parseFalcoJson } from '../../src/events/parse-falco-json.js';
import { Priority, priorityName } from '../../src/events/priority.js';
import type { Enrichment } from '../../src/kube/pod-context.js';
import { createLogger, type Logger } from '../../src/logging/logger.js';
import type { PerchMetrics } from '../../src/metrics/perch-metrics.js';
import { type Alert, alertFromEvent, type EventAlert } from '../../src/pipeline/alert.js';
import { formatAlertJson } from '../../src/sinks/alert-json.js';

/** Stands for the secret part of a webhook URL: tests assert it never reaches a log line. */
export const URL_SECRET = 'T0KEN-s3cr3t';

/** The simplest destination: the alert's JSON, posted to the receiver. */
export class JsonDestination implements Destination {
  readonly kind = 'test-json';
  readonly defaultRate = { perSecond: 1000, burst: 1000 };

  constructor(private readonly baseUrl: string) {}

  render(alert: Alert): RenderedRequest {
    return {
      url: `${this.baseUrl}/hook/${URL_SECRET}`,
      body: formatAlertJson(alert),
      headers: { 'content-type': 'application/json' },
    };
  }
}

/** The label an alert was built with (its Falco output), read back from a request body. */
export function labelOf(body: string): string {
  const parsed = JSON.parse(body) as {
    event?: { output?: string };
    sample?: { event?: { output?: string } };
  };
  return parsed.event?.output ?? parsed.sample?.event?.output ?? '?';
}

/** An event alert told apart by its output text; namespace from Falco's k8s.ns.name unless `pod` context is wanted. */
export function labelledAlert(label: string, priority = Priority.Warning, namespace?: string): EventAlert {
  const fields: Record<string, string> = { 'proc.name': 'sh' };
  if (namespace !== undefined) fields['k8s.ns.name'] = namespace;
  const event = parseFalcoJson(
    JSON.stringify({
      hostname: 'worker-1',
      output: label,
      output_fields: fields,
      priority: priorityName(priority),
      rule: 'Terminal shell in container',
      source: 'syscall',
      tags: [],
      time: '2026-01-01T09:15:02.000000000Z',
    }),
  );
  const enrichment: Enrichment = { outcome: 'unresolved' };
  return alertFromEvent({ event, enrichment }, Date.now());
}

/** A delivering sink's config as the schema makes it (defaults included), from YAML-like input. */
export function deliveryConfig(fields: Record<string, unknown>): DeliverySinkConfig {
  const config = configSchema.parse({
    sinks: { test: { type: 'webhook', url: 'http://127.0.0.1:1/unused', ...fields } },
  });
  return config.sinks.test as DeliverySinkConfig;
}

/** A logger whose lines the test can read. */
export function captureLogger(): { log: Logger; lines: () => Record<string, unknown>[]; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  const log = createLogger('debug', stream);
  const text = () => chunks.join('');
  const lines = () =>
    text()
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { log, lines, text };
}

export async function metricValue(
  metrics: PerchMetrics,
  name: string,
  labels: Record<string, string>,
): Promise<number> {
  const metric = await metrics.registry.getSingleMetric(name)?.get();
  const match = metric?.values.find((v) =>
    Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want),
  );
  return match?.value ?? 0;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until `check` holds (rejects after timeoutMs): for states that pass quickly, such as an open circuit. */
export async function until(check: () => boolean, timeoutMs = 10_000, everyMs = 5): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await sleep(everyMs);
  }
}
