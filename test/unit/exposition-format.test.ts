import { describe, expect, it } from '@jest/globals';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { toOpenMetrics, wantsOpenMetrics } from '../../src/metrics/exposition-format.js';

describe('/metrics content negotiation', () => {
  it.each([
    [undefined, false],
    ['*/*', false],
    ['text/plain', false],
    // What Prometheus 2.x sends: text is acceptable, so Perch keeps counter names as dashboards know them.
    [
      'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
      false,
    ],
    ['application/openmetrics-text; version=1.0.0', true],
    ['application/openmetrics-text, text/plain;q=0', true],
  ])('Accept %s → OpenMetrics %s', (accept, expected) => {
    expect(wantsOpenMetrics(accept)).toBe(expected);
  });
});

describe('toOpenMetrics', () => {
  it('turns prom-client text into OpenMetrics without renaming anything in the registry', async () => {
    const registry = new Registry();
    new Counter({
      name: 'perch_events_total',
      help: 'events',
      labelNames: ['outcome'],
      registers: [registry],
    }).inc({ outcome: 'shed' }, 2);
    new Counter({ name: 'falco_events', help: 'compat', registers: [registry] }).inc();
    new Gauge({ name: 'perch_pods', help: 'pods', registers: [registry] }).set(3);
    new Histogram({
      name: 'perch_latency_seconds',
      help: 'latency',
      buckets: [1],
      registers: [registry],
    }).observe(0.5);
    const text = await registry.metrics();
    expect(toOpenMetrics(text)).toBe(
      [
        '# HELP perch_events events',
        '# TYPE perch_events counter',
        'perch_events_total{outcome="shed"} 2',
        '# HELP falco_events compat',
        '# TYPE falco_events counter',
        'falco_events_total 1',
        '# HELP perch_pods pods',
        '# TYPE perch_pods gauge',
        'perch_pods 3',
        '# HELP perch_latency_seconds latency',
        '# TYPE perch_latency_seconds histogram',
        'perch_latency_seconds_bucket{le="1"} 1',
        'perch_latency_seconds_bucket{le="+Inf"} 1',
        'perch_latency_seconds_sum 0.5',
        'perch_latency_seconds_count 1',
        '# EOF',
        '',
      ].join('\n'),
    );
    // The registry still renders the text format with the original names afterwards.
    expect(await registry.metrics()).toBe(text);
  });
});
