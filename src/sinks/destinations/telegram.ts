/**
 * Telegram Bot API sendMessage, in HTML parse mode.
 *
 * Escaping: HTML mode needs only `&`, `<` and `>` replaced (and `"` for good measure) in untrusted
 * text, which is simpler and sturdier than MarkdownV2's eighteen characters. Untrusted values are set
 * in `<code>` (the output in `<pre>`), where Telegram does not detect links, `@username` mentions,
 * hashtags or bot commands; link previews are off as well.
 *
 * Nesting: Telegram allows code only at the top level or in `<blockquote>`; inside `<b>` it drops the
 * bold. So bold text stops before a value's `<code>` (`<b>[CRITICAL] </b><code>rule</code>`), and a cut
 * closes every element it leaves open, since Telegram refuses a message with an unclosed tag.
 */
import type { Opts } from '@grammyjs/types';
import type { SinkConfig } from '../../config/schema.js';
import { defaultClassify, responseDetail } from '../../delivery/classify.js';
import type {
  DeliveryVerdict,
  Destination,
  DestinationResponse,
  RenderedRequest,
} from '../../delivery/destination.js';
import { Priority } from '../../events/priority.js';
import type { Alert } from '../../pipeline/alert.js';
import { type AlertView, alertView, allFacts } from './alert-view.js';
import { finishHtml } from './html-tags.js';
import { jsonRequest, parseJsonObject } from './http.js';
import { compileTemplate, renderTemplate } from './template.js';
import { placeValues } from './template-markup.js';
import {
  escapeWithin,
  fitWithin,
  type InlineMarkup,
  joinText,
  type RenderOptions,
  renderLines,
  renderText,
  scaled,
  type Text,
  urlComponentChar,
  wrapWithin,
} from './text.js';

export type TelegramConfig = Pick<
  Extract<SinkConfig, { type: 'telegram' }>,
  'botToken' | 'chatId' | 'apiUrl' | 'template'
>;

/** Characters of message text (after entity parsing; the HTML source counted here is never shorter). */
export const TELEGRAM_MAX_TEXT = 4096;

function htmlChar(ch: string): string {
  if (ch === '&') return '&amp;';
  if (ch === '<') return '&lt;';
  if (ch === '>') return '&gt;';
  if (ch === '"') return '&quot;';
  return ch;
}

/** A value in `<code>`; inside the author's own `<code>`/`<pre>` escaped only; inside a tag URL-encoded. */
export const telegramInline: InlineMarkup = (raw, max, piece) => {
  if (piece.attribute) return escapeWithin(raw, urlComponentChar, max);
  if (piece.code) return escapeWithin(raw, htmlChar, max);
  return wrapWithin(raw, htmlChar, max, '<code>', '</code>');
};

/** What Perch posts to sendMessage. */
export type TelegramSendMessage = Opts<never>['sendMessage'];

const html: RenderOptions = { finish: finishHtml };

/** Perch's own words of `text` in bold; values stay outside, as Telegram drops code inside bold. */
const bold = (text: Text): Text => text.map((p) => (typeof p === 'string' && p ? `<b>${p}</b>` : p));

/** Telegram has no colour bar: a coloured mark in front of the title stands in for it. */
function badge(priority: Priority): string {
  if (priority >= Priority.Critical) return '🔴';
  if (priority === Priority.Error) return '🟠';
  if (priority === Priority.Warning) return '🟡';
  if (priority === Priority.Notice) return '🔵';
  return '⚪';
}

function pre(view: AlertView, max: number): string {
  if (!view.output) return '';
  const inner = renderText(view.output, (raw, m) => escapeWithin(raw, htmlChar, m), max - 11);
  return `<pre>${inner}</pre>`;
}

function defaultMain(view: AlertView, scale: number): string {
  const lines: string[] = [];
  if (view.summary) lines.push(renderText(view.summary, telegramInline, scaled(600, scale)));
  if (view.why.length > 0) {
    lines.push(`<b>Why:</b> ${renderText(joinText(view.why, ' · '), telegramInline, scaled(500, scale))}`);
  }
  if (view.output) lines.push(`<b>${view.outputLabel}:</b>\n${pre(view, scaled(2000, scale))}`);
  return lines.join('\n');
}

function message(view: AlertView, main: string, scale: number): string {
  const lines = [`${badge(view.priority)} ${renderText(bold(view.title), telegramInline, 400, html)}`];
  if (main.trim()) lines.push(main);
  const facts = allFacts(view).map(
    (f) => `<b>${f.label}:</b> ${renderText(f.value, telegramInline, scaled(200, scale))}`,
  );
  if (facts.length > 0) lines.push(facts.join('\n'));
  if (view.timeline.length > 0) {
    lines.push(`<b>Timeline</b>\n${renderLines(view.timeline, telegramInline, scaled(1500, scale))}`);
  }
  lines.push(`<i>Perch · ${view.kind} · ${view.time} · ${view.id}</i>`);
  return lines.join('\n\n');
}

export function telegramDestination(config: TelegramConfig): Destination {
  const template = config.template ? placeValues(compileTemplate(config.template), 'telegram') : undefined;
  const url = `${config.apiUrl.replace(/\/+$/, '')}/bot${config.botToken.reveal()}/sendMessage`;
  // Negative ids are groups and channels: Telegram allows about 20 messages a minute there.
  const group = config.chatId.startsWith('-');
  return {
    kind: 'telegram',
    defaultRate: group ? { perSecond: 20 / 60, burst: 3 } : { perSecond: 1, burst: 3 },
    render(alert: Alert): RenderedRequest {
      const view = alertView(alert);
      const text = fitWithin(
        (scale) => {
          const main = template
            ? renderText(renderTemplate(template, view.variables), telegramInline, scaled(3000, scale), html)
            : defaultMain(view, scale);
          return message(view, main, scale);
        },
        (candidate) => candidate.length <= TELEGRAM_MAX_TEXT,
      );
      const payload: TelegramSendMessage = {
        chat_id: config.chatId,
        text,
        parse_mode: 'HTML',
        link_preview_options: { is_disabled: true },
      };
      return jsonRequest(url, payload);
    },
    classify(response: DestinationResponse): DeliveryVerdict {
      const answer = parseJsonObject(response.body);
      if (!answer || typeof answer.ok !== 'boolean') return defaultClassify(response);
      if (answer.ok) return { kind: 'delivered' };
      const code = typeof answer.error_code === 'number' ? answer.error_code : response.status;
      const description = typeof answer.description === 'string' ? responseDetail(answer.description) : '';
      const parameters = (typeof answer.parameters === 'object' && answer.parameters) || {};
      const retryAfter = 'retry_after' in parameters ? parameters.retry_after : undefined;
      const migrateTo = 'migrate_to_chat_id' in parameters ? parameters.migrate_to_chat_id : undefined;
      if (code === 429) {
        return {
          kind: 'retry',
          reason: `Telegram 429 (flood control)${description}`,
          ...(typeof retryAfter === 'number' ? { afterMs: retryAfter * 1000 } : {}),
        };
      }
      if (migrateTo !== undefined) {
        return {
          kind: 'rejected',
          reason: `the group became a supergroup: set chatId to ${String(migrateTo)}${description}`,
        };
      }
      if (code >= 500) return { kind: 'retry', reason: `Telegram ${code}${description}` };
      return { kind: 'rejected', reason: `Telegram ${code}${description}` };
    },
  };
}
