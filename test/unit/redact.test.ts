import { describe, expect, it } from '@jest/globals';
import { isSecretName, REDACTED, redactFields, redactSecrets, snippet } from '../../src/util/redact.js';

/** A text a service or an error may echo, and the secrets in it. */
interface Echo {
  what: string;
  text: string;
  secrets: string[];
}

const QUERY_NAMES = ['token', 'key', 'sig', 'signature', 'access_token', 'api_key', 'apikey', 'password'];

const ECHOES: Echo[] = [
  {
    what: 'Alertmanager URL with basic auth',
    text: 'https://admin:hunter2pw@am.monitoring:9093/api/v2/alerts',
    secrets: ['hunter2pw'],
  },
  { what: 'credentials without a scheme', text: 'admin:hunter2pw@am:9093', secrets: ['hunter2pw'] },
  ...QUERY_NAMES.flatMap((name) => [
    {
      what: `${name}= in a URL`,
      text: `https://receiver.example.com/hook?${name}=QuerySecret42`,
      secrets: ['QuerySecret42'],
    },
    {
      what: `${name}= without a scheme`,
      text: `/hook?x=1&${name}=QuerySecret42`,
      secrets: ['QuerySecret42'],
    },
  ]),
  {
    what: 'Authorization: Bearer',
    text: 'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.BearerSecret',
    secrets: ['eyJhbGciOiJIUzI1NiJ9', 'BearerSecret'],
  },
  {
    what: 'Authorization: Basic',
    text: 'Authorization: Basic dXNlcjpodW50ZXIy',
    secrets: ['dXNlcjpodW50ZXIy'],
  },
  { what: 'a bare Bearer credential', text: 'sent Bearer BearerSecret99 to it', secrets: ['BearerSecret99'] },
  { what: 'X-Auth-Token header', text: 'X-Auth-Token: HeaderSecret1', secrets: ['HeaderSecret1'] },
  { what: 'X-Api-Key header', text: 'x-api-key: HeaderSecret2', secrets: ['HeaderSecret2'] },
  { what: 'headers as JSON', text: '{"Authorization":"Bearer HeaderSecret3"}', secrets: ['HeaderSecret3'] },
  { what: 'a token field in JSON', text: '{"ok":false,"token":"FieldSecret4"}', secrets: ['FieldSecret4'] },
  { what: 'a numeric api key in JSON', text: "{'api_key': 987654321}", secrets: ['987654321'] },
  {
    what: 'Slack webhook URL',
    text: 'https://hooks.slack.com/services/T0001/B0002/SlackPathSecret',
    secrets: ['T0001', 'B0002', 'SlackPathSecret'],
  },
  {
    what: 'Slack webhook path without scheme and host',
    text: 'no_service: /services/T0001/B0002/SlackPathSecret',
    secrets: ['SlackPathSecret'],
  },
  { what: 'Slack bot token', text: 'token xoxb-1234-5678-SlackBotSecret', secrets: ['SlackBotSecret'] },
  { what: 'Slack user token', text: 'xoxp-1234-5678-SlackUserSecret revoked', secrets: ['SlackUserSecret'] },
  {
    what: 'Telegram URL',
    text: 'https://api.telegram.org/bot123456:ABC-defTelegramSecret/sendMessage',
    secrets: ['ABC-defTelegramSecret'],
  },
  {
    what: 'Telegram path without scheme and host',
    text: 'POST /bot123456:ABC-defTelegramSecret/sendMessage failed',
    secrets: ['ABC-defTelegramSecret'],
  },
  { what: 'Telegram bot token anywhere', text: 'bot123:tokSecret', secrets: ['tokSecret'] },
  {
    what: 'a bare Telegram token',
    text: 'token 123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw is invalid',
    secrets: ['AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw'],
  },
  {
    what: 'Discord webhook URL',
    text: 'https://discord.com/api/webhooks/112233/DiscordTokenSecret',
    secrets: ['DiscordTokenSecret'],
  },
  {
    what: 'Discord webhook path without scheme and host',
    text: 'Unknown Webhook /api/webhooks/112233/DiscordTokenSecret',
    secrets: ['DiscordTokenSecret'],
  },
  {
    what: 'Mattermost URL',
    text: 'https://chat.example.com/hooks/mattermostid0123456789',
    secrets: ['mattermostid0123456789'],
  },
  {
    what: 'Mattermost path without scheme and host',
    text: 'no hook /hooks/mattermostid0123456789',
    secrets: ['mattermostid0123456789'],
  },
  {
    what: 'Power Automate workflow URL',
    text: 'https://prod-27.westeurope.logic.azure.com:443/workflows/0a1b2c/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=WorkflowSigSecret',
    secrets: ['WorkflowSigSecret', '0a1b2c'],
  },
  {
    what: 'Power Automate path without scheme and host',
    text: 'invoke?api-version=2016-06-01&sv=1.0&sig=WorkflowSigSecret',
    secrets: ['WorkflowSigSecret'],
  },
  {
    what: 'Teams connector URL',
    text: 'https://contoso.webhook.office.com/webhookb2/aaa@bbb/IncomingWebhook/TeamsSecret/ccc',
    secrets: ['TeamsSecret', 'contoso'],
  },
  {
    what: 'Google Chat URL',
    text: 'https://chat.googleapis.com/v1/spaces/AAAA/messages?key=ChatKeySecret&token=ChatTokenSecret',
    secrets: ['ChatKeySecret', 'ChatTokenSecret'],
  },
  {
    what: 'Google Chat query without scheme and host',
    text: 'messages?key=ChatKeySecret&token=ChatTokenSecret',
    secrets: ['ChatKeySecret', 'ChatTokenSecret'],
  },
  {
    what: 'a capability host (the host itself is the secret)',
    text: 'https://eo1a2b3cHostSecret.m.pipedream.net',
    secrets: ['eo1a2b3cHostSecret'],
  },
];

