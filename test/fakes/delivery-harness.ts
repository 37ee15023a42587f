import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeliverySink, type DeliverySinkDeps } from '../../src/delivery/delivery-sink.js';
import type { Destination, RenderedRequest } from '../../src/delivery/destination.js';
import { Spool } from '../../src/delivery/spool.js';
import { PerchMetrics } from '../../src/metrics/perch-metrics.js';
import {
  captureLogger,
  deliveryConfig,
  JsonDestination,
  labelOf,
  metricValue,
} from './http-receiver-fixtures.js';
import { ManualPoster } from './manual-poster.js';

/** JsonDestination that takes several alerts in one request: a JSON array of the one-alert bodies. */
export class BatchingJsonDestination extends JsonDestination {
  readonly batch = {
    combine: (requests: readonly RenderedRequest[]): RenderedRequest => ({
      ...(requests[0] as RenderedRequest),
      body: `[${requests.map((r) => r.body).join(',')}]`,
    }),
  };
}

/** The labels of the alerts a request carries, one or an array of them. */
export function labelsIn(request: RenderedRequest): string[] {
  const parsed: unknown = JSON.parse(request.body);
  return Array.isArray(parsed) ? parsed.map((one) => labelOf(JSON.stringify(one))) : [labelOf(request.body)];
}

/**
 * A DeliverySink on a ManualPoster (requests answered by the test), with metrics, captured logs
 * and a spool directory; `dispose()` closes all it made.
 */
export class DeliveryHarness {
  readonly metrics = new PerchMetrics({ processMetrics: false });
  readonly logs = captureLogger();
  poster = new ManualPoster();
  private readonly sinks: DeliverySink[] = [];
  private readonly spools: Spool[] = [];

  private constructor(readonly dir: string) {}

  static async create(): Promise<DeliveryHarness> {
    return new DeliveryHarness(await mkdtemp(join(tmpdir(), 'perch-delivery-')));
  }

  openSpool(maxEntries = 1000): Spool {
    const spool = new Spool({ path: join(this.dir, 'spool.db'), maxEntries });
    this.spools.push(spool);
    return spool;
  }

  closeSpools(): void {
    for (const spool of this.spools.splice(0)) spool.close();
  }

  sink(
    fields: Record<string, unknown> = {},
    deps: Partial<DeliverySinkDeps> = {},
    destination: Destination = new JsonDestination('http://127.0.0.1:1'),
  ): DeliverySink {
    const config = deliveryConfig({ retry: { initial: '10ms', max: '100ms' }, ...fields });
    const sink = new DeliverySink('test', config, destination, {
      metrics: this.metrics,
      log: this.logs.log,
      poster: this.poster,
      ...deps,
    });
    this.sinks.push(sink);
    return sink;
  }

  deliveries(status: string): Promise<number> {
    return metricValue(this.metrics, 'perch_sink_deliveries_total', { sink: 'test', status });
  }

  discarded(reason: string): Promise<number> {
    return metricValue(this.metrics, 'perch_component_discarded_events_total', {
      component_id: 'test',
      reason,
    });
  }

  /** The labels of each request sent so far. */
  sent(): string[][] {
    return this.poster.held.map((h) => labelsIn(h.request));
  }

  async dispose(): Promise<void> {
    for (const sink of this.sinks.splice(0)) {
      for (const held of this.poster.inFlight) held.answer(200);
      await sink.close();
    }
    this.closeSpools();
    await rm(this.dir, { recursive: true, force: true });
  }
}
