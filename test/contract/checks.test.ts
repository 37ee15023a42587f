/**
 * The contract checks themselves: each must reject the payload shapes that would ping, link, format,
 * break a character or break a limit, or the destination contracts would pass by proving nothing.
 */
import { describe, expect, it } from '@jest/globals';
import {
  discordProblems,
  googleChatProblems,
  type Json,
  mattermostProblems,
  slackProblems,
  teamsProblems,
  telegramProblems,
  universalProblems,
} from './checks/destination-checks.js';
import { FAMILY } from './hostile-corpus.js';

const slack = (text: string, mrkdwn = 'ok', verbatim = true): Json => ({
  text,
  attachments: [
    {
      fallback: text,
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: 'title' } },
        { type: 'section', text: { type: 'mrkdwn', text: mrkdwn, verbatim } },
      ],
    },
  ],
});
const slackRun = (body: Json) => slackProblems(body, JSON.stringify(body));

describe('slack checks', () => {
  it('pass a sound message', () => {
    expect(slackRun(slack('[CRITICAL] `rule`', '*Why:* `a *b0ld* &lt;!channel&gt;`'))).toEqual([]);
  });

  it('reject raw tokens, live formatting, a span an empty value broke, and mrkdwn that is not verbatim', () => {
    expect(slackRun(slack('ok', '`x` <!channel>'))).toContainEqual(expect.stringMatching(/raw < or >/));
    expect(slackRun(slack('ok', '`x` *b0ld*'))).toContainEqual(expect.stringMatching(/live bold/));
    // "in `{{workload}}`: {{output}}" with no workload: the two backticks pair with nothing sound.
    expect(slackRun(slack('ok', 'in ``: `x`'))).toContainEqual(expect.stringMatching(/live code span/));
    expect(slackRun(slack('ok', 'a', false))).toContainEqual(expect.stringMatching(/without verbatim/));
  });

  it('reject a notification text with a live URL or bold, even inside code', () => {
    const problems = slackRun(slack('[CRITICAL] *b0ld* `https://evil.example`'));
    expect(problems).toContainEqual(expect.stringMatching(/\$\.text: live bold/));
    expect(problems).toContainEqual(expect.stringMatching(/\$\.text: live URL/));
  });

  it('reject a header over 150 characters', () => {
    const body = slack('ok');
    const [attachment] = body.attachments as { blocks: { text: Json }[] }[];
    const header = attachment?.blocks[0];
    if (header) header.text.text = 'x'.repeat(151);
    expect(slackRun(body)).toContainEqual(expect.stringMatching(/151 over the limit of 150/));
  });
});

describe('mattermost checks', () => {
  const post = (text: string): Json => ({ text, attachments: [{ fallback: 'f', fields: [] }] });

  it('pass values in code spans', () => {
    expect(mattermostProblems(post('**T** in `` a`b @channel ``'))).toEqual([]);
  });

  it('reject what an empty value in a template code span let out', () => {
    // "in `{{workload}}`: {{output}}" with no workload and an output holding a backtick.
    const problems = mattermostProblems(
      post('**T** in ``: `` a`b @channel [click](https://evil.example) ``'),
    );
    expect(problems).toContainEqual(expect.stringMatching(/live channel-wide mention/));
    expect(problems).toContainEqual(expect.stringMatching(/live Markdown link/));
  });

  it('reject a fallback that would notify', () => {
    const body: Json = { text: 'x', attachments: [{ fallback: 'hi @here', fields: [] }] };
    expect(mattermostProblems(body)).toContainEqual(expect.stringMatching(/fallback: live channel-wide/));
  });
});

describe('discord checks', () => {
  const embed = (title: string): Json => ({ title, fields: [], footer: { text: 'f' } });

  it('pass escaped text with mentions off', () => {
    expect(
      discordProblems({ allowed_mentions: { parse: [] }, embeds: [embed('\\<\\@123\\> \\@everyone')] }),
    ).toEqual([]);
  });

  it('reject mentions left on, raw mention syntax, and more than 6000 characters', () => {
    expect(discordProblems({ embeds: [embed('x')] })).toContainEqual(
      expect.stringMatching(/allowed_mentions/),
    );
    expect(
      discordProblems({ allowed_mentions: { parse: [] }, embeds: [embed('<@&654321>')] }),
    ).toContainEqual(expect.stringMatching(/angle-bracket token/));
    const big = {
      ...embed('x'),
      description: 'y'.repeat(4096),
      fields: [{ name: 'n', value: 'v'.repeat(1024) }],
    };
    const twice = { allowed_mentions: { parse: [] }, embeds: [big, big] };
    expect(discordProblems(twice)).toContainEqual(
      expect.stringMatching(/across embeds: \d+ over the limit of 6000/),
    );
  });
});

