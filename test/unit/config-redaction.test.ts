import { describe, expect, it } from '@jest/globals';
import { ConfigError } from '../../src/config/config-error.js';
import { validateConfig } from '../../src/config/load-config.js';

function problemsOf(raw: unknown, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    validateConfig(raw, 'test', env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => `${p.path}: ${p.message}`);
    throw err;
  }
  throw new Error('expected a ConfigError');
}

const PASSWORD = 'hunter2pw';
const AM_URL = `https://admin:${PASSWORD}@am.monitoring:9093`;

describe('config errors never quote a secret', () => {
  it('redacts Alertmanager URLs with credentials, whatever is wrong with them', () => {
    const problems = problemsOf({
      sinks: {
        single: { type: 'alertmanager', urls: AM_URL },
        'bad-port': { type: 'alertmanager', urls: [`https://admin:${PASSWORD}@am:99999`] },
        'no-scheme': { type: 'alertmanager', urls: [`admin:${PASSWORD}@am:9093`] },
      },
    });
    expect(problems).toEqual([
      'sinks.single.urls: got "https://<redacted>", expected array, received string',
      'sinks.bad-port.urls[0]: expected an http(s) URL such as http://host:9093, got "https://<redacted>"',
      'sinks.no-scheme.urls[0]: expected an http(s) URL such as http://host:9093, got "<redacted>@am:9093"',
    ]);
  });

  it('refuses an Alertmanager URL that `new URL` would refuse at start', () => {
    expect(problemsOf({ sinks: { am: { type: 'alertmanager', urls: ['http://am:99999'] } } })).toHaveLength(
      1,
    );
    expect(
      validateConfig({ sinks: { am: { type: 'alertmanager', urls: [AM_URL] } } }, 'test', {}).sinks.am,
    ).toMatchObject({ urls: [AM_URL] });
  });

  it('redacts a secret from the environment that lands in the wrong setting', () => {
    const problems = problemsOf(
      { sinks: { s: { type: 'slack', url: 'https://hooks.slack.com/x', timeout: '${SLACK_URL}' } } },
      { SLACK_URL: 'https://hooks.slack.com/services/T0001/B0002/SlackSecret' },
    );
    expect(problems).toEqual([
      'sinks.s.timeout: expected a duration with a unit such as 500ms, 10s, 2m or 1h, got "https://hooks.slack.com/<redacted>"',
    ]);
  });

  it('does not quote the value of a token or a header at all', () => {
    const problems = problemsOf({
      sources: { http: { token: 8675309 } },
      sinks: {
        w: {
          type: 'webhook',
          url: 'http://receiver:8080/in',
          signingSecret: 424242,
          headers: { 'X-Api-Key': 1234567890, 'X-Multi': 'Bearer abc\r\nX-Injected: 1' },
        },
      },
    });
    expect(problems).toEqual([
      'sources.http.token: got a number (not shown: this setting holds a secret), expected string, received number',
      'sinks.w.signingSecret: got a number (not shown: this setting holds a secret), expected string, received number',
      'sinks.w.headers.X-Api-Key: got a number (not shown: this setting holds a secret), expected string, received number',
      'sinks.w.headers.X-Multi: a header value cannot contain a line break or NUL (the value is not shown: it may be a secret)',
    ]);
  });

  it('does not quote headers written as one string, and still quotes settings of a sink named like a secret', () => {
    const problems = problemsOf({
      sinks: {
        'api-token': {
          type: 'webhook',
          url: 'http://receiver:8080/in',
          headers: 'X-Api-Key: HeaderSecret',
          timeout: 'soon',
        },
      },
    });
    expect(problems).toEqual([
      'sinks.api-token.headers: got a string (not shown: this setting holds a secret), expected record, received string',
      'sinks.api-token.timeout: expected a duration with a unit such as 500ms, 10s, 2m or 1h, got "soon"',
    ]);
  });

  it('redacts Telegram tokens in the API URL and a token pasted as a key', () => {
    const problems = problemsOf({
      sinks: {
        t: {
          type: 'telegram',
          botToken: 'x',
          chatId: 1,
          apiUrl: 'api.telegram.org/bot123456:TelegramSecret',
        },
        'xoxb-1234-5678-SlackTokenSecret': { type: 'console' },
      },
    });
    const printed = problems.join('\n');
    expect(printed).not.toContain('TelegramSecret');
    expect(printed).not.toContain('SlackTokenSecret');
    expect(printed).toContain('sinks.t.apiUrl: got "api.telegram.org/bot<redacted>"');
    expect(printed).toContain('sinks["<redacted>"]: the name "<redacted>" is not allowed');
  });
});
