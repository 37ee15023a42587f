import type { Writable } from 'node:stream';
import type { PerchConfig } from '../config/schema.js';
import type { FalcoEvent } from '../events/falco-event.js';
import type { Enrichment } from '../kube/pod-context.js';
import type { Logger } from '../logging/logger.js';
import { EventMetrics } from '../metrics/event-metrics.js';
import { PerchMetrics } from '../metrics/perch-metrics.js';
import { Accounting, EVENT_OUTCOMES } from '../pipeline/accounting.js';
import { buildPipeline } from '../pipeline/pipeline.js';
import { RulesHolder } from '../rules/rules-holder.js';
import { HttpServer } from '../server/http-server.js';
import { createSinks } from '../sinks/create-sinks.js';
import type { Sink } from '../sinks/sink.js';
import { EventFeed } from '../util/event-feed.js';
import { CarriedEnrichment } from './carried-enrichment.js';
import { type HubRole, registerHubIngest } from './hub-ingest.js';
import { HubMetrics } from './hub-metrics.js';
import { createLeadership, type Leadership } from './leadership.js';
import { SettleLedger } from './settle-ledger.js';
import { TakenIds } from './taken-ids.js';

export interface HubOptions {
  stdout: Writable;
  log: Logger;
  env?: NodeJS.ProcessEnv;
  /** Renewal failed past the deadline: the process should end (a restarted replica is a standby). */
  onLostLeadership: () => void;
}

/**
 * `perch hub`: takes in the events the node agents forward (with their Kubernetes context) and runs
 * the cluster-wide stages on them: rules, dedup and digests, correlations across nodes, routing
 * and the sinks people read. Only the replica that holds the Lease is ready, takes alerts in and
 * delivers; agents keep (spool) what no hub has acknowledged.
 */
export class Hub {
  readonly metrics = new PerchMetrics();
  readonly server: HttpServer;
  readonly rules: RulesHolder;
  private readonly hubMetrics: HubMetrics;
  private readonly ledger: SettleLedger;
  private readonly carried = new CarriedEnrichment();
  private readonly input = new EventFeed<FalcoEvent>();
  private readonly sinks: Sink[];
  private readonly closeSinks: () => void;
  private readonly accounting: Accounting;
  private readonly eventMetrics: EventMetrics;
  private role: HubRole = 'standby';
  private leadership?: Leadership;
  private pipelineDone?: Promise<void>;
  private stopping?: Promise<void>;

  constructor(
    private readonly config: PerchConfig,
    private readonly options: HubOptions,
  ) {
    const { log } = options;
    const forwarding = Object.entries(config.sinks).find(([, sink]) => sink.type === 'hub');
    if (forwarding)
      throw new Error(
        `sinks.${forwarding[0]}: a hub does not forward to a hub (type: hub is the agents' sink); use the sinks people read`,
      );
    this.server = new HttpServer(this.metrics, log);
    // The metrics count evictions and read the ids' size: each needs the other built first.
    let onEvict: ((count: number) => void) | undefined;
    const taken = new TakenIds(config.hub.maxIds, config.hub.idRetention, Date.now, (n) => onEvict?.(n));
    this.ledger = new SettleLedger(taken);
    this.hubMetrics = new HubMetrics(
      this.metrics,
      () => taken.size,
      () => this.ledger.inFlight,
    );
    onEvict = (n) => this.hubMetrics.idsEvicted.inc(n);
    this.eventMetrics = new EventMetrics(config.metrics, this.metrics.registry);
    const sinkSet = createSinks(config, options.stdout, this.metrics, log, (alert) =>
      this.ledger.hold(alert),
    );
    this.sinks = sinkSet.sinks;
    this.closeSinks = sinkSet.close;
    this.rules = new RulesHolder(config.rules, Object.keys(config.sinks), log, (ok) =>
      this.metrics.rulesReloads.inc({ result: ok ? 'ok' : 'failed' }),
    );
    for (const outcome of EVENT_OUTCOMES) this.metrics.countOutcome(outcome, 0);
    this.accounting = new Accounting((outcome) => this.metrics.countOutcome(outcome));
    this.server.addReadinessCheck({
      name: 'leadership',
      check: () => {
        if (this.role === 'leader') return { up: true, detail: 'leading' };
        const holder = this.leadership?.holder();
        return { up: false, detail: holder ? `standby (the lease is held by ${holder})` : 'standby' };
      },
    });
    for (const sink of this.sinks) {
      const status = sink.status?.bind(sink);
      if (status) this.server.addReadinessCheck({ name: `sink ${sink.id}`, required: false, check: status });
    }
    registerHubIngest(this.server.app, {
      role: () => this.role,
      holder: () => this.leadership?.holder(),
      ledger: this.ledger,
      take: (event, enrichment) => this.take(event, enrichment),
      ackTimeoutMs: config.hub.ackTimeout,
      ...(config.hub.token ? { token: config.hub.token.reveal() } : {}),
      metrics: this.hubMetrics,
    });
  }

