/**
 * Slack incoming webhook: Block Kit inside one legacy attachment, for the priority's colour bar.
 *
 * Escaping: Slack's control sequences (`<!channel>`, `<@U…>`, `<https://x|y>`, dates) all need a
 * literal `<`, so `&`, `<` and `>` become entities in every untrusted value. Untrusted values are also
 * set in code spans so `*bold*`, `_x_` and `~x~` stay literal; Slack has no escape for a backtick, so a
 * backtick inside a value is shown as the look-alike `ˋ` (U+02CB) to keep the span closed. Every mrkdwn
 * object is `verbatim`, which stops Slack from turning bare URLs and names into links. The top-level
 * notification text cannot be verbatim: there values are code spans too, with links broken as well.
 */
import type { HeaderBlock, KnownBlock, MessageAttachment, MrkdwnElement, SectionBlock } from '@slack/types';

import type { SinkConfig } from '../../config/schema.js';
import { defaultClassify } from '../../delivery/classify.js';
import type { Destination, DestinationResponse, RenderedRequest } from '../../delivery/destination.js';
import type { Alert } from '../../pipeline/alert.js';
import { type AlertView, alertView, allFacts } from './alert-view.js';
import { jsonRequest } from './http.js';
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
  type Text,
  unlink,
  wrapWithin,
} from './text.js';

export type SlackConfig = Pick<Extract<SinkConfig, { type: 'slack' }>, 'url' | 'template'>;

export const SLACK_LIMITS = {
  header: 150,
  section: 3000,
  field: 2000,
  fieldsPerSection: 10,
  blocks: 50,
  /** Slack cuts longer messages itself; staying below keeps the cut ours, with its marker. */
  message: 40_000,
} as const;

const FACT_VALUE = 500;

function slackChar(ch: string): string {
  if (ch === '&') return '&amp;';
  if (ch === '<') return '&lt;';
  if (ch === '>') return '&gt;';
  return ch;
}

const codeChar = (ch: string) => (ch === '`' ? '\u02cb' : slackChar(ch));

/** Untrusted values in mrkdwn: entities, inside a code span. */
export const slackInline: InlineMarkup = (raw, max) => wrapWithin(raw, codeChar, max, '`', '`');
/** Untrusted values in plain_text (never formatted): entities only. */
const slackPlain: InlineMarkup = (raw, max) => escapeWithin(raw, slackChar, max);
/** The notification text is not verbatim, so Slack may link a URL even in code: links are broken too. */
const slackNotice: InlineMarkup = (raw, max) => wrapWithin(unlink(raw), codeChar, max, '`', '`');

/** What Slack's incoming webhook takes from Perch. */
export interface SlackWebhookMessage {
  text: string;
  attachments: MessageAttachment[];
}

function codeBlock(text: Text, max: number): string {
  // One span for the whole block: the pieces' own code spans would nest badly inside ```.
  const inner = renderText(text, (raw, m) => escapeWithin(raw, codeChar, m), max - 6);
  return inner ? `\`\`\`${inner}\`\`\`` : '';
}

function defaultMain(view: AlertView, scale: number): string {
  const lines: string[] = [];
  if (view.summary) lines.push(renderText(view.summary, slackInline, scaled(600, scale)));
  if (view.why.length > 0)
    lines.push(`*Why:* ${renderText(joinText(view.why, ' · '), slackInline, scaled(500, scale))}`);
  if (view.output) {
    const label = `*${view.outputLabel}:*\n`;
    // The output gets what the section has left: it is the part most worth reading.
    const used = lines.reduce((n, line) => n + line.length + 1, 0) + label.length;
    lines.push(
      label +
        codeBlock(view.output, Math.min(scaled(SLACK_LIMITS.section, scale), SLACK_LIMITS.section - used)),
    );
  }
  return lines.join('\n');
}

const mrkdwn = (text: string): MrkdwnElement => ({ type: 'mrkdwn', text, verbatim: true });

function blocks(view: AlertView, main: string, scale: number): KnownBlock[] {
  const header: HeaderBlock = {
    type: 'header',
    text: {
      type: 'plain_text',
      text: renderText(view.title, slackPlain, SLACK_LIMITS.header),
      emoji: false,
    },
  };
  const out: KnownBlock[] = [header];
  if (main.trim()) out.push({ type: 'section', text: mrkdwn(main) });
  const fields = allFacts(view).map((f) =>
    mrkdwn(`*${f.label}*\n${renderText(f.value, slackInline, scaled(FACT_VALUE, scale))}`),
  );
  for (let i = 0; i < fields.length; i += SLACK_LIMITS.fieldsPerSection) {
    const section: SectionBlock = {
      type: 'section',
      fields: fields.slice(i, i + SLACK_LIMITS.fieldsPerSection),
    };
    out.push(section);
  }
  if (view.timeline.length > 0) {
    const label = '*Timeline*\n';
    const max = Math.min(scaled(SLACK_LIMITS.section, scale), SLACK_LIMITS.section - label.length);
    out.push({
      type: 'section',
      text: mrkdwn(label + renderLines(view.timeline, slackInline, max)),
    });
  }
  out.push({
    type: 'context',
    elements: [mrkdwn(`Perch · ${view.kind} · ${view.severity} · ${view.time} · ${view.id}`)],
  });
  return out.slice(0, SLACK_LIMITS.blocks);
}

/** Slack's error strings (in the body, with the status) that mean the webhook itself is gone. */
const SLACK_ERRORS: Record<string, string> = {
  no_service: 'the webhook was disabled, removed or is invalid',
  invalid_token: 'the webhook token is invalid',
  team_disabled: 'the workspace is disabled',
  channel_not_found: 'the channel no longer exists',
  channel_is_archived: 'the channel is archived',
  action_prohibited: 'the workspace does not allow posting here',
  invalid_payload: 'Slack could not read the message (a Perch bug: please report it)',
};

export function slackDestination(config: SlackConfig): Destination {
  const template = config.template ? placeValues(compileTemplate(config.template), 'slack') : undefined;
  return {
    kind: 'slack',
    // Slack: about one message a second, short bursts tolerated.
    defaultRate: { perSecond: 1, burst: 3 },
    render(alert: Alert): RenderedRequest {
      const view = alertView(alert);
      const text = renderText(view.title, slackNotice, 300);
      return fitWithin(
        (scale) => {
          const main = template
            ? renderText(renderTemplate(template, view.variables), slackInline, SLACK_LIMITS.section)
            : defaultMain(view, scale);
          const payload: SlackWebhookMessage = {
            text,
            attachments: [{ color: view.colour, fallback: text, blocks: blocks(view, main, scale) }],
          };
          return jsonRequest(config.url.reveal(), payload);
        },
        (request) => request.body.length <= SLACK_LIMITS.message,
      );
    },
    classify(response: DestinationResponse) {
      const code = response.body.trim();
      const meaning = SLACK_ERRORS[code];
      return meaning
        ? defaultClassify(response, Date.now(), `: ${code} (${meaning})`)
        : defaultClassify(response);
    },
  };
}
