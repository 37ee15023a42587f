import { describe, expect, it } from '@jest/globals';
import { type AlertmanagerSinkConfig, configSchema } from '../../src/config/schema.js';
import type { DestinationResponse } from '../../src/delivery/destination.js';
import { parseFalcoJson } from '../../src/events/parse-falco-json.js';
import { PRIORITY_NAMES, Priority } from '../../src/events/priority.js';
import type { Enrichment } from '../../src/kube/pod-context.js';
import {
  type Alert,
  alertFromEvent,
  type DigestAlert,
  type EventAlert,
  type IncidentAlert,
} from '../../src/pipeline/alert.js';
import {
  type AlertmanagerAlertBody,
  alertmanagerAlert,
  alertmanagerDestination,
  alertmanagerEndpoint,
  alertmanagerLabels,
  alertmanagerSeverity,
  LABEL_NAME,
  MAX_DESCRIPTION,
  MAX_LABEL_VALUE,
  MAX_SUMMARY,
} from '../../src/sinks/destinations/alertmanager.js';
import { CURRENT_ALERT, HOST_ALERT } from '../fixtures/falco-alerts.js';
import { PAYMENTS_API_SANDBOXED, PRIVILEGED_API_CONTAINER, podContext } from '../fixtures/pod-context.js';

function amConfig(extra: Record<string, unknown> = {}): AlertmanagerSinkConfig {
  const parsed = configSchema.parse({
    sinks: { am: { type: 'alertmanager', urls: ['http://am-0:9093'], ...extra } },
  });
  const sink = parsed.sinks.am;
  if (sink?.type !== 'alertmanager') throw new Error('expected the alertmanager sink');
  return sink;
}

const PAYMENTS: Enrichment = {
  outcome: 'container_id',
  pod: podContext({
    ...PAYMENTS_API_SANDBOXED,
    posture: {
      level: 'privileged',
      violations: [PRIVILEGED_API_CONTAINER],
      namespaceEnforce: 'baseline',
    },
    container: { name: 'api', kind: 'container', image: 'registry.example/payments-api:2.1' },
  }),
};

const T0 = Date.parse('2026-01-01T09:15:02.123Z');

function eventAlert(enrichment: Enrichment = PAYMENTS, json = CURRENT_ALERT): EventAlert {
  return alertFromEvent({ event: parseFalcoJson(json), enrichment }, T0);
}

function digestAlert(overrides: Partial<DigestAlert> = {}): DigestAlert {
  return {
    kind: 'digest',
    id: 'dig-1',
    fingerprint: 'Contact K8S API Server From Container\u001fdeployment/payments-api',
    rule: 'Contact K8S API Server From Container',
    count: 57,
    firstSeenMs: T0,
    lastSeenMs: T0 + 240_000,
    windowMs: 300_000,
    pods: ['payments/payments-api-7c9d8b6f4-2xk9p', 'payments/payments-api-7c9d8b6f4-8hq2m'],
    podCount: 2,
    namespace: 'payments',
    workload: { kind: 'Deployment', name: 'payments-api' },
    sample: eventAlert(),
    priority: Priority.Notice,
    reasons: [],
    receivedAtMs: T0 + 300_000,
    ...overrides,
  };
}

function incidentAlert(overrides: Partial<IncidentAlert> = {}): IncidentAlert {
  return {
    kind: 'incident',
    id: 'inc-1',
    correlation: 'shell-then-credential-access',
    type: 'temporal_ordered',
    title: 'Shell then credential access',
    group: { pod: 'payments/payments-api-7c9d8b6f4-2xk9p' },
    timeline: [
      {
        timeMs: T0,
        rule: 'Terminal shell in container',
        priority: Priority.Notice,
        pod: 'payments/payments-api-7c9d8b6f4-2xk9p',
        summary: 'shell bash',
      },
      {
        timeMs: T0 + 30_000,
        rule: 'Read sensitive file untrusted',
        priority: Priority.Warning,
        pod: 'payments/payments-api-7c9d8b6f4-2xk9p',
        summary: 'cat /etc/shadow',
      },
    ],
    eventCount: 2,
    firstSeenMs: T0,
    lastSeenMs: T0 + 30_000,
    sample: eventAlert(),
    priority: Priority.Critical,
    reasons: ['correlation shell-then-credential-access: 2 of 2 rules in order within 10m'],
    receivedAtMs: T0,
    ...overrides,
  };
}

