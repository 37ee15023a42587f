/**
 * A token bucket: `burst` requests may go at once, then one every `1 / perSecond` seconds. The
 * clock is injectable so pacing can be tested without waiting.
 */
export class TokenBucket {
  private tokens: number;
  private refilledAtMs: number;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    if (!(perSecond > 0) || !Number.isFinite(perSecond)) throw new RangeError('perSecond must be > 0');
    if (!(burst >= 1)) throw new RangeError('burst must be ≥ 1');
    this.tokens = burst;
    this.refilledAtMs = now();
  }

  /**
   * Takes a token when one is there and returns 0 ("go"); otherwise takes nothing and returns the
   * milliseconds until one will be, so the caller waits that long and asks again.
   */
  take(): number {
    this.refill();
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    // The epsilon keeps float noise (0.998 tokens → 1.0000000000000009 ms) from adding a millisecond.
    return Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / this.perSecond - 1e-9));
  }

  /** Tokens available now (fractional while refilling): for tests and diagnostics. */
  available(): number {
    this.refill();
    return this.tokens;
  }

  private refill(): void {
    const now = this.now();
    // A clock that steps backwards (NTP) must not drain the bucket: treat it as no time passing.
    const elapsedMs = Math.max(0, now - this.refilledAtMs);
    this.refilledAtMs = now;
    this.tokens = Math.min(this.burst, this.tokens + (elapsedMs * this.perSecond) / 1000);
  }
}
