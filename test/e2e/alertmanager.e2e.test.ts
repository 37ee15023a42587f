import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { stringify } from 'yaml';
import { type AlertmanagerSinkConfig, configSchema } from '../../src/config/schema.js';
import { DeliverySink } from '../../src/delivery/delivery-sink.js';
import { parseFalcoJson } from '../../src/events/parse-falco-json.js';
import { Priority } from '../../src/events/priority.js';
import type { Enrichment } from '../../src/kube/pod-context.js';
import { createLogger } from '../../src/logging/logger.js';
import { PerchMetrics } from '../../src/metrics/perch-metrics.js';
import {
  alertFromEvent,
  type DigestAlert,
  type EventAlert,
  type IncidentAlert,
} from '../../src/pipeline/alert.js';
import { AlertmanagerSink } from '../../src/sinks/alertmanager-sink.js';
import { classifyAlertmanagerResponse } from '../../src/sinks/destinations/alertmanager.js';
import { CURRENT_ALERT } from '../fixtures/falco-alerts.js';
import { PAYMENTS_API_SANDBOXED, PRIVILEGED_API_CONTAINER, podContext } from '../fixtures/pod-context.js';
import { eventually, freePort, requireBinary, ServerProcess } from '../helpers/real-server.js';

const ALERTMANAGER = requireBinary('/usr/bin/prometheus-alertmanager', 'prometheus-alertmanager');
const dir = mkdtempSync(join(tmpdir(), 'perch-am-'));

/** An alert as GET /api/v2/alerts returns it. */
interface StoredAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  updatedAt: string;
  fingerprint: string;
  status: { state: string; silencedBy: string[]; inhibitedBy: string[] };
}

/** What Alertmanager's webhook receiver posts (only the fields checked here). */
interface Notification {
  status: 'firing' | 'resolved';
  alerts: { status: string; labels: Record<string, string>; startsAt: string; endsAt: string }[];
}

const RESOLVED_CORRELATION = 'short-lived-incident';

let primary: { url: string; server: ServerProcess };
let secondary: { url: string; server: ServerProcess };
const notifications: Notification[] = [];
let receiver: Server;
const sinks: AlertmanagerSink[] = [];
const metrics = new PerchMetrics({ processMetrics: false });
const log = createLogger('silent');

async function startAlertmanager(
  name: string,
  config: unknown,
): Promise<{ url: string; server: ServerProcess }> {
  const port = await freePort();
  const file = join(dir, `${name}.yml`);
  writeFileSync(file, stringify(config));
  const server = new ServerProcess(ALERTMANAGER, [
    `--config.file=${file}`,
    `--storage.path=${join(dir, name)}`,
    `--web.listen-address=127.0.0.1:${port}`,
    // Empty: no cluster, so no gossip port is opened and each instance stands alone.
    '--cluster.listen-address=',
  ]);
  const url = `http://127.0.0.1:${port}`;
  await eventually(
    `Alertmanager ${name} to be ready`,
    async () => ((await fetch(`${url}/-/ready`)).ok ? true : undefined),
    server,
  );
  return { url, server };
}

async function alertsIn(url: string, filters: string[]): Promise<StoredAlert[]> {
  const query = filters.map((f) => `filter=${encodeURIComponent(f)}`).join('&');
  const res = await fetch(`${url}/api/v2/alerts?${query}`);
  if (!res.ok) throw new Error(`GET /api/v2/alerts: ${res.status} ${await res.text()}`);
  return (await res.json()) as StoredAlert[];
}

/** Waits until the one alert matching `filters` is in Alertmanager, and returns it. */
async function oneAlert(url: string, filters: string[]): Promise<StoredAlert> {
  return eventually(`an alert ${filters.join(',')} in ${url}`, async () => {
    const found = await alertsIn(url, filters);
    return found.length === 1 ? found[0] : undefined;
  });
}

