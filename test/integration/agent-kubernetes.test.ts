import { afterEach, describe, expect, it } from '@jest/globals';
import { MAX_HOLD_MS } from '../../src/sources/http-source.js';
import { FakeKubeApi } from '../fakes/fake-kube-api.js';
import { type Harness, metricValue, startAgent } from '../helpers/agent-harness.js';
import { fakeKubeconfig } from '../helpers/fake-kubeconfig.js';
import { until } from '../helpers/until.js';

const NODE = 'node-a';
const TOKEN = 'agent-test-token';
const SHORT_ID = 'aaaabbbbcccc';

function shellPod(name: string, containerId: string, runtimeClassName?: string) {
  return {
    metadata: {
      name,
      namespace: 'payments',
      uid: `uid-${name}`,
      labels: { app: 'payments', 'pod-template-hash': '7c9d8b6f4' },
      ownerReferences: [
        {
          kind: 'ReplicaSet',
          name: 'payments-7c9d8b6f4',
          controller: true,
          apiVersion: 'apps/v1',
          uid: 'rs',
        },
      ],
    },
    spec: {
      nodeName: NODE,
      serviceAccountName: 'payments',
      ...(runtimeClassName ? { runtimeClassName } : {}),
      containers: [{ name: 'api', image: 'shop/api:1', securityContext: { privileged: true } }],
    },
    status: {
      phase: 'Running',
      containerStatuses: [{ name: 'api', image: 'shop/api:1', containerID: `containerd://${containerId}` }],
    },
  };
}

function shellAlert(containerId: string, pod: string): string {
  return JSON.stringify({
    rule: 'Terminal shell in container',
    priority: 'Notice',
    time: '2026-01-01T00:00:00.000000000Z',
    output: 'A shell was spawned',
    hostname: NODE,
    output_fields: {
      'container.id': containerId.slice(0, 12),
      'k8s.ns.name': 'payments',
      'k8s.pod.name': pod,
    },
  });
}

let fake: FakeKubeApi | undefined;
let harness: Harness | undefined;
afterEach(async () => {
  await harness?.stop();
  await fake?.stop();
  harness = undefined;
  fake = undefined;
});

/** An agent watching a fresh fake API server with no pods yet; alerts wait `pendingTimeout` for theirs. */
async function startBesideEmptyApi(
  pendingTimeout: string,
  extra: Record<string, unknown> = {},
): Promise<{ agent: Harness; api: FakeKubeApi }> {
  const api = new FakeKubeApi({ token: TOKEN });
  fake = api;
  const url = await api.start();
  const agent = await startAgent({
    nodeName: NODE,
    kubernetes: { kubeconfig: fakeKubeconfig(url, TOKEN), pendingTimeout },
    ...extra,
  });
  harness = agent;
  return { agent, api };
}

