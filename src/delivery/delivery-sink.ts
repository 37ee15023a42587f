import type { DeliverySinkConfig } from '../config/schema.js';
import type { Priority } from '../events/priority.js';
import { type Logger, LogLimiter } from '../logging/logger.js';
import type { ComponentMetrics, PerchMetrics } from '../metrics/perch-metrics.js';
import type { Alert } from '../pipeline/alert.js';
import { anyOf, type StringTest } from '../rules/glob.js';
import type { AlertSink } from '../sinks/sink.js';
import { nextDelay } from '../util/backoff.js';
import { redactSecrets } from '../util/redact.js';
import { alertNamespace } from './alert-namespace.js';
import { CircuitBreaker, type CircuitBreakerOptions } from './circuit-breaker.js';
import { classifyResponse } from './classify.js';
import { type SinkDeliveryMetrics, sinkDeliveryMetrics } from './delivery-metrics.js';
import { DeliveryQueue, type QueuedEntry } from './delivery-queue.js';
import type {
  BatchLimits,
  DeliveryVerdict,
  Destination,
  DestinationResponse,
  RenderedRequest,
} from './destination.js';
import type { Poster } from './poster.js';
import { decodeRequest, encodeRequest } from './request-codec.js';
import type { Spool, SpoolEntryInfo } from './spool.js';
import { TokenBucket } from './token-bucket.js';
import { UndiciPoster } from './undici-poster.js';

export interface DeliverySinkDeps {
  metrics: PerchMetrics;
  log: Logger;
  /** The shared durable spool; without it every alert waits in memory only. Owned by the caller (not closed here). */
  spool?: Spool;
  /** Sends the requests; default: undici, one kept-alive pool per origin. Closed with the sink. */
  poster?: Poster;
  now?: () => number;
  /** Jitter source for backoff (tests make it deterministic). */
  random?: () => number;
  /**
   * Circuit breaker; default: opens after 5 consecutive failures, cool-down 10 × retry.initial
   * doubling with each reopening, never longer than retry.max.
   */
  breaker?: Partial<Omit<CircuitBreakerOptions, 'now'>>;
  /** How long flush() waits on a sink that is failing before it gives up and resolves; default 1 s. */
  flushStallMs?: number;
  /**
   * Told of each alert the sink takes; the callback returned runs once the sink is done with it:
   * `kept` true when it was delivered, rejected, given up on, filtered out or committed to the spool,
   * false when it was dropped for want of room or at shutdown (whoever holds it should send it again).
   */
  track?: (alert: Alert) => ((kept: boolean) => void) | undefined;
}

/** Rejections and give-ups are logged once per distinct reason per this long. */
const REJECTION_LOG_INTERVAL_MS = 600_000;
const RETRY_LOG_INTERVAL_MS = 60_000;
const FLUSH_POLL_MS = 20;
/** close() lets a request in flight finish this long (its answer decides whether the alert is sent again). */
const CLOSE_IN_FLIGHT_GRACE_MS = 2000;
const LOAD_PAGE = 500;

