import type { FalcoEvent } from '../events/falco-event.js';
import type { Observable } from '../util/rx.js';

export interface SourceStatus {
  up: boolean;
  /** Why the source is not up, for /readyz and logs. */
  detail?: string;
}

/**
 * What an input that acknowledges (an HTTP answer, a saved file position) waits for first, so
 * that "accepted" means durable for the alerts that must survive a crash (the intake journal).
 */
export interface Durability {
  /** Events the input has just handed on (call after pushing them, so the pipeline's turn comes first). */
  admit(events: readonly FalcoEvent[]): void;
  /** Resolves once every alert taken in so far is on disk (or known not to be: the spool is down). */
  committed(): Promise<void>;
  /** The same, now and synchronously. */
  commitNow(): void;
}

/**
 * How full the intake buffer is, for an input whose sender can be made to wait: holding a batch back
 * until there is room slows the sender down instead of having its alerts shed.
 */
export interface IntakeRoom {
  /**
   * Undefined while the buffer has room (`go` is not called); otherwise `go` is queued to run once
   * it has, and the answer takes it out of the line again (a sender that stopped waiting).
   */
  whenRoom(go: () => void): (() => void) | undefined;
}

/** An input of Falco alerts. Every source produces the same normalised FalcoEvent. */
export interface Source {
  /** Component id in metrics and logs, e.g. `http`, `file:/var/log/falco.json`, `stdin`. */
  readonly id: string;
  /** Completes after stop() once every alert already taken in has been emitted. */
  readonly events$: Observable<FalcoEvent>;
  start(): Promise<void>;
  /** Stops taking in alerts; resolves once events$ has completed. */
  stop(): Promise<void>;
  status(): SourceStatus;
  /** For inputs that acknowledge: what to wait for before they do. */
  useDurability?(durability: Durability): void;
  /** For inputs that can hold a sender back: how full the intake buffer is. */
  useIntakeRoom?(room: IntakeRoom): void;
}
