import { describe, expect, it } from '@jest/globals';
import { map, type SchedulerAction, type SchedulerLike, Subject, Subscription } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { parseFalcoJson } from '../../src/events/parse-falco-json.js';
import { Priority } from '../../src/events/priority.js';
import type { Enrichment } from '../../src/kube/pod-context.js';
import { alertFromEvent, type EventAlert, type IncidentAlert } from '../../src/pipeline/alert.js';
import {
  type CorrelateOptions,
  correlate,
  formatSpan,
  MAX_GROUP_ENTRIES,
} from '../../src/pipeline/correlate.js';
import { newWindow } from '../../src/pipeline/correlation-windows.js';
import { type CompiledCorrelation, compileCorrelation } from '../../src/rules/compile-correlation.js';
import type { CorrelationSpec } from '../../src/rules/rule-schema.js';
import { podContext } from '../fixtures/pod-context.js';
import { timeAlert } from '../helpers/alert-time.js';
import { shareHiddenClass, WARM_UP_OBJECTS } from '../helpers/hidden-class.js';

const SHELL = 'Terminal shell in container';
const READ = 'Read sensitive file untrusted';
const PKG = 'Launch Package Management Process in Container';

type SpecInput = Pick<CorrelationSpec, 'name' | 'type' | 'rules'> & Partial<CorrelationSpec>;

/** A compiled correlation; group-by pod and 2 minutes unless the spec says otherwise. */
function correlation(spec: SpecInput): CompiledCorrelation {
  const notes = { errors: [] as string[], warnings: [] as string[] };
  const compiled = compileCorrelation({ 'group-by': ['pod'], timespan: 120_000, ...spec }, 'test', notes);
  expect(notes.errors).toEqual([]);
  return compiled;
}

interface AlertOptions {
  namespace?: string;
  priority?: string;
  fields?: Record<string, string>;
  receivedAtMs?: number;
  enrichment?: Enrichment;
}

/** A Falco alert from pod `pod` (namespace payments unless given), enrichment disabled. */
function alert(rule: string, pod: string | undefined, options: AlertOptions = {}): EventAlert {
  const podFields = pod ? { 'k8s.ns.name': options.namespace ?? 'payments', 'k8s.pod.name': pod } : {};
  const event = parseFalcoJson(
    JSON.stringify({
      hostname: 'worker-1',
      output: `${rule} output`,
      output_fields: { 'container.id': 'abcdef123456', 'proc.name': 'bash', ...podFields, ...options.fields },
      priority: options.priority ?? 'Warning',
      rule,
      source: 'syscall',
      tags: ['container'],
      time: '1970-01-01T00:00:00.000000000Z',
    }),
  );
  return alertFromEvent(
    { event, enrichment: options.enrichment ?? { outcome: 'disabled' } },
    options.receivedAtMs ?? 0,
  );
}

/**
 * Wraps a scheduler to count the actions scheduled through it and how many are pending (scheduled,
 * neither run nor cancelled) at once.
 */
class CountingScheduler implements SchedulerLike {
  pending = 0;
  maxPending = 0;
  scheduled = 0;

  constructor(private readonly inner: SchedulerLike) {}

  now(): number {
    return this.inner.now();
  }

  schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delay?: number, state?: T): Subscription {
    let live = true;
    const settle = () => {
      if (!live) return;
      live = false;
      this.pending -= 1;
    };
    this.scheduled += 1;
    this.pending += 1;
    this.maxPending = Math.max(this.maxPending, this.pending);
    const action = this.inner.schedule(
      function (this: SchedulerAction<T>, s?: T) {
        settle();
        work.call(this, s);
      },
      delay,
      state,
    );
    return new Subscription(() => {
      settle();
      action.unsubscribe();
    });
  }
}

/** Drives the operator on a TestScheduler's virtual clock, one alert at a time. */
class Run {
  readonly virtual = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  readonly scheduler = new CountingScheduler(this.virtual);
  readonly input = new Subject<EventAlert>();
  readonly incidents: { atMs: number; incident: IncidentAlert }[] = [];
  readonly evicted: string[] = [];
  /** Tracked groups after every change. */
  readonly sizes: number[] = [];
  completed = false;
  readonly subscription: Subscription;

  constructor(list: () => readonly CompiledCorrelation[], options: Partial<CorrelateOptions> = {}) {
    this.subscription = this.input
      .pipe(
        correlate(list, {
          scheduler: this.scheduler,
          maxGroups: 1000,
          onEvicted: (name) => this.evicted.push(name),
          onState: (groups) => this.sizes.push(groups),
          ...options,
        }),
      )
      .subscribe({
        next: (incident) => this.incidents.push({ atMs: this.virtual.now(), incident }),
        complete: () => {
          this.completed = true;
        },
      });
  }

  /** Runs the timers due up to `timeMs` and sets the clock there (as EventTimeScheduler.advanceTo). */
  advanceTo(timeMs: number): void {
    if (timeMs < this.virtual.frame) return;
    this.virtual.maxFrames = timeMs;
    this.virtual.flush();
    this.virtual.frame = timeMs;
  }

  /**
   * Alerts that happened at `timeMs` and arrive then (or were taken in later, when the test set a
   * later receipt time).
   */
  at(timeMs: number, ...alerts: EventAlert[]): void {
    this.advanceTo(timeMs);
    for (const a of alerts) this.input.next(timeAlert(a, timeMs, Math.max(a.receivedAtMs, timeMs)));
  }

