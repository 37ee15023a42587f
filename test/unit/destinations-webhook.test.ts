import { createHmac, timingSafeEqual } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { Secret } from '../../src/config/secret.js';
import type { DestinationResponse, RenderedRequest } from '../../src/delivery/destination.js';
import { parseFalcoJson } from '../../src/events/parse-falco-json.js';
import { Priority } from '../../src/events/priority.js';
import { stringifyExact } from '../../src/events/serialize-event.js';
import type { Enrichment } from '../../src/kube/pod-context.js';
import {
  alertFromEvent,
  type DigestAlert,
  type EventAlert,
  type IncidentAlert,
} from '../../src/pipeline/alert.js';
import { sign, signingKey, webhookBody, webhookDestination } from '../../src/sinks/destinations/webhook.js';
import { CURRENT_ALERT } from '../fixtures/falco-alerts.js';
import { PRIVILEGED_API_CONTAINER, podContext } from '../fixtures/pod-context.js';
import { shareHiddenClass, WARM_UP_OBJECTS } from '../helpers/hidden-class.js';

const URL = new Secret('https://receiver.example.com/falco');
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

function eventAlert(): EventAlert {
  return alertFromEvent(
    { event: parseFalcoJson(CURRENT_ALERT), enrichment: { outcome: 'unresolved' } },
    1_767_258_903_000,
  );
}

