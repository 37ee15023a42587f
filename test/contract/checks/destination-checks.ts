/**
 * Per-destination contract checks of a rendered payload: the service's documented limits, its markup
 * read the way the service reads it, and no hazard from the hostile corpus left live. Each returns
 * the problems found, empty when the payload is sound.
 */
import { ACCENTED, FAMILY, GRAPHEME_UNITS, TEMPLATE_LINK_HOST } from '../hostile-corpus.js';
import { adaptiveCardProblems } from './adaptive-cards.js';
import {
  CODE_HAZARDS,
  FORMAT_HAZARDS,
  findHazards,
  LINE_HAZARDS,
  LINK_HAZARDS,
  MENTION_HAZARDS,
  TELEGRAM_HAZARDS,
} from './hazards.js';
import { escapesLive, markdownLive, parseHtml, slackLive } from './markup-models.js';

export type Json = Record<string, unknown>;

/** Every string in a JSON value, with where it is. */
export function strings(value: unknown, path = '$'): [string, string][] {
  if (typeof value === 'string') return [[path, value]];
  if (Array.isArray(value)) return value.flatMap((v, i) => strings(v, `${path}[${i}]`));
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => strings(v, `${path}.${k}`));
  }
  return [];
}

const at = (value: unknown, ...path: (string | number)[]): unknown =>
  path.reduce<unknown>((v, key) => (v as Record<string | number, unknown> | undefined)?.[key], value);

const array = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
const text = (value: unknown): string => (typeof value === 'string' ? value : '');

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding raw control characters is the point
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;
const DISGUISING = /[\u061c\u200b\u200c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff\u00ad\u2028\u2029]/;
const UNIT_PARTS = /\u{1F469}|\u{1F467}|\u{1F466}|\u0298|\u0301|\u0323/u;

/**
 * What holds for every string of every payload: no half characters, no raw control or disguising
 * characters, and no emoji sequence or accented letter of the corpus cut apart.
 */
export function universalProblems(body: unknown): string[] {
  const problems: string[] = [];
  for (const [path, s] of strings(body)) {
    if (LONE_SURROGATE.test(s)) problems.push(`${path}: half a surrogate pair`);
    if (RAW_CONTROL.test(s)) problems.push(`${path}: raw control character`);
    if (DISGUISING.test(s)) problems.push(`${path}: raw bidi or invisible character`);
    let rest = s;
    for (const unit of GRAPHEME_UNITS) rest = rest.split(unit).join('');
    const broken = UNIT_PARTS.exec(rest);
    if (broken) {
      const around = rest.slice(Math.max(0, broken.index - 8), broken.index + 8);
      problems.push(
        `${path}: a character cut apart (${JSON.stringify(around)}, whole: ${FAMILY} ${ACCENTED})`,
      );
    }
  }
  return problems;
}

function limit(problems: string[], where: string, length: number, max: number, min = 0): void {
  if (length > max) problems.push(`${where}: ${length} over the limit of ${max}`);
  if (length < min) problems.push(`${where}: ${length} under the minimum of ${min}`);
}

// ---------- Slack ----------

/** Slack decodes only `&amp;`, `&lt;`, `&gt;`; a raw `<` or `>` is markup. */
function slackEntities(where: string, s: string): string[] {
  const problems: string[] = [];
  if (/[<>]/.test(s)) problems.push(`${where}: raw < or > (a mention, link or date token can form)`);
  if (/&(?!(amp|lt|gt);)/.test(s)) problems.push(`${where}: & that is no entity`);
  return problems;
}

const SLACK_MARKDOWN = [MENTION_HAZARDS, FORMAT_HAZARDS, CODE_HAZARDS, LINK_HAZARDS, LINE_HAZARDS];

function slackMrkdwn(where: string, element: unknown, max: number): string[] {
  const problems: string[] = [];
  const s = text(at(element, 'text'));
  if (at(element, 'type') !== 'mrkdwn') problems.push(`${where}: not a mrkdwn text object`);
  // verbatim: Slack does not auto-link URLs or names, nor parse mentions by itself.
  if (at(element, 'verbatim') !== true) problems.push(`${where}: mrkdwn without verbatim`);
  limit(problems, `${where}.text`, s.length, max, 1);
  problems.push(...slackEntities(where, s));
  problems.push(...findHazards(where, slackLive(s), ...SLACK_MARKDOWN));
  return problems;
}

