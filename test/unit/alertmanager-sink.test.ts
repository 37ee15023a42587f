import { describe, expect, it } from '@jest/globals';
import { type AlertmanagerSinkConfig, configSchema } from '../../src/config/schema.js';
import type { Destination } from '../../src/delivery/destination.js';
import { parseFalcoJson } from '../../src/events/parse-falco-json.js';
import { Priority } from '../../src/events/priority.js';
import type { ComponentMetrics } from '../../src/metrics/perch-metrics.js';
import {
  type Alert,
  alertFromEvent,
  type DigestAlert,
  type IncidentAlert,
} from '../../src/pipeline/alert.js';
import { AlertmanagerSink, type Timers } from '../../src/sinks/alertmanager-sink.js';
import type { AlertmanagerAlertBody } from '../../src/sinks/destinations/alertmanager.js';
import type { AlertSink } from '../../src/sinks/sink.js';
import { CURRENT_ALERT } from '../fixtures/falco-alerts.js';

const MINUTE = 60_000;
const T0 = Date.parse('2026-01-01T09:00:00Z');

function amConfig(extra: Record<string, unknown> = {}): AlertmanagerSinkConfig {
  const parsed = configSchema.parse({
    sinks: {
      am: {
        type: 'alertmanager',
        urls: ['http://am-0:9093', 'http://am-1:9093', 'http://am-2:9093'],
        resendInterval: '1m',
        incidentActiveFor: '5m',
        ...extra,
      },
    },
  });
  const sink = parsed.sinks.am;
  if (sink?.type !== 'alertmanager') throw new Error('expected the alertmanager sink');
  return sink;
}

/** A clock and timers that move only when the test says so. */
class ManualTime implements Timers {
  now = T0;
  private nextHandle = 1;
  private readonly pending = new Map<number, { at: number; callback: () => void }>();

  setTimeout(callback: () => void, ms: number): unknown {
    const handle = this.nextHandle++;
    this.pending.set(handle, { at: this.now + ms, callback });
    return handle;
  }

  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }

  get timers(): number {
    return this.pending.size;
  }

  /** Runs every timer due up to now + ms, in time order, with the clock at each one's time. */
  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      let next: [number, { at: number; callback: () => void }] | undefined;
      for (const entry of this.pending) if (!next || entry[1].at < next[1].at) next = entry;
      if (!next || next[1].at > end) break;
      this.pending.delete(next[0]);
      this.now = Math.max(this.now, next[1].at);
      next[1].callback();
    }
    this.now = end;
  }
}

/** What a delivery engine would post, captured at the moment of sending. */
interface Posted {
  alert: Alert;
  url: string;
  body: AlertmanagerAlertBody;
  at: number;
}

class RecordingSink implements AlertSink {
  readonly feed = 'alerts';
  readonly minPriority = Priority.Debug;
  readonly posted: Posted[] = [];
  up = true;
  calls: string[] = [];

  constructor(
    readonly id: string,
    private readonly destination: Destination,
    private readonly time: ManualTime,
  ) {}

  send(alert: Alert): void {
    const request = this.destination.render(alert);
    const [body] = JSON.parse(request.body) as AlertmanagerAlertBody[];
    if (!body) throw new Error('empty body');
    this.posted.push({ alert, url: request.url, body, at: this.time.now });
  }

  async flush(): Promise<void> {
    this.calls.push('flush');
  }

  async start(): Promise<void> {
    this.calls.push('start');
  }

  async close(): Promise<void> {
    this.calls.push('close');
  }

  status(): { up: boolean; detail?: string } {
    return this.up ? { up: true } : { up: false, detail: 'connection refused' };
  }
}

function setup(extra: Record<string, unknown> = {}, deps: { maxActiveIncidents?: number } = {}) {
  const time = new ManualTime();
  const inner: RecordingSink[] = [];
  const discarded: string[] = [];
  const counts = { received: 0, sent: 0 };
  const metrics: ComponentMetrics = {
    received: () => {
      counts.received += 1;
    },
    sent: () => {
      counts.sent += 1;
    },
    discarded: (reason) => discarded.push(reason),
    error: () => {},
  };
  const sink = new AlertmanagerSink('am', amConfig(extra), {
    innerSink: (id, destination) => {
      const recording = new RecordingSink(id, destination, time);
      inner.push(recording);
      return recording;
    },
    now: () => time.now,
    timers: time,
    metrics,
    ...deps,
  });
  return { sink, inner, time, discarded, counts };
}

