/**
 * `JSON.parse` rounds integers beyond 2^53, and Falco's `evt.time` (nanoseconds, 19 digits) is
 * always one of them; numbers beyond the double range it turns into ±Infinity. Parsing every alert
 * with a lossless parser would cost several times more, so we let `JSON.parse` do the work and go
 * back to the raw text only for alerts where it lost something.
 */
export function needsExactRecovery(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && !Number.isSafeInteger(value);
}

/** Number tokens (and list values, `[…]`) of an alert's `output_fields` as written, by key. */
export type NumberTexts = ReadonlyMap<string, string>;

/**
 * The numbers of one alert's `output_fields` as written in `raw`, the text the alert was parsed
 * from: the alert itself, or a JSON array of alerts holding it.
 */
export class RawNumberTexts {
  private escapes: boolean | undefined;
  private scanned = false;
  private shortcuts = 0;
  private texts: NumberTexts | undefined;

  constructor(
    private readonly raw: string,
    private readonly alert: Record<string, unknown>,
  ) {}

  /**
   * The number token written for output field `key` (for a list, the whole `[…]`), or undefined
   * when the text does not say.
   */
  get(key: string): string | undefined {
    // Without \u or \/ in the text, a key that JSON writes without escapes (evt.time) can be
    // written only that way. The member's key is one occurrence of that spelling, so when it is the
    // only one, it is the member's key wherever else the name appears: no walk needed.
    this.escapes ??= this.raw.includes('\\') && (this.raw.includes('\\u') || this.raw.includes('\\/'));
    // Each shortcut reads the whole text: past a few keys one walk is cheaper (an alert of 20,000
    // big integers took seconds that way).
    if (!this.escapes && !this.scanned && this.shortcuts++ < MAX_SHORTCUTS) {
      const text = uniqueMemberText(this.raw, key);
      if (text !== undefined) return text;
    }
    if (!this.scanned) {
      this.texts = outputFieldNumberTexts(this.raw, this.alert);
      this.scanned = true;
    }
    return this.texts?.get(key);
  }
}

/** Keys looked up by a search of the text before the walk takes over (Falco sends one or two). */
const MAX_SHORTCUTS = 4;

function uniqueMemberText(raw: string, key: string): string | undefined {
  const search = searchFor(key);
  if (search === undefined) return undefined;
  const at = onlyOccurrence(raw, search);
  if (at < 0) return undefined;
  const { quoted } = search;
  const colon = skipSpace(raw, at + quoted.length);
  if (raw.charCodeAt(colon) !== COLON) return undefined;
  const start = skipSpace(raw, colon + 1);
  const end = valueEnd(raw, start);
  return end < 0 ? undefined : raw.slice(start, end);
}

/** How to find a key's spelling without escapes, `"evt.time"`, in an alert's text. */
interface KeySearch {
  key: string;
  quoted: string;
  /**
   * Where in `quoted` the searched part starts. A search beginning at `"` stops at every string
   * in the text; one beginning at the key's first `.` (a rarer character: Falco's field names have
   * one) skips along about twice as fast, and each hit is then checked for the whole spelling.
   */
  anchor: number;
  searched: string;
}

// Falco's alerts need one key (evt.time), so the last search is kept: no JSON.stringify per alert.
let lastSearch: KeySearch | undefined;

/** Undefined for a key that JSON writes with escapes: the text may spell it more than one way. */
function searchFor(key: string): KeySearch | undefined {
  if (lastSearch?.key === key) return lastSearch;
  const quoted = JSON.stringify(key);
  if (quoted.includes('\\')) return undefined;
  const anchor = Math.max(0, quoted.indexOf('.'));
  lastSearch = { key, quoted, anchor, searched: quoted.slice(anchor) };
  return lastSearch;
}

/** Where the only occurrence of the quoted key is in `raw`: -1 when there is none or more than one. */
function onlyOccurrence(raw: string, { quoted, anchor, searched }: KeySearch): number {
  let found = -1;
  for (let hit = raw.indexOf(searched); hit !== -1; hit = raw.indexOf(searched, hit + 1)) {
    const start = hit - anchor;
    if (start < 0 || !raw.startsWith(quoted, start)) continue;
    if (found !== -1) return -1;
    found = start;
  }
  return found;
}

/**
 * The text of every number among the alert's `output_fields` that `JSON.parse` may have changed,
 * by key. In an array of alerts the element is told apart by its `time` and its numbers; undefined
 * when that cannot tell, such as two elements that agree on all that but differ in a number.
 *
 * The text is walked as JSON, not searched: a key's name also appears inside strings, in nested
 * objects and at the end of longer keys, and only the member `JSON.parse` kept (the last
 * `output_fields`, its last member of that name) is the one whose value was read.
 */
