import { type SchedulerAction, type SchedulerLike, Subscription } from 'rxjs';

/**
 * Runs work on the next turn of the event loop with setImmediate. RxJS's asyncScheduler with a
 * 0 ms delay uses setInterval, which Node clamps to 1 ms: a millisecond added to every alert's
 * latency. setImmediate runs right after pending I/O, so sources are still served between batches.
 */
export const immediateScheduler: SchedulerLike = {
  now: () => Date.now(),
  schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delay = 0, state?: T): Subscription {
    const subscription = new Subscription();
    const action = subscription as unknown as SchedulerAction<T>;
    // Rescheduling from inside the work (this.schedule) is what RxJS actions support; the intake
    // buffer does not need it, so it is refused rather than half-implemented.
    action.schedule = () => {
      throw new Error('immediateScheduler actions cannot reschedule themselves');
    };
    const run = () => {
      if (!subscription.closed) work.call(action, state);
    };
    if (delay > 0) {
      const timer = setTimeout(run, delay);
      subscription.add(() => clearTimeout(timer));
    } else {
      const immediate = setImmediate(run);
      subscription.add(() => clearImmediate(immediate));
    }
    return subscription;
  },
};
