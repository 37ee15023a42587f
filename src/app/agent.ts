import type { Readable, Writable } from 'node:stream';
import type { PerchConfig } from '../config/schema.js';
import { IntakeJournal } from '../delivery/intake-journal.js';
import type { Spool } from '../delivery/spool.js';
import type { FalcoEvent } from '../events/falco-event.js';
import { KubernetesContext } from '../kube/kubernetes-context.js';
import type { Logger } from '../logging/logger.js';
import { EventMetrics } from '../metrics/event-metrics.js';
import { PerchMetrics } from '../metrics/perch-metrics.js';
import { registerPostureMetrics } from '../metrics/posture-metrics.js';
import { Accounting, EVENT_OUTCOMES } from '../pipeline/accounting.js';
import { IntakeLevel } from '../pipeline/intake-level.js';
import { buildPipeline } from '../pipeline/pipeline.js';
import { RulesHolder } from '../rules/rules-holder.js';
import { HttpServer } from '../server/http-server.js';
import { createSinks } from '../sinks/create-sinks.js';
import type { Sink } from '../sinks/sink.js';
import { createSources } from '../sources/create-sources.js';
import { HttpSource } from '../sources/http-source.js';
import type { Source } from '../sources/source.js';
import { from, merge, type Observable, tap } from '../util/rx.js';

export interface AgentIo {
  stdout: Writable;
  stdin: Readable;
}

export interface StopResult {
  /** True when every alert taken in was delivered, or is in the spool for the next start. */
  clean: boolean;
  /** Alerts taken in that were neither delivered nor spooled: lost with this process. */
  discarded: number;
  /** Alerts left on disk (spool and intake journal) for the next start. */
  spooled: number;
  /** True when the grace period ran out before the drain finished. */
  expired: boolean;
}

/**
 * `perch run`: one HTTP server, the configured sources, the pipeline and the sinks. Shutdown
 * stops intake first, then lets the pipeline drain into the sinks, then flushes them.
 */
export class Agent {
  readonly metrics: PerchMetrics;
  readonly server: HttpServer;
  private readonly sources: Source[];
  private readonly sinks: Sink[];
  private readonly closeSinks: () => void;
  private readonly spool?: Spool;
  private readonly journal?: IntakeJournal;
  /** Events that entered the pipeline: with the accounting's total, what is still in flight. */
  private taken = 0;
  readonly kubernetes: KubernetesContext;
  readonly rules: RulesHolder;
  readonly accounting: Accounting;
  private readonly eventMetrics: EventMetrics;
  private pipelineDone?: Promise<void>;
  private stopping?: Promise<StopResult>;

  constructor(
    private readonly config: PerchConfig,
    io: AgentIo,
    private readonly log: Logger,
    metrics?: PerchMetrics,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.metrics = metrics ?? new PerchMetrics();
    this.server = new HttpServer(this.metrics, log);
    this.kubernetes = new KubernetesContext(config.kubernetes, config.nodeName, this.metrics, log, env);
    this.eventMetrics = new EventMetrics(config.metrics, this.metrics.registry);
    if (this.kubernetes.enabled)
      registerPostureMetrics(this.metrics.registry, () => this.kubernetes.state.podContexts());
    for (const check of this.kubernetes.readinessChecks()) this.server.addReadinessCheck(check);
    this.sources = createSources(config, io.stdin, this.metrics, log);
    const sinkSet = createSinks(config, io.stdout, this.metrics, log);
    this.sinks = sinkSet.sinks;
    this.closeSinks = sinkSet.close;
    if (sinkSet.spool && sinkSet.spoolMinPriority !== undefined) {
      const spool = sinkSet.spool;
      this.spool = spool;
      this.journal = new IntakeJournal(spool.database, sinkSet.spoolMinPriority, (n) =>
        this.metrics.unspooled.inc({ component_id: 'intake' }, n),
      );
      for (const source of this.sources) source.useDurability?.(this.journal);
      this.server.addReadinessCheck({
        name: 'spool',
        required: false,
        check: () =>
          spool.up
            ? { up: true, detail: `${spool.count()} queued on disk` }
            : { up: false, detail: `${spool.downReason}; alerts are kept in memory only` },
      });
    }

    this.rules = new RulesHolder(config.rules, Object.keys(config.sinks), log, (ok) =>
      this.metrics.rulesReloads.inc({ result: ok ? 'ok' : 'failed' }),
    );
    for (const outcome of EVENT_OUTCOMES) this.metrics.countOutcome(outcome, 0);
    // The events taken in and not yet settled are those the intake buffer (or a pod lookup) holds.
    const intakeLevel = new IntakeLevel(config.pipeline.bufferSize, () => this.taken - this.accounting.total);
    for (const source of this.sources) source.useIntakeRoom?.(intakeLevel);
    this.accounting = new Accounting((outcome, detail) => {
      intakeLevel.left();
      this.metrics.countOutcome(outcome);
      if (outcome === 'shed') this.metrics.shedEvents.inc({ reason: detail ?? 'unknown' });
    });
    for (const source of this.sources) {
      if (source instanceof HttpSource) source.register(this.server.app);
      this.server.addReadinessCheck({ name: `source ${source.id}`, check: () => source.status() });
    }
    for (const sink of this.sinks) {
      const status = sink.status?.bind(sink);
      if (status) this.server.addReadinessCheck({ name: `sink ${sink.id}`, required: false, check: status });
    }
  }