  /** An alert that arrives at `nowMs` but happened at `eventTimeMs` (late, or from a clock ahead). */
  arrive(nowMs: number, a: EventAlert, eventTimeMs: number): void {
    this.advanceTo(nowMs);
    this.input.next(timeAlert(a, eventTimeMs, nowMs));
  }

  get groups(): number {
    return this.sizes.at(-1) ?? 0;
  }

  get maxGroups(): number {
    return Math.max(0, ...this.sizes);
  }

  only(): IncidentAlert {
    expect(this.incidents).toHaveLength(1);
    const first = this.incidents[0];
    if (!first) throw new Error('no incident');
    return first.incident;
  }
}

const shells = (condition: CorrelationSpec['condition'] = { gte: 3 }) =>
  correlation({ name: 'shells', type: 'event_count', rules: [SHELL], condition });

describe('correlate: event_count', () => {
  it('fires exactly at the Nth event inside the window', () => {
    const c = shells();
    const run = new Run(() => [c]);
    run.at(0, alert(SHELL, 'api-1'));
    run.at(10_000, alert(SHELL, 'api-1'));
    expect(run.incidents).toHaveLength(0);
    run.at(20_000, alert(SHELL, 'api-1'));
    expect(run.incidents.map((i) => i.atMs)).toEqual([20_000]);
    expect(run.only().eventCount).toBe(3);
  });

  it('does not fire when the events are spread beyond the window, and slides', () => {
    const c = shells();
    const run = new Run(() => [c]);
    run.at(0, alert(SHELL, 'api-1'));
    run.at(70_000, alert(SHELL, 'api-1'));
    // The first event left the window at 120 s: two inside.
    run.at(130_000, alert(SHELL, 'api-1'));
    expect(run.incidents).toHaveLength(0);
    run.at(150_000, alert(SHELL, 'api-1'));
    const incident = run.only();
    expect(incident.timeline.map((t) => t.timeMs)).toEqual([70_000, 130_000, 150_000]);
    expect(incident.firstSeenMs).toBe(70_000);
  });

  it('counts an event exactly one timespan old as outside the window', () => {
    const c = shells({ gte: 2 });
    const run = new Run(() => [c]);
    run.at(0, alert(SHELL, 'api-1'));
    run.at(120_000, alert(SHELL, 'api-1'));
    expect(run.incidents).toHaveLength(0);
    run.at(239_999, alert(SHELL, 'api-1'));
    expect(run.incidents).toHaveLength(1);
  });

  it('fires once per group per timespan: later events are absorbed, then the group starts afresh', () => {
    const c = shells();
    const run = new Run(() => [c]);
    for (let i = 0; i < 50; i += 1) run.at(i * 1000, alert(SHELL, 'api-1'));
    // 50 shells in 50 s with gte 3 and a 2 m timespan: one incident, not 16.
    expect(run.incidents.map((i) => i.atMs)).toEqual([2000]);
    // The quiet period ends 2 m after the incident; from then on, fresh events count again.
    run.at(122_000, alert(SHELL, 'api-1'));
    run.at(123_000, alert(SHELL, 'api-1'));
    run.at(124_000, alert(SHELL, 'api-1'));
    expect(run.incidents.map((i) => i.atMs)).toEqual([2000, 124_000]);
    expect(run.incidents[1]?.incident.timeline.map((t) => t.timeMs)).toEqual([122_000, 123_000, 124_000]);
  });

  it('emits at the moment of the Nth event and completes at once with the source (marbles)', () => {
    const virtual = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
    const scheduler = new CountingScheduler(virtual);
    const c = correlation({
      name: 'shells',
      type: 'event_count',
      rules: [SHELL],
      timespan: 100,
      condition: { gte: 3 },
    });
    virtual.run(({ hot, expectObservable }) => {
      const source = hot('a 9ms a 9ms a 4ms a 4ms |', { a: alert(SHELL, 'api-1') });
      const counts = source.pipe(
        correlate(() => [c], { scheduler, maxGroups: 10 }),
        map((i) => i.eventCount),
      );
      // The fourth shell is still pending in its window at completion: nothing is flushed.
      expectObservable(counts).toBe('20ms x 9ms |', { x: 3 });
    });
    expect(scheduler.pending).toBe(0);
  });

  it('does not count events without a group (no pod) and events of other rules', () => {
    const c = shells({ gte: 1 });
    const run = new Run(() => [c]);
    run.at(0, alert(SHELL, undefined), alert(READ, 'api-1'));
    expect(run.incidents).toHaveLength(0);
    expect(run.groups).toBe(0);
    expect(run.scheduler.scheduled).toBe(0);
  });

  it('keeps group-by values apart: pod X events do not combine with pod Y', () => {
    const c = shells();
    const run = new Run(() => [c]);
    run.at(0, alert(SHELL, 'x'), alert(SHELL, 'y'));
    run.at(1000, alert(SHELL, 'x'), alert(SHELL, 'y'));
    expect(run.incidents).toHaveLength(0);
    expect(run.groups).toBe(2);
    run.at(2000, alert(SHELL, 'x'));
    expect(run.only().group).toEqual({ pod: 'payments/x' });
    // x stays, quiet until its timespan has passed; y still waits for its third shell.
    expect(run.groups).toBe(2);
  });

  it('evicts the least recently updated group beyond maxGroups, reporting it', () => {
    const c = shells();
    const run = new Run(() => [c], { maxGroups: 2 });
    run.at(0, alert(SHELL, 'a'), alert(SHELL, 'b'));
    run.at(1000, alert(SHELL, 'a'));
    run.at(2000, alert(SHELL, 'c'));
    expect(run.evicted).toEqual(['shells']);
    expect(run.groups).toBe(2);
    // a kept its two events: b was the least recently updated.
    run.at(3000, alert(SHELL, 'a'));
    expect(run.only().timeline.map((t) => t.timeMs)).toEqual([0, 1000, 3000]);
    // b starts again from nothing.
    run.at(4000, alert(SHELL, 'b'), alert(SHELL, 'b'));
    expect(run.incidents).toHaveLength(1);
  });

  it('documents a per-group cap', () => {
    expect(MAX_GROUP_ENTRIES).toBe(10_000);
  });

  it('caps a group that can never fire at MAX_GROUP_ENTRIES events', () => {
    const c = shells({ gte: MAX_GROUP_ENTRIES + 1 });
    const run = new Run(() => [c]);
    for (let i = 0; i < MAX_GROUP_ENTRIES + 10; i += 1) run.at(i, alert(SHELL, 'api-1'));
    expect(run.incidents).toHaveLength(0);
    const capped = correlation({
      name: 'capped',
      type: 'event_count',
      rules: [SHELL],
      condition: { gte: MAX_GROUP_ENTRIES },
    });
    const second = new Run(() => [capped]);
    for (let i = 0; i < MAX_GROUP_ENTRIES; i += 1) second.at(i, alert(SHELL, 'api-1'));
    expect(second.only().eventCount).toBe(MAX_GROUP_ENTRIES);
  });
});

