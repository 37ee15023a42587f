// KubeCluster end to end: Perch's own list/watch client (through ResourceWatcher) against the fake API server, feeding ClusterState, asserted through what Perch actually uses: resolve() of a Falco alert,
// statuses() for readiness, and the request log for what went over the wire.

import { afterEach, describe, expect, it } from '@jest/globals';
import type { V1ContainerStatus, V1OwnerReference, V1Pod } from '@kubernetes/client-node';
import type { FalcoEvent } from '../../src/events/falco-event.js';
import { parseFalcoJson } from '../../src/events/parse-falco-json.js';
import { apiConnection } from '../../src/kube/api-connection.js';
import { fixedToken } from '../../src/kube/bearer-token.js';
import { ClusterState, type ClusterStateOptions } from '../../src/kube/cluster-state.js';
import { KubeCluster } from '../../src/kube/kube-cluster.js';
import type { Enrichment } from '../../src/kube/pod-context.js';
import type { WatcherStatus } from '../../src/kube/resource-watcher.js';
import { createLogger } from '../../src/logging/logger.js';
import { FakeKubeApi, type RecordedRequest } from '../fakes/fake-kube-api.js';
import { makeContainer, makePod, makeRestrictedPod } from '../fixtures/pods.js';

const TOKEN = 'perch-test-token';
const NODE = 'node-a';
const FIELD_SELECTOR = `spec.nodeName=${NODE}`;
const BACKOFF = { initialMs: 20, maxMs: 200 };
const WAIT_MS = 5000;

// ---- container ids and alerts ----------------------------------------------------------------------------

/** A 64-hex-char container id made of one repeated byte, distinct per test object. */
const fullId = (byte: string): string => byte.repeat(32);
const shortId = (id: string): string => id.slice(0, 12);

const ID = {
  web: fullId('a1'),
  sandboxed: fullId('b2'),
  otherNode: fullId('c3'),
  late: fullId('d4'),
  lateRestarted: fullId('d5'),
  doomed: fullId('e6'),
  offline: fullId('f7'),
  keep: fullId('17'),
  gone: fullId('28'),
  fresh: fullId('39'),
  payments: fullId('4a'),
  nightly: fullId('5b'),
};

/** A container alert the way Falco ≥ 0.41 emits it: the 12-char container.id plus the pod's name. */
function alertFor(containerFullId: string, namespace: string, pod: string): FalcoEvent {
  return parseFalcoJson(
    JSON.stringify({
      hostname: NODE,
      output: `09:15:02.123456789: Notice A shell was spawned in a container (container_id=${shortId(containerFullId)})`,
      output_fields: {
        'container.id': shortId(containerFullId),
        'k8s.ns.name': namespace,
        'k8s.pod.name': pod,
        'proc.name': 'sh',
      },
      priority: 'Notice',
      rule: 'Terminal shell in container',
      source: 'syscall',
      tags: ['container', 'shell'],
      time: '2026-01-01T09:15:02.123456789Z',
    }),
  );
}

function containerStatus(
  id: string,
  options: { name?: string; previousId?: string; restartCount?: number } = {},
): V1ContainerStatus {
  const name = options.name ?? 'app';
  return {
    name,
    image: `registry.example/${name}:1.0`,
    imageID: `registry.example/${name}@sha256:${'0'.repeat(64)}`,
    containerID: `containerd://${id}`,
    ready: true,
    restartCount: options.restartCount ?? 0,
    state: { running: { startedAt: new Date('2026-01-01T09:00:00Z') } },
    ...(options.previousId
      ? { lastState: { terminated: { containerID: `containerd://${options.previousId}`, exitCode: 137 } } }
      : {}),
  };
}

const replicaSetOwner = (name: string): V1OwnerReference => ({
  apiVersion: 'apps/v1',
  kind: 'ReplicaSet',
  name,
  uid: `uid-rs-${name}`,
  controller: true,
  blockOwnerDeletion: true,
});