export function outputFieldNumberTexts(raw: string, alert: Record<string, unknown>): NumberTexts | undefined {
  try {
    const start = skipSpace(raw, 0);
    if (raw.charCodeAt(start) === LEFT_BRACE) {
      const scan: AlertScan = {};
      return scanAlert(raw, start, scan, false) < 0 ? undefined : scan.numbers;
    }
    if (raw.charCodeAt(start) !== LEFT_BRACKET) return undefined;
    const scans = scanArray(raw, start);
    return scans === undefined ? undefined : pickElement(scans, alert);
  } catch {
    // Only text that is not JSON fails to decode a key: it cannot be what `alert` was parsed from.
    return undefined;
  }
}

const TAB = 9;
const LF = 10;
const CR = 13;
const SPACE = 32;
const QUOTE = 34;
const COMMA = 44;
const MINUS = 45;
const COLON = 58;
const LEFT_BRACKET = 91;
const BACKSLASH = 92;
const RIGHT_BRACKET = 93;
const LEFT_BRACE = 123;
const RIGHT_BRACE = 125;

interface AlertScan {
  numbers?: Map<string, string>;
  /** The raw `time` token, kept only for array elements. */
  time?: string;
}

function skipSpace(s: string, i: number): number {
  let c = s.charCodeAt(i);
  while (c === SPACE || c === LF || c === CR || c === TAB) c = s.charCodeAt(++i);
  return i;
}

/** The index just past the string whose opening quote is at `i`, or -1. */
function stringEnd(s: string, i: number): number {
  let quote = s.indexOf('"', i + 1);
  while (quote !== -1) {
    let before = quote - 1;
    while (s.charCodeAt(before) === BACKSLASH) before--;
    // An even run of backslashes escapes itself, not the quote.
    if ((quote - 1 - before) % 2 === 0) return quote + 1;
    quote = s.indexOf('"', quote + 1);
  }
  return -1;
}

/** The index just past the JSON value that starts at `i`, or -1. Iterative: nesting depth is untrusted. */
function valueEnd(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c === QUOTE) return stringEnd(s, i);
  if (c === LEFT_BRACE || c === LEFT_BRACKET) {
    let depth = 0;
    for (let j = i; j < s.length; j++) {
      const d = s.charCodeAt(j);
      if (d === QUOTE) {
        const end = stringEnd(s, j);
        if (end < 0) return -1;
        j = end - 1;
      } else if (d === LEFT_BRACE || d === LEFT_BRACKET) depth++;
      else if ((d === RIGHT_BRACE || d === RIGHT_BRACKET) && --depth === 0) return j + 1;
    }
    return -1;
  }
  let j = i;
  for (; j < s.length; j++) {
    const d = s.charCodeAt(j);
    if (
      d === COMMA ||
      d === RIGHT_BRACE ||
      d === RIGHT_BRACKET ||
      d === SPACE ||
      d === LF ||
      d === CR ||
      d === TAB
    )
      break;
  }
  return j > i ? j : -1;
}

/**
 * Walks the members of the object at `i`. `member` gets the extent of the key token and where the
 * value starts, and returns where the value ends. Returns the index just past the object, or -1.
 */
function eachMember(
  s: string,
  i: number,
  member: (keyStart: number, keyEnd: number, valueStart: number) => number,
): number {
  let at = skipSpace(s, i + 1);
  if (s.charCodeAt(at) === RIGHT_BRACE) return at + 1;
  for (;;) {
    if (s.charCodeAt(at) !== QUOTE) return -1;
    const keyEnd = stringEnd(s, at);
    if (keyEnd < 0) return -1;
    const colon = skipSpace(s, keyEnd);
    if (s.charCodeAt(colon) !== COLON) return -1;
    const end = member(at, keyEnd, skipSpace(s, colon + 1));
    if (end < 0) return -1;
    at = skipSpace(s, end);
    const c = s.charCodeAt(at);
    if (c === RIGHT_BRACE) return at + 1;
    if (c !== COMMA) return -1;
    at = skipSpace(s, at + 1);
  }
}

function keyText(s: string, start: number, end: number): string {
  const inner = s.slice(start + 1, end - 1);
  return inner.includes('\\') ? (JSON.parse(s.slice(start, end)) as string) : inner;
}

function keyIs(s: string, start: number, end: number, name: string): boolean {
  const length = end - start - 2;
  if (length === name.length) return s.startsWith(name, start + 1);
  // Escapes (`\u0074ime`) spell the same key in up to six characters per character.
  return length > name.length && length <= 6 * name.length && keyText(s, start, end) === name;
}