/** Three distinct pods of one namespace within the timespan. */
const podSweep = (timespan: number) =>
  correlation({
    name: 'pod-sweep',
    type: 'value_count',
    rules: [SHELL],
    'group-by': ['namespace'],
    timespan,
    condition: { field: 'pod', gte: 3 },
  });

describe('correlate: value_count', () => {
  const pods = () => podSweep(600_000);

  it('keeps its values in one hidden class', () => {
    // Each new value's entry is built per event; V8 would give one made by a spread and then given
    // more properties a class of its own.
    const window = newWindow(pods());
    for (let i = 0; i < WARM_UP_OBJECTS; i += 1)
      window.add(alert(SHELL, `api-${i}`), i, i * 1000, [0], `payments/api-${i}`);
    const entries = window.snapshot().contributors;
    expect(entries).toHaveLength(WARM_UP_OBJECTS);
    expect(shareHiddenClass(entries)).toBe(true);
  });

  it('counts distinct values: the same pod five times is one, three pods fire', () => {
    const c = pods();
    const run = new Run(() => [c]);
    for (let i = 0; i < 5; i += 1) run.at(i * 1000, alert(SHELL, 'api-1'));
    run.at(10_000, alert(SHELL, 'api-2'));
    expect(run.incidents).toHaveLength(0);
    run.at(20_000, alert(SHELL, 'api-3'));
    const incident = run.only();
    expect(incident.group).toEqual({ namespace: 'payments' });
    expect(incident.reasons).toEqual([
      'correlation pod-sweep: 3 distinct pods within 10m (payments/api-1, payments/api-2, payments/api-3)',
    ]);
    // One timeline entry per value (its latest event); eventCount has every event of them.
    expect(incident.timeline.map((t) => [t.timeMs, t.pod])).toEqual([
      [4000, 'payments/api-1'],
      [10_000, 'payments/api-2'],
      [20_000, 'payments/api-3'],
    ]);
    expect(incident.eventCount).toBe(7);
    expect(incident.firstSeenMs).toBe(0);
    expect(incident.lastSeenMs).toBe(20_000);
  });

  it('lets a value leave the window when its latest event does', () => {
    const c = pods();
    const run = new Run(() => [c]);
    run.at(0, alert(SHELL, 'api-1'));
    run.at(300_000, alert(SHELL, 'api-2'));
    run.at(600_000, alert(SHELL, 'api-3'));
    expect(run.incidents).toHaveLength(0);
    run.at(610_000, alert(SHELL, 'api-1'));
    expect(run.only().timeline.map((t) => t.pod)).toEqual([
      'payments/api-2',
      'payments/api-3',
      'payments/api-1',
    ]);
  });

  it('does not let repeats of one value crowd out the others', () => {
    const c = correlation({
      name: 'files',
      type: 'value_count',
      rules: [READ],
      condition: { field: 'fd.name', gte: 4 },
    });
    const run = new Run(() => [c]);
    run.at(0, alert(READ, 'api-1', { fields: { 'fd.name': '/etc/shadow' } }));
    run.at(1, alert(READ, 'api-1', { fields: { 'fd.name': '/etc/passwd' } }));
    for (let i = 0; i < MAX_GROUP_ENTRIES + 100; i += 1) {
      run.at(2 + i, alert(READ, 'api-1', { fields: { 'fd.name': '/etc/hosts' } }));
    }
    // Three distinct values only so far, however many events.
    expect(run.incidents).toHaveLength(0);
    run.at(20_000, alert(READ, 'api-1', { fields: { 'fd.name': '/root/.ssh/id_rsa' } }));
    expect(run.only().eventCount).toBe(MAX_GROUP_ENTRIES + 103);
  });

  it('does not count an event that lacks the counted field', () => {
    const c = correlation({
      name: 'files',
      type: 'value_count',
      rules: [READ],
      condition: { field: 'fd.name', gte: 1 },
    });
    const run = new Run(() => [c]);
    run.at(0, alert(READ, 'api-1'));
    expect(run.incidents).toHaveLength(0);
    expect(run.groups).toBe(0);
  });
});