const config = amConfig({ labels: { cluster: 'prod' }, resolveAfter: '15m', resendInterval: '1m' });

function body(alert: Alert, now = T0 + 60_000, options = config): AlertmanagerAlertBody {
  return alertmanagerAlert(alert, options, now);
}

function response(status: number, text = '', headers: Record<string, string> = {}): DestinationResponse {
  return { status, body: text, headers: new Headers(headers) };
}

describe('Alertmanager labels', () => {
  it('labels an enriched event by rule, workload and node, never by its output text or pod', () => {
    const { labels } = body(eventAlert());
    expect(labels).toEqual({
      alertname: 'Contact K8S API Server From Container',
      cluster: 'prod',
      falco_source: 'syscall',
      isolation: 'sandbox',
      namespace: 'payments',
      node: 'worker-2',
      perch_kind: 'event',
      priority: 'Notice',
      pss_level: 'privileged',
      runtime_class: 'gvisor',
      severity: 'info',
      source: 'perch',
      workload: 'deployment/payments-api',
    });
    expect(JSON.stringify(labels)).not.toContain('kubectl');
  });

  it('labels the pod when no workload identifies the alert (pod not in the cache)', () => {
    const { labels } = body(eventAlert({ outcome: 'unresolved' }));
    expect(labels).toMatchObject({
      alertname: 'Contact K8S API Server From Container',
      namespace: 'tools',
      pod: 'toolbox-6d8f9c7b5-x2x7q',
      node: 'worker-2',
    });
    expect(labels.workload).toBeUndefined();
    expect(labels.isolation).toBeUndefined();
  });

  it('labels a host event with its node and isolation host', () => {
    const alert = eventAlert({ outcome: 'host', node: 'worker-3' }, HOST_ALERT);
    const { labels, annotations } = body(alert);
    expect(labels).toMatchObject({
      alertname: 'Linux Kernel Module Injection Detected',
      isolation: 'host',
      node: 'worker-3',
      severity: 'warning',
      priority: 'Warning',
    });
    expect(labels.pod).toBeUndefined();
    expect(labels.namespace).toBeUndefined();
    expect(annotations.summary).toBe('Linux Kernel Module Injection Detected on host worker-3');
  });

  it('maps the eight priorities onto critical, warning and info', () => {
    const mapped = Object.fromEntries(
      PRIORITY_NAMES.map((name, p) => [name, alertmanagerSeverity(p as Priority)]),
    );
    expect(mapped).toEqual({
      Emergency: 'critical',
      Alert: 'critical',
      Critical: 'critical',
      Error: 'warning',
      Warning: 'warning',
      Notice: 'info',
      Informational: 'info',
      Debug: 'info',
    });
    const critical = { ...eventAlert(), priority: Priority.Alert };
    expect(body(critical).labels).toMatchObject({ severity: 'critical', priority: 'Alert' });
  });

  it('uses only classic label names and bounded, escaped values for every kind', () => {
    const hostileRule = `Shell ${'x'.repeat(600)}\u001b[2J`;
    const hostile = eventAlert(
      PAYMENTS,
      CURRENT_ALERT.replace(
        'Contact K8S API Server From Container',
        JSON.stringify(hostileRule).slice(1, -1),
      ),
    );
    const incident = incidentAlert({
      group: { 'proc.name': 'bash\u0007', 'k8s.ns.name': 'payments', '9lives': 'x', node: 'worker-2' },
    });
    for (const alert of [hostile, digestAlert(), incident, eventAlert({ outcome: 'unresolved' })]) {
      const { labels } = body(alert);
      for (const [name, value] of Object.entries(labels)) {
        expect(name).toMatch(LABEL_NAME);
        expect(name.startsWith('__')).toBe(false);
        expect(Array.from(value).length).toBeLessThanOrEqual(MAX_LABEL_VALUE);
        // biome-ignore lint/suspicious/noControlCharactersInRegex: checking that none are left
        expect(value).not.toMatch(/[\u0000-\u001f]/);
      }
    }
    expect(body(hostile).labels.alertname).toHaveLength(MAX_LABEL_VALUE);
    expect(body(hostile).labels.alertname?.endsWith('…')).toBe(true);
    expect(body(incident).labels).toMatchObject({
      proc_name: 'bash\\u0007',
      k8s_ns_name: 'payments',
      field_9lives: 'x',
      node: 'worker-2',
    });
  });

  it("applies the config's labels last, so they can replace built-in ones", () => {
    const labels = alertmanagerLabels(eventAlert(), { cluster: 'prod', source: 'falco' });
    expect(labels).toMatchObject({ cluster: 'prod', source: 'falco' });
  });

  it('gives a digest its own alert (perch_kind) with the workload, not the pods', () => {
    const { labels } = body(digestAlert());
    expect(labels).toMatchObject({
      alertname: 'Contact K8S API Server From Container',
      perch_kind: 'digest',
      workload: 'deployment/payments-api',
      namespace: 'payments',
      node: 'worker-2',
    });
    expect(labels.pod).toBeUndefined();
    const bare = digestAlert({
      workload: undefined,
      pods: ['tools/toolbox-6d8f9c7b5-x2x7q'],
      podCount: 1,
      namespace: 'tools',
      sample: eventAlert({ outcome: 'unresolved' }),
    });
    expect(body(bare).labels).toMatchObject({ pod: 'toolbox-6d8f9c7b5-x2x7q', namespace: 'tools' });
  });

  it('names an incident by its correlation and labels its group and the context the group pins down', () => {
    const { labels } = body(incidentAlert());
    expect(labels).toEqual({
      alertname: 'shell-then-credential-access',
      cluster: 'prod',
      isolation: 'sandbox',
      namespace: 'payments',
      node: 'worker-2',
      perch_kind: 'incident',
      pod: 'payments-api-7c9d8b6f4-2xk9p',
      priority: 'Critical',
      pss_level: 'privileged',
      runtime_class: 'gvisor',
      severity: 'critical',
      source: 'perch',
      workload: 'deployment/payments-api',
    });
    // Grouped by namespace, its events may come from several workloads: none is named.
    const byNamespace = body(
      incidentAlert({ group: { namespace: 'payments', rule: 'Terminal shell in container' } }),
    );
    expect(byNamespace.labels).toMatchObject({ namespace: 'payments', rule: 'Terminal shell in container' });
    expect(byNamespace.labels.workload).toBeUndefined();
    expect(byNamespace.labels.pod).toBeUndefined();
    expect(byNamespace.labels.isolation).toBeUndefined();
  });
});