/** A receiver's check, written from the Standard Webhooks spec rather than from Perch's code. */
function verify(
  request: RenderedRequest,
  secret: string,
  nowSeconds: number,
  toleranceSeconds = 300,
): boolean {
  const id = request.headers['webhook-id'];
  const timestamp = Number(request.headers['webhook-timestamp']);
  if (!id || !Number.isInteger(timestamp) || Math.abs(nowSeconds - timestamp) > toleranceSeconds)
    return false;
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${request.body}`).digest();
  return (request.headers['webhook-signature'] ?? '').split(' ').some((entry) => {
    const [version, signature] = entry.split(',');
    const given = Buffer.from(signature ?? '', 'base64');
    return version === 'v1' && given.length === expected.length && timingSafeEqual(given, expected);
  });
}

function response(status: number): DestinationResponse {
  return { status, body: '', headers: new Headers() };
}

describe('webhook body', () => {
  it('wraps alertToJson in a versioned envelope and keeps Falco’s big integers exact', () => {
    const alert = eventAlert();
    const request = webhookDestination({ url: URL, headers: {} }).render(alert);
    expect(request.url).toBe('https://receiver.example.com/falco');
    const body = JSON.parse(request.body) as Record<string, unknown>;
    expect(body).toMatchObject({
      version: 1,
      source: 'perch',
      type: 'alert.event',
      timestamp: '2026-01-01T09:15:03.000Z',
      data: {
        kind: 'event',
        id: alert.id,
        priority: 'Notice',
        enrichment: { outcome: 'unresolved' },
        event: { rule: 'Contact K8S API Server From Container', hostname: 'worker-2' },
      },
    });
    expect(Object.keys(body)).toEqual(['version', 'source', 'type', 'timestamp', 'data']);
    expect(request.body).toContain('"evt.time":1767258902123456789');
  });

  it('names the kind in `type` for digests and adds a `text` rendered from a template', () => {
    const sample = eventAlert();
    const digest: DigestAlert = {
      kind: 'digest',
      id: 'dig-1',
      priority: Priority.Notice,
      reasons: [],
      receivedAtMs: 0,
      fingerprint: 'f',
      rule: '<!channel> rule',
      count: 3,
      firstSeenMs: 0,
      lastSeenMs: 1000,
      windowMs: 300_000,
      pods: [],
      podCount: 0,
      sample,
      escalations: [{ priority: Priority.Emergency, atMs: 500 }],
    };
    const destination = webhookDestination({
      url: URL,
      headers: {},
      template: '{{severity}}: {{rule}} ×{{count}}',
    });
    const body = JSON.parse(destination.render(digest).body) as Record<string, unknown>;
    expect(body.type).toBe('alert.digest');
    expect((body.data as Record<string, unknown>).escalations).toEqual([
      { priority: 'Emergency', at: '1970-01-01T00:00:00.500Z' },
    ]);
    // JSON needs no escaping: the value is sent as it is.
    expect(body.text).toBe('Notice: <!channel> rule ×3');
  });

  it('writes an enrichment shared by many alerts, frozen as the cluster state shares it, exactly each time', () => {
    const deepFreeze = <T>(value: T): T => {
      if (value && typeof value === 'object') {
        for (const inner of Object.values(value)) deepFreeze(inner);
        Object.freeze(value);
      }
      return value;
    };
    const enrichment: Enrichment = deepFreeze({
      outcome: 'container_id',
      pod: podContext({
        labels: { app: 'api', 'quote"key': 'line\nbreak' },
        posture: { level: 'privileged', violations: [PRIVILEGED_API_CONTAINER] },
      }),
    });
    const destination = webhookDestination({ url: URL, headers: {} });
    for (const routes of [undefined, ['pager', 'siem']]) {
      const alert = alertFromEvent({ event: parseFalcoJson(CURRENT_ALERT), enrichment }, 1_767_258_903_000);
      if (routes) alert.routes = routes;
      expect(destination.render(alert).body).toBe(stringifyExact(webhookBody(alert)));
    }
  });

  it('writes an enrichment that can still change as it is now, not as it was at the last alert', () => {
    const labels: Record<string, string> = { app: 'api' };
    // Frozen on the outside only: what it holds can change, so its text cannot be kept.
    const enrichment: Enrichment = Object.freeze({
      outcome: 'container_id',
      pod: Object.freeze(podContext({ labels })),
    });
    const destination = webhookDestination({ url: URL, headers: {} });
    const alert = () =>
      alertFromEvent({ event: parseFalcoJson(CURRENT_ALERT), enrichment }, 1_767_258_903_000);
    expect(destination.render(alert()).body).toContain('"labels":{"app":"api"}');
    labels.team = 'payments';
    const second = alert();
    expect(destination.render(second).body).toContain('"labels":{"app":"api","team":"payments"}');
    expect(destination.render(second).body).toBe(stringifyExact(webhookBody(second)));
  });

  it('adds configured headers but never lets them replace Perch’s own', () => {
    const destination = webhookDestination({
      url: URL,
      signingSecret: new Secret(SECRET),
      headers: { authorization: 'Bearer t', 'Content-Type': 'text/plain', 'webhook-id': 'forged' },
    });
    const alert = eventAlert();
    const request = destination.render(alert);
    expect(request.headers).toEqual({
      'content-type': 'application/json; charset=utf-8',
      authorization: 'Bearer t',
      'webhook-id': alert.id,
    });
  });
});

describe('webhook signing (Standard Webhooks v1)', () => {
  it('matches the spec’s example signature', () => {
    const key = signingKey(SECRET);
    expect(sign(key, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}')).toBe(
      'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    );
  });

  it('signs every attempt with a fresh timestamp and the same id, verifiable by a receiver', () => {
    let nowMs = 1_767_258_903_456;
    const destination = webhookDestination(
      { url: URL, headers: {}, signingSecret: new Secret(SECRET) },
      { now: () => nowMs },
    );
    const alert = eventAlert();
    const rendered = destination.render(alert);
    const first = destination.prepare?.(rendered, 1) as RenderedRequest;
    nowMs += 65_000;
    const second = destination.prepare?.(rendered, 2) as RenderedRequest;

    expect(first.headers['webhook-id']).toBe(alert.id);
    expect(second.headers['webhook-id']).toBe(alert.id);
    expect(first.headers['webhook-timestamp']).toBe('1767258903');
    expect(second.headers['webhook-timestamp']).toBe('1767258968');
    expect(first.headers['webhook-signature']).not.toBe(second.headers['webhook-signature']);
    expect(first.body).toBe(rendered.body);
    expect(verify(first, SECRET, 1_767_258_903)).toBe(true);
    expect(verify(second, SECRET, 1_767_258_968)).toBe(true);
    // A replay of the first attempt much later, a tampered body or another key all fail.
    expect(verify(first, SECRET, 1_767_259_903)).toBe(false);
    expect(verify({ ...first, body: first.body.replace('Notice', 'Debug') }, SECRET, 1_767_258_903)).toBe(
      false,
    );
    expect(verify(first, 'whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 1_767_258_903)).toBe(false);
  });

  it('gives the headers of every signed attempt one hidden class', () => {
    const destination = webhookDestination(
      { url: URL, headers: { 'x-team': 'secops' }, signingSecret: new Secret(SECRET) },
      { now: () => 1_000_000 },
    );
    const rendered = destination.render(eventAlert());
    const prepare = destination.prepare;
    if (!prepare) throw new Error('a signing webhook prepares each attempt');
    // A spread of the headers given the signature after would be a class per attempt in V8.
    const attempts = Array.from({ length: WARM_UP_OBJECTS }, (_, n) => prepare(rendered, n + 1).headers);
    expect(shareHiddenClass(attempts)).toBe(true);
    expect(Object.keys(attempts[0] ?? {})).toEqual([
      'content-type',
      'x-team',
      'webhook-id',
      'webhook-timestamp',
      'webhook-signature',
    ]);
  });

  it('writes an incident timeline’s entries in one hidden class, in the entry’s own order', () => {
    const timeline = Array.from({ length: WARM_UP_OBJECTS }, (_, n) => ({
      timeMs: 1_767_258_903_000 + n,
      rule: 'Terminal shell in container',
      priority: Priority.Notice,
      ...(n % 2 === 0 ? { pod: `payments/api-${n}` } : {}),
      summary: `shell ${n}`,
    }));
    const incident: IncidentAlert = {
      kind: 'incident',
      id: 'inc-1',
      correlation: 'shells',
      type: 'event_count',
      title: 'Shells',
      group: { namespace: 'payments' },
      timeline,
      eventCount: WARM_UP_OBJECTS,
      firstSeenMs: 1_767_258_903_000,
      lastSeenMs: 1_767_258_903_029,
      sample: eventAlert(),
      priority: Priority.Error,
      reasons: [],
      receivedAtMs: 1_767_258_904_000,
    };
    const entries = (webhookBody(incident).data as { timeline: Record<string, unknown>[] }).timeline;
    expect(shareHiddenClass(entries.filter((_, n) => n % 2 === 0))).toBe(true);
    expect(shareHiddenClass(entries.filter((_, n) => n % 2 === 1))).toBe(true);
    expect(Object.keys(entries[0] ?? {})).toEqual(['timeMs', 'rule', 'priority', 'pod', 'summary', 'time']);
    expect(entries[1]).toEqual({
      timeMs: 1_767_258_903_001,
      rule: 'Terminal shell in container',
      priority: 'Notice',
      summary: 'shell 1',
      time: '2026-01-01T09:15:03.001Z',
    });
  });

  it('uses a secret without the whsec_ prefix as its UTF-8 bytes', () => {
    const destination = webhookDestination(
      { url: URL, headers: {}, signingSecret: new Secret('plain-secret') },
      { now: () => 1_000_000 },
    );
    const request = destination.prepare?.(destination.render(eventAlert()), 1) as RenderedRequest;
    const expected = createHmac('sha256', 'plain-secret')
      .update(`${request.headers['webhook-id']}.1000.${request.body}`)
      .digest('base64');
    expect(request.headers['webhook-signature']).toBe(`v1,${expected}`);
  });

  it('sends unsigned without a secret: no prepare step, no signature headers', () => {
    const destination = webhookDestination({ url: URL, headers: {} });
    expect(destination.prepare).toBeUndefined();
    expect(Object.keys(destination.render(eventAlert()).headers).sort()).toEqual([
      'content-type',
      'webhook-id',
    ]);
  });
});

describe('webhook answers', () => {
  it('treats 410 Gone and redirects as final, 2xx as delivered, 5xx and 429 as retryable', () => {
    const destination = webhookDestination({ url: URL, headers: {} });
    expect(destination.classify?.(response(204))).toEqual({ kind: 'delivered' });
    expect(destination.classify?.(response(410))).toMatchObject({
      kind: 'rejected',
      reason: expect.stringContaining('Gone'),
    });
    expect(destination.classify?.(response(301))).toMatchObject({
      kind: 'rejected',
      reason: expect.stringContaining('update the URL'),
    });
    expect(destination.classify?.(response(503))).toMatchObject({ kind: 'retry' });
    expect(destination.classify?.(response(429))).toMatchObject({ kind: 'retry' });
    expect(destination.classify?.(response(400))).toMatchObject({ kind: 'rejected' });
  });
});
