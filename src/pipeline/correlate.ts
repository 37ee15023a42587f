import type { CompiledCorrelation } from '../rules/compile-correlation.js';
import type { Predicate } from '../rules/compile-match.js';
import { type Linked, LinkedList } from '../util/linked-list.js';
import {
  asyncScheduler,
  Observable,
  type OperatorFunction,
  type SchedulerLike,
  type Subscription,
} from '../util/rx.js';
import { type EventAlert, type IncidentAlert, nextAlertId } from './alert.js';
import { alertTimeMs, checkAllowedLateness } from './alert-time.js';
import { MAX_GROUP_ENTRIES, newWindow, timelineEntry, type Window } from './correlation-windows.js';

// Part of this operator's contract (tests and docs name it); the windows enforce it.
export { MAX_GROUP_ENTRIES };

export const DEFAULT_MAX_TIMELINE = 20;

export interface CorrelateOptions {
  /** Clock and timers of the windows; default asyncScheduler (EventTimeScheduler in replay). */
  scheduler?: SchedulerLike;
  /** Groups tracked across all correlations; beyond it the least recently updated one is evicted. */
  maxGroups: number;
  /**
   * How long, by the scheduler's clock, a group is kept past its timespan for events that arrive
   * late; also how far past its receipt an event's own time may lie (default 0).
   */
  allowedLatenessMs?: number;
  /** Entries kept in an incident's timeline (default 20): the first ones and the last; eventCount has the total. */
  maxTimeline?: number;
  /** Called with the correlation's name whenever one of its groups is evicted to stay within maxGroups. */
  onEvicted?: (correlation: string) => void;
  /** Called with the number of tracked groups whenever it changes (a gauge; tests watch memory with it). */
  onState?: (groups: number) => void;
}

interface CorrelationState {
  compiled: CompiledCorrelation;
  /** By group key. */
  groups: Map<string, Group>;
  /** The same groups in order of last update: the first is the first to expire. */
  byUpdate: LinkedList<Group>;
}

interface Group extends Linked<Group> {
  key: string;
  labels: Record<string, string>;
  owner: CorrelationState;
  /**
   * Scheduler time of the last event taken in: the group is forgotten at lastUpdateMs + timespan +
   * allowedLateness, and evicted least recently updated first.
   */
  lastUpdateMs: number;
  /** The latest event time the group has taken in: its window reaches back one timespan from here. */
  latestMs: number;
  window: Window;
  /** Set once the group fired: events before this time are absorbed, then the group starts afresh. */
  quietUntilMs?: number;
}

/**
 * EventAlert → IncidentAlert: Sigma-style correlations (event_count, value_count, temporal,
 * temporal_ordered) over a sliding window of each correlation's timespan, separately for each
 * group-by value.
 *
 * - Time: the window is measured on each event's own time (alertTimeMs), not on when it arrived:
 *   a group's window holds the events of the timespan up to the latest event it has taken in. A
 *   late event is placed in time order; one older than that whole timespan is not within the
 *   window and does not count for the group. Timelines, firstSeen and lastSeen are the events' own
 *   times, so an incident never reads earlier than its first event.
 * - The correlations are read through the getter on every event, so a rules reload applies at
 *   once. State is keyed by correlation name + group key; a correlation that disappeared loses
 *   its state, and so does one whose type or number of rules changed (its windows mean something
 *   else now). Names are assumed unique: of two correlations with one name, the later is ignored
 *   so that they never share windows.
 * - When the condition holds, ONE incident goes out and the group goes quiet for one timespan of
 *   event time: further matching events of that group are absorbed, then the group starts
 *   afresh. A burst of 50 shells with `gte: 5` inside the timespan makes one incident, not 10 or
 *   46: a responder wants one page per group per timespan, with the first incident's timeline.
 * - Memory: at most maxGroups groups in all (least recently updated evicted), each bounded by
 *   MAX_GROUP_ENTRIES; a group is deleted one timespan plus allowedLateness after its last event
 *   arrived (by the scheduler's clock, so that groups end in real time however old their events
 *   are) by one sweep timer for the earliest expiry of all groups (never one timer per group). No
 *   alerts are retained, only timeline entries.
 * - Completion needs no flush: incidents only exist once a condition holds; open windows are dropped.
 */
