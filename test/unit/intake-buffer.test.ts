import { describe, expect, it } from '@jest/globals';
import { Subject, type Subscription, VirtualTimeScheduler } from 'rxjs';
import type { FalcoEvent } from '../../src/events/falco-event.js';
import { parseFalcoJson } from '../../src/events/parse-falco-json.js';
import { Priority, priorityName } from '../../src/events/priority.js';
import { intakeBuffer } from '../../src/pipeline/intake-buffer.js';

function event(id: number, priority: Priority): FalcoEvent {
  return parseFalcoJson(
    JSON.stringify({
      rule: `r${id}`,
      priority: priorityName(priority),
      time: '2026-01-01T00:00:00Z',
      output_fields: { id },
    }),
  );
}

function harness(capacity: number, hardLimit?: number) {
  const scheduler = new VirtualTimeScheduler();
  const input = new Subject<FalcoEvent>();
  const out: string[] = [];
  const shed: string[] = [];
  let completed = false;
  input
    .pipe(
      intakeBuffer({
        capacity,
        ...(hardLimit ? { hardLimit } : {}),
        batchSize: 3,
        scheduler,
        priorityOf: (e) => e.priority,
        onShed: (e, reason) => shed.push(`${e.rule}:${reason}`),
      }),
    )
    .subscribe({ next: (e) => out.push(e.rule), complete: () => (completed = true) });
  return { scheduler, input, out, shed, isComplete: () => completed };
}

describe('intake buffer', () => {
  it('hands events on in arrival order, in batches, after the producer yields', () => {
    const h = harness(10);
    for (let i = 0; i < 5; i++) h.input.next(event(i, Priority.Notice));
    expect(h.out).toEqual([]);
    h.scheduler.flush();
    expect(h.out).toEqual(['r0', 'r1', 'r2', 'r3', 'r4']);
  });

  it('when full, sheds the oldest event of the lowest priority present to make room for a more important one', () => {
    const h = harness(3);
    h.input.next(event(0, Priority.Notice));
    h.input.next(event(1, Priority.Debug));
    h.input.next(event(2, Priority.Debug));
    h.input.next(event(3, Priority.Warning));
    expect(h.shed).toEqual(['r1:lower_priority_evicted']);
    h.input.next(event(4, Priority.Debug));
    expect(h.shed).toEqual(['r1:lower_priority_evicted', 'r4:buffer_full']);
    h.scheduler.flush();
    expect(h.out).toEqual(['r0', 'r2', 'r3']);
  });

  it('keeps Critical and above beyond the capacity, up to the hard limit', () => {
    const h = harness(2, 4);
    h.input.next(event(0, Priority.Critical));
    h.input.next(event(1, Priority.Alert));
    h.input.next(event(2, Priority.Emergency));
    h.input.next(event(3, Priority.Critical));
    h.input.next(event(4, Priority.Critical));
    h.input.next(event(5, Priority.Notice));
    expect(h.shed).toEqual(['r4:hard_limit', 'r5:buffer_full']);
    h.scheduler.flush();
    expect(h.out).toEqual(['r0', 'r1', 'r2', 'r3']);
  });

  it('completes after draining what it holds', () => {
    const h = harness(10);
    h.input.next(event(0, Priority.Notice));
    h.input.complete();
    expect(h.isComplete()).toBe(false);
    h.scheduler.flush();
    expect(h.out).toEqual(['r0']);
    expect(h.isComplete()).toBe(true);
  });

  it('stays bounded under a storm: every event is either handed on or shed, never lost, Critical only at the hard limit', () => {
    const h = harness(100);
    const priorities = [Priority.Debug, Priority.Notice, Priority.Warning, Priority.Critical];
    let largestBatch = 0;
    for (let i = 0; i < 50_000; i++) {
      h.input.next(event(i, priorities[i % 4] ?? Priority.Notice));
      if (i % 1000 === 999) {
        const before = h.out.length;
        h.scheduler.flush();
        largestBatch = Math.max(largestBatch, h.out.length - before);
      }
    }
    h.input.complete();
    h.scheduler.flush();
    // Never more held than the hard limit (2 × capacity), whatever arrives between two turns.
    expect(largestBatch).toBeLessThanOrEqual(200);
    expect(h.out.length + h.shed.length).toBe(50_000);
    expect(new Set([...h.out, ...h.shed.map((s) => s.split(':')[0])]).size).toBe(50_000);
    const isCritical = (s: string) => Number(s.slice(1, s.indexOf(':'))) % 4 === 3;
    expect(h.shed.filter(isCritical).every((s) => s.endsWith(':hard_limit'))).toBe(true);
    expect(h.shed.filter((s) => !isCritical(s)).some((s) => s.endsWith(':hard_limit'))).toBe(false);
  });

  it('keeps arrival order over many turns, emptied and filled again, after a storm as before it', () => {
    const h = harness(5000);
    const sent: string[] = [];
    let id = 0;
    // Turns of a few alerts, then a storm past what an emptied buffer keeps, then a few again.
    for (const count of [1, 3, 2, 7, 1, 4000, 5, 1, 2, 1500, 3]) {
      for (let i = 0; i < count; i++) {
        h.input.next(event(id, Priority.Warning));
        sent.push(`r${id}`);
        id += 1;
      }
      h.scheduler.flush();
      expect(h.out).toEqual(sent);
    }
    expect(h.shed).toEqual([]);
  });

  it('leaves nothing scheduled when the subscriber leaves in the middle of a batch', () => {
    const scheduler = new VirtualTimeScheduler();
    const input = new Subject<FalcoEvent>();
    const out: string[] = [];
    const subscription: Subscription = input
      .pipe(
        intakeBuffer({
          capacity: 10,
          batchSize: 2,
          scheduler,
          priorityOf: (e) => e.priority,
          onShed: () => {},
        }),
      )
      .subscribe((e) => {
        out.push(e.rule);
        if (out.length === 1) subscription.unsubscribe();
      });
    for (let i = 0; i < 5; i++) input.next(event(i, Priority.Notice));
    scheduler.flush();
    expect(out).toEqual(['r0']);
    expect(scheduler.actions).toHaveLength(0);
  });
});

