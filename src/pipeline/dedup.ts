import { namespaceName } from '../events/falco-event.js';
import type { Priority } from '../events/priority.js';
import type { PodContext } from '../kube/pod-context.js';
import { alertPod } from '../rules/alert-facts.js';
import {
  asyncScheduler,
  Observable,
  type OperatorFunction,
  type SchedulerLike,
  type Subscription,
} from '../util/rx.js';
import { type DigestAlert, type Escalation, type EventAlert, nextAlertId } from './alert.js';
import { alertTimeMs, checkAllowedLateness } from './alert-time.js';

export interface DedupOptions {
  /** Default asyncScheduler; tests use a TestScheduler, replay a VirtualTimeScheduler advanced by event time. */
  scheduler?: SchedulerLike;
  /**
   * Most windows open at once (one per fingerprint, a few more while a fingerprint's alerts arrive
   * out of time order); beyond it the window that ends soonest is closed early.
   */
  maxKeys: number;
  /**
   * How long, by the scheduler's clock, a window stays open after its end for alerts that arrive
   * late; also how far past its receipt an alert's own time may lie (default 0).
   */
  allowedLatenessMs?: number;
  /** Pod names kept in `DigestAlert.pods` (default 5); `podCount` counts them all. */
  maxPodsListed?: number;
  /** Called exactly once per input alert, when it is taken in. */
  onOutcome: (outcome: 'routed' | 'digested', alert: EventAlert) => void;
  /** A key whose window was closed early because the table was full. */
  onEvicted?: (key: string) => void;
  /**
   * The number of open windows after every change (input, timer, flush): a gauge for metrics, and
   * what tests use to check that memory stays within `maxKeys`.
   */
  onState?: (size: number) => void;
}

/** Distinct pod names tracked exactly per window; beyond this they are counted approximately. */
export const EXACT_PODS_PER_WINDOW = 1000;
/** Bits of the linear-counting bitmap used past the exact limit (2 KiB per window that needs it). */
const OVERFLOW_BITS = 1 << 14;
/**
 * Longest delay handed to the scheduler. Node's timers fire at once for delays beyond 2^31-1 ms, so a
 * very long window is waited for in steps: a timer that fires early just finds nothing due and re-arms.
 */
const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/**
 * Distinct pods of a window's repeats. Exact (a Set) up to EXACT_PODS_PER_WINDOW names; past that,
 * names not in the set are hashed into a fixed bitmap and their number is estimated by linear
 * counting (n ≈ m·ln(m/zeros)), so a window that sees a pod storm costs at most ~2 KiB more and its
 * podCount is approximate (within a few percent up to tens of thousands of pods) instead of exact.
 */
class PodTally {
  readonly exact = new Set<string>();
  private bitmap: Uint8Array | undefined;
  private setBits = 0;

  add(pod: string): void {
    if (this.exact.has(pod)) return;
    if (this.exact.size < EXACT_PODS_PER_WINDOW) {
      this.exact.add(pod);
      return;
    }
    this.bitmap ??= new Uint8Array(OVERFLOW_BITS / 8);
    const bit = fnv1a(pod) & (OVERFLOW_BITS - 1);
    const mask = 1 << (bit & 7);
    const byte = this.bitmap[bit >> 3] ?? 0;
    if ((byte & mask) === 0) {
      this.bitmap[bit >> 3] = byte | mask;
      this.setBits += 1;
    }
  }

  get count(): number {
    if (this.setBits === 0) return this.exact.size;
    // A full bitmap means "at least this many"; ln(m) caps the estimate instead of dividing by zero.
    const zeros = Math.max(1, OVERFLOW_BITS - this.setBits);
    return this.exact.size + Math.round(OVERFLOW_BITS * Math.log(OVERFLOW_BITS / zeros));
  }

  first(n: number): string[] {
    const names: string[] = [];
    for (const name of this.exact) {
      if (names.length >= n) break;
      names.push(name);
    }
    return names;
  }
}

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** What the repeats of a window add up to; only allocated once a repeat arrives. */
interface Repeats {
  count: number;
  /** The latest alert time among the repeats, whatever order they arrived in. */
  lastSeenMs: number;
  priority: Priority;
  /**
   * The first repeat at the highest priority seen: the digest's reasons and routes are those of the
   * repeat that set its priority. Not the latest one: replacing the sample on every repeat made
   * each repeat outlive a few garbage collections and then become garbage in the old generation,
   * which cost more CPU than anything else dedup does.
   */
  sample: EventAlert;
  pods: PodTally;
}