function sinkConfig(extra: Record<string, unknown>): AlertmanagerSinkConfig {
  const parsed = configSchema.parse({
    sinks: {
      am: {
        type: 'alertmanager',
        urls: [primary.url, secondary.url],
        labels: { cluster: 'e2e' },
        retry: { initial: '50ms', max: '500ms' },
        ...extra,
      },
    },
  });
  const sink = parsed.sinks.am;
  if (sink?.type !== 'alertmanager') throw new Error('expected the alertmanager sink');
  return sink;
}

/** The sink as the agent wires it: the real delivery engine behind each Alertmanager. */
async function startSink(id: string, extra: Record<string, unknown> = {}): Promise<AlertmanagerSink> {
  const config = sinkConfig(extra);
  const sink = new AlertmanagerSink(id, config, {
    innerSink: (innerId, destination) => new DeliverySink(innerId, config, destination, { metrics, log }),
  });
  sinks.push(sink);
  await sink.start();
  return sink;
}

const PAYMENTS: Enrichment = {
  outcome: 'container_id',
  pod: podContext({
    ...PAYMENTS_API_SANDBOXED,
    posture: {
      level: 'privileged',
      violations: [PRIVILEGED_API_CONTAINER],
    },
    container: { name: 'api', kind: 'container' },
  }),
};

/** The fixture alert, happening now (an alert whose endsAt has passed is not listed by Alertmanager). */
function eventNow(timeMs: number, enrichment: Enrichment = PAYMENTS): EventAlert {
  const time = new Date(timeMs).toISOString().replace('Z', '456Z');
  return alertFromEvent(
    { event: parseFalcoJson(CURRENT_ALERT.replace('2026-01-01T09:15:02.123456789Z', time)), enrichment },
    timeMs,
  );
}

function incident(correlation: string, raisedAtMs: number): IncidentAlert {
  return {
    kind: 'incident',
    id: `inc-${correlation}`,
    correlation,
    type: 'temporal_ordered',
    title: 'Shell then credential access',
    group: { pod: 'payments/payments-api-7c9d8b6f4-2xk9p' },
    timeline: [
      {
        timeMs: raisedAtMs - 20_000,
        rule: 'Terminal shell in container',
        priority: Priority.Notice,
        pod: 'payments/payments-api-7c9d8b6f4-2xk9p',
        summary: 'bash',
      },
      {
        timeMs: raisedAtMs,
        rule: 'Read sensitive file untrusted',
        priority: Priority.Warning,
        pod: 'payments/payments-api-7c9d8b6f4-2xk9p',
        summary: 'cat /etc/shadow',
      },
    ],
    eventCount: 2,
    firstSeenMs: raisedAtMs - 20_000,
    lastSeenMs: raisedAtMs,
    sample: eventNow(raisedAtMs),
    priority: Priority.Critical,
    reasons: [`correlation ${correlation}: 2 of 2 rules in order within 10m`],
    receivedAtMs: raisedAtMs - 20_000,
  };
}

const iso = (ms: number) => new Date(ms).toISOString();

