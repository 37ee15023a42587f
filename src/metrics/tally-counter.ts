import { Counter, type CounterConfiguration } from 'prom-client';
import { foldLabels } from './series-cap.js';

/** The running count of one series since prom-client last collected. */
export interface Tally {
  pending: number;
}

interface Series<L extends string> extends Tally {
  labels: Record<L, string>;
}

export interface TallyCap<L extends string> {
  maxSeries: number;
  /** Labels kept as they are when the cap folds a series (few values: priority, source). */
  keep: ReadonlySet<L>;
  onOverflow: () => void;
}

/**
 * A prom-client Counter for counts taken on every event. prom-client builds a hash string from the
 * label object on every `inc`; at tens of thousands of events a second that showed up in profiles.
 * Here a count costs one Map lookup by a key the caller joins from the label values (or nothing,
 * through a `Tally` held by the caller), and the sums are handed to prom-client when it collects
 * (every scrape, every `get()`), so a scrape never misses a count. With a cap, only series admitted
 * by it are remembered: a label storm folds into `_overflow` without growing the table.
 */
export class TallyCounter<L extends string> {
  readonly counter: Counter<L>;
  private readonly series = new Map<string, Series<L>>();

  constructor(
    config: Omit<CounterConfiguration<L>, 'collect'>,
    private readonly cap?: TallyCap<L>,
  ) {
    const series = this.series;
    this.counter = new Counter<L>({
      ...config,
      collect() {
        for (const s of series.values()) {
          if (s.pending === 0) continue;
          this.inc(s.labels, s.pending);
          s.pending = 0;
        }
      },
    });
  }

  /** Counts `n` for the series `key` (its label values joined); false when the key is new here. */
  incKnown(key: string, n = 1): boolean {
    const series = this.series.get(key);
    if (!series) return false;
    series.pending += n;
    return true;
  }

  /** The series `key` once it is counted here (not folded into the overflow), for a caller to count into. */
  known(key: string): Tally | undefined {
    return this.series.get(key);
  }

  /** Counts `n` for a key `incKnown` did not know, with its labels by name. */
  incNew(key: string, values: Record<L, string>, n = 1): void {
    // The table holds exactly the admitted series, so its size is what the cap limits.
    if (this.cap && this.series.size >= this.cap.maxSeries) {
      this.cap.onOverflow();
      // Folded into the overflow series, counted at once and not remembered: the table stays capped.
      this.counter.inc(foldLabels(values, this.cap.keep), n);
      return;
    }
    // The first count goes straight in, so even a count of zero makes the series visible at once.
    this.counter.inc(values, n);
    this.series.set(key, { labels: values, pending: 0 });
  }

  /** A series of labels Perch chooses (never capped), for a caller that counts into it directly. */
  tally(key: string, values: Record<L, string>): Tally {
    let series = this.series.get(key);
    if (!series) {
      series = { labels: values, pending: 0 };
      this.series.set(key, series);
      // Present (at zero) from the start instead of absent until the first count.
      this.counter.inc(values, 0);
    }
    return series;
  }
}