/** A Deployment's pod: owned by `<deployment>-<hash>`, labelled with the hash, running `id`. */
function deploymentPod(
  name: string,
  deployment: string,
  hash: string,
  id: string,
  namespace = 'shop',
): V1Pod {
  return makeRestrictedPod({
    name,
    namespace,
    nodeName: NODE,
    labels: { app: deployment, 'pod-template-hash': hash },
    ownerReferences: [replicaSetOwner(`${deployment}-${hash}`)],
    status: { phase: 'Running', containerStatuses: [containerStatus(id)] },
  });
}

/** A bare pod on `node` running `id`. */
function barePod(name: string, id: string, node = NODE, namespace = 'default'): V1Pod {
  return makePod({
    name,
    namespace,
    nodeName: node,
    status: { phase: 'Running', containerStatuses: [containerStatus(id)] },
  });
}

// ---- waiting ------------------------------------------------------------------------------------------------

/**
 * Resolves with the first truthy value of `probe`, checked now and then every few milliseconds (statuses and the
 * cache change on network events, not on anything the test can await); rejects with `what` after the timeout.
 */
function waitFor<T>(
  probe: () => T | undefined | null | false,
  what: string,
  timeoutMs = WAIT_MS,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const check = () => {
      let value: T | undefined | null | false;
      try {
        value = probe();
      } catch (err) {
        clearInterval(timer);
        reject(err);
        return;
      }
      if (value) {
        clearInterval(timer);
        resolve(value);
      } else if (Date.now() - started > timeoutMs) {
        clearInterval(timer);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }
    };
    const timer = setInterval(check, 5);
    check();
  });
}

// ---- per-test setup -----------------------------------------------------------------------------------------

interface LogLine {
  level: string;
  msg: string;
  resource?: string;
  problem?: string;
  [key: string]: unknown;
}

interface Harness {
  fake: FakeKubeApi;
  state: ClusterState;
  cluster: KubeCluster;
  logs: LogLine[];
  restarts: string[];
  /** The status of one watched resource. */
  status(resource: string): WatcherStatus;
  resolve(containerFullId: string, namespace: string, pod: string): Enrichment | undefined;
  /** Waits until the alert resolves by container id, and returns the enrichment. */
  resolved(containerFullId: string, namespace: string, pod: string): Promise<Enrichment>;
  livePods(): string[];
}

interface HarnessOptions {
  watchNamespaces?: boolean;
  watchOwners?: boolean;
  state?: ClusterStateOptions;
  /** Runs against the fake before the cluster starts (objects, faults). */
  seed?: (fake: FakeKubeApi) => void;
  /** Default true: wait until every watched resource reports synced without a problem. */
  waitForSync?: boolean;
}

const running: { cluster?: KubeCluster; fake: FakeKubeApi }[] = [];

afterEach(async () => {
  for (const { cluster, fake } of running.splice(0)) {
    await cluster?.stop();
    await fake.stop();
  }
});

async function startCluster(options: HarnessOptions = {}): Promise<Harness> {
  const fake = new FakeKubeApi({ token: TOKEN });
  const entry: { cluster?: KubeCluster; fake: FakeKubeApi } = { fake };
  running.push(entry);
  const url = await fake.start();
  options.seed?.(fake);

  const connection = apiConnection({
    server: url,
    tls: {},
    auth: { kind: 'bearer', token: fixedToken(TOKEN) },
  });
  const logs: LogLine[] = [];
  const log = createLogger('info', { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) });
  const state = new ClusterState({ nodeName: NODE, ...options.state });
  const restarts: string[] = [];
  const cluster = new KubeCluster(
    connection,
    state,
    {
      nodeName: NODE,
      watchNamespaces: options.watchNamespaces ?? false,
      watchOwners: options.watchOwners ?? false,
      backoff: BACKOFF,
      onRestart: (resource) => restarts.push(resource),
    },
    log,
  );
  entry.cluster = cluster;

  const status = (resource: string): WatcherStatus => {
    const found = cluster.statuses().find((s) => s.resource === resource);
    if (!found) throw new Error(`${resource} is not watched`);
    return found.status;
  };
  const resolve = (id: string, namespace: string, pod: string) => state.resolve(alertFor(id, namespace, pod));
  const harness: Harness = {
    fake,
    state,
    cluster,
    logs,
    restarts,
    status,
    resolve,
    resolved: (id, namespace, pod) =>
      waitFor(
        () => {
          const enrichment = resolve(id, namespace, pod);
          return enrichment?.outcome === 'container_id' ? enrichment : undefined;
        },
        `an alert from container ${shortId(id)} (${namespace}/${pod}) to resolve`,
      ),
    livePods: () =>
      state.pods
        .pods()
        .map((p) => `${p.namespace}/${p.name}`)
        .sort(),
  };

  // Resolves once every watcher has listed and opened its watch (or failed to).
  await cluster.start();
  if (options.waitForSync ?? true) {
    await waitFor(
      () => cluster.statuses().every((s) => s.status.synced && !s.status.problem),
      'every watched resource to sync',
    );
  }
  return harness;
}