beforeAll(async () => {
  const receiverPort = await freePort();
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on('end', () => {
      notifications.push(JSON.parse(body) as Notification);
      res.end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(receiverPort, '127.0.0.1', resolve));
  // Everything goes to a receiver that does nothing, except the short-lived incident, whose
  // notifications (firing, then resolved) are captured to see how Alertmanager took its end.
  primary = await startAlertmanager('primary', {
    route: {
      receiver: 'null',
      routes: [
        {
          receiver: 'capture',
          matchers: [`alertname="${RESOLVED_CORRELATION}"`],
          group_by: ['alertname'],
          group_wait: '0s',
          group_interval: '1s',
          repeat_interval: '1h',
        },
      ],
    },
    receivers: [
      { name: 'null' },
      {
        name: 'capture',
        webhook_configs: [{ url: `http://127.0.0.1:${receiverPort}/`, send_resolved: true }],
      },
    ],
  });
  secondary = await startAlertmanager('secondary', {
    route: { receiver: 'null' },
    receivers: [{ name: 'null' }],
  });
});

afterAll(async () => {
  for (const sink of sinks) {
    await sink.flush();
    await sink.close();
  }
  await primary?.server.stop();
  await secondary?.server.stop();
  await new Promise((resolve) => receiver?.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

describe('real Alertmanager receiving Perch alerts', () => {
  it('stores an event with its labels, annotations and times, in every instance', async () => {
    const sink = await startSink('am-event');
    const now = Date.now();
    const alert = eventNow(now);
    sink.send(alert);
    for (const { url } of [primary, secondary]) {
      const stored = await oneAlert(url, ['perch_kind="event"']);
      expect(stored.labels).toEqual({
        alertname: 'Contact K8S API Server From Container',
        cluster: 'e2e',
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
      expect(stored.annotations.summary).toBe(
        'Contact K8S API Server From Container in deployment/payments-api (namespace payments) on node worker-2',
      );
      expect(stored.annotations.description).toContain('command=kubectl get secrets -A');
      expect(stored.annotations.description).toContain(
        'Isolation: sandbox (RuntimeClass gvisor, handler runsc)',
      );
      expect(stored.annotations.pod).toBe('payments/payments-api-7c9d8b6f4-2xk9p');
      expect(stored.annotations.perch_id).toBe(alert.id);
      // Falco's nanoseconds were posted; Alertmanager answers in milliseconds.
      expect(Date.parse(stored.startsAt)).toBe(now);
      expect(Date.parse(stored.endsAt)).toBe(now + 900_000);
      expect(stored.status.state).toBe('active');
    }
  });

  it('stores a digest as an alert of its own, ending resolveAfter after its last repeat', async () => {
    const sink = await startSink('am-digest', { resolveAfter: '10m' });
    const now = Date.now();
    const digest: DigestAlert = {
      kind: 'digest',
      id: 'dig-e2e',
      fingerprint: 'f',
      rule: 'Contact K8S API Server From Container',
      count: 57,
      firstSeenMs: now - 240_000,
      lastSeenMs: now - 10_000,
      windowMs: 300_000,
      pods: ['payments/payments-api-7c9d8b6f4-2xk9p', 'payments/payments-api-7c9d8b6f4-8hq2m'],
      podCount: 2,
      namespace: 'payments',
      workload: { kind: 'Deployment', name: 'payments-api' },
      sample: eventNow(now - 10_000),
      priority: Priority.Notice,
      reasons: [],
      receivedAtMs: now,
    };
    sink.send(digest);
    for (const { url } of [primary, secondary]) {
      const stored = await oneAlert(url, ['perch_kind="digest"']);
      expect(stored.labels).toMatchObject({
        alertname: 'Contact K8S API Server From Container',
        perch_kind: 'digest',
        workload: 'deployment/payments-api',
        cluster: 'e2e',
      });
      expect(stored.labels.pod).toBeUndefined();
      expect(stored.annotations.summary).toMatch(
        /^Contact K8S API Server From Container ×57 more in 5m across 2 pods/,
      );
      expect(Date.parse(stored.startsAt)).toBe(now - 240_000);
      expect(Date.parse(stored.endsAt)).toBe(now - 10_000 + 600_000);
    }
    // The digest did not replace the event before it: different label sets, two alerts.
    expect(await alertsIn(primary.url, ['alertname="Contact K8S API Server From Container"'])).toHaveLength(
      2,
    );
  });

  it('keeps an active incident alive by re-sending it, in every instance', async () => {
    const sink = await startSink('am-incident', { resendInterval: '1s', incidentActiveFor: '1h' });
    const raised = Date.now();
    sink.send(incident('shell-then-credential-access', raised));
    const first = await oneAlert(primary.url, ['alertname="shell-then-credential-access"']);
    expect(first.labels).toEqual({
      alertname: 'shell-then-credential-access',
      cluster: 'e2e',
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
    expect(first.annotations.description).toContain('Timeline (UTC):');
    expect(first.annotations.perch_active_until).toBe(iso(raised + 3_600_000));
    expect(Date.parse(first.startsAt)).toBe(raised - 20_000);
    // endsAt is 3 re-send intervals ahead of the post…
    expect(Date.parse(first.endsAt) - raised).toBeGreaterThanOrEqual(3000);
    expect(Date.parse(first.endsAt) - Date.now()).toBeLessThanOrEqual(3000);
    // …and moves on with every re-send, on both instances.
    for (const { url } of [primary, secondary]) {
      await eventually('a re-send to move endsAt on', async () => {
        const later = await oneAlert(url, ['alertname="shell-then-credential-access"']);
        return Date.parse(later.endsAt) >= Date.parse(first.endsAt) + 2000 ? later : undefined;
      });
    }
    expect(sink.activeIncidents).toBe(1);
  });

  it('resolves an incident once its active period is over: gone from the API, "resolved" notified', async () => {
    const sink = await startSink('am-resolve', { resendInterval: '1s', incidentActiveFor: '3s' });
    const raised = Date.now();
    sink.send(incident(RESOLVED_CORRELATION, raised));
    const filter = [`alertname="${RESOLVED_CORRELATION}"`];
    for (const { url } of [primary, secondary]) {
      expect((await oneAlert(url, filter)).status.state).toBe('active');
    }
    // Alertmanager lists only alerts whose endsAt is ahead: a resolved alert disappears.
    for (const { url } of [primary, secondary]) {
      await eventually('the incident to be resolved', async () =>
        (await alertsIn(url, filter)).length === 0 ? true : undefined,
      );
    }
    expect(Date.now()).toBeGreaterThanOrEqual(raised + 3000);
    // Alertmanager's clock passing endsAt and the sink's timer for its last post race each other.
    await eventually('the sink to stop re-sending', async () =>
      sink.activeIncidents === 0 ? true : undefined,
    );
    const resolved = await eventually('a resolved notification', async () =>
      notifications.find((n) => n.status === 'resolved'),
    );
    expect(notifications[0]?.status).toBe('firing');
    expect(resolved.alerts).toHaveLength(1);
    expect(resolved.alerts[0]?.status).toBe('resolved');
    expect(resolved.alerts[0]?.labels.alertname).toBe(RESOLVED_CORRELATION);
    // Resolved at the end of its active period, not whenever the last post happened to arrive.
    // Alertmanager prints times with trailing zeros of the milliseconds dropped: compare instants.
    expect(Date.parse(resolved.alerts[0]?.endsAt ?? '')).toBe(raised + 3000);
  });

  it("answers invalid posts in the shapes the destination's classify reads", async () => {
    const post = async (body: string) => {
      const res = await fetch(`${primary.url}/api/v2/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      return classifyAlertmanagerResponse(
        { status: res.status, headers: res.headers, body: await res.text() },
        Date.now(),
      );
    };
    const now = Date.now();
    expect(
      await post(
        JSON.stringify([{ labels: { alertname: 'x' }, startsAt: iso(now), endsAt: iso(now - 1000) }]),
      ),
    ).toEqual({
      kind: 'rejected',
      reason: 'Alertmanager rejected the alert (400): start time must be before end time',
    });
    expect(await post(JSON.stringify([{ labels: { 'k8s.ns.name': 'x' }, startsAt: iso(now) }]))).toEqual({
      kind: 'rejected',
      reason: 'Alertmanager rejected the alert (400): invalid label set: invalid name "k8s.ns.name"',
    });
    expect(
      await post(JSON.stringify([{ labels: { alertname: 'x' }, generatorURL: 'not a url' }])),
    ).toMatchObject({
      kind: 'rejected',
      reason: expect.stringContaining('(422): 0.generatorURL in body must be of type uri'),
    });
  });

  it('still delivers to one instance while the other is down (each retries on its own)', async () => {
    const sink = await startSink('am-ha');
    await secondary.server.stop();
    const alert = eventNow(Date.now(), { outcome: 'unresolved' });
    sink.send(alert);
    const stored = await oneAlert(primary.url, ['pod="toolbox-6d8f9c7b5-x2x7q"']);
    expect(stored.labels).toMatchObject({ namespace: 'tools', perch_kind: 'event' });
    expect(stored.labels.workload).toBeUndefined();
    await eventually('the secondary to be reported failing', async () =>
      sink.status().detail?.includes(new URL(secondary.url).host) ? true : undefined,
    );
    expect(sink.status().up).toBe(true);
  });
});