export function correlate(
  correlations: () => readonly CompiledCorrelation[],
  options: CorrelateOptions,
): OperatorFunction<EventAlert, IncidentAlert> {
  const scheduler = options.scheduler ?? asyncScheduler;
  const lateness = checkAllowedLateness('correlate', options.allowedLatenessMs ?? 0);
  // The group that was just added must survive its own admission.
  const maxGroups = Math.max(1, options.maxGroups);
  const maxTimeline = Math.max(1, options.maxTimeline ?? DEFAULT_MAX_TIMELINE);
  return (source) =>
    new Observable<IncidentAlert>((subscriber) => {
      const states = new Map<string, CorrelationState>();
      let active: CorrelationState[] = [];
      let known: readonly CompiledCorrelation[] | undefined;
      let reported = 0;
      let seq = 0;
      let timer: Subscription | undefined;
      let timerAt = 0;

      /**
       * Groups of all correlations together, kept as they come and go: it is read for every event
       * (the state report, the bound), and adding up the Maps each time walked them all.
       */
      let groupCount = 0;
      const total = () => groupCount;
      const report = () => {
        const now = total();
        if (now === reported) return;
        reported = now;
        options.onState?.(reported);
      };
      const remove = (group: Group) => {
        const { owner } = group;
        if (owner.groups.get(group.key) === group) {
          owner.groups.delete(group.key);
          owner.byUpdate.remove(group);
          groupCount -= 1;
        }
        if (groupCount === 0) cancelTimer();
      };
      const drop = (state: CorrelationState) => {
        groupCount -= state.groups.size;
        state.groups.clear();
        state.byUpdate.clear();
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
          const first = state.byUpdate.first;
          if (first) at = Math.min(at, first.lastUpdateMs + state.compiled.timespanMs + lateness);
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
          const span = state.compiled.timespanMs + lateness;
          for (let group = state.byUpdate.first; group; group = state.byUpdate.first) {
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
            state = { compiled, groups: new Map(), byUpdate: new LinkedList() };
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
        while (total() > maxGroups) {
          let oldest: Group | undefined;
          for (const state of active) {
            const first = state.byUpdate.first;
            if (first && (!oldest || first.lastUpdateMs < oldest.lastUpdateMs)) oldest = first;
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
        const timeMs = alertTimeMs(alert, lateness);
        // Most events make no incident: the list is made for the first.
        let incidents: IncidentAlert[] | undefined;
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
            if (timeMs < group.quietUntilMs) continue;
            remove(group);
            group = undefined;
          }
          // Older than the whole window: it would have left the window before the latest event came.
          if (group && timeMs <= group.latestMs - compiled.timespanMs) continue;
          const latestMs = Math.max(group?.latestMs ?? timeMs, timeMs);
          group?.window.prune(latestMs - compiled.timespanMs);
          const window = group?.window ?? newWindow(compiled);
          if (!window.add(alert, seq, timeMs, steps, value)) {
            if (group && window.isEmpty()) remove(group);
            continue;
          }
          if (!group) {
            group = {
              key,
              labels: compiled.groupLabels(alert),
              owner: state,
              lastUpdateMs: now,
              latestMs,
              window,
            };
            state.groups.set(key, group);
            state.byUpdate.append(group);
            groupCount += 1;
          } else {
            group.lastUpdateMs = now;
            state.byUpdate.moveToEnd(group);
          }
          group.latestMs = latestMs;
          const count = window.count();
          const expiry = now + compiled.timespanMs + lateness;
          if (compiled.satisfied(count)) {
            incidents ??= [];
            incidents.push(incident(compiled, group, alert, count, maxTimeline));
            // One incident per group per timespan: the group stays, empty and quiet, until then.
            group.quietUntilMs = latestMs + compiled.timespanMs;
            group.window = newWindow(compiled);
            ensureTimer(expiry);
            continue;
          }
          evictOverflow();
          ensureTimer(expiry);
        }
        report();
        // State is settled before anything goes out: a downstream that feeds back into the
        // source re-enters here and finds it consistent.
        if (incidents === undefined) return;
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
        states.clear();
        groupCount = 0;
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

const NO_STEP: readonly number[] = [];
/** `[i]` for each step i: an alert matches one step far more often than several. */
const ONE_STEP: readonly (readonly number[])[] = Array.from({ length: 64 }, (_, i) => Object.freeze([i]));
const ANY_STEP = ONE_STEP[0] as readonly number[];

/** Which steps the alert matches: for the counting types any one will do. Allocates only for two or more. */
function matchingSteps(compiled: CompiledCorrelation, alert: EventAlert): readonly number[] {
  const { steps } = compiled;
  const counting = compiled.type === 'event_count' || compiled.type === 'value_count';
  let first = -1;
  let matched: number[] | undefined;
  for (let i = 0; i < steps.length; i++) {
    if (!(steps[i] as Predicate)(alert)) continue;
    if (counting) return ANY_STEP;
    if (first < 0) first = i;
    else {
      matched ??= [first];
      matched.push(i);
    }
  }
  if (matched) return matched;
  return first < 0 ? NO_STEP : (ONE_STEP[first] ?? [first]);
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
    lastSeenMs: snapshot.lastSeenMs,
    sample: alert,
    priority: compiled.severity ?? snapshot.priority,
    reasons: [
      `correlation ${compiled.name}: ${what} within ${formatSpan(compiled.timespanMs)}${detail ? ` (${detail})` : ''}`,
    ],
    receivedAtMs,
  };
}
