/** Capped exponential backoff: attempt 0 waits about `initialMs`, each next one twice as long, never over `maxMs`. */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /**
   * How the delay is spread so that many clients failing together do not retry in lockstep.
   * `full`: anywhere in [0, base] (AWS's "full jitter": best spread, but may retry at once);
   * `half` (default): in [base/2, base], spread while still backing off;
   * `none`: exactly base (deterministic, for tests and schedules).
   */
  jitter?: 'full' | 'half' | 'none';
}

/**
 * The delay before retry number `attempt` (0 for the first retry). `random` returns a number in
 * [0, 1) like Math.random; inject it to make delays deterministic.
 */
export function nextDelay(
  attempt: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  const initial = Math.max(0, options.initialMs);
  const max = Math.max(initial, options.maxMs);
  // 2 ** 1100 is Infinity; bounding the exponent keeps the arithmetic finite (and 0 * 2 ** n = 0, not NaN).
  const exponent = Math.min(Math.max(0, Math.floor(attempt)), 64);
  const base = Math.min(max, initial * 2 ** exponent);
  const r = Math.min(Math.max(random(), 0), 1);
  switch (options.jitter ?? 'half') {
    case 'full':
      return Math.round(base * r);
    case 'none':
      return Math.round(base);
    case 'half':
      return Math.round(base / 2 + (base / 2) * r);
  }
}
