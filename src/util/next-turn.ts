import type { SchedulerLike, Subscription } from './rx.js';

/** One function run on a later turn of the event loop when asked, at most once per turn, and called off at will. */
export interface NextTurn {
  /** Has the function run on a later turn; asking again before it has run changes nothing. */
  request(): void;
  /** The pending run, if any, does not happen. */
  cancel(): void;
}

/**
 * By setImmediate. RxJS's asyncScheduler with a 0 ms delay uses setInterval, which Node clamps to
 * 1 ms: a millisecond added to every alert's latency. setImmediate runs right after pending I/O,
 * so sources are still served between batches. When alerts arrive one per turn (an HTTP sender
 * posting serially) a request is made per alert, so it allocates nothing of its own: no
 * Subscription or closures per request as an RxJS scheduler action would, only Node's Immediate.
 */
export class ImmediateTurn implements NextTurn {
  private pending: NodeJS.Immediate | undefined;
  private readonly fire = () => {
    this.pending = undefined;
    this.run();
  };

  constructor(private readonly run: () => void) {}

  request(): void {
    this.pending ??= setImmediate(this.fire);
  }

  cancel(): void {
    if (this.pending) clearImmediate(this.pending);
    this.pending = undefined;
  }
}

/** By an RxJS scheduler, such as the virtual time of tests. */
export class SchedulerTurn implements NextTurn {
  private pending: Subscription | undefined;
  private readonly fire = () => {
    this.pending = undefined;
    this.run();
  };

  constructor(
    private readonly scheduler: SchedulerLike,
    private readonly run: () => void,
  ) {}

  request(): void {
    this.pending ??= this.scheduler.schedule(this.fire);
  }

  cancel(): void {
    this.pending?.unsubscribe();
    this.pending = undefined;
  }
}
