import { describe, expect, it } from '@jest/globals';
import { configSchema } from '../../src/config/schema.js';
import { Secret } from '../../src/config/secret.js';
import { parseFalcoJson } from '../../src/events/parse-falco-json.js';
import { alertFromEvent, type EventAlert } from '../../src/pipeline/alert.js';
import { sinkProblems } from '../../src/sinks/check-sinks.js';
import { formatAlertLine } from '../../src/sinks/console-format.js';
import { discordDestination } from '../../src/sinks/destinations/discord.js';
import { googleChatDestination } from '../../src/sinks/destinations/google-chat.js';
import { finishHtml } from '../../src/sinks/destinations/html-tags.js';
import { mattermostDestination } from '../../src/sinks/destinations/mattermost.js';
import { slackDestination } from '../../src/sinks/destinations/slack.js';
import { teamsDestination } from '../../src/sinks/destinations/teams.js';
import { telegramDestination } from '../../src/sinks/destinations/telegram.js';
import { escapeWithin, renderText, TRUNCATED, unlink, untrusted } from '../../src/sinks/destinations/text.js';
import { clipText, escapeControlChars } from '../../src/sinks/untrusted-text.js';
import { CURRENT_ALERT } from '../fixtures/falco-alerts.js';
import { podContext } from '../fixtures/pod-context.js';

const URL = new Secret('https://hooks.example.com/services/x');
const TELEGRAM = { botToken: new Secret('1:x'), chatId: '-100', apiUrl: 'https://api.telegram.org' };
const FAMILY = '👩\u200d👩\u200d👧\u200d👦';

/** An alert on a host (no workload, pod or namespace) or in a pod, with this rule and command. */
function alert(rule: string, command: string, inPod = true): EventAlert {
  const doc = JSON.parse(CURRENT_ALERT) as Record<string, unknown>;
  doc.rule = rule;
  doc.priority = 'Critical';
  doc.output = `09:15:02.123456789: Critical Shell (command=${command})`;
  return alertFromEvent(
    {
      event: parseFalcoJson(JSON.stringify(doc)),
      enrichment: inPod
        ? { outcome: 'container_id', pod: podContext({ workload: { kind: 'Deployment', name: 'api' } }) }
        : { outcome: 'host' },
    },
    0,
  );
}

const body = (raw: string) => JSON.parse(raw) as Record<string, unknown>;
type SlackBody = { attachments: { blocks: { text?: { text: string } }[] }[] };
const slackMain = (raw: string) => (JSON.parse(raw) as SlackBody).attachments[0]?.blocks[1]?.text?.text;

