import type { AlertmanagerSinkConfig } from '../config/schema.js';
import type { Destination } from '../delivery/destination.js';
import type { Priority } from '../events/priority.js';
import { type Logger, LogLimiter } from '../logging/logger.js';
import type { ComponentMetrics } from '../metrics/perch-metrics.js';
import type { Alert, IncidentAlert } from '../pipeline/alert.js';
import {
  type AlertmanagerIncident,
  alertmanagerDestination,
  alertmanagerLabels,
  incidentActiveUntil,
  labelSetKey,
} from './destinations/alertmanager.js';
import type { AlertSink } from './sink.js';

/** Incidents re-sent at once; beyond it the oldest is resolved early (counted and logged). */
export const MAX_ACTIVE_INCIDENTS = 1000;
/** A resendInterval of 0 would re-send in a busy loop; Prometheus's own floor is of this order. */
export const MIN_RESEND_INTERVAL_MS = 1000;

/** The two timer functions the re-send schedule needs; injectable for tests. */
export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: Timers = {
  setTimeout: (callback, ms) => {
    const handle = setTimeout(callback, ms);
    // Re-sending alone must not keep a shutting-down process alive.
    handle.unref();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export interface AlertmanagerSinkDeps {
  /**
   * Makes the sink that delivers to one Alertmanager: the delivery engine (queue, pacing, retries,
   * spool) in the agent, a recording fake in tests. `id` is `<sink id>/<host:port>`.
   */
  innerSink: (id: string, destination: Destination) => AlertSink;
  /** Wall clock in ms: incidents' endsAt and their active period. Default Date.now. */
  now?: () => number;
  timers?: Timers;
  maxActiveIncidents?: number;
  /**
   * The sink's own counters: alerts received and handed on, incidents resolved early (discarded,
   * reason incident_resolved_early: the rest of their active period). Re-sends are not counted
   * here; the inner sinks count each post, re-sends included.
   */
  metrics?: ComponentMetrics;
  log?: Logger;
}

interface Instance {
  /** host:port, for status and logs; never the credentials a URL may carry. */
  host: string;
  sink: AlertSink;
}

interface ActiveIncident {
  alert: IncidentAlert;
  activeUntilMs: number;
  lastSentMs: number;
}

/**
 * Alertmanager as a sink: every alert is posted to every configured instance (an HA cluster
 * deduplicates among its members, and wants each client to post to all of them, not through a
 * load balancer), through one inner sink per instance so that each retries on its own.
 *
 * Events and digests are posted once with an `endsAt` in the future and left to resolve there.
 * Incidents are "active" like a Prometheus alert: re-sent every `resendInterval` (Alertmanager
 * forgets alerts on restart and expects clients to re-send) with `endsAt` a few intervals ahead,
 * until `incidentActiveFor` after they were raised; then posted once more, resolved.
 *
 * - The active set is keyed by label set, as Alertmanager keys alerts: a new incident with the
 *   same labels as an active one IS that Alertmanager alert, so it takes the old one's place
 *   instead of both being re-sent (their annotations would flap, and the old one's resolution
 *   would resolve the new one).
 * - An instance whose sink reports itself down gets no re-sends until it is up again: its queue
 *   already holds a post of each incident, and piling one more per interval onto it would only
 *   push other alerts out of the queue. Every attempt of an incident post gets a fresh endsAt
 *   (the destination's prepare, also for posts read back from the spool), so the one queued post
 *   is enough.
 * - close() stops re-sending but does NOT resolve active incidents: their endsAt is at most
 *   3 × resendInterval ahead (and never past the end of their active period), so Alertmanager
 *   resolves them by itself soon; resolving them at every restart or rolling update would send
 *   "resolved" for incidents nobody has dealt with. The active set lives in memory only: after
 *   a restart the incidents of the previous run are not re-sent and resolve the same way.
 * - One timer for the whole set, armed for the earliest due incident: never a timer per incident.
 *
 * Wiring: `new AlertmanagerSink(name, config, { innerSink: (id, destination) =>
 * new DeliverySink(id, config, destination, { metrics, log, spool }), metrics:
 * metrics.component('sink', name), log })`. The inner sinks apply minPriority and namespaces,
 * to re-sends as to first posts.
 */
export class AlertmanagerSink implements AlertSink {
  readonly feed = 'alerts';
  readonly minPriority: Priority;
  private readonly instances: Instance[];
  private readonly active = new Map<string, ActiveIncident>();
  private readonly now: () => number;
  private readonly timers: Timers;
  private readonly maxActive: number;
  private readonly resendMs: number;
  private readonly logLimiter = new LogLimiter();
  private timer?: { handle: unknown; at: number };
  private closed = false;
  private resolvedEarlyCount = 0;

  constructor(
    readonly id: string,
    private readonly config: AlertmanagerSinkConfig,
    private readonly deps: AlertmanagerSinkDeps,
  ) {
    this.minPriority = config.minPriority;
    this.now = deps.now ?? Date.now;
    this.timers = deps.timers ?? realTimers;
    this.maxActive = Math.max(1, deps.maxActiveIncidents ?? MAX_ACTIVE_INCIDENTS);
    this.resendMs = Math.max(MIN_RESEND_INTERVAL_MS, config.resendInterval);
    const options = { ...config, resendInterval: this.resendMs };
    const seen = new Map<string, number>();
    this.instances = config.urls.map((url) => {
      const host = new URL(url).host;
      // Two URLs on one host (different route prefixes) still need ids of their own.
      const n = (seen.get(host) ?? 0) + 1;
      seen.set(host, n);
      const name = n === 1 ? host : `${host}#${n}`;
      return {
        host: name,
        sink: deps.innerSink(`${id}/${name}`, alertmanagerDestination(url, options, this.now)),
      };
    });
  }

  /** Incidents currently being re-sent. */
  get activeIncidents(): number {
    return this.active.size;
  }

  /** Incidents resolved before their time because the active set was full. */
  get resolvedEarly(): number {
    return this.resolvedEarlyCount;
  }

  send(alert: Alert): void {
    this.deps.metrics?.received();
    for (const instance of this.instances) instance.sink.send(alert);
    // "Sent" here means handed to every instance's sink; each counts its own deliveries.
    this.deps.metrics?.sent();
    if (alert.kind === 'incident') this.track(alert);
  }

  async start(): Promise<void> {
    await Promise.all(this.instances.map((i) => i.sink.start?.()));
  }

  async flush(): Promise<void> {
    await Promise.all(this.instances.map((i) => i.sink.flush()));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.cancelTimer();
    this.active.clear();
    await Promise.all(this.instances.map((i) => i.sink.close?.()));
  }

  /**
   * Every instance gets every alert in the same order and delivers in that order, so what each
   * discards at close is the tail of that sequence: the alerts that reached no instance are the
   * shortest of those tails.
   */
  get discardedAtShutdown(): number {
    return Math.min(...this.instances.map((i) => i.sink.discardedAtShutdown ?? 0));
  }

  get lastFailure(): string | undefined {
    const failures = this.instances.flatMap((i) =>
      i.sink.lastFailure ? [`${i.host}: ${i.sink.lastFailure}`] : [],
    );
    return failures.length > 0 ? failures.join('; ') : undefined;
  }

  /** Up while at least one instance is: the cluster still gets every alert through it. */
  status(): { up: boolean; detail?: string } {
    const down = this.instances
      .map((i) => ({ host: i.host, status: i.sink.status?.() ?? { up: true } }))
      .filter((s) => !s.status.up);
    if (down.length === 0) return { up: true };
    const which = down.map((d) => (d.status.detail ? `${d.host} (${d.status.detail})` : d.host)).join('; ');
    return {
      up: down.length < this.instances.length,
      detail: `${down.length} of ${this.instances.length} Alertmanagers failing: ${which}`,
    };
  }

  private track(alert: IncidentAlert): void {
    if (this.closed) return;
    const now = this.now();
    const key = labelSetKey(alertmanagerLabels(alert, this.config.labels));
    // Delete first: a re-raised incident moves to the end of the (oldest-first) order.
    this.active.delete(key);
    const activeUntilMs = incidentActiveUntil(alert, this.config);
    if (activeUntilMs > now) {
      while (this.active.size >= this.maxActive) this.resolveOldest(now);
      this.active.set(key, { alert, activeUntilMs, lastSentMs: now });
    }
    // Otherwise its first post was already rendered resolved: nothing left to re-send.
    this.rearm();
  }

  private resolveOldest(now: number): void {
    const oldest = this.active.entries().next().value;
    if (!oldest) return;
    const [key, entry] = oldest;
    this.active.delete(key);
    const resolved: AlertmanagerIncident = { ...entry.alert, alertmanagerEndsAtMs: now };
    for (const instance of this.instances) instance.sink.send(resolved);
    this.resolvedEarlyCount += 1;
    this.deps.metrics?.discarded('incident_resolved_early');
    const suppressed = this.logLimiter.admit('resolved-early', now);
    if (suppressed >= 0) {
      this.deps.log?.warn(
        { sink: this.id, correlation: entry.alert.correlation, suppressed, max: this.maxActive },
        'too many active incidents for Alertmanager: resolved the oldest early',
      );
    }
  }

  private dueAt(entry: ActiveIncident): number {
    return Math.min(entry.lastSentMs + this.resendMs, entry.activeUntilMs);
  }

  private rearm(): void {
    if (this.closed || this.active.size === 0) {
      this.cancelTimer();
      return;
    }
    let at = Number.POSITIVE_INFINITY;
    for (const entry of this.active.values()) at = Math.min(at, this.dueAt(entry));
    if (this.timer?.at === at) return;
    this.cancelTimer();
    const handle = this.timers.setTimeout(() => this.tick(), Math.max(0, at - this.now()));
    this.timer = { handle, at };
  }

  private cancelTimer(): void {
    if (this.timer) this.timers.clearTimeout(this.timer.handle);
    this.timer = undefined;
  }

  private tick(): void {
    this.timer = undefined;
    if (this.closed) return;
    const now = this.now();
    for (const [key, entry] of this.active) {
      if (now >= entry.activeUntilMs) {
        // The last post: rendered now, its endsAt is the end of the active period, in the past.
        this.active.delete(key);
        for (const instance of this.instances) instance.sink.send(entry.alert);
      } else if (now >= entry.lastSentMs + this.resendMs) {
        entry.lastSentMs = now;
        for (const instance of this.instances) {
          if (instance.sink.status?.().up === false) continue;
          instance.sink.send(entry.alert);
        }
      }
    }
    this.rearm();
  }
}