/**
 * Delivers alerts to one destination (a chat service, a webhook, Alertmanager): filters, renders,
 * queues, paces (token bucket), retries with backoff, honours the service's Retry-After, stops
 * hammering a dead service (circuit breaker), and keeps what matters on disk (the spool).
 *
 * Requests go in the order alerts were accepted, oldest first (spooled entries of earlier runs go
 * first), up to `maxInFlight` at once (default: the destination's; 1 for most). A failing alert
 * holds back the ones behind it until it is delivered, rejected or given up on: nothing new goes
 * out while the oldest waiting alert waits for its retry. With one request in flight the
 * destination sees alerts strictly in order; with more, requests that overlap may arrive in any
 * order among themselves, and an alert retried after a failure arrives after some that followed it.
 * While the circuit is not closed only one request (the trial) is in flight.
 *
 * Batches (destinations with `batch`, see BatchRendering): a request carries up to
 * `batch.maxAlerts` queued alerts, waiting at most `batch.maxWait` after the oldest was queued for
 * more to arrive. Its alerts share the answer; each is counted, retried or removed from the spool
 * on its own.
 *
 * Delivery guarantee:
 * - Alerts at or above `spoolMinPriority` (with a spool): AT LEAST ONCE. send() returns after the
 *   rendered request is committed to the spool (see Spool for what a commit survives). The row is
 *   removed only when the destination accepted the request, or rejected it (4xx: counted), or the
 *   alert was given up on after retry.giveUpAfter (counted `failed`), or evicted from a full spool
 *   (counted). Duplicates are possible: if Perch dies after the destination accepted a request but
 *   before the row is removed, that alert is sent again after the restart; and a request that timed
 *   out or lost its connection after the destination processed it is retried and arrives twice.
 *   If the spool cannot be written (disk full), the alert falls back to best effort (error `spool`).
 * - Other alerts: BEST EFFORT. They wait in memory (at most queueSize; beyond it the oldest of the
 *   lowest priority is dropped, counted `queue_full`), are lost if the process dies, and those still
 *   queued at close() are counted as discarded with reason `shutdown`. While the process lives they
 *   get the same retries, so within a run they are also delivered at least once or counted.
 * Nothing is dropped silently: every alert taken in ends as sent, or discarded with a reason
 * (filtered, render_error, queue_full, rejected, retry_expired, spool_evicted, spool_unreadable,
 * shutdown), or stays spooled for the next start.
 *
 * `destination.prepare(request, attempt)` gets attempt 1 for the first try, counting the failed
 * attempts of earlier runs for spooled entries.
 */
export class DeliverySink implements AlertSink {
  readonly feed = 'alerts';
  readonly minPriority: Priority;

  private readonly queue: DeliveryQueue;
  private readonly bucket: TokenBucket;
  private readonly breaker: CircuitBreaker;
  private readonly counters: ComponentMetrics;
  private readonly delivery: SinkDeliveryMetrics;
  private readonly namespaceTest?: StringTest;
  private readonly log: Logger;
  private readonly spool?: Spool;
  private readonly poster: Poster;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly flushStallMs: number;
  private readonly rejectionLog = new LogLimiter(REJECTION_LOG_INTERVAL_MS);
  private readonly problemLog = new LogLimiter(RETRY_LOG_INTERVAL_MS);
  private readonly unsubscribeEvictions?: () => void;
  private readonly metrics: PerchMetrics;
  private readonly track?: DeliverySinkDeps['track'];
  /** Only with `track`: the callbacks of the entries not done yet. */
  private readonly doneOf = new Map<QueuedEntry, (kept: boolean) => void>();

  private readonly maxInFlight: number;
  private readonly batch?: BatchLimits;
  /** Alerts the requests in flight can carry at once. */
  private readonly sendWindow: number;

  private loop?: Promise<void>;
  private closing = false;
  private discardedOnClose = 0;
  private closed?: Promise<void>;
  /** Requests in flight (entries in them are marked `sending`). */
  private inFlight = 0;
  /** close() waiting for the requests in flight to end. */
  private allAnswered?: () => void;
  /** Aborts every request in flight when close() runs out of patience. */
  private readonly abortAll = new AbortController();
  /** The loop's pause: ends at its timer, or early on what it waits for (new work, a free slot, close). */
  private pause?: { timer?: NodeJS.Timeout; resolve: () => void; onWork: boolean };
  /** Real time (not the injected clock) of the last entry that left the queue: flush() watches progress. */
  private lastProgressAt = Date.now();

