import { describe, expect, it } from '@jest/globals';
import {
  from,
  map,
  type Observable,
  Subject,
  type Subscription,
  throwError,
  VirtualTimeScheduler,
} from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { parseFalcoJson } from '../../src/events/parse-falco-json.js';
import { Priority } from '../../src/events/priority.js';
import type { Enrichment } from '../../src/kube/pod-context.js';
import { alertFromEvent, type DigestAlert, type EventAlert } from '../../src/pipeline/alert.js';
import { type DedupOptions, dedup, EXACT_PODS_PER_WINDOW } from '../../src/pipeline/dedup.js';
import { digestSummary, formatDuration } from '../../src/pipeline/digest-summary.js';
import { EventTimeScheduler } from '../../src/pipeline/event-time-scheduler.js';
import { podContext } from '../fixtures/pod-context.js';
import { timeAlert } from '../helpers/alert-time.js';

type Out = EventAlert | DigestAlert;

interface Spec {
  /** The alert's output text: how the tests tell alerts apart. */
  label: string;
  key?: string;
  windowMs?: number;
  namespace?: string;
  pod?: string;
  priority?: string;
  rule?: string;
  /** Put the pod in the enrichment (as the enrich stage does) instead of only in Falco's fields. */
  context?: boolean;
  /** Falco's time for the alert; by default, the frame it arrives at (an alert on time). */
  timeMs?: number;
}

/** Alerts whose own time the spec set: they keep it whenever they arrive. */
const ownTimes = new WeakMap<EventAlert, number>();

/** The alert as it reaches dedup at `nowMs`: received then, and seen by Falco then unless its spec says when. */
function arriving(alert: EventAlert, nowMs: number): EventAlert {
  return timeAlert(alert, ownTimes.get(alert) ?? nowMs, nowMs);
}

/** An EventAlert built the way the pipeline builds it: parsed Falco JSON, then alertFromEvent, then a dedup setting. */
function alert(spec: Spec): EventAlert {
  const namespace = spec.namespace ?? 'shop';
  const fields: Record<string, string> = { 'container.id': 'aaaaaaaaaaaa', 'proc.name': 'sh' };
  if (spec.pod !== undefined) {
    fields['k8s.ns.name'] = namespace;
    fields['k8s.pod.name'] = spec.pod;
  }
  const event = parseFalcoJson(
    JSON.stringify({
      hostname: 'worker-1',
      output: spec.label,
      output_fields: fields,
      priority: spec.priority ?? 'Warning',
      rule: spec.rule ?? 'Terminal shell in container',
      source: 'syscall',
      tags: ['container'],
      time: new Date(spec.timeMs ?? 0).toISOString(),
    }),
  );
  const enrichment: Enrichment =
    spec.context && spec.pod !== undefined
      ? {
          outcome: 'container_id',
          pod: podContext({
            namespace,
            pod: spec.pod,
            workload: { kind: 'Deployment', name: spec.pod.replace(/-\d+$/, '') },
          }),
        }
      : { outcome: 'unresolved' };
  const result = alertFromEvent({ event, enrichment }, 0);
  if (spec.key !== undefined) result.dedup = { key: spec.key, windowMs: spec.windowMs ?? 10 };
  if (spec.timeMs !== undefined) ownTimes.set(result, spec.timeMs);
  return result;
}

/** `a1` for an event alert labelled a1, `digest(key×count)` for a digest. */
function label(out: Out): string {
  if (out.kind === 'event') return out.event.output ?? '';
  return `digest(${out.fingerprint}×${out.count})`;
}

interface Recorder {
  outcomes: [string, string][];
  evicted: string[];
  sizes: number[];
  options: DedupOptions;
}

function recorder(overrides: Partial<DedupOptions> = {}): Recorder {
  const r: Recorder = {
    outcomes: [],
    evicted: [],
    sizes: [],
    options: {
      maxKeys: 100,
      onOutcome: (outcome, a) => r.outcomes.push([outcome, a.event.output ?? '']),
      onEvicted: (key) => r.evicted.push(key),
      onState: (size) => r.sizes.push(size),
      ...overrides,
    },
  };
  return r;
}

interface Run {
  /** [frame, label] of everything emitted, plus `|` for complete and `#` for error. */
  timeline: [number, string][];
  outputs: Out[];
}

/**
 * Feeds a cold marble source through dedup on a TestScheduler (1 frame = 1 ms) and records what
 * comes out and when.
 */
function runMarbles(
  marbles: string,
  values: Record<string, EventAlert>,
  r: Recorder,
  unsubscribeAt?: number,
  error?: unknown,
): Run {
  const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  const run: Run = { timeline: [], outputs: [] };
  scheduler.run(({ cold }) => {
    const source: Observable<EventAlert> = cold(marbles, values, error).pipe(
      map((a) => arriving(a, scheduler.now())),
    );
    let sub: Subscription | undefined;
    sub = source.pipe(dedup({ ...r.options, scheduler })).subscribe({
      next: (out) => {
        run.timeline.push([scheduler.now(), label(out)]);
        run.outputs.push(out);
      },
      complete: () => run.timeline.push([scheduler.now(), '|']),
      error: () => run.timeline.push([scheduler.now(), '#']),
    });
    if (unsubscribeAt !== undefined) {
      scheduler.schedule(() => {
        sub?.unsubscribe();
        sub = undefined;
        // The cold source's own messages are gone with it; what would be left is a dedup timer.
        run.timeline.push([scheduler.now(), `unsubscribed, pending actions: ${scheduler.actions.length}`]);
      }, unsubscribeAt);
    }
  });
  return run;
}