/** The ways a body carries an echo: as is, in JSON, with JSON's escaped slashes, quoted, URL-encoded. */
const FORMS: Array<[string, (text: string) => string]> = [
  ['as is', (t) => t],
  ['in a JSON body', (t) => JSON.stringify({ ok: false, error: t })],
  ['in JSON with escaped slashes', (t) => JSON.stringify({ description: t }).replace(/\//g, '\\/')],
  ['in JSON inside JSON', (t) => JSON.stringify({ error: JSON.stringify({ detail: t }) })],
  ['in double quotes', (t) => `the service said "${t}" and stopped`],
  ['in single quotes', (t) => `unexpected '${t}'`],
  ['URL-encoded', (t) => `callback=${encodeURIComponent(t)}&x=1`],
  ['URL-encoded twice', (t) => `next=${encodeURIComponent(encodeURIComponent(t))}`],
];

describe('redactSecrets', () => {
  for (const echo of ECHOES) {
    it.each(FORMS)(`hides ${echo.what} %s`, (_form, wrap) => {
      const redacted = redactSecrets(wrap(echo.text));
      for (const secret of echo.secrets) expect(redacted).not.toContain(secret);
      expect(redacted).toContain(REDACTED);
    });
  }

  it("keeps a chat service's shared host and hides any other, which may itself be the secret", () => {
    expect(redactSecrets('https://hooks.slack.com/services/T0/B0/X')).toBe(
      'https://hooks.slack.com/<redacted>',
    );
    expect(redactSecrets('see https://discord.com/api/webhooks/1/x.')).toBe(
      'see https://discord.com/<redacted>',
    );
    expect(redactSecrets('https://api.telegram.org')).toBe('https://api.telegram.org');
    expect(redactSecrets('https://u:pw@hooks.slack.com/services/x')).toBe('https://<redacted>');
    expect(redactSecrets('https://user:pw@alertmanager:9093')).toBe('https://<redacted>');
    expect(redactSecrets('http://10.0.0.7:9093/api/v2/alerts')).toBe('http://<redacted>');
    expect(redactSecrets('https://receiver.example.com')).toBe('https://<redacted>');
  });

  it('leaves alone what carries no secret', () => {
    for (const text of [
      'HTTP 400: invalid_payload',
      '{"ok":false,"error":"invalid_auth"}',
      '{"message": "Invalid Webhook Token", "code": 50027}',
      'Bad Request: chat not found',
      'connection failed: ECONNREFUSED (connect ECONNREFUSED 127.0.0.1:9)',
      'cannot read secret file /etc/perch/token: ENOENT',
      'expected unix:///path/to.sock or HOST:PORT such as localhost:5060',
      'at file:///app/dist/cli.js:12:3',
      'sinks.hook.headers.X-Api-Key',
      'retry in 10:30, mail ops@example.com',
    ]) {
      expect(redactSecrets(text)).toBe(text);
    }
  });

  it('hides a header value that fetch refuses and quotes', () => {
    const redacted = redactSecrets('Headers.append: "HeaderSecret5\n" is an invalid header value.');
    expect(redacted).toBe('Headers.append: "<redacted>" is an invalid header value.');
  });
});

describe('snippet', () => {
  it('is one line of at most max characters, redacted before it is cut', () => {
    const long = `${'x'.repeat(190)} /services/T0001/B0002/SlackPathSecret`;
    const cut = snippet(long, 200);
    expect(cut).not.toContain('Slack');
    expect(cut.length).toBeLessThanOrEqual(200);
    expect(snippet('line one\r\n\u001b[31mline two /bot1:tokSecret')).toBe(
      'line one [31mline two /bot<redacted>',
    );
  });
});

describe('redactFields', () => {
  const plain = (err: Error) => ({ type: err.name, message: err.message, stack: err.stack });

  it('redacts every string of a log record, hides credential fields, and opens errors', () => {
    const err = Object.assign(new TypeError('Invalid URL'), { input: 'https://u:UrlPassword@am:99999' });
    const fields = redactFields(
      {
        reason: 'HTTP 400: /services/T/B/SlackPathSecret',
        authorization: 'Basic dXNlcjpwYXNz',
        nested: { list: ['bot1:tokSecret', 3] },
        err,
        secret: { toJSON: () => '[secret]' },
      },
      (e) => ({ ...plain(e), input: (e as Error & { input: string }).input }),
    );
    const printed = JSON.stringify(fields);
    for (const secret of ['SlackPathSecret', 'dXNlcjpwYXNz', 'tokSecret', 'UrlPassword'])
      expect(printed).not.toContain(secret);
    expect(fields).toMatchObject({
      authorization: REDACTED,
      nested: { list: ['bot<redacted>', 3] },
      err: { type: 'TypeError', message: 'Invalid URL', input: 'https://<redacted>' },
      secret: '[secret]',
    });
  });
});

describe('isSecretName', () => {
  it('knows the names credentials go by', () => {
    for (const name of [
      'token',
      'botToken',
      'signingSecret',
      'Authorization',
      'X-Api-Key',
      'password',
      'Cookie',
    ])
      expect(isSecretName(name)).toBe(true);
    for (const name of ['url', 'urls', 'timeout', 'chatId', 'key', 'reason'])
      expect(isSecretName(name)).toBe(false);
  });
});
