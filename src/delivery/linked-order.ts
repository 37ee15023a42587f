interface Link<T> {
  item: T;
  prev?: Link<T>;
  next?: Link<T>;
}

/**
 * Items in order with O(1) append, prepend-all, removal anywhere and a first item. A Map would do
 * the same on paper, but V8 leaves a hole for each deleted key until it rehashes, so reading the
 * first entry of a long queue drained from the front walks every hole left so far.
 */
export class LinkedOrder<T> {
  private readonly links = new Map<T, Link<T>>();
  private head?: Link<T>;
  private tail?: Link<T>;

  get size(): number {
    return this.links.size;
  }

  get first(): T | undefined {
    return this.head?.item;
  }

  has(item: T): boolean {
    return this.links.has(item);
  }

  append(item: T): void {
    if (this.links.has(item)) return;
    const link: Link<T> = { item, prev: this.tail };
    if (this.tail) this.tail.next = link;
    else this.head = link;
    this.tail = link;
    this.links.set(item, link);
  }

  /** Puts `items`, in their order, before everything held so far. */
  prependAll(items: readonly T[]): void {
    for (let i = items.length - 1; i >= 0; i--) {
      const item = items[i] as T;
      if (this.links.has(item)) continue;
      const link: Link<T> = { item, next: this.head };
      if (this.head) this.head.prev = link;
      else this.tail = link;
      this.head = link;
      this.links.set(item, link);
    }
  }

  remove(item: T): boolean {
    const link = this.links.get(item);
    if (!link) return false;
    this.links.delete(item);
    if (link.prev) link.prev.next = link.next;
    else this.head = link.next;
    if (link.next) link.next.prev = link.prev;
    else this.tail = link.prev;
    return true;
  }

  clear(): void {
    this.links.clear();
    this.head = undefined;
    this.tail = undefined;
  }

  *[Symbol.iterator](): Generator<T> {
    for (let link = this.head; link; link = link.next) yield link.item;
  }

  /** The first item that passes `test`, without a generator's cost (the delivery loop asks often). */
  find(test: (item: T) => boolean): T | undefined {
    for (let link = this.head; link; link = link.next) if (test(link.item)) return link.item;
    return undefined;
  }

  /** Up to `max` items that pass `test`, in order. */
  filter(test: (item: T) => boolean, max: number): T[] {
    const found: T[] = [];
    for (let link = this.head; link && found.length < max; link = link.next) {
      if (test(link.item)) found.push(link.item);
    }
    return found;
  }
}