function digests(run: Run): DigestAlert[] {
  return run.outputs.filter((o): o is DigestAlert => o.kind === 'digest');
}

describe('dedup', () => {
  it('delivers the first alert at once and collapses the repeats of its window into one digest', () => {
    const r = recorder();
    const values = {
      a: alert({ label: 'a1', key: 'k', windowMs: 10, pod: 'web-1', context: true, priority: 'Critical' }),
      b: alert({ label: 'a2', key: 'k', windowMs: 10, pod: 'web-2', priority: 'Warning' }),
      c: alert({ label: 'a3', key: 'k', windowMs: 10, pod: 'web-2', priority: 'Notice' }),
      d: alert({ label: 'a4', key: 'k', windowMs: 10, pod: 'web-3', priority: 'Notice' }),
    };
    values.b.reasons = ['raised by rule x'];
    values.b.routes = ['slack'];
    //                     frame: 0   2 4   6
    const run = runMarbles('a-b-c-d 20ms |', values, r);

    expect(run.timeline).toEqual([
      [0, 'a1'],
      [10, 'digest(k×3)'],
      [27, '|'],
    ]);
    const [digest] = digests(run);
    expect(digest).toMatchObject({
      kind: 'digest',
      fingerprint: 'k',
      rule: 'Terminal shell in container',
      count: 3,
      firstSeenMs: 0,
      lastSeenMs: 6,
      windowMs: 10,
      pods: ['shop/web-2', 'shop/web-3'],
      podCount: 2,
      namespace: 'shop',
      workload: { kind: 'Deployment', name: 'web' },
      priority: Priority.Warning,
      reasons: ['raised by rule x'],
      routes: ['slack'],
      receivedAtMs: 10,
    });
    // The example is the repeat that set the digest's priority, so its reasons and routes go with it.
    expect(digest?.sample).toBe(values.b);
    expect(digest).not.toHaveProperty('escalations');
    expect(digest?.id).toMatch(/^dig-/);
    expect(r.outcomes).toEqual([
      ['routed', 'a1'],
      ['digested', 'a2'],
      ['digested', 'a3'],
      ['digested', 'a4'],
    ]);
  });

  it('treats an alert after the window as a new first occurrence', () => {
    const r = recorder();
    const values = {
      a: alert({ label: 'a1', key: 'k', windowMs: 10 }),
      b: alert({ label: 'a2', key: 'k', windowMs: 10 }),
      c: alert({ label: 'a3', key: 'k', windowMs: 10 }),
      d: alert({ label: 'a4', key: 'k', windowMs: 10 }),
    };
    // a at 0, b at 5 (repeat), c at 15 (new window 15..25), d at 20 (repeat of the new window).
    const run = runMarbles('a 4ms b 9ms c 4ms d 10ms |', values, r);
    expect(run.timeline).toEqual([
      [0, 'a1'],
      [10, 'digest(k×1)'],
      [15, 'a3'],
      [25, 'digest(k×1)'],
      [31, '|'],
    ]);
    expect(digests(run).map((d) => [d.firstSeenMs, d.lastSeenMs])).toEqual([
      [0, 5],
      [15, 20],
    ]);
  });

  it('closes a window at exactly first + windowMs: a repeat at that instant opens a new one', () => {
    const r = recorder();
    const values = {
      a: alert({ label: 'a1', key: 'k', windowMs: 10 }),
      b: alert({ label: 'a2', key: 'k', windowMs: 10 }),
      c: alert({ label: 'a3', key: 'k', windowMs: 10 }),
    };
    const run = runMarbles('a 4ms b 4ms c 20ms |', values, r);
    expect(run.timeline).toEqual([
      [0, 'a1'],
      [10, 'digest(k×1)'],
      [10, 'a3'],
      [31, '|'],
    ]);
  });

  it('keeps keys independent and passes alerts without dedup straight through', () => {
    const r = recorder();
    const values = {
      a: alert({ label: 'a1', key: 'ka', windowMs: 10 }),
      b: alert({ label: 'b1', key: 'kb', windowMs: 5 }),
      x: alert({ label: 'x1' }),
      y: alert({ label: 'y1', key: 'kx', windowMs: 0 }),
      A: alert({ label: 'a2', key: 'ka', windowMs: 10 }),
      B: alert({ label: 'b2', key: 'kb', windowMs: 5 }),
    };
    // Frames: a 0, b 1, x 2, A 3, B 4, x 5, y 6, y 7.
    const run = runMarbles('abxABxyy 20ms |', values, r);
    expect(run.timeline).toEqual([
      [0, 'a1'],
      [1, 'b1'],
      [2, 'x1'],
      [5, 'x1'],
      [6, 'digest(kb×1)'],
      [6, 'y1'],
      [7, 'y1'],
      [10, 'digest(ka×1)'],
      [28, '|'],
    ]);
  });

  it('sends no digest for a window without repeats', () => {
    const r = recorder();
    const run = runMarbles('a 20ms |', { a: alert({ label: 'a1', key: 'k', windowMs: 10 }) }, r);
    expect(run.timeline).toEqual([
      [0, 'a1'],
      [21, '|'],
    ]);
    expect(r.sizes.at(-1)).toBe(0);
  });

  it('reports exactly one outcome per input', () => {
    const r = recorder();
    const values: Record<string, EventAlert> = {};
    const keys = ['k1', 'k2', 'k3'];
    // Priorities that rise and fall within windows, so some repeats escalate and some are digested.
    const priorities = ['Notice', 'Critical', 'Warning', 'Emergency', 'Notice'];
    let marbles = '';
    for (let i = 0; i < 30; i++) {
      const id = i < 26 ? String.fromCharCode(97 + i) : String.fromCharCode(65 + i - 26);
      values[id] = alert({
        label: `e${i}`,
        key: i % 7 === 0 ? undefined : keys[i % 3],
        windowMs: 7,
        priority: priorities[i % priorities.length],
      });
      marbles += `${id} `;
    }
    const run = runMarbles(`${marbles}|`, values, r);
    expect(digests(run).some((d) => d.escalations !== undefined)).toBe(true);
    expect(r.outcomes).toHaveLength(30);
    expect(new Set(r.outcomes.map(([, l]) => l)).size).toBe(30);
    const delivered = r.outcomes.filter(([o]) => o === 'routed').length;
    const digested = r.outcomes.filter(([o]) => o === 'digested').length;
    expect(delivered + digested).toBe(30);
    expect(run.outputs.filter((o) => o.kind === 'event')).toHaveLength(delivered);
    expect(digests(run).reduce((sum, d) => sum + d.count, 0)).toBe(digested);
  });

  describe('escalation', () => {
    const FIVE_MINUTES = 300_000;

    it('sends a more severe alert of the same key at once: Notice, then Emergency 1 s later', () => {
      const r = recorder();
      const values = {
        n: alert({ label: 'notice', key: 'k', windowMs: FIVE_MINUTES, priority: 'Notice' }),
        e: alert({ label: 'emergency', key: 'k', windowMs: FIVE_MINUTES, priority: 'Emergency' }),
      };
      const run = runMarbles('n 999ms e 5m |', values, r);
      // Nothing was held back, so the window ends without a digest.
      expect(run.timeline).toEqual([
        [0, 'notice'],
        [1000, 'emergency'],
        [301_001, '|'],
      ]);
      expect(r.outcomes).toEqual([
        ['routed', 'notice'],
        ['routed', 'emergency'],
      ]);
    });

    it('keeps the window running: a second Emergency is a repeat, digested at the first deadline', () => {
      const r = recorder();
      const values = {
        n: alert({ label: 'n1', key: 'k', windowMs: FIVE_MINUTES, priority: 'Notice' }),
        e: alert({ label: 'e1', key: 'k', windowMs: FIVE_MINUTES, priority: 'Emergency' }),
        E: alert({ label: 'e2', key: 'k', windowMs: FIVE_MINUTES, priority: 'Emergency' }),
        m: alert({ label: 'n2', key: 'k', windowMs: FIVE_MINUTES, priority: 'Notice' }),
      };
      const run = runMarbles('n 999ms e 999ms E 999ms m 10m |', values, r);
      expect(run.timeline).toEqual([
        [0, 'n1'],
        [1000, 'e1'],
        [FIVE_MINUTES, 'digest(k×2)'],
        [603_001, '|'],
      ]);
      expect(r.outcomes).toEqual([
        ['routed', 'n1'],
        ['routed', 'e1'],
        ['digested', 'e2'],
        ['digested', 'n2'],
      ]);
      const [digest] = digests(run);
      expect(digest).toMatchObject({
        count: 2,
        firstSeenMs: 0,
        lastSeenMs: 3000,
        priority: Priority.Emergency,
        escalations: [{ priority: Priority.Emergency, atMs: 1000 }],
      });
      expect(digest?.sample).toBe(values.E);
    });

    it('digests a milder alert after a severe one: Emergency, then Notice 1 s later', () => {
      const r = recorder();
      const values = {
        e: alert({ label: 'emergency', key: 'k', windowMs: FIVE_MINUTES, priority: 'Emergency' }),
        n: alert({ label: 'notice', key: 'k', windowMs: FIVE_MINUTES, priority: 'Notice' }),
      };
      const run = runMarbles('e 999ms n 5m |', values, r);
      expect(run.timeline).toEqual([
        [0, 'emergency'],
        [FIVE_MINUTES, 'digest(k×1)'],
        [301_001, '|'],
      ]);
      expect(r.outcomes).toEqual([
        ['routed', 'emergency'],
        ['digested', 'notice'],
      ]);
      const [digest] = digests(run);
      expect(digest?.priority).toBe(Priority.Notice);
      expect(digest).not.toHaveProperty('escalations');
    });

    it('sends each step of Notice, Warning, Critical at once and lists the steps in the digest', () => {
      const r = recorder();
      const values = {
        n: alert({ label: 'n1', key: 'k', windowMs: 10, priority: 'Notice' }),
        w: alert({ label: 'w1', key: 'k', windowMs: 10, priority: 'Warning' }),
        c: alert({ label: 'c1', key: 'k', windowMs: 10, priority: 'Critical' }),
        N: alert({ label: 'n2', key: 'k', windowMs: 10, priority: 'Notice' }),
        W: alert({ label: 'w2', key: 'k', windowMs: 10, priority: 'Warning' }),
      };
      const run = runMarbles('nwcNW 20ms |', values, r);
      expect(run.timeline).toEqual([
        [0, 'n1'],
        [1, 'w1'],
        [2, 'c1'],
        [10, 'digest(k×2)'],
        [25, '|'],
      ]);
      expect(r.outcomes).toEqual([
        ['routed', 'n1'],
        ['routed', 'w1'],
        ['routed', 'c1'],
        ['digested', 'n2'],
        ['digested', 'w2'],
      ]);
      const [digest] = digests(run);
      // The digest is at the priority of what it carries; the Critical already went out on its own.
      expect(digest).toMatchObject({ count: 2, priority: Priority.Warning, firstSeenMs: 0, lastSeenMs: 4 });
      expect(digest?.escalations).toEqual([
        { priority: Priority.Warning, atMs: 1 },
        { priority: Priority.Critical, atMs: 2 },
      ]);
    });

    it('opens no window and evicts nothing: maxKeys still bounds the table', () => {
      const r = recorder({ maxKeys: 1 });
      const values = {
        a: alert({ label: 'a1', key: 'ka', windowMs: 100, priority: 'Notice' }),
        A: alert({ label: 'a2', key: 'ka', windowMs: 100, priority: 'Emergency' }),
        b: alert({ label: 'b1', key: 'kb', windowMs: 100, priority: 'Notice' }),
        B: alert({ label: 'b2', key: 'kb', windowMs: 100, priority: 'Critical' }),
        c: alert({ label: 'c1', key: 'kc', windowMs: 100, priority: 'Notice' }),
      };
      const run = runMarbles('aAbBc 200ms |', values, r);
      // ka's window held only an escalation: evicting it sends nothing more.
      expect(run.timeline).toEqual([
        [0, 'a1'],
        [1, 'a2'],
        [2, 'b1'],
        [3, 'b2'],
        [4, 'c1'],
        [205, '|'],
      ]);
      expect(r.evicted).toEqual(['ka', 'kb']);
      expect(Math.max(...r.sizes)).toBe(1);
    });

    it('counts an escalation fed back synchronously by the downstream as a repeat', () => {
      const scheduler = new VirtualTimeScheduler();
      const r = recorder({ scheduler });
      const input = new Subject<EventAlert>();
      const seen: string[] = [];
      input.pipe(dedup(r.options)).subscribe((out) => {
        seen.push(label(out));
        if (out.kind === 'event' && out.event.output === 'escalated') {
          input.next(alert({ label: 'echo', key: 'k', windowMs: 10, priority: 'Critical' }));
        }
      });
      input.next(alert({ label: 'first', key: 'k', windowMs: 10, priority: 'Notice' }));
      input.next(alert({ label: 'escalated', key: 'k', windowMs: 10, priority: 'Critical' }));
      scheduler.flush();
      expect(seen).toEqual(['first', 'escalated', 'digest(k×1)']);
      expect(r.outcomes.map(([o]) => o)).toEqual(['routed', 'routed', 'digested']);
    });
  });

  describe('maxKeys', () => {
    it('sends the oldest key’s digest early when a third key arrives', () => {
      const r = recorder({ maxKeys: 2 });
      const values = {
        a: alert({ label: 'a1', key: 'ka', windowMs: 100 }),
        A: alert({ label: 'a2', key: 'ka', windowMs: 100 }),
        b: alert({ label: 'b1', key: 'kb', windowMs: 100 }),
        c: alert({ label: 'c1', key: 'kc', windowMs: 100 }),
      };
      const run = runMarbles('aAbc 200ms |', values, r);
      expect(run.timeline).toEqual([
        [0, 'a1'],
        [2, 'b1'],
        [3, 'digest(ka×1)'],
        [3, 'c1'],
        [204, '|'],
      ]);
      expect(r.evicted).toEqual(['ka']);
      expect(Math.max(...r.sizes)).toBe(2);
      expect(digests(run)[0]).toMatchObject({ firstSeenMs: 0, lastSeenMs: 1, count: 1 });
    });

    it('evicts a key without repeats silently', () => {
      const r = recorder({ maxKeys: 2 });
      const values = {
        a: alert({ label: 'a1', key: 'ka', windowMs: 100 }),
        b: alert({ label: 'b1', key: 'kb', windowMs: 100 }),
        c: alert({ label: 'c1', key: 'kc', windowMs: 100 }),
        A: alert({ label: 'a2', key: 'ka', windowMs: 100 }),
      };
      const run = runMarbles('abcA 200ms |', values, r);
      // ka was forgotten, so its next alert is a first occurrence again (evicting kb).
      expect(run.timeline).toEqual([
        [0, 'a1'],
        [1, 'b1'],
        [2, 'c1'],
        [3, 'a2'],
        [204, '|'],
      ]);
      expect(r.evicted).toEqual(['ka', 'kb']);
    });

    it('evicts the window that ends soonest when windows differ', () => {
      const r = recorder({ maxKeys: 2 });
      const values = {
        a: alert({ label: 'a1', key: 'long', windowMs: 100 }),
        b: alert({ label: 'b1', key: 'short', windowMs: 10 }),
        B: alert({ label: 'b2', key: 'short', windowMs: 10 }),
        c: alert({ label: 'c1', key: 'other', windowMs: 100 }),
      };
      const run = runMarbles('abBc 200ms |', values, r);
      expect(r.evicted).toEqual(['short']);
      expect(run.timeline.slice(0, 4)).toEqual([
        [0, 'a1'],
        [1, 'b1'],
        [3, 'digest(short×1)'],
        [3, 'c1'],
      ]);
    });
  });

  it('closes each window on its own deadline when windows differ', () => {
    const r = recorder();
    const values = {
      a: alert({ label: 'a1', key: 'long', windowMs: 100 }),
      A: alert({ label: 'a2', key: 'long', windowMs: 100 }),
      b: alert({ label: 'b1', key: 'short', windowMs: 10 }),
      B: alert({ label: 'b2', key: 'short', windowMs: 10 }),
    };
    const run = runMarbles('aAbB 200ms |', values, r);
    expect(run.timeline).toEqual([
      [0, 'a1'],
      [2, 'b1'],
      [12, 'digest(short×1)'],
      [100, 'digest(long×1)'],
      [204, '|'],
    ]);
  });

  it('flushes open windows oldest first when the source completes', () => {
    const r = recorder();
    const values = {
      a: alert({ label: 'a1', key: 'ka', windowMs: 100 }),
      b: alert({ label: 'b1', key: 'kb', windowMs: 50 }),
      c: alert({ label: 'c1', key: 'kc', windowMs: 100 }),
      A: alert({ label: 'a2', key: 'ka', windowMs: 100 }),
      B: alert({ label: 'b2', key: 'kb', windowMs: 50 }),
    };
    const run = runMarbles('abcBA|', values, r);
    expect(run.timeline).toEqual([
      [0, 'a1'],
      [1, 'b1'],
      [2, 'c1'],
      [5, 'digest(ka×1)'],
      [5, 'digest(kb×1)'],
      [5, '|'],
    ]);
    expect(r.sizes.at(-1)).toBe(0);
  });

  it('flushes open windows before passing an error on', () => {
    const r = recorder();
    const values = {
      a: alert({ label: 'a1', key: 'ka', windowMs: 100 }),
      A: alert({ label: 'a2', key: 'ka', windowMs: 100 }),
    };
    const run = runMarbles('aA#', values, r, undefined, new Error('source broke'));
    expect(run.timeline).toEqual([
      [0, 'a1'],
      [2, 'digest(ka×1)'],
      [2, '#'],
    ]);
  });

  it('passes an error through when no window is open', () => {
    const seen: unknown[] = [];
    throwError(() => new Error('x'))
      .pipe(dedup(recorder().options))
      .subscribe({ error: (err) => seen.push(err) });
    expect(seen).toEqual([new Error('x')]);
  });

  it('leaves no timer and emits nothing after unsubscribe', () => {
    const r = recorder();
    const values = {
      a: alert({ label: 'a1', key: 'ka', windowMs: 10 }),
      A: alert({ label: 'a2', key: 'ka', windowMs: 10 }),
    };
    const run = runMarbles('aA 20ms a|', values, r, 5);
    expect(run.timeline).toEqual([
      [0, 'a1'],
      [5, 'unsubscribed, pending actions: 0'],
    ]);
  });

  it('handles alerts fed back synchronously by the downstream', () => {
    const scheduler = new VirtualTimeScheduler();
    const r = recorder({ scheduler });
    const input = new Subject<EventAlert>();
    const seen: string[] = [];
    const echoed = new Set<string>();
    input.pipe(dedup(r.options)).subscribe((out) => {
      seen.push(label(out));
      // Each delivered alert comes back at once: it must count as a repeat of the window that was
      // opened before the alert went out, not as a second first occurrence.
      if (out.kind === 'event' && !out.event.output?.startsWith('echo')) {
        input.next(alert({ label: `echo-${out.event.output}`, key: 'k', windowMs: 10 }));
      }
      // A digest goes out after its key was forgotten: what it triggers opens a new window.
      if (out.kind === 'digest' && !echoed.has('digest')) {
        echoed.add('digest');
        input.next(alert({ label: 'after-digest', key: 'k', windowMs: 10 }));
      }
    });
    input.next(alert({ label: 'first', key: 'k', windowMs: 10 }));
    expect(seen).toEqual(['first']);
    scheduler.flush();
    expect(seen).toEqual(['first', 'digest(k×1)', 'after-digest', 'digest(k×1)']);
    expect(r.outcomes).toEqual([
      ['routed', 'first'],
      ['digested', 'echo-first'],
      ['routed', 'after-digest'],
      ['digested', 'echo-after-digest'],
    ]);
  });

  it('counts distinct pods past the exact limit approximately and lists only the first few', () => {
    const scheduler = new VirtualTimeScheduler();
    const r = recorder({ scheduler, maxPodsListed: 3 });
    const total = EXACT_PODS_PER_WINDOW + 1500;
    const base = alert({ label: 'p', key: 'k', windowMs: 10, pod: 'p' });
    const inputs: EventAlert[] = [base];
    for (let i = 0; i < total; i++) {
      // Every pod twice: repeats of a pod must not count as new pods.
      for (let j = 0; j < 2; j++) {
        inputs.push({
          ...base,
          event: { ...base.event, outputFields: { 'k8s.ns.name': 'ns', 'k8s.pod.name': `pod-${i}` } },
        });
      }
    }
    const outputs: Out[] = [];
    from(inputs)
      .pipe(dedup(r.options))
      .subscribe((o) => outputs.push(o));
    const [digest] = outputs.filter((o): o is DigestAlert => o.kind === 'digest');
    expect(digest?.count).toBe(2 * total);
    expect(digest?.pods).toEqual(['ns/pod-0', 'ns/pod-1', 'ns/pod-2']);
    expect(Math.abs((digest?.podCount ?? 0) - total)).toBeLessThanOrEqual(total * 0.02);
  });

  it('keeps the table within maxKeys for 100k distinct keys and accounts for every input', () => {
    const scheduler = new VirtualTimeScheduler();
    let maxSize = 0;
    const counts = { routed: 0, digested: 0, evicted: 0 };
    const options: DedupOptions = {
      scheduler,
      maxKeys: 1000,
      onOutcome: (outcome) => {
        counts[outcome] += 1;
      },
      onEvicted: () => {
        counts.evicted += 1;
      },
      onState: (size) => {
        maxSize = Math.max(maxSize, size);
      },
    };
    const base = alert({ label: 'storm', pod: 'web-1' });
    const inputs: EventAlert[] = [];
    for (let i = 0; i < 100_000; i++) {
      // Every tenth key repeats once right away, so some evicted windows carry counts.
      const copy: EventAlert = {
        ...base,
        dedup: { key: `key-${i - (i % 10 === 1 ? 1 : 0)}`, windowMs: 60_000 },
      };
      inputs.push(copy);
    }
    let digested = 0;
    let events = 0;
    let completed = false;
    from(inputs)
      .pipe(dedup(options))
      .subscribe({
        next: (o) => {
          if (o.kind === 'digest') digested += o.count;
          else events += 1;
        },
        complete: () => {
          completed = true;
        },
      });
    expect(completed).toBe(true);
    expect(maxSize).toBe(1000);
    expect(counts.routed + counts.digested).toBe(100_000);
    expect(counts.digested).toBe(10_000);
    expect(digested).toBe(counts.digested);
    expect(events).toBe(counts.routed);
    expect(counts.evicted).toBe(counts.routed - 1000);
    expect(scheduler.actions).toHaveLength(0);
  });

  it('holds at most one scheduler action for 10k open keys', () => {
    const scheduler = new EventTimeScheduler();
    const input = new Subject<EventAlert>();
    let maxActions = 0;
    let digests = 0;
    const options: DedupOptions = {
      scheduler,
      maxKeys: 20_000,
      onOutcome: () => {
        maxActions = Math.max(maxActions, scheduler.actions.length);
      },
    };
    const sub = input.pipe(dedup(options)).subscribe((o) => {
      if (o.kind === 'digest') digests += 1;
    });
    const base = alert({ label: 'k' });
    for (let i = 0; i < 10_000; i++) {
      scheduler.advanceTo(i);
      // Windows of different lengths, so the earliest deadline keeps moving and the timer is re-armed.
      const windowMs = 5_000 + ((i * 7919) % 20_000);
      input.next({ ...base, dedup: { key: `key-${i}`, windowMs } });
      input.next({ ...base, dedup: { key: `key-${i}`, windowMs } });
      maxActions = Math.max(maxActions, scheduler.actions.length);
    }
    expect(maxActions).toBe(1);
    scheduler.finish();
    expect(digests).toBe(10_000);
    expect(scheduler.actions).toHaveLength(0);
    sub.unsubscribe();
  });

  it('leaves no pending action after unsubscribe on a virtual clock', () => {
    const scheduler = new VirtualTimeScheduler();
    const input = new Subject<EventAlert>();
    const seen: string[] = [];
    const sub = input.pipe(dedup(recorder({ scheduler }).options)).subscribe((o) => seen.push(label(o)));
    input.next(alert({ label: 'a1', key: 'k', windowMs: 10 }));
    input.next(alert({ label: 'a2', key: 'k', windowMs: 10 }));
    expect(scheduler.actions).toHaveLength(1);
    sub.unsubscribe();
    expect(scheduler.actions).toHaveLength(0);
    scheduler.flush();
    expect(seen).toEqual(['a1']);
  });

  it('rejects a maxKeys below 1', () => {
    expect(() => dedup({ maxKeys: 0, onOutcome: () => {} })).toThrow(RangeError);
  });
});

