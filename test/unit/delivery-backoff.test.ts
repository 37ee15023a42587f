import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { nextDelay } from '../../src/util/backoff.js';

const options = { initialMs: 100, maxMs: 5000 };

describe('nextDelay', () => {
  it('doubles from initialMs and stops at maxMs (no jitter)', () => {
    const delays = [0, 1, 2, 3, 4, 5, 6, 10, 100].map((a) => nextDelay(a, { ...options, jitter: 'none' }));
    expect(delays).toEqual([100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
  });

  it('half jitter stays within [base/2, base]', () => {
    expect(nextDelay(2, options, () => 0)).toBe(200);
    expect(nextDelay(2, options, () => 0.999999)).toBe(400);
    expect(nextDelay(50, options, () => 0)).toBe(2500);
  });

  it('full jitter spreads over [0, base]', () => {
    expect(nextDelay(3, { ...options, jitter: 'full' }, () => 0)).toBe(0);
    expect(nextDelay(3, { ...options, jitter: 'full' }, () => 0.5)).toBe(400);
  });

  it('is always a finite delay within the bounds, whatever the attempt and random value', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -5, max: 10_000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.constantFrom('full' as const, 'half' as const, 'none' as const),
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 0, max: 1_000_000 }),
        (attempt, r, jitter, initialMs, maxMs) => {
          const delay = nextDelay(attempt, { initialMs, maxMs, jitter }, () => r);
          expect(Number.isFinite(delay)).toBe(true);
          expect(delay).toBeGreaterThanOrEqual(0);
          expect(delay).toBeLessThanOrEqual(Math.max(initialMs, maxMs));
        },
      ),
    );
  });

  it('a zero initial delay stays zero (no NaN)', () => {
    expect(nextDelay(2000, { initialMs: 0, maxMs: 1000 })).toBe(0);
  });
});