function eventAlert() {
  return alertFromEvent({ event: parseFalcoJson(CURRENT_ALERT), enrichment: { outcome: 'unresolved' } }, T0);
}

function digestAlert(): DigestAlert {
  const sample = eventAlert();
  return {
    kind: 'digest',
    id: 'dig-1',
    fingerprint: 'f',
    rule: sample.event.rule,
    count: 3,
    firstSeenMs: T0,
    lastSeenMs: T0 + MINUTE,
    windowMs: 5 * MINUTE,
    pods: ['tools/toolbox-6d8f9c7b5-x2x7q'],
    podCount: 1,
    namespace: 'tools',
    sample,
    priority: Priority.Notice,
    reasons: [],
    receivedAtMs: T0 + 5 * MINUTE,
  };
}

let incidents = 0;
function incidentAlert(pod = 'tools/toolbox-6d8f9c7b5-x2x7q', raisedAt = T0): IncidentAlert {
  incidents += 1;
  return {
    kind: 'incident',
    id: `inc-${incidents}`,
    correlation: 'shell-then-credential-access',
    type: 'temporal',
    title: 'Shell then credential access',
    group: { pod },
    timeline: [],
    eventCount: 2,
    firstSeenMs: raisedAt - 10_000,
    lastSeenMs: raisedAt,
    sample: eventAlert(),
    priority: Priority.Critical,
    reasons: [],
    receivedAtMs: raisedAt - 10_000,
  };
}

const endsAt = (p: Posted | undefined) => (p ? Date.parse(p.body.endsAt) : Number.NaN);

describe('AlertmanagerSink fan-out (HA: post to every instance)', () => {
  it('makes one inner sink per URL and gives every alert to each of them', () => {
    const { sink, inner, counts } = setup();
    expect(inner.map((s) => s.id)).toEqual(['am/am-0:9093', 'am/am-1:9093', 'am/am-2:9093']);
    const alerts = [eventAlert(), digestAlert(), incidentAlert()];
    for (const alert of alerts) sink.send(alert);
    for (const [i, recording] of inner.entries()) {
      expect(recording.posted.map((p) => p.alert)).toEqual(alerts);
      expect(new Set(recording.posted.map((p) => p.url))).toEqual(
        new Set([`http://am-${i}:9093/api/v2/alerts`]),
      );
    }
    expect(counts).toEqual({ received: 3, sent: 3 });
    expect(sink.feed).toBe('alerts');
    expect(sink.minPriority).toBe(Priority.Debug);
  });

  it('names inner sinks by host only: never the credentials, and distinct on one host', () => {
    const { inner } = setup({ urls: ['http://u:secret@am:9093', 'http://am:9093/other'] });
    expect(inner.map((s) => s.id)).toEqual(['am/am:9093', 'am/am:9093#2']);
  });

  it('delegates start, flush and close, and is up while any instance is', async () => {
    const { sink, inner } = setup();
    await sink.start();
    await sink.flush();
    expect(sink.status()).toEqual({ up: true });
    const [first, second, third] = inner;
    if (!first || !second || !third) throw new Error('three inner sinks expected');
    first.up = false;
    expect(sink.status()).toEqual({
      up: true,
      detail: '1 of 3 Alertmanagers failing: am-0:9093 (connection refused)',
    });
    second.up = false;
    third.up = false;
    expect(sink.status().up).toBe(false);
    await sink.close();
    for (const recording of inner) expect(recording.calls).toEqual(['start', 'flush', 'close']);
  });
});