/**
 * Dedup driven like the live agent: the scheduler is the wall clock, and each alert arrives at some
 * moment carrying Falco's own time, which may be earlier (late), later (a clock running ahead), or
 * out of order with the alerts before it.
 */
class Clocked {
  readonly clock = new EventTimeScheduler();
  readonly input = new Subject<EventAlert>();
  /** [wall-clock time, label] of everything emitted. */
  readonly timeline: [number, string][] = [];
  readonly outputs: Out[] = [];
  readonly r: Recorder;

  constructor(overrides: Partial<DedupOptions> = {}) {
    this.r = recorder({ scheduler: this.clock, ...overrides });
    this.input.pipe(dedup(this.r.options)).subscribe({
      next: (out) => {
        this.timeline.push([this.clock.now(), label(out)]);
        this.outputs.push(out);
      },
      complete: () => this.timeline.push([this.clock.now(), '|']),
    });
  }

  /** At wall-clock time `nowMs`, an alert that Falco saw at `eventTimeMs` (on time by default). */
  arrive(nowMs: number, a: EventAlert, eventTimeMs = nowMs): void {
    this.clock.advanceTo(nowMs);
    this.input.next(timeAlert(a, eventTimeMs, nowMs));
  }

  digests(): DigestAlert[] {
    return this.outputs.filter((o): o is DigestAlert => o.kind === 'digest');
  }
}