  constructor(
    readonly id: string,
    private readonly config: DeliverySinkConfig,
    private readonly destination: Destination,
    deps: DeliverySinkDeps,
  ) {
    this.minPriority = config.minPriority;
    this.log = deps.log.child({ sink: id, destination: destination.kind });
    this.spool = deps.spool;
    this.metrics = deps.metrics;
    this.track = deps.track;
    this.maxInFlight = config.maxInFlight ?? destination.defaultMaxInFlight ?? 1;
    this.batch = batchLimits(config, destination);
    this.sendWindow = this.maxInFlight * (this.batch?.maxAlerts ?? 1);
    // One connection per request in flight: HTTP/1.1 sends one request at a time on each.
    this.poster = deps.poster ?? new UndiciPoster({ connections: this.maxInFlight });
    this.now = deps.now ?? Date.now;
    this.random = deps.random ?? Math.random;
    this.flushStallMs = deps.flushStallMs ?? 1000;
    this.queue = new DeliveryQueue(config.queueSize);
    const rate = config.rateLimit ?? destination.defaultRate;
    this.bucket = new TokenBucket(rate.perSecond, rate.burst, this.now);
    this.breaker = new CircuitBreaker({
      coolDownMs: Math.min(config.retry.max, 10 * config.retry.initial),
      maxCoolDownMs: config.retry.max,
      ...deps.breaker,
      now: this.now,
    });
    if (config.namespaces) this.namespaceTest = anyOf(config.namespaces);
    this.counters = deps.metrics.component('sink', id);
    this.delivery = sinkDeliveryMetrics(deps.metrics, id, {
      queueDepth: () => this.queue.size,
      oldestQueuedAgeSeconds: () => this.oldestAgeSeconds(),
      spoolEntries: () => this.spool?.count(id) ?? 0,
      circuitOpen: () => this.breaker.state !== 'closed',
    });
    if (this.spool) {
      this.unsubscribeEvictions = this.spool.onEvict((evicted) => this.evicted(evicted));
      // Entries a previous run left on a disk that could not be read at start are taken up now.
      this.spool.database.onRecover(() => {
        if (this.loop && !this.closing) this.loadSpooled();
      });
    } else if (config.spoolMinPriority !== undefined) {
      this.log.warn('spoolMinPriority is set but no spool is available: alerts wait in memory only');
    }
  }

  send(alert: Alert): void {
    try {
      this.accept(alert);
    } catch (err) {
      // send() must not throw; whatever went wrong is counted and logged (rate-limited).
      this.counters.error('internal');
      this.counters.discarded('internal_error');
      this.logProblem('internal', () =>
        this.log.error({ err: redactSecrets(String(err)) }, 'failed to take an alert'),
      );
    }
  }

  /** Loads this sink's spooled entries (older than anything sent now) and starts delivering. */
  async start(): Promise<void> {
    if (this.loop || this.closing) return;
    this.loadSpooled();
    this.loop = this.run();
  }

  /**
   * Resolves when the queue is empty, or when the sink is not making progress (circuit open or
   * backing off with nothing delivered for flushStallMs): spooled entries then stay on disk for the
   * next start, and close() counts the in-memory ones.
   */
  async flush(): Promise<void> {
    const since = Date.now();
    while (!this.closing && this.queue.size > 0 && this.loop) {
      if (this.stalled() && Date.now() - Math.max(since, this.lastProgressAt) >= this.flushStallMs) return;
      await new Promise((resolve) => setTimeout(resolve, FLUSH_POLL_MS));
    }
  }

  /** Stops the loop and its timers; in-memory entries still queued are counted discarded (`shutdown`). */
  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  get discardedAtShutdown(): number {
    return this.discardedOnClose;
  }

  get lastFailure(): string | undefined {
    return this.breaker.lastFailureReason;
  }

  status(): { up: boolean; detail?: string } {
    const state = this.breaker.state;
    if (state === 'closed') return { up: true, detail: `${this.queue.size} queued` };
    const last = this.breaker.lastFailureReason ?? 'unknown';
    const next =
      state === 'open' ? `next attempt in ${Math.ceil(this.breaker.waitMs() / 1000)} s` : 'trying again';
    return {
      up: false,
      detail: `circuit ${state} after ${this.breaker.failureCount} consecutive failures (last: ${last}); ${next}; ${this.queue.size} queued`,
    };
  }