describe('correlate: temporal', () => {
  const three = () => correlation({ name: 'combo', type: 'temporal', rules: [SHELL, READ, PKG] });

  it('fires when every rule was seen within the window, in any order', () => {
    const c = three();
    const run = new Run(() => [c]);
    run.at(0, alert(READ, 'api-1'));
    run.at(10_000, alert(PKG, 'api-1'));
    run.at(20_000, alert(READ, 'api-1'));
    expect(run.incidents).toHaveLength(0);
    run.at(30_000, alert(SHELL, 'api-1'));
    const incident = run.only();
    // The latest event of each rule, oldest first.
    expect(incident.timeline.map((t) => [t.timeMs, t.rule])).toEqual([
      [10_000, PKG],
      [20_000, READ],
      [30_000, SHELL],
    ]);
    expect(incident.eventCount).toBe(3);
    expect(incident.reasons).toEqual([
      `correlation combo: 3 of 3 rules within 2m (${PKG}, ${READ}, ${SHELL})`,
    ]);
  });

  it('does not fire when one rule is missing', () => {
    const c = three();
    const run = new Run(() => [c]);
    run.at(0, alert(SHELL, 'api-1'), alert(READ, 'api-1'), alert(SHELL, 'api-1'), alert(READ, 'api-1'));
    expect(run.incidents).toHaveLength(0);
  });

  it('does not fire when a step left the window before the last one came', () => {
    const c = correlation({ name: 'pair', type: 'temporal', rules: [SHELL, READ] });
    const run = new Run(() => [c]);
    run.at(0, alert(READ, 'api-1'));
    run.at(120_000, alert(SHELL, 'api-1'));
    expect(run.incidents).toHaveLength(0);
    run.at(130_000, alert(READ, 'api-1'));
    expect(run.incidents).toHaveLength(1);
  });

  it('fires on a partial condition (gte 2 of 3 rules)', () => {
    const c = correlation({
      name: 'two',
      type: 'temporal',
      rules: [SHELL, READ, PKG],
      condition: { gte: 2 },
    });
    const run = new Run(() => [c]);
    run.at(0, alert(PKG, 'api-1'), alert(SHELL, 'api-1'));
    expect(run.only().reasons).toEqual([`correlation two: 2 of 3 rules within 2m (${PKG}, ${SHELL})`]);
  });
});

describe('correlate: temporal_ordered', () => {
  const ordered = (rules: string[] = [SHELL, READ]) =>
    correlation({ name: 'sequence', type: 'temporal_ordered', rules });

  it('fires on A then B', () => {
    const c = ordered();
    const run = new Run(() => [c]);
    run.at(0, alert(SHELL, 'api-1'));
    run.at(60_000, alert(READ, 'api-1'));
    const incident = run.only();
    expect(incident.timeline.map((t) => t.rule)).toEqual([SHELL, READ]);
    expect(incident.reasons).toEqual([
      `correlation sequence: 2 of 2 rules in order within 2m (${SHELL} → ${READ})`,
    ]);
  });

  it('does not fire on B then A', () => {
    const c = ordered();
    const run = new Run(() => [c]);
    run.at(0, alert(READ, 'api-1'));
    run.at(1000, alert(SHELL, 'api-1'));
    expect(run.incidents).toHaveLength(0);
    // B alone leaves no state; A does (it may start a sequence).
    expect(run.sizes).toEqual([1]);
  });

  it('does not fire on A, then B after the window expired', () => {
    const c = ordered();
    const run = new Run(() => [c]);
    run.at(0, alert(SHELL, 'api-1'));
    run.at(120_000, alert(READ, 'api-1'));
    expect(run.incidents).toHaveLength(0);
    // The sweep deleted the group at 120 s; B found nothing to extend.
    expect(run.groups).toBe(0);
  });

  it('requires each step after its predecessor: A, C, B, C fires with A → B → C', () => {
    const c = ordered([SHELL, READ, PKG]);
    const run = new Run(() => [c]);
    run.at(0, alert(SHELL, 'api-1'));
    run.at(1000, alert(PKG, 'api-1'));
    run.at(2000, alert(READ, 'api-1'));
    expect(run.incidents).toHaveLength(0);
    run.at(3000, alert(PKG, 'api-1'));
    const incident = run.only();
    expect(incident.timeline.map((t) => [t.timeMs, t.rule])).toEqual([
      [0, SHELL],
      [2000, READ],
      [3000, PKG],
    ]);
    expect(incident.eventCount).toBe(3);
  });

  it('measures the whole sequence against the window from its first step, restarting from the latest A', () => {
    const c = ordered([SHELL, READ, PKG]);
    const run = new Run(() => [c]);
    run.at(0, alert(SHELL, 'api-1'));
    run.at(100_000, alert(READ, 'api-1'));
    // The sequence began at 0: at 130 s it is out of the window.
    run.at(130_000, alert(PKG, 'api-1'));
    expect(run.incidents).toHaveLength(0);
    run.at(140_000, alert(SHELL, 'api-1'));
    run.at(150_000, alert(READ, 'api-1'));
    run.at(160_000, alert(PKG, 'api-1'));
    expect(run.only().firstSeenMs).toBe(140_000);
  });

  it('does not let one event stand for two consecutive steps', () => {
    const c = correlation({
      name: 'overlap',
      type: 'temporal_ordered',
      rules: [SHELL, { rule: SHELL, priority: '>=Warning' }],
    });
    const run = new Run(() => [c]);
    run.at(0, alert(SHELL, 'api-1'));
    expect(run.incidents).toHaveLength(0);
    run.at(1000, alert(SHELL, 'api-1'));
    expect(run.only().timeline.map((t) => t.timeMs)).toEqual([0, 1000]);
  });
});