  get isLeader(): boolean {
    return this.role === 'leader';
  }

  async start(): Promise<{ port: number }> {
    const { log } = this.options;
    const alerts$ = buildPipeline(this.input.events$, {
      sinks: this.sinks,
      log,
      now: Date.now,
      rules: () => this.rules.current,
      accounting: this.accounting,
      dedupMaxKeys: this.config.rules.dedup.maxKeys,
      correlationMaxGroups: this.config.pipeline.maxCorrelationGroups,
      allowedLatenessMs: this.config.pipeline.allowedLateness,
      onRuleOutcome: (disposition, rule) => this.metrics.ruleDispositions.inc({ disposition, rule }),
      onEvent: (alert) => {
        // The forwarded id names the hub's alert too: a receiver sees the same id after a failover.
        const id = this.ledger.idOf(alert.event);
        if (id !== undefined) alert.id = id;
        this.eventMetrics.observeEvent(alert);
      },
      onSent: (alert) => this.eventMetrics.observeSent(alert, Date.now()),
      onSettled: (event) => this.ledger.pipelineSettled(event),
      resolver: this.carried,
      enrich: { pendingTimeoutMs: 0, maxPending: 1, onOutcome: (o) => this.metrics.countEnrichment(o) },
    });
    this.pipelineDone = new Promise((resolve) => {
      alerts$.subscribe({
        error: (err: unknown) => {
          log.fatal({ err }, 'pipeline failed');
          resolve();
        },
        complete: () => resolve(),
      });
    });
    this.rules.watchFiles();
    for (const sink of this.sinks) await sink.start?.();
    const { port } = await this.server.listen(this.config.server.listen);
    this.leadership = await createLeadership(
      this.config.hub,
      this.config.kubernetes,
      {
        onStartedLeading: (takeover) => {
          if (this.role === 'draining') return;
          this.role = 'leader';
          this.hubMetrics.leadership(takeover ? 'takeover' : 'acquired');
        },
        onStoppedLeading: () => {
          this.role = 'standby';
          this.hubMetrics.leadership('lost');
          this.ledger.abandonAll();
          this.options.onLostLeadership();
        },
      },
      log,
      this.options.env,
    );
    this.leadership.start();
    log.info(
      { role: 'hub', port, leadership: this.leadership.describe, sinks: this.sinks.map((s) => s.id) },
      'Perch is running',
    );
    return { port };
  }

  /**
   * Shutdown: ingest answers 503 (agents keep their alerts), what is in flight gets the grace to
   * settle, the pipeline ends (its open windows go out as they close), the sinks flush, what is
   * still unsettled is answered not taken, and only then is the lease released, so that the new
   * leader never delivers what this one still might.
   */
  stop(reason = 'stop requested'): Promise<void> {
    this.stopping ??= this.drain(reason);
    return this.stopping;
  }

  private async drain(reason: string): Promise<void> {
    const { log } = this.options;
    const wasLeader = this.role === 'leader';
    this.role = 'draining';
    this.server.markDraining();
    log.info({ reason, graceMs: this.config.server.shutdownGrace }, 'hub shutting down');
    const deadline = Date.now() + this.config.server.shutdownGrace;
    while (this.ledger.inFlight > 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
    this.input.complete();
    const rest = Math.max(0, deadline - Date.now());
    await Promise.race([
      (async () => {
        await this.pipelineDone;
        await Promise.all(this.sinks.map((s) => s.flush()));
      })(),
      new Promise((resolve) => setTimeout(resolve, rest).unref()),
    ]);
    this.ledger.abandonAll();
    await Promise.all(this.sinks.map((s) => s.close?.()));
    this.closeSinks();
    this.rules.close();
    await this.leadership?.stop();
    if (wasLeader) this.hubMetrics.leadership('released');
    await this.server.close();
  }

  private take(event: FalcoEvent, enrichment: Enrichment): void {
    this.carried.carry(event, enrichment);
    this.input.next(event);
  }
}