describe('dedup on each alert’s own time', () => {
  const T = Date.UTC(2026, 5, 1, 12, 0, 0);
  const FIVE_MINUTES = 300_000;
  const LATENESS = 30_000;
  const DAY = 86_400_000;
  const shell = (label: string, priority = 'Warning') =>
    alert({ label, key: 'k', windowMs: FIVE_MINUTES, priority });

  it('measures a window on the alerts’ times, however late they arrive', () => {
    // A node whose Falco runs a minute behind: every alert arrives 60 s after it happened.
    const run = new Clocked({ allowedLatenessMs: LATENESS });
    const lag = 60_000;
    for (let i = 0; i < 12; i += 1) run.arrive(T + i * 30_000 + lag, shell(`s${i}`), T + i * 30_000);
    run.clock.finish();
    // 0 s…270 s is one window, 300 s…330 s the next: by Falco's time, not by arrival.
    expect(run.digests().map((d) => [d.count, d.firstSeenMs - T, d.lastSeenMs - T])).toEqual([
      [9, 0, 270_000],
      [1, 300_000, 330_000],
    ]);
    expect(run.r.outcomes.filter(([o]) => o === 'routed').map(([, l]) => l)).toEqual(['s0', 's10']);
  });

  it('gives first and last seen as the earliest and latest alert times, not the order of arrival', () => {
    const run = new Clocked({ allowedLatenessMs: LATENESS });
    run.arrive(T, shell('first'));
    run.arrive(T + 2000, shell('later'), T + 1500);
    run.arrive(T + 2500, shell('earlier'), T + 500);
    run.clock.finish();
    expect(run.digests().map((d) => [d.count, d.firstSeenMs - T, d.lastSeenMs - T])).toEqual([[2, 0, 1500]]);
  });

  it('lets an alert a little earlier than its window’s first join it, which then starts there', () => {
    // Two nodes, one 2 s behind the other: the later node's alert arrived first and opened the window.
    const run = new Clocked({ allowedLatenessMs: LATENESS });
    run.arrive(T, shell('fast node'));
    run.arrive(T + 1000, shell('slow node'), T - 2000);
    // The window now covers T − 2 s … T + 4 m 58 s: an alert at T + 4 m 59 s is a new first occurrence.
    run.arrive(T + FIVE_MINUTES - 1000, shell('next window'));
    run.clock.finish();
    expect(run.r.outcomes).toEqual([
      ['routed', 'fast node'],
      ['digested', 'slow node'],
      ['routed', 'next window'],
    ]);
    expect(run.digests().map((d) => [d.count, d.firstSeenMs - T, d.lastSeenMs - T])).toEqual([
      [1, -2000, -2000],
    ]);
  });

  it('never merges alerts months apart: each stretch of time gets its own window', () => {
    // Two nodes' logs merged out of order: today's alerts and some from three months ago, interleaved.
    const run = new Clocked({ allowedLatenessMs: LATENESS });
    const old = T - 90 * DAY;
    run.arrive(T, shell('today'));
    run.arrive(T + 10, shell('months ago'), old);
    run.arrive(T + 20, shell('today again'), T + 1000);
    run.arrive(T + 30, shell('months ago again'), old + 1000);
    run.clock.finish();
    expect(run.r.outcomes).toEqual([
      ['routed', 'today'],
      ['routed', 'months ago'],
      ['digested', 'today again'],
      ['digested', 'months ago again'],
    ]);
    const windows = run.digests().map((d) => [d.count, d.firstSeenMs, d.lastSeenMs]);
    expect(windows).toEqual([
      [1, T, T + 1000],
      [1, old, old + 1000],
    ]);
    for (const d of run.digests()) expect(d.lastSeenMs - d.firstSeenMs).toBeLessThan(FIVE_MINUTES);
  });

  it('holds a window open for late alerts until allowedLateness after its end, on the wall clock', () => {
    const run = new Clocked({ allowedLatenessMs: LATENESS });
    run.arrive(T, shell('first'));
    run.arrive(T + 1000, shell('repeat'));
    // Happened inside the window, arrived after its end but within the lateness: still counted.
    run.arrive(T + FIVE_MINUTES + 20_000, shell('late'), T + FIVE_MINUTES - 1000);
    // Nothing else comes: the digest goes out by the clock, not with the next alert of its key.
    run.clock.advanceTo(T + 3_600_000);
    expect(run.timeline).toEqual([
      [T, 'first'],
      [T + FIVE_MINUTES + LATENESS, 'digest(k×2)'],
    ]);
    expect(run.digests()[0]?.lastSeenMs).toBe(T + FIVE_MINUTES - 1000);
  });

  it('starts a new window for an alert that arrives after its window closed, instead of merging it', () => {
    const run = new Clocked({ allowedLatenessMs: LATENESS });
    run.arrive(T, shell('first'));
    run.arrive(T + 1000, shell('repeat'));
    // It happened inside the first window, but that window closed at 5 m 30 s.
    run.arrive(T + FIVE_MINUTES + LATENESS + 1, shell('too late'), T + 2000);
    run.arrive(T + FIVE_MINUTES + LATENESS + 2, shell('repeat of too late'), T + 3000);
    run.clock.finish();
    expect(run.r.outcomes.map(([o, l]) => `${o} ${l}`)).toEqual([
      'routed first',
      'digested repeat',
      'routed too late',
      'digested repeat of too late',
    ]);
    expect(run.digests().map((d) => [d.count, d.firstSeenMs - T, d.lastSeenMs - T])).toEqual([
      [1, 0, 1000],
      [1, 2000, 3000],
    ]);
  });

  it('bounds an alert from the future to its receipt plus allowedLateness, so it cannot hold the key', () => {
    // A node whose clock is a year ahead.
    const run = new Clocked({ allowedLatenessMs: LATENESS });
    run.arrive(T, shell('from the future'), T + 365 * DAY);
    run.arrive(T + 60_000, shell('repeat'));
    // The skewed alert counts as T + 30 s: its window ends at T + 5 m 30 s, not a year from now.
    run.arrive(T + FIVE_MINUTES + LATENESS, shell('after the window'));
    run.clock.finish();
    expect(run.r.outcomes.map(([o, l]) => `${o} ${l}`)).toEqual([
      'routed from the future',
      'digested repeat',
      'routed after the window',
    ]);
    const [digest] = run.digests();
    expect(digest?.firstSeenMs).toBe(T + LATENESS);
    expect(digest?.lastSeenMs).toBe(T + 60_000);
  });

  it('dates an escalation by the alert’s own time', () => {
    const run = new Clocked({ allowedLatenessMs: LATENESS });
    run.arrive(T, shell('notice', 'Notice'));
    run.arrive(T + 5000, shell('critical', 'Critical'), T + 1000);
    run.arrive(T + 6000, shell('notice again', 'Notice'));
    run.clock.finish();
    expect(run.r.outcomes.map(([o]) => o)).toEqual(['routed', 'routed', 'digested']);
    expect(run.digests()[0]?.escalations).toEqual([{ priority: Priority.Critical, atMs: T + 1000 }]);
  });

  it('counts every open window of a key against maxKeys', () => {
    const run = new Clocked({ allowedLatenessMs: LATENESS, maxKeys: 2 });
    run.arrive(T, shell('today'));
    run.arrive(T, shell('today again'));
    run.arrive(T + 10, shell('a month ago'), T - 30 * DAY);
    // A third stretch of time for the same key: the window that ends soonest is closed early.
    run.arrive(T + 20, shell('two months ago'), T - 60 * DAY);
    expect(Math.max(...run.r.sizes)).toBe(2);
    expect(run.r.evicted).toEqual(['k']);
    expect(run.timeline.map(([, l]) => l)).toEqual(['today', 'a month ago', 'digest(k×1)', 'two months ago']);
  });

  it('gives the same digests for alerts out of order as for the same alerts in order, within the lateness', () => {
    // Two nodes, one 19 s behind (within allowedLateness), their alerts interleaved every 9 s: the
    // slow node's alert is often overtaken, the first of a window included.
    const times = Array.from({ length: 60 }, (_, i) => T + i * 9000);
    const jitter = (i: number) => (i % 2 === 0 ? 19_000 : 0);
    const shape = (run: Clocked) => run.digests().map((d) => [d.count, d.firstSeenMs, d.lastSeenMs]);

    const inOrder = new Clocked({ allowedLatenessMs: LATENESS });
    for (const [i, t] of times.entries()) inOrder.arrive(t, shell(`s${i}`));
    inOrder.clock.finish();

    const jittered = new Clocked({ allowedLatenessMs: LATENESS });
    const arrivals = times.map((t, i) => ({ t, at: t + jitter(i), i })).sort((a, b) => a.at - b.at);
    expect(arrivals.map((a) => a.i)).not.toEqual(times.map((_, i) => i));
    for (const { t, at, i } of arrivals) jittered.arrive(at, shell(`s${i}`), t);
    jittered.clock.finish();

    expect(shape(jittered)).toEqual(shape(inOrder));
    expect(shape(inOrder).length).toBeGreaterThan(1);
  });
});

