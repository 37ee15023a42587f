import { VirtualTimeScheduler } from '../util/rx.js';

/**
 * A clock that is the alerts' own timestamps: `perch replay` advances it to each alert's time
 * before processing the alert, so windows, digests and incidents come out the same on every run,
 * in seconds, however long the recording is.
 */
export class EventTimeScheduler extends VirtualTimeScheduler {
  /** Runs every timer due up to `timeMs`, then sets the clock there; time never goes backwards. */
  advanceTo(timeMs: number): void {
    if (timeMs <= this.frame) return;
    this.maxFrames = timeMs;
    this.flush();
    this.frame = timeMs;
  }

  /** At the end of a replay: runs every remaining timer (open windows close, digests go out). */
  finish(): void {
    this.maxFrames = Number.POSITIVE_INFINITY;
    this.flush();
  }
}