/** Only these can be numbers `JSON.parse` changed: 16+ characters (2^53 has 16 digits) or an exponent. */
function mayBeInexact(s: string, start: number, end: number): boolean {
  const c = s.charCodeAt(start);
  if (c !== MINUS && (c < 48 || c > 57)) return false;
  if (end - start >= 16) return true;
  for (let j = start; j < end; j++) if ((s.charCodeAt(j) | 32) === 101) return true; // e or E
  return false;
}

function scanAlert(s: string, i: number, scan: AlertScan, keepTime: boolean): number {
  return eachMember(s, i, (keyStart, keyEnd, valueStart) => {
    if (keyIs(s, keyStart, keyEnd, 'output_fields')) {
      // A repeated key: JSON.parse keeps the last one.
      const numbers = new Map<string, string>();
      scan.numbers = numbers;
      if (s.charCodeAt(valueStart) !== LEFT_BRACE) return valueEnd(s, valueStart);
      return eachMember(s, valueStart, (fieldStart, fieldEnd, numberStart) => {
        const numberEnd = valueEnd(s, numberStart);
        // A list can hold such numbers too; lists are rare enough to keep whole.
        if (
          numberEnd > 0 &&
          (mayBeInexact(s, numberStart, numberEnd) || s.charCodeAt(numberStart) === LEFT_BRACKET)
        )
          numbers.set(keyText(s, fieldStart, fieldEnd), s.slice(numberStart, numberEnd));
        return numberEnd;
      });
    }
    const end = valueEnd(s, valueStart);
    if (keepTime && end > 0 && keyIs(s, keyStart, keyEnd, 'time')) scan.time = s.slice(valueStart, end);
    return end;
  });
}

function scanArray(s: string, i: number): AlertScan[] | undefined {
  const scans: AlertScan[] = [];
  let at = skipSpace(s, i + 1);
  if (s.charCodeAt(at) === RIGHT_BRACKET) return scans;
  for (;;) {
    let end: number;
    if (s.charCodeAt(at) === LEFT_BRACE) {
      const scan: AlertScan = {};
      end = scanAlert(s, at, scan, true);
      scans.push(scan);
    } else end = valueEnd(s, at);
    if (end < 0) return undefined;
    at = skipSpace(s, end);
    const c = s.charCodeAt(at);
    if (c === RIGHT_BRACKET) return scans;
    if (c !== COMMA) return undefined;
    at = skipSpace(s, at + 1);
  }
}

/**
 * The texts of the elements of the JSON array `raw`, found in one pass; undefined when `raw` is not
 * one well-formed array. A batch of alerts is parsed element by element from these, so that each
 * alert's exact integers are read from its own text: reading them from the whole body took time
 * proportional to the body for every alert in it.
 */
export function jsonArrayElements(raw: string): string[] | undefined {
  let at = skipSpace(raw, 0);
  if (raw.charCodeAt(at) !== LEFT_BRACKET) return undefined;
  const elements: string[] = [];
  at = skipSpace(raw, at + 1);
  if (raw.charCodeAt(at) === RIGHT_BRACKET)
    return skipSpace(raw, at + 1) === raw.length ? elements : undefined;
  for (;;) {
    const end = valueEnd(raw, at);
    if (end < 0) return undefined;
    elements.push(raw.slice(at, end));
    at = skipSpace(raw, end);
    const c = raw.charCodeAt(at);
    if (c === RIGHT_BRACKET) return skipSpace(raw, at + 1) === raw.length ? elements : undefined;
    if (c !== COMMA) return undefined;
    at = skipSpace(raw, at + 1);
  }
}

/** Whether `text`, a number or a list as written, is what `JSON.parse` read as `value`. */
function readsAs(text: string, value: unknown): boolean {
  if (text.charCodeAt(0) !== LEFT_BRACKET) return Number(text) === value;
  const elements = jsonArrayElements(text);
  return (
    Array.isArray(value) &&
    elements !== undefined &&
    elements.length === value.length &&
    elements.every((element, i) => typeof value[i] !== 'number' || Number(element) === value[i])
  );
}

/** The element of an array of alerts that `alert` was parsed from, when the text tells it apart. */
function pickElement(scans: AlertScan[], alert: Record<string, unknown>): NumberTexts | undefined {
  const fields = alert.output_fields as Record<string, unknown>;
  const matches = scans.filter(
    (scan) =>
      scan.time !== undefined &&
      scan.numbers !== undefined &&
      JSON.parse(scan.time) === alert.time &&
      [...scan.numbers].every(([key, text]) => Object.hasOwn(fields, key) && readsAs(text, fields[key])),
  );
  const [first, ...others] = matches;
  if (!first) return undefined;
  const same = (a: NumberTexts | undefined, b: NumberTexts | undefined) =>
    (a?.size ?? 0) === (b?.size ?? 0) && [...(a ?? [])].every(([key, text]) => b?.get(key) === text);
  return others.every((other) => same(other.numbers, first.numbers)) ? first.numbers : undefined;
}