describe('AlertmanagerSink re-sending incidents', () => {
  it('re-sends an incident every resendInterval, then once resolved after incidentActiveFor', () => {
    const { sink, inner, time } = setup();
    const incident = incidentAlert();
    sink.send(incident);
    expect(sink.activeIncidents).toBe(1);
    time.advance(10 * MINUTE);
    for (const recording of inner) {
      expect(recording.posted.map((p) => p.at - T0)).toEqual([0, 1, 2, 3, 4, 5].map((m) => m * MINUTE));
      // While active, endsAt is 3 intervals ahead, but never past the active period (T0 + 5m).
      expect(recording.posted.map((p) => endsAt(p) - T0)).toEqual([3, 4, 5, 5, 5, 5].map((m) => m * MINUTE));
      const last = recording.posted.at(-1);
      expect(endsAt(last)).toBeLessThanOrEqual(last?.at ?? 0);
      expect(recording.posted.every((p) => p.alert === incident)).toBe(true);
    }
    expect(sink.activeIncidents).toBe(0);
    expect(time.timers).toBe(0);
  });

  it('re-sends nothing for events and digests', () => {
    const { sink, inner, time } = setup();
    sink.send(eventAlert());
    sink.send(digestAlert());
    time.advance(30 * MINUTE);
    expect(inner[0]?.posted).toHaveLength(2);
    expect(time.timers).toBe(0);
  });

  it('keeps one schedule per incident, each on its own period', () => {
    const { sink, inner, time } = setup();
    sink.send(incidentAlert('tools/a'));
    time.advance(30_000);
    sink.send(incidentAlert('tools/b', T0 + 30_000));
    time.advance(2 * MINUTE);
    const times = (pod: string) =>
      (inner[0]?.posted ?? []).filter((p) => p.body.labels.pod === pod).map((p) => (p.at - T0) / 1000);
    expect(times('a')).toEqual([0, 60, 120]);
    expect(times('b')).toEqual([30, 90, 150]);
    expect(time.timers).toBe(1);
  });

  it('lets a new incident with the same labels take the place of the active one', () => {
    const { sink, inner, time } = setup();
    const first = incidentAlert();
    sink.send(first);
    time.advance(2 * MINUTE);
    const second = incidentAlert(undefined, time.now);
    sink.send(second);
    expect(sink.activeIncidents).toBe(1);
    time.advance(10 * MINUTE);
    const posted = inner[0]?.posted ?? [];
    const after = posted.filter((p) => p.at > T0 + 2 * MINUTE);
    expect(after.length).toBeGreaterThan(0);
    expect(after.every((p) => p.alert.id === second.id)).toBe(true);
    // Resolved once, at the end of the second one's active period.
    expect(endsAt(posted.at(-1))).toBe(T0 + 7 * MINUTE);
  });

  it('does not track an incident whose active period is already over', () => {
    const { sink, inner, time } = setup();
    sink.send(incidentAlert(undefined, T0 - 10 * MINUTE));
    expect(sink.activeIncidents).toBe(0);
    expect(endsAt(inner[0]?.posted[0])).toBe(T0 - 5 * MINUTE);
    expect(time.timers).toBe(0);
  });

  it('resolves the oldest incident early when the active set is full, and counts it', () => {
    const { sink, inner, time, discarded } = setup({}, { maxActiveIncidents: 2 });
    const a = incidentAlert('tools/a');
    sink.send(a);
    time.advance(1000);
    sink.send(incidentAlert('tools/b', time.now));
    time.advance(1000);
    sink.send(incidentAlert('tools/c', time.now));
    expect(sink.activeIncidents).toBe(2);
    expect(sink.resolvedEarly).toBe(1);
    expect(discarded).toEqual(['incident_resolved_early']);
    for (const recording of inner) {
      const resolution = recording.posted.find((p) => p.alert.id === a.id && p.at === T0 + 2000);
      expect(endsAt(resolution)).toBe(T0 + 2000);
    }
    time.advance(10 * MINUTE);
    const laterA = (inner[0]?.posted ?? []).filter((p) => p.alert.id === a.id && p.at > T0 + 2000);
    expect(laterA).toEqual([]);
  });

  it('sends no re-sends to an instance that is down, but still its resolution', () => {
    const { sink, inner, time } = setup();
    const [down] = inner;
    if (!down) throw new Error('inner sink expected');
    sink.send(incidentAlert());
    down.up = false;
    time.advance(4 * MINUTE);
    expect(down.posted.map((p) => p.at - T0)).toEqual([0]);
    expect(inner[1]?.posted).toHaveLength(5);
    time.advance(MINUTE);
    expect(down.posted.map((p) => p.at - T0)).toEqual([0, 5 * MINUTE]);
    expect(endsAt(down.posted.at(-1))).toBe(T0 + 5 * MINUTE);
  });

  it('stops re-sending at close, without resolving (Alertmanager resolves them at endsAt)', async () => {
    const { sink, inner, time } = setup();
    sink.send(incidentAlert());
    time.advance(MINUTE);
    await sink.close();
    expect(time.timers).toBe(0);
    time.advance(10 * MINUTE);
    expect(inner[0]?.posted).toHaveLength(2);
    expect(endsAt(inner[0]?.posted.at(-1))).toBe(T0 + 4 * MINUTE);
  });

  it('never re-sends faster than once a second, whatever resendInterval says', () => {
    const { sink, inner, time } = setup({ resendInterval: '0ms', incidentActiveFor: '10s' });
    sink.send(incidentAlert());
    time.advance(20_000);
    expect(inner[0]?.posted.map((p) => (p.at - T0) / 1000)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });
});
