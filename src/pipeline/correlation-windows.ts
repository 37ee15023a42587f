import type { Priority } from '../events/priority.js';
import { fieldText } from '../rules/alert-facts.js';
import { keyPart } from '../rules/alert-keys.js';
import type { CompiledCorrelation } from '../rules/compile-correlation.js';
import { type Linked, LinkedList } from '../util/linked-list.js';
import type { EventAlert, TimelineEntry } from './alert.js';

/*
 * The sliding windows of the correlate operator, one kind per Sigma correlation type. A window holds
 * only what an incident needs of each contributing event (Seen), never the alerts themselves.
 */

/**
 * Most entries one group keeps: events for event_count, distinct values for value_count. A
 * condition normally fires (and empties the group) long before this; it only bites for conditions
 * that never hold or need more than this many (`gte: 20000`), which therefore can never fire.
 * Worst-case memory is about maxGroups × MAX_GROUP_ENTRIES small timeline entries.
 */
export const MAX_GROUP_ENTRIES = 10_000;
/**
 * One contributing event, as much of it as an incident needs: the alerts themselves are not kept.
 * The timeline entry's text is built from these only when an incident goes out, since a catch-all
 * correlation takes in every event and almost none of them end in an incident.
 */
export interface Seen {
  /** Arrival order: orders events of the same time. */
  seq: number;
  /** The alert's own time (alertTimeMs): what windows are measured in, and the timeline entry's time. */
  atMs: number;
  receivedAtMs: number;
  rule: string;
  priority: Priority;
  pod: string | undefined;
  hostname: string;
  command: string | undefined;
}

export interface Snapshot {
  /** Oldest first, by their own time. */
  contributors: Seen[];
  eventCount: number;
  firstSeenMs: number;
  /** The time of the latest contributor: never earlier than any entry of the timeline. */
  lastSeenMs: number;
  priority: Priority;
}

/** A group's sliding window for one correlation type. */
export interface Window {
  /** Forgets everything at or before `cutoffMs` (= the group's latest time − timespan). */
  prune(cutoffMs: number): void;
  isEmpty(): boolean;
  /**
   * Takes the event in (arrival `seq`, at its own time `atMs`, which may be earlier than events
   * already held: it is placed in time order); false when it contributes nothing (a
   * temporal_ordered step with no earlier step to follow, or a step already seen later). Each
   * window keeps what it needs of the event.
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

export function newWindow(compiled: CompiledCorrelation): Window {
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
    hostname: alert.event.hostname ?? '',
    command: commandOf(alert),
  };
}

/**
 * A value's first entry. Written as one literal and filled by refill, not as `{ ...seenOf(…), value }`:
 * V8 gives every object made by a spread and then given more properties a hidden class of its own.
 */
function valueSeenOf(alert: EventAlert, seq: number, atMs: number, value: string): ValueSeen {
  const entry: ValueSeen = {
    seq,
    atMs,
    receivedAtMs: 0,
    rule: '',
    priority: alert.priority,
    pod: undefined,
    hostname: '',
    command: undefined,
    value,
    firstMs: atMs,
    events: 1,
    maxPriority: alert.priority,
    prev: undefined,
    next: undefined,
  };
  refill(entry, alert, seq, atMs);
  return entry;
}

/** Overwrites `seen` with a later event: a window that keeps one entry per value reuses it. */
function refill(seen: Seen, alert: EventAlert, seq: number, atMs: number): void {
  seen.seq = seq;
  seen.atMs = atMs;
  seen.receivedAtMs = alert.receivedAtMs;
  seen.rule = alert.event.rule;
  seen.priority = alert.priority;
  seen.pod = keyPart(alert, 'pod');
  seen.hostname = alert.event.hostname ?? '';
  seen.command = commandOf(alert);
}

function commandOf(alert: EventAlert): string | undefined {
  const command = fieldText(alert, 'proc.cmdline') ?? fieldText(alert, 'proc.name') ?? undefined;
  // Clipped now, so a window never holds on to kilobytes of attacker-chosen command line.
  return command === undefined ? undefined : clip(command, MAX_COMMAND);
}

export function timelineEntry(seen: Seen): TimelineEntry {
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

/** Whether `a` happened before `b`: by time, and by arrival for the same time. */
function comesBefore(a: Seen, b: Seen): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);
}

function maxPriority(seen: readonly Seen[]): Priority {
  let highest = seen[0]?.priority ?? (0 as Priority);
  for (const s of seen) if (s.priority > highest) highest = s.priority;
  return highest;
}

/** A snapshot of contributors already in time order. */
function plainSnapshot(contributors: Seen[]): Snapshot {
  return {
    contributors,
    eventCount: contributors.length,
    firstSeenMs: contributors[0]?.atMs ?? 0,
    lastSeenMs: contributors.at(-1)?.atMs ?? 0,
    priority: maxPriority(contributors),
  };
}

/** event_count: every matching event, in time order. */
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
    const seen = seenOf(alert, seq, atMs);
    const last = this.seen[this.seen.length - 1];
    if (!last || !comesBefore(seen, last)) this.seen.push(seen);
    else this.seen.splice(this.insertionPoint(seen), 0, seen);
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
  /** Where a late event goes among the held ones (all after the pruned head, as it is inside the window). */
  private insertionPoint(seen: Seen): number {
    let low = this.head;
    let high = this.seen.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (comesBefore(seen, this.seen[mid] as Seen)) high = mid;
      else low = mid + 1;
    }
    return low;
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
interface ValueSeen extends Seen, Linked<ValueSeen> {
  value: string;
  firstMs: number;
  events: number;
  maxPriority: Priority;
}

