import type { FalcoEvent } from '../events/falco-event.js';
import type { Enrichment } from '../kube/pod-context.js';
import {
  asyncScheduler,
  Observable,
  type OperatorFunction,
  type SchedulerLike,
  type Subscription,
} from '../util/rx.js';

/** A Falco event with what the cluster knows about where it happened. */
export interface EnrichedEvent {
  event: FalcoEvent;
  enrichment: Enrichment;
}

export interface Resolver {
  /** The enrichment, or undefined while the alert names a pod the cache does not know yet. */
  resolve(event: FalcoEvent): Enrichment | undefined;
  /** Ticks when the cache changed, so waiting alerts are tried again at once. */
  readonly changes$: Observable<void>;
}

export interface EnrichOptions {
  /** How long an alert may wait for its pod to appear; 0 = never wait. */
  pendingTimeoutMs: number;
  /** At most this many alerts wait; beyond it they go out unresolved at once. */
  maxPending: number;
  scheduler?: SchedulerLike;
  /** Called once per event with its final outcome, plus `pending_full` when the buffer overflowed. */
  onOutcome?: (outcome: string) => void;
}

interface Waiting<T> {
  item: T;
  deadline: number;
}

/**
 * What travels through enrichment and what comes out: an event, or an event with what goes along
 * with it (its receipt time), and what to make of it once its enrichment is known.
 */
export interface EnrichShape<T, R> {
  eventOf: (item: T) => FalcoEvent;
  enriched: (item: T, enrichment: Enrichment) => R;
}

const EVENTS: EnrichShape<FalcoEvent, EnrichedEvent> = {
  eventOf: (event) => event,
  enriched: (event, enrichment) => ({ event, enrichment }),
};

/**
 * FalcoEvent → EnrichedEvent. Falco sees a container's first syscalls before the pod watch
 * reports the pod, so an alert whose pod is unknown waits in a bounded buffer until the cache
 * learns of it (`late`) or its time runs out (`unresolved`). Other alerts pass straight through:
 * a waiting alert never holds up the stream.
 */
export function enrich(
  resolver: Resolver,
  options: EnrichOptions,
): OperatorFunction<FalcoEvent, EnrichedEvent>;
/** The same for items that carry an event, each made into what `shape.enriched` makes of it. */
export function enrich<T, R>(
  resolver: Resolver,
  options: EnrichOptions,
  shape: EnrichShape<T, R>,
): OperatorFunction<T, R>;
export function enrich<T, R>(
  resolver: Resolver,
  options: EnrichOptions,
  // Only the first overload leaves the shape out, and there T and R are FalcoEvent and EnrichedEvent.
  shape: EnrichShape<T, R> = EVENTS as unknown as EnrichShape<T, R>,
): OperatorFunction<T, R> {
  const scheduler = options.scheduler ?? asyncScheduler;
  const { eventOf, enriched } = shape;
  return (source) =>
    new Observable<R>((subscriber) => {
      let waiting: Waiting<T>[] = [];
      let timer: Subscription | undefined;

      const emit = (item: T, enrichment: Enrichment) => {
        options.onOutcome?.(enrichment.outcome);
        subscriber.next(enriched(item, enrichment));
      };
      const reschedule = () => {
        timer?.unsubscribe();
        timer = undefined;
        // An emission can make the downstream unsubscribe; no timer may outlive the subscription.
        if (subscriber.closed) return;
        const first = waiting[0];
        if (first) timer = scheduler.schedule(expire, Math.max(0, first.deadline - scheduler.now()));
      };
      // Alerts wait in arrival order and share one timeout, so deadlines are ascending.
      const expire = () => {
        const now = scheduler.now();
        while (!subscriber.closed && waiting[0] && waiting[0].deadline <= now) {
          const next = waiting.shift();
          if (next) emit(next.item, { outcome: 'unresolved' });
        }
        reschedule();
      };
      const retry = () => {
        if (waiting.length === 0) return;
        const still: Waiting<T>[] = [];
        const found: [T, Enrichment][] = [];
        for (const wait of waiting) {
          const enrichment = resolver.resolve(eventOf(wait.item));
          if (enrichment) found.push([wait.item, { ...enrichment, outcome: 'late' }]);
          else still.push(wait);
        }
        if (found.length === 0) return;
        // Settle the buffer before emitting: a downstream that makes the cache tick re-enters here.
        waiting = still;
        reschedule();
        for (const [item, enrichment] of found) {
          if (subscriber.closed) return;
          emit(item, enrichment);
        }
      };
      const flushUnresolved = () => {
        const rest = waiting;
        waiting = [];
        timer?.unsubscribe();
        for (const wait of rest) emit(wait.item, { outcome: 'unresolved' });
      };

      const changes = resolver.changes$.subscribe(retry);
      const main = source.subscribe({
        next: (item) => {
          const found = resolver.resolve(eventOf(item));
          if (found) return emit(item, found);
          if (options.pendingTimeoutMs <= 0) return emit(item, { outcome: 'unresolved' });
          if (waiting.length >= options.maxPending) {
            options.onOutcome?.('pending_full');
            return emit(item, { outcome: 'unresolved' });
          }
          waiting.push({ item, deadline: scheduler.now() + options.pendingTimeoutMs });
          if (waiting.length === 1) reschedule();
        },
        error: (err: unknown) => {
          // Alerts already taken in are not lost with the stream: they go out unenriched first.
          flushUnresolved();
          subscriber.error(err);
        },
        complete: () => {
          // On shutdown nothing more will arrive from the cluster worth waiting for: last try, then out.
          retry();
          flushUnresolved();
          subscriber.complete();
        },
      });
      return () => {
        main.unsubscribe();
        changes.unsubscribe();
        timer?.unsubscribe();
      };
    });
}
