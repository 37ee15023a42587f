import {
  asyncScheduler,
  Observable,
  type OperatorFunction,
  type SchedulerLike,
  type Subscription,
} from 'rxjs';
import type { Priority } from '../events/priority.js';
import { fieldText } from '../rules/alert-facts.js';
import { keyPart } from '../rules/alert-keys.js';
import type { CompiledCorrelation } from '../rules/compile-correlation.js';
import type { Predicate } from '../rules/compile-match.js';
import { type EventAlert, type IncidentAlert, nextAlertId, type TimelineEntry } from './alert.js';

/**
 * Most entries one group keeps: events for event_count, distinct values for value_count. A
 * condition normally fires (and empties the group) long before this; it only bites for conditions
 * that never hold or need more than this many (`gte: 20000`), which therefore can never fire.
 * Worst-case memory is about maxGroups × MAX_GROUP_ENTRIES small timeline entries.
 */
export const MAX_GROUP_ENTRIES = 10_000;
export const DEFAULT_MAX_TIMELINE = 20;

export interface CorrelateOptions {
  /** Clock and timers of the windows; default asyncScheduler (EventTimeScheduler in replay). */
  scheduler?: SchedulerLike;
  /** Groups tracked across all correlations; beyond it the least recently updated one is evicted. */
  maxGroups: number;
  /** Entries kept in an incident's timeline (default 20): the first ones and the last; eventCount has the total. */
  maxTimeline?: number;
  /** Called with the correlation's name whenever one of its groups is evicted to stay within maxGroups. */
  onEvicted?: (correlation: string) => void;
  /** Called with the number of tracked groups whenever it changes (a gauge; tests watch memory with it). */
  onState?: (groups: number) => void;
}

/**
 * One contributing event, as much of it as an incident needs: the alerts themselves are not kept.
 * The timeline entry's text is built from these only when an incident goes out, since a catch-all
 * correlation takes in every event and almost none of them end in an incident.
 */
interface Seen {
  /** Arrival order: ties in scheduler time are still ordered. */
  seq: number;
  /** Scheduler time at arrival: what windows are measured in, and the timeline entry's time. */
  atMs: number;
  receivedAtMs: number;
  rule: string;
  priority: Priority;
  pod: string | undefined;
  hostname: string;
  command: string | undefined;
}

interface Snapshot {
  /** Oldest first. */
  contributors: Seen[];
  eventCount: number;
  firstSeenMs: number;
  priority: Priority;
}

/** A group's sliding window for one correlation type. */
interface Window {
  /** Forgets everything at or before `cutoffMs` (= now − timespan). */
  prune(cutoffMs: number): void;
  isEmpty(): boolean;
  /**
   * Takes the event in (arrival `seq`, at scheduler time `atMs`); false when it contributes
   * nothing (temporal_ordered step out of order). Each window keeps what it needs of the event.
   */
  add(
    alert: EventAlert,
    seq: number,
    atMs: number,
    steps: readonly number[],
    value: string | undefined,
  ): boolean;
  /** What the condition is tested on: events, distinct values, distinct steps or steps in order. */
  count(): number;
  snapshot(): Snapshot;
  /** What matched, for the incident's reason: `3 distinct values` and the values, say. */
  describe(count: number): { what: string; detail?: string };
}

interface CorrelationState {
  compiled: CompiledCorrelation;
  /** By group key, in order of last update: the first group is the first to expire. */
  groups: Map<string, Group>;
}

interface Group {
  key: string;
  labels: Record<string, string>;
  owner: CorrelationState;
  /** Time of the newest entry: nothing in the group outlives lastUpdateMs + timespan. */
  lastUpdateMs: number;
  window: Window;
  /** Set once the group fired: events before this time are absorbed, then the group starts afresh. */
  quietUntilMs?: number;
}

