/**
 * Google Chat incoming webhook: a one-line `text` for notifications and a cardsV2 card with the details.
 *
 * Escaping: card text is a small HTML subset (`<b>`, `<a href>`, `<font>`), so untrusted values there
 * get `&`, `<`, `>` and `"` as entities — exact, and no tag or link can form. The `text` line uses Chat's
 * own markup (`*bold*`, `_italic_`, `~strike~`, `` `mono` ``, `<url|label>`, `<users/all>`), which has no
 * escape character: there `< > * _ ~ \` [ ]` in untrusted values are replaced by look-alikes
 * (‹ › ∗ ＿ ∼ ˋ ［ ］); the card below shows the exact value. In both, `://` and every dot of a domain
 * or e-mail address get an invisible word joiner so no untrusted link is formed. A template value
 * inside a tag (an `href`) is URL-encoded.
 */
import type { SinkConfig } from '../../config/schema.js';
import { defaultClassify, responseDetail } from '../../delivery/classify.js';
import type { Destination, DestinationResponse, RenderedRequest } from '../../delivery/destination.js';
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
  renderLines,
  renderText,
  scaled,
  unlink,
  urlComponentChar,
  utf8Length,
} from './text.js';

export type GoogleChatConfig = Pick<Extract<SinkConfig, { type: 'googlechat' }>, 'url' | 'template'>;

/** Bytes of a message, text and cards together. */
export const GOOGLE_CHAT_MAX_BYTES = 32_000;

function htmlChar(ch: string): string {
  if (ch === '&') return '&amp;';
  if (ch === '<') return '&lt;';
  if (ch === '>') return '&gt;';
  if (ch === '"') return '&quot;';
  return ch;
}

/** Untrusted values in card text (HTML subset). */
export const googleChatInline: InlineMarkup = (raw, max, piece) =>
  piece.attribute ? escapeWithin(raw, urlComponentChar, max) : escapeWithin(unlink(raw), htmlChar, max);

const LOOK_ALIKES: Record<string, string> = {
  '<': '\u2039',
  '>': '\u203a',
  '*': '\u2217',
  _: '\uff3f',
  '~': '\u223c',
  '`': '\u02cb',
  // Not Chat markup, but Markdown links if a space uses Markdown syntax.
  '[': '\uff3b',
  ']': '\uff3d',
};

/** Untrusted values in the `text` line and the card header (Chat markup or plain text). */
export const googleChatMarkupInline: InlineMarkup = (raw, max) =>
  escapeWithin(unlink(raw), (ch) => LOOK_ALIKES[ch] ?? ch, max);

function defaultMain(view: AlertView, scale: number): string {
  const lines: string[] = [];
  if (view.summary) lines.push(renderText(view.summary, googleChatInline, scaled(1000, scale)));
  if (view.why.length > 0) {
    lines.push(`<b>Why:</b> ${renderText(joinText(view.why, ' · '), googleChatInline, scaled(1000, scale))}`);
  }
  if (view.output) {
    lines.push(
      `<b>${view.outputLabel}:</b> ${renderText(view.output, googleChatInline, scaled(12_000, scale))}`,
    );
  }
  return lines.join('<br>');
}

const paragraph = (text: string) => ({ textParagraph: { text } });

function message(view: AlertView, main: string, scale: number) {
  const head = `<font color="${view.colour}"><b>${view.severity.toUpperCase()}</b></font> · ${view.kind}`;
  const sections: unknown[] = [{ widgets: [paragraph(head), ...(main.trim() ? [paragraph(main)] : [])] }];
  const facts = allFacts(view).map((f) => ({
    decoratedText: {
      topLabel: f.label,
      text: renderText(f.value, googleChatInline, scaled(500, scale)),
      wrapText: true,
    },
  }));
  if (facts.length > 0) sections.push({ header: 'Details', collapsible: false, widgets: facts });
  if (view.timeline.length > 0) {
    const timeline = renderLines(view.timeline, googleChatInline, scaled(4000, scale), '<br>');
    sections.push({ header: 'Timeline', widgets: [paragraph(timeline)] });
  }
  sections.push({ widgets: [paragraph(`<font color="#808080">Perch · ${view.time} · ${view.id}</font>`)] });
  return {
    text: renderText(view.title, googleChatMarkupInline, 500),
    cardsV2: [
      {
        cardId: `perch-${view.id}`,
        card: {
          header: {
            title: renderText(view.title, googleChatMarkupInline, 200),
            subtitle: `Falco ${view.severity}`,
          },
          sections,
        },
      },
    ],
  };
}

export function googleChatDestination(config: GoogleChatConfig): Destination {
  const template = config.template ? placeValues(compileTemplate(config.template), 'googlechat') : undefined;
  return {
    kind: 'googlechat',
    // Writes are limited per space (60 a minute, shared by every app in it).
    defaultRate: { perSecond: 1, burst: 1 },
    render(alert: Alert): RenderedRequest {
      const view = alertView(alert);
      return fitWithin(
        (scale) => {
          const main = template
            ? renderText(renderTemplate(template, view.variables), googleChatInline, scaled(12_000, scale), {
                trusted: (s) => s.replace(/\n/g, '<br>'),
                finish: finishHtml,
              })
            : defaultMain(view, scale);
          return jsonRequest(config.url.reveal(), message(view, main, scale));
        },
        (request) => utf8Length(request.body) <= GOOGLE_CHAT_MAX_BYTES,
      );
    },
    classify(response: DestinationResponse) {
      // Errors are Google's JSON: {"error": {"code", "message", "status"}}.
      const error = parseJsonObject(response.body)?.error;
      const message =
        typeof error === 'object' && error !== null && 'message' in error && typeof error.message === 'string'
          ? error.message
          : undefined;
      return message === undefined
        ? defaultClassify(response)
        : defaultClassify(response, Date.now(), responseDetail(message));
    },
  };
}
