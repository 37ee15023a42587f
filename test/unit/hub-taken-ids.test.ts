import { describe, expect, it } from '@jest/globals';
import { TakenIds } from '../../src/hub/taken-ids.js';

describe('hub taken ids', () => {
  it('remembers an id for its retention, then forgets it', () => {
    let now = 1000;
    const ids = new TakenIds(10, 5000, () => now);
    ids.add('a');
    expect(ids.has('a')).toBe(true);
    expect(ids.has('b')).toBe(false);
    now += 4999;
    expect(ids.has('a')).toBe(true);
    now += 1;
    expect(ids.has('a')).toBe(false);
    ids.add('b');
    expect(ids.size).toBe(1);
  });

  it('holds at most its capacity, forgetting the oldest first and counting them', () => {
    let evicted = 0;
    const ids = new TakenIds(
      3,
      60_000,
      () => 0,
      (n) => {
        evicted += n;
      },
    );
    for (const id of ['a', 'b', 'c', 'd', 'e']) ids.add(id);
    expect(ids.size).toBe(3);
    expect(evicted).toBe(2);
    expect(['a', 'b', 'c', 'd', 'e'].map((id) => ids.has(id))).toEqual([false, false, true, true, true]);
  });
});
