import { createHash } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import { map, type Observable, Subject, type Subscription } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import type { FalcoEvent } from '../../src/events/falco-event.js';
import { parseFalcoJson } from '../../src/events/parse-falco-json.js';
import { ClusterState } from '../../src/kube/cluster-state.js';
import type { Enrichment } from '../../src/kube/pod-context.js';
import { type EnrichedEvent, type EnrichOptions, enrich, type Resolver } from '../../src/pipeline/enrich.js';
import { podContext } from '../fixtures/pod-context.js';
import { makePod } from '../fixtures/pods.js';

/** A Falco syscall alert from the container with this 12-char id. */
function alert(containerId: string, rule = `rule-${containerId}`): FalcoEvent {
  return parseFalcoJson(
    JSON.stringify({
      hostname: 'worker-1',
      output: `alert from ${containerId}`,
      output_fields: { 'container.id': containerId, 'proc.name': 'sh' },
      priority: 'Warning',
      rule,
      source: 'syscall',
      tags: ['container'],
      time: '2026-01-01T00:00:00.000000000Z',
    }),
  );
}

/** A resolver backed by a Map from container id to enrichment, with a Subject the test ticks. */
class FakeResolver implements Resolver {
  readonly known = new Map<string, Enrichment>();
  readonly changes = new Subject<void>();
  readonly changes$: Observable<void> = this.changes.asObservable();
  calls = 0;

  resolve(event: FalcoEvent): Enrichment | undefined {
    this.calls += 1;
    const id = event.outputFields?.['container.id'];
    return typeof id === 'string' ? this.known.get(id) : undefined;
  }

  /** The pod shows up in the cache: store it and tick, as ClusterState.upsert does. */
  add(id: string, enrichment: Enrichment): void {
    this.known.set(id, enrichment);
    this.changes.next();
  }
}

function newScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
}

const A = alert('aaaaaaaaaaaa');
const B = alert('bbbbbbbbbbbb');
const C = alert('cccccccccccc');
const EVENTS: Record<string, FalcoEvent> = { a: A, b: B, c: C };

const POD_A: Enrichment = { outcome: 'container_id', pod: podContext({ pod: 'web-a' }) };
const POD_B: Enrichment = { outcome: 'container_id', pod: podContext({ pod: 'web-b' }) };

function out(event: FalcoEvent, enrichment: Enrichment): EnrichedEvent {
  return { event, enrichment };
}
const unresolved = (event: FalcoEvent): EnrichedEvent => out(event, { outcome: 'unresolved' });

function options(scheduler: TestScheduler, outcomes: string[], overrides: Partial<EnrichOptions> = {}) {
  return {
    pendingTimeoutMs: 2000,
    maxPending: 10,
    scheduler,
    onOutcome: (outcome: string) => outcomes.push(outcome),
    ...overrides,
  } satisfies EnrichOptions;
}