describe('Alertmanager annotations', () => {
  it("puts Falco's output, the pod, isolation and posture in the description of an event", () => {
    const alert = { ...eventAlert(), reasons: ['raised to Critical: sandbox escape attempt'] };
    const { annotations } = body(alert);
    expect(annotations.summary).toBe(
      'Contact K8S API Server From Container in deployment/payments-api (namespace payments) on node worker-2',
    );
    const description = annotations.description ?? '';
    expect(
      description.startsWith('Unexpected connection to K8s API Server from container | connection='),
    ).toBe(true);
    expect(description).toContain('Why: raised to Critical: sandbox escape attempt');
    expect(description).toContain(
      'Pod: payments/payments-api-7c9d8b6f4-2xk9p (container api, image registry.example/payments-api:2.1)',
    );
    expect(description).toContain('Isolation: sandbox (RuntimeClass gvisor, handler runsc)');
    expect(description).toContain(
      'Pod security: meets privileged (namespace enforces baseline); violates privileged (spec.containers[api].securityContext.privileged=true)',
    );
    expect(annotations.pod).toBe('payments/payments-api-7c9d8b6f4-2xk9p');
    expect(annotations.perch_id).toBe(alert.id);
    expect(annotations.runbook_url).toBeUndefined();
  });

  it('says how many repeats a digest collapsed', () => {
    const { annotations } = body(digestAlert());
    expect(annotations.summary).toBe(
      'Contact K8S API Server From Container ×57 more in 5m across 2 pods of deployment/payments-api (first seen 09:15:02, last 09:19:02 UTC)',
    );
    expect(annotations.description).toContain('Last repeat:');
    expect(annotations.pod).toBe(
      'payments/payments-api-7c9d8b6f4-2xk9p, payments/payments-api-7c9d8b6f4-8hq2m',
    );
  });

  it('says in the summary that a digest escalated, to what and when', () => {
    const { annotations, labels } = body(
      digestAlert({ escalations: [{ priority: Priority.Critical, atMs: T0 + 1000 }] }),
    );
    expect(annotations.summary).toMatch(/; escalated to Critical at 09:15:03 UTC \(sent at once\)$/);
    expect(annotations.description).toContain('escalated to Critical at 09:15:03 UTC');
    // The digest stays at its repeats' priority: the escalation was its own alert.
    expect(labels.priority).toBe('Notice');
  });

  it("lists an incident's reasons and timeline", () => {
    const { annotations } = body(incidentAlert());
    expect(annotations.summary).toBe(
      'Shell then credential access: 2 events [pod=payments/payments-api-7c9d8b6f4-2xk9p]',
    );
    expect(annotations.description).toContain(
      'correlation shell-then-credential-access: 2 of 2 rules in order within 10m\nTimeline (UTC):\n' +
        '  09:15:02.123 Notice Terminal shell in container [payments/payments-api-7c9d8b6f4-2xk9p]: shell bash\n' +
        '  09:15:32.123 Warning Read sensitive file untrusted [payments/payments-api-7c9d8b6f4-2xk9p]: cat /etc/shadow\n' +
        'Last event:',
    );
  });

  it('bounds summary and description, and shows control characters as escapes', () => {
    const huge = JSON.stringify({
      rule: 'R',
      priority: 'Warning',
      time: '2026-01-01T00:00:00Z',
      output: `cmd=\u001b[2J${'A'.repeat(20_000)}`,
    });
    const { annotations } = body(eventAlert({ outcome: 'disabled' }, huge));
    expect(Array.from(annotations.description ?? '').length).toBeLessThanOrEqual(MAX_DESCRIPTION);
    expect(annotations.description).toContain('cmd=\\u001b[2J');
    const long = body(incidentAlert({ title: 'T'.repeat(1000) }));
    expect(Array.from(long.annotations.summary ?? '').length).toBeLessThanOrEqual(MAX_SUMMARY);
  });
});

