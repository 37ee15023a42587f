/**
 * Microsoft Teams through a Workflows ("When a Teams webhook request is received") webhook: an
 * Adaptive Card in a `message` envelope. Office 365 connectors and MessageCard are retired, so not used.
 *
 * Escaping: TextBlock and FactSet text is Markdown (bold, italic, lists, `[text](url)` links), so
 * untrusted values there get a backslash before `\ * _ ~ \` [ ] ( ) < > # |` and before a leading list
 * marker. Falco's output, where an exact command line matters most, goes in a RichTextBlock TextRun,
 * which Teams never reads as Markdown, so it needs no escaping at all. In both, `://` and every dot of
 * a domain or e-mail address get an invisible word joiner so no untrusted link is formed. Mentions
 * need explicit `msteams.entities`, which Perch never sends.
 */
import type { SinkConfig } from '../../config/schema.js';
import { defaultClassify } from '../../delivery/classify.js';
import type { Destination, DestinationResponse, RenderedRequest } from '../../delivery/destination.js';
import { Priority } from '../../events/priority.js';
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
  renderText,
  scaled,
  type Text,
  unlink,
  utf8Length,
} from './text.js';

export type TeamsConfig = Pick<Extract<SinkConfig, { type: 'teams' }>, 'url' | 'template'>;

/** Teams rejects messages over about 28 KB; the margin covers its own accounting of the envelope. */
export const TEAMS_MAX_BYTES = 27_000;

const MARKDOWN = new Set(['\\', '*', '_', '~', '`', '[', ']', '(', ')', '<', '>', '#', '|']);

export const teamsInline: InlineMarkup = (raw, max) => {
  // A value starting with `- `, `+ ` or `1. ` would become a list.
  const listMarker = /^(\s*)([-+]|\d+\.)(?=\s)/.exec(raw);
  const text = listMarker ? `${listMarker[1]}\\${listMarker[2]}${raw.slice(listMarker[0].length)}` : raw;
  const escaped = unlink(text);
  let leading = listMarker ? (listMarker[1]?.length ?? 0) : -1;
  return escapeWithin(
    escaped,
    (ch) => {
      // The backslash added for a list marker is ours: keep it as it is.
      if (leading-- === 0) return ch;
      return MARKDOWN.has(ch) ? `\\${ch}` : ch;
    },
    max,
  );
};

/** TextRun text is never Markdown: only the auto-linker needs defusing. */
const textRun: InlineMarkup = (raw, max) => escapeWithin(unlink(raw), (ch) => ch, max);

/** Markdown in a TextBlock needs a blank line for a line break. */
const paragraphs = (s: string) => s.replace(/\n+/g, '\n\n');

function colour(priority: Priority): string {
  if (priority >= Priority.Error) return 'Attention';
  if (priority === Priority.Warning) return 'Warning';
  if (priority >= Priority.Informational) return 'Accent';
  return 'Default';
}

const textBlock = (text: string, extra: Record<string, unknown> = {}) => ({
  type: 'TextBlock',
  text,
  wrap: true,
  ...extra,
});

const monospace = (text: string) => ({
  type: 'RichTextBlock',
  inlines: [{ type: 'TextRun', text, fontType: 'Monospace' }],
});

function defaultMain(view: AlertView, scale: number): unknown[] {
  const out: unknown[] = [];
  if (view.summary) out.push(textBlock(renderText(view.summary, teamsInline, scaled(1000, scale))));
  if (view.why.length > 0) {
    out.push(
      textBlock(`**Why:** ${renderText(joinText(view.why, ' · '), teamsInline, scaled(1000, scale))}`),
    );
  }
  if (view.output) {
    out.push(textBlock(`**${view.outputLabel}**`, { spacing: 'Medium' }));
    out.push(monospace(renderText(view.output, textRun, scaled(8000, scale))));
  }
  return out;
}

function card(view: AlertView, main: unknown[], scale: number) {
  const body: unknown[] = [
    textBlock(renderText(view.title, teamsInline, 400), {
      weight: 'Bolder',
      size: 'Medium',
      color: colour(view.priority),
    }),
    ...main,
  ];
  const facts = allFacts(view).map((f) => ({
    title: f.label,
    value: renderText(f.value, teamsInline, scaled(400, scale)),
  }));
  if (facts.length > 0) body.push({ type: 'FactSet', facts });
  if (view.timeline.length > 0) {
    body.push(textBlock('**Timeline**', { spacing: 'Medium' }));
    const perLine = scaled(400, scale);
    for (const line of view.timeline) body.push(monospace(renderText(line, textRun, perLine)));
  }
  body.push(
    textBlock(`Perch · ${view.kind} · ${view.severity} · ${view.time} · ${view.id}`, {
      isSubtle: true,
      size: 'Small',
    }),
  );
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          // 1.4: RichTextBlock and fontType, well inside what Teams renders (≤ 1.5).
          version: '1.4',
          msteams: { width: 'Full' },
          body,
        },
      },
    ],
  };
}

function templateMain(text: Text, scale: number): unknown[] {
  const rendered = renderText(text, teamsInline, scaled(12_000, scale), { trusted: paragraphs });
  return rendered.trim() ? [textBlock(rendered)] : [];
}

export function teamsDestination(config: TeamsConfig): Destination {
  const template = config.template ? placeValues(compileTemplate(config.template), 'teams') : undefined;
  return {
    kind: 'teams',
    // Workflows has no published per-second limit; the old connectors allowed 4 a second.
    defaultRate: { perSecond: 1, burst: 4 },
    render(alert: Alert): RenderedRequest {
      const view = alertView(alert);
      return fitWithin(
        (scale) => {
          const main = template
            ? templateMain(renderTemplate(template, view.variables), scale)
            : defaultMain(view, scale);
          return jsonRequest(config.url.reveal(), card(view, main, scale));
        },
        (request) => utf8Length(request.body) <= TEAMS_MAX_BYTES,
      );
    },
    classify(response: DestinationResponse) {
      // Workflows answer 202. The retired connectors could answer 200 with a throttling error inside.
      if (response.status < 300 && /HTTP error 429/i.test(response.body)) {
        return { kind: 'retry', reason: 'Teams reported HTTP error 429 inside a 2xx answer' };
      }
      if (response.status === 413)
        return { kind: 'rejected', reason: 'HTTP 413: the card is too large for Teams' };
      return defaultClassify(response);
    },
  };
}
