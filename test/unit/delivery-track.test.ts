// The delivery engine's `track` hook: when a sink is done with an alert, and whether it kept it.

import { afterEach, describe, expect, it } from '@jest/globals';
import { Priority } from '../../src/events/priority.js';
import type { Alert } from '../../src/pipeline/alert.js';
import { DeliveryHarness } from '../fakes/delivery-harness.js';
import { labelledAlert } from '../fakes/http-receiver-fixtures.js';
import { until } from '../helpers/until.js';

let harness: DeliveryHarness | undefined;
afterEach(async () => {
  await harness?.dispose();
  harness = undefined;
});

/** `track` recording, per alert label, what the sink said when it was done with it. */
function recorder() {
  const done = new Map<string, boolean>();
  const track = (alert: Alert) => (kept: boolean) => {
    // labelledAlert's label is the alert's output
    done.set(alert.kind === 'event' ? (alert.event.output ?? '') : alert.kind, kept);
  };
  return { done, track };
}

describe('delivery sink: track', () => {
  it('reports an alert done only once the destination answered, kept whether delivered or rejected', async () => {
    harness = await DeliveryHarness.create();
    const { done, track } = recorder();
    const sink = harness.sink({}, { track });
    await sink.start();
    sink.send(labelledAlert('a'));
    await until(() => harness?.poster.inFlight.length === 1, 'a in flight');
    expect(done.size).toBe(0);
    harness.poster.inFlight[0]?.answer(503);
    await until(() => harness?.poster.inFlight.length === 1, 'a sent again');
    expect(done.size).toBe(0);
    harness.poster.inFlight[0]?.answer(200);
    await until(() => done.has('a'), 'a done');
    expect(done.get('a')).toBe(true);

    sink.send(labelledAlert('b'));
    await until(() => harness?.poster.inFlight.length === 1, 'b in flight');
    harness.poster.inFlight[0]?.answer(400);
    await until(() => done.has('b'), 'b done');
    expect(done.get('b')).toBe(true);
  });

  it('reports a filtered alert done at once, and one dropped for room or at shutdown as not kept', async () => {
    harness = await DeliveryHarness.create();
    const { done, track } = recorder();
    const sink = harness.sink({ minPriority: 'Error', queueSize: 1 }, { track });
    sink.send(labelledAlert('low', Priority.Warning));
    expect(done.get('low')).toBe(true);
    // not started: the queue holds one; the older of two is dropped
    sink.send(labelledAlert('first', Priority.Error));
    sink.send(labelledAlert('second', Priority.Error));
    expect(done.get('first')).toBe(false);
    await sink.close();
    expect(done.get('second')).toBe(false);
  });
});