describe('Alertmanager startsAt and endsAt', () => {
  it('starts an event at its Falco time and ends it resolveAfter later', () => {
    const { startsAt, endsAt } = body(eventAlert());
    expect(startsAt).toBe('2026-01-01T09:15:02.123456789Z');
    expect(endsAt).toBe('2026-01-01T09:30:02.123Z');
  });

  it('starts a digest at its first repeat and ends it resolveAfter after its last', () => {
    const { startsAt, endsAt } = body(digestAlert());
    expect(startsAt).toBe('2026-01-01T09:15:02.123Z');
    expect(endsAt).toBe('2026-01-01T09:34:02.123Z');
  });

  it('ends an active incident 3 re-send intervals ahead, never past its active period', () => {
    const options = amConfig({ resendInterval: '1m', incidentActiveFor: '10m' });
    const incident = incidentAlert(); // raised (lastSeen) at T0 + 30s: active until T0 + 10m30s
    expect(body(incident, T0 + 60_000, options).startsAt).toBe('2026-01-01T09:15:02.123Z');
    expect(body(incident, T0 + 60_000, options).endsAt).toBe(new Date(T0 + 240_000).toISOString());
    expect(body(incident, T0 + 500_000, options).endsAt).toBe(new Date(T0 + 630_000).toISOString());
    // After it: resolved, at the end of its active period.
    expect(body(incident, T0 + 700_000, options).endsAt).toBe(new Date(T0 + 630_000).toISOString());
    // Resolved early by the sink.
    const early = { ...incident, alertmanagerEndsAtMs: T0 + 90_000 };
    expect(body(early, T0 + 90_000, options).endsAt).toBe(new Date(T0 + 90_000).toISOString());
  });

  it('never sends an endsAt before startsAt (Alertmanager rejects it)', () => {
    const options = amConfig({ resolveAfter: '0ms', incidentActiveFor: '0ms' });
    const incident = incidentAlert({ firstSeenMs: T0 + 50_000, lastSeenMs: T0 });
    const sent = body(incident, T0, options);
    expect(Date.parse(sent.endsAt)).toBeGreaterThanOrEqual(Date.parse(sent.startsAt));
  });
});

