/** A FIFO of at most `capacity` items; pushing into a full one drops the oldest. */
export class BoundedQueue<T> {
  // A ring, so that dropping the oldest of 10 000 alerts does not shift the other 9 999.
  private readonly items: (T | undefined)[];
  private head = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`capacity must be ≥ 1, got ${capacity}`);
    this.items = new Array<T | undefined>(capacity);
  }

  get length(): number {
    return this.size;
  }

  /** Returns true when the oldest item was dropped to make room. */
  push(item: T): boolean {
    const full = this.size === this.capacity;
    if (full) this.shift();
    this.items[(this.head + this.size) % this.capacity] = item;
    this.size += 1;
    return full;
  }

  shift(): T | undefined {
    if (this.size === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) % this.capacity;
    this.size -= 1;
    return item;
  }

  /** Empties the queue, oldest first. */
  drain(): T[] {
    const out: T[] = [];
    for (let item = this.shift(); item !== undefined; item = this.shift()) out.push(item);
    return out;
  }
}

/** The part of a grpc-js response stream a subscriber writes to. */
export interface ResponseWriter<T> {
  write(item: T): boolean;
  once(event: 'drain', listener: () => void): unknown;
}

export interface SubscriberHooks<T> {
  /** The oldest queued item was dropped because the client reads too slowly. */
  dropped(): void;
  /** An item was handed to the stream. */
  written(item: T): void;
}

/**
 * One `sub` client's queue in front of its stream. It writes as long as the stream accepts
 * (HTTP/2 flow control reaches back to `write()` returning false), then holds at most
 * `capacity` items until 'drain'; a client that keeps falling behind loses its oldest alerts
 * instead of growing Perch's memory, which is what Falco's unbounded queue did.
 */
export class SubscriberBuffer<T> {
  private readonly queue: BoundedQueue<T>;
  private started = false;
  private blocked = false;
  private closed = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly stream: ResponseWriter<T>,
    capacity: number,
    private readonly hooks: SubscriberHooks<T>,
  ) {
    this.queue = new BoundedQueue(capacity);
  }

  /** Queued, not yet handed to the stream. */
  get pending(): number {
    return this.queue.length;
  }

  /**
   * Falco writes nothing on `sub` until the client's first request; alerts that arrive before it
   * are held (falco-exporter sends that request only after 1 s without traffic).
   */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.pump();
  }

  offer(item: T): void {
    if (this.closed) return;
    if (this.queue.push(item)) this.hooks.dropped();
    this.pump();
  }

  /** Stops writing; returns how many queued items were never written. */
  close(): number {
    if (this.closed) return 0;
    this.closed = true;
    const left = this.queue.drain().length;
    this.settle();
    return left;
  }

  /** Resolves once nothing is queued that could be written (not started or closed counts as idle). */
  whenIdle(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private get idle(): boolean {
    return this.closed || !this.started || (this.queue.length === 0 && !this.blocked);
  }

  private pump(): void {
    while (this.started && !this.blocked && !this.closed) {
      const item = this.queue.shift();
      if (item === undefined) break;
      this.hooks.written(item);
      if (!this.stream.write(item)) {
        this.blocked = true;
        this.stream.once('drain', () => {
          this.blocked = false;
          this.pump();
        });
      }
    }
    this.settle();
  }

  private settle(): void {
    if (!this.idle || this.idleWaiters.length === 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
