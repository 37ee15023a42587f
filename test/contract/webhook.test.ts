/**
 * Contract of the generic webhook: the Standard Webhooks reference library (the receiver's side)
 * verifies every signed hostile alert, the alert arrives exact, and a changed byte fails verification.
 */
import { describe, expect, it } from '@jest/globals';
import { Webhook } from 'standardwebhooks';
import { Secret } from '../../src/config/secret.js';
import type { RenderedRequest } from '../../src/delivery/destination.js';
import type { Alert } from '../../src/pipeline/alert.js';
import { webhookDestination } from '../../src/sinks/destinations/webhook.js';
import { type Json, universalProblems } from './checks/destination-checks.js';
import { hostileAlerts } from './hostile-corpus.js';

const URL = new Secret('https://receiver.example.com/falco');
// 32 random bytes, base64, as Standard Webhooks writes a secret.
const SECRET = 'whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD';
const TEMPLATE = '{{title}} in `{{workload}}`: {{output}}';

function signed(alert: Alert, secret: string): RenderedRequest {
  const destination = webhookDestination({
    url: URL,
    signingSecret: new Secret(secret),
    headers: {},
    template: TEMPLATE,
  });
  const request = destination.render(alert);
  return destination.prepare ? destination.prepare(request, 1) : request;
}

describe('webhook contract', () => {
  it.each(hostileAlerts())('%s: the reference library verifies the signature', (_name, alert) => {
    const request = signed(alert, SECRET);
    expect(() =>
      new Webhook(SECRET).verify(request.body, request.headers, { jsonParse: false }),
    ).not.toThrow();
    expect(request.headers['webhook-id']).toBe(alert.id);
  });

  it.each(hostileAlerts())(
    '%s: values arrive exactly as Falco and the cluster wrote them',
    (_name, alert) => {
      const body = JSON.parse(signed(alert, SECRET).body) as { type: string; text: string; data: Json };
      expect(body.type).toBe(`alert.${alert.kind}`);
      // JSON needs no escaping beyond its own: nothing is cut, entity-encoded or replaced by a look-alike.
      const sample = alert.kind === 'event' ? alert : alert.sample;
      const event = (alert.kind === 'event' ? body.data : (body.data.sample as Json)).event as Json;
      expect(event.rule).toBe(sample.event.rule);
      expect(event.output).toBe(sample.event.output);
      expect((body.data.enrichment ?? (body.data.sample as Json).enrichment) as Json).toEqual(
        JSON.parse(JSON.stringify(sample.enrichment)),
      );
      if (alert.kind === 'incident') expect(body.data.title).toBe(alert.title);
      // The template's text is for receivers that post it as it is: control characters stay escaped.
      expect(universalProblems({ text: body.text })).toEqual([]);
    },
  );

  it('a changed byte or another secret fails verification', () => {
    const [, alert] = hostileAlerts()[0] as [string, Alert];
    const request = signed(alert, SECRET);
    const tampered = request.body.replace('"alert.event"', '"alert.evenT"');
    expect(tampered).not.toBe(request.body);
    expect(() => new Webhook(SECRET).verify(tampered, request.headers)).toThrow();
    expect(() =>
      new Webhook('whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA').verify(request.body, request.headers),
    ).toThrow();
  });

  it('a secret without the whsec_ prefix is used as its UTF-8 bytes, as documented', () => {
    const [, alert] = hostileAlerts()[0] as [string, Alert];
    const secret = 'correct horse battery staple';
    const request = signed(alert, secret);
    const receiver = new Webhook(new TextEncoder().encode(secret), { format: 'raw' });
    expect(() => receiver.verify(request.body, request.headers, { jsonParse: false })).not.toThrow();
  });

  it('a batch: the body is an array of exactly the one-alert bodies, signed as a whole', () => {
    const destination = webhookDestination({
      url: URL,
      signingSecret: new Secret(SECRET),
      headers: { 'X-Team': 'secops' },
      template: TEMPLATE,
    });
    const alerts = hostileAlerts().map(([, alert]) => alert);
    const singles = alerts.map((alert) => destination.render(alert));
    const combined = destination.batch?.combine(singles);
    if (!combined || !destination.prepare) throw new Error('expected a signing, batching webhook');
    const request = destination.prepare(combined, 1);
    const verified = new Webhook(SECRET).verify(request.body, request.headers) as Json[];
    expect(verified).toEqual(singles.map((single) => JSON.parse(single.body) as Json));
    expect(verified.map((one) => (one.data as Json).id)).toEqual(alerts.map((alert) => alert.id));
    expect(request.headers['x-team'] ?? request.headers['X-Team']).toBe('secops');
    // One id per set of alerts: a retry of the same batch can be recognised as a duplicate.
    const id = request.headers['webhook-id'] ?? '';
    expect(id).toMatch(/^batch_[A-Za-z0-9_-]+$/);
    expect(destination.batch?.combine(singles).headers['webhook-id']).toBe(id);
    expect(destination.batch?.combine(singles.slice(1)).headers['webhook-id']).not.toBe(id);
    // Falco's nanosecond evt.time survives inside the array as in a single body.
    expect(request.body).toContain(singles[0]?.body);
  });
});