  private accept(alert: Alert): void {
    this.counters.received();
    const done = this.track?.(alert);
    if (this.closing) {
      this.counters.discarded('shutdown');
      done?.(false);
      return;
    }
    if (
      alert.priority < this.minPriority ||
      (this.namespaceTest && !this.namespaceTest(alertNamespace(alert)))
    ) {
      this.counters.discarded('filtered');
      done?.(true);
      return;
    }
    let request: RenderedRequest;
    try {
      request = this.destination.render(alert);
    } catch (err) {
      this.counters.error('render');
      this.counters.discarded('render_error');
      const reason = redactSecrets(String((err as { message?: unknown } | null)?.message ?? err));
      this.logProblem(`render:${reason}`, () => this.log.error({ reason }, 'could not render an alert'));
      done?.(true);
      return;
    }
    const queuedAtMs = this.now();
    const seq = this.queue.nextSeq();
    const entry: QueuedEntry = {
      seq,
      priority: alert.priority,
      queuedAtMs,
      request,
      attempts: 0,
      notBeforeMs: 0,
    };
    if (done) this.doneOf.set(entry, done);
    const spoolId = this.spoolPut(entry, request);
    if (spoolId === null) {
      this.finish(entry, true);
      return; // evicted at once by a full spool: counted by evicted()
    }
    if (spoolId !== undefined) {
      entry.spoolId = spoolId;
      this.queue.push(entry);
    } else {
      this.pushInMemory(entry);
    }
    if (this.pause?.onWork) this.wake();
  }

  private pushInMemory(entry: QueuedEntry): void {
    const dropped = this.queue.push(entry);
    if (dropped) {
      this.finish(dropped, false);
      this.counters.discarded('queue_full');
      this.logProblem('queue_full', () =>
        this.log.warn(
          { queueSize: this.config.queueSize },
          'delivery queue full: dropped the oldest alert of the lowest priority',
        ),
      );
    }
  }

  /**
   * The spool id; undefined to queue in memory; null when the spool evicted the entry at once.
   * The entry keeps its request in memory until the write is committed: should the commit fail,
   * it becomes an in-memory entry instead of pointing at a row that never reached the disk.
   */
  private spoolPut(entry: QueuedEntry, request: RenderedRequest): number | null | undefined {
    const threshold = this.config.spoolMinPriority;
    if (!this.spool || threshold === undefined || entry.priority < threshold) return undefined;
    const spool = this.spool;
    try {
      const id = spool.put(this.id, entry.priority, encodeRequest(request), entry.queuedAtMs, (committed) => {
        if (committed) {
          // On disk now: the request is read back when the entry's turn comes, unless that is
          // about to happen (it is among the next requests the sink can have in flight).
          if (!entry.sending && entry !== this.queue.head() && this.queue.size > this.sendWindow)
            entry.request = undefined;
          this.finish(entry, true);
        } else if (this.queue.unspool(entry)) {
          this.unspooled('the spool write was rolled back');
        }
      });
      return spool.has(id) ? id : null;
    } catch (err) {
      // A full disk must not lose the alert outright: it still gets a best-effort in-memory delivery.
      this.unspooled(String((err as Error).message ?? err));
      return undefined;
    }
  }

  private unspooled(reason: string): void {
    this.counters.error('spool');
    this.metrics.unspooled.inc({ component_id: this.id });
    this.logProblem('spool_write', () =>
      this.log.error({ reason }, 'could not write to the spool: alert kept in memory only'),
    );
  }

  private evicted(entries: readonly SpoolEntryInfo[]): void {
    // Entries in flight are left alone: their outcome is about to be counted, and they stay in memory.
    const mine = entries.filter((e) => e.sink === this.id && !this.queue.spooled(e.id)?.sending);
    if (mine.length === 0) return;
    for (const entry of mine) this.queue.removeSpooled(entry.id);
    this.delivery.spoolEvicted(mine.length);
    this.counters.discarded('spool_evicted', mine.length);
    this.logProblem('spool_evicted', () =>
      this.log.warn({ evicted: mine.length }, 'spool full: evicted the oldest alerts of the lowest priority'),
    );
  }

  private loadSpooled(): void {
    if (!this.spool) return;
    try {
      this.loadSpooledPages(this.spool);
    } catch (err) {
      // The file could not be opened: its entries are taken up when it can (onRecover).
      this.log.error({ reason: String((err as Error).message ?? err) }, 'cannot read spooled alerts yet');
    }
  }

