import type { IntakeRoom } from '../sources/source.js';

/**
 * The room left in the intake buffer, measured as the events taken in that have no outcome yet
 * (they wait in the buffer or for their pod), against `pipeline.bufferSize`. A batch is held while
 * the buffer is more than half full, so that the batch let in lands whole, without pushing out
 * alerts already waiting (a batch of up to half the buffer always fits). Held senders wait in line,
 * and one is let go each time an event leaves while the buffer is at most half full, so a burst of
 * held batches does not land at once.
 */
export class IntakeLevel implements IntakeRoom {
  private readonly waiting: (() => void)[] = [];
  private readonly halfFull: number;

  constructor(
    capacity: number,
    /** Events taken in and not yet settled. */
    private readonly held: () => number,
  ) {
    this.halfFull = Math.floor(capacity / 2);
  }

  whenRoom(go: () => void): (() => void) | undefined {
    if (this.waiting.length === 0 && this.held() <= this.halfFull) return undefined;
    this.waiting.push(go);
    // A sender that stops waiting (its longest hold ran out) leaves the line, so the next release
    // goes to a sender still waiting rather than to nobody.
    return () => {
      const at = this.waiting.indexOf(go);
      if (at !== -1) this.waiting.splice(at, 1);
    };
  }

  /** An event left the pipeline (any outcome): the first sender in line may go if there is room. */
  left(): void {
    if (this.waiting.length > 0 && this.held() <= this.halfFull) this.waiting.shift()?.();
  }
}