describe('teams checks', () => {
  const message = (body: unknown[]): Json => ({
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        content: { type: 'AdaptiveCard', version: '1.4', body },
      },
    ],
  });
  const run = (body: Json) => teamsProblems(body, JSON.stringify(body));

  it('pass a card the Adaptive Cards library accepts', () => {
    expect(run(message([{ type: 'TextBlock', text: '\\[click\\]\\(x\\)', wrap: true }]))).toEqual([]);
  });

  it('reject a card the library does not accept and live Markdown links', () => {
    expect(run(message([{ type: 'Bogus' }]))).toContainEqual(expect.stringMatching(/UnknownElementType/));
    expect(run(message([{ type: 'TextBlock', text: '[click](https://evil.example)' }]))).toContainEqual(
      expect.stringMatching(/live Markdown link/),
    );
  });
});

describe('google chat checks', () => {
  const card = (html: string, text = 'ok'): Json => ({
    text,
    cardsV2: [
      { card: { header: { title: 't' }, sections: [{ widgets: [{ textParagraph: { text: html } }] }] } },
    ],
  });
  const run = (body: Json) => googleChatProblems(body, JSON.stringify(body));

  it('pass escaped card HTML', () => {
    expect(run(card('<b>Why:</b> &lt;users/all&gt; evil.\u2060example'))).toEqual([]);
  });

  it('reject unsupported tags, bare domains, links elsewhere and Chat markup in the text line', () => {
    expect(run(card('<script>x</script>'))).toContainEqual(expect.stringMatching(/unsupported tag/));
    expect(run(card('mallory@evil.example'))).toContainEqual(expect.stringMatching(/live bare domain/));
    expect(run(card('<a href="https://evil.example/">x</a>'))).toContainEqual(
      expect.stringMatching(/link to evil/),
    );
    expect(run(card('ok', '<users/all> *b0ld*'))).toContainEqual(expect.stringMatching(/raw < or >/));
  });
});

describe('telegram checks', () => {
  const message = (text: string): Json => ({
    text,
    parse_mode: 'HTML',
    link_preview_options: { is_disabled: true },
  });

  it('pass values in code with formatting around them', () => {
    expect(telegramProblems(message('<b>[CRITICAL] </b><code>@alice evil.example</code>'))).toEqual([]);
  });

  it('reject code inside bold, unclosed tags, live usernames and links, and over 4096 characters', () => {
    expect(telegramProblems(message('<b><code>x</code></b>'))).toContainEqual(
      expect.stringMatching(/<code> inside <b>/),
    );
    expect(telegramProblems(message('<b>x'))).toContainEqual(expect.stringMatching(/never closed/));
    expect(telegramProblems(message('hi @alice at evil.example'))).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/live user mention/),
        expect.stringMatching(/live bare domain/),
      ]),
    );
    expect(telegramProblems(message('x'.repeat(4097)))).toContainEqual(
      expect.stringMatching(/over the limit of 4096/),
    );
  });
});

describe('checks for every payload', () => {
  it('reject a cut emoji sequence, a lone surrogate and raw bidi or control characters', () => {
    const cut = FAMILY.slice(0, 3);
    expect(universalProblems({ a: `${cut}… [truncated]` })).toContainEqual(
      expect.stringMatching(/cut apart/),
    );
    expect(universalProblems({ a: 'x\ud83d' })).toContainEqual(expect.stringMatching(/surrogate/));
    expect(universalProblems({ a: 'exe\u202etxt' })).toContainEqual(expect.stringMatching(/bidi/));
    expect(universalProblems({ a: '\u001b[31m' })).toContainEqual(expect.stringMatching(/control/));
    expect(universalProblems({ a: `${FAMILY} ok` })).toEqual([]);
  });
});