describe('Alertmanager requests', () => {
  it('posts a one-element JSON array to /api/v2/alerts', () => {
    const destination = alertmanagerDestination('http://am-0:9093', config, () => T0);
    expect(destination.kind).toBe('alertmanager');
    const request = destination.render(eventAlert());
    expect(request.url).toBe('http://am-0:9093/api/v2/alerts');
    expect(request.headers).toEqual({ 'content-type': 'application/json' });
    const parsed = JSON.parse(request.body) as AlertmanagerAlertBody[];
    expect(parsed).toHaveLength(1);
    expect(parsed[0]?.labels.alertname).toBe('Contact K8S API Server From Container');
    expect(Object.keys(parsed[0] ?? {}).sort()).toEqual(['annotations', 'endsAt', 'labels', 'startsAt']);
  });

  it('keeps a route prefix, accepts the full endpoint, and turns URL credentials into a header', () => {
    expect(alertmanagerEndpoint('http://am:9093/alertmanager/').url).toBe(
      'http://am:9093/alertmanager/api/v2/alerts',
    );
    expect(alertmanagerEndpoint('https://am.example/api/v2/alerts').url).toBe(
      'https://am.example/api/v2/alerts',
    );
    const withAuth = alertmanagerEndpoint('https://perch:s3cr%40t@am.example:9093');
    expect(withAuth.url).toBe('https://am.example:9093/api/v2/alerts');
    expect(withAuth.url).not.toContain('s3cr');
    expect(withAuth.headers.authorization).toBe(`Basic ${Buffer.from('perch:s3cr@t').toString('base64')}`);
  });

  it('gives a retried incident a fresh endsAt at each attempt, also when read back from a spool', () => {
    let now = T0 + 60_000;
    const options = amConfig({ resendInterval: '1m', incidentActiveFor: '1h' });
    const destination = alertmanagerDestination('http://am-0:9093', options, () => now);
    const first = destination.render(incidentAlert());
    const parsed = (r: { body: string }) => (JSON.parse(r.body) as AlertmanagerAlertBody[])[0];
    expect(parsed(first)?.endsAt).toBe(new Date(T0 + 240_000).toISOString());
    expect(parsed(first)?.annotations.perch_active_until).toBe(new Date(T0 + 3_630_000).toISOString());
    now += 600_000;
    // As the spool stores it: a copy through JSON, no longer the object render returned.
    const fromSpool = JSON.parse(JSON.stringify(first)) as typeof first;
    const retried = destination.prepare?.(fromSpool, 2) ?? fromSpool;
    expect(parsed(retried)?.endsAt).toBe(new Date(T0 + 840_000).toISOString());
    expect({ ...parsed(retried), endsAt: '' }).toEqual({ ...parsed(first), endsAt: '' });
    expect(retried.url).toBe(first.url);
    // Past the active period: resolved at its end.
    now = T0 + 2 * 3_600_000;
    expect(parsed(destination.prepare?.(first, 9) ?? first)?.endsAt).toBe(
      new Date(T0 + 3_630_000).toISOString(),
    );
    const event = destination.render(eventAlert());
    expect(destination.prepare?.(event, 2)).toBe(event);
    const foreign = { ...event, body: 'not json' };
    expect(destination.prepare?.(foreign, 2)).toBe(foreign);
  });

  it("classifies Alertmanager's answers", () => {
    const destination = alertmanagerDestination('http://am-0:9093', config, () => T0);
    const classify = (r: DestinationResponse) => destination.classify?.(r);
    expect(classify(response(200))).toEqual({ kind: 'delivered' });
    // A validation error: the body is a bare JSON string.
    expect(classify(response(400, '"start time must be before end time"'))).toEqual({
      kind: 'rejected',
      reason: 'Alertmanager rejected the alert (400): start time must be before end time',
    });
    // A schema error: {code, message}.
    expect(
      classify(response(422, '{"code":601,"message":"0.generatorURL in body must be of type uri: \\"x\\""}')),
    ).toEqual({
      kind: 'rejected',
      reason: 'Alertmanager rejected the alert (422): 0.generatorURL in body must be of type uri: "x"',
    });
    expect(classify(response(404, '404 page not found'))).toMatchObject({
      kind: 'rejected',
      reason: expect.stringContaining('--web.route-prefix'),
    });
    expect(classify(response(500, '"failed to create alert"'))).toEqual({
      kind: 'retry',
      reason: 'Alertmanager answered 500: failed to create alert',
    });
    expect(classify(response(503, '<html>bad gateway</html>'))).toMatchObject({ kind: 'retry' });
    expect(classify(response(429, '', { 'retry-after': '7' }))).toEqual({
      kind: 'retry',
      reason: 'Alertmanager answered 429',
      afterMs: 7000,
    });
  });
});