/** Block Kit limits: 50 blocks, header 150, section text 3000, 10 fields of 2000, 10 context elements. */
export function slackProblems(body: Json, raw: string): string[] {
  const problems: string[] = [];
  limit(problems, 'message', raw.length, 40_000);
  const notice = text(body.text);
  limit(problems, '$.text', notice.length, 40_000, 1);
  // The notification text is not verbatim: Slack may link URLs anywhere in it, code or not.
  problems.push(...slackEntities('$.text', notice));
  problems.push(...findHazards('$.text', notice, LINK_HAZARDS));
  problems.push(...findHazards('$.text', slackLive(notice), ...SLACK_MARKDOWN));
  array(body.attachments).forEach((attachment, a) => {
    const fallback = text(at(attachment, 'fallback'));
    problems.push(...slackEntities(`$.attachments[${a}].fallback`, fallback));
    problems.push(...findHazards(`$.attachments[${a}].fallback`, fallback, LINK_HAZARDS));
    const blocks = array(at(attachment, 'blocks'));
    limit(problems, `$.attachments[${a}].blocks`, blocks.length, 50, 1);
    blocks.forEach((block, b) => {
      const where = `$.attachments[${a}].blocks[${b}]`;
      switch (at(block, 'type')) {
        case 'header': {
          const s = text(at(block, 'text', 'text'));
          if (at(block, 'text', 'type') !== 'plain_text')
            problems.push(`${where}: header text not plain_text`);
          limit(problems, `${where}.text`, s.length, 150, 1);
          problems.push(...slackEntities(where, s));
          break;
        }
        case 'section': {
          const fields = array(at(block, 'fields'));
          if (at(block, 'text') === undefined && fields.length === 0)
            problems.push(`${where}: empty section`);
          if (at(block, 'text') !== undefined)
            problems.push(...slackMrkdwn(`${where}.text`, at(block, 'text'), 3000));
          limit(problems, `${where}.fields`, fields.length, 10);
          fields.forEach((f, i) => {
            problems.push(...slackMrkdwn(`${where}.fields[${i}]`, f, 2000));
          });
          break;
        }
        case 'context': {
          const elements = array(at(block, 'elements'));
          limit(problems, `${where}.elements`, elements.length, 10, 1);
          elements.forEach((e, i) => {
            problems.push(...slackMrkdwn(`${where}.elements[${i}]`, e, 3000));
          });
          break;
        }
        default:
          problems.push(`${where}: unexpected block type ${String(at(block, 'type'))}`);
      }
    });
  });
  return problems;
}

// ---------- Mattermost ----------

const MATTERMOST_MARKDOWN = [MENTION_HAZARDS, FORMAT_HAZARDS, CODE_HAZARDS, LINK_HAZARDS, LINE_HAZARDS];

export function mattermostProblems(body: Json): string[] {
  const problems: string[] = [];
  const message = text(body.text);
  problems.push(...findHazards('$.text', markdownLive(message), ...MATTERMOST_MARKDOWN));
  let rendered = message.length;
  array(body.attachments).forEach((attachment, a) => {
    const where = `$.attachments[${a}]`;
    // The fallback is plain text in notifications: mentions and links must be broken there too.
    const fallback = text(at(attachment, 'fallback'));
    problems.push(...findHazards(`${where}.fallback`, fallback, MENTION_HAZARDS, LINK_HAZARDS));
    for (const key of ['text', 'pretext', 'footer']) {
      const s = text(at(attachment, key));
      rendered += s.length;
      problems.push(...findHazards(`${where}.${key}`, markdownLive(s), ...MATTERMOST_MARKDOWN));
    }
    array(at(attachment, 'fields')).forEach((field, f) => {
      const value = text(at(field, 'value'));
      const title = text(at(field, 'title'));
      rendered += value.length + title.length;
      problems.push(
        ...findHazards(`${where}.fields[${f}].value`, markdownLive(value), ...MATTERMOST_MARKDOWN),
      );
      problems.push(...findHazards(`${where}.fields[${f}].title`, title, MENTION_HAZARDS, LINK_HAZARDS));
    });
  });
  limit(problems, 'rendered post', rendered, 16_383);
  return problems;
}

// ---------- Discord ----------

const DISCORD_MARKDOWN = [MENTION_HAZARDS, FORMAT_HAZARDS, CODE_HAZARDS, LINK_HAZARDS, LINE_HAZARDS];

