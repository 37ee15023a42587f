/**
 * Text as destinations receive it: Perch's own words mixed with untrusted values (anything that came
 * from a Falco event or the cluster). Each destination turns untrusted values into safe markup for its
 * service and fits the result into the service's limits, with a visible marker where it had to cut.
 */

/** Appended wherever text was shortened to fit a service's limit, so a reader knows something is missing. */
export const TRUNCATED = '… [truncated]';

/** A value an attacker may have chosen (rule output, command line, pod name): never markup. */
export interface Untrusted {
  readonly untrusted: string;
}

/** A plain string is Perch's own words (or a user template, which is trusted config). */
export type Piece = string | Untrusted;
export type Text = readonly Piece[];

export const untrusted = (raw: string): Untrusted => ({ untrusted: raw });

export function isUntrusted(piece: Piece): piece is Untrusted {
  return typeof piece !== 'string';
}

/** The text as a reader would see it, without any markup: for tests, logs and fallbacks. */
export function plainText(text: Text): string {
  return text.map((p) => (typeof p === 'string' ? p : p.untrusted)).join('');
}

export interface Clipped {
  text: string;
  /** Part of the value was left out. */
  cut: boolean;
}

/**
 * How a destination writes one untrusted value inline, in at most `max` UTF-16 units (including any
 * wrapper such as a code span). It must never return a partial escape or half a surrogate pair.
 */
export type InlineMarkup = (raw: string, max: number) => Clipped;

/**
 * Escapes `raw` one code point at a time and stops before the escaped text would exceed `max`, so a
 * cut never falls inside an escape sequence (`&amp;`) or between the halves of a surrogate pair.
 */
export function escapeWithin(raw: string, escapeChar: (ch: string) => string, max: number): Clipped {
  let out = '';
  for (const ch of raw) {
    const escaped = escapeChar(ch);
    if (out.length + escaped.length > max) return { text: out, cut: true };
    out += escaped;
  }
  return { text: out, cut: false };
}

/** `escapeWithin` inside a wrapper (code span, `<code>` element) that must stay whole. */
export function wrapWithin(
  raw: string,
  escapeChar: (ch: string) => string,
  max: number,
  open: string,
  close: string,
): Clipped {
  if (raw === '') return { text: '', cut: false };
  const inner = escapeWithin(raw, escapeChar, max - open.length - close.length);
  if (inner.text === '') return { text: '', cut: true };
  return { text: `${open}${inner.text}${close}`, cut: inner.cut };
}

/** The first code points of `text` that fit in `max` UTF-16 units. */
export function clipCodePoints(text: string, max: number): string {
  if (text.length <= max) return text;
  if (max <= 0) return '';
  const last = text.charCodeAt(max - 1);
  // Ending on a high surrogate would leave half a character.
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 1 : max);
}

/**
 * Renders text in a destination's markup in at most `max` UTF-16 units (a conservative count for
 * services that count characters or code points). When something had to be left out, the result ends
 * with TRUNCATED. Trusted pieces are kept whole or left out, since they may hold markup; untrusted values
are cut by their destination's `inline`. `trusted` adapts Perch's own words (e.g. Teams needs blank lines for line breaks).
 */
export function renderText(
  text: Text,
  inline: InlineMarkup,
  max: number,
  trusted: (s: string) => string = (s) => s,
): string {
  const full = text
    .map((p) => (typeof p === 'string' ? trusted(p) : inline(p.untrusted, Infinity).text))
    .join('');
  if (full.length <= max) return full;
  const budget = max - TRUNCATED.length;
  if (budget <= 0) return clipCodePoints(TRUNCATED, max);
  let out = '';
  for (const piece of text) {
    const remaining = budget - out.length;
    if (typeof piece === 'string') {
      const own = trusted(piece);
      // Perch's words and templates carry markup (`<b>…</b>`): cut one and it may not parse at all.
      if (own.length > remaining) break;
      out += own;
    } else {
      const value = inline(piece.untrusted, remaining);
      out += value.text;
      if (value.cut) break;
    }
  }
  return out + TRUNCATED;
}

/**
 * Lines (an incident's timeline) in at most `max` units, each cut on its own so every line, including
 * a closing "… N more events" line, stays visible.
 */
export function renderLines(
  lines: readonly Text[],
  inline: InlineMarkup,
  max: number,
  separator = '\n',
  trusted?: (s: string) => string,
): string {
  if (lines.length === 0) return '';
  const each = Math.floor((max - separator.length * (lines.length - 1)) / lines.length);
  return lines.map((line) => renderText(line, inline, each, trusted)).join(separator);
}

/** `lines` joined by `separator`, as one Text. */
export function joinText(lines: readonly Text[], separator: string): Text {
  return lines.flatMap((line, i) => (i === 0 ? line : [separator, ...line]));
}

const WORD_JOINER = '\u2060';

/**
 * Breaks the patterns chat clients auto-link (`scheme://`, `www.`) with an invisible word joiner, for
 * places where untrusted text cannot be set as code. The text still reads the same.
 */
export function unlink(raw: string): string {
  return raw
    .replace(/:\/\//g, `:${WORD_JOINER}//`)
    .replace(/\bwww\./gi, (w) => `${w.slice(0, 3)}${WORD_JOINER}.`);
}

export function utf8Length(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/**
 * Field budgets are multiplied by these until the whole message fits its service's total limit
 * (Discord's 6000 characters across embeds, Teams' 28 KB, …): long values shrink first, in proportion.
 */
const SCALES = [1, 0.7, 0.5, 0.35, 0.25, 0.15, 0.1, 0.05, 0];

export function fitWithin<T>(build: (scale: number) => T, fits: (candidate: T) => boolean): T {
  let candidate: T | undefined;
  for (const scale of SCALES) {
    candidate = build(scale);
    if (fits(candidate)) return candidate;
  }
  // Every destination fits at scale 0 (short fixed text, small fields); this is a last resort.
  return candidate ?? build(0);
}

/** A field's budget at `scale`, never below a small floor so a shrunken field still says something. */
export function scaled(cap: number, scale: number): number {
  return Math.max(Math.min(cap, 48), Math.floor(cap * scale));
}