async function post(body: string): Promise<number> {
  if (!harness) throw new Error('no agent');
  const res = await fetch(`${harness.url}/`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  await res.arrayBuffer();
  return res.status;
}

describe('perch run with a Kubernetes API server', () => {
  it('enriches an alert with workload, isolation and posture from the watched pods', async () => {
    fake = new FakeKubeApi({ token: TOKEN });
    const url = await fake.start();
    const fullId = `${SHORT_ID}${'0'.repeat(52)}`;
    fake.upsert('runtimeclasses', { metadata: { name: 'gvisor' }, handler: 'runsc' });
    fake.upsert('pods', shellPod('payments-7c9d8b6f4-abcde', fullId, 'gvisor'));
    fake.upsert('pods', {
      ...shellPod('elsewhere', `${'f'.repeat(64)}`),
      spec: { nodeName: 'node-b', containers: [] },
    });
    harness = await startAgent({ nodeName: NODE, kubernetes: { kubeconfig: fakeKubeconfig(url, TOKEN) } });
    await until(() => harness?.agent.kubernetes.state.pods.size.live === 1, 'the pod list');

    expect(await post(shellAlert(fullId, 'payments-7c9d8b6f4-abcde'))).toBe(200);
    await harness.stop();
    const [alert] = harness.out.lines.map((l) => JSON.parse(l));
    expect(alert.enrichment).toMatchObject({
      outcome: 'container_id',
      pod: {
        namespace: 'payments',
        pod: 'payments-7c9d8b6f4-abcde',
        node: NODE,
        labels: { app: 'payments' },
        workload: { kind: 'Deployment', name: 'payments' },
        serviceAccount: 'payments',
        runtimeClass: 'gvisor',
        handler: 'runsc',
        isolation: 'sandbox',
        posture: { level: 'privileged' },
        container: { name: 'api', kind: 'container', image: 'shop/api:1' },
      },
    });
    const pods = fake.requestsFor('pods');
    expect(pods.length).toBeGreaterThanOrEqual(2);
    for (const req of pods) expect(req.query.fieldSelector).toBe(`spec.nodeName=${NODE}`);
  });

  it('holds an alert that arrives 500 ms before its pod and sends it enriched as late', async () => {
    const { agent, api } = await startBesideEmptyApi('3s');
    await until(
      async () =>
        (await fetch(`${agent.url}/readyz`).then((r) => r.text())).includes(
          '"name":"kubernetes pods","required":false,"up":true',
        ),
      'pods watch',
    );

    const fullId = `${SHORT_ID}${'1'.repeat(52)}`;
    expect(await post(shellAlert(fullId, 'late-pod'))).toBe(200);
    await new Promise((r) => setTimeout(r, 500));
    expect(agent.out.lines).toHaveLength(0);
    api.upsert('pods', shellPod('late-pod', fullId));
    await until(() => agent.out.lines.length === 1, 'the late alert');
    const [alert] = agent.out.lines.map((l) => JSON.parse(l));
    expect(alert.enrichment.outcome).toBe('late');
    expect(alert.enrichment.pod.pod).toBe('late-pod');
    expect(await metricValue(agent.metrics, 'perch_enrichment_total', { outcome: 'late' })).toBe(1);
  });

  it('sends an alert whose pod never appears as unresolved, and keeps accepting alerts meanwhile', async () => {
    const { agent } = await startBesideEmptyApi('300ms');
    expect(await post(shellAlert(`${'9'.repeat(64)}`, 'ghost'))).toBe(200);
    expect(
      await post(
        JSON.stringify({
          rule: 'Audit',
          priority: 'Warning',
          time: '2026-01-01T00:00:00Z',
          source: 'k8s_audit',
        }),
      ),
    ).toBe(200);
    await until(() => agent.out.lines.length === 2, 'both alerts');
    const outcomes = agent.out.lines.map((l) => JSON.parse(l).enrichment.outcome);
    expect(outcomes).toEqual(['not_applicable', 'unresolved']);
  });

  it('holds an NDJSON batch while alerts waiting for their pod fill more than half the intake buffer', async () => {
    const { agent } = await startBesideEmptyApi('1s', { pipeline: { bufferSize: 10 } });
    const ndjson = (ids: string[]) =>
      fetch(`${agent.url}/`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-ndjson' },
        body: `${ids.map((id) => shellAlert(id.repeat(64), 'ghost')).join('\n')}\n`,
      });
    // Six alerts for a pod Perch has not seen: they wait for it, taken in and not yet settled.
    const first = await ndjson(['1', '2', '3', '4', '5', '6']);
    expect(first.status).toBe(200);
    const second = ndjson(['7']);
    const answeredEarly = await Promise.race([
      second.then(() => true),
      new Promise((resolve) => setTimeout(() => resolve(false), 500)),
    ]);
    expect(answeredEarly).toBe(false);
    const metrics = agent.metrics;
    expect(await metricValue(metrics, 'perch_http_ingest_held_total', {})).toBe(1);
    // The six give up waiting for their pod (1 s), leave unresolved, and the batch is read then,
    // not when a hold runs out.
    const answeredOnRoom = await Promise.race([
      second.then(() => true),
      new Promise((resolve) => setTimeout(() => resolve(false), MAX_HOLD_MS / 2)),
    ]);
    expect(answeredOnRoom).toBe(true);
    expect((await second).status).toBe(200);
    await until(() => agent.out.lines.length === 7, 'all seven alerts');
    expect(await metricValue(metrics, 'perch_events_total', { outcome: 'shed' })).toBe(0);
  });

  it('stays ready while the API server refuses it, and says why in /readyz', async () => {
    fake = new FakeKubeApi({ token: 'a-different-token' });
    const url = await fake.start();
    harness = await startAgent({ nodeName: NODE, kubernetes: { kubeconfig: fakeKubeconfig(url, TOKEN) } });
    let body: { status: string; checks: { name: string; up: boolean; detail?: string }[] } = {
      status: '',
      checks: [],
    };
    await until(async () => {
      const res = await fetch(`${harness?.url}/readyz`);
      body = (await res.json()) as typeof body;
      return body.checks.some((c) => c.name === 'kubernetes pods' && /401/.test(c.detail ?? ''));
    }, '401 in /readyz');
    expect(body.status).toBe('ready');
    expect(body.checks.find((c) => c.name === 'kubernetes pods')?.detail).toContain('rejected Perch');
  });
});
