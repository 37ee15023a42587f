import type { RenderedRequest } from './destination.js';

export interface QueuedEntry {
  readonly seq: number;
  readonly priority: number;
  /** When the alert was first queued (for a spooled one: first written, possibly before a restart). */
  readonly queuedAtMs: number;
  /** Set for a spooled entry: its payload lives on disk and is read when it reaches the head. */
  spoolId?: number;
  /** Always set for an in-memory entry; for a spooled one, once read at the head. */
  request?: RenderedRequest;
  /** Failed attempts so far. */
  attempts: number;
  /** No attempt before this (backoff, or the delay the service asked for). */
  notBeforeMs: number;
  lastFailure?: string;
  /** Its request is in flight: never dropped to make room, never sent twice at once. */
  sending?: boolean;
}

/**
 * One sink's queue, in the order alerts were accepted (sent oldest first; see DeliverySink). Spooled entries
 * are light references to the spool; in-memory entries hold their request and are bounded by
 * `capacity`: beyond it the oldest entry of the lowest priority present is dropped.
 */
export class DeliveryQueue {
  private order = new Map<number, QueuedEntry>();
  /** In-memory entries by priority, each in arrival order, to find the one to drop in O(1). */
  private readonly byPriority = new Map<number, Map<number, QueuedEntry>>();
  private readonly bySpoolId = new Map<number, QueuedEntry>();
  private memoryCount = 0;
  private seq = 0;

  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.order.size;
  }

  /** Entries that live only in memory (lost on a crash). */
  get inMemory(): number {
    return this.memoryCount;
  }

  nextSeq(): number {
    this.seq += 1;
    return this.seq;
  }

  head(): QueuedEntry | undefined {
    return this.order.values().next().value;
  }

  hasSpoolId(id: number): boolean {
    return this.bySpoolId.has(id);
  }

  spooled(id: number): QueuedEntry | undefined {
    return this.bySpoolId.get(id);
  }

  /** Entries not in flight, oldest first. */
  *waiting(): Generator<QueuedEntry> {
    for (const entry of this.order.values()) if (!entry.sending) yield entry;
  }

  /**
   * Appends an entry; returns the in-memory entry dropped to make room (maybe this one), never
   * `keep` nor one in flight (`sending`), and never a spooled one.
   */
  push(entry: QueuedEntry, keep?: QueuedEntry): QueuedEntry | undefined {
    this.index(entry);
    this.order.set(entry.seq, entry);
    if (this.memoryCount <= this.capacity) return undefined;
    const victim = this.lowestOldest(keep);
    if (victim) this.remove(victim);
    return victim;
  }

  /** Puts entries (spooled ones found at start) before everything queued so far: they are older. */
  prepend(entries: readonly QueuedEntry[]): void {
    if (entries.length === 0) return;
    const order = new Map<number, QueuedEntry>();
    for (const entry of entries) {
      this.index(entry);
      order.set(entry.seq, entry);
    }
    for (const [seq, entry] of this.order) order.set(seq, entry);
    this.order = order;
  }

  remove(entry: QueuedEntry): boolean {
    if (!this.order.delete(entry.seq)) return false;
    if (entry.spoolId !== undefined) this.bySpoolId.delete(entry.spoolId);
    else {
      this.byPriority.get(entry.priority)?.delete(entry.seq);
      this.memoryCount -= 1;
    }
    return true;
  }

  removeSpooled(spoolId: number): QueuedEntry | undefined {
    const entry = this.bySpoolId.get(spoolId);
    if (entry) this.remove(entry);
    return entry;
  }

  /**
   * A spooled entry whose write never reached the disk becomes an in-memory one, where it stands
   * in the order (it must still hold its request). False when it is no longer queued.
   */
  unspool(entry: QueuedEntry): boolean {
    if (entry.spoolId === undefined || this.bySpoolId.get(entry.spoolId) !== entry) return false;
    this.bySpoolId.delete(entry.spoolId);
    entry.spoolId = undefined;
    this.index(entry);
    return true;
  }

  /** Takes every in-memory entry out (at shutdown: they cannot outlive the process). */
  drainMemory(): QueuedEntry[] {
    const drained = [...this.order.values()].filter((e) => e.spoolId === undefined);
    for (const entry of drained) this.remove(entry);
    return drained;
  }

  clear(): void {
    this.order.clear();
    this.byPriority.clear();
    this.bySpoolId.clear();
    this.memoryCount = 0;
  }

  private index(entry: QueuedEntry): void {
    if (entry.spoolId !== undefined) {
      this.bySpoolId.set(entry.spoolId, entry);
      return;
    }
    let bucket = this.byPriority.get(entry.priority);
    if (!bucket) {
      bucket = new Map();
      this.byPriority.set(entry.priority, bucket);
    }
    bucket.set(entry.seq, entry);
    this.memoryCount += 1;
  }

  private lowestOldest(keep?: QueuedEntry): QueuedEntry | undefined {
    const priorities = [...this.byPriority.keys()].sort((a, b) => a - b);
    for (const priority of priorities) {
      for (const entry of this.byPriority.get(priority)?.values() ?? []) {
        if (entry !== keep && !entry.sending) return entry;
      }
    }
    return undefined;
  }
}
