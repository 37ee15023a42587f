// The hub with real processes: agents on three nodes forwarding to one hub, and two hubs failing
// over on a Lease of the fake API server.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { deliveredIds, idAlert, metric, post, sleep } from '../crash/crash-harness.js';
import { FakeKubeApi } from '../fakes/fake-kube-api.js';
import { HttpReceiver } from '../fakes/http-receiver.js';
import { makeContainer, makePod } from '../fixtures/pods.js';
import { fakeKubeconfig } from '../helpers/fake-kubeconfig.js';
import { ReadyProxy, type Started, startPerch, writeAgentConfig } from '../helpers/hub-cluster.js';
import { until } from '../helpers/until.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'perch-hub-e2e-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function track(started: Started): Started {
  cleanup.push(() => {
    started.perch.child.kill('SIGKILL');
    return started.perch.exited;
  });
  return started;
}

const NODES = ['node-1', 'node-2', 'node-3'];
const HASH = '7c9d8b6f4';
const podName = (i: number) => `payments-${HASH}-pod${i}`;
const containerId = (i: number) => `${String(i).repeat(12)}${'a'.repeat(52)}`;

/** `kubectl get pods -o json` of a cluster where the payments Deployment has one pod on each node. */
function writePodsDump(dir: string): string {
  const items = NODES.map((node, i) => ({
    ...makePod({
      name: podName(i + 1),
      namespace: 'payments',
      nodeName: node,
      labels: { app: 'payments', 'pod-template-hash': HASH },
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          name: `payments-${HASH}`,
          uid: 'rs-1',
          controller: true,
        },
      ],
      containers: [makeContainer('app', { image: 'registry.example/payments:1.4' })],
    }),
    status: {
      phase: 'Running',
      containerStatuses: [
        {
          name: 'app',
          containerID: `containerd://${containerId(i + 1)}`,
          image: 'registry.example/payments:1.4',
          imageID: '',
          ready: true,
          restartCount: 0,
        },
      ],
    },
  }));
  const path = join(dir, 'pods.json');
  writeFileSync(path, JSON.stringify({ apiVersion: 'v1', kind: 'List', items }));
  return path;
}

/** The same detection (a shell in the payments container) on node i, s ms from now. */
function shellAlert(i: number, s: number): string {
  return JSON.stringify({
    hostname: NODES[i - 1],
    output: `Notice A shell was spawned in a container (container_id=${containerId(i).slice(0, 12)} repeat=${s})`,
    priority: 'Warning',
    rule: 'Terminal shell in container',
    source: 'syscall',
    tags: ['container', 'shell'],
    time: new Date(Date.now() + s)
      .toISOString()
      .replace('Z', '000000Z')
      .replace(/\.(\d{3})000000Z$/, '.$1000000Z'),
    output_fields: {
      'container.id': containerId(i).slice(0, 12),
      'k8s.ns.name': 'payments',
      'k8s.pod.name': podName(i),
      'proc.cmdline': 'sh -i',
    },
  });
}

describe('hub: three nodes, one cluster view', () => {
  it('makes the same detection in three pods of one Deployment on three nodes one incident and one digest', async () => {
    const dir = tempDir();
    const receiver = await HttpReceiver.start();
    cleanup.push(() => receiver.stop());
    const hubConfig = join(dir, 'hub.yaml');
    writeFileSync(
      hubConfig,
      `log: { level: info }
kubernetes: { enabled: false }
server: { shutdownGrace: 5s }
pipeline: { allowedLateness: 1s }
rules:
  dedup: { window: 4s }
hub:
  leaderElection: { enabled: false }
sinks:
  hook:
    type: webhook
    url: ${receiver.url}/hook
    rateLimit: { perSecond: 1000, burst: 1000 }
`,
    );
    const hub = track(await startPerch(['hub', '-c', hubConfig, '--listen', '127.0.0.1:0']));
    const pods = writePodsDump(dir);
    const agents = await Promise.all(
      NODES.map(async (node, i) =>
        track(
          await startPerch([
            'run',
            '-c',
            writeAgentConfig({ dir, name: `agent-${i + 1}`, node, hubUrl: hub.url, podsFile: pods }),
          ]),
        ),
      ),
    );

    // each node sees the detection in its own pod, three times
    for (let repeat = 0; repeat < 3; repeat++)
      for (const [i, agent] of agents.entries())
        expect(await post(agent.url, [shellAlert(i + 1, repeat * 10 + i)], false)).toBe(200);

    await until(
      () => receiver.accepted().some((b) => b.includes('"type":"alert.digest"')),
      'the digest of the repeats',
      20_000,
    );
    const bodies = receiver.accepted();
    const ofType = (type: string) => bodies.filter((b) => b.includes(`"type":"alert.${type}"`));
    expect(ofType('event')).toHaveLength(1);
    const incidents = ofType('incident');
    expect(incidents).toHaveLength(1);
    for (let i = 1; i <= 3; i++) expect(incidents[0]).toContain(podName(i));
    expect(incidents[0]).toContain('same-rule-across-workload');
    const digests = ofType('digest');
    expect(digests).toHaveLength(1);
    const digest = JSON.parse(digests[0] as string).data;
    expect(digest).toMatchObject({ count: 8, podCount: 3 });
    // the agents' forwarding, counted where users look for it
    expect(await metric(hub.url, 'perch_hub_alerts_received_total', 'outcome="new"')).toBe(9);
    for (const agent of agents)
      expect(
        await metric(
          agent.url,
          'perch_component_sent_events_total',
          'component_kind="sink",component_id="hub"',
        ),
      ).toBe(3);
  });
});

