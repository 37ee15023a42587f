/** An object that can stand in a LinkedList: its neighbours are kept on it. */
export interface Linked<T> {
  prev?: T | undefined;
  next?: T | undefined;
}

/**
 * Objects in an order of the caller's choosing, with O(1) append, removal and moves to the end, and
 * no allocation for any of them: the links live on the objects, so an object stands in one list at
 * most. Why not a Map's insertion order: moving an entry to the end is a delete and a set, and V8
 * leaves a hole for each deleted key until it rehashes the whole table, which a Map moved for every
 * alert did every few thousand alerts.
 */
export class LinkedList<T extends Linked<T>> {
  first: T | undefined;
  last: T | undefined;
  size = 0;

  append(item: T): void {
    this.link(item, this.last, undefined);
  }

  /** Puts `item` (not in the list) right before `before` (in it). */
  insertBefore(item: T, before: T): void {
    this.link(item, before.prev, before);
  }

  /** Takes out `item`, which must be in this list. */
  remove(item: T): void {
    if (item.prev) item.prev.next = item.next;
    else this.first = item.next;
    if (item.next) item.next.prev = item.prev;
    else this.last = item.prev;
    item.prev = undefined;
    item.next = undefined;
    this.size -= 1;
  }

  /** Moves `item`, which must be in this list, to the end. */
  moveToEnd(item: T): void {
    if (this.last === item) return;
    this.remove(item);
    this.append(item);
  }

  /** Puts `item` between neighbours `prev` and `next` (undefined: the list's ends). */
  private link(item: T, prev: T | undefined, next: T | undefined): void {
    item.prev = prev;
    item.next = next;
    if (prev) prev.next = item;
    else this.first = item;
    if (next) next.prev = item;
    else this.last = item;
    this.size += 1;
  }

  /** Forgets every item; they are to be dropped with it. */
  clear(): void {
    this.first = undefined;
    this.last = undefined;
    this.size = 0;
  }
}
