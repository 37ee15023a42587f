import { describe, expect, it } from '@jest/globals';
import { TokenBucket } from '../../src/delivery/token-bucket.js';

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('TokenBucket', () => {
  it('lets a burst through at once, then paces at perSecond', () => {
    const c = clock();
    const bucket = new TokenBucket(2, 3, c.now);
    expect([bucket.take(), bucket.take(), bucket.take()]).toEqual([0, 0, 0]);
    expect(bucket.take()).toBe(500);
    c.advance(499);
    expect(bucket.take()).toBe(1);
    c.advance(1);
    expect(bucket.take()).toBe(0);
  });

  it('does not take a token when it answers "wait"', () => {
    const c = clock();
    const bucket = new TokenBucket(10, 1, c.now);
    expect(bucket.take()).toBe(0);
    expect(bucket.take()).toBe(100);
    expect(bucket.take()).toBe(100);
    c.advance(100);
    expect(bucket.take()).toBe(0);
  });

  it('never holds more than burst, however long it idled', () => {
    const c = clock();
    const bucket = new TokenBucket(1, 2, c.now);
    c.advance(3_600_000);
    expect(bucket.available()).toBe(2);
    expect([bucket.take(), bucket.take()]).toEqual([0, 0]);
    expect(bucket.take()).toBe(1000);
  });

  it('treats a clock stepping backwards as no time passing', () => {
    const c = clock();
    const bucket = new TokenBucket(1, 1, c.now);
    bucket.take();
    c.advance(-10_000);
    expect(bucket.take()).toBe(1000);
    c.advance(1000);
    expect(bucket.take()).toBe(0);
  });

  it('paces fractional rates (one every two seconds)', () => {
    const c = clock();
    const bucket = new TokenBucket(0.5, 1, c.now);
    expect(bucket.take()).toBe(0);
    expect(bucket.take()).toBe(2000);
  });

  it('refuses a rate or burst that cannot pace anything', () => {
    expect(() => new TokenBucket(0, 1)).toThrow(RangeError);
    expect(() => new TokenBucket(1, 0)).toThrow(RangeError);
  });
});