/** One open window: the first occurrence was delivered, repeats are being counted. */
interface Window {
  key: string;
  /** The highest priority delivered for the key in this window: an alert above it is sent at once. */
  sentPriority: Priority;
  escalations?: Escalation[];
  /** Tie-break for equal deadlines: the window opened first closes first. */
  seq: number;
  rule: string;
  windowMs: number;
  /** The earliest alert time in the window: it covers [startMs, startMs + windowMs) (firstSeenMs). */
  startMs: number;
  /** The latest alert time in the window, of any alert in it (opener, escalations, repeats). */
  latestMs: number;
  /** When the window closes, by the scheduler's clock. */
  deadline: number;
  namespace?: string;
  workload?: PodContext['workload'];
  repeats?: Repeats;
}

/** The first occurrence may have come before its pod was known; a later alert can fill that in. */
function fillPlace(window: Window, alert: EventAlert): void {
  if (window.namespace === undefined)
    window.namespace = alert.enrichment.pod?.namespace ?? namespaceName(alert.event);
  if (window.workload === undefined) window.workload = alert.enrichment.pod?.workload;
}

function earlier(a: Window, b: Window): boolean {
  return a.deadline < b.deadline || (a.deadline === b.deadline && a.seq < b.seq);
}

/** A binary min-heap of windows by deadline: the timer and eviction both want the one that ends soonest. */
class DeadlineHeap {
  private readonly items: Window[] = [];

  get first(): Window | undefined {
    return this.items[0];
  }

  push(window: Window): void {
    const items = this.items;
    items.push(window);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const up = items[parent] as Window;
      if (!earlier(window, up)) break;
      items[i] = up;
      i = parent;
    }
    items[i] = window;
  }

  pop(): Window | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= items.length) break;
      const right = left + 1;
      const leftItem = items[left] as Window;
      const rightItem = items[right];
      const child = rightItem !== undefined && earlier(rightItem, leftItem) ? right : left;
      const childItem = items[child] as Window;
      if (!earlier(childItem, last)) break;
      items[i] = childItem;
      i = child;
    }
    items[i] = last;
    return top;
  }

  clear(): void {
    this.items.length = 0;
  }
}

/** Index of the last window starting at or before `timeMs` in a key's windows (ordered by start), or -1. */
function lastStartingBy(windows: readonly Window[], timeMs: number): number {
  let low = 0;
  let high = windows.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if ((windows[mid] as Window).startMs <= timeMs) low = mid + 1;
    else high = mid;
  }
  return low - 1;
}

/**
 * The window of its key an alert at `timeMs` belongs to, if one is open. A key's windows split its
 * timeline at their starts: an alert belongs to the last window starting at or before it, if it lies
 * inside that window. An alert earlier than the next window's start joins that one instead when the
 * window, moved to start at the alert, still holds every alert it has: it is where the alert would
 * have opened the window had it arrived in time order. Otherwise the alert is in no open window.
 */
function windowToJoin(windows: readonly Window[], timeMs: number): Window | undefined {
  const i = lastStartingBy(windows, timeMs);
  const before = windows[i];
  if (before && timeMs < before.startMs + before.windowMs) return before;
  const after = windows[i + 1];
  if (after && after.latestMs < timeMs + after.windowMs) {
    after.startMs = timeMs;
    return after;
  }
  return undefined;
}

/**
 * Collapses repeats: the first alert of a dedup key goes out at once and opens a window of
 * `windowMs`; repeats of the key inside the window are counted, and when the window closes they go
 * out as one DigestAlert (nothing when there were none). Alerts without a dedup setting pass
 * straight through.
 *
 * Time: windows are measured on each alert's own time (Falco's, see alertTimeMs), so what a digest
 * counts and its first/last-seen times do not depend on when or in what order the alerts arrived.
 * A window covers [first, first + windowMs) of alert time, never more: an alert outside every open
 * window of its key opens a new one (and is delivered), so alerts months apart are never merged. A
 * key may have several windows open while its alerts arrive out of order (one per stretch of time).
 * A window closes by the scheduler's clock, `allowedLatenessMs` after its end, or after windowMs +
 * allowedLatenessMs from when it opened if its alerts are older than the clock: late alerts still
 * find it, and a digest never waits for the next alert of its key.
 *
 * Escalation: an alert of a higher priority than any yet sent in its window is not a repeat: it goes
 * out at once ('routed') and becomes the priority to beat. The window keeps its extent and
 * deadline. The digest counts only the repeats (its priority is theirs) and lists the escalations
 * in the order they were sent; a window whose only later alerts were escalations sends no digest,
 * as everything in it was already sent.
 *
 * Windows are half-open: a repeat at exactly `first + windowMs` starts a new window.
 *
 * Memory is bounded by `maxKeys` open windows: when a new window finds the table full, the window
 * that ends soonest is closed early (its digest sent, so no count is lost). Windows are kept by key
 * (ordered by start) for lookup and in a deadline heap, so windows of different lengths still close
 * and get evicted by their own deadline. Only ONE scheduler action exists at a time, for the
 * earliest deadline: a storm of 100k keys must not create 100k timers.
 *
 * On completion or error every open window is flushed (in the order they opened) before the
 * notification; on unsubscribe no timer is left and nothing is emitted.
 */
