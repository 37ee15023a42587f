/**
 * Discord webhook: one embed (colour bar, fields) with every mention disabled.
 *
 * Escaping: `allowed_mentions: {parse: []}` stops `@everyone`, `@here`, user and role pings whatever
 * the text says. Markdown in untrusted values is escaped with a backslash before every character
 * Discord's Markdown gives a meaning (`* _ ~ \` | > # - [ ] ( ) < : @ !` and the backslash itself):
 * that keeps `[x](https://evil)` from becoming a masked link, `<@123>` from rendering as a mention,
 * and, with `:` escaped, `https://…` from being auto-linked or `:emoji:` from being drawn; bare domains
 * and e-mail addresses get an invisible word joiner after each dot. A value a template sets in code is
 * a code span, with any backtick in it shown as the look-alike `ˋ` (U+02CB) so the span stays closed.
 */
import type { APIEmbed, RESTPostAPIWebhookWithTokenJSONBody } from 'discord-api-types/v10';
import type { SinkConfig } from '../../config/schema.js';
import { defaultClassify } from '../../delivery/classify.js';
import type {
  DeliveryVerdict,
  Destination,
  DestinationResponse,
  RenderedRequest,
} from '../../delivery/destination.js';
import type { Alert } from '../../pipeline/alert.js';
import { type AlertView, alertView, allFacts } from './alert-view.js';
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
  wrapWithin,
} from './text.js';

export type DiscordConfig = Pick<Extract<SinkConfig, { type: 'discord' }>, 'url' | 'template'>;

export const DISCORD_LIMITS = {
  title: 256,
  description: 4096,
  fields: 25,
  fieldName: 256,
  fieldValue: 1024,
  footer: 2048,
  /** Title, description, field names and values and footer, across all embeds of a message. */
  embedsTotal: 6000,
} as const;

const MARKDOWN = new Set([
  '\\',
  '*',
  '_',
  '~',
  '`',
  '|',
  '>',
  '#',
  '-',
  '[',
  ']',
  '(',
  ')',
  '<',
  ':',
  '@',
  '!',
]);

const escapeMarkdown = (ch: string) => (MARKDOWN.has(ch) ? `\\${ch}` : ch);
const codeChar = (ch: string) => (ch === '`' ? '\u02cb' : ch);

export const discordInline: InlineMarkup = (raw, max, piece) =>
  piece.code ? wrapWithin(raw, codeChar, max, '`', '`') : escapeWithin(unlink(raw), escapeMarkdown, max);

interface Field {
  name: string;
  value: string;
  inline: boolean;
}

function defaultMain(view: AlertView, scale: number): string {
  const lines: string[] = [];
  if (view.summary) lines.push(renderText(view.summary, discordInline, scaled(800, scale)));
  if (view.why.length > 0)
    lines.push(`**Why:** ${renderText(joinText(view.why, ' · '), discordInline, scaled(600, scale))}`);
  if (view.output) {
    const label = `**${view.outputLabel}:** `;
    const used = lines.reduce((n, line) => n + line.length + 1, 0) + label.length;
    const max = Math.min(scaled(2500, scale), DISCORD_LIMITS.description - used);
    lines.push(label + renderText(view.output, discordInline, max));
  }
  return lines.join('\n');
}

/** Perch's embed: always with a title, fields and a footer (what embedLength counts). */
type Embed = APIEmbed & Required<Pick<APIEmbed, 'title' | 'fields' | 'footer'>>;

function embed(view: AlertView, description: string, scale: number): Embed {
  const fields: Field[] = allFacts(view).map((f) => ({
    name: f.label,
    value: renderText(f.value, discordInline, scaled(300, scale)),
    inline: true,
  }));
  if (view.timeline.length > 0) {
    const value = renderLines(view.timeline, discordInline, scaled(DISCORD_LIMITS.fieldValue, scale));
    fields.push({ name: 'Timeline', value, inline: false });
  }
  return {
    title: renderText(view.title, discordInline, DISCORD_LIMITS.title),
    // Discord trims values and rejects an empty one.
    ...(description.trim() ? { description } : {}),
    color: Number.parseInt(view.colour.slice(1), 16),
    fields: fields.filter((f) => f.value.trim() !== '').slice(0, DISCORD_LIMITS.fields),
    footer: { text: `Perch · ${view.kind} · ${view.severity} · ${view.id}` },
    timestamp: new Date(view.timeMs).toISOString(),
  };
}

function embedLength(e: Embed): number {
  return (
    e.title.length +
    (e.description?.length ?? 0) +
    e.fields.reduce((n, f) => n + f.name.length + f.value.length, 0) +
    e.footer.text.length
  );
}

export function discordDestination(config: DiscordConfig): Destination {
  const template = config.template ? placeValues(compileTemplate(config.template), 'commonmark') : undefined;
  return {
    kind: 'discord',
    // Discord publishes no fixed webhook rate (per-route buckets); its 429 answers say how long to wait.
    defaultRate: { perSecond: 1, burst: 5 },
    render(alert: Alert): RenderedRequest {
      const view = alertView(alert);
      const e = fitWithin(
        (scale) => {
          const description = template
            ? renderText(
                renderTemplate(template, view.variables),
                discordInline,
                scaled(DISCORD_LIMITS.description, scale),
              )
            : defaultMain(view, scale);
          return embed(view, description, scale);
        },
        (candidate) => embedLength(candidate) <= DISCORD_LIMITS.embedsTotal,
      );
      const payload: RESTPostAPIWebhookWithTokenJSONBody = { allowed_mentions: { parse: [] }, embeds: [e] };
      return jsonRequest(config.url.reveal(), payload);
    },
    classify(response: DestinationResponse): DeliveryVerdict {
      if (response.status === 429) {
        // The JSON body's retry_after (seconds, fractional) is more precise than Retry-After.
        const retryAfter = parseJsonObject(response.body)?.retry_after;
        if (typeof retryAfter === 'number' && Number.isFinite(retryAfter) && retryAfter >= 0) {
          return { kind: 'retry', reason: 'HTTP 429 (rate limited)', afterMs: Math.ceil(retryAfter * 1000) };
        }
      }
      if (response.status === 404) {
        return {
          kind: 'rejected',
          reason: 'HTTP 404: the webhook was deleted; Discord asks to stop using it',
        };
      }
      return defaultClassify(response);
    },
  };
}
