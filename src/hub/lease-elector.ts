import { type Logger, LogLimiter } from '../logging/logger.js';
import { LeaseConflict, type LeaseRecord, type LeaseStore, type StoredLease } from './lease-record.js';

export interface LeaderElectionTiming {
  leaseDurationMs: number;
  /** A leader that has not renewed for this long steps down. */
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

export interface LeaderCallbacks {
  /** This replica holds the lease now; `takeover` when it took it from another holder. */
  onStartedLeading(takeover: boolean): void;
  /** Renewal failed past the renew deadline: another replica may take over at any moment. */
  onStoppedLeading(): void;
}

/**
 * Leader election on a Lease, the way client-go's leaderelection does it: read; create when absent;
 * take over when the holder is empty or the lease has expired; renew our own; write with the
 * resourceVersion we read, so that of two replicas racing, one gets 409 Conflict and reads again.
 *
 * Expiry is judged on our own clock: from when we last saw the record change, not from the
 * renewTime another machine wrote (clocks across nodes disagree; our own interval does not).
 */
export class LeaseElector {
  private leading = false;
  private stopped = false;
  private timer?: NodeJS.Timeout;
  private observed?: LeaseRecord;
  /** Our clock when `observed` last changed. */
  private observedAt = 0;
  private lastRenewAt = 0;
  private running?: Promise<void>;
  /** An unreachable API server is logged once a minute per reason, not at every retry. */
  private readonly failures = new LogLimiter(60_000);

  constructor(
    private readonly store: LeaseStore,
    private readonly identity: string,
    private readonly timing: LeaderElectionTiming,
    private readonly callbacks: LeaderCallbacks,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  get isLeader(): boolean {
    return this.leading;
  }

  /** The holder we last saw, ourselves included; undefined before the first read. */
  get holder(): string | undefined {
    return this.observed?.holderIdentity || undefined;
  }

  start(): void {
    this.schedule(0);
  }

  /** Stops trying; a leader clears the holder so that a standby takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    if (this.leading) await this.release();
    this.leading = false;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick();
    }, delayMs);
  }

  private async tick(): Promise<void> {
    const acquired = await this.tryAcquireOrRenew().catch((err: unknown) => {
      const reason = String(err);
      const suppressed = this.failures.admit(reason);
      if (suppressed >= 0)
        this.log.warn(
          { lease: this.store.describe, err: reason, suppressed },
          'leader election: cannot read or write the Lease',
        );
      return false;
    });
    if (this.stopped) {
      // Acquired while stopping: stop() then releases it rather than leaving it to expire.
      if (acquired) this.leading = true;
      return;
    }
    const now = this.now();
    if (acquired) {
      this.lastRenewAt = now;
      if (!this.leading) {
        this.leading = true;
        const takeover = this.transitioned;
        this.log.info(
          { lease: this.store.describe, identity: this.identity, takeover },
          'leader election: leading',
        );
        this.callbacks.onStartedLeading(takeover);
      }
    } else if (this.leading && now - this.lastRenewAt >= this.timing.renewDeadlineMs) {
      this.leading = false;
      this.stopped = true;
      this.log.error(
        { lease: this.store.describe, renewDeadlineMs: this.timing.renewDeadlineMs },
        'leader election: could not renew the lease within the renew deadline; stepping down',
      );
      this.callbacks.onStoppedLeading();
      return;
    }
    // client-go jitters its retries so that standbys do not hit the API server in step.
    const jitter = this.leading ? 0 : Math.random() * 0.2 * this.timing.retryPeriodMs;
    this.schedule(this.timing.retryPeriodMs + jitter);
  }

  /** Our last successful write moved the lease to us from another holder (or from a release). */
  private transitioned = false;

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = new Date(this.now());
    const desired: LeaseRecord = {
      holderIdentity: this.identity,
      leaseDurationSeconds: Math.ceil(this.timing.leaseDurationMs / 1000),
      acquireTime: now,
      renewTime: now,
      leaseTransitions: 0,
    };
    const current = await this.store.get();
    if (!current) {
      try {
        await this.store.create(desired);
      } catch (err) {
        if (err instanceof LeaseConflict) return false;
        throw err;
      }
      this.transitioned = false;
      this.see(desired);
      return true;
    }
    this.see(current.record);
    const record = current.record;
    const heldByOther = record.holderIdentity !== '' && record.holderIdentity !== this.identity;
    if (heldByOther && this.observedAt + record.leaseDurationSeconds * 1000 > now.getTime()) return false;
    if (record.holderIdentity === this.identity) {
      desired.acquireTime = record.acquireTime;
      desired.leaseTransitions = record.leaseTransitions;
    } else {
      desired.leaseTransitions = record.leaseTransitions + 1;
    }
    return this.write(desired, current);
  }

  private async write(desired: LeaseRecord, current: StoredLease): Promise<boolean> {
    try {
      await this.store.update(desired, current.resourceVersion);
    } catch (err) {
      if (err instanceof LeaseConflict) return false;
      throw err;
    }
    this.transitioned = current.record.holderIdentity !== this.identity;
    this.see(desired);
    return true;
  }

  private see(record: LeaseRecord): void {
    const changed =
      !this.observed ||
      this.observed.holderIdentity !== record.holderIdentity ||
      this.observed.renewTime.getTime() !== record.renewTime.getTime() ||
      this.observed.leaseTransitions !== record.leaseTransitions;
    this.observed = record;
    if (changed) this.observedAt = this.now();
  }

  /** As client-go's release: holder cleared, a one-second duration, the transition count kept. */
  private async release(): Promise<void> {
    try {
      const current = await this.store.get();
      if (!current || current.record.holderIdentity !== this.identity) return;
      const now = new Date(this.now());
      await this.store.update(
        {
          holderIdentity: '',
          leaseDurationSeconds: 1,
          acquireTime: now,
          renewTime: now,
          leaseTransitions: current.record.leaseTransitions,
        },
        current.resourceVersion,
      );
      this.log.info({ lease: this.store.describe }, 'leader election: released the lease');
    } catch (err) {
      this.log.warn(
        { lease: this.store.describe, err: String(err) },
        'leader election: could not release the lease; a standby takes over when it expires',
      );
    }
  }
}
