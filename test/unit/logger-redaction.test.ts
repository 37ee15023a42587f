import { describe, expect, it } from '@jest/globals';
import { captureLogger } from '../fakes/http-receiver-fixtures.js';

describe('createLogger', () => {
  it('redacts secrets from messages, fields and errors of every line, children included', () => {
    const { log, text, lines } = captureLogger();
    // What `new URL` throws on a bad port: the whole URL, password included, in `input`.
    const invalidUrl = Object.assign(new TypeError('Invalid URL'), {
      code: 'ERR_INVALID_URL',
      input: 'https://admin:hunter2pw@am:99999',
    });
    log.fatal({ err: invalidUrl }, 'cannot start');
    log.warn(
      { file: '/var/lib/perch/spool.db', reason: 'HTTP 404: no hook /services/T0001/B0002/SlackSecret' },
      'failed at https://api.telegram.org/bot123:TelegramSecret/sendMessage',
    );
    log.error(new Error('Authorization: Bearer BearerSecret'));
    log
      .child({ sink: 'hook' })
      .info({ headers: { 'X-Api-Key': 'ApiKeySecret' }, retryInMs: 500 }, 'retrying');

    for (const secret of [
      'hunter2pw',
      'SlackSecret',
      'T0001',
      'TelegramSecret',
      'BearerSecret',
      'ApiKeySecret',
    ])
      expect(text()).not.toContain(secret);
    const [fatal, warn, error, info] = lines();
    expect(fatal?.err).toMatchObject({
      type: 'TypeError',
      message: 'Invalid URL',
      code: 'ERR_INVALID_URL',
      input: 'https://<redacted>',
    });
    expect(warn).toMatchObject({
      file: '/var/lib/perch/spool.db',
      reason: 'HTTP 404: no hook /services/<redacted>',
      msg: 'failed at https://api.telegram.org/<redacted>',
    });
    expect(error).toMatchObject({ msg: 'Authorization: <redacted>', err: { type: 'Error' } });
    expect(info).toMatchObject({ sink: 'hook', headers: { 'X-Api-Key': '<redacted>' }, retryInMs: 500 });
  });
});
