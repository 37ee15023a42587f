/**
 * Text as destinations receive it: Perch's own words mixed with untrusted values (anything that came
 * from a Falco event or the cluster). Each destination turns untrusted values into safe markup for its
 * service and fits the result into the service's limits, with a visible marker where it had to cut.
 */

import { graphemeStart } from '../../util/graphemes.js';

/** Appended wherever text was shortened to fit a service's limit, so a reader knows something is missing. */
export const TRUNCATED = '… [truncated]';

/** A value an attacker may have chosen (rule output, command line, pod name): never markup. */
export interface Untrusted {
  readonly untrusted: string;
  /** A template set this value inside code (a code span, `<code>`): the author wants it monospace. */
  readonly code?: boolean;
  /** A template set this value inside an HTML tag, e.g. in `href="…"`: it must stay an attribute value. */
  readonly attribute?: boolean;
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
 * wrapper such as a code span). It must never return a partial escape or a partial character.
 */
export type InlineMarkup = (raw: string, max: number, piece: Untrusted) => Clipped;

const escapeAll = (raw: string, escapeChar: (ch: string) => string): string => {
  let out = '';
  for (const ch of raw) out += escapeChar(ch);
  return out;
};

/**
 * Escapes `raw` one code point at a time and stops before the escaped text would exceed `max`, backing
 * off to the start of the character (grapheme) it stopped in: a cut never falls inside an escape
 * sequence (`&amp;`), an emoji sequence joined by U+200D, or between a letter and its accents.
 */
export function escapeWithin(raw: string, escapeChar: (ch: string) => string, max: number): Clipped {
  let out = '';
  let taken = 0;
  for (const ch of raw) {
    const escaped = escapeChar(ch);
    if (out.length + escaped.length > max) {
      const start = graphemeStart(raw, taken);
      return { text: start === taken ? out : escapeAll(raw.slice(0, start), escapeChar), cut: true };
    }
    out += escaped;
    taken += ch.length;
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

const WORD_JOINER = '\u2060';

/**
 * Pieces are written one after another, so a value's code span could touch a backtick the piece
 * before it ended with; the two runs would merge into one longer fence and change where code ends.
 * An invisible word joiner keeps them apart.
 */
function append(out: string, next: string): string {
  return out.endsWith('`') && next.startsWith('`') ? `${out}${WORD_JOINER}${next}` : out + next;
}

export interface RenderOptions {
  /** Adapts Perch's own words (e.g. Teams needs blank lines for line breaks). */
  trusted?: (s: string) => string;
  /** Makes markup whole where a cut dropped the rest (closes HTML elements left open). */
  finish?: (out: string) => string;
}

/**
 * Renders text in a destination's markup in at most `max` UTF-16 units (a conservative count for
 * services that count characters or code points). When something had to be left out, the result ends
 * with TRUNCATED. Trusted pieces are kept whole or left out, since they may hold markup; untrusted values
 * are cut by their destination's `inline`.
 */
export function renderText(
  text: Text,
  inline: InlineMarkup,
  max: number,
  options: RenderOptions = {},
): string {
  const trusted = options.trusted ?? ((s: string) => s);
  const finish = options.finish ?? ((s: string) => s);
  let full = '';
  for (const p of text) {
    full = append(full, typeof p === 'string' ? trusted(p) : inline(p.untrusted, Infinity, p).text);
  }
  if (full.length <= max) return full;
  const budget = max - TRUNCATED.length;
  if (budget <= 0) return clipGraphemes(TRUNCATED, max);
  let out = '';
  for (const piece of text) {
    if (typeof piece === 'string') {
      // Perch's words and templates carry markup (`<b>…</b>`): cut one and it may not parse at all.
      const next = append(out, trusted(piece));
      if (finish(next).length > budget) break;
      out = next;
    } else {
      // What finishing adds after a value (end tags), and one unit for the word joiner `append` puts
      // in front of a value starting with a backtick.
      const closing = finish(out).length - out.length;
      const joiner = out.endsWith('`') ? 1 : 0;
      const remaining = budget - out.length - Math.max(0, closing) - joiner;
      const value = inline(piece.untrusted, Math.max(0, remaining), piece);
      out = append(out, value.text);
      if (value.cut) break;
    }
  }
  return finish(out) + TRUNCATED;
}

/** The first whole characters of `text` that fit in `max` UTF-16 units. */
export function clipGraphemes(text: string, max: number): string {
  if (text.length <= max) return text;
  return text.slice(0, graphemeStart(text, Math.max(0, max)));
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
  options?: RenderOptions,
): string {
  if (lines.length === 0) return '';
  const each = Math.floor((max - separator.length * (lines.length - 1)) / lines.length);
  return lines.map((line) => renderText(line, inline, each, options)).join(separator);
}

/** `lines` joined by `separator`, as one Text. */
export function joinText(lines: readonly Text[], separator: string): Text {
  return lines.flatMap((line, i) => (i === 0 ? line : [separator, ...line]));
}

/**
 * Breaks what chat clients auto-link in untrusted text that cannot be set as code: `scheme://`, and
 * every dot between a name and a letter, which covers bare domains (`evil.example`), `www.` and
 * e-mail addresses (a top-level domain starts with a letter; `1.4` stays as it is). An invisible word
 * joiner goes after the dot, so no label after it can be read as a top-level domain; the text still
 * reads the same.
 */
export function unlink(raw: string): string {
  return raw
    .replace(/:\/\//g, `:${WORD_JOINER}//`)
    .replace(/(?<=[\p{L}\p{N}_-])([.\u3002\uff0e\uff61])(?=\p{L})/gu, `$1${WORD_JOINER}`);
}

/**
 * One character of a template value inside an HTML tag (`href="https://x/{{pod}}"`), URL-encoded:
 * it can neither end the attribute nor change where a link goes (`'` too, for single-quoted values).
 */
export function urlComponentChar(ch: string): string {
  try {
    return encodeURIComponent(ch).replace(/'/g, '%27');
  } catch {
    // A lone surrogate: alert-view already replaced those, so this is only a guard.
    return '%EF%BF%BD';
  }
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
