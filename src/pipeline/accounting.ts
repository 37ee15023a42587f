/** Where an input event ended: exactly one of these, for every event Perch takes in. */
export type EventOutcome = 'routed' | 'digested' | 'silenced' | 'dropped' | 'shed';

export const EVENT_OUTCOMES: readonly EventOutcome[] = ['routed', 'digested', 'silenced', 'dropped', 'shed'];

/** Counts of outcomes, for metrics and `perch replay`'s summary. */
export class Accounting {
  readonly counts: Record<EventOutcome, number> = {
    routed: 0,
    digested: 0,
    silenced: 0,
    dropped: 0,
    shed: 0,
  };

  constructor(private readonly onRecord: (outcome: EventOutcome, detail?: string) => void = () => {}) {}

  record(outcome: EventOutcome, detail?: string): void {
    this.counts[outcome] += 1;
    this.onRecord(outcome, detail);
  }

  get total(): number {
    return EVENT_OUTCOMES.reduce((sum, o) => sum + this.counts[o], 0);
  }
}
