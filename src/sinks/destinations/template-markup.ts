/**
 * A template is trusted markup with untrusted values dropped into it, and where the author put a
 * variable decides what its value could do there:
 *
 * - in a code span (`` `{{workload}}` ``) an empty value leaves two backticks, a longer fence that
 *   pairs with a backtick further on and sets the text after it free; a value with backticks closes
 *   the author's span itself;
 * - inside `<b>`, Telegram drops the formatting of a value set as `<code>`; inside a tag
 *   (`href="…{{pod}}"`) a value is an attribute, not text.
 *
 * So each destination's markup reshapes its template once, when the sink is built: a code span the
 * author put around variables is split so that every value stands outside it and is shown as code by
 * the destination itself (its own fence always fits the value; an empty value leaves nothing);
 * backticks the author left unpaired are made literal, since they would pair with a value's fence;
 * Telegram closes the author's formatting around a value and opens it again after. Perch's own words
 * in a value (`[CRITICAL] `) keep the author's formatting.
 */
import { type CompiledTemplate, type Part, TemplateError, type VariablePart } from './template.js';

/** The markup a destination reads a template in. */
export type TemplateMarkup = 'slack' | 'commonmark' | 'teams' | 'telegram' | 'googlechat' | 'plain';

/** One code point of the template's own text, or a variable. */
type Token = string | VariablePart;

function tokens(template: CompiledTemplate): Token[] {
  return template.parts.flatMap((part): Token[] => ('literal' in part ? Array.from(part.literal) : [part]));
}

class PartsBuilder {
  readonly parts: Part[] = [];

  literal(text: string): void {
    if (!text) return;
    const last = this.parts.at(-1);
    if (last && 'literal' in last) last.literal += text;
    else this.parts.push({ literal: text });
  }

  variable(part: VariablePart): void {
    this.parts.push(part);
  }
}

// ---------- code spans (Slack mrkdwn, CommonMark as Mattermost and Discord read it) ----------

