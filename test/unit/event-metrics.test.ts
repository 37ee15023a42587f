import { describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import { validateConfig } from '../../src/config/load-config.js';
import { parseFalcoJson } from '../../src/events/parse-falco-json.js';
import { EventMetrics } from '../../src/metrics/event-metrics.js';
import { alertFromEvent } from '../../src/pipeline/alert.js';
import { CURRENT_ALERT } from '../fixtures/falco-alerts.js';
import { podContext } from '../fixtures/pod-context.js';

/** A shell alert from `pod`; `shared`: with a frozen enrichment, as the cluster cache shares one per container. */
function shell(pod: string, priority = 'Notice', shared = false) {
  const event = parseFalcoJson(
    JSON.stringify({
      rule: 'Terminal shell in container',
      priority,
      time: '2026-01-01T00:00:00Z',
      output_fields: { 'container.id': 'abc', 'k8s.ns.name': 'payments', 'k8s.pod.name': pod },
    }),
  );
  const enrichment = {
    outcome: 'container_id' as const,
    pod: podContext({
      namespace: 'payments',
      pod,
      workload: { kind: 'Deployment', name: `api-${pod}` },
      isolation: 'container',
    }),
  };
  if (shared) Object.freeze(enrichment.pod);
  return alertFromEvent({ event, enrichment: shared ? Object.freeze(enrichment) : enrichment }, 0);
}

describe('event metrics', () => {
  it.each([
    ['its own enrichment', false],
    ['a shared enrichment', true],
  ])(
    'caps series per metric and folds the rest into _overflow, counting the folds (%s)',
    async (_, shared) => {
      const registry = new Registry();
      const config = validateConfig({ metrics: { maxSeries: 3 } }, 't', {}).metrics;
      const metrics = new EventMetrics(config, registry);
      for (let i = 0; i < 10; i++) metrics.observeEvent(shell(`p${i}`, i % 2 ? 'Warning' : 'Notice', shared));
      const values = (await registry.getSingleMetric('perch_falco_events_total')?.get())?.values ?? [];
      expect(values).toHaveLength(5);
      const overflow = values.filter((v) => v.labels.workload === '_overflow');
      // Priority and source are kept even when folded: alerting on Critical must keep working.
      expect(
        overflow.map((v) => [v.labels.priority, v.labels.rule, v.labels.namespace, v.value]).sort(),
      ).toEqual([
        ['Notice', '_overflow', '_overflow', 3],
        ['Warning', '_overflow', '_overflow', 4],
      ]);
      const folds = await registry.getSingleMetric('perch_metric_series_overflow_total')?.get();
      expect(folds?.values).toEqual([{ labels: { metric: 'perch_falco_events_total' }, value: 7 }]);
    },
  );

  it('exposes falco_events with falco-exporter labels and priority numbering when asked', async () => {
    const registry = new Registry();
    const metrics = new EventMetrics(
      validateConfig({ metrics: { falcoExporterCompat: true } }, 't', {}).metrics,
      registry,
    );
    metrics.observeEvent(
      alertFromEvent({ event: parseFalcoJson(CURRENT_ALERT), enrichment: { outcome: 'disabled' } }, 0),
    );
    expect(await registry.getSingleMetricAsString('falco_events')).toBe(
      [
        "# HELP falco_events Falco events as falco-exporter counted them; priority is Falco's number: 0 = Emergency … 7 = Debug.",
        '# TYPE falco_events counter',
        'falco_events{rule="Contact K8S API Server From Container",priority="5",hostname="worker-2",source="syscall",k8s_ns_name="tools",k8s_pod_name="toolbox-6d8f9c7b5-x2x7q",tags=",T1565,container,k8s,maturity_stable,mitre_discovery,network,"} 1',
      ].join('\n'),
    );
    const off = new Registry();
    new EventMetrics(validateConfig({}, 't', {}).metrics, off);
    expect(off.getSingleMetric('falco_events')).toBeUndefined();
  });

  it('uses the configured label set; pod and container are off by default', async () => {
    const registry = new Registry();
    new EventMetrics(validateConfig({}, 't', {}).metrics, registry).observeEvent(shell('p1'));
    const [value] = (await registry.getSingleMetric('perch_falco_events_total')?.get())?.values ?? [];
    expect(value?.labels).toEqual({
      rule: 'Terminal shell in container',
      priority: 'Notice',
      source: 'syscall',
      namespace: 'payments',
      workload_kind: 'Deployment',
      workload: 'api-p1',
      runtime_class: '',
      isolation: 'container',
    });
  });

  it('counts every event into its own series, repeats and events that differ in one label alike', async () => {
    const registry = new Registry();
    const metrics = new EventMetrics(validateConfig({}, 't', {}).metrics, registry);
    const counts = async () =>
      ((await registry.getSingleMetric('perch_falco_events_total')?.get())?.values ?? [])
        .map((v) => `${v.labels.workload} ${v.labels.priority} ${v.value}`)
        .sort();
    const observe = () => {
      for (let i = 0; i < 3; i++) metrics.observeEvent(shell('p1'));
      for (let i = 0; i < 2; i++) metrics.observeEvent(shell('p1', 'Warning'));
      metrics.observeEvent(shell('p2'));
    };
    observe();
    expect(await counts()).toEqual(['api-p1 Notice 3', 'api-p1 Warning 2', 'api-p2 Notice 1']);
    observe();
    expect(await counts()).toEqual(['api-p1 Notice 6', 'api-p1 Warning 4', 'api-p2 Notice 2']);
  });

  it('counts the alerts of a shared enrichment exactly as those of an enrichment of their own', async () => {
    // A container's alerts share one frozen enrichment (the cluster cache's), which the metrics
    // use to find their series quicker; the series must be the ones the labels name all the same.
    const pods = [
      podContext({ pod: 'api-1', container: { name: 'api', kind: 'container' } }),
      // No node and no container: those labels then come from each event.
      podContext({ pod: 'api-2', node: undefined, workload: { kind: 'StatefulSet', name: 'db' } }),
    ].map((pod) => Object.freeze({ outcome: 'container_id' as const, pod: Object.freeze(pod) }));
    const alerts = [];
    for (const enrichment of pods)
      for (const rule of ['Terminal shell in container', 'Read sensitive file untrusted'])
        for (const priority of ['Notice', 'Warning'])
          for (const source of ['syscall', 'k8saudit'])
            for (const [hostname, container] of [
              ['worker-1', 'abc123'],
              ['worker-2', 'def456'],
              ['worker-1', 'host'],
            ]) {
              const event = parseFalcoJson(
                JSON.stringify({
                  rule,
                  priority,
                  source,
                  hostname,
                  time: '2026-01-01T00:00:00Z',
                  output_fields: { 'container.id': container },
                }),
              );
              alerts.push({ event, enrichment });
            }
    for (const eventLabels of [
      undefined,
      ['rule', 'priority', 'source', 'isolation', 'workload_kind', 'node', 'pod', 'container'],
      ['rule', 'node'],
      ['workload', 'container'],
    ]) {
      const config = validateConfig(eventLabels ? { metrics: { eventLabels } } : {}, 't', {}).metrics;
      const shared = new Registry();
      const own = new Registry();
      const sharedMetrics = new EventMetrics(config, shared);
      const ownMetrics = new EventMetrics(config, own);
      // Twice: the second pass finds every series again.
      for (let pass = 0; pass < 2; pass++) {
        for (const { event, enrichment } of alerts) {
          sharedMetrics.observeEvent(alertFromEvent({ event, enrichment }, 0));
          ownMetrics.observeEvent(
            alertFromEvent({ event, enrichment: { ...enrichment, pod: { ...enrichment.pod } } }, 0),
          );
        }
        const text = await shared.getSingleMetricAsString('perch_falco_events_total');
        expect(text).toBe(await own.getSingleMetricAsString('perch_falco_events_total'));
        expect(text?.split('\n').length).toBeGreaterThan(3);
      }
    }
  });
});