describe('correlate: incident content', () => {
  it('carries title, type, group labels, timeline, counts, sample, reasons and an id', () => {
    const c = correlation({
      name: 'shells',
      title: 'Repeated container shells in one pod',
      type: 'event_count',
      rules: [SHELL, { rule: READ }],
      timespan: 600_000,
      condition: { gte: 3 },
    });
    const run = new Run(() => [c]);
    const last = alert(READ, 'api-1', { receivedAtMs: 1_700_000_002_000, fields: { 'proc.name': 'cat' } });
    run.at(
      1000,
      alert(SHELL, 'api-1', { receivedAtMs: 1_700_000_000_000, fields: { 'proc.cmdline': 'bash -i' } }),
    );
    run.at(2000, alert(SHELL, 'api-1', { receivedAtMs: 1_700_000_001_000 }));
    run.at(3000, last);
    const incident = run.only();
    expect(incident).toMatchObject({
      kind: 'incident',
      correlation: 'shells',
      type: 'event_count',
      title: 'Repeated container shells in one pod',
      group: { pod: 'payments/api-1' },
      eventCount: 3,
      firstSeenMs: 1000,
      lastSeenMs: 3000,
      priority: Priority.Warning,
      reasons: ['correlation shells: 3 events within 10m'],
      receivedAtMs: 1_700_000_000_000,
    });
    expect(incident.id).toMatch(/^inc-/);
    expect(incident.sample).toBe(last);
    expect(incident.timeline).toEqual([
      {
        timeMs: 1000,
        rule: SHELL,
        priority: Priority.Warning,
        pod: 'payments/api-1',
        summary: `${SHELL} in payments/api-1 (bash -i)`,
      },
      {
        timeMs: 2000,
        rule: SHELL,
        priority: Priority.Warning,
        pod: 'payments/api-1',
        summary: `${SHELL} in payments/api-1 (bash)`,
      },
      {
        timeMs: 3000,
        rule: READ,
        priority: Priority.Warning,
        pod: 'payments/api-1',
        summary: `${READ} in payments/api-1 (cat)`,
      },
    ]);
  });

  it('takes the pod from the enrichment when there is one, and the node when there is no pod', () => {
    const c = correlation({
      name: 'any',
      type: 'event_count',
      rules: [SHELL],
      'group-by': ['node'],
      condition: { gte: 2 },
    });
    const run = new Run(() => [c]);
    const enrichment: Enrichment = {
      outcome: 'container_id',
      pod: podContext({ namespace: 'shop', pod: 'web-1' }),
    };
    run.at(0, alert(SHELL, undefined, { enrichment }));
    run.at(1000, alert(SHELL, undefined));
    expect(run.only().timeline.map((t) => t.summary)).toEqual([
      `${SHELL} in shop/web-1 (bash)`,
      `${SHELL} on worker-1 (bash)`,
    ]);
    expect(run.only().group).toEqual({ node: 'worker-1' });
  });

  it('bounds the timeline to the first entries and the last one; eventCount keeps the total', () => {
    const c = shells({ gte: 8 });
    const run = new Run(() => [c], { maxTimeline: 5 });
    for (let i = 0; i < 8; i += 1) run.at(i * 1000, alert(SHELL, 'api-1'));
    const incident = run.only();
    expect(incident.timeline.map((t) => t.timeMs)).toEqual([0, 1000, 2000, 3000, 7000]);
    expect(incident.eventCount).toBe(8);
  });

  it('uses the highest priority of the contributing events when the correlation sets no severity', () => {
    const c = shells();
    const run = new Run(() => [c]);
    run.at(0, alert(SHELL, 'api-1', { priority: 'Notice' }));
    run.at(1, alert(SHELL, 'api-1', { priority: 'Error' }));
    run.at(2, alert(SHELL, 'api-1', { priority: 'Warning' }));
    expect(run.only().priority).toBe(Priority.Error);
  });

  it('uses the correlation severity when set', () => {
    const c = correlation({
      name: 'shells',
      type: 'event_count',
      rules: [SHELL],
      condition: { gte: 2 },
      severity: 5,
    });
    const run = new Run(() => [c]);
    run.at(
      0,
      alert(SHELL, 'api-1', { priority: 'Emergency' }),
      alert(SHELL, 'api-1', { priority: 'Notice' }),
    );
    expect(run.only().priority).toBe(Priority.Critical);
  });

  it('formats timespans with the largest exact unit', () => {
    expect([
      formatSpan(600_000),
      formatSpan(5_400_000),
      formatSpan(7_200_000),
      formatSpan(90_000),
      formatSpan(1500),
    ]).toEqual(['10m', '90m', '2h', '90s', '1500ms']);
  });
});

