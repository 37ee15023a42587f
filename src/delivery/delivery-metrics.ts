import { Counter, Gauge, Histogram, type Metric } from 'prom-client';
import type { PerchMetrics } from '../metrics/perch-metrics.js';
import { TallyCounter } from '../metrics/tally-counter.js';

export type DeliveryStatus = 'delivered' | 'retried' | 'rejected' | 'failed';
const STATUSES: readonly DeliveryStatus[] = ['delivered', 'retried', 'rejected', 'failed'];

/** What a sink reports when Prometheus scrapes: read at that moment rather than kept up to date. */
export interface SinkProbe {
  queueDepth(): number;
  oldestQueuedAgeSeconds(): number;
  spoolEntries(): number;
  circuitOpen(): boolean;
}

/** One sink's handle on the delivery metrics. */
export interface SinkDeliveryMetrics {
  /** `count` alerts (of one request) had this outcome. */
  delivery(status: DeliveryStatus, count?: number): void;
  spoolEvicted(count: number): void;
  succeeded(nowMs: number): void;
  requestSeconds(seconds: number): void;
  /** Stops reporting the scrape-time gauges for this sink (it closed). */
  detach(): void;
}

type Registry = PerchMetrics['registry'];

interface Shared {
  deliveries: TallyCounter<'sink' | 'status'>;
  evictions: Counter<'sink'>;
  /** When each sink's destination last accepted an alert (ms); the gauge reads it when scraped. */
  lastSuccessMs: Map<string, number>;
  duration: Histogram<'sink'>;
  probes: Map<string, SinkProbe>;
}

// The metrics are registered once per registry and shared by every delivering sink on it.
const shared = new WeakMap<Registry, Shared>();

function once<M extends Metric<string>>(registry: Registry, name: string, create: () => M): M {
  return (registry.getSingleMetric(name) as M | undefined) ?? create();
}

function scrapeGauge(
  registry: Registry,
  probes: Map<string, SinkProbe>,
  name: string,
  help: string,
  read: (probe: SinkProbe) => number,
): void {
  once(
    registry,
    name,
    () =>
      new Gauge({
        name,
        help,
        labelNames: ['sink'] as const,
        registers: [registry],
        collect(this: Gauge<'sink'>) {
          // Reset first so a sink that closed stops being reported.
          this.reset();
          for (const [sink, probe] of probes) this.set({ sink }, read(probe));
        },
      }),
  );
}

function create(registry: Registry): Shared {
  const registers = [registry];
  const probes = new Map<string, SinkProbe>();
  const lastSuccessMs = new Map<string, number>();
  // Set on every delivered request, so read when scraped; a sink shows up once it has delivered.
  new Gauge({
    name: 'perch_sink_last_success_timestamp_seconds',
    help: 'When the destination last accepted an alert.',
    labelNames: ['sink'] as const,
    registers,
    collect() {
      for (const [sink, ms] of lastSuccessMs) this.set({ sink }, ms / 1000);
    },
  });
  scrapeGauge(
    registry,
    probes,
    'perch_sink_queue_depth',
    'Alerts waiting for delivery (memory and spool).',
    (p) => p.queueDepth(),
  );
  scrapeGauge(
    registry,
    probes,
    'perch_sink_oldest_queued_age_seconds',
    'Age of the oldest alert waiting for delivery; 0 when none waits.',
    (p) => p.oldestQueuedAgeSeconds(),
  );
  scrapeGauge(
    registry,
    probes,
    'perch_sink_spool_entries',
    'Entries of this sink in the durable spool.',
    (p) => p.spoolEntries(),
  );
  scrapeGauge(
    registry,
    probes,
    'perch_sink_circuit_open',
    '1 while the circuit breaker holds requests back (destination failing), else 0.',
    (p) => (p.circuitOpen() ? 1 : 0),
  );
  return {
    probes,
    // Counted on every request: tallied, and handed to prom-client when it collects.
    deliveries: new TallyCounter({
      name: 'perch_sink_deliveries_total',
      help: 'Delivery attempts by outcome: delivered, retried (failed, will retry), rejected (4xx, dropped), failed (gave up).',
      labelNames: ['sink', 'status'] as const,
      registers,
    }),
    evictions: once(
      registry,
      'perch_sink_spool_evictions_total',
      () =>
        new Counter({
          name: 'perch_sink_spool_evictions_total',
          help: 'Spooled alerts evicted (oldest of the lowest priority) because the spool was full.',
          labelNames: ['sink'] as const,
          registers,
        }),
    ),
    lastSuccessMs,
    duration: once(
      registry,
      'perch_sink_request_duration_seconds',
      () =>
        new Histogram({
          name: 'perch_sink_request_duration_seconds',
          help: 'Duration of each request to the destination, failed ones included.',
          labelNames: ['sink'] as const,
          buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
          registers,
        }),
    ),
  };
}

/** Registers (once per registry) and returns the delivery metrics of one sink. */
export function sinkDeliveryMetrics(
  metrics: PerchMetrics,
  sink: string,
  probe: SinkProbe,
): SinkDeliveryMetrics {
  let set = shared.get(metrics.registry);
  if (!set) {
    set = create(metrics.registry);
    shared.set(metrics.registry, set);
  }
  const { deliveries, evictions, lastSuccessMs, duration, probes } = set;
  probes.set(sink, probe);
  // Each series is looked up once: prom-client hashes the label set on every labelled call. The
  // tallies are present at zero from the start, so dashboards show zero instead of no data.
  const byStatus = new Map(
    STATUSES.map((status) => [status, deliveries.tally(`${sink}\u0000${status}`, { sink, status })]),
  );
  const evicted = evictions.labels({ sink });
  evicted.inc(0);
  const requests = duration.labels({ sink });
  return {
    delivery: (status, count = 1) => {
      const tally = byStatus.get(status);
      if (tally) tally.pending += count;
    },
    spoolEvicted: (count) => evicted.inc(count),
    succeeded: (nowMs) => {
      lastSuccessMs.set(sink, nowMs);
    },
    requestSeconds: (seconds) => requests.observe(seconds),
    detach: () => {
      if (probes.get(sink) === probe) probes.delete(sink);
    },
  };
}
