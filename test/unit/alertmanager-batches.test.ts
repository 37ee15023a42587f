/** Alertmanager takes an array of alerts: several queued alerts go in one post. */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { type AlertmanagerSinkConfig, configSchema } from '../../src/config/schema.js';
import { DeliverySink } from '../../src/delivery/delivery-sink.js';
import { Priority } from '../../src/events/priority.js';
import type { IncidentAlert } from '../../src/pipeline/alert.js';
import { AlertmanagerSink } from '../../src/sinks/alertmanager-sink.js';
import {
  type AlertmanagerAlertBody,
  alertmanagerDestination,
  combineAlertmanagerRequests,
} from '../../src/sinks/destinations/alertmanager.js';
import { DeliveryHarness } from '../fakes/delivery-harness.js';
import { labelledAlert, until } from '../fakes/http-receiver-fixtures.js';

const T0 = Date.parse('2026-01-01T09:15:02.123Z');

function amConfig(extra: Record<string, unknown> = {}): AlertmanagerSinkConfig {
  const sink = configSchema.parse({
    sinks: { am: { type: 'alertmanager', urls: ['http://am-0:9093'], ...extra } },
  }).sinks.am;
  if (sink?.type !== 'alertmanager') throw new Error('expected the alertmanager sink');
  return sink;
}

function incident(id: string): IncidentAlert {
  const sample = labelledAlert(`sample of ${id}`, Priority.Warning, 'payments');
  return {
    kind: 'incident',
    id,
    correlation: `correlation-${id}`,
    type: 'temporal_ordered',
    title: 'Shell then credential access',
    group: { namespace: 'payments' },
    timeline: [{ timeMs: T0, rule: 'Terminal shell in container', priority: Priority.Notice, summary: 'sh' }],
    eventCount: 1,
    firstSeenMs: T0,
    lastSeenMs: T0,
    sample,
    priority: Priority.Critical,
    reasons: ['test'],
    receivedAtMs: T0,
  };
}

const posted = (body: string) => JSON.parse(body) as AlertmanagerAlertBody[];

describe('Alertmanager batches', () => {
  it('posts up to 64 alerts per request by default', () => {
    const config = amConfig();
    expect(config.batch).toEqual({ maxAlerts: 64, maxWait: 0 });
    const destination = alertmanagerDestination('http://am-0:9093', config);
    expect(destination.batch).toBeDefined();
    // Order matters: the latest post of a label set wins.
    expect(destination.defaultMaxInFlight).toBe(1);
  });

  it('joins one-alert posts into one array, in order, with the same endpoint and headers', () => {
    const destination = alertmanagerDestination('http://perch:pw@am-0:9093', amConfig(), () => T0);
    const requests = ['a1', 'a2', 'a3'].map((label) => destination.render(labelledAlert(label)));
    const combined = combineAlertmanagerRequests(requests);
    expect(combined.url).toBe('http://am-0:9093/api/v2/alerts');
    expect(combined.headers).toEqual(requests[0]?.headers);
    expect(posted(combined.body)).toEqual(requests.flatMap((r) => posted(r.body)));
  });

  it('gives every incident of a batch a fresh endsAt at each attempt, and leaves events alone', () => {
    let now = T0 + 60_000;
    const config = amConfig({ resendInterval: '1m', incidentActiveFor: '1h' });
    const destination = alertmanagerDestination('http://am-0:9093', config, () => now);
    const requests = [
      destination.render(incident('inc-1')),
      destination.render(labelledAlert('event')),
      destination.render(incident('inc-2')),
    ];
    const combined = destination.batch?.combine(requests);
    if (!combined) throw new Error('expected a batch');
    now += 600_000;
    const retried = posted((destination.prepare?.(combined, 2) ?? combined).body);
    const rendered = posted(combined.body);
    expect(retried.map((a) => a.endsAt)).toEqual([
      new Date(now + 180_000).toISOString(),
      rendered[1]?.endsAt,
      new Date(now + 180_000).toISOString(),
    ]);
    expect(retried[1]).toEqual(rendered[1]);
  });

  describe('through the delivery engine', () => {
    let h: DeliveryHarness;
    beforeEach(async () => {
      h = await DeliveryHarness.create();
    });
    afterEach(async () => {
      await h.dispose();
    });

    it('sends what is queued when the previous post is answered as one array post', async () => {
      const config = amConfig();
      const sink = new AlertmanagerSink('am', config, {
        innerSink: (id, destination) =>
          new DeliverySink(id, config, destination, {
            metrics: h.metrics,
            log: h.logs.log,
            poster: h.poster,
          }),
      });
      await sink.start();
      sink.send(labelledAlert('a1'));
      await h.poster.waitFor(1);
      for (const label of ['a2', 'a3', 'a4']) sink.send(labelledAlert(label));
      h.poster.held[0]?.answer(200);
      await h.poster.waitFor(2);
      const summaries = (n: number) =>
        posted(h.poster.held[n]?.request.body ?? '[]').map((a) => a.annotations.summary);
      expect(summaries(0)).toHaveLength(1);
      expect(summaries(1)).toHaveLength(3);
      h.poster.held[1]?.answer(200);
      await until(() => h.poster.inFlight.length === 0);
      await sink.flush();
      await sink.close();
    });
  });
});
