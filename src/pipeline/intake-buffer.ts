import { Priority } from '../events/priority.js';
import { ImmediateTurn, type NextTurn, SchedulerTurn } from '../util/next-turn.js';
import { Observable, type OperatorFunction, type SchedulerLike } from '../util/rx.js';

export interface IntakeOptions<T> {
  /** Events held between the sources and the pipeline before shedding starts. */
  capacity: number;
  /** Events at or above this priority are never shed to make room (default Critical)… */
  protectFrom?: Priority;
  /** …until the buffer holds this many in all (default 2 × capacity): memory stays bounded regardless. */
  hardLimit?: number;
  /** Events handed on per turn of the event loop, so that sources keep being served during a storm. */
  batchSize?: number;
  /** What runs the next batch (default: setImmediate, see next-turn.ts). */
  scheduler?: SchedulerLike;
  /** The priority of an event as it travels (an event, or an event with what goes along with it). */
  priorityOf: (item: T) => Priority;
  onShed: (item: T, reason: 'lower_priority_evicted' | 'buffer_full' | 'hard_limit') => void;
}

interface Entry<T> {
  item: T;
  priority: Priority;
  shed: boolean;
}

/**
 * A FIFO with a cursor instead of shift(), which is O(n) on large arrays. Emptied, it starts again
 * from the front of the same array: setting the length to 0 made V8 drop the backing store, and every
 * turn of the loop then grew a new one for its few alerts.
 */
class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;
  private tail = 0;

  push(item: T): void {
    if (this.tail < this.items.length) this.items[this.tail] = item;
    else this.items.push(item);
    this.tail += 1;
  }

  shift(): T | undefined {
    if (this.head >= this.tail) return undefined;
    const item = this.items[this.head];
    // Let go of it now: a slot kept until the next compaction held ~1,000 handled events alive
    // through garbage collections, which then had to copy and promote them.
    this.items[this.head] = undefined;
    this.head += 1;
    if (this.head === this.tail) {
      this.head = 0;
      this.tail = 0;
      // After a storm: the slots it needed are not kept for ever.
      if (this.items.length > MAX_KEPT_SLOTS) this.items = [];
    } else if (this.head > 1024 && this.head * 2 > this.tail) {
      this.items = this.items.slice(this.head, this.tail);
      this.tail -= this.head;
      this.head = 0;
    }
    return item;
  }

  get size(): number {
    return this.tail - this.head;
  }
}

/** Slots an emptied FIFO keeps for the next alerts: a busy turn's worth. */
const MAX_KEPT_SLOTS = 1024;

/**
 * The bounded buffer between the sources and the pipeline. Sources push as fast as Falco sends;
 * the pipeline takes events in arrival order in batches. When the buffer is full, the oldest event
 * of the lowest priority present makes room for a more important one; Critical and above are kept
 * even past the capacity, up to a hard limit. Every shed event is reported with its reason.
 */
export function intakeBuffer<T>(options: IntakeOptions<T>): OperatorFunction<T, T> {
  const protectFrom = options.protectFrom ?? Priority.Critical;
  const hardLimit = options.hardLimit ?? options.capacity * 2;
  const batchSize = options.batchSize ?? 500;
  return (source) =>
    new Observable<T>((subscriber) => {
      const queue = new Fifo<Entry<T>>();
      const byPriority = Array.from({ length: 8 }, () => new Fifo<Entry<T>>());
      let live = 0;
      let sourceDone = false;

      const drain = () => {
        let handed = 0;
        while (handed < batchSize && !subscriber.closed) {
          const entry = queue.shift();
          if (!entry) break;
          if (entry.shed) continue;
          // Arrival order within one priority is the global order, so this entry heads its bucket.
          byPriority[entry.priority]?.shift();
          live -= 1;
          handed += 1;
          subscriber.next(entry.item);
        }
        // A subscriber that left during the batch wants no more turns (asking again would spin forever).
        if (subscriber.closed) return;
        if (queue.size > 0) nextTurn.request();
        else if (sourceDone) subscriber.complete();
      };
      const nextTurn: NextTurn = options.scheduler
        ? new SchedulerTurn(options.scheduler, drain)
        : new ImmediateTurn(drain);

      const evictBelow = (priority: Priority): boolean => {
        for (let p = Priority.Debug; p < priority && p < protectFrom; p++) {
          const bucket = byPriority[p];
          const victim = bucket?.shift();
          if (victim) {
            victim.shed = true;
            live -= 1;
            options.onShed(victim.item, 'lower_priority_evicted');
            return true;
          }
        }
        return false;
      };

      const subscription = source.subscribe({
        next: (item) => {
          const priority = options.priorityOf(item);
          if (live >= options.capacity && !evictBelow(priority)) {
            const protectedEvent = priority >= protectFrom && live < hardLimit;
            if (!protectedEvent) {
              options.onShed(item, priority >= protectFrom ? 'hard_limit' : 'buffer_full');
              return;
            }
          }
          const entry: Entry<T> = { item, priority, shed: false };
          queue.push(entry);
          byPriority[priority]?.push(entry);
          live += 1;
          nextTurn.request();
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => {
          sourceDone = true;
          nextTurn.request();
        },
      });
      return () => {
        subscription.unsubscribe();
        nextTurn.cancel();
      };
    });
}
