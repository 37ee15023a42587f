import type { FalcoEvent } from '../events/falco-event.js';
import type { Alert } from '../pipeline/alert.js';
import type { TakenIds } from './taken-ids.js';

/** What became of one forwarded alert: taken (the agent may forget it) or not (the agent sends it again). */
export type Settlement = 'taken' | 'not_taken';

interface Pending {
  readonly id: string;
  /** Delivering sinks that still hold the alert. */
  holds: number;
  /** The pipeline is done with it: routed to the sinks, folded into a window, silenced or dropped. */
  pipelineDone: boolean;
  /** A sink dropped it unsent (full queue, shutdown): it must not be acknowledged. */
  dropped: boolean;
  finished: boolean;
  readonly settled: Promise<Settlement>;
  resolve(settlement: Settlement): void;
}

export type Admission =
  | { kind: 'duplicate' }
  /** Sent again while the first copy is still on its way: it waits for the same outcome. */
  | { kind: 'joined'; settled: Promise<Settlement> }
  | { kind: 'new'; settled: Promise<Settlement> };

/**
 * The hub's acknowledgement: an alert is answered `taken` once the hub is done with it — handed to
 * every delivering sink its routes name and each of them has delivered it (or rejected it, given it
 * up, or spooled it), folded into an open digest window, silenced or dropped by the rules. Until
 * then the agent keeps it in its own spool. Its id then joins the taken ids, so that a copy sent
 * again is dropped; a copy that arrives while the first is pending waits for the first one's outcome
 * instead of being delivered twice.
 */
export class SettleLedger {
  private readonly pending = new Map<string, Pending>();
  private readonly byEvent = new WeakMap<FalcoEvent, Pending>();

  constructor(private readonly taken: TakenIds) {}

  /** Alerts in flight at the hub. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Call before the event enters the pipeline. */
  admit(id: string, event: FalcoEvent): Admission {
    if (this.taken.has(id)) return { kind: 'duplicate' };
    const existing = this.pending.get(id);
    if (existing) return { kind: 'joined', settled: existing.settled };
    let resolve: (settlement: Settlement) => void = () => undefined;
    const settled = new Promise<Settlement>((r) => {
      resolve = r;
    });
    const entry: Pending = {
      id,
      holds: 0,
      pipelineDone: false,
      dropped: false,
      finished: false,
      settled,
      resolve,
    };
    this.pending.set(id, entry);
    this.byEvent.set(event, entry);
    return { kind: 'new', settled };
  }

  /** The forwarded id of an event admitted here, for the alerts the hub makes of it. */
  idOf(event: FalcoEvent): string | undefined {
    return this.byEvent.get(event)?.id;
  }

  /** The pipeline's onSettled: the sinks take a routed alert in the same synchronous run, after this. */
  pipelineSettled(event: FalcoEvent): void {
    const entry = this.byEvent.get(event);
    if (!entry || entry.finished) return;
    entry.pipelineDone = true;
    queueMicrotask(() => this.check(entry));
  }

  /** The delivery engine's `track`: holds the alert's acknowledgement until this sink is done with it. */
  hold(alert: Alert): ((kept: boolean) => void) | undefined {
    if (alert.kind !== 'event') return undefined;
    const entry = this.byEvent.get(alert.event);
    if (!entry || entry.finished) return undefined;
    entry.holds += 1;
    let released = false;
    return (kept) => {
      if (released) return;
      released = true;
      entry.holds -= 1;
      if (!kept) entry.dropped = true;
      this.check(entry);
    };
  }

  /** Stepping down or shutting down: what is pending is answered `not_taken`, so the agents keep it. */
  abandonAll(): void {
    for (const entry of this.pending.values()) this.finish(entry, 'not_taken');
  }

  private check(entry: Pending): void {
    if (entry.finished || !entry.pipelineDone || entry.holds > 0) return;
    this.finish(entry, entry.dropped ? 'not_taken' : 'taken');
  }

  private finish(entry: Pending, settlement: Settlement): void {
    if (entry.finished) return;
    entry.finished = true;
    this.pending.delete(entry.id);
    if (settlement === 'taken') this.taken.add(entry.id);
    entry.resolve(settlement);
  }
}
