/**
 * Falco priorities as an ordered enum: a larger value is more severe, so `p >= Priority.Warning`
 * reads the way rules are written. Falco's own numeric encodings count the other way (0 =
 * Emergency, as in the gRPC enum and falco-exporter's label); see `fromFalcoNumber`.
 */
export enum Priority {
  Debug = 0,
  Informational = 1,
  Notice = 2,
  Warning = 3,
  Error = 4,
  Critical = 5,
  Alert = 6,
  Emergency = 7,
}

export const PRIORITY_NAMES: readonly string[] = [
  'Debug',
  'Informational',
  'Notice',
  'Warning',
  'Error',
  'Critical',
  'Alert',
  'Emergency',
];

const BY_LOWER_NAME = new Map<string, Priority>([
  ...PRIORITY_NAMES.map((name, i) => [name.toLowerCase(), i as Priority] as const),
  // Falco rules files write INFO; some tools shorten the others.
  ['info', Priority.Informational],
  ['warn', Priority.Warning],
  ['err', Priority.Error],
  ['crit', Priority.Critical],
  ['emerg', Priority.Emergency],
]);

/** The names as Falco writes them in its alerts: found without a trimmed, lower-cased copy. */
const BY_NAME = new Map<string, Priority>(PRIORITY_NAMES.map((name, i) => [name, i as Priority]));

export function priorityName(p: Priority): string {
  return PRIORITY_NAMES[p] ?? 'Unknown';
}

/** Falco's numbering (gRPC enum, falco-exporter and Falco metrics): 0 = Emergency … 7 = Debug. */
export function fromFalcoNumber(n: number): Priority | undefined {
  if (!Number.isInteger(n) || n < 0 || n > 7) return undefined;
  return (7 - n) as Priority;
}

export function toFalcoNumber(p: Priority): number {
  return 7 - p;
}

/**
 * Accepts any case of the eight names (and Falco's rule-file abbreviations), or Falco's numeric
 * encoding as a number or a numeric string. Returns undefined for anything else.
 */
export function parsePriority(value: unknown): Priority | undefined {
  if (typeof value === 'number') return fromFalcoNumber(value);
  if (typeof value !== 'string') return undefined;
  const asFalcoWritesIt = BY_NAME.get(value);
  if (asFalcoWritesIt !== undefined) return asFalcoWritesIt;
  const trimmed = value.trim();
  if (/^[0-7]$/.test(trimmed)) return fromFalcoNumber(Number(trimmed));
  return BY_LOWER_NAME.get(trimmed.toLowerCase());
}