/**
 * EventAlert → IncidentAlert: Sigma-style correlations (event_count, value_count, temporal,
 * temporal_ordered) over a sliding window of each correlation's timespan, by scheduler time at
 * arrival, separately for each group-by value.
 *
 * - The correlations are read through the getter on every event, so a rules reload applies at
 *   once. State is keyed by correlation name + group key; a correlation that disappeared loses
 *   its state, and so does one whose type or number of rules changed (its windows mean something
 *   else now). Names are assumed unique: of two correlations with one name, the later is ignored
 *   so that they never share windows.
 * - When the condition holds, ONE incident goes out and the group goes quiet for one timespan:
 *   further matching events of that group are absorbed, then the group starts afresh. A burst of
 *   50 shells with `gte: 5` inside the timespan makes one incident, not 10 or 46: a responder
 *   wants one page per group per timespan, with the first incident's timeline.
 * - Memory: at most maxGroups groups in all (least recently updated evicted), each bounded by
 *   MAX_GROUP_ENTRIES; a group whose window has passed is deleted by one sweep timer for the
 *   earliest expiry of all groups (never one timer per group). No alerts are retained, only
 *   timeline entries (their times, like first/lastSeenMs, are scheduler time at arrival: in
 *   replay the alerts' own clock, live the moment Perch took them in).
 * - Completion needs no flush: incidents only exist once a condition holds; open windows are dropped.
 */
