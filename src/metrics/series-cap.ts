/** The value every capped label takes once a metric has reached its series limit. */
export const OVERFLOW_VALUE = '_overflow';

/**
 * Keeps the number of label combinations of one metric under a limit. Past it, a new combination
 * is folded into one overflow series (its capped labels set to `_overflow`), so a pod-name storm
 * or a thousand namespaces cannot grow memory and scrape size without bound; the fold is counted.
 */
export class SeriesCap<L extends string> {
  private readonly seen = new Set<string>();

  constructor(
    private readonly maxSeries: number,
    /** Labels that are always kept as they are (few values: priority, source). */
    private readonly keep: ReadonlySet<L>,
    private readonly onOverflow: () => void,
  ) {}

  labels(values: Record<L, string>): Record<L, string> {
    const key = Object.values(values).join('\u0000');
    if (this.seen.has(key)) return values;
    if (this.seen.size < this.maxSeries) {
      this.seen.add(key);
      return values;
    }
    this.onOverflow();
    return foldLabels(values, this.keep);
  }

  get size(): number {
    return this.seen.size;
  }
}

/** The overflow series a new combination is folded into: every label but those in `keep` set to `_overflow`. */
export function foldLabels<L extends string>(
  values: Record<L, string>,
  keep: ReadonlySet<L>,
): Record<L, string> {
  const folded = { ...values };
  for (const name of Object.keys(folded) as L[]) if (!keep.has(name)) folded[name] = OVERFLOW_VALUE;
  return folded;
}