describe('enrich (virtual time)', () => {
  it('passes an alert whose pod is known straight through', () => {
    const scheduler = newScheduler();
    const resolver = new FakeResolver();
    resolver.known.set('aaaaaaaaaaaa', POD_A);
    const outcomes: string[] = [];
    scheduler.run(({ cold, expectObservable }) => {
      const source = cold('a 9ms a', EVENTS);
      expectObservable(source.pipe(enrich(resolver, options(scheduler, outcomes)))).toBe('a 9ms a', {
        a: out(A, POD_A),
      });
    });
    expect(outcomes).toEqual(['container_id', 'container_id']);
  });

  it('emits an alert as `late` at the moment its pod arrives, 500 ms after the alert', () => {
    const scheduler = newScheduler();
    const resolver = new FakeResolver();
    const outcomes: string[] = [];
    scheduler.run(({ cold, expectObservable }) => {
      scheduler.schedule(() => resolver.add('aaaaaaaaaaaa', POD_A), 500);
      const result = cold('a', EVENTS).pipe(enrich(resolver, options(scheduler, outcomes)));
      // The outcome becomes `late`; the pod found by the resolver is kept.
      expectObservable(result).toBe('500ms a', { a: out(A, { outcome: 'late', pod: POD_A.pod }) });
    });
    expect(outcomes).toEqual(['late']);
  });

  it('ignores cache changes that do not resolve the waiting alert', () => {
    const scheduler = newScheduler();
    const resolver = new FakeResolver();
    const outcomes: string[] = [];
    scheduler.run(({ cold, expectObservable }) => {
      scheduler.schedule(() => resolver.add('bbbbbbbbbbbb', POD_B), 100);
      scheduler.schedule(() => resolver.add('aaaaaaaaaaaa', POD_A), 1500);
      const result = cold('a', EVENTS).pipe(enrich(resolver, options(scheduler, outcomes)));
      expectObservable(result).toBe('1500ms a', { a: out(A, { outcome: 'late', pod: POD_A.pod }) });
    });
    expect(outcomes).toEqual(['late']);
  });

  it('emits an alert whose pod never comes as `unresolved` exactly when the 2 s timeout passes', () => {
    const scheduler = newScheduler();
    const resolver = new FakeResolver();
    const outcomes: string[] = [];
    scheduler.run(({ cold, expectObservable }) => {
      const result = cold('a', EVENTS).pipe(enrich(resolver, options(scheduler, outcomes)));
      expectObservable(result).toBe('2000ms a', { a: unresolved(A) });
    });
    expect(outcomes).toEqual(['unresolved']);
  });

  it('times each waiting alert out on its own deadline', () => {
    const scheduler = newScheduler();
    const resolver = new FakeResolver();
    const outcomes: string[] = [];
    scheduler.run(({ cold, expectObservable }) => {
      const result = cold('a 299ms b', EVENTS).pipe(enrich(resolver, options(scheduler, outcomes)));
      expectObservable(result).toBe('2000ms a 299ms b', { a: unresolved(A), b: unresolved(B) });
    });
    expect(outcomes).toEqual(['unresolved', 'unresolved']);
  });

  it('does not let a waiting alert hold up a resolvable one behind it', () => {
    const scheduler = newScheduler();
    const resolver = new FakeResolver();
    resolver.known.set('bbbbbbbbbbbb', POD_B);
    const outcomes: string[] = [];
    scheduler.run(({ cold, expectObservable }) => {
      const result = cold('a b', EVENTS).pipe(enrich(resolver, options(scheduler, outcomes)));
      expectObservable(result).toBe('- b 1998ms a', { a: unresolved(A), b: out(B, POD_B) });
    });
    expect(outcomes).toEqual(['container_id', 'unresolved']);
  });

  it('resolves the second waiting alert without disturbing the first one’s deadline', () => {
    const scheduler = newScheduler();
    const resolver = new FakeResolver();
    const outcomes: string[] = [];
    scheduler.run(({ cold, expectObservable }) => {
      scheduler.schedule(() => resolver.add('bbbbbbbbbbbb', POD_B), 700);
      const result = cold('a 99ms b', EVENTS).pipe(enrich(resolver, options(scheduler, outcomes)));
      expectObservable(result).toBe('700ms b 1299ms a', {
        a: unresolved(A),
        b: out(B, { outcome: 'late', pod: POD_B.pod }),
      });
    });
    expect(outcomes).toEqual(['late', 'unresolved']);
  });

  it('sends an alert out unresolved at once when the buffer is full, reporting pending_full', () => {
    const scheduler = newScheduler();
    const resolver = new FakeResolver();
    const outcomes: string[] = [];
    scheduler.run(({ cold, expectObservable }) => {
      const result = cold('a b c', EVENTS).pipe(
        enrich(resolver, options(scheduler, outcomes, { maxPending: 2 })),
      );
      // a and b wait (deadlines 2000 and 2001); c finds the buffer full and leaves at frame 2.
      expectObservable(result).toBe('-- c 1997ms ab', {
        a: unresolved(A),
        b: unresolved(B),
        c: unresolved(C),
      });
    });
    expect(outcomes).toEqual(['pending_full', 'unresolved', 'unresolved', 'unresolved']);
  });

  it('makes room in the buffer again once a waiting alert resolves', () => {
    const scheduler = newScheduler();
    const resolver = new FakeResolver();
    const outcomes: string[] = [];
    scheduler.run(({ cold, expectObservable }) => {
      scheduler.schedule(() => resolver.add('aaaaaaaaaaaa', POD_A), 10);
      const result = cold('a 19ms b', EVENTS).pipe(
        enrich(resolver, options(scheduler, outcomes, { maxPending: 1 })),
      );
      expectObservable(result).toBe('10ms a 2009ms b', {
        a: out(A, { outcome: 'late', pod: POD_A.pod }),
        b: unresolved(B),
      });
    });
    expect(outcomes).toEqual(['late', 'unresolved']);
  });

  it('never waits with pendingTimeoutMs 0', () => {
    const scheduler = newScheduler();
    const resolver = new FakeResolver();
    resolver.known.set('bbbbbbbbbbbb', POD_B);
    const outcomes: string[] = [];
    scheduler.run(({ cold, expectObservable }) => {
      scheduler.schedule(() => resolver.add('aaaaaaaaaaaa', POD_A), 1);
      const result = cold('a b', EVENTS).pipe(
        enrich(resolver, options(scheduler, outcomes, { pendingTimeoutMs: 0, maxPending: 0 })),
      );
      expectObservable(result).toBe('a b', { a: unresolved(A), b: out(B, POD_B) });
    });
    // No pending_full either: with no waiting at all the buffer size does not matter.
    expect(outcomes).toEqual(['unresolved', 'container_id']);
  });

  it('on completion gives waiting alerts one last try, sends the rest out unresolved, then completes', () => {
    const scheduler = newScheduler();
    const resolver = new FakeResolver();
    const outcomes: string[] = [];
    scheduler.run(({ cold, expectObservable }) => {
      // b's pod enters the cache without a tick: only the final retry can find it.
      scheduler.schedule(() => resolver.known.set('bbbbbbbbbbbb', POD_B), 5);
      const result = cold('a b 8ms |', EVENTS).pipe(enrich(resolver, options(scheduler, outcomes)));
      expectObservable(result).toBe('10ms (ba|)', {
        a: unresolved(A),
        b: out(B, { outcome: 'late', pod: POD_B.pod }),
      });
    });
    expect(outcomes).toEqual(['late', 'unresolved']);
  });

  it('completes at once when nothing is waiting', () => {
    const scheduler = newScheduler();
    const resolver = new FakeResolver();
    resolver.known.set('aaaaaaaaaaaa', POD_A);
    scheduler.run(({ cold, expectObservable }) => {
      const result = cold('a|', EVENTS).pipe(enrich(resolver, options(scheduler, [])));
      expectObservable(result).toBe('a|', { a: out(A, POD_A) });
    });
  });

  it('passes a source error through, after sending waiting alerts out unresolved', () => {
    const scheduler = newScheduler();
    const resolver = new FakeResolver();
    scheduler.run(({ cold, expectObservable }) => {
      const result = cold('a#', EVENTS, new Error('boom')).pipe(
        enrich(resolver, options(scheduler, [])),
        map((e) => e.enrichment.outcome),
      );
      expectObservable(result).toBe('-(u#)', { u: 'unresolved' }, new Error('boom'));
    });
  });

  it('sends a late alert once even when the downstream makes the cache tick while receiving it', () => {
    const scheduler = newScheduler();
    const resolver = new FakeResolver();
    const outcomes: string[] = [];
    scheduler.run(({ cold, flush }) => {
      cold('ab', EVENTS)
        .pipe(enrich(resolver, options(scheduler, [])))
        .subscribe((e) => {
          outcomes.push(`${e.event.rule}:${e.enrichment.outcome}`);
          resolver.changes.next();
        });
      scheduler.schedule(() => {
        resolver.known.set('aaaaaaaaaaaa', POD_A);
        resolver.changes.next();
      }, 10);
      flush();
    });
    expect(outcomes.filter((o) => o.endsWith(':late'))).toHaveLength(1);
  });

  it('reports exactly one final outcome per event, whatever path it took', () => {
    const scheduler = newScheduler();
    const resolver = new FakeResolver();
    resolver.known.set('aaaaaaaaaaaa', POD_A);
    const seen: Array<{ frame: number; outcome: string }> = [];
    const emitted: Array<{ frame: number; rule: string; outcome: string }> = [];
    scheduler.run(({ cold }) => {
      // Ticks before, at and after b's pod arrives; none may emit b twice or emit c early.
      for (const at of [50, 100, 150, 3000]) scheduler.schedule(() => resolver.changes.next(), at);
      scheduler.schedule(() => resolver.add('bbbbbbbbbbbb', POD_B), 100);
      const result = cold('a b c', EVENTS).pipe(
        enrich(resolver, {
          pendingTimeoutMs: 2000,
          maxPending: 10,
          scheduler,
          onOutcome: (outcome) => seen.push({ frame: scheduler.now(), outcome }),
        }),
      );
      result.subscribe((e) =>
        emitted.push({ frame: scheduler.now(), rule: e.event.rule, outcome: e.enrichment.outcome }),
      );
    });
    expect(emitted).toEqual([
      { frame: 0, rule: A.rule, outcome: 'container_id' },
      { frame: 100, rule: B.rule, outcome: 'late' },
      { frame: 2002, rule: C.rule, outcome: 'unresolved' },
    ]);
    // onOutcome fires with each emission, in the same order and at the same virtual time.
    expect(seen).toEqual(emitted.map(({ frame, outcome }) => ({ frame, outcome })));
  });

  it('stops everything on unsubscription: no timeout emission, no retry on later ticks', () => {
    const scheduler = newScheduler();
    const resolver = new FakeResolver();
    const outcomes: string[] = [];
    scheduler.run(({ cold, expectObservable }) => {
      const result = cold('a b', EVENTS).pipe(enrich(resolver, options(scheduler, outcomes)));
      // Unsubscribed at 1000 ms, before either deadline (2000, 2001).
      expectObservable(result, '^ 999ms !').toBe('');
      scheduler.schedule(() => resolver.add('aaaaaaaaaaaa', POD_A), 1500);
    });
    // The virtual clock ran past both deadlines and a tick that would have resolved a: nothing happened.
    expect(scheduler.now()).toBeGreaterThanOrEqual(1500);
    expect(outcomes).toEqual([]);
    expect(resolver.changes.observed).toBe(false);
  });

  it('clears the timer when the last waiting alert resolves', () => {
    const scheduler = newScheduler();
    const resolver = new FakeResolver();
    const outcomes: string[] = [];
    let lastFrame = -1;
    scheduler.run(({ cold }) => {
      scheduler.schedule(() => resolver.add('aaaaaaaaaaaa', POD_A), 10);
      cold('a', EVENTS)
        .pipe(enrich(resolver, options(scheduler, outcomes)))
        .subscribe(() => {
          lastFrame = scheduler.now();
        });
    });
    expect(lastFrame).toBe(10);
    // With no pending timer the flush had nothing to run at the old 2000 ms deadline.
    expect(scheduler.now()).toBeLessThan(2000);
    expect(outcomes).toEqual(['late']);
  });
});

