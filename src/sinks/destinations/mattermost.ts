/**
 * Mattermost incoming webhook: a Markdown title line and a Slack-style attachment (colour bar, fields).
 *
 * Escaping: Mattermost has no switch to turn mentions off, and it scans Markdown text nodes of the
 * message, attachment text and field values for `@channel`, `@all`, `@here` and `@user`; it also
 * translates Slack's `<!channel>` and `<https://x|y>`. Every untrusted value is therefore set in a
 * CommonMark code span (fenced with more backticks than the value contains), where neither mentions,
 * links, autolinks nor emphasis are recognised. Where Markdown does not apply (the notification
 * fallback), `@` and `<` are followed by a zero-width joiner so no mention or Slack token can form,
 * and links are broken.
 */
import type { SinkConfig } from '../../config/schema.js';
import { defaultClassify } from '../../delivery/classify.js';
import type { Destination, DestinationResponse, RenderedRequest } from '../../delivery/destination.js';
import type { Alert } from '../../pipeline/alert.js';
import { type AlertView, alertView, allFacts } from './alert-view.js';
import { jsonRequest } from './http.js';
import { compileTemplate, renderTemplate } from './template.js';
import { placeValues } from './template-markup.js';
import {
  type Clipped,
  escapeWithin,
  fitWithin,
  type InlineMarkup,
  joinText,
  renderLines,
  renderText,
  scaled,
  unlink,
  wrapWithin,
} from './text.js';

export type MattermostConfig = Pick<Extract<SinkConfig, { type: 'mattermost' }>, 'url' | 'template'>;

/** Characters in a post (server ≥ 5.0); longer text would be split into several posts. */
export const MATTERMOST_MAX_POST = 16_383;

const MAIN = 8000;
const FACT_VALUE = 300;
const TIMELINE = 3000;

/** A code span that holds any text: its fence is longer than the longest run of backticks inside. */
export const mattermostInline: InlineMarkup = (raw, max): Clipped => {
  const longest = Math.max(0, ...(raw.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longest + 1);
  // CommonMark strips one space on each side, so a value may start or end with a backtick.
  const pad = longest > 0 ? ' ' : '';
  return wrapWithin(raw, (ch) => ch, max, fence + pad, pad + fence);
};

const ZWJ = '\u200d';
/** For plain-text places (notification fallback): break every `@mention` and Slack `<token>`. */
const mattermostPlain: InlineMarkup = (raw, max) =>
  escapeWithin(unlink(raw), (ch) => (ch === '@' || ch === '<' ? ch + ZWJ : ch), max);

function defaultMain(view: AlertView, scale: number): string {
  const lines: string[] = [];
  if (view.summary) lines.push(renderText(view.summary, mattermostInline, scaled(1000, scale)));
  if (view.why.length > 0) {
    lines.push(`**Why:** ${renderText(joinText(view.why, ' · '), mattermostInline, scaled(1000, scale))}`);
  }
  if (view.output) {
    lines.push(
      `**${view.outputLabel}:** ${renderText(view.output, mattermostInline, scaled(MAIN - 2000, scale))}`,
    );
  }
  return lines.join('\n');
}

function payload(view: AlertView, main: string, scale: number) {
  const fields = allFacts(view).map((f) => ({
    short: true,
    title: f.label,
    value: renderText(f.value, mattermostInline, scaled(FACT_VALUE, scale)),
  }));
  if (view.timeline.length > 0) {
    const value = renderLines(view.timeline, mattermostInline, scaled(TIMELINE, scale));
    fields.push({ short: false, title: 'Timeline', value });
  }
  const fallback = renderText(view.title, mattermostPlain, 300);
  return {
    text: `**${renderText(view.title, mattermostInline, 1000)}**`,
    attachments: [
      {
        fallback,
        color: view.colour,
        ...(main.trim() ? { text: main } : {}),
        fields,
        footer: `Perch · ${view.kind} · ${view.severity} · ${view.time} · ${view.id}`,
      },
    ],
  };
}

/** What counts against the post limit: every text Mattermost renders. */
function renderedLength(p: ReturnType<typeof payload>): number {
  const [a] = p.attachments;
  if (!a) return p.text.length;
  return (
    p.text.length + (a.text?.length ?? 0) + a.fields.reduce((n, f) => n + f.title.length + f.value.length, 0)
  );
}

export function mattermostDestination(config: MattermostConfig): Destination {
  const template = config.template ? placeValues(compileTemplate(config.template), 'commonmark') : undefined;
  return {
    kind: 'mattermost',
    // Server rate limiting is off by default; when on, 10 requests a second per client.
    defaultRate: { perSecond: 10, burst: 10 },
    render(alert: Alert): RenderedRequest {
      const view = alertView(alert);
      const p = fitWithin(
        (scale) => {
          const main = template
            ? renderText(renderTemplate(template, view.variables), mattermostInline, scaled(MAIN, scale))
            : defaultMain(view, scale);
          return payload(view, main, scale);
        },
        (candidate) => renderedLength(candidate) <= MATTERMOST_MAX_POST,
      );
      return jsonRequest(config.url.reveal(), p);
    },
    classify(response: DestinationResponse) {
      // Mattermost answers 200 `ok`; its errors (a status with a JSON or text message) read as the default.
      return defaultClassify(response);
    },
  };
}