  private loadSpooledPages(spool: Spool): void {
    const loaded: QueuedEntry[] = [];
    let afterId = 0;
    for (;;) {
      const page = spool.pending(this.id, LOAD_PAGE, afterId);
      for (const row of page) {
        afterId = row.id;
        if (this.queue.hasSpoolId(row.id)) continue; // sent before start(): already queued
        loaded.push({
          seq: this.queue.nextSeq(),
          priority: row.priority,
          queuedAtMs: row.createdMs,
          spoolId: row.id,
          attempts: row.attempts,
          notBeforeMs: 0,
        });
      }
      if (page.length < LOAD_PAGE) break;
    }
    this.queue.prepend(loaded);
    if (loaded.length > 0) this.log.info({ entries: loaded.length }, 'resuming delivery of spooled alerts');
  }

  private async run(): Promise<void> {
    while (!this.closing) {
      try {
        // Only a pause is awaited: a step that sent a request or dropped an entry goes straight on.
        const pause = this.step();
        if (pause) await pause;
      } catch (err) {
        // A bug or a spool that went away must not end delivery for good (nor surface as an unhandled rejection).
        this.counters.error('internal');
        this.logProblem('loop', () =>
          this.log.error({ err: redactSecrets(String(err)) }, 'delivery loop failed; retrying'),
        );
        await this.waitFor(Math.max(100, this.config.retry.initial), false);
      }
    }
  }

  /**
   * One turn of the loop: wait for a free slot, work, a deadline, a backoff, the circuit, a token
   * or more alerts for a batch; or send a request (without waiting for its answer). Returns the
   * pause to wait for, if any.
   */
  private step(): Promise<void> | undefined {
    if (this.inFlight >= this.maxInFlight) return this.waitFor(undefined, false);
    const entry = this.queue.firstWaiting();
    if (!entry) return this.waitFor(undefined, true);
    const now = this.now();
    const deadline = this.deadline(entry);
    if (now >= deadline) {
      this.giveUp(entry);
      return;
    }
    const request = this.requestOf(entry);
    if (!request) return;
    // Half-open: the trial request alone decides whether the destination is back.
    if (this.breaker.state !== 'closed' && this.inFlight > 0) return this.waitFor(undefined, false);
    const wait = Math.min(Math.max(entry.notBeforeMs - now, this.breaker.waitMs()), deadline - now);
    if (wait > 0) return this.waitFor(wait, false);
    const gatherUntil = this.gatherUntil(entry);
    const members = this.batchFrom(entry, request, now);
    if (members.length < (this.batch?.maxAlerts ?? 1) && gatherUntil > now) {
      return this.waitFor(gatherUntil - now, true);
    }
    const tokenWait = this.bucket.take();
    if (tokenWait > 0) return this.waitFor(tokenWait, false);
    this.launch(members);
  }

  /** Until when a batch starting with `entry` may wait for more alerts (never for a retried one). */
  private gatherUntil(entry: QueuedEntry): number {
    if (!this.batch || this.batch.maxWaitMs <= 0 || entry.attempts > 0) return 0;
    return entry.queuedAtMs + this.batch.maxWaitMs;
  }

  /**
   * The entries of the next request: `head`, and for a batching destination the entries after it
   * that may go now, for the same URL, up to batch.maxAlerts.
   */
  private batchFrom(head: QueuedEntry, request: RenderedRequest, now: number): Member[] {
    const members: Member[] = [{ entry: head, request }];
    const max = this.batch?.maxAlerts ?? 1;
    if (max <= 1) return members;
    for (const entry of this.queue.waiting(max).slice(1)) {
      if (entry.notBeforeMs > now || now >= this.deadline(entry)) break;
      const next = this.requestOf(entry);
      if (!next) continue; // unreadable: dropped and counted
      if (next.url !== request.url) break; // spooled under an earlier URL: a request of its own
      members.push({ entry, request: next });
    }
    return members;
  }

  /** Sends one request for `members` in the background; the loop goes on to the next. */
  private launch(members: readonly Member[]): void {
    for (const member of members) member.entry.sending = true;
    this.inFlight += 1;
    void this.attempt(members);
  }

  /** The request of `members` ended (answered, failed or aborted): its slot is free. */
  private landed(members: readonly Member[]): void {
    for (const member of members) member.entry.sending = false;
    this.inFlight -= 1;
    if (this.inFlight === 0) this.allAnswered?.();
    this.wake();
  }