const isPodList = (r: RecordedRequest) => r.resource === 'pods' && r.verb === 'list';
const isPodWatch = (r: RecordedRequest) => r.resource === 'pods' && r.verb === 'watch';
const warnings = (logs: readonly LogLine[], resource: string) =>
  logs.filter((l) => l.level === 'warn' && l.resource === resource);
const recoveries = (logs: readonly LogLine[], resource: string) =>
  logs.filter((l) => l.msg === 'watch recovered' && l.resource === resource);

/** The objects most tests start from: two pods and a RuntimeClass on node-a, one pod on node-b. */
function seedNode(fake: FakeKubeApi): void {
  fake.upsert('runtimeclasses', { metadata: { name: 'gvisor' }, handler: 'runsc' });
  fake.upsert('pods', deploymentPod('web-7d9f8b6c5-x2x7q', 'web', '7d9f8b6c5', ID.web));
  fake.upsert(
    'pods',
    makePod({
      name: 'sandboxed-0',
      namespace: 'shop',
      nodeName: NODE,
      containers: [makeContainer('app', { securityContext: { privileged: true } })],
      spec: { runtimeClassName: 'gvisor' },
      status: { phase: 'Running', containerStatuses: [containerStatus(ID.sandboxed)] },
    }),
  );
  fake.upsert('pods', barePod('elsewhere-0', ID.otherNode, 'node-b', 'shop'));
}

// ---- tests --------------------------------------------------------------------------------------------------

