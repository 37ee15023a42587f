import { Counter, collectDefaultMetrics, Gauge, Registry, type RegistryContentType } from 'prom-client';
import { type Tally, TallyCounter } from './tally-counter.js';

export type ComponentKind = 'source' | 'stage' | 'sink';

/**
 * The counters every component reports (Vector's component specification): what it received,
 * what it passed on, what it discarded and why, and the errors it met by type.
 */
export interface ComponentMetrics {
  received(count?: number): void;
  sent(count?: number): void;
  discarded(reason: string, count?: number): void;
  error(type: string): void;
}

/**
 * How often the event-loop delay histogram (prom-client's nodejs_eventloop_lag_*) takes a sample.
 * Its default, 10 ms, woke an idle Perch 100 times a second on every node: 0.5–0.8 % of a CPU at
 * rest, against 0.1–0.2 % now (docs/performance.md). At 100 ms a stall of the loop of 100 ms or
 * more is still always seen, shorter ones in proportion to their length.
 */
export const EVENT_LOOP_SAMPLE_MS = 100;

/** All of Perch's metrics, on a registry of its own so that several agents can share a process in tests. */
export class PerchMetrics {
  readonly registry = new Registry<RegistryContentType>();

  // Counted on every event: tallied here and handed to prom-client when it collects (tally-counter.ts).
  private readonly received = new TallyCounter({
    name: 'perch_component_received_events_total',
    help: 'Events a component received.',
    labelNames: ['component_kind', 'component_id'] as const,
    registers: [this.registry],
  });
  private readonly sent = new TallyCounter({
    name: 'perch_component_sent_events_total',
    help: 'Events a component passed on (sources: into the pipeline; sinks: delivered).',
    labelNames: ['component_kind', 'component_id'] as const,
    registers: [this.registry],
  });
  // Counted for every event shed or refused while a component is overloaded.
  private readonly discarded = new TallyCounter({
    name: 'perch_component_discarded_events_total',
    help: 'Events a component discarded, by reason.',
    labelNames: ['component_kind', 'component_id', 'reason'] as const,
    registers: [this.registry],
  });
  private readonly errors = new Counter({
    name: 'perch_component_errors_total',
    help: 'Errors a component met, by type.',
    labelNames: ['component_kind', 'component_id', 'error_type'] as const,
    registers: [this.registry],
  });

  private readonly httpRequests = new TallyCounter({
    name: 'perch_http_ingest_requests_total',
    help: 'Requests to the HTTP ingest endpoint, by outcome and status code.',
    labelNames: ['outcome', 'status'] as const,
    registers: [this.registry],
  });

  readonly httpIngestHeld = new Counter({
    name: 'perch_http_ingest_held_total',
    help: 'NDJSON batches held unread until the intake buffer had room, slowing their sender instead of shedding.',
    registers: [this.registry],
  });

  readonly sourceUp = new Gauge({
    name: 'perch_source_up',
    help: '1 when the source is taking in alerts, 0 when it is not (see logs and /readyz for why).',
    labelNames: ['component_id'] as const,
    registers: [this.registry],
  });