describe('correlate: each event on its own time', () => {
  const LATENESS = 30_000;
  const DAY = 86_400_000;

  it('places a late event in time order: the timeline and first/last seen are the events’ times', () => {
    const run = new Run(() => [shells()], { allowedLatenessMs: LATENESS });
    run.at(0, alert(SHELL, 'api-1'));
    run.at(20_000, alert(SHELL, 'api-1'));
    run.arrive(25_000, alert(SHELL, 'api-1'), 10_000);
    const incident = run.only();
    expect(incident.timeline.map((t) => t.timeMs)).toEqual([0, 10_000, 20_000]);
    expect([incident.firstSeenMs, incident.lastSeenMs]).toEqual([0, 20_000]);
  });

  it('does not count a burst of old events that were spread wider than the timespan', () => {
    // A backlog (a restarted reader, a lagging node) arriving all at once: by their own times
    // they are 90 s apart, so no 2 m window holds three of them.
    const run = new Run(() => [shells()], { allowedLatenessMs: LATENESS });
    run.arrive(600_000, alert(SHELL, 'api-1'), 0);
    run.arrive(600_000, alert(SHELL, 'api-1'), 90_000);
    run.arrive(600_000, alert(SHELL, 'api-1'), 180_000);
    expect(run.incidents).toHaveLength(0);
    run.arrive(600_000, alert(SHELL, 'api-1'), 200_000);
    expect(run.only().timeline.map((t) => t.timeMs)).toEqual([90_000, 180_000, 200_000]);
  });

  it('correlates a lagging node’s events by when they happened, and keeps the group while they arrive', () => {
    const run = new Run(() => [shells()], { allowedLatenessMs: LATENESS });
    const lag = 3_600_000;
    for (const t of [0, 60_000, 110_000]) run.arrive(t + lag, alert(SHELL, 'api-1'), t);
    const incident = run.only();
    expect(incident.timeline.map((t) => t.timeMs)).toEqual([0, 60_000, 110_000]);
    expect(incident.lastSeenMs).toBe(110_000);
  });

  it('ignores an event older than the group’s whole window instead of merging it', () => {
    const run = new Run(() => [shells({ gte: 2 })], { allowedLatenessMs: LATENESS });
    run.at(90 * DAY, alert(SHELL, 'api-1'));
    // From three months earlier (two nodes' logs merged out of order): not within 2 m of anything.
    run.arrive(90 * DAY + 1000, alert(SHELL, 'api-1'), 0);
    run.arrive(90 * DAY + 2000, alert(SHELL, 'api-1'), 3000);
    expect(run.incidents).toHaveLength(0);
    run.at(90 * DAY + 3000, alert(SHELL, 'api-1'));
    expect(run.only().timeline.map((t) => t.timeMs)).toEqual([90 * DAY, 90 * DAY + 3000]);
  });

  it('orders temporal_ordered steps by when they happened, not by when they arrived', () => {
    const sequence = correlation({ name: 'sequence', type: 'temporal_ordered', rules: [SHELL, READ] });
    const run = new Run(() => [sequence], { allowedLatenessMs: LATENESS });
    run.at(2000, alert(SHELL, 'api-1'));
    // Arrives after the shell but happened before it: not "shell, then read".
    run.arrive(2500, alert(READ, 'api-1'), 1000);
    expect(run.incidents).toHaveLength(0);
    run.arrive(4000, alert(READ, 'api-1'), 3000);
    expect(run.only().timeline.map((t) => [t.timeMs, t.rule])).toEqual([
      [2000, SHELL],
      [3000, READ],
    ]);
  });

  it('keeps the latest event of a temporal step when an older one arrives late', () => {
    const pair = correlation({ name: 'pair', type: 'temporal', rules: [SHELL, READ] });
    const run = new Run(() => [pair], { allowedLatenessMs: LATENESS });
    run.at(100_000, alert(READ, 'api-1'));
    run.arrive(101_000, alert(READ, 'api-1'), 50_000);
    // 2 m after the late read but not after the latest one: the pair still holds.
    run.at(210_000, alert(SHELL, 'api-1'));
    expect(run.only().timeline.map((t) => [t.timeMs, t.rule])).toEqual([
      [100_000, READ],
      [210_000, SHELL],
    ]);
  });

  it('places a late value in time order, so that it leaves the window in turn', () => {
    const sweep = podSweep(120_000);
    const run = new Run(() => [sweep], { allowedLatenessMs: LATENESS });
    run.at(100_000, alert(SHELL, 'api-1'));
    run.arrive(101_000, alert(SHELL, 'api-2'), 10_000);
    // api-2 happened at 10 s: by 140 s it has left the 2 m window, api-1 (100 s) has not.
    run.at(140_000, alert(SHELL, 'api-3'));
    expect(run.incidents).toHaveLength(0);
    run.at(150_000, alert(SHELL, 'api-4'));
    expect(run.only().timeline.map((t) => [t.timeMs, t.pod])).toEqual([
      [100_000, 'payments/api-1'],
      [140_000, 'payments/api-3'],
      [150_000, 'payments/api-4'],
    ]);
  });

  it('keeps time order when the latest value repeats and a late value comes after it', () => {
    const sweep = podSweep(120_000);
    const run = new Run(() => [sweep], { allowedLatenessMs: LATENESS });
    run.at(10_000, alert(SHELL, 'api-2'));
    // api-2 again: already the latest value, it is updated where it stands.
    run.at(100_000, alert(SHELL, 'api-2'));
    // Happened at 50 s: it belongs before api-2's 100 s, not after it.
    run.arrive(101_000, alert(SHELL, 'api-3'), 50_000);
    // At 175 s the window starts at 55 s: api-3 has left it, api-2 has not.
    run.at(175_000, alert(SHELL, 'api-4'));
    expect(run.incidents).toHaveLength(0);
    run.at(176_000, alert(SHELL, 'api-5'));
    expect(run.only().timeline.map((t) => [t.timeMs, t.pod])).toEqual([
      [100_000, 'payments/api-2'],
      [175_000, 'payments/api-4'],
      [176_000, 'payments/api-5'],
    ]);
  });

  it('bounds an event from a clock running ahead to its receipt plus allowedLateness', () => {
    const run = new Run(() => [shells({ gte: 2 })], { allowedLatenessMs: LATENESS });
    run.arrive(0, alert(SHELL, 'api-1'), 365 * DAY);
    run.at(10_000, alert(SHELL, 'api-1'));
    // Taken as 30 s, not a year ahead: it does not shut out the events of the present.
    expect(run.only().timeline.map((t) => t.timeMs)).toEqual([10_000, LATENESS]);
  });

  it('keeps a group allowedLateness past its timespan for late events, then forgets it', () => {
    const run = new Run(() => [shells({ gte: 2 })], { allowedLatenessMs: LATENESS });
    run.at(0, alert(SHELL, 'api-1'));
    run.advanceTo(120_000 + LATENESS - 1);
    expect(run.groups).toBe(1);
    run.arrive(120_000 + LATENESS - 1, alert(SHELL, 'api-1'), 100_000);
    expect(run.incidents).toHaveLength(1);
    run.advanceTo(2 * (120_000 + LATENESS));
    expect(run.groups).toBe(0);
    expect(run.scheduler.pending).toBe(0);
  });
});