describe('enrich with a real ClusterState', () => {
  const FULL_ID = createHash('sha256').update('toolbox').digest('hex');

  function toolboxPod(): V1Pod {
    return makePod({
      name: 'toolbox-0',
      namespace: 'tools',
      nodeName: 'worker-1',
      status: {
        phase: 'Running',
        containerStatuses: [
          {
            name: 'app',
            containerID: `containerd://${FULL_ID}`,
            image: 'registry.example/app:1.0',
            imageID: '',
            ready: true,
            restartCount: 0,
          },
        ],
      },
    });
  }

  it('emits an alert for an unknown container as `late` once the pod is upserted', () => {
    const state = new ClusterState({ nodeName: 'worker-1' });
    const events = new Subject<FalcoEvent>();
    const received: EnrichedEvent[] = [];
    const outcomes: string[] = [];
    let completed = false;
    const subscription: Subscription = events
      .pipe(enrich(state, { pendingTimeoutMs: 60_000, maxPending: 10, onOutcome: (o) => outcomes.push(o) }))
      .subscribe({ next: (e) => received.push(e), complete: () => (completed = true) });

    const event = alert(FULL_ID.slice(0, 12), 'Terminal shell in container');
    events.next(event);
    expect(received).toEqual([]);

    state.upsert('pods', toolboxPod());
    expect(received).toHaveLength(1);
    expect(received[0]?.event).toBe(event);
    expect(received[0]?.enrichment.outcome).toBe('late');
    expect(received[0]?.enrichment.pod).toMatchObject({
      namespace: 'tools',
      pod: 'toolbox-0',
      uid: 'uid-toolbox-0',
      node: 'worker-1',
      isolation: 'container',
      container: { name: 'app', kind: 'container', image: 'registry.example/app:1.0' },
    });

    // Now known: the next alert from the same container resolves at once.
    events.next(alert(FULL_ID.slice(0, 12)));
    expect(received[1]?.enrichment.outcome).toBe('container_id');
    events.complete();
    expect(completed).toBe(true);
    expect(outcomes).toEqual(['late', 'container_id']);
    expect(subscription.closed).toBe(true);
    expect(state.changes$.observed).toBe(false);
  });
});
