/** closed: requests flow; open: none until the cool-down ends; half-open: one trial decides. */
export type CircuitState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. */
  failureThreshold: number;
  /** Cool-down after the first opening; each reopening without a success in between doubles it. */
  coolDownMs: number;
  /** The cool-down never grows beyond this. */
  maxCoolDownMs: number;
  now: () => number;
}

const DEFAULTS: CircuitBreakerOptions = {
  failureThreshold: 5,
  coolDownMs: 10_000,
  maxCoolDownMs: 300_000,
  now: Date.now,
};

/**
 * Stops hammering a destination that is down: after `failureThreshold` consecutive failures the
 * circuit opens and no request goes out until the cool-down has passed; then one trial request
 * (half-open) closes it on success or reopens it, with a longer cool-down, on failure. The delivery
 * loop sends one request at a time, so "one trial" needs no further bookkeeping here.
 */
export class CircuitBreaker {
  private readonly options: CircuitBreakerOptions;
  private failures = 0;
  /** Openings since the last success: how long the cool-down is. */
  private openings = 0;
  private openUntilMs = 0;
  private opened = false;
  private lastFailure: string | undefined;

  constructor(options: Partial<CircuitBreakerOptions> = {}) {
    this.options = { ...DEFAULTS, ...options };
  }

  get state(): CircuitState {
    if (!this.opened) return 'closed';
    return this.options.now() < this.openUntilMs ? 'open' : 'half-open';
  }

  /** Milliseconds until a request may go (0 = now). */
  waitMs(): number {
    if (!this.opened) return 0;
    return Math.max(0, this.openUntilMs - this.options.now());
  }

  /** Consecutive failures so far, and the last one's reason (no secrets: callers pass redacted text). */
  get failureCount(): number {
    return this.failures;
  }

  get lastFailureReason(): string | undefined {
    return this.lastFailure;
  }

  recordSuccess(): void {
    this.failures = 0;
    this.openings = 0;
    this.opened = false;
    this.openUntilMs = 0;
    this.lastFailure = undefined;
  }

  /** Returns true when this failure opened (or reopened) the circuit. */
  recordFailure(reason?: string): boolean {
    this.failures += 1;
    this.lastFailure = reason;
    const trialFailed = this.opened && this.state === 'half-open';
    if (!trialFailed && (this.opened || this.failures < this.options.failureThreshold)) return false;
    this.opened = true;
    this.openings += 1;
    const coolDown = Math.min(
      this.options.maxCoolDownMs,
      this.options.coolDownMs * 2 ** Math.min(this.openings - 1, 32),
    );
    this.openUntilMs = this.options.now() + coolDown;
    return true;
  }
}