/** Execute Webhook: ≤ 10 embeds; title 256, description 4096, 25 fields of 256/1024, footer 2048, 6000 in all. */
export function discordProblems(body: Json): string[] {
  const problems: string[] = [];
  const mentions = body.allowed_mentions as Json | undefined;
  if (JSON.stringify(mentions) !== JSON.stringify({ parse: [] })) {
    problems.push(`$.allowed_mentions: ${JSON.stringify(mentions)}, not {"parse":[]}`);
  }
  if (body.content !== undefined) limit(problems, '$.content', text(body.content).length, 2000);
  const embeds = array(body.embeds);
  limit(problems, '$.embeds', embeds.length, 10, 1);
  let total = 0;
  const markdown = (where: string, s: string, max: number, min = 0) => {
    limit(problems, where, s.length, max, min);
    total += s.length;
    problems.push(...findHazards(where, markdownLive(s, true), ...DISCORD_MARKDOWN));
  };
  embeds.forEach((embed, e) => {
    const where = `$.embeds[${e}]`;
    markdown(`${where}.title`, text(at(embed, 'title')), 256);
    if (at(embed, 'description') !== undefined)
      markdown(`${where}.description`, text(at(embed, 'description')), 4096, 1);
    const fields = array(at(embed, 'fields'));
    limit(problems, `${where}.fields`, fields.length, 25);
    fields.forEach((field, f) => {
      markdown(`${where}.fields[${f}].name`, text(at(field, 'name')).trim(), 256, 1);
      markdown(`${where}.fields[${f}].value`, text(at(field, 'value')).trim(), 1024, 1);
    });
    markdown(`${where}.footer.text`, text(at(embed, 'footer', 'text')), 2048);
    if (at(embed, 'author') !== undefined)
      markdown(`${where}.author.name`, text(at(embed, 'author', 'name')), 256);
  });
  limit(problems, 'characters across embeds', total, 6000);
  return problems;
}

// ---------- Teams ----------

/** Adaptive Card Markdown (TextBlock, FactSet): emphasis, links and lists, with backslash escapes. */
const TEAMS_MARKDOWN = [FORMAT_HAZARDS, LINK_HAZARDS, LINE_HAZARDS];

export function teamsProblems(body: Json, raw: string): string[] {
  const problems: string[] = [];
  limit(problems, 'message bytes', Buffer.byteLength(raw), 28_000);
  if (body.type !== 'message') problems.push(`$.type: ${String(body.type)}, not message`);
  array(body.attachments).forEach((attachment, a) => {
    const where = `$.attachments[${a}]`;
    if (at(attachment, 'contentType') !== 'application/vnd.microsoft.card.adaptive') {
      problems.push(`${where}.contentType: not an Adaptive Card`);
    }
    const card = at(attachment, 'content');
    problems.push(...adaptiveCardProblems(card).map((p) => `${where}: ${p}`));
    if (at(card, 'msteams', 'entities') !== undefined)
      problems.push(`${where}: msteams.entities would mention`);
    array(at(card, 'body')).forEach((element, i) => {
      const path = `${where}.content.body[${i}]`;
      switch (at(element, 'type')) {
        case 'TextBlock':
          problems.push(...findHazards(path, escapesLive(text(at(element, 'text'))), ...TEAMS_MARKDOWN));
          break;
        case 'FactSet':
          array(at(element, 'facts')).forEach((fact, f) => {
            for (const key of ['title', 'value']) {
              const s = text(at(fact, key));
              problems.push(...findHazards(`${path}.facts[${f}].${key}`, escapesLive(s), ...TEAMS_MARKDOWN));
            }
          });
          break;
        case 'RichTextBlock':
          // A TextRun is never Markdown; Teams still auto-links in it.
          array(at(element, 'inlines')).forEach((run, r) => {
            problems.push(...findHazards(`${path}.inlines[${r}]`, text(at(run, 'text')), LINK_HAZARDS));
          });
          break;
        default:
          problems.push(`${path}: unexpected element ${String(at(element, 'type'))}`);
      }
    });
  });
  return problems;
}

// ---------- Google Chat ----------

const GOOGLE_CARD_TAGS = new Set(['b', 'i', 'u', 's', 'strike', 'font', 'a', 'br']);

function linkTargets(where: string, tags: { name: string; attributes: Record<string, string> }[]): string[] {
  const problems: string[] = [];
  for (const tag of tags) {
    if (tag.name !== 'a' || tag.attributes.href === undefined) continue;
    const href = tag.attributes.href;
    let host = '';
    try {
      host = new URL(href).host;
    } catch {
      problems.push(`${where}: link to ${JSON.stringify(href)}, not a URL`);
      continue;
    }
    if (host !== TEMPLATE_LINK_HOST)
      problems.push(`${where}: link to ${host}, not the template's ${TEMPLATE_LINK_HOST}`);
  }
  return problems;
}