describe('templates keep values safe in the markup around them', () => {
  const DOCUMENTED = '**{{title}}** in `{{workload}}`: {{output}}';

  it('mattermost: an empty value in a code span leaves no fence, and a value with backticks has its own', () => {
    const raw = mattermostDestination({ url: URL, template: DOCUMENTED }).render(
      alert('R', 'a`b @channel', false),
    ).body;
    expect(body(raw).attachments).toMatchObject([
      { text: '**[CRITICAL] `R`** in : `` Shell (command=a`b @channel) ``' },
    ]);
    const inPod = mattermostDestination({ url: URL, template: DOCUMENTED }).render(alert('R', 'x'));
    expect(inPod.body).toContain('in `Deployment/api`: `Shell (command=x)`');
  });

  it('mattermost: backticks the author left unpaired are escaped, adjacent values kept apart', () => {
    const raw = mattermostDestination({ url: URL, template: 'it`s {{rule}}{{rule}}' }).render(
      alert('R', 'x'),
    ).body;
    expect(body(raw).attachments).toMatchObject([{ text: 'it\\`s `R`\u2060`R`' }]);
  });

  it('slack: values are code spans whatever the template wrote around them', () => {
    const destination = slackDestination({ url: URL, template: 'in `{{workload}}`, `ns/{{rule}}` it`s' });
    expect(slackMain(destination.render(alert('R*b*', 'x', false)).body)).toBe(
      'in , `ns/`\u2060`R*b*` it\u02cbs',
    );
  });

  it('discord: a value the author set in code is a code span, elsewhere escaped', () => {
    const raw = discordDestination({ url: URL, template: '`{{rule}}` {{rule}}' }).render(
      alert('a`*b*', 'x'),
    ).body;
    expect((body(raw).embeds as { description: string }[])[0]?.description).toBe('`a\u02cb*b*` a\\`\\*b\\*');
  });

  it('telegram: formatting stops before a value’s <code> and resumes after it', () => {
    const destination = telegramDestination({ ...TELEGRAM, template: '<b>Alert {{rule}} now</b>' });
    const text = body(destination.render(alert('R', 'x')).body).text as string;
    expect(text).toContain('\n\n<b>Alert </b><code>R</code><b> now</b>\n\n');
    expect(text.startsWith('🔴 <b>[CRITICAL] </b><code>R</code>\n')).toBe(true);
  });

  it('telegram: inside the author’s <pre> a value is escaped only; in an href it is URL-encoded', () => {
    const destination = telegramDestination({
      ...TELEGRAM,
      template: '<pre>{{rule}}</pre> <a href="https://dash.example/{{rule}}">go</a>',
    });
    const text = body(destination.render(alert('<x> "q" \'s/../', 'x')).body).text as string;
    expect(text).toContain(
      '<pre>&lt;x&gt; &quot;q&quot; \'s/../</pre> <a href="https://dash.example/%3Cx%3E%20%22q%22%20%27s%2F..%2F">go</a>',
    );
  });

  it('telegram: a link split around a value keeps its target on both sides', () => {
    const destination = telegramDestination({
      ...TELEGRAM,
      template: '<a href="https://dash.example/{{rule}}">Rule {{rule}} logs</a>',
    });
    expect(body(destination.render(alert('R', 'x')).body).text).toContain(
      '<a href="https://dash.example/R">Rule </a><code>R</code><a href="https://dash.example/R"> logs</a>',
    );
  });

  it('google chat: a value in an href is URL-encoded, so it cannot move the link', () => {
    const template = '<a href="https://dash.example/{{rule}}">x</a>';
    const raw = googleChatDestination({ url: URL, template }).render(alert('//evil.example', 'x'));
    expect(raw.body).toContain('href=\\"https://dash.example/%2F%2Fevil.example\\"');
  });

  it('telegram: a template Telegram would refuse fails at start and in perch check', () => {
    expect(() => telegramDestination({ ...TELEGRAM, template: '<b>{{rule}}' })).toThrow(/<b> has no <\/b>/);
    expect(() => telegramDestination({ ...TELEGRAM, template: '<div>{{rule}}</div>' })).toThrow(
      /<div> is not supported/,
    );
    expect(() => telegramDestination({ ...TELEGRAM, template: '1 < 2 {{rule}}' })).toThrow(
      /write a literal '<' as &lt;/,
    );
    expect(() => telegramDestination({ ...TELEGRAM, template: '<b><code>x</code></b>' })).toThrow(
      /<code> inside <b>: Telegram drops that formatting/,
    );
    const config = configSchema.parse({
      sinks: {
        tg: { type: 'telegram', botToken: '1:x', chatId: -100, template: '<i>{{rule}}' },
        slack: { type: 'slack', url: 'https://hooks.example.com/x', template: '<i>{{rule}}' },
      },
    });
    expect(sinkProblems(config.sinks)).toEqual(['sinks.tg.template: Telegram HTML: <i> has no </i>']);
  });
});

describe('cuts', () => {
  it('never split an emoji sequence or a letter from its accents', () => {
    const identity = (c: string) => c;
    expect(escapeWithin(`ab${FAMILY}`, identity, 5)).toEqual({ text: 'ab', cut: true });
    expect(escapeWithin('abe\u0301\u0323z', identity, 4)).toEqual({ text: 'ab', cut: true });
    expect(escapeWithin('abe\u0301\u0323z', identity, 5)).toEqual({ text: 'abe\u0301\u0323', cut: true });
    expect(clipText(`ab${FAMILY}cd`, 6)).toBe('ab…');
  });

  it('close the HTML elements a cut leaves open, and drop a tag cut before its end', () => {
    expect(finishHtml('<b>a <i>b')).toBe('<b>a <i>b</i></b>');
    expect(finishHtml('<b>a</b><br><a href="https://x/%41')).toBe('<b>a</b><br>');
    const text = ['<pre>', untrusted('x'.repeat(100)), '</pre>'];
    const rendered = renderText(text, (raw, max) => escapeWithin(raw, (c) => c, max), 40, {
      finish: finishHtml,
    });
    expect(rendered).toBe(`<pre>${'x'.repeat(16)}</pre>${TRUNCATED}`);
  });
});

describe('links are broken where values cannot be code', () => {
  it('bare domains, e-mail addresses and schemes get a word joiner; versions do not', () => {
    expect(unlink('see https://evil.example or mallory@evil.example, v1.4')).toBe(
      'see https:\u2060//evil.\u2060example or mallory@evil.\u2060example, v1.4',
    );
  });

  it('teams and slack notifications carry no live bare domain', () => {
    const teams = teamsDestination({ url: URL }).render(alert('go evil.example', 'x')).body;
    expect(teams).toContain('go evil.\u2060example');
    const slack = body(slackDestination({ url: URL }).render(alert('*b* evil.example', 'x')).body);
    expect(slack.text).toBe('[CRITICAL] `*b* evil.\u2060example`');
  });
});

describe('the console', () => {
  it('escapes bidi and invisible characters and cuts a long rule', () => {
    expect(escapeControlChars('a\u202eb\u200bc\u200dd')).toBe('a\\u202eb\\u200bc\u200dd');
    const line = formatAlertLine(alert(`${'r'.repeat(10_000)}`, 'x'), false);
    expect(line).toContain(`${'r'.repeat(199)}…`);
    expect(line).not.toContain('r'.repeat(200));
  });
});