describe('correlate: memory and timers', () => {
  it('tracks at most maxGroups of 50k distinct groups, and the sweep deletes idle ones', () => {
    const c = shells({ gte: 2 });
    const run = new Run(() => [c], { maxGroups: 1000 });
    // One new pod every 10 ms for 500 s: 6,000 groups would be inside a 60 s window at once.
    for (let i = 0; i < 50_000; i += 1) run.at(i * 10, alert(SHELL, `pod-${i}`));
    expect(run.maxGroups).toBe(1000);
    expect(run.evicted.length).toBeGreaterThan(40_000);
    expect(run.scheduler.maxPending).toBe(1);
    // One sweep timer at a time, not one per group.
    expect(run.scheduler.scheduled).toBeLessThan(100);
    run.advanceTo(500_000 + 120_000);
    expect(run.groups).toBe(0);
    expect(run.scheduler.pending).toBe(0);
  });

  it('without eviction pressure, the sweep keeps only the groups inside their window', () => {
    const c = correlation({
      name: 'shells',
      type: 'event_count',
      rules: [SHELL],
      timespan: 10_000,
      condition: { gte: 2 },
    });
    const run = new Run(() => [c], { maxGroups: 100_000 });
    for (let i = 0; i < 5000; i += 1) run.at(i * 10, alert(SHELL, `pod-${i}`));
    // 10 s of groups at one per 10 ms, plus the one that just arrived.
    expect(run.maxGroups).toBeLessThanOrEqual(1001);
    expect(run.evicted).toEqual([]);
    expect(run.scheduler.maxPending).toBe(1);
    run.advanceTo(50_000 + 10_000);
    expect(run.groups).toBe(0);
    expect(run.scheduler.pending).toBe(0);
  });

  it('keeps one pending scheduler action for many groups of correlations with different timespans', () => {
    const list = [
      correlation({
        name: 'short',
        type: 'event_count',
        rules: [SHELL],
        timespan: 1000,
        condition: { gte: 99 },
      }),
      correlation({ name: 'long', type: 'temporal', rules: [SHELL, READ], timespan: 60_000 }),
      correlation({
        name: 'files',
        type: 'value_count',
        rules: [READ],
        condition: { field: 'fd.name', gte: 99 },
      }),
    ];
    const run = new Run(() => list);
    const pendingSeen: number[] = [];
    for (let i = 0; i < 2000; i += 1) {
      run.at(i * 7, alert(i % 2 ? SHELL : READ, `pod-${i % 300}`, { fields: { 'fd.name': `/f${i}` } }));
      pendingSeen.push(run.scheduler.pending);
    }
    expect(Math.max(...pendingSeen)).toBe(1);
    expect(run.scheduler.maxPending).toBe(1);
    run.advanceTo(14_000 + 120_000);
    expect(run.groups).toBe(0);
    expect(run.scheduler.pending).toBe(0);
  });

  it('leaves no timer behind on unsubscribe or completion', () => {
    const c = shells();
    const run = new Run(() => [c]);
    run.at(0, alert(SHELL, 'api-1'), alert(SHELL, 'api-2'));
    expect(run.scheduler.pending).toBe(1);
    run.subscription.unsubscribe();
    expect(run.scheduler.pending).toBe(0);

    const second = new Run(() => [c]);
    second.at(0, alert(SHELL, 'api-1'));
    second.input.complete();
    expect(second.completed).toBe(true);
    expect(second.incidents).toHaveLength(0);
    expect(second.scheduler.pending).toBe(0);
  });

  it('schedules nothing when the downstream unsubscribes while an incident goes out', () => {
    const list = [
      shells({ gte: 1 }),
      correlation({ name: 'also', type: 'event_count', rules: [SHELL], condition: { gte: 1 } }),
    ];
    const virtual = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
    const scheduler = new CountingScheduler(virtual);
    const input = new Subject<EventAlert>();
    const seen: string[] = [];
    const subscription = input
      .pipe(correlate(() => list, { scheduler, maxGroups: 10 }))
      .subscribe((incident) => {
        seen.push(incident.correlation);
        subscription.unsubscribe();
      });
    input.next(alert(SHELL, 'api-1'));
    expect(seen).toEqual(['shells']);
    expect(scheduler.pending).toBe(0);
  });

  it('stays consistent when the downstream feeds an alert back in while an incident goes out', () => {
    const c = shells({ gte: 2 });
    const virtual = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
    const input = new Subject<EventAlert>();
    const seen: number[] = [];
    input.pipe(correlate(() => [c], { scheduler: virtual, maxGroups: 10 })).subscribe((incident) => {
      seen.push(incident.eventCount);
      if (seen.length === 1) input.next(alert(SHELL, 'api-1'));
    });
    input.next(alert(SHELL, 'api-1'));
    input.next(alert(SHELL, 'api-1'));
    // The fed-back shell lands in the quiet period after the incident: absorbed, not a second incident.
    expect(seen).toEqual([2]);
    input.next(alert(SHELL, 'api-1'));
    expect(seen).toEqual([2]);
  });
});

