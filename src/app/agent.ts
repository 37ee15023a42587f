import type { Readable, Writable } from 'node:stream';
import { merge } from 'rxjs';
import type { PerchConfig } from '../config/schema.js';
import { KubernetesContext } from '../kube/kubernetes-context.js';
import type { Logger } from '../logging/logger.js';
import { EventMetrics } from '../metrics/event-metrics.js';
import { PerchMetrics } from '../metrics/perch-metrics.js';
import { registerPostureMetrics } from '../metrics/posture-metrics.js';
import { Accounting, EVENT_OUTCOMES } from '../pipeline/accounting.js';
import { buildPipeline } from '../pipeline/pipeline.js';
import { RulesHolder } from '../rules/rules-holder.js';
import { HttpServer } from '../server/http-server.js';
import { createSinks } from '../sinks/create-sinks.js';
import type { Sink } from '../sinks/sink.js';
import { createSources } from '../sources/create-sources.js';
import { HttpSource } from '../sources/http-source.js';
import type { Source } from '../sources/source.js';

export interface AgentIo {
  stdout: Writable;
  stdin: Readable;
}

export interface StopResult {
  /** False when the grace period ran out before every in-flight alert was written out. */
  clean: boolean;
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
    this.rules = new RulesHolder(config.rules, Object.keys(config.sinks), log, (ok) =>
      this.metrics.rulesReloads.inc({ result: ok ? 'ok' : 'failed' }),
    );
    for (const outcome of EVENT_OUTCOMES) this.metrics.countOutcome(outcome, 0);
    this.accounting = new Accounting((outcome, detail) => {
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
    const alerts$ = buildPipeline(merge(...this.sources.map((s) => s.events$)), {
      sinks: this.sinks,
      log: this.log,
      now: Date.now,
      rules: () => this.rules.current,
      accounting: this.accounting,
      intake: { capacity: this.config.pipeline.bufferSize },
      dedupMaxKeys: this.config.rules.dedup.maxKeys,
      correlationMaxGroups: this.config.pipeline.maxCorrelationGroups,
      onRuleOutcome: (disposition, rule) => this.metrics.ruleDispositions.inc({ disposition, rule }),
      onEvent: (alert) => this.eventMetrics.observeEvent(alert),
      onSent: (alert) => this.eventMetrics.observeSent(alert, Date.now()),
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
      await this.kubernetes.start();
      for (const sink of this.sinks) await sink.start?.();
      ({ port } = await this.server.listen(this.config.server.listen));
      for (const source of this.sources) await source.start();
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

  private async drain(reason: string): Promise<StopResult> {
    this.log.info({ reason, graceMs: this.config.server.shutdownGrace }, 'shutting down: stopping intake');
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'expired'>((resolve) => {
      timer = setTimeout(() => resolve('expired'), this.config.server.shutdownGrace);
      timer.unref();
    });
    const work = (async () => {
      // Closing the server waits for requests in flight, so every alert already accepted enters the pipeline.
      await this.server.close();
      await Promise.all(this.sources.map((s) => s.stop()));
      await this.pipelineDone;
      await Promise.all(this.sinks.map((s) => s.flush()));
      await Promise.all(this.sinks.map((s) => s.close?.()));
      this.closeSinks();
      this.rules.close();
      await this.kubernetes.stop();
      return 'drained' as const;
    })();
    const outcome = await Promise.race([work, expired]);
    clearTimeout(timer);
    if (outcome === 'expired') {
      this.log.error(
        { graceMs: this.config.server.shutdownGrace },
        'shutdown grace expired before alerts were drained',
      );
      return { clean: false };
    }
    this.log.info('shutdown complete: every accepted alert was handed to the sinks');
    return { clean: true };
  }
}