describe('digestSummary', () => {
  const first = Date.UTC(2026, 0, 1, 9, 15, 2);
  const last = Date.UTC(2026, 0, 1, 9, 19, 58);
  function digest(overrides: Partial<DigestAlert>): DigestAlert {
    const sample = alert({ label: 's', key: 'k' });
    return {
      kind: 'digest',
      id: 'dig-1',
      fingerprint: 'k',
      rule: 'Terminal shell in container',
      count: 57,
      firstSeenMs: first,
      lastSeenMs: last,
      windowMs: 300_000,
      pods: [],
      podCount: 0,
      sample,
      priority: Priority.Notice,
      reasons: [],
      receivedAtMs: last,
      ...overrides,
    };
  }

  it('says how many repeats, in what window, across how many pods of which workload', () => {
    expect(
      digestSummary(
        digest({
          pods: ['payments/api-1', 'payments/api-2', 'payments/api-3'],
          podCount: 3,
          namespace: 'payments',
          workload: { kind: 'Deployment', name: 'payments' },
        }),
      ),
    ).toBe(
      'Terminal shell in container ×57 more in 5m across 3 pods of deployment/payments (first seen 09:15:02, last 09:19:58 UTC)',
    );
  });

  it('names a single pod, and the namespace when no workload is known', () => {
    expect(
      digestSummary(
        digest({ pods: ['payments/api-1'], podCount: 1, workload: { kind: 'StatefulSet', name: 'api' } }),
      ),
    ).toBe(
      'Terminal shell in container ×57 more in 5m in pod payments/api-1 of statefulset/api (first seen 09:15:02, last 09:19:58 UTC)',
    );
    expect(digestSummary(digest({ count: 1, windowMs: 90_000, namespace: 'payments' }))).toBe(
      'Terminal shell in container ×1 more in 1m30s in namespace payments (first seen 09:15:02, last 09:19:58 UTC)',
    );
    expect(digestSummary(digest({ podCount: 4, pods: ['a/b'], namespace: 'a' }))).toContain(
      '×57 more in 5m across 4 pods in namespace a',
    );
  });

  it('says when the window escalated and that each escalation was sent at once', () => {
    const warning = Date.UTC(2026, 0, 1, 9, 15, 3);
    const critical = Date.UTC(2026, 0, 1, 9, 16, 40);
    expect(digestSummary(digest({ escalations: [{ priority: Priority.Emergency, atMs: warning }] }))).toBe(
      'Terminal shell in container ×57 more in 5m (first seen 09:15:02, last 09:19:58 UTC); escalated to Emergency at 09:15:03 UTC (sent at once)',
    );
    expect(
      digestSummary(
        digest({
          escalations: [
            { priority: Priority.Warning, atMs: warning },
            { priority: Priority.Critical, atMs: critical },
          ],
        }),
      ),
    ).toBe(
      'Terminal shell in container ×57 more in 5m (first seen 09:15:02, last 09:19:58 UTC); escalated to Warning at 09:15:03, Critical at 09:16:40 UTC (each sent at once)',
    );
  });

  it('shows the date of the last repeat when it is another day', () => {
    const nextDay = Date.UTC(2026, 0, 2, 0, 1, 0);
    expect(digestSummary(digest({ lastSeenMs: nextDay }))).toBe(
      'Terminal shell in container ×57 more in 5m (first seen 09:15:02, last 2026-01-02 00:01:00 UTC)',
    );
  });

  it('formats durations compactly', () => {
    expect(
      [250, 1500, 30_000, 90_000, 300_000, 3_600_000, 5_400_000, 86_400_000].map(formatDuration),
    ).toEqual(['250ms', '1.5s', '30s', '1m30s', '5m', '1h', '1h30m', '24h']);
  });
});