const CHAT_MARKUP_HAZARDS = {
  bold: FORMAT_HAZARDS.bold as RegExp,
  italic: FORMAT_HAZARDS.italic as RegExp,
  strikethrough: FORMAT_HAZARDS.strikethrough as RegExp,
  link: FORMAT_HAZARDS['Slack-style link'] as RegExp,
  mention: MENTION_HAZARDS['Google Chat mention'] as RegExp,
};

/** Chat's own markup (`*bold*`, `<url|text>`, `<users/all>`), which has no escape character. */
function chatMarkup(where: string, s: string): string[] {
  const problems: string[] = [];
  if (/[<>]/.test(s)) problems.push(`${where}: raw < or > (a link or <users/all> can form)`);
  problems.push(...findHazards(where, s, CHAT_MARKUP_HAZARDS, CODE_HAZARDS, LINK_HAZARDS));
  return problems;
}

export function googleChatProblems(body: Json, raw: string): string[] {
  const problems: string[] = [];
  limit(problems, 'message bytes', Buffer.byteLength(raw), 32_000);
  problems.push(...chatMarkup('$.text', text(body.text)));
  array(body.cardsV2).forEach((entry, c) => {
    const card = at(entry, 'card');
    const where = `$.cardsV2[${c}].card`;
    problems.push(...chatMarkup(`${where}.header.title`, text(at(card, 'header', 'title'))));
    array(at(card, 'sections')).forEach((section, s) => {
      array(at(section, 'widgets')).forEach((widget, w) => {
        const path = `${where}.sections[${s}].widgets[${w}]`;
        const html =
          at(widget, 'textParagraph') !== undefined
            ? text(at(widget, 'textParagraph', 'text'))
            : text(at(widget, 'decoratedText', 'text'));
        const parsed = parseHtml(html, GOOGLE_CARD_TAGS, new Set(), new Set(['br']));
        problems.push(...parsed.errors.map((e) => `${path}: ${e}`));
        problems.push(...linkTargets(path, parsed.tags));
        problems.push(...findHazards(path, parsed.live, LINK_HAZARDS));
      });
    });
  });
  return problems;
}

// ---------- Telegram ----------

const TELEGRAM_TAGS = new Set([
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
  'code',
  'pre',
  'blockquote',
]);
const SAME_ENTITY: Record<string, string> = {
  strong: 'b',
  em: 'i',
  ins: 'u',
  strike: 's',
  del: 's',
  span: 'tg-spoiler',
};
const entity = (name: string) => SAME_ENTITY[name] ?? name;
const isCode = (name: string) => name === 'code' || name === 'pre';

/**
 * Telegram's entity rules: code and pre hold nothing (but `<pre><code>`); they may be inside nothing
 * but a blockquote; no entity inside one of its own kind; no blockquote inside a link.
 */
function telegramNesting(nesting: { tag: { name: string }; outer: string[] }[]): string[] {
  const problems: string[] = [];
  for (const { tag, outer } of nesting) {
    const name = entity(tag.name);
    const around = outer.map(entity);
    const top = around.at(-1);
    if (top && isCode(top) && !(top === 'pre' && name === 'code')) problems.push(`<${name}> inside <${top}>`);
    const container = around.find((o) => o !== 'blockquote' && !(o === 'pre' && name === 'code'));
    if (isCode(name) && container)
      problems.push(`<${name}> inside <${container}>: Telegram drops the formatting`);
    if (around.includes(name)) problems.push(`<${name}> inside <${name}>`);
    if (name === 'blockquote' && around.includes('a')) problems.push('<blockquote> inside <a>');
  }
  return problems;
}

export function telegramProblems(body: Json): string[] {
  const problems: string[] = [];
  if (body.parse_mode !== 'HTML') problems.push(`$.parse_mode: ${String(body.parse_mode)}, not HTML`);
  if (at(body, 'link_preview_options', 'is_disabled') !== true) problems.push('link previews are on');
  const parsed = parseHtml(text(body.text), TELEGRAM_TAGS, new Set(['code', 'pre']));
  problems.push(...parsed.errors.map((e) => `$.text: ${e}`));
  problems.push(...telegramNesting(parsed.nesting).map((e) => `$.text: ${e}`));
  for (const tag of parsed.tags) {
    if (tag.name === 'span' && !tag.closing && tag.attributes.class !== 'tg-spoiler') {
      problems.push('$.text: <span> without class tg-spoiler');
    }
  }
  problems.push(...linkTargets('$.text', parsed.tags));
  // 1–4096 characters after entity parsing.
  limit(problems, '$.text after parsing', parsed.text.trim().length, 4096, 1);
  problems.push(...findHazards('$.text', parsed.live, MENTION_HAZARDS, TELEGRAM_HAZARDS, LINK_HAZARDS));
  return problems;
}
