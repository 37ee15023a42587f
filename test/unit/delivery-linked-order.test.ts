import { describe, expect, it } from '@jest/globals';
import { LinkedOrder } from '../../src/delivery/linked-order.js';

describe('LinkedOrder (the delivery queue order)', () => {
  it('keeps items in order through appends, removals anywhere and a prepend', () => {
    const order = new LinkedOrder<string>();
    for (const item of ['c', 'd', 'e', 'f']) order.append(item);
    expect(order.remove('c')).toBe(true);
    expect(order.remove('e')).toBe(true);
    expect(order.remove('e')).toBe(false);
    order.prependAll(['a', 'b']);
    order.append('g');
    expect([...order]).toEqual(['a', 'b', 'd', 'f', 'g']);
    expect(order.first).toBe('a');
    expect(order.size).toBe(5);
    expect(order.remove('g')).toBe(true);
    order.append('h');
    expect([...order]).toEqual(['a', 'b', 'd', 'f', 'h']);
  });

  it('finds the first items that pass a test, at most as many as asked', () => {
    const order = new LinkedOrder<number>();
    for (let i = 1; i <= 10; i++) order.append(i);
    expect(order.find((n) => n > 3)).toBe(4);
    expect(order.find((n) => n > 10)).toBeUndefined();
    expect(order.filter((n) => n % 2 === 0, 3)).toEqual([2, 4, 6]);
  });

  it('keeps the first item right while a long queue is drained from the front', () => {
    const order = new LinkedOrder<number>();
    for (let i = 0; i < 50_000; i++) order.append(i);
    for (let i = 0; i < 49_999; i++) {
      expect(order.first).toBe(i);
      order.remove(i);
    }
    expect([...order]).toEqual([49_999]);
    order.remove(49_999);
    expect(order.first).toBeUndefined();
    order.append(1);
    expect([...order]).toEqual([1]);
  });
});