  private deadline(entry: QueuedEntry): number {
    const giveUpAfter = this.config.retry.giveUpAfter;
    return giveUpAfter > 0 ? entry.queuedAtMs + giveUpAfter : Number.POSITIVE_INFINITY;
  }

  /** The head's request; reads a spooled one from disk. Undefined (and the entry gone) when it cannot be had. */
  private requestOf(entry: QueuedEntry): RenderedRequest | undefined {
    if (entry.request) return entry.request;
    const row = entry.spoolId === undefined ? undefined : this.spool?.get(entry.spoolId);
    const request = row && decodeRequest(row.payload);
    if (!request) {
      this.queue.remove(entry);
      if (row) {
        // A row this version cannot read would otherwise block the sink forever.
        this.spool?.remove(row.id);
        this.counters.discarded('spool_unreadable');
        this.logProblem('spool_unreadable', () =>
          this.log.error({ id: row.id }, 'unreadable spool entry dropped'),
        );
      }
      return undefined;
    }
    entry.request = request;
    return request;
  }

  /** One request for `members`, and what its answer means for each; never rejects. */
  private async attempt(members: readonly Member[]): Promise<void> {
    const entries = members.map((m) => m.entry);
    try {
      let prepared: RenderedRequest;
      try {
        prepared = this.prepared(members);
      } catch (err) {
        // A destination that cannot prepare this request never will: retrying would block the queue.
        this.settle(entries, { kind: 'rejected', reason: `prepare failed: ${redactSecrets(String(err))}` });
        return;
      }
      const started = performance.now();
      const result = await this.poster.post(prepared, this.config.timeout, this.abortAll.signal);
      this.delivery.requestSeconds((performance.now() - started) / 1000);
      switch (result.kind) {
        case 'aborted':
          return; // closing: the entries stay (spooled ones on disk, for the next start)
        case 'failed':
          this.counters.error(result.failure.type);
          this.settle(entries, { kind: 'retry', reason: result.failure.reason });
          return;
        case 'answered': {
          const verdicts = this.verdictsFor(result.response, entries.length);
          if (isList(verdicts) ? verdicts.some((v) => v.kind === 'retry') : verdicts.kind === 'retry')
            this.counters.error(`http_${result.response.status}`);
          this.settle(entries, verdicts);
        }
      }
    } catch (err) {
      this.counters.error('internal');
      this.logProblem('attempt', () =>
        this.log.error({ err: redactSecrets(String(err)) }, 'a delivery attempt failed unexpectedly'),
      );
    } finally {
      this.landed(members);
    }
  }

  /** The request to send for `members`: combined when several, prepared for this attempt. */
  private prepared(members: readonly Member[]): RenderedRequest {
    const [first] = members as [Member];
    let request = first.request;
    let attempts = first.entry.attempts;
    if (members.length > 1 && this.destination.batch) {
      request = this.destination.batch.combine(members.map((m) => m.request));
      for (const member of members) attempts = Math.max(attempts, member.entry.attempts);
    }
    return this.destination.prepare?.(request, attempts + 1) ?? request;
  }

  /** One verdict for all alerts of the request, or one each. */
  private verdictsFor(
    response: DestinationResponse,
    count: number,
  ): DeliveryVerdict | readonly DeliveryVerdict[] {
    const classifyBatch = this.destination.batch?.classifyBatch;
    if (count > 1 && classifyBatch) {
      try {
        const verdicts = classifyBatch(response, count);
        if (!isList(verdicts) || verdicts.length === count) return verdicts;
      } catch {
        // As for classify: the generic reading still works.
      }
    }
    return classifyResponse(this.destination, response, this.now());
  }