const LEASE_DURATION_MS = 4000;
const RETRY_PERIOD_MS = 500;

function writeHubConfig(dir: string, identity: string, kubeconfig: string, receiverUrl: string): string {
  const path = join(dir, `${identity}.yaml`);
  writeFileSync(
    path,
    `log: { level: info }
kubernetes: { kubeconfig: ${kubeconfig} }
server: { shutdownGrace: 5s }
rules:
  dedup: { window: 0s }
hub:
  leaderElection:
    enabled: true
    namespace: perch
    identity: ${identity}
    leaseDuration: ${LEASE_DURATION_MS}ms
    renewDeadline: 3s
    retryPeriod: ${RETRY_PERIOD_MS}ms
sinks:
  hook:
    type: webhook
    url: ${receiverUrl}/hook
    minPriority: Notice
    rateLimit: { perSecond: 100000, burst: 10000 }
    retry: { initial: 50ms, max: 200ms }
`,
  );
  return path;
}

const isReady = (url: string) =>
  fetch(`${url}/readyz`)
    .then((r) => r.status === 200)
    .catch(() => false);

describe('hub: failover on a Lease', () => {
  it('loses no alert when the leader is killed mid-stream: the standby takes over within the lease duration', async () => {
    const dir = tempDir();
    const receiver = await HttpReceiver.start();
    cleanup.push(() => receiver.stop());
    const fake = new FakeKubeApi({ token: 'hub-token' });
    const apiUrl = await fake.start();
    cleanup.push(() => fake.stop());
    const kubeconfig = fakeKubeconfig(apiUrl, 'hub-token', dir);

    const hubA = track(
      await startPerch([
        'hub',
        '-c',
        writeHubConfig(dir, 'hub-a', kubeconfig, receiver.url),
        '--listen',
        '127.0.0.1:0',
      ]),
    );
    await until(() => isReady(hubA.url), 'hub-a leading', 15_000);
    const hubB = track(
      await startPerch([
        'hub',
        '-c',
        writeHubConfig(dir, 'hub-b', kubeconfig, receiver.url),
        '--listen',
        '127.0.0.1:0',
      ]),
    );
    const standby = await fetch(`${hubB.url}/readyz`);
    expect(standby.status).toBe(503);
    expect(await standby.text()).toContain('standby');

    const service = new ReadyProxy(() => [hubA, hubB].map((h) => Number(new URL(h.url).port)));
    const serviceUrl = await service.start();
    cleanup.push(() => service.stop());
    const agents = await Promise.all(
      ['node-1', 'node-2'].map(async (node) =>
        track(
          await startPerch(['run', '-c', writeAgentConfig({ dir, name: node, node, hubUrl: serviceUrl })]),
        ),
      ),
    );

    // 2 agents × 40 batches of 5 unique Warning alerts (the agents' spool threshold), 100 ms apart
    const sent: string[] = [];
    let killedAt = 0;
    let takeover: Promise<number> | undefined;
    for (let batch = 0; batch < 40; batch++) {
      if (batch === 12) {
        hubA.perch.child.kill('SIGKILL');
        killedAt = Date.now();
        takeover = readyAt(hubB.url);
      }
      for (const [a, agent] of agents.entries()) {
        const ids = Array.from({ length: 5 }, (_, i) => `a${a}-b${batch}-i${i}`);
        expect(
          await post(
            agent.url,
            ids.map((id) => idAlert(id)),
            true,
          ),
        ).toBe(200);
        sent.push(...ids);
      }
      await sleep(100);
    }
    const takeoverMs = ((await takeover) ?? Number.NaN) - killedAt;

    await until(
      () => deliveredIds(receiver.accepted()).size >= sent.length,
      'every alert at the receiver',
      40_000,
    );
    const delivered = deliveredIds(receiver.accepted());
    const lost = sent.filter((id) => !delivered.has(id));
    const duplicated = [...delivered].filter(([, n]) => n > 1).map(([id]) => id);
    process.stderr.write(
      `hub failover: ${sent.length} sent, ${lost.length} lost, ${duplicated.length} delivered twice, standby ready ${takeoverMs} ms after the kill\n`,
    );
    expect(lost).toEqual([]);
    expect(takeoverMs).toBeLessThanOrEqual(LEASE_DURATION_MS + 2 * RETRY_PERIOD_MS + 1000);
    // A copy delivered twice can only be one the killed leader delivered but had not acknowledged
    // yet: its first delivery is before the kill, and both carry the same webhook-id.
    for (const id of duplicated) {
      const copies = receiver.requests.filter((r) => r.answer === 200 && r.body.includes(`id=${id} `));
      expect(copies).toHaveLength(2);
      expect(copies[0]?.atMs ?? Number.POSITIVE_INFINITY).toBeLessThanOrEqual(killedAt);
      expect(copies[1]?.headers['webhook-id']).toBe(copies[0]?.headers['webhook-id']);
    }
    expect(await metric(hubB.url, 'perch_hub_leader')).toBe(1);
    expect(await metric(hubB.url, 'perch_hub_leadership_changes_total', 'change="takeover"')).toBe(1);
    const lease = fake.get('Lease', 'perch', 'perch-hub') as { spec?: Record<string, unknown> } | undefined;
    expect(lease?.spec).toMatchObject({ holderIdentity: 'hub-b', leaseTransitions: 1 });
  });
});

/** Resolves with the time the hub's /readyz first answers 200 (polled every 50 ms). */
async function readyAt(url: string): Promise<number> {
  while (!(await isReady(url))) await sleep(50);
  return Date.now();
}
