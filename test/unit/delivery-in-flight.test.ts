/**
 * Several requests in flight per sink (`maxInFlight`): the engine's guarantees hold with requests
 * that overlap and answer in any order.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { Priority } from '../../src/events/priority.js';
import { DeliveryHarness } from '../fakes/delivery-harness.js';
import { labelledAlert, sleep, until } from '../fakes/http-receiver-fixtures.js';

let h: DeliveryHarness;

beforeEach(async () => {
  h = await DeliveryHarness.create();
});

afterEach(async () => {
  await h.dispose();
});

const send = (sink: { send: (a: ReturnType<typeof labelledAlert>) => void }, ...labels: string[]) => {
  for (const label of labels) sink.send(labelledAlert(label));
};

describe('DeliverySink with maxInFlight', () => {
  it('keeps up to maxInFlight requests in flight, oldest alerts first, and no more', async () => {
    const sink = h.sink({ maxInFlight: 3 });
    await sink.start();
    send(sink, 'a1', 'a2', 'a3', 'a4', 'a5');
    await h.poster.waitFor(3);
    await sleep(50);
    expect(h.sent()).toEqual([['a1'], ['a2'], ['a3']]);
    // The second answers first: its slot goes to the next alert.
    h.poster.held[1]?.answer(200);
    await h.poster.waitFor(4);
    await sleep(20);
    expect(h.sent()).toEqual([['a1'], ['a2'], ['a3'], ['a4']]);
    for (const held of h.poster.inFlight) held.answer(200);
    await h.poster.waitFor(5);
    h.poster.held[4]?.answer(200);
    await until(() => sink.status().detail === '0 queued');
    expect(await h.deliveries('delivered')).toBe(5);
  });

  it('defaults to one request at a time for a destination that names no default', async () => {
    const sink = h.sink();
    await sink.start();
    send(sink, 'a1', 'a2');
    await h.poster.waitFor(1);
    await sleep(50);
    expect(h.poster.held).toHaveLength(1);
    h.poster.held[0]?.answer(200);
    await h.poster.waitFor(2);
  });

  it('removes each spooled alert when its own request succeeds, whatever the order of answers', async () => {
    const spool = h.openSpool();
    const sink = h.sink({ maxInFlight: 3, spoolMinPriority: 'Warning' }, { spool });
    await sink.start();
    send(sink, 'a1', 'a2', 'a3');
    await h.poster.waitFor(3);
    const ids = () => spool.pending('test', 10).map((row) => labelsOfPayload(row.payload));
    h.poster.held[2]?.answer(200);
    await until(() => spool.count('test') === 2);
    expect(ids()).toEqual(['a1', 'a2']);
    h.poster.held[0]?.answer(200);
    await until(() => spool.count('test') === 1);
    expect(ids()).toEqual(['a2']);
    h.poster.held[1]?.answer(200);
    await until(() => spool.count('test') === 0);
  });

  it('a failure of one request while others succeed: only it is retried, and it goes before newer alerts', async () => {
    const spool = h.openSpool();
    const retry = { initial: '200ms', max: '200ms' };
    const sink = h.sink({ maxInFlight: 3, spoolMinPriority: 'Warning', retry }, { spool, random: () => 0.5 });
    await sink.start();
    send(sink, 'a1', 'a2', 'a3', 'a4');
    await h.poster.waitFor(3);
    h.poster.held[1]?.answer(200);
    h.poster.held[2]?.answer(200);
    h.poster.held[0]?.answer(503, {}, 'busy');
    // Two slots are free, yet nothing goes while a1 waits for its retry.
    await sleep(80);
    expect(h.poster.held).toHaveLength(3);
    await h.poster.waitFor(5);
    // a1 in backoff holds a4 back: the retry of a1 is the next request, then a4.
    expect(h.sent().slice(3)).toEqual([['a1'], ['a4']]);
    expect(spool.pending('test', 10).map((row) => labelsOfPayload(row.payload))).toEqual(['a1', 'a4']);
    expect(spool.pending('test', 10)[0]?.attempts).toBe(1);
    for (const held of h.poster.inFlight) held.answer(200);
    await until(() => spool.count('test') === 0);
    expect(await h.deliveries('delivered')).toBe(4);
    expect(await h.deliveries('retried')).toBe(1);
  });

  it('sends one trial request, not maxInFlight, while the circuit is half-open', async () => {
    const sink = h.sink(
      { maxInFlight: 4 },
      { breaker: { failureThreshold: 2, coolDownMs: 50, maxCoolDownMs: 50 } },
    );
    await sink.start();
    send(sink, 'a1', 'a2', 'a3', 'a4');
    await h.poster.waitFor(4);
    for (const held of h.poster.inFlight) held.fail('connection refused');
    await until(() => !sink.status().up);
    await h.poster.waitFor(5);
    await sleep(100);
    expect(h.poster.inFlight).toHaveLength(1);
    expect(h.sent()[4]).toEqual(['a1']);
    h.poster.inFlight[0]?.answer(200);
    await until(() => h.poster.inFlight.length === 3);
    expect(sink.status().up).toBe(true);
  });

  it('never drops an alert in flight to make room: the oldest waiting one of the lowest priority goes', async () => {
    const sink = h.sink({ maxInFlight: 2, queueSize: 3 });
    await sink.start();
    sink.send(labelledAlert('d1', Priority.Debug));
    sink.send(labelledAlert('d2', Priority.Debug));
    await h.poster.waitFor(2);
    for (const label of ['d3', 'd4', 'd5']) sink.send(labelledAlert(label, Priority.Debug));
    expect(await h.discarded('queue_full')).toBe(2);
    for (const held of h.poster.inFlight) held.answer(200);
    await h.poster.waitFor(3);
    h.poster.held[2]?.answer(200);
    await until(() => sink.status().detail === '0 queued');
    expect(h.sent()).toEqual([['d1'], ['d2'], ['d5']]);
    expect(await h.deliveries('delivered')).toBe(3);
  });

  it('at shutdown lets requests in flight finish, then aborts the rest: spooled ones stay, in-memory ones are counted', async () => {
    const spool = h.openSpool();
    const sink = h.sink({ maxInFlight: 3, spoolMinPriority: 'Error', timeout: '300ms' }, { spool });
    await sink.start();
    sink.send(labelledAlert('err-1', Priority.Error));
    sink.send(labelledAlert('warn-1', Priority.Warning));
    sink.send(labelledAlert('err-2', Priority.Error));
    sink.send(labelledAlert('warn-2', Priority.Warning));
    await h.poster.waitFor(3);
    const closed = sink.close();
    await sleep(100);
    // Answered within the grace: counted delivered and gone from the spool.
    h.poster.held[0]?.answer(200);
    await closed;
    expect(h.poster.inFlight).toHaveLength(0);
    expect(await h.deliveries('delivered')).toBe(1);
    expect(spool.pending('test', 10).map((row) => labelsOfPayload(row.payload))).toEqual(['err-2']);
    // warn-1 (in flight, aborted) and warn-2 (never sent) lived in memory only.
    expect(sink.discardedAtShutdown).toBe(2);
    expect(await h.discarded('shutdown')).toBe(2);
    expect(h.poster.closed).toBe(true);
  });
});

function labelsOfPayload(payload: string): string {
  const { body } = JSON.parse(payload) as { body: string };
  return (JSON.parse(body) as { event: { output: string } }).event.output;
}