describe('intake buffer on the event loop (no scheduler given)', () => {
  const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

  function onTheLoop(batchSize: number) {
    const input = new Subject<FalcoEvent>();
    const out: string[] = [];
    const subscription = input
      .pipe(intakeBuffer({ capacity: 100, batchSize, priorityOf: (e) => e.priority, onShed: () => {} }))
      .subscribe((e) => out.push(e.rule));
    return { input, out, subscription };
  }

  it('hands on one batch per turn, never in the turn the events arrived', async () => {
    const h = onTheLoop(2);
    for (let i = 0; i < 5; i++) h.input.next(event(i, Priority.Notice));
    expect(h.out).toEqual([]);
    await nextTurn();
    expect(h.out).toEqual(['r0', 'r1']);
    await nextTurn();
    expect(h.out).toEqual(['r0', 'r1', 'r2', 'r3']);
    h.input.next(event(5, Priority.Notice));
    await nextTurn();
    expect(h.out).toEqual(['r0', 'r1', 'r2', 'r3', 'r4', 'r5']);
    await nextTurn();
    h.input.next(event(6, Priority.Notice));
    await nextTurn();
    expect(h.out).toEqual(['r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6']);
    h.subscription.unsubscribe();
  });

  it('hands on nothing after the subscriber has left, even what was waiting for its turn', async () => {
    const h = onTheLoop(10);
    h.input.next(event(0, Priority.Notice));
    h.subscription.unsubscribe();
    await nextTurn();
    await nextTurn();
    expect(h.out).toEqual([]);
  });
});
