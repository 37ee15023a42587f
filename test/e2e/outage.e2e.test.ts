import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { DeliverySink } from '../../src/delivery/delivery-sink.js';
import { Spool } from '../../src/delivery/spool.js';
import { Priority } from '../../src/events/priority.js';
import { PerchMetrics } from '../../src/metrics/perch-metrics.js';
import { HttpReceiver } from '../fakes/http-receiver.js';
import {
  captureLogger,
  deliveryConfig,
  JsonDestination,
  labelledAlert,
  labelOf,
  metricValue,
  sleep,
  until,
} from '../fakes/http-receiver-fixtures.js';

const TOTAL = 1000;
const BATCH = 50;
const OUTAGE_MS = 30_000;
const PRIORITIES = [Priority.Debug, Priority.Notice, Priority.Warning, Priority.Critical, Priority.Emergency];

const cleanup: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

/**
 * A destination outage with a Perch restart in the middle of it: 1,000 alerts, all spooled
 * (spoolMinPriority Debug), flow in while the receiver refuses connections for 30 s; halfway the
 * sink and the spool are closed and reopened from the file, as a restarted Perch would. When the
 * receiver comes back every alert must arrive exactly once, in the order sent, and the spool must
 * end empty. No duplicates are expected: no request was accepted before the restart (the receiver
 * was down), so nothing could be accepted and still be on disk.
 */
describe('delivery through an outage and a restart', () => {
  it('delivers every spooled alert exactly once, in order', async () => {
    const receiver = await HttpReceiver.start();
    cleanup.push(() => receiver.stop());
    await receiver.down();
    const outageStart = Date.now();
    const dir = await mkdtemp(join(tmpdir(), 'perch-outage-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const path = join(dir, 'state', 'spool.db');
    const logs = captureLogger();
    const config = deliveryConfig({
      spoolMinPriority: 'Debug',
      timeout: '2s',
      retry: { initial: '100ms', max: '1s' },
      rateLimit: { perSecond: 5000, burst: 100 },
    });
    const destination = new JsonDestination(receiver.url);
    const metrics = new PerchMetrics({ processMetrics: false });

    let spool = new Spool({ path, maxEntries: 100_000 });
    let sink = new DeliverySink('outage', config, destination, { metrics, log: logs.log, spool });
    cleanup.push(() => sink.close());
    cleanup.push(() => spool.close());
    await sink.start();

    const sent: string[] = [];
    for (let i = 0; i < TOTAL; i++) {
      const label = `alert-${String(i).padStart(4, '0')}`;
      sink.send(labelledAlert(label, PRIORITIES[i % PRIORITIES.length]));
      sent.push(label);
      if ((i + 1) % BATCH !== 0) continue;
      await sleep(1000);
      if (i + 1 === TOTAL / 2) {
        // "Restart": flush gives up quickly (the destination is down), close keeps the spool on disk.
        const flushStarted = Date.now();
        await sink.flush();
        expect(Date.now() - flushStarted).toBeLessThan(5000);
        await sink.close();
        spool.close();
        spool = new Spool({ path, maxEntries: 100_000 });
        expect(spool.count('outage')).toBe(TOTAL / 2);
        sink = new DeliverySink('outage', config, destination, { metrics, log: logs.log, spool });
        await sink.start();
      }
    }
    expect(receiver.requests).toHaveLength(0);
    expect(sink.status().up).toBe(false);
    expect(spool.count('outage')).toBe(TOTAL);

    await sleep(Math.max(0, outageStart + OUTAGE_MS - Date.now()));
    await receiver.up();
    await until(() => receiver.accepted().length >= TOTAL, 20_000, 50);
    await sink.flush();

    expect(receiver.accepted().map(labelOf)).toEqual(sent);
    expect(receiver.requests).toHaveLength(TOTAL);
    expect(spool.count()).toBe(0);
    expect(
      await metricValue(metrics, 'perch_sink_deliveries_total', { sink: 'outage', status: 'delivered' }),
    ).toBe(TOTAL);
    expect(
      await metricValue(metrics, 'perch_component_discarded_events_total', { component_id: 'outage' }),
    ).toBe(0);
    expect(sink.status().up).toBe(true);
    expect(logs.text()).not.toContain('/hook/');
  }, 90_000);
});