/**
 * value_count: the latest event per distinct value, in time order of those latest events. Keeping
 * one entry per value (not every event) makes the distinct count exact and means a flood of repeats
 * cannot push a rare value out of the bounded window.
 */
class ValueCountWindow implements Window {
  constructor(private readonly field = 'value') {}

  private readonly values = new Map<string, ValueSeen>();
  /** The same entries in time order: a catch-all correlation moves one for nearly every event. */
  private readonly byTime = new LinkedList<ValueSeen>();

  prune(cutoffMs: number): void {
    // Runs for every event of the group, and the first value is usually still inside the window.
    for (let seen = this.byTime.first; seen && seen.atMs <= cutoffMs; seen = this.byTime.first) {
      this.byTime.remove(seen);
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
      before.events += 1;
      if (alert.priority > before.maxPriority) before.maxPriority = alert.priority;
      if (atMs < before.firstMs) before.firstMs = atMs;
      // A late repeat older than the value's latest event only adds to its count.
      if (atMs < before.atMs) return true;
      // A catch-all correlation sees every event, mostly repeats: they allocate nothing.
      refill(before, alert, seq, atMs);
      // Already the latest entry (a pod repeating itself): later still, it stays last.
      if (this.byTime.last === before) return true;
      this.byTime.remove(before);
      this.place(before);
      return true;
    }
    const entry = valueSeenOf(alert, seq, atMs, value);
    this.values.set(value, entry);
    this.place(entry);
    if (this.values.size > MAX_GROUP_ENTRIES) {
      // The latest entry never goes first here: the window holds more than one.
      const oldest = this.byTime.first as ValueSeen;
      this.byTime.remove(oldest);
      this.values.delete(oldest.value);
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
    const values: ValueSeen[] = [];
    for (let v = this.byTime.first; v; v = v.next) values.push(v);
    let eventCount = 0;
    let firstSeenMs = Number.POSITIVE_INFINITY;
    let priority = values[0]?.maxPriority ?? (0 as Priority);
    for (const v of values) {
      eventCount += v.events;
      firstSeenMs = Math.min(firstSeenMs, v.firstMs);
      if (v.maxPriority > priority) priority = v.maxPriority;
    }
    return { contributors: values, eventCount, firstSeenMs, lastSeenMs: values.at(-1)?.atMs ?? 0, priority };
  }
  /** Adds an entry (not in the list) where its time puts it; it arrived last, so it goes after its equals. */
  private place(entry: ValueSeen): void {
    // From the end: an event in time order, nearly all of them, goes there at once.
    let after = this.byTime.last;
    while (after && comesBefore(entry, after)) after = after.prev;
    if (after?.next) this.byTime.insertBefore(entry, after.next);
    else if (after) this.byTime.append(entry);
    else if (this.byTime.first) this.byTime.insertBefore(entry, this.byTime.first);
    else this.byTime.append(entry);
  }
  describe(count: number): { what: string; detail: string } {
    const names: string[] = [];
    for (let v = this.byTime.first; v && names.length < 3; v = v.next) names.push(clip(v.value, 60));
    const more = this.values.size > names.length ? ', …' : '';
    return {
      what: `${count} distinct ${this.field}${count === 1 ? '' : 's'}`,
      detail: `${names.join(', ')}${more}`,
    };
  }
}

/** temporal: the latest event (by time) of each step; a step counts while that event is inside the window. */
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
    let added = false;
    const seen = seenOf(alert, seq, atMs);
    for (const i of steps) {
      const held = this.latest[i];
      // A late event does not displace a later one of the same step: that one stays inside longer.
      if (held && comesBefore(seen, held)) continue;
      this.latest[i] = seen;
      added = true;
    }
    return added;
  }
  count(): number {
    return this.latest.filter((s) => s !== undefined).length;
  }
  snapshot(): Snapshot {
    // One event may stand for several steps; it appears once.
    const unique = [...new Set(this.latest.filter((s): s is Seen => s !== undefined))];
    return plainSnapshot(unique.sort((a, b) => (comesBefore(a, b) ? -1 : 1)));
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

/** The better of two runs to the same step: the one that stays inside the window longer. */
function startsLater(run: Chain, held: Chain): boolean {
  return run.startMs > held.startMs || (run.startMs === held.startMs && comesBefore(held.seen, run.seen));
}

/**
 * temporal_ordered: for each step i, the run completing steps 0..i that started latest (so it
 * stays inside the window longest). Order is the events' own time: a step extends only a run whose
 * last step happened before it. A late event can start or extend a run, but only the best run of
 * each step is kept, so it cannot slip in between steps already joined.
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
      let run: Chain;
      if (i === 0) {
        run = { startMs: seen.atMs, seen, prev: undefined, length: 1 };
      } else {
        const prev = this.chains[i - 1];
        if (!prev || !comesBefore(prev.seen, seen)) continue;
        run = { startMs: prev.startMs, seen, prev, length: prev.length + 1 };
      }
      const held = this.chains[i];
      if (held && !startsLater(run, held)) continue;
      this.chains[i] = run;
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