describe('correlate: rules reload', () => {
  it('applies a swapped list at once and drops the state of a removed correlation', () => {
    const shellCount = shells();
    const reads = correlation({ name: 'reads', type: 'event_count', rules: [READ], condition: { gte: 2 } });
    let list: readonly CompiledCorrelation[] = [shellCount];
    const run = new Run(() => list);
    run.at(0, alert(SHELL, 'api-1'), alert(SHELL, 'api-1'));
    expect(run.groups).toBe(1);

    list = [reads];
    // Shells no longer count, and the shells group is gone with its correlation.
    run.at(1000, alert(SHELL, 'api-1'));
    expect(run.incidents).toHaveLength(0);
    expect(run.groups).toBe(0);
    run.at(2000, alert(READ, 'api-1'), alert(READ, 'api-1'));
    expect(run.only().correlation).toBe('reads');

    // Back again: the two old shells were dropped, three fresh ones are needed.
    list = [shellCount];
    run.at(3000, alert(SHELL, 'api-1'), alert(SHELL, 'api-1'));
    expect(run.incidents).toHaveLength(1);
    run.at(4000, alert(SHELL, 'api-1'));
    expect(run.incidents.map((i) => i.incident.correlation)).toEqual(['reads', 'shells']);
  });

  it('keeps the windows of a recompiled correlation of the same name and shape', () => {
    let list: readonly CompiledCorrelation[] = [shells()];
    const run = new Run(() => list);
    run.at(0, alert(SHELL, 'api-1'), alert(SHELL, 'api-1'));
    list = [shells()];
    run.at(1000, alert(SHELL, 'api-1'));
    expect(run.incidents).toHaveLength(1);
  });

  it('uses a changed condition or timespan at once', () => {
    let list: readonly CompiledCorrelation[] = [shells({ gte: 5 })];
    const run = new Run(() => list);
    run.at(0, alert(SHELL, 'api-1'), alert(SHELL, 'api-1'));
    list = [shells({ gte: 3 })];
    run.at(1000, alert(SHELL, 'api-1'));
    expect(run.incidents).toHaveLength(1);
  });

  it('drops the windows of a correlation whose type changed', () => {
    let list: readonly CompiledCorrelation[] = [shells()];
    const run = new Run(() => list);
    run.at(0, alert(SHELL, 'api-1'), alert(SHELL, 'api-1'));
    list = [correlation({ name: 'shells', type: 'temporal', rules: [SHELL, READ] })];
    run.at(1000, alert(READ, 'api-1'));
    expect(run.incidents).toHaveLength(0);
    run.at(2000, alert(SHELL, 'api-1'));
    expect(run.only().type).toBe('temporal');
  });

  it('cancels the sweep when a reload leaves no groups', () => {
    let list: readonly CompiledCorrelation[] = [shells()];
    const run = new Run(() => list);
    run.at(0, alert(SHELL, 'api-1'));
    expect(run.scheduler.pending).toBe(1);
    list = [];
    run.at(1000, alert(SHELL, 'api-1'));
    expect(run.groups).toBe(0);
    expect(run.scheduler.pending).toBe(0);
  });
});