  /** Starts everything; resolves with the bound port once Perch is taking in alerts. */
  async start(): Promise<{ port: number }> {
    if (this.sources.length === 0) this.log.warn('no source is enabled: Perch will receive no alerts');
    const alerts$ = buildPipeline(this.input(), {
      sinks: this.sinks,
      log: this.log,
      now: Date.now,
      rules: () => this.rules.current,
      accounting: this.accounting,
      intake: { capacity: this.config.pipeline.bufferSize },
      dedupMaxKeys: this.config.rules.dedup.maxKeys,
      correlationMaxGroups: this.config.pipeline.maxCorrelationGroups,
      allowedLatenessMs: this.config.pipeline.allowedLateness,
      onRuleOutcome: (disposition, rule) => this.metrics.ruleDispositions.inc({ disposition, rule }),
      onEvent: (alert) => this.eventMetrics.observeEvent(alert),
      onSent: (alert) => this.eventMetrics.observeSent(alert, Date.now()),
      ...(this.journal ? { onSettled: (event: FalcoEvent) => this.journal?.settle(event) } : {}),
      ...(this.kubernetes.enabled ? { resolver: this.kubernetes.state } : {}),
      enrich: {
        pendingTimeoutMs: this.config.kubernetes.pendingTimeout,
        maxPending: this.config.kubernetes.maxPending,
        onOutcome: (outcome) => this.metrics.countEnrichment(outcome),
      },
    });
    this.pipelineDone = new Promise((resolve) => {
      alerts$.subscribe({
        error: (err: unknown) => {
          this.log.fatal({ err }, 'pipeline failed');
          resolve();
        },
        complete: () => resolve(),
      });
    });
    let port: number;
    this.rules.watchFiles();
    try {
      for (const sink of this.sinks) await sink.start?.();
      ({ port } = await this.server.listen(this.config.server.listen));
      for (const source of this.sources) await source.start();
      // Last: loading the Kubernetes client takes most of a second. /healthz answers meanwhile, and
      // alerts that arrive wait for their pod as they do during the first list (kubernetes.pendingTimeout).
      await this.kubernetes.start();
    } catch (err) {
      // Release what did start (the listening server, watches, sockets) so the process can exit.
      await this.stop('start failed').catch(() => undefined);
      throw err;
    }
    this.log.info(
      { sources: this.sources.map((s) => s.id), sinks: this.sinks.map((s) => s.id), port },
      'Perch is running',
    );
    return { port };
  }

  /** Resolves when every source has ended by itself (stdin closed, say). */
  get finished(): Promise<void> {
    return this.pipelineDone ?? Promise.resolve();
  }

  stop(reason = 'stop requested'): Promise<StopResult> {
    this.stopping ??= this.drain(reason);
    return this.stopping;
  }

  /**
   * What the pipeline takes in: alerts a previous run acknowledged but did not settle (from the
   * intake journal) first, then the sources (those that acknowledge admit to the journal themselves).
   */
  private input(): Observable<FalcoEvent> {
    const live$ = merge(...this.sources.map((s) => s.events$));
    const journal = this.journal;
    if (!journal) return live$.pipe(tap(() => this.taken++));
    const { events, unreadable } = journal.recover();
    if (events.length > 0 || unreadable > 0)
      this.log.info(
        { recovered: events.length, unreadable },
        'taking in again the alerts the last run acknowledged but did not finish',
      );
    return merge(from(events), live$).pipe(tap(() => this.taken++));
  }

  /**
   * Shutdown, in order: ingest answers 503 with Retry-After (the health endpoints keep answering,
   * /readyz says not ready), the sources end, the pipeline drains into the sinks, the sinks
   * deliver what they can, and what they cannot is either spooled or counted. When the grace runs
   * out first, the same accounting is done on what is left.
   */
  private async drain(reason: string): Promise<StopResult> {
    this.server.markDraining();
    this.log.info({ reason, graceMs: this.config.server.shutdownGrace }, 'shutting down: stopping intake');
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'expired'>((resolve) => {
      timer = setTimeout(() => resolve('expired'), this.config.server.shutdownGrace);
      timer.unref();
    });
    const work = (async () => {
      await Promise.all(this.sources.map((s) => s.stop()));
      await this.pipelineDone;
      await Promise.all(this.sinks.map((s) => s.flush()));
      return 'drained' as const;
    })();
    const outcome = await Promise.race([work, expired]);
    clearTimeout(timer);
    if (outcome === 'expired')
      this.log.error(
        { graceMs: this.config.server.shutdownGrace },
        'shutdown grace expired before alerts were drained',
      );
    // Whatever is still in the pipeline now will not reach a sink in this process.
    const inFlight = Math.max(0, this.taken - this.accounting.total);
    const journaled = this.journal?.held ?? 0;
    await Promise.all(this.sinks.map((s) => s.close?.()));
    const sinkDiscards = this.sinks.reduce((n, s) => n + (s.discardedAtShutdown ?? 0), 0);
    const spooled = (this.spool?.count() ?? 0) + journaled;
    this.closeSinks();
    this.rules.close();
    await this.kubernetes.stop();
    await this.server.close();
    const discarded = sinkDiscards + Math.max(0, inFlight - journaled);
    const result = { clean: discarded === 0, discarded, spooled, expired: outcome === 'expired' };
    if (discarded > 0)
      this.log.error(
        { discarded, inPipeline: inFlight - journaled, inSinkQueues: sinkDiscards, spooled },
        `shutdown: ${discarded} accepted alert(s) were neither delivered nor spooled and are lost`,
      );
    else
      this.log.info(
        { spooled },
        spooled > 0
          ? `shutdown complete: every accepted alert was delivered or is spooled (${spooled} on disk for the next start)`
          : 'shutdown complete: every accepted alert was delivered',
      );
    return result;
  }
}
