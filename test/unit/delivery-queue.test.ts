import { describe, expect, it } from '@jest/globals';
import { DeliveryQueue, type QueuedEntry } from '../../src/delivery/delivery-queue.js';

function entry(queue: DeliveryQueue, priority: number, spoolId?: number): QueuedEntry {
  const base = { seq: queue.nextSeq(), priority, queuedAtMs: 0, attempts: 0, notBeforeMs: 0 };
  return spoolId === undefined
    ? { ...base, request: { url: 'http://x', body: `${priority}`, headers: {} } }
    : { ...base, spoolId };
}

const seqs = (queue: DeliveryQueue) => {
  const out: number[] = [];
  for (let e = queue.head(); e; e = queue.head()) {
    out.push(e.seq);
    queue.remove(e);
  }
  return out;
};

describe('DeliveryQueue', () => {
  it('when full drops the oldest in-memory entry of the lowest priority, never a spooled one or the one in flight', () => {
    const q = new DeliveryQueue(3);
    const low1 = entry(q, 1);
    const high = entry(q, 5);
    const low2 = entry(q, 1);
    const spooled = entry(q, 0, 42);
    for (const e of [low1, high, low2, spooled]) expect(q.push(e)).toBeUndefined();
    // low1 is being sent: the next oldest of the lowest priority goes.
    expect(q.push(entry(q, 3), low1)).toBe(low2);
    expect(q.push(entry(q, 4))).toBe(low1);
    expect(q.inMemory).toBe(3);
    expect(q.size).toBe(4);
    expect(q.hasSpoolId(42)).toBe(true);
  });

  it('drops the newcomer when it is the only one of the lowest priority', () => {
    const q = new DeliveryQueue(1);
    q.push(entry(q, 5));
    const debug = entry(q, 0);
    expect(q.push(debug)).toBe(debug);
  });

  it('prepends spooled entries found at start, and drains only in-memory ones at shutdown', () => {
    const q = new DeliveryQueue(10);
    const live = entry(q, 3);
    q.push(live);
    const old1 = entry(q, 3, 1);
    const old2 = entry(q, 3, 2);
    q.prepend([old1, old2]);
    expect(q.head()).toBe(old1);
    expect(q.drainMemory()).toEqual([live]);
    expect(seqs(q)).toEqual([old1.seq, old2.seq]);
  });
});
