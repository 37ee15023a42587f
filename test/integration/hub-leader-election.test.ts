// Leader election of the hub against the fake API server's Leases, with durations short enough for a test.

import { afterEach, describe, expect, it } from '@jest/globals';
import { configSchema } from '../../src/config/schema.js';
import { kubeLeaseStore } from '../../src/hub/kube-lease-store.js';
import { LeaseElector } from '../../src/hub/lease-elector.js';
import type { LeaseStore } from '../../src/hub/lease-record.js';
import { createLogger } from '../../src/logging/logger.js';
import { FakeKubeApi } from '../fakes/fake-kube-api.js';
import { fakeKubeconfig } from '../helpers/fake-kubeconfig.js';
import { until } from '../helpers/until.js';

const NAMESPACE = 'perch';
const LEASE = 'perch-hub';
const TIMING = { leaseDurationMs: 1000, renewDeadlineMs: 700, retryPeriodMs: 100 };
const log = createLogger('silent');

let fake: FakeKubeApi | undefined;
const electors: LeaseElector[] = [];

afterEach(async () => {
  for (const elector of electors.splice(0)) await elector.stop();
  await fake?.stop();
  fake = undefined;
});

async function leaseStore(): Promise<LeaseStore> {
  fake ??= new FakeKubeApi({ token: 'hub-token' });
  const url = fake.port === 0 ? await fake.start() : fake.url;
  const path = fakeKubeconfig(url, 'hub-token');
  const kubernetes = configSchema.parse({ kubernetes: { kubeconfig: path } }).kubernetes;
  return kubeLeaseStore({ use: true, kind: 'file', path, describe: path }, kubernetes, NAMESPACE, LEASE);
}

interface Replica {
  elector: LeaseElector;
  events: string[];
  /** Makes every API call fail, as for a replica that died or lost the network. */
  cutOff(): void;
}

async function replica(identity: string): Promise<Replica> {
  const real = await leaseStore();
  let cut = false;
  const guard = <T>(call: () => Promise<T>) =>
    cut ? Promise.reject(new Error('connection refused')) : call();
  const store: LeaseStore = {
    describe: real.describe,
    get: () => guard(() => real.get()),
    create: (record) => guard(() => real.create(record)),
    update: (record, version) => guard(() => real.update(record, version)),
  };
  const events: string[] = [];
  const elector = new LeaseElector(
    store,
    identity,
    TIMING,
    {
      onStartedLeading: (takeover) => events.push(takeover ? 'takeover' : 'leading'),
      onStoppedLeading: () => events.push('stopped'),
    },
    log,
  );
  electors.push(elector);
  elector.start();
  return {
    elector,
    events,
    cutOff: () => {
      cut = true;
    },
  };
}

function lease() {
  const stored = fake?.get('Lease', NAMESPACE, LEASE) as { spec?: Record<string, unknown> } | undefined;
  return stored?.spec ?? {};
}

describe('hub leader election on a Lease', () => {
  it('makes exactly one of two replicas leader and names it in the Lease', async () => {
    const a = await replica('hub-a');
    const b = await replica('hub-b');
    await until(() => a.elector.isLeader || b.elector.isLeader, 'a leader');
    // several renewals: the standby must stay a standby while the leader renews
    await new Promise((r) => setTimeout(r, 5 * TIMING.retryPeriodMs));
    expect([a.elector.isLeader, b.elector.isLeader].filter(Boolean)).toHaveLength(1);
    const leader = a.elector.isLeader ? 'hub-a' : 'hub-b';
    expect(lease()).toMatchObject({ holderIdentity: leader, leaseDurationSeconds: 1, leaseTransitions: 0 });
    expect((a.elector.isLeader ? b : a).elector.holder).toBe(leader);
  });

  it('fails over within the lease duration when the leader dies, and the dead leader steps down by its renew deadline', async () => {
    const a = await replica('hub-a');
    await until(() => a.elector.isLeader, 'hub-a leading');
    const b = await replica('hub-b');
    await until(() => b.elector.holder === 'hub-a', 'hub-b seeing hub-a');
    const diedAt = Date.now();
    a.cutOff();
    await until(() => b.elector.isLeader, 'hub-b taking over', 5000);
    const failover = Date.now() - diedAt;
    // not before the lease ran out (judged on hub-b's clock), and not much later
    expect(failover).toBeGreaterThanOrEqual(TIMING.leaseDurationMs - TIMING.retryPeriodMs);
    expect(failover).toBeLessThan(TIMING.leaseDurationMs + 4 * TIMING.retryPeriodMs + 1000);
    expect(b.events).toEqual(['takeover']);
    expect(lease()).toMatchObject({ holderIdentity: 'hub-b', leaseTransitions: 1 });
    await until(() => a.events.includes('stopped'), 'hub-a stepping down');
    expect(a.elector.isLeader).toBe(false);
  });

  it('hands the lease over at once on a graceful stop (holder cleared)', async () => {
    const a = await replica('hub-a');
    await until(() => a.elector.isLeader, 'hub-a leading');
    const b = await replica('hub-b');
    await until(() => b.elector.holder === 'hub-a', 'hub-b seeing hub-a');
    const stoppedAt = Date.now();
    await a.elector.stop();
    expect(lease()).toMatchObject({ holderIdentity: '' });
    await until(() => b.elector.isLeader, 'hub-b taking over');
    // a released lease is free: no waiting out the lease duration
    expect(Date.now() - stoppedAt).toBeLessThan(TIMING.leaseDurationMs);
    expect(lease()).toMatchObject({ holderIdentity: 'hub-b', leaseTransitions: 1 });
  });
});