export function correlate(
  correlations: () => readonly CompiledCorrelation[],
  options: CorrelateOptions,
): OperatorFunction<EventAlert, IncidentAlert> {
  const scheduler = options.scheduler ?? asyncScheduler;
  // The group that was just added must survive its own admission.
  const maxGroups = Math.max(1, options.maxGroups);
  const maxTimeline = Math.max(1, options.maxTimeline ?? DEFAULT_MAX_TIMELINE);
  return (source) =>
    new Observable<IncidentAlert>((subscriber) => {
      const states = new Map<string, CorrelationState>();
      let active: CorrelationState[] = [];
      let known: readonly CompiledCorrelation[] | undefined;
      // Groups of all correlations together; each correlation's own Map is in order of last update.
      let total = 0;
      let reported = 0;
      let seq = 0;
      let timer: Subscription | undefined;
      let timerAt = 0;

      const report = () => {
        if (total === reported) return;
        reported = total;
        options.onState?.(reported);
      };
      const remove = (group: Group) => {
        if (group.owner.groups.delete(group.key)) total -= 1;
        if (total === 0) cancelTimer();
      };
      const drop = (state: CorrelationState) => {
        total -= state.groups.size;
        state.groups.clear();
      };
      const touch = (group: Group, now: number) => {
        group.lastUpdateMs = now;
        // Delete and set again: moves the group to the end of the insertion order.
        const groups = group.owner.groups;
        if (groups.delete(group.key)) total -= 1;
        groups.set(group.key, group);
        total += 1;
      };

      const cancelTimer = () => {
        timer?.unsubscribe();
        timer = undefined;
      };
      /**
       * Makes sure the sweep runs no later than `at`. Lazy: a timer already due earlier is kept
       * even if the group it was for has moved on; the sweep then finds nothing and re-arms.
       */
      const ensureTimer = (at: number) => {
        // An emission can make the downstream unsubscribe; no timer may outlive the subscription.
        if (subscriber.closed) return;
        if (timer && timerAt <= at) return;
        cancelTimer();
        timerAt = at;
        timer = scheduler.schedule(sweep, Math.max(0, at - scheduler.now()));
      };
      /** Re-arms for the true earliest expiry: each correlation's first group expires first. */
      const rearm = () => {
        let at = Number.POSITIVE_INFINITY;
        for (const state of active) {
          for (const group of state.groups.values()) {
            at = Math.min(at, group.lastUpdateMs + state.compiled.timespanMs);
            break;
          }
        }
        if (at === Number.POSITIVE_INFINITY) return cancelTimer();
        if (timer && timerAt === at) return;
        cancelTimer();
        ensureTimer(at);
      };
      const sweep = () => {
        timer = undefined;
        const now = scheduler.now();
        for (const state of active) {
          const span = state.compiled.timespanMs;
          for (const group of state.groups.values()) {
            if (group.lastUpdateMs + span > now) break;
            remove(group);
          }
        }
        report();
        rearm();
      };

      /** Applies a new list of correlations (a rules reload); unchanged ones keep their windows. */
      const reconcile = (list: readonly CompiledCorrelation[]) => {
        const names = new Set<string>();
        const next: CorrelationState[] = [];
        let changed = false;
        for (const compiled of list) {
          if (names.has(compiled.name)) continue;
          names.add(compiled.name);
          let state = states.get(compiled.name);
          if (state && !compatible(state.compiled, compiled)) {
            drop(state);
            changed = true;
            state = undefined;
          }
          if (state) {
            changed ||= state.compiled.timespanMs !== compiled.timespanMs;
            state.compiled = compiled;
          } else {
            state = { compiled, groups: new Map() };
            states.set(compiled.name, state);
          }
          next.push(state);
        }
        for (const [name, state] of states) {
          if (names.has(name)) continue;
          changed ||= state.groups.size > 0;
          drop(state);
          states.delete(name);
        }
        active = next;
        // Expiry times moved or groups went away: the sweep is re-armed for the new earliest.
        if (changed) rearm();
      };

      /** The least recently updated group of all: the oldest of each correlation's first group. */
      const evictOverflow = () => {
        while (total > maxGroups) {
          let oldest: Group | undefined;
          for (const state of active) {
            for (const group of state.groups.values()) {
              if (!oldest || group.lastUpdateMs < oldest.lastUpdateMs) oldest = group;
              break;
            }
          }
          if (!oldest) return;
          remove(oldest);
          options.onEvicted?.(oldest.owner.compiled.name);
        }
      };

      const process = (alert: EventAlert) => {
        const list = correlations();
        // A getter may build a new array each time: only a different content is a reload.
        if (list !== known && !sameItems(list, known)) reconcile(list);
        known = list;
        const now = scheduler.now();
        const incidents: IncidentAlert[] = [];
        seq += 1;
        for (const state of active) {
          const compiled = state.compiled;
          const steps = matchingSteps(compiled, alert);
          if (steps.length === 0) continue;
          const key = compiled.groupKey(alert);
          if (key === undefined) continue;
          let value: string | undefined;
          if (compiled.type === 'value_count') {
            value = compiled.valueOf?.(alert);
            if (value === undefined) continue;
          }
          let group = state.groups.get(key);
          if (group?.quietUntilMs !== undefined) {
            if (now < group.quietUntilMs) continue;
            remove(group);
            group = undefined;
          }
          group?.window.prune(now - compiled.timespanMs);
          const window = group?.window ?? newWindow(compiled);
          if (!window.add(alert, seq, now, steps, value)) {
            if (group && window.isEmpty()) remove(group);
            continue;
          }
          if (!group) {
            group = {
              key,
              labels: compiled.groupLabels(alert),
              owner: state,
              lastUpdateMs: now,
              window,
            };
          }
          touch(group, now);
          const count = window.count();
          if (compiled.satisfied(count)) {
            incidents.push(incident(compiled, group, alert, now, count, maxTimeline));
            // One incident per group per timespan: the group stays, empty and quiet, until then.
            group.quietUntilMs = now + compiled.timespanMs;
            group.window = newWindow(compiled);
            ensureTimer(now + compiled.timespanMs);
            continue;
          }
          evictOverflow();
          ensureTimer(now + compiled.timespanMs);
        }
        report();
        // State is settled before anything goes out: a downstream that feeds back into the
        // source re-enters here and finds it consistent.
        for (const out of incidents) {
          if (subscriber.closed) return;
          subscriber.next(out);
        }
      };

      const main = source.subscribe({
        next: (alert) => {
          try {
            process(alert);
          } catch (err) {
            // As RxJS's own operators do with a throwing projection.
            subscriber.error(err);
          }
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });
      return () => {
        main.unsubscribe();
        cancelTimer();
        total = 0;
        states.clear();
        active = [];
      };
    });
}

function sameItems<T>(a: readonly T[], b: readonly T[] | undefined): boolean {
  return b !== undefined && a.length === b.length && a.every((item, i) => item === b[i]);
}

/** Same name but another type or number of rules: the old windows would be misread. */
function compatible(a: CompiledCorrelation, b: CompiledCorrelation): boolean {
  return a.type === b.type && a.steps.length === b.steps.length;
}

const ANY_STEP: readonly number[] = [0];
const NO_STEP: readonly number[] = [];

/** Which steps the alert matches: for the counting types any one will do. Allocates only on a match. */
function matchingSteps(compiled: CompiledCorrelation, alert: EventAlert): readonly number[] {
  const { steps } = compiled;
  const counting = compiled.type === 'event_count' || compiled.type === 'value_count';
  let matched: number[] | undefined;
  for (let i = 0; i < steps.length; i++) {
    if (!(steps[i] as Predicate)(alert)) continue;
    if (counting) return ANY_STEP;
    matched ??= [];
    matched.push(i);
  }
  return matched ?? NO_STEP;
}

function newWindow(compiled: CompiledCorrelation): Window {
  switch (compiled.type) {
    case 'event_count':
      return new EventCountWindow();
    case 'value_count':
      return new ValueCountWindow(compiled.valueField);
    case 'temporal':
      return new TemporalWindow(compiled.steps.length);
    case 'temporal_ordered':
      return new OrderedWindow(compiled.steps.length);
  }
}

const clip = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

const MAX_COMMAND = 80;

function seenOf(alert: EventAlert, seq: number, atMs: number): Seen {
  return {
    seq,
    atMs,
    receivedAtMs: alert.receivedAtMs,
    rule: alert.event.rule,
    priority: alert.priority,
    pod: keyPart(alert, 'pod'),
    hostname: alert.event.hostname,
    command: commandOf(alert),
  };
}

/** Overwrites `seen` with a later event: a window that keeps one entry per value reuses it. */
function refill(seen: Seen, alert: EventAlert, seq: number, atMs: number): void {
  seen.seq = seq;
  seen.atMs = atMs;
  seen.receivedAtMs = alert.receivedAtMs;
  seen.rule = alert.event.rule;
  seen.priority = alert.priority;
  seen.pod = keyPart(alert, 'pod');
  seen.hostname = alert.event.hostname;
  seen.command = commandOf(alert);
}

function commandOf(alert: EventAlert): string | undefined {
  const command = fieldText(alert, 'proc.cmdline') ?? fieldText(alert, 'proc.name') ?? undefined;
  // Clipped now, so a window never holds on to kilobytes of attacker-chosen command line.
  return command === undefined ? undefined : clip(command, MAX_COMMAND);
}

function timelineEntry(seen: Seen): TimelineEntry {
  const { pod, hostname, command } = seen;
  const where = pod ? ` in ${pod}` : hostname ? ` on ${hostname}` : '';
  // Clipped: rule names are attacker-influenced (custom rules echo input) and may be long.
  const summary = `${clip(seen.rule, 120)}${where}${command ? ` (${command})` : ''}`;
  return {
    timeMs: seen.atMs,
    rule: seen.rule,
    priority: seen.priority,
    ...(pod ? { pod } : {}),
    summary,
  };
}

function maxPriority(seen: readonly Seen[]): Priority {
  let highest = seen[0]?.priority ?? (0 as Priority);
  for (const s of seen) if (s.priority > highest) highest = s.priority;
  return highest;
}

function plainSnapshot(contributors: Seen[]): Snapshot {
  return {
    contributors,
    eventCount: contributors.length,
    firstSeenMs: contributors[0]?.atMs ?? 0,
    priority: maxPriority(contributors),
  };
}

/** event_count: every matching event, oldest first. */
class EventCountWindow implements Window {
  private seen: Seen[] = [];
  // Pruned entries are skipped by index and compacted in bulk, as Array.shift is O(n).
  private head = 0;

  prune(cutoffMs: number): void {
    while (this.head < this.seen.length && (this.seen[this.head]?.atMs ?? 0) <= cutoffMs) this.head += 1;
    this.compact();
  }
  isEmpty(): boolean {
    return this.head >= this.seen.length;
  }
  add(alert: EventAlert, seq: number, atMs: number): boolean {
    this.seen.push(seenOf(alert, seq, atMs));
    if (this.count() > MAX_GROUP_ENTRIES) this.head += 1;
    this.compact();
    return true;
  }
  count(): number {
    return this.seen.length - this.head;
  }
  snapshot(): Snapshot {
    return plainSnapshot(this.seen.slice(this.head));
  }
  describe(count: number): { what: string } {
    return { what: `${count} event${count === 1 ? '' : 's'}` };
  }
  private compact(): void {
    if (this.head === this.seen.length) {
      this.seen = [];
      this.head = 0;
    } else if (this.head >= 64 && this.head * 2 >= this.seen.length) {
      this.seen = this.seen.slice(this.head);
      this.head = 0;
    }
  }
}

/** A value's latest event (it keeps the value inside the window), updated in place by repeats. */
interface ValueSeen extends Seen {
  value: string;
  firstMs: number;
  events: number;
  maxPriority: Priority;
}

/**
 * value_count: the latest event per distinct value, in order of latest occurrence. Keeping one
 * entry per value (not every event) makes the distinct count exact and means a flood of repeats
 * cannot push a rare value out of the bounded window.
 */
class ValueCountWindow implements Window {
  constructor(private readonly field = 'value') {}

  private values = new Map<string, ValueSeen>();

  prune(cutoffMs: number): void {
    // Runs for every event of the group, and the first value is usually still inside the window.
    for (const seen of this.values.values()) {
      if (seen.atMs > cutoffMs) break;
      this.values.delete(seen.value);
    }
  }
  isEmpty(): boolean {
    return this.values.size === 0;
  }
  add(
    alert: EventAlert,
    seq: number,
    atMs: number,
    _steps: readonly number[],
    value: string | undefined,
  ): boolean {
    if (value === undefined) return false;
    const before = this.values.get(value);
    if (before) {
      // A catch-all correlation sees every event, mostly repeats: they allocate nothing.
      refill(before, alert, seq, atMs);
      before.events += 1;
      if (alert.priority > before.maxPriority) before.maxPriority = alert.priority;
      // Moved to the end: the Map stays in order of latest occurrence, which prune relies on.
      this.values.delete(value);
      this.values.set(value, before);
      return true;
    }
    const seen = seenOf(alert, seq, atMs);
    this.values.set(value, { ...seen, value, firstMs: atMs, events: 1, maxPriority: seen.priority });
    if (this.values.size > MAX_GROUP_ENTRIES) {
      for (const oldest of this.values.keys()) {
        this.values.delete(oldest);
        break;
      }
    }
    return true;
  }
  count(): number {
    return this.values.size;
  }
  /**
   * One timeline entry per value (its latest event). eventCount counts every event of those
   * values since each value last entered the window, so it may include repeats older than the
   * timespan of a value that kept recurring; firstSeenMs is the earliest of those.
   */
  snapshot(): Snapshot {
    const values = [...this.values.values()];
    let eventCount = 0;
    let firstSeenMs = Number.POSITIVE_INFINITY;
    let priority = values[0]?.maxPriority ?? (0 as Priority);
    for (const v of values) {
      eventCount += v.events;
      firstSeenMs = Math.min(firstSeenMs, v.firstMs);
      if (v.maxPriority > priority) priority = v.maxPriority;
    }
    return { contributors: values, eventCount, firstSeenMs, priority };
  }
  describe(count: number): { what: string; detail: string } {
    const names = [...this.values.keys()].slice(0, 3).map((v) => clip(v, 60));
    const more = this.values.size > names.length ? ', …' : '';
    return {
      what: `${count} distinct ${this.field}${count === 1 ? '' : 's'}`,
      detail: `${names.join(', ')}${more}`,
    };
  }
}

/** temporal: the latest event of each step; a step counts while that event is inside the window. */
class TemporalWindow implements Window {
  private latest: (Seen | undefined)[];

  constructor(private readonly stepCount: number) {
    this.latest = new Array<Seen | undefined>(stepCount).fill(undefined);
  }
  prune(cutoffMs: number): void {
    this.latest = this.latest.map((s) => (s && s.atMs > cutoffMs ? s : undefined));
  }
  isEmpty(): boolean {
    return this.latest.every((s) => s === undefined);
  }
  add(alert: EventAlert, seq: number, atMs: number, steps: readonly number[]): boolean {
    if (steps.length === 0) return false;
    const seen = seenOf(alert, seq, atMs);
    for (const i of steps) this.latest[i] = seen;
    return true;
  }
  count(): number {
    return this.latest.filter((s) => s !== undefined).length;
  }
  snapshot(): Snapshot {
    // One event may stand for several steps; it appears once.
    const unique = [...new Set(this.latest.filter((s): s is Seen => s !== undefined))];
    return plainSnapshot(unique.sort((a, b) => a.seq - b.seq));
  }
  describe(count: number): { what: string; detail: string } {
    const rules = [...new Set(this.snapshot().contributors.map((s) => clip(s.rule, 60)))];
    return { what: `${count} of ${this.stepCount} rules`, detail: rules.join(', ') };
  }
}

/** A run of steps 0..n in order: `seen` completed step n, `prev` is the run up to step n−1. */
interface Chain {
  startMs: number;
  seen: Seen;
  prev: Chain | undefined;
  length: number;
}

/**
 * temporal_ordered: for each step i, the run completing steps 0..i that started latest (so it
 * stays inside the window longest). A step extends only a run that an earlier event built.
 */
class OrderedWindow implements Window {
  private chains: (Chain | undefined)[];

  constructor(private readonly stepCount: number) {
    this.chains = new Array<Chain | undefined>(stepCount).fill(undefined);
  }
  prune(cutoffMs: number): void {
    this.chains = this.chains.map((c) => (c && c.startMs > cutoffMs ? c : undefined));
  }
  isEmpty(): boolean {
    return this.chains.every((c) => c === undefined);
  }
  add(alert: EventAlert, seq: number, atMs: number, steps: readonly number[]): boolean {
    let added = false;
    const seen = seenOf(alert, seq, atMs);
    // Highest step first: an event matching steps 1 and 2 must not extend a run it just extended.
    for (let k = steps.length - 1; k >= 0; k -= 1) {
      const i = steps[k] ?? 0;
      if (i === 0) {
        this.chains[0] = { startMs: seen.atMs, seen, prev: undefined, length: 1 };
        added = true;
        continue;
      }
      const prev = this.chains[i - 1];
      if (!prev) continue;
      this.chains[i] = { startMs: prev.startMs, seen, prev, length: prev.length + 1 };
      added = true;
    }
    return added;
  }
  count(): number {
    for (let i = this.chains.length - 1; i >= 0; i -= 1) if (this.chains[i]) return i + 1;
    return 0;
  }
  snapshot(): Snapshot {
    const contributors: Seen[] = [];
    for (let c = this.chains[this.count() - 1]; c; c = c.prev) contributors.unshift(c.seen);
    return plainSnapshot(contributors);
  }
  describe(count: number): { what: string; detail: string } {
    const rules = this.snapshot().contributors.map((s) => clip(s.rule, 60));
    return { what: `${count} of ${this.stepCount} rules in order`, detail: rules.join(' → ') };
  }
}

/** 10m, 90s, 1h; the largest unit that divides the span exactly. */
export function formatSpan(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** The first maxTimeline − 1 entries (how it started) and the last one (what completed it). */
function boundTimeline<T>(entries: T[], maxTimeline: number): T[] {
  if (entries.length <= maxTimeline) return entries;
  return [...entries.slice(0, maxTimeline - 1), ...entries.slice(-1)];
}

function incident(
  compiled: CompiledCorrelation,
  group: Group,
  alert: EventAlert,
  now: number,
  count: number,
  maxTimeline: number,
): IncidentAlert {
  const snapshot = group.window.snapshot();
  const { what, detail } = group.window.describe(count);
  let receivedAtMs = alert.receivedAtMs;
  for (const s of snapshot.contributors) receivedAtMs = Math.min(receivedAtMs, s.receivedAtMs);
  return {
    kind: 'incident',
    id: nextAlertId('inc'),
    correlation: compiled.name,
    type: compiled.type,
    title: compiled.title,
    group: { ...group.labels },
    timeline: boundTimeline(snapshot.contributors, maxTimeline).map(timelineEntry),
    eventCount: snapshot.eventCount,
    firstSeenMs: snapshot.firstSeenMs,
    lastSeenMs: now,
    sample: alert,
    priority: compiled.severity ?? snapshot.priority,
    reasons: [
      `correlation ${compiled.name}: ${what} within ${formatSpan(compiled.timespanMs)}${detail ? ` (${detail})` : ''}`,
    ],
    receivedAtMs,
  };
}