describe('KubeCluster against the fake API server', () => {
  it('initial sync: lists this node’s pods and the RuntimeClasses, and alerts resolve with full context', async () => {
    const h = await startCluster({ seed: seedNode });

    expect(h.livePods()).toEqual(['shop/sandboxed-0', 'shop/web-7d9f8b6c5-x2x7q']);
    expect([...h.state.runtimeClasses.keys()]).toEqual(['gvisor']);

    const web = h.resolve(ID.web, 'shop', 'web-7d9f8b6c5-x2x7q');
    expect(web).toMatchObject({
      outcome: 'container_id',
      pod: {
        namespace: 'shop',
        pod: 'web-7d9f8b6c5-x2x7q',
        node: NODE,
        workload: { kind: 'Deployment', name: 'web' },
        isolation: 'container',
        posture: { level: 'restricted', violations: [] },
        container: { name: 'app', kind: 'container', image: 'registry.example/app:1.0' },
      },
    });
    expect(web?.pod).not.toHaveProperty('runtimeClass');
    expect(web?.pod).not.toHaveProperty('handler');
    expect(web?.pod).not.toHaveProperty('deleted');
    expect(web?.pod?.container).not.toHaveProperty('previous');

    expect(h.resolve(ID.sandboxed, 'shop', 'sandboxed-0')).toMatchObject({
      outcome: 'container_id',
      pod: {
        pod: 'sandboxed-0',
        workload: { kind: 'Pod', name: 'sandboxed-0' },
        runtimeClass: 'gvisor',
        handler: 'runsc',
        isolation: 'sandbox',
        posture: { level: 'privileged' },
      },
    });
    // the node-b pod was never sent: neither its container id nor its name resolves
    expect(h.resolve(ID.otherNode, 'shop', 'elsewhere-0')).toBeUndefined();

    for (const resource of ['pods', 'runtimeclasses']) {
      expect(h.status(resource)).toEqual({ synced: true, lastSyncMs: expect.any(Number), restarts: 0 });
    }
    expect(h.cluster.statuses().map((s) => [s.resource, s.required])).toEqual([
      ['pods', true],
      ['runtimeclasses', true],
    ]);

    const [list, ...moreLists] = h.fake.requestsFor('pods', 'list');
    expect(moreLists).toHaveLength(0);
    expect(list).toMatchObject({
      path: '/api/v1/pods',
      query: { fieldSelector: FIELD_SELECTOR },
      headers: { authorization: `Bearer ${TOKEN}` },
      status: 200,
    });
    const watch = await h.fake.waitForRequest(isPodWatch);
    expect(watch).toMatchObject({
      path: '/api/v1/pods',
      query: {
        watch: 'true',
        fieldSelector: FIELD_SELECTOR,
        resourceVersion: h.fake.resourceVersion,
        allowWatchBookmarks: 'true',
      },
      status: 200,
    });
    const classWatch = await h.fake.waitForRequest(
      (r) => r.resource === 'runtimeclasses' && r.verb === 'watch',
    );
    expect(classWatch.query).not.toHaveProperty('fieldSelector');
    expect(warnings(h.logs, 'pods')).toEqual([]);
  });

  it('picks up a pod added after start, and a container restart keeps the old id resolvable as previous', async () => {
    const h = await startCluster({ seed: seedNode });
    expect(h.resolve(ID.late, 'default', 'late-0')).toBeUndefined();

    h.fake.upsert('pods', barePod('late-0', ID.late));
    const added = await h.resolved(ID.late, 'default', 'late-0');
    expect(added.pod).toMatchObject({ pod: 'late-0', container: { name: 'app' } });
    expect(added.pod?.container).not.toHaveProperty('previous');

    // the runtime restarted the container: new id, the old one moves to lastState.terminated
    h.fake.upsert(
      'pods',
      makePod({
        name: 'late-0',
        nodeName: NODE,
        status: {
          phase: 'Running',
          containerStatuses: [containerStatus(ID.lateRestarted, { previousId: ID.late, restartCount: 1 })],
        },
      }),
    );
    const current = await h.resolved(ID.lateRestarted, 'default', 'late-0');
    expect(current.pod).toMatchObject({ pod: 'late-0', container: { name: 'app', kind: 'container' } });
    expect(current.pod?.container).not.toHaveProperty('previous');
    // an alert raised by the previous incarnation, delivered after the restart
    expect(h.resolve(ID.late, 'default', 'late-0')).toMatchObject({
      outcome: 'container_id',
      pod: { pod: 'late-0', container: { name: 'app', previous: true } },
    });

    // both changes arrived over the one watch: no relist, no restart
    expect(h.fake.requestsFor('pods', 'list')).toHaveLength(1);
    expect(h.status('pods').restarts).toBe(0);
  });

  it('keeps a deleted pod resolvable (marked deleted) for late alerts during the grace period', async () => {
    let now = Date.now();
    const h = await startCluster({
      state: { deletedGraceMs: 60_000, now: () => now },
      seed: (fake) => fake.upsert('pods', barePod('doomed-0', ID.doomed)),
    });
    expect(h.resolve(ID.doomed, 'default', 'doomed-0')?.pod).not.toHaveProperty('deleted');
    // no RuntimeClass exists: an empty list with an open watch is a completed sync too (readiness relies on it)
    expect(h.state.runtimeClasses.size).toBe(0);
    expect(h.status('runtimeclasses')).toMatchObject({ synced: true, restarts: 0 });

    h.fake.remove('pods', 'default', 'doomed-0');
    await waitFor(() => h.livePods().length === 0, 'the DELETED event to reach the cache');

    now += 59_000; // the alert was buffered by Falco for almost a minute
    expect(h.resolve(ID.doomed, 'default', 'doomed-0')).toMatchObject({
      outcome: 'container_id',
      pod: { pod: 'doomed-0', deleted: true, container: { name: 'app' } },
    });
    expect(h.state.pods.size).toMatchObject({ live: 0, deleted: 1 });

    now += 1_000; // grace period over
    expect(h.resolve(ID.doomed, 'default', 'doomed-0')).toBeUndefined();
    expect(h.state.pods.size).toMatchObject({ live: 0, deleted: 0 });
  });

  it('serves the cache while the API server is down and resumes from the last resourceVersion without a relist', async () => {
    const h = await startCluster({ seed: seedNode });
    // the watcher's position: the list's RV (nothing changed since)
    const lastRv = h.fake.resourceVersion;
    expect((await h.fake.waitForRequest(isPodWatch)).query.resourceVersion).toBe(lastRv);

    await h.fake.down();
    const problem = await waitFor(() => h.status('pods').problem, 'the pods watch to report a problem');
    expect(problem.kind).toBe('unreachable');
    expect(problem.message).toContain('pods');
    // wait for a failed reconnect too, so the outage is seen by a restarted watcher and not just the dropped stream
    await waitFor(
      () => h.status('pods').restarts >= 1 && h.status('pods').problem?.kind === 'unreachable',
      'a reconnect attempt to fail while the server is down',
    );
    expect(h.status('pods').synced).toBe(true); // served from cache
    // a reconnect attempt that cannot connect is not a recovery
    expect(recoveries(h.logs, 'pods')).toEqual([]);
    expect(h.resolve(ID.web, 'shop', 'web-7d9f8b6c5-x2x7q')).toMatchObject({
      outcome: 'container_id',
      pod: { workload: { kind: 'Deployment', name: 'web' } },
    });

    // the API server records the change while Perch cannot see it
    h.fake.upsert('pods', barePod('offline-0', ID.offline));
    expect(h.resolve(ID.offline, 'default', 'offline-0')).toBeUndefined();

    const mark = h.fake.mark();
    await h.fake.up();
    const resumed = await h.fake.waitForRequest((r) => isPodWatch(r) && r.status === 200, { since: mark });
    expect(resumed.query).toMatchObject({ resourceVersion: lastRv, fieldSelector: FIELD_SELECTOR });

    await h.resolved(ID.offline, 'default', 'offline-0'); // replayed from the server's history
    await waitFor(() => !h.status('pods').problem, 'the pods problem to clear');
    expect(h.status('pods')).toMatchObject({ synced: true });
    expect(h.status('pods').restarts).toBeGreaterThanOrEqual(1);
    expect(h.restarts).toContain('pods');
    // the resume was a watch from lastRv: no pod list since the first one
    expect(h.fake.requestsSince(mark).filter(isPodList)).toEqual([]);
    expect(h.fake.requestsFor('pods', 'list')).toHaveLength(1);
    expect(h.livePods()).toEqual(['default/offline-0', 'shop/sandboxed-0', 'shop/web-7d9f8b6c5-x2x7q']);
    // the RuntimeClass watch came back as well
    await waitFor(() => !h.status('runtimeclasses').problem, 'the runtimeclasses problem to clear');
    // each distinct problem (dropped stream, refused connection) logged once, however many retries; one recovery
    const warned = warnings(h.logs, 'pods');
    expect(warned.map((l) => l.problem)).toContain('unreachable');
    expect(new Set(warned.map((l) => l.msg)).size).toBe(warned.length);
    expect(recoveries(h.logs, 'pods')).toHaveLength(1);
  });

  it('relists after a 410 and drops a pod deleted while the watch was expired', async () => {
    let now = Date.now();
    const h = await startCluster({
      state: { deletedGraceMs: 60_000, now: () => now },
      seed: (fake) => {
        fake.upsert('pods', barePod('keep-0', ID.keep));
        fake.upsert('pods', barePod('gone-0', ID.gone));
      },
    });
    expect(h.livePods()).toEqual(['default/gone-0', 'default/keep-0']);

    const mark = h.fake.mark();
    expect(h.fake.expireWatches('pods')).toBe(1);
    // Between the ERROR 410 and the relist no pod watch is open, so these changes never arrive as events.
    h.fake.remove('pods', 'default', 'gone-0');
    h.fake.upsert('pods', barePod('fresh-0', ID.fresh));

    const relist = await h.fake.waitForRequest(isPodList, { since: mark });
    expect(relist).toMatchObject({ query: { fieldSelector: FIELD_SELECTOR }, status: 200 });
    const rewatch = await h.fake.waitForRequest(isPodWatch, { since: relist.seq });
    expect(rewatch.query.resourceVersion).toBe(h.fake.resourceVersion);

    await waitFor(
      () => h.livePods().join() === 'default/fresh-0,default/keep-0',
      'the relist to replace the cache',
    );
    await h.resolved(ID.fresh, 'default', 'fresh-0');
    // the relist's implicit delete keeps the pod around for late alerts, like a DELETED event
    expect(h.resolve(ID.gone, 'default', 'gone-0')).toMatchObject({ pod: { pod: 'gone-0', deleted: true } });
    now += 60_000;
    expect(h.resolve(ID.gone, 'default', 'gone-0')).toBeUndefined();

    // the 410 is handled inside the list/watch loop: no error surfaced, no restart, just the relist logged
    expect(h.status('pods')).toMatchObject({ synced: true, restarts: 0 });
    expect(h.status('pods').problem).toBeUndefined();
    expect(h.logs).toContainEqual(
      expect.objectContaining({ level: 'info', resource: 'pods', msg: 'relisted after the watch expired' }),
    );
    expect(warnings(h.logs, 'pods')).toEqual([]);
  });

  it('reports a 401 on the watch as unauthorized and recovers once the token is accepted again', async () => {
    const h = await startCluster({ seed: seedNode });

    h.fake.setToken('other');
    const mark = h.fake.mark();
    h.fake.closeWatches('pods'); // the watch reconnects with a token the server no longer accepts
    await h.fake.waitForRequest((r) => isPodWatch(r) && r.status === 401, { since: mark });
    const problem = await waitFor(
      () => (h.status('pods').problem?.kind === 'unauthorized' ? h.status('pods').problem : undefined),
      'the pods watch to report unauthorized',
    );
    expect(problem?.message).toContain('(401) while watching pods');
    expect(h.resolve(ID.web, 'shop', 'web-7d9f8b6c5-x2x7q')?.outcome).toBe('container_id');
    expect(h.status('runtimeclasses').problem).toBeUndefined(); // its watch was not interrupted
    await waitFor(() => h.status('pods').restarts >= 2, 'two rejected reconnects');
    expect(h.status('pods').problem?.kind).toBe('unauthorized');
    expect(recoveries(h.logs, 'pods')).toEqual([]);

    h.fake.setToken(TOKEN);
    const restored = h.fake.mark();
    await h.fake.waitForRequest((r) => isPodWatch(r) && r.status === 200, { since: restored });
    h.fake.upsert('pods', barePod('after-401', ID.late));
    await h.resolved(ID.late, 'default', 'after-401');
    expect(h.status('pods').problem).toBeUndefined();
    expect(h.status('pods').restarts).toBeGreaterThanOrEqual(1);
    expect(h.fake.requestsFor('pods', 'list')).toHaveLength(1); // resumed, not relisted
    expect(warnings(h.logs, 'pods')).toEqual([
      expect.objectContaining({ problem: 'unauthorized', msg: problem?.message }),
    ]);
    expect(recoveries(h.logs, 'pods')).toHaveLength(1);
  });

  it('reports a 403 on the first list as forbidden with the Status message and recovers on its own', async () => {
    const h = await startCluster({
      seed: (fake) => {
        seedNode(fake);
        fake.failNext('pods', 403, 3, { verb: 'list' });
      },
      waitForSync: false,
    });

    const problem = await waitFor(() => h.status('pods').problem, 'the pods list to report a problem');
    expect(problem.kind).toBe('forbidden');
    expect(problem.message).toContain('list and watch pods');
    expect(problem.message).toContain(
      'pods is forbidden: User "system:serviceaccount:perch:perch" cannot list resource "pods" in API group "" at the cluster scope',
    );
    expect(h.status('pods').synced).toBe(false);
    expect(h.resolve(ID.web, 'shop', 'web-7d9f8b6c5-x2x7q')).toBeUndefined();

    await h.resolved(ID.web, 'shop', 'web-7d9f8b6c5-x2x7q');
    await waitFor(() => h.status('pods').synced && !h.status('pods').problem, 'pods to sync');
    expect(h.status('pods').restarts).toBe(3);
    expect(h.restarts.filter((r) => r === 'pods')).toHaveLength(3);
    expect(h.fake.requestsFor('pods', 'list').map((r) => r.status)).toEqual([403, 403, 403, 200]);
    expect(h.status('runtimeclasses')).toMatchObject({ synced: true, restarts: 0 });
    // one warning for the three identical failures
    expect(warnings(h.logs, 'pods')).toEqual([
      expect.objectContaining({ problem: 'forbidden', msg: problem.message }),
    ]);
    expect(recoveries(h.logs, 'pods')).toHaveLength(1);
  });

  it('with namespaces and owners watched: namespace enforce level and Deployment via the ReplicaSet', async () => {
    const h = await startCluster({
      watchNamespaces: true,
      watchOwners: true,
      seed: (fake) => {
        fake.upsert('runtimeclasses', { metadata: { name: 'gvisor' }, handler: 'runsc' });
        fake.upsert('namespaces', {
          metadata: { name: 'shop', labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } },
        });
        fake.upsert('namespaces', { metadata: { name: 'batch' } });
        fake.upsert('replicasets', {
          metadata: {
            name: 'payments-5f6d7',
            namespace: 'shop',
            ownerReferences: [
              { apiVersion: 'apps/v1', kind: 'Deployment', name: 'payments', uid: 'uid-d', controller: true },
            ],
          },
        });
        fake.upsert('jobs', {
          metadata: {
            name: 'nightly-manual',
            namespace: 'batch',
            ownerReferences: [
              { apiVersion: 'batch/v1', kind: 'CronJob', name: 'nightly', uid: 'uid-cj', controller: true },
            ],
          },
        });
        // no pod-template-hash label: only the ReplicaSet's owner says which Deployment this is
        fake.upsert(
          'pods',
          makeRestrictedPod({
            name: 'payments-5f6d7-abcde',
            namespace: 'shop',
            nodeName: NODE,
            ownerReferences: [replicaSetOwner('payments-5f6d7')],
            status: { phase: 'Running', containerStatuses: [containerStatus(ID.payments)] },
          }),
        );
        fake.upsert(
          'pods',
          makePod({
            name: 'nightly-manual-q8z4k',
            namespace: 'batch',
            nodeName: NODE,
            ownerReferences: [
              { apiVersion: 'batch/v1', kind: 'Job', name: 'nightly-manual', uid: 'uid-j', controller: true },
            ],
            status: { phase: 'Running', containerStatuses: [containerStatus(ID.nightly)] },
          }),
        );
      },
    });

    expect(h.cluster.statuses().map((s) => [s.resource, s.required, s.status.synced])).toEqual([
      ['pods', true, true],
      ['runtimeclasses', true, true],
      ['namespaces', false, true],
      ['replicasets', false, true],
      ['jobs', false, true],
    ]);
    expect(h.resolve(ID.payments, 'shop', 'payments-5f6d7-abcde')).toMatchObject({
      outcome: 'container_id',
      pod: {
        workload: { kind: 'Deployment', name: 'payments' },
        posture: { level: 'restricted', namespaceEnforce: 'restricted' },
      },
    });
    const nightly = h.resolve(ID.nightly, 'batch', 'nightly-manual-q8z4k');
    expect(nightly?.pod?.workload).toEqual({ kind: 'CronJob', name: 'nightly' });
    expect(nightly?.pod?.posture).not.toHaveProperty('namespaceEnforce');

    // a namespace relabelled through the watch invalidates the pod contexts already built
    h.fake.upsert('namespaces', {
      metadata: { name: 'shop', labels: { 'pod-security.kubernetes.io/enforce': 'baseline' } },
    });
    await waitFor(
      () =>
        h.resolve(ID.payments, 'shop', 'payments-5f6d7-abcde')?.pod?.posture.namespaceEnforce === 'baseline',
      'the namespace label change to reach the pod context',
    );
    // and a ReplicaSet that loses its owner falls back to the ReplicaSet itself
    h.fake.upsert('replicasets', { metadata: { name: 'payments-5f6d7', namespace: 'shop' } });
    await waitFor(
      () => h.resolve(ID.payments, 'shop', 'payments-5f6d7-abcde')?.pod?.workload.kind === 'ReplicaSet',
      'the ReplicaSet change to reach the pod context',
    );
    expect(h.resolve(ID.payments, 'shop', 'payments-5f6d7-abcde')?.pod?.workload).toEqual({
      kind: 'ReplicaSet',
      name: 'payments-5f6d7',
    });
  });
});