const ASCII_PUNCTUATION = /^[!-/:-@[-`{-~]$/;

function runLength(toks: readonly Token[], at: number): number {
  let n = 0;
  while (toks[at + n] === '`') n += 1;
  return n;
}

/**
 * Where the run of `n` backticks that closes a span opened before `from` starts, or -1. CommonMark:
 * the next run of exactly `n`. Slack knows only `` `code` `` and ```` ```block``` ````, without
 * backticks inside and, for `` ` ``, on one line.
 */
function closingRun(toks: readonly Token[], from: number, n: number, slack: boolean): number {
  if (slack && n !== 1 && n !== 3) return -1;
  let j = from;
  while (j < toks.length) {
    const t = toks[j];
    if (t === '`') {
      const length = runLength(toks, j);
      if (length === n) return j;
      if (slack) return -1;
      j += length;
      continue;
    }
    if (slack && n === 1 && t === '\n') return -1;
    j += 1;
  }
  return -1;
}

/** The author's own text of a split span, as a span of its own (whitespace stays plain text). */
function fence(fragment: string, n: number): string {
  if (fragment.trim() === '') return fragment;
  const ticks = '`'.repeat(n);
  // A fragment starting or ending with a backtick would lengthen the fence; CommonMark strips the pad.
  const pad = fragment.startsWith('`') || fragment.endsWith('`') ? ' ' : '';
  return `${ticks}${pad}${fragment}${pad}${ticks}`;
}

function placeInCodeSpans(toks: readonly Token[], slack: boolean): Part[] {
  const out = new PartsBuilder();
  let i = 0;
  while (i < toks.length) {
    const t = toks[i] as Token;
    if (typeof t !== 'string') {
      out.variable(t);
      i += 1;
      continue;
    }
    const next = toks[i + 1];
    if (!slack && t === '\\' && typeof next === 'string' && ASCII_PUNCTUATION.test(next)) {
      out.literal(t + next);
      i += 2;
      continue;
    }
    if (t !== '`') {
      out.literal(t);
      i += 1;
      continue;
    }
    const n = runLength(toks, i);
    const close = closingRun(toks, i + n, n, slack);
    if (close < 0) {
      // Left as it is, a lone backtick would pair with the fence of a value further on. Slack has no
      // escape for it, so it gets the look-alike ˋ (U+02CB) Slack values use too.
      out.literal(slack ? '\u02cb'.repeat(n) : '\\`'.repeat(n));
      i += n;
      continue;
    }
    const inner = toks.slice(i + n, close);
    if (inner.every((x) => typeof x === 'string')) {
      out.literal(toks.slice(i, close + n).join(''));
    } else {
      let fragment = '';
      for (const x of inner) {
        if (typeof x === 'string') {
          fragment += x;
          continue;
        }
        out.literal(fence(fragment, n));
        fragment = '';
        out.variable({ ...x, code: true });
      }
      out.literal(fence(fragment, n));
    }
    i = close + n;
  }
  return out.parts;
}

// ---------- HTML (Telegram's subset, Google Chat's card text) ----------

/** The tags Telegram's HTML mode accepts. */
export const TELEGRAM_TAGS = new Set([
  'b',
  'strong',
  'i',
  'em',
  'u',
  'ins',
  's',
  'strike',
  'del',
  'span',
  'tg-spoiler',
  'a',
  'tg-emoji',
  'tg-time',
  'code',
  'pre',
  'blockquote',
]);

const isCode = (name: string) => name === 'code' || name === 'pre';

interface OpenTag {
  name: string;
  /** The start tag as the template wrote it, for messages. */
  source: string;
  /** The start tag as parts: a variable in an attribute stays a variable when the tag is reopened. */
  parts: Part[];
}

/** Telegram's nesting rules for an element opened inside `stack`: what it would refuse or drop. */
function nestingProblem(name: string, stack: readonly OpenTag[]): string | undefined {
  const top = stack.at(-1);
  if (top && isCode(top.name) && !(top.name === 'pre' && name === 'code')) {
    return `<${name}> inside <${top.name}>: Telegram allows nothing inside code`;
  }
  if (stack.some((t) => t.name === name)) return `<${name}> inside <${name}>: Telegram cannot nest them`;
  if (isCode(name) && stack.some((t) => t.name !== 'blockquote' && !isCode(t.name))) {
    const outer = stack.find((t) => t.name !== 'blockquote' && !isCode(t.name))?.name;
    return `<${name}> inside <${outer}>: Telegram drops that formatting (code may only be inside <blockquote>)`;
  }
  return undefined;
}

const TAG = /^<\s*(\/?)\s*([a-zA-Z][\w-]*)/;

function placeInHtml(toks: readonly Token[], telegram: boolean): { parts: Part[]; problems: string[] } {
  const out = new PartsBuilder();
  const problems: string[] = [];
  const stack: OpenTag[] = [];
  let tag: string | undefined;
  let tagParts = new PartsBuilder();
  let quote: string | undefined;
  for (const [i, t] of toks.entries()) {
    if (typeof t !== 'string') {
      if (tag !== undefined) {
        tag += `{{${t.variable}}}`;
        tagParts.variable({ ...t, attribute: true });
        out.variable({ ...t, attribute: true });
      } else if (!telegram) {
        out.variable(t);
      } else if (stack.some((s) => isCode(s.name))) {
        out.variable({ ...t, code: true });
      } else {
        // Telegram shows values as <code>, which it allows inside <blockquote> only.
        const keep = stack.findIndex((s) => s.name !== 'blockquote');
        const split = keep < 0 ? [] : stack.slice(keep);
        const closes = (tags: OpenTag[]) =>
          tags
            .map((s) => `</${s.name}>`)
            .reverse()
            .join('');
        out.literal(closes(split));
        // Perch's own words in the value keep the formatting; a tag with a variable in it cannot be
        // written around each of them, so they go without it.
        const fixed = split.filter((s) => s.parts.every((p) => 'literal' in p));
        const opens = fixed.map((s) => s.source).join('');
        out.variable(fixed.length > 0 ? { ...t, trustedOpen: opens, trustedClose: closes(fixed) } : t);
        for (const part of split.flatMap((s) => s.parts)) {
          if ('literal' in part) out.literal(part.literal);
          else out.variable(part);
        }
      }
      continue;
    }
    out.literal(t);
    if (tag === undefined) {
      if (t !== '<') continue;
      const next = toks[i + 1];
      if (typeof next === 'string' && /[a-zA-Z/]/.test(next)) {
        tag = t;
        tagParts = new PartsBuilder();
        tagParts.literal(t);
      }
      // Telegram reads every '<' as the start of a tag, and refuses the message if it is none.
      else if (telegram)
        problems.push("Telegram HTML: a '<' that starts no tag (write a literal '<' as &lt;)");
      continue;
    }
    tag += t;
    tagParts.literal(t);
    if (quote) {
      if (t === quote) quote = undefined;
    } else if (t === '"' || t === "'") {
      quote = t;
    } else if (t === '>') {
      if (telegram) readTelegramTag(tag, tagParts.parts, stack, problems);
      tag = undefined;
    }
  }
  if (telegram) {
    if (tag !== undefined) problems.push(`Telegram HTML: the tag ${tag} is never closed with '>'`);
    for (const open of stack) problems.push(`Telegram HTML: ${open.source} has no </${open.name}>`);
  }
  const parts = telegram ? out.parts.map(dropEmptyElements) : out.parts;
  return { parts, problems };
}

function readTelegramTag(source: string, parts: Part[], stack: OpenTag[], problems: string[]): void {
  const match = TAG.exec(source);
  const name = match?.[2]?.toLowerCase();
  if (!match || !name) {
    problems.push(`Telegram HTML: ${source} is not a tag (write a literal '<' as &lt;)`);
    return;
  }
  if (!TELEGRAM_TAGS.has(name)) {
    problems.push(`Telegram HTML: <${name}> is not supported (supported: ${[...TELEGRAM_TAGS].join(', ')})`);
    return;
  }
  if (match[1]) {
    const open = stack.pop();
    if (open?.name !== name) {
      problems.push(`Telegram HTML: </${name}> closes ${open ? `<${open.name}>` : 'nothing'}`);
      if (open) stack.push(open);
    }
    return;
  }
  const problem = nestingProblem(name, stack);
  if (problem) problems.push(`Telegram HTML: ${problem}`);
  stack.push({ name, source, parts });
}

/** `<b></b>` left where a value was split out of the author's formatting: Telegram ignores it anyway. */
function dropEmptyElements(part: Part): Part {
  if (!('literal' in part)) return part;
  let literal = part.literal;
  let previous: string;
  do {
    previous = literal;
    literal = literal.replace(/<([a-zA-Z][\w-]*)(?:\s[^<>]*)?><\/\1>/g, '');
  } while (literal !== previous);
  return { literal };
}

// ---------- entry points ----------

function place(template: CompiledTemplate, markup: TemplateMarkup): { parts: Part[]; problems: string[] } {
  switch (markup) {
    case 'slack':
      return { parts: placeInCodeSpans(tokens(template), true), problems: [] };
    case 'commonmark':
      return { parts: placeInCodeSpans(tokens(template), false), problems: [] };
    case 'telegram':
      return placeInHtml(tokens(template), true);
    case 'googlechat':
      return placeInHtml(tokens(template), false);
    case 'teams':
    case 'plain':
      // Adaptive Card Markdown has no code spans: its values are escaped wherever they stand.
      return { parts: [...template.parts], problems: [] };
  }
}

/** What a destination's markup makes of a template it cannot send as written (Telegram's HTML rules). */
export function templateMarkupProblems(template: CompiledTemplate, markup: TemplateMarkup): string[] {
  return place(template, markup).problems;
}

/** The template reshaped for `markup`; throws TemplateError when the markup cannot take it. */
export function placeValues(template: CompiledTemplate, markup: TemplateMarkup): CompiledTemplate {
  const { parts, problems } = place(template, markup);
  if (problems.length > 0) throw new TemplateError(problems);
  return { source: template.source, parts };
}
