import { graphemeStart } from '../util/graphemes.js';

/**
 * Falco output fields carry attacker-controlled strings (command lines, file names). On a terminal
 * an escape sequence in one could rewrite the screen or the title, and a right-to-left override
 * could make `exe.txt` read as `txt.exe`, so control and invisible characters are shown as visible
 * escapes instead of being written raw.
 */

// Bidi controls, zero-width spaces and other invisible format characters: they can disguise text.
// U+200D (zero-width joiner) stays: emoji sequences need it and it forms nothing on its own.
const INVISIBLE =
  '\\u00ad\\u061c\\u180e\\u200b\\u200c\\u200e\\u200f\\u202a-\\u202e\\u2060-\\u2064\\u2066-\\u2069\\ufeff';
const UNSAFE = new RegExp(`[\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029${INVISIBLE}]`, 'g');

export function escapeControlChars(text: string): string {
  return text.replace(UNSAFE, (ch) => {
    if (ch === '\n') return '\\n';
    if (ch === '\t') return '\\t';
    if (ch === '\r') return '\\r';
    return `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}

/** At most `max` UTF-16 units of `text`, cut between characters, with `…` when something was left out. */
export function clipText(text: string, max: number): string {
  if (text.length <= max) return text;
  if (max <= 1) return max === 1 ? '…' : '';
  return `${text.slice(0, graphemeStart(text, max - 1))}…`;
}