  /**
   * Applies the answer to one request: the circuit breaker hears of the request once; each alert
   * is counted, completed or scheduled for its retry on its own; a rejection is logged once.
   */
  private settle(
    entries: readonly QueuedEntry[],
    answer: DeliveryVerdict | readonly DeliveryVerdict[],
  ): void {
    const verdicts = isList(answer) ? answer.map(redacted) : undefined;
    const shared = verdicts ? undefined : redacted(answer as DeliveryVerdict);
    const retry = shared
      ? shared.kind === 'retry'
        ? shared
        : undefined
      : verdicts?.find((v) => v.kind === 'retry');
    // A service that answered is up, whatever it thought of these alerts; one that says when to
    // come back (429, Retry-After) is up and pacing us, not failing.
    let opened = false;
    if (retry?.kind === 'retry' && retry.afterMs === undefined)
      opened = this.breaker.recordFailure(retry.reason);
    else this.breaker.recordSuccess();
    let delivered = 0;
    const rejected: string[] = [];
    const retried: QueuedEntry[] = [];
    entries.forEach((entry, i) => {
      const verdict = (shared ?? verdicts?.[i]) as DeliveryVerdict;
      if (verdict.kind === 'delivered') delivered += 1;
      else if (verdict.kind === 'rejected') rejected.push(verdict.reason);
      else {
        this.scheduleRetry(entry, verdict.reason, verdict.afterMs);
        retried.push(entry);
        return;
      }
      this.complete(entry);
    });
    if (delivered > 0) {
      this.delivery.delivery('delivered', delivered);
      this.delivery.succeeded(this.now());
      this.counters.sent(delivered);
    }
    if (rejected.length > 0) {
      this.delivery.delivery('rejected', rejected.length);
      this.counters.discarded('rejected', rejected.length);
      const reason = rejected[0] as string;
      const suppressed = this.rejectionLog.admit(reason, this.now());
      if (suppressed >= 0) {
        this.log.error(
          { reason, suppressed, ...(rejected.length > 1 ? { alerts: rejected.length } : {}) },
          rejected.length > 1
            ? 'destination rejected a batch of alerts; they are not retried'
            : 'destination rejected an alert; it is not retried',
        );
      }
    }
    if (retry?.kind === 'retry' && retried.length > 0) {
      this.delivery.delivery('retried', retried.length);
      this.logRetry(retry.reason, retried, opened);
    }
  }

  private scheduleRetry(entry: QueuedEntry, reason: string, afterMs: number | undefined): void {
    entry.attempts += 1;
    entry.lastFailure = reason;
    if (entry.spoolId !== undefined) this.safely(() => this.spool?.recordAttempt(entry.spoolId as number));
    const delay = afterMs ?? nextDelay(entry.attempts - 1, this.backoff(), this.random);
    entry.notBeforeMs = this.now() + Math.max(0, delay);
  }

  private logRetry(reason: string, entries: readonly QueuedEntry[], opened: boolean): void {
    const first = entries[0] as QueuedEntry;
    if (opened) {
      this.log.warn(
        { reason, failures: this.breaker.failureCount, retryInMs: this.breaker.waitMs() },
        'destination failing: circuit open, holding requests back',
      );
    } else {
      this.logProblem(`retry:${reason}`, () =>
        this.log.warn(
          {
            reason,
            attempts: first.attempts,
            retryInMs: Math.max(0, first.notBeforeMs - this.now()),
            ...(entries.length > 1 ? { alerts: entries.length } : {}),
          },
          'delivery failed; will retry',
        ),
      );
    }
  }

  private backoff(): { initialMs: number; maxMs: number } {
    return { initialMs: this.config.retry.initial, maxMs: this.config.retry.max };
  }

  private giveUp(entry: QueuedEntry): void {
    this.delivery.delivery('failed');
    this.counters.discarded('retry_expired');
    const reason = entry.lastFailure ?? 'no attempt possible';
    const suppressed = this.rejectionLog.admit(`gave up:${reason}`, this.now());
    if (suppressed >= 0) {
      this.log.error(
        { giveUpAfterMs: this.config.retry.giveUpAfter, attempts: entry.attempts, reason, suppressed },
        'gave up delivering an alert',
      );
    }
    this.complete(entry);
  }

  /** The entry leaves the queue and, if spooled, the disk. */
  private complete(entry: QueuedEntry): void {
    this.queue.remove(entry);
    this.finish(entry, true);
    if (entry.spoolId !== undefined) this.safely(() => this.spool?.remove(entry.spoolId as number));
    this.lastProgressAt = Date.now();
  }

  /** The caller that tracks this entry learns that the sink is done with it (once). */
  private finish(entry: QueuedEntry, kept: boolean): void {
    const done = this.doneOf.get(entry);
    if (!done) return;
    this.doneOf.delete(entry);
    done(kept);
  }

