import { describe, expect, it } from '@jest/globals';
import { CircuitBreaker } from '../../src/delivery/circuit-breaker.js';

function breaker(overrides: { failureThreshold?: number; coolDownMs?: number; maxCoolDownMs?: number } = {}) {
  let now = 0;
  const b = new CircuitBreaker({ coolDownMs: 1000, maxCoolDownMs: 5000, ...overrides, now: () => now });
  return { b, advance: (ms: number) => (now += ms) };
}

describe('CircuitBreaker', () => {
  it('stays closed below the threshold and opens on the fifth consecutive failure by default', () => {
    const { b } = breaker();
    for (let i = 0; i < 4; i++) expect(b.recordFailure('HTTP 503')).toBe(false);
    expect(b.state).toBe('closed');
    expect(b.waitMs()).toBe(0);
    expect(b.recordFailure('HTTP 503')).toBe(true);
    expect(b.state).toBe('open');
    expect(b.waitMs()).toBe(1000);
    expect(b.failureCount).toBe(5);
    expect(b.lastFailureReason).toBe('HTTP 503');
  });

  it('a success in between resets the count', () => {
    const { b } = breaker({ failureThreshold: 2 });
    b.recordFailure();
    b.recordSuccess();
    expect(b.recordFailure()).toBe(false);
    expect(b.state).toBe('closed');
  });

  it('turns half-open after the cool-down and closes on a successful trial', () => {
    const { b, advance } = breaker({ failureThreshold: 1 });
    b.recordFailure();
    advance(999);
    expect(b.state).toBe('open');
    advance(1);
    expect(b.state).toBe('half-open');
    expect(b.waitMs()).toBe(0);
    b.recordSuccess();
    expect(b.state).toBe('closed');
  });

  it('reopens after a failed trial with a doubled cool-down, capped', () => {
    const { b, advance } = breaker({ failureThreshold: 1 });
    const coolDowns: number[] = [];
    b.recordFailure();
    for (let i = 0; i < 5; i++) {
      coolDowns.push(b.waitMs());
      advance(b.waitMs());
      expect(b.state).toBe('half-open');
      expect(b.recordFailure()).toBe(true);
      expect(b.state).toBe('open');
    }
    coolDowns.push(b.waitMs());
    expect(coolDowns).toEqual([1000, 2000, 4000, 5000, 5000, 5000]);
  });

  it('after closing, the next opening starts again from the first cool-down', () => {
    const { b, advance } = breaker({ failureThreshold: 1 });
    b.recordFailure();
    advance(1000);
    b.recordFailure();
    expect(b.waitMs()).toBe(2000);
    advance(2000);
    b.recordSuccess();
    b.recordFailure();
    expect(b.waitMs()).toBe(1000);
  });
});
