/**
 * How each service reads its markup, reduced to what matters here: which characters are live
 * (could format, link or mention) and which are inert (inside code, escaped, inside a tag). Every model
 * returns the text with inert characters replaced by a placeholder, so hazards are searched in what
 * the service would act on. Written from the services' documented rules, independently of Perch.
 */

export const INERT = '\u0000';

const ASCII_PUNCTUATION = /[!-/:-@[-`{-~]/;

function backtickRun(text: string, at: number): number {
  let n = 0;
  while (text[at + n] === '`') n += 1;
  return n;
}

/** The next run of exactly `n` backticks at or after `from` (CommonMark's closing fence), or -1. */
function nextRunOf(text: string, from: number, n: number): number {
  let j = from;
  while (j < text.length) {
    if (text[j] === '`') {
      const length = backtickRun(text, j);
      if (length === n) return j;
      j += length;
    } else {
      j += 1;
    }
  }
  return -1;
}

/**
 * CommonMark inline code and backslash escapes (Mattermost; Discord with `anyEscape`): a run of n
 * backticks opens a span closed by the next run of exactly n; a backslash escapes the punctuation
 * after it, outside code only.
 */
export function markdownLive(text: string, anyEscape = false): string {
  let live = '';
  let i = 0;
  while (i < text.length) {
    const ch = text[i] as string;
    const next = text[i + 1];
    // Discord's escape takes any character that is not a letter, digit or space.
    const escapable =
      next !== undefined && (anyEscape ? /[^0-9A-Za-z\s]/.test(next) : ASCII_PUNCTUATION.test(next));
    if (ch === '\\' && escapable) {
      live += INERT + INERT;
      i += 2;
      continue;
    }
    if (ch === '`') {
      const n = backtickRun(text, i);
      const close = nextRunOf(text, i + n, n);
      if (close < 0) {
        live += '`'.repeat(n);
        i += n;
      } else {
        live += INERT.repeat(close + n - i);
        i = close + n;
      }
      continue;
    }
    live += ch;
    i += 1;
  }
  return live;
}

/** Backslash escapes without code (Adaptive Card Markdown in Teams). */
export function escapesLive(text: string): string {
  return text.replace(/\\[!-/:-@[-`{-~]/g, INERT + INERT);
}

/**
 * Slack mrkdwn: ```` ``` ```` opens a block closed by the next ```` ``` ````; a single backtick opens a
 * span closed by the next backtick on the same line, when that one is single too. Any other backtick
 * is a literal one, and live. Slack has no backslash escapes.
 */
export function slackLive(text: string): string {
  let live = '';
  let i = 0;
  while (i < text.length) {
    if (text[i] !== '`') {
      live += text[i];
      i += 1;
      continue;
    }
    const n = backtickRun(text, i);
    let close = -1;
    if (n === 3) close = nextRunOf(text, i + 3, 3);
    if (n === 1) {
      const j = text.indexOf('`', i + 1);
      const newline = text.indexOf('\n', i + 1);
      if (j > i + 1 && backtickRun(text, j) === 1 && (newline < 0 || newline > j)) close = j;
    }
    if (close < 0) {
      live += '`'.repeat(n);
      i += n;
    } else {
      live += INERT.repeat(close + n - i);
      i = close + n;
    }
  }
  return live;
}

export interface HtmlTag {
  name: string;
  closing: boolean;
  attributes: Record<string, string>;
  source: string;
}

export interface ParsedHtml {
  /** The text as shown, with entities decoded. */
  text: string;
  /** `text` with what is inside the `inert` elements replaced by INERT. */
  live: string;
  tags: HtmlTag[];
  errors: string[];
  /** Open elements at each start tag, for nesting rules. */
  nesting: { tag: HtmlTag; outer: string[] }[];
}

const ENTITY = /^&(?:(lt|gt|amp|quot|apos|nbsp);|#(\d{1,7});|#[xX]([0-9a-fA-F]{1,6});)/;
const NAMED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'", nbsp: '\u00a0' };

/**
 * A strict reading of a small HTML subset (Telegram's, Google Chat's): every `<` starts a tag from
 * `allowed`, attributes are `name="value"`, `name='value'` or a bare token, tags nest properly, and `&`
 * starts an entity or is a literal ampersand. `voids` are tags without an end tag (`<br>`).
 */
export function parseHtml(
  html: string,
  allowed: ReadonlySet<string>,
  inert: ReadonlySet<string>,
  voids: ReadonlySet<string> = new Set(),
): ParsedHtml {
  const result: ParsedHtml = { text: '', live: '', tags: [], errors: [], nesting: [] };
  const open: string[] = [];
  let i = 0;
  while (i < html.length) {
    const ch = html[i] as string;
    if (ch === '&') {
      const m = ENTITY.exec(html.slice(i, i + 12));
      let decoded = '&';
      if (m) {
        const code = m[2] ? Number(m[2]) : m[3] ? Number.parseInt(m[3], 16) : undefined;
        decoded = m[1] ? (NAMED[m[1]] as string) : String.fromCodePoint(code ?? 0xfffd);
        i += m[0].length;
      } else {
        i += 1;
      }
      result.text += decoded;
      result.live += open.some((t) => inert.has(t)) ? INERT : decoded;
      continue;
    }
    if (ch !== '<') {
      result.text += ch;
      result.live += open.some((t) => inert.has(t)) ? INERT : ch;
      i += 1;
      continue;
    }
    const tag = readTag(html, i);
    if (!tag) {
      result.errors.push(`'<' that starts no tag at ${i}: ${JSON.stringify(html.slice(i, i + 30))}`);
      i += 1;
      continue;
    }
    i += tag.source.length;
    result.tags.push(tag);
    if (!allowed.has(tag.name)) {
      result.errors.push(`unsupported tag <${tag.closing ? '/' : ''}${tag.name}>`);
      continue;
    }
    if (tag.closing) {
      const top = open.pop();
      if (top !== tag.name) result.errors.push(`</${tag.name}> closes ${top ? `<${top}>` : 'nothing'}`);
    } else {
      result.nesting.push({ tag, outer: [...open] });
      if (!voids.has(tag.name)) open.push(tag.name);
    }
  }
  for (const name of open) result.errors.push(`<${name}> is never closed`);
  return result;
}

function readTag(html: string, at: number): HtmlTag | undefined {
  const head = /^<(\/?)([a-zA-Z][\w-]*)/.exec(html.slice(at, at + 40));
  if (!head) return undefined;
  let i = at + head[0].length;
  const attributes: Record<string, string> = {};
  for (;;) {
    while (/\s/.test(html[i] ?? '')) i += 1;
    if (html[i] === '>') break;
    if (i >= html.length) return undefined;
    const name = /^[^\s=>"'/]+/.exec(html.slice(i))?.[0];
    if (!name) return undefined;
    i += name.length;
    if (html[i] !== '=') {
      attributes[name] = '';
      continue;
    }
    i += 1;
    const quote = html[i];
    let value: string;
    if (quote === '"' || quote === "'") {
      const end = html.indexOf(quote, i + 1);
      if (end < 0) return undefined;
      value = html.slice(i + 1, end);
      i = end + 1;
    } else {
      value = /^[\w.-]*/.exec(html.slice(i))?.[0] ?? '';
      i += value.length;
    }
    attributes[name] = value.replace(/&quot;/g, '"').replace(/&amp;/g, '&');
  }
  return {
    name: (head[2] as string).toLowerCase(),
    closing: head[1] === '/',
    attributes,
    source: html.slice(at, i + 1),
  };
}
