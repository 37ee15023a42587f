import { describe, expect, it } from '@jest/globals';
import { type Linked, LinkedList } from '../../src/util/linked-list.js';

interface Item extends Linked<Item> {
  name: string;
}

const item = (name: string): Item => ({ name });

/** The names front to back, and back to front reversed: both directions must agree. */
function names(list: LinkedList<Item>): string[] {
  const forward: string[] = [];
  for (let i = list.first; i; i = i.next) forward.push(i.name);
  const backward: string[] = [];
  for (let i = list.last; i; i = i.prev) backward.unshift(i.name);
  expect(backward).toEqual(forward);
  expect(list.size).toBe(forward.length);
  return forward;
}

describe('LinkedList', () => {
  it('appends, removes from anywhere and moves to the end, in both directions', () => {
    const list = new LinkedList<Item>();
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map(item) as [Item, Item, Item, Item];
    for (const i of [a, b, c, d]) list.append(i);
    expect(names(list)).toEqual(['a', 'b', 'c', 'd']);
    list.moveToEnd(b);
    expect(names(list)).toEqual(['a', 'c', 'd', 'b']);
    list.moveToEnd(b);
    expect(names(list)).toEqual(['a', 'c', 'd', 'b']);
    list.remove(a);
    list.remove(b);
    expect(names(list)).toEqual(['c', 'd']);
    expect(a.next).toBeUndefined();
    list.insertBefore(a, c);
    list.insertBefore(b, d);
    expect(names(list)).toEqual(['a', 'c', 'b', 'd']);
    list.remove(c);
    expect(names(list)).toEqual(['a', 'b', 'd']);
    list.clear();
    expect(names(list)).toEqual([]);
    list.append(c);
    expect(names(list)).toEqual(['c']);
  });
});