  private readonly enrichment = new TallyCounter({
    name: 'perch_enrichment_total',
    help: 'Alerts by how they were matched to the cluster: container_id, pod_name, host, late, unresolved, not_applicable, disabled; pending_full counts overflows of the waiting buffer.',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly kubeObjects = new Gauge({
    name: 'perch_kube_cache_objects',
    help: 'Objects in the Kubernetes cache, by kind (pods_deleted: deleted pods kept for late alerts).',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly kubeWatchUp = new Gauge({
    name: 'perch_kube_watch_up',
    help: '1 while the watch of a resource is healthy, 0 while it is failing (the cache keeps serving).',
    labelNames: ['resource'] as const,
    registers: [this.registry],
  });

  readonly kubeWatchRestarts = new Counter({
    name: 'perch_kube_watch_restarts_total',
    help: 'Restarts of a failed watch.',
    labelNames: ['resource'] as const,
    registers: [this.registry],
  });

  readonly kubeLastSync = new Gauge({
    name: 'perch_kube_last_sync_timestamp_seconds',
    help: 'When a watch last delivered an event or completed a list.',
    labelNames: ['resource'] as const,
    registers: [this.registry],
  });

  readonly grpcConnected = new Gauge({
    name: 'perch_grpc_source_connected',
    help: '1 while the gRPC source holds a working stream to Falco, 0 while it is reconnecting.',
    labelNames: ['address'] as const,
    registers: [this.registry],
  });

  readonly grpcReconnects = new Counter({
    name: 'perch_grpc_source_reconnects_total',
    help: 'Reconnection attempts of the gRPC source after its stream to Falco failed or ended.',
    labelNames: ['address', 'reason'] as const,
    registers: [this.registry],
  });

  private readonly eventOutcomes = new TallyCounter({
    name: 'perch_events_total',
    help: 'Input events by where the pipeline left them: routed (handed to the sinks, whose own counters say whether each delivered it), digested, silenced, dropped (by a rule) or shed (overload). Every event ends in exactly one.',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly shedEvents = new Counter({
    name: 'perch_events_shed_total',
    help: 'Events shed by the intake buffer, by reason: lower_priority_evicted, buffer_full, hard_limit.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly ruleDispositions = new Counter({
    name: 'perch_rule_dispositions_total',
    help: 'Events silenced or dropped, by the rule that did it.',
    labelNames: ['disposition', 'rule'] as const,
    registers: [this.registry],
  });

  readonly rulesReloads = new Counter({
    name: 'perch_rules_reloads_total',
    help: 'Rules reloads by result (ok, or failed and the previous rules kept).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  private spoolGauge?: Gauge;

  /** perch_spool_up, registered only where a spool exists: a node without one must not look like one that is down. */
  setSpoolUp(up: boolean): void {
    this.spoolGauge ??= new Gauge({
      name: 'perch_spool_up',
      help: 'Whether the delivery spool can be written (1) or alerts are kept in memory only (0: full disk, read-only volume).',
      registers: [this.registry],
    });
    this.spoolGauge.set(up ? 1 : 0);
  }

  readonly unspooled = new Counter({
    name: 'perch_spool_write_failures_total',
    help: 'Alerts that should have been written to the spool but could not be (kept in memory only), by component: intake (the acknowledgement journal) or a sink.',
    labelNames: ['component_id'] as const,
    registers: [this.registry],
  });

  readonly rejectedRecords = new Counter({
    name: 'perch_sink_rejected_records_total',
    help: 'Records a receiver accepted the request of but dropped (OTLP partial success), by sink; not retried.',
    labelNames: ['component_id'] as const,
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics ?? true)
      collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  }

  /** Where an input event ended (perch_events_total); every outcome is present from the start. */
  countOutcome(outcome: string, n = 1): void {
    if (!this.eventOutcomes.incKnown(outcome, n)) this.eventOutcomes.incNew(outcome, { outcome }, n);
  }

  countEnrichment(outcome: string): void {
    if (!this.enrichment.incKnown(outcome)) this.enrichment.incNew(outcome, { outcome });
  }

  /**
   * Counts HTTP ingest requests of one outcome, one call per request: the series is looked up once,
   * at the first count, which is also when it appears.
   */
  httpRequestCounter(outcome: string, status: number): () => void {
    let tally: Tally | undefined;
    return () => {
      tally ??= this.httpRequests.tally(`${outcome} ${status}`, { outcome, status: String(status) });
      tally.pending += 1;
    };
  }

  component(kind: ComponentKind, id: string): ComponentMetrics {
    const labels = { component_kind: kind, component_id: id };
    const key = `${kind}/${id}`;
    const received = this.received.tally(key, labels);
    const sent = this.sent.tally(key, labels);
    const discardedBy = new Map<string, Tally>();
    return {
      received: (count = 1) => {
        received.pending += count;
      },
      sent: (count = 1) => {
        sent.pending += count;
      },
      discarded: (reason, count = 1) => {
        let discarded = discardedBy.get(reason);
        if (!discarded) {
          discarded = this.discarded.tally(`${key}/${reason}`, { ...labels, reason });
          discardedBy.set(reason, discarded);
        }
        discarded.pending += count;
      },
      error: (type) => this.errors.inc({ ...labels, error_type: type }),
    };
  }
}