export function dedup(options: DedupOptions): OperatorFunction<EventAlert, EventAlert | DigestAlert> {
  const scheduler = options.scheduler ?? asyncScheduler;
  const { maxKeys, onOutcome, onEvicted, onState } = options;
  const maxPodsListed = options.maxPodsListed ?? 5;
  const lateness = checkAllowedLateness('dedup', options.allowedLatenessMs ?? 0);
  if (!Number.isInteger(maxKeys) || maxKeys < 1) {
    throw new RangeError(`dedup: maxKeys must be a positive integer, got ${maxKeys}`);
  }

  return (source) =>
    new Observable<EventAlert | DigestAlert>((subscriber) => {
      /** Each key's open windows, ordered by start. */
      const table = new Map<string, Window[]>();
      const deadlines = new DeadlineHeap();
      let size = 0;
      let seq = 0;
      let timer: Subscription | undefined;
      let timerDue = Number.POSITIVE_INFINITY;

      const digestOf = (window: Window, repeats: Repeats): DigestAlert => {
        const { sample } = repeats;
        return {
          kind: 'digest',
          id: nextAlertId('dig'),
          fingerprint: window.key,
          rule: window.rule,
          count: repeats.count,
          firstSeenMs: window.startMs,
          lastSeenMs: repeats.lastSeenMs,
          windowMs: window.windowMs,
          pods: repeats.pods.first(maxPodsListed),
          podCount: repeats.pods.count,
          ...(window.namespace !== undefined ? { namespace: window.namespace } : {}),
          ...(window.workload !== undefined ? { workload: window.workload } : {}),
          sample,
          ...(window.escalations !== undefined ? { escalations: window.escalations } : {}),
          priority: repeats.priority,
          reasons: sample.reasons,
          ...(sample.routes !== undefined ? { routes: sample.routes } : {}),
          receivedAtMs: scheduler.now(),
        };
      };

      const forget = (window: Window) => {
        const windows = table.get(window.key);
        if (!windows) return;
        if (windows.length === 1) table.delete(window.key);
        else windows.splice(windows.indexOf(window), 1);
        size -= 1;
      };

      /** Forgets the window that ends soonest; its digest, if any, is appended to `out`. */
      const closeFirst = (out: DigestAlert[]): Window | undefined => {
        const window = deadlines.pop();
        if (!window) return undefined;
        forget(window);
        if (window.repeats) out.push(digestOf(window, window.repeats));
        return window;
      };

      /** The digests of the windows that ended by `now`; undefined when none did, as for most alerts. */
      const closeDue = (now: number): DigestAlert[] | undefined => {
        let out: DigestAlert[] | undefined;
        for (let first = deadlines.first; first && first.deadline <= now; first = deadlines.first) {
          out ??= [];
          closeFirst(out);
        }
        return out;
      };

      const cancelTimer = () => {
        timer?.unsubscribe();
        timer = undefined;
        timerDue = Number.POSITIVE_INFINITY;
      };

      // Invariant: while windows are open, one timer is pending, due no later than the earliest
      // deadline. A timer due earlier than needed (its window was evicted) is kept: it finds nothing
      // due and re-arms, which is cheaper than rescheduling on every eviction in a storm.
      const arm = () => {
        const first = deadlines.first;
        // An emission can make the downstream unsubscribe; no timer may outlive the subscription.
        if (!first || subscriber.closed) return cancelTimer();
        if (timer && timerDue <= first.deadline) return;
        timer?.unsubscribe();
        const now = scheduler.now();
        const delay = Math.min(MAX_TIMER_DELAY_MS, Math.max(0, first.deadline - now));
        timerDue = now + delay;
        timer = scheduler.schedule(expire, delay);
      };

      const emitAll = (out: readonly DigestAlert[]) => {
        for (const alert of out) {
          if (subscriber.closed) return;
          subscriber.next(alert);
        }
      };

      /** The digests first (windows that ended before it), then the alert, if it goes out. */
      const emit = (digests: readonly DigestAlert[] | undefined, alert: EventAlert | undefined) => {
        if (digests) emitAll(digests);
        if (alert && !subscriber.closed) subscriber.next(alert);
      };

      const expire = () => {
        // This action has run; it is no longer the pending timer.
        timer = undefined;
        timerDue = Number.POSITIVE_INFINITY;
        if (subscriber.closed) return;
        const out = closeDue(scheduler.now());
        arm();
        onState?.(size);
        if (out) emitAll(out);
      };

      const flushAll = (): DigestAlert[] => {
        const open: Window[] = [];
        for (const windows of table.values()) open.push(...windows);
        // The oldest digest goes out first.
        open.sort((a, b) => a.seq - b.seq);
        const out: DigestAlert[] = [];
        for (const window of open) {
          if (window.repeats) out.push(digestOf(window, window.repeats));
        }
        table.clear();
        deadlines.clear();
        size = 0;
        cancelTimer();
        onState?.(0);
        return out;
      };

      const escalate = (open: Window, alert: EventAlert, timeMs: number) => {
        // Holding a more severe alert until the window ends would hide it behind the milder one
        // that opened the window; the window itself goes on, so a storm at the new level is still
        // one digest.
        open.sentPriority = alert.priority;
        const escalation = { priority: alert.priority, atMs: timeMs };
        if (open.escalations) open.escalations.push(escalation);
        else open.escalations = [escalation];
      };

      const repeat = (open: Window, alert: EventAlert, timeMs: number) => {
        const pod = alertPod(alert);
        let repeats = open.repeats;
        if (!repeats) {
          repeats = {
            count: 0,
            lastSeenMs: timeMs,
            priority: alert.priority,
            sample: alert,
            pods: new PodTally(),
          };
          open.repeats = repeats;
        }
        repeats.count += 1;
        if (timeMs > repeats.lastSeenMs) repeats.lastSeenMs = timeMs;
        if (alert.priority > repeats.priority) {
          repeats.priority = alert.priority;
          repeats.sample = alert;
        }
        if (pod !== undefined) repeats.pods.add(pod);
      };

      const take = (alert: EventAlert) => {
        // Every state change happens before anything is emitted: a downstream that feeds alerts back
        // synchronously re-enters here and must find the table as this alert left it.
        const now = scheduler.now();
        // No array per alert: most alerts close no window and go out alone.
        let digests = closeDue(now);
        const setting = alert.dedup;
        if (!setting || !(setting.windowMs > 0)) {
          arm();
          onState?.(size);
          onOutcome('routed', alert);
          return emit(digests, alert);
        }

        const timeMs = alertTimeMs(alert, lateness);
        const keyWindows = table.get(setting.key);
        const open = keyWindows && windowToJoin(keyWindows, timeMs);
        if (open) {
          if (timeMs > open.latestMs) open.latestMs = timeMs;
          const escalated = alert.priority > open.sentPriority;
          if (escalated) escalate(open, alert, timeMs);
          else repeat(open, alert, timeMs);
          fillPlace(open, alert);
          arm();
          onState?.(size);
          onOutcome(escalated ? 'routed' : 'digested', alert);
          return emit(digests, escalated ? alert : undefined);
        }

        let evicted: string[] | undefined;
        while (size >= maxKeys) {
          digests ??= [];
          const window = closeFirst(digests);
          if (!window) break;
          evicted ??= [];
          evicted.push(window.key);
        }
        const context = alert.enrichment.pod;
        const window: Window = {
          key: setting.key,
          sentPriority: alert.priority,
          seq: seq++,
          rule: alert.event.rule,
          windowMs: setting.windowMs,
          startMs: timeMs,
          latestMs: timeMs,
          // Alerts older than the clock (a lagging node, a backlog) still get a whole window's time
          // to arrive, so that a late stretch is collapsed like a live one.
          deadline: Math.max(timeMs, now) + setting.windowMs + lateness,
          namespace: context?.namespace ?? namespaceName(alert.event),
          workload: context?.workload,
        };
        // Looked up again: eviction may have closed windows of this very key.
        const windows = table.get(setting.key);
        if (windows) windows.splice(lastStartingBy(windows, timeMs) + 1, 0, window);
        else table.set(setting.key, [window]);
        size += 1;
        deadlines.push(window);
        arm();
        onState?.(size);
        if (evicted) for (const key of evicted) onEvicted?.(key);
        onOutcome('routed', alert);
        emit(digests, alert);
      };

      const main = source.subscribe({
        next: take,
        error: (err: unknown) => {
          // Counts already taken in are not lost with the stream: their digests go out first.
          emitAll(flushAll());
          subscriber.error(err);
        },
        complete: () => {
          emitAll(flushAll());
          subscriber.complete();
        },
      });
      return () => {
        main.unsubscribe();
        cancelTimer();
        table.clear();
        deadlines.clear();
        size = 0;
      };
    });
}
