/**
 * The ids of alerts the hub has taken, to drop one an agent sends again. Bounded twice: an id is
 * forgotten after `retentionMs`, and beyond `capacity` the oldest is forgotten early (`onEvict`).
 * Forgetting only risks a duplicate message, never a lost alert.
 */
export class TakenIds {
  /** Insertion order is expiry order: every id gets the same retention. */
  private readonly expiries = new Map<string, number>();

  constructor(
    private readonly capacity: number,
    private readonly retentionMs: number,
    private readonly now: () => number = Date.now,
    private readonly onEvict: (count: number) => void = () => undefined,
  ) {}

  get size(): number {
    return this.expiries.size;
  }

  has(id: string): boolean {
    const expiry = this.expiries.get(id);
    return expiry !== undefined && expiry > this.now();
  }

  add(id: string): void {
    const now = this.now();
    this.forgetExpired(now);
    this.expiries.delete(id);
    this.expiries.set(id, now + this.retentionMs);
    let evicted = 0;
    for (const oldest of this.expiries.keys()) {
      if (this.expiries.size <= this.capacity) break;
      this.expiries.delete(oldest);
      evicted += 1;
    }
    if (evicted > 0) this.onEvict(evicted);
  }

  private forgetExpired(now: number): void {
    for (const [id, expiry] of this.expiries) {
      if (expiry > now) return;
      this.expiries.delete(id);
    }
  }
}