  /** A spool write that fails after delivery only risks a duplicate later: log it, never crash the loop. */
  private safely(write: () => void): void {
    try {
      write();
    } catch (err) {
      this.counters.error('spool');
      this.logProblem('spool_write', () => this.log.error({ err: String(err) }, 'spool update failed'));
    }
  }

  private stalled(): boolean {
    const head = this.queue.head();
    return this.breaker.state !== 'closed' || (head !== undefined && head.attempts > 0);
  }

  private oldestAgeSeconds(): number {
    const head = this.queue.head();
    return head ? Math.max(0, this.now() - head.queuedAtMs) / 1000 : 0;
  }

  /**
   * Pauses the loop for `ms` (undefined: until woken). A request finishing always wakes it (a slot
   * is free, the circuit may have closed); new work wakes it when `onWork`.
   */
  private waitFor(ms: number | undefined, onWork: boolean): Promise<void> {
    return new Promise((resolve) => {
      const pause: { timer?: NodeJS.Timeout; resolve: () => void; onWork: boolean } = { resolve, onWork };
      if (ms !== undefined) {
        pause.timer = setTimeout(() => this.wake(), ms);
        // The loop alone must not keep the process alive; flush() and requests in flight do.
        pause.timer.unref();
      }
      this.pause = pause;
    });
  }

  private wake(): void {
    const pause = this.pause;
    if (!pause) return;
    this.pause = undefined;
    if (pause.timer) clearTimeout(pause.timer);
    pause.resolve();
  }

  private async shutdown(): Promise<void> {
    this.closing = true;
    this.wake();
    if (this.loop) {
      await this.loop;
      if (this.inFlight > 0) {
        const answered = new Promise<void>((resolve) => {
          this.allAnswered = resolve;
        });
        let timer: NodeJS.Timeout | undefined;
        const grace = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, Math.min(CLOSE_IN_FLIGHT_GRACE_MS, this.config.timeout));
        });
        await Promise.race([answered, grace]);
        clearTimeout(timer);
        this.abortAll.abort();
        await answered;
      }
    }
    const discarded = this.queue.drainMemory();
    for (const entry of discarded) this.finish(entry, false);
    this.discardedOnClose = discarded.length;
    if (discarded.length > 0) {
      this.counters.discarded('shutdown', discarded.length);
      this.log.warn({ discarded: discarded.length }, 'alerts not delivered before shutdown were discarded');
    }
    const spooled = this.queue.size;
    if (spooled > 0) this.log.info({ spooled }, 'spooled alerts stay on disk for the next start');
    this.queue.clear();
    this.unsubscribeEvictions?.();
    this.delivery.detach();
    await this.poster
      .close()
      .catch((err: unknown) =>
        this.log.warn(
          { err: redactSecrets(String(err)) },
          'could not close the connections to the destination',
        ),
      );
  }

  private logProblem(key: string, write: () => void): void {
    if (this.problemLog.admit(key, this.now()) >= 0) write();
  }
}

/** One alert of a request: its queue entry and its rendered request. */
interface Member {
  entry: QueuedEntry;
  request: RenderedRequest;
}

function isList(answer: DeliveryVerdict | readonly DeliveryVerdict[]): answer is readonly DeliveryVerdict[] {
  return Array.isArray(answer);
}

function redacted(answer: DeliveryVerdict): DeliveryVerdict {
  // A destination's own classify may quote what it got; reasons reach logs and /readyz.
  return answer.kind === 'delivered' ? answer : { ...answer, reason: redactSecrets(answer.reason) };
}

/** The sink's batch limits: its config's, else the destination's default; none when it cannot batch. */
function batchLimits(config: DeliverySinkConfig, destination: Destination): BatchLimits | undefined {
  if (!destination.batch) return undefined;
  const configured = 'batch' in config ? config.batch : undefined;
  const limits = configured
    ? { maxAlerts: configured.maxAlerts, maxWaitMs: configured.maxWait }
    : destination.batch.defaults;
  return limits && limits.maxAlerts > 1 ? limits : undefined;
}
