import { describe, expect, it } from '@jest/globals';
import { defaultClassify, retryAfterMs } from '../../src/delivery/classify.js';
import { describeFailure } from '../../src/delivery/describe-failure.js';
import type { DestinationResponse } from '../../src/delivery/destination.js';

function response(status: number, body = '', headers: Record<string, string> = {}): DestinationResponse {
  return { status, body, headers: new Headers(headers) };
}

const NOW = Date.parse('2026-01-01T00:00:00Z');

describe('defaultClassify', () => {
  it('takes any 2xx as delivered', () => {
    for (const status of [200, 202, 204])
      expect(defaultClassify(response(status))).toEqual({ kind: 'delivered' });
  });

  it('retries 408, 425, 429 and 5xx', () => {
    for (const status of [408, 425, 429, 500, 502, 503, 504]) {
      expect(defaultClassify(response(status)).kind).toBe('retry');
    }
  });

  it('honours Retry-After in seconds or as an HTTP-date', () => {
    expect(defaultClassify(response(429, '', { 'retry-after': '3' }), NOW)).toEqual({
      kind: 'retry',
      reason: 'HTTP 429 (rate limited)',
      afterMs: 3000,
    });
    const date = new Date(NOW + 7000).toUTCString();
    expect(retryAfterMs(response(503, '', { 'retry-after': date }), NOW)).toBe(7000);
    // A service in maintenance says when to come back with a 503, and is waited out like a 429.
    expect(defaultClassify(response(503, 'down for maintenance', { 'retry-after': '120' }), NOW)).toEqual({
      kind: 'retry',
      reason: 'HTTP 503: down for maintenance',
      afterMs: 120_000,
    });
    expect(retryAfterMs(response(503, '', { 'retry-after': new Date(NOW - 5000).toUTCString() }), NOW)).toBe(
      0,
    );
  });

  it("reads Discord's JSON retry_after and Telegram's parameters.retry_after (seconds)", () => {
    expect(
      retryAfterMs(
        response(429, '{"message":"You are being rate limited.","retry_after":0.345,"global":false}'),
      ),
    ).toBe(345);
    expect(
      retryAfterMs(
        response(
          429,
          '{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 5","parameters":{"retry_after":5}}',
        ),
      ),
    ).toBe(5000);
    expect(retryAfterMs(response(429, 'not json'))).toBeUndefined();
  });

  it('rejects other 4xx with the status and at most 200 characters of the body, secrets redacted', () => {
    expect(defaultClassify(response(400, 'invalid_payload'))).toEqual({
      kind: 'rejected',
      reason: 'HTTP 400: invalid_payload',
    });
    const verdict = defaultClassify(
      response(404, `no such hook https://hooks.example/services/SECRET ${'x'.repeat(500)}`),
    );
    expect(verdict.kind).toBe('rejected');
    const reason = verdict.kind === 'rejected' ? verdict.reason : '';
    expect(reason).not.toContain('SECRET');
    expect(reason).toContain('no such hook https://<redacted> xxx');
    expect(reason.length).toBeLessThanOrEqual('HTTP 404: '.length + 200);
  });

  it('does not follow redirects: rejected with a hint', () => {
    expect(defaultClassify(response(301))).toMatchObject({
      kind: 'rejected',
      reason: expect.stringContaining('redirect'),
    });
  });
});

describe('describeFailure', () => {
  it('names timeouts, connection errors by code, and redacts URLs from anything else', () => {
    const timeout = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    expect(describeFailure(timeout, 500)).toEqual({ type: 'timeout', reason: 'no answer within 500 ms' });
    const refused = new TypeError('fetch failed', {
      cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }),
    });
    expect(describeFailure(refused, 500)).toEqual({
      type: 'connection',
      reason: 'connection failed: ECONNREFUSED (connect ECONNREFUSED 127.0.0.1:9)',
    });
    const other = new TypeError(
      'Failed to parse URL from https://api.telegram.org/bot123:SECRET/sendMessage',
    );
    expect(describeFailure(other, 500).reason).not.toContain('SECRET');
  });

  it('reads undici errors, which carry their code themselves', () => {
    const reset = Object.assign(new Error('other side closed'), {
      name: 'SocketError',
      code: 'UND_ERR_SOCKET',
    });
    expect(describeFailure(reset, 500)).toEqual({
      type: 'connection',
      reason: 'connection failed: UND_ERR_SOCKET (other side closed)',
    });
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
    expect(describeFailure(refused, 500).reason).toBe(
      'connection failed: ECONNREFUSED (connect ECONNREFUSED 127.0.0.1:9)',
    );
    const timeout = new DOMException('no answer within 500 ms', 'TimeoutError');
    expect(describeFailure(timeout, 500)).toEqual({ type: 'timeout', reason: 'no answer within 500 ms' });
  });
});
