import { createHash } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import type { V1ContainerStatus, V1Pod, V1PodStatus, V1RuntimeClass } from '@kubernetes/client-node';
import type { FalcoEvent } from '../../src/events/falco-event.js';
import { parseFalcoJson } from '../../src/events/parse-falco-json.js';
import { ClusterState, type ClusterStateOptions } from '../../src/kube/cluster-state.js';
import type { PodContext } from '../../src/kube/pod-context.js';
import { AUDIT_ALERT_WITHOUT_OUTPUT, HOST_ALERT, INTERNAL_DROP_ALERT } from '../fixtures/falco-alerts.js';
import { makeContainer, makePod, makeRestrictedPod, type PodOptions, toJson } from '../fixtures/pods.js';

/** A deterministic 64-hex container id. */
function hexId(seed: string): string {
  return createHash('sha256').update(seed).digest('hex');
}

const short = (id: string): string => id.slice(0, 12);

function status(name: string, id: string, previousId?: string): V1ContainerStatus {
  return {
    name,
    image: `registry.example/${name}:1.0`,
    imageID: '',
    ready: true,
    restartCount: previousId ? 1 : 0,
    containerID: `containerd://${id}`,
    ...(previousId
      ? { lastState: { terminated: { exitCode: 137, containerID: `containerd://${previousId}` } } }
      : {}),
  };
}

function pod(name: string, podStatus: V1PodStatus = {}, options: PodOptions = {}): V1Pod {
  return makePod({
    name,
    namespace: 'shop',
    nodeName: 'worker-1',
    status: { phase: 'Running', ...podStatus },
    ...options,
  });
}

function runtimeClass(name: string, handler: string): V1RuntimeClass {
  return { apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass', metadata: { name }, handler };
}

/** A syscall alert with these output fields. */
function alert(fields: Record<string, string | null>): FalcoEvent {
  return parseFalcoJson(
    JSON.stringify({
      hostname: 'falco-host',
      output: 'x',
      output_fields: { 'proc.name': 'sh', ...fields },
      priority: 'Warning',
      rule: 'Terminal shell in container',
      source: 'syscall',
      tags: [],
      time: '2026-01-01T00:00:00.000000000Z',
    }),
  );
}

const byId = (id: string): FalcoEvent => alert({ 'container.id': short(id) });

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

/** Resolves and insists on a pod context. */
function contextOf(state: ClusterState, event: FalcoEvent): PodContext {
  const pod = state.resolve(event)?.pod;
  if (!pod) throw new Error('expected the alert to resolve to a pod');
  return pod;
}

const APP = hexId('app');
const SIDECAR = hexId('sidecar');
const INIT = hexId('init');
const OLD = hexId('app-before-restart');
const SANDBOX = hexId('pause');
const UNKNOWN = hexId('unknown');

function newState(options: ClusterStateOptions = {}): ClusterState {
  return new ClusterState({ nodeName: 'worker-1', ...options });
}

describe('ClusterState.resolve outcomes', () => {
  it('answers `host` for host events with the configured node name, else Falco’s hostname', () => {
    expect(newState().resolve(parseFalcoJson(HOST_ALERT))).toEqual({ outcome: 'host', node: 'worker-1' });
    expect(new ClusterState().resolve(parseFalcoJson(HOST_ALERT))).toEqual({
      outcome: 'host',
      node: 'worker-3',
    });
  });

  it('answers `not_applicable` for events naming neither a container nor a pod', () => {
    const state = newState();
    state.upsert('pods', pod('web-0', { containerStatuses: [status('app', APP)] }));
    expect(state.resolve(parseFalcoJson(AUDIT_ALERT_WITHOUT_OUTPUT))).toEqual({ outcome: 'not_applicable' });
    expect(state.resolve(parseFalcoJson(INTERNAL_DROP_ALERT))).toEqual({ outcome: 'not_applicable' });
    // `<NA>` and null fields count as absent.
    expect(
      state.resolve(alert({ 'container.id': '<NA>', 'k8s.ns.name': null, 'k8s.pod.name': null })),
    ).toEqual({ outcome: 'not_applicable' });
  });

  it('answers undefined for an unknown container or an unknown pod, so the alert can wait', () => {
    const state = newState();
    state.upsert('pods', pod('web-0', { containerStatuses: [status('app', APP)] }));
    expect(state.resolve(byId(UNKNOWN))).toBeUndefined();
    expect(state.resolve(alert({ 'k8s.ns.name': 'shop', 'k8s.pod.name': 'web-1' }))).toBeUndefined();
    expect(
      state.resolve(
        alert({ 'container.id': short(UNKNOWN), 'k8s.ns.name': 'shop', 'k8s.pod.name': 'web-1' }),
      ),
    ).toBeUndefined();
  });

  it('answers `container_id` with the whole pod context', () => {
    const state = newState();
    state.upsert(
      'pods',
      pod(
        'web-0',
        { containerStatuses: [status('app', APP), status('sidecar', SIDECAR)] },
        { containers: [makeContainer('app'), makeContainer('sidecar')], spec: { serviceAccountName: 'web' } },
      ),
    );
    expect(state.resolve(byId(APP))).toEqual({
      outcome: 'container_id',
      pod: {
        namespace: 'shop',
        pod: 'web-0',
        uid: 'uid-web-0',
        node: 'worker-1',
        labels: {},
        annotations: {},
        workload: { kind: 'Pod', name: 'web-0' },
        serviceAccount: 'web',
        isolation: 'container',
        posture: expect.objectContaining({ level: 'baseline' }),
        container: { name: 'app', kind: 'container', image: 'registry.example/app:1.0' },
      },
    });
    expect(contextOf(state, byId(SIDECAR)).container).toEqual({
      name: 'sidecar',
      kind: 'container',
      image: 'registry.example/sidecar:1.0',
    });
  });

  it('matches Falco’s 12-char container.id and its 64-char container.full_id', () => {
    const state = newState();
    state.upsert('pods', pod('web-0', { containerStatuses: [status('app', APP)] }));
    expect(state.resolve(alert({ 'container.id': short(APP) }))?.outcome).toBe('container_id');
    expect(state.resolve(alert({ 'container.id': short(APP), 'container.full_id': APP }))?.outcome).toBe(
      'container_id',
    );
    expect(contextOf(state, alert({ 'container.full_id': APP })).pod).toBe('web-0');
    // A full id sharing the 12-char prefix but differing afterwards is a different container.
    const impostor = `${APP.slice(0, 63)}${APP.endsWith('0') ? '1' : '0'}`;
    expect(
      state.resolve(alert({ 'container.id': short(APP), 'container.full_id': impostor })),
    ).toBeUndefined();
  });

  it('identifies init containers', () => {
    const state = newState();
    state.upsert(
      'pods',
      pod(
        'web-0',
        { initContainerStatuses: [status('setup', INIT)], containerStatuses: [status('app', APP)] },
        { spec: { initContainers: [makeContainer('setup')] } },
      ),
    );
    expect(contextOf(state, byId(INIT)).container).toEqual({
      name: 'setup',
      kind: 'init',
      image: 'registry.example/setup:1.0',
    });
  });

  it('still resolves the id a container had before its last restart, marked previous', () => {
    const state = newState();
    state.upsert('pods', pod('web-0', { containerStatuses: [status('app', APP, OLD)] }));
    expect(contextOf(state, byId(OLD)).container).toEqual({
      name: 'app',
      kind: 'container',
      image: 'registry.example/app:1.0',
      previous: true,
    });
    expect(contextOf(state, byId(APP)).container?.previous).toBeUndefined();
  });

  it('falls back to namespace + pod name for pod sandbox processes, without a container', () => {
    const state = newState();
    state.upsert('pods', pod('web-0', { containerStatuses: [status('app', APP)] }));
    const resolved = state.resolve(
      alert({ 'container.id': short(SANDBOX), 'k8s.ns.name': 'shop', 'k8s.pod.name': 'web-0' }),
    );
    expect(resolved?.outcome).toBe('pod_name');
    expect(resolved?.pod).toMatchObject({ namespace: 'shop', pod: 'web-0', uid: 'uid-web-0' });
    expect(resolved?.pod?.container).toBeUndefined();
    // Falco's k8smeta plugin fields work too.
    expect(state.resolve(alert({ 'k8smeta.ns.name': 'shop', 'k8smeta.pod.name': 'web-0' }))?.outcome).toBe(
      'pod_name',
    );
    // A container id match wins over the names.
    expect(
      state.resolve(alert({ 'container.id': short(APP), 'k8s.ns.name': 'shop', 'k8s.pod.name': 'web-0' }))
        ?.outcome,
    ).toBe('container_id');
  });

  it('resolves pods delivered as raw watch JSON', () => {
    const state = newState();
    state.upsert('pods', toJson(pod('web-0', { containerStatuses: [status('app', APP)] })));
    expect(contextOf(state, byId(APP)).pod).toBe('web-0');
  });
});

describe('ClusterState pod context', () => {
  it('keeps only allowlisted labels and annotations', () => {
    const state = newState({
      labelAllowlist: ['app.kubernetes.io/name', 'team', 'absent'],
      annotationAllowlist: ['owner'],
    });
    state.upsert(
      'pods',
      pod(
        'web-0',
        { containerStatuses: [status('app', APP)] },
        {
          labels: { 'app.kubernetes.io/name': 'web', team: 'payments', 'pod-template-hash': '5d8f' },
          annotations: { owner: 'alice', 'kubectl.kubernetes.io/last-applied-configuration': '{"big":1}' },
        },
      ),
    );
    const context = contextOf(state, byId(APP));
    expect(context.labels).toEqual({ 'app.kubernetes.io/name': 'web', team: 'payments' });
    expect(context.annotations).toEqual({ owner: 'alice' });
  });

  it('reports no labels or annotations without an allowlist', () => {
    const state = newState();
    state.upsert(
      'pods',
      pod(
        'web-0',
        { containerStatuses: [status('app', APP)] },
        { labels: { a: '1' }, annotations: { b: '2' } },
      ),
    );
    const context = contextOf(state, byId(APP));
    expect(context.labels).toEqual({});
    expect(context.annotations).toEqual({});
  });

  it('reflects a new pod version', () => {
    const state = newState({ labelAllowlist: ['version'] });
    state.upsert(
      'pods',
      pod('web-0', { containerStatuses: [status('app', APP)] }, { labels: { version: '1' } }),
    );
    expect(contextOf(state, byId(APP)).labels).toEqual({ version: '1' });
    state.upsert(
      'pods',
      pod('web-0', { containerStatuses: [status('app', APP)] }, { labels: { version: '2' } }),
    );
    expect(contextOf(state, byId(APP)).labels).toEqual({ version: '2' });
  });

  it('gives every alert of a container one shared, frozen enrichment, and a new one once the pod changes', () => {
    const state = newState({ labelAllowlist: ['version'] });
    const v1 = pod(
      'web-0',
      { containerStatuses: [status('app', APP), status('sidecar', SIDECAR)] },
      { labels: { version: '1' } },
    );
    state.upsert('pods', v1);
    const first = state.resolve(byId(APP));
    expect(state.resolve(byId(APP))).toBe(first);
    // The other container of the pod has its own (its container differs), the pod part is the same.
    const sidecar = state.resolve(byId(SIDECAR));
    expect(sidecar).not.toBe(first);
    expect(sidecar?.pod?.container?.name).toBe('sidecar');
    expect(sidecar?.pod?.labels).toBe(first?.pod?.labels);
    // Shared by every alert, so a sink that tried to change one would change them all: it cannot.
    const context = first?.pod as PodContext;
    expect(Object.isFrozen(first)).toBe(true);
    expect(() => {
      context.labels.version = 'tampered';
    }).toThrow(TypeError);
    expect(() => {
      context.posture.violations.push({ check: 'privileged' } as PodContext['posture']['violations'][number]);
    }).toThrow(TypeError);
    state.upsert(
      'pods',
      pod('web-0', { containerStatuses: [status('app', APP)] }, { labels: { version: '2' } }),
    );
    const second = state.resolve(byId(APP));
    expect(second).not.toBe(first);
    expect(second?.pod?.labels).toEqual({ version: '2' });
    expect(first?.pod?.labels).toEqual({ version: '1' });
  });

  it.each([
    ['no runtimeClassName', undefined, { isolation: 'container' }],
    ['runc', 'runc', { runtimeClass: 'runc', handler: 'runc', isolation: 'container' }],
    ['gVisor', 'gvisor', { runtimeClass: 'gvisor', handler: 'runsc', isolation: 'sandbox' }],
    ['Kata', 'kata-qemu', { runtimeClass: 'kata-qemu', handler: 'kata-qemu', isolation: 'vm' }],
    ['an unmapped handler', 'wasm', { runtimeClass: 'wasm', handler: 'spin', isolation: 'unknown' }],
  ] as const)('classifies isolation for %s', (_label, runtimeClassName, expected) => {
    const state = newState();
    for (const rc of [
      runtimeClass('runc', 'runc'),
      runtimeClass('gvisor', 'runsc'),
      runtimeClass('kata-qemu', 'kata-qemu'),
      runtimeClass('wasm', 'spin'),
    ]) {
      state.upsert('runtimeclasses', rc);
    }
    state.upsert(
      'pods',
      pod(
        'web-0',
        { containerStatuses: [status('app', APP)] },
        runtimeClassName ? { spec: { runtimeClassName } } : {},
      ),
    );
    const context = contextOf(state, byId(APP));
    expect({
      runtimeClass: context.runtimeClass,
      handler: context.handler,
      isolation: context.isolation,
      missingRuntimeClass: context.missingRuntimeClass,
    }).toEqual({ runtimeClass: undefined, handler: undefined, missingRuntimeClass: undefined, ...expected });
  });

  it('lets options.handlerIsolation map extra handlers, prefixes included', () => {
    const podWith = pod(
      'web-0',
      { containerStatuses: [status('app', APP)] },
      { spec: { runtimeClassName: 'micro' } },
    );
    const plain = newState();
    plain.upsert('runtimeclasses', runtimeClass('micro', 'my-microvm'));
    plain.upsert('pods', podWith);
    expect(contextOf(plain, byId(APP)).isolation).toBe('unknown');

    const mapped = newState({ handlerIsolation: { 'my-*': 'vm', '': 'unknown' } });
    mapped.upsert('runtimeclasses', runtimeClass('micro', 'my-microvm'));
    mapped.upsert('runtimeclasses', runtimeClass('gvisor', 'runsc'));
    mapped.upsert('pods', podWith);
    expect(contextOf(mapped, byId(APP))).toMatchObject({
      runtimeClass: 'micro',
      handler: 'my-microvm',
      isolation: 'vm',
    });
    // The user's map is merged over the defaults, which still apply; '' overrides the default handler.
    mapped.upsert(
      'pods',
      pod(
        'sandboxed',
        { containerStatuses: [status('app', SIDECAR)] },
        { spec: { runtimeClassName: 'gvisor' } },
      ),
    );
    expect(contextOf(mapped, byId(SIDECAR)).isolation).toBe('sandbox');
    mapped.upsert('pods', pod('default', { containerStatuses: [status('app', INIT)] }));
    expect(contextOf(mapped, byId(INIT)).isolation).toBe('unknown');
  });

  it('rebuilds the context when a missing RuntimeClass appears, changes or goes away', () => {
    const state = newState();
    state.upsert(
      'pods',
      pod('web-0', { containerStatuses: [status('app', APP)] }, { spec: { runtimeClassName: 'gvisor' } }),
    );
    const before = contextOf(state, byId(APP));
    expect(before).toMatchObject({ runtimeClass: 'gvisor', isolation: 'unknown', missingRuntimeClass: true });
    expect(before.handler).toBeUndefined();

    state.upsert('runtimeclasses', runtimeClass('gvisor', 'runsc'));
    const after = contextOf(state, byId(APP));
    expect(after).toMatchObject({ runtimeClass: 'gvisor', handler: 'runsc', isolation: 'sandbox' });
    expect(after.missingRuntimeClass).toBeUndefined();

    state.upsert('runtimeclasses', runtimeClass('gvisor', 'kata-qemu'));
    expect(contextOf(state, byId(APP))).toMatchObject({ handler: 'kata-qemu', isolation: 'vm' });

    state.remove('runtimeclasses', runtimeClass('gvisor', 'kata-qemu'));
    expect(contextOf(state, byId(APP))).toMatchObject({ isolation: 'unknown', missingRuntimeClass: true });
  });

  it('reports the namespace’s Pod Security enforce label, and follows its changes', () => {
    const state = newState();
    state.upsert('pods', pod('web-0', { containerStatuses: [status('app', APP)] }));
    expect(contextOf(state, byId(APP)).posture.namespaceEnforce).toBeUndefined();

    const namespace = (labels: Record<string, string>) => ({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'shop', labels },
    });
    state.upsert('namespaces', namespace({ 'pod-security.kubernetes.io/enforce': 'baseline' }));
    expect(contextOf(state, byId(APP)).posture.namespaceEnforce).toBe('baseline');
    // Another namespace's label does not leak.
    state.upsert('namespaces', {
      metadata: { name: 'other', labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } },
    });
    expect(contextOf(state, byId(APP)).posture.namespaceEnforce).toBe('baseline');

    state.upsert('namespaces', namespace({ 'kubernetes.io/metadata.name': 'shop' }));
    expect(contextOf(state, byId(APP)).posture.namespaceEnforce).toBeUndefined();
    state.upsert('namespaces', namespace({ 'pod-security.kubernetes.io/enforce': 'restricted' }));
    state.remove('namespaces', namespace({ 'pod-security.kubernetes.io/enforce': 'restricted' }));
    expect(contextOf(state, byId(APP)).posture.namespaceEnforce).toBeUndefined();
  });

  it('takes the Deployment behind a ReplicaSet from the watched ReplicaSets', () => {
    const state = newState();
    // No pod-template-hash label, and a name the Deployment's would not derive from: only the API knows.
    state.upsert(
      'pods',
      pod(
        'frontend-x7k2p',
        { containerStatuses: [status('app', APP)] },
        {
          ownerReferences: [
            { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'frontend-5d8f', uid: 'rs', controller: true },
          ],
        },
      ),
    );
    expect(contextOf(state, byId(APP)).workload).toEqual({ kind: 'ReplicaSet', name: 'frontend-5d8f' });

    const replicaSet = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: 'frontend-5d8f',
        namespace: 'shop',
        ownerReferences: [
          { apiVersion: 'v1', kind: 'ConfigMap', name: 'not-the-controller', uid: 'cm' },
          { apiVersion: 'apps/v1', kind: 'Deployment', name: 'storefront', uid: 'd', controller: true },
        ],
      },
    };
    // A ReplicaSet of the same name in another namespace says nothing about this pod.
    state.upsert('replicasets', { ...replicaSet, metadata: { ...replicaSet.metadata, namespace: 'other' } });
    expect(contextOf(state, byId(APP)).workload).toEqual({ kind: 'ReplicaSet', name: 'frontend-5d8f' });

    state.upsert('replicasets', replicaSet);
    expect(contextOf(state, byId(APP)).workload).toEqual({ kind: 'Deployment', name: 'storefront' });

    state.remove('replicasets', replicaSet);
    expect(contextOf(state, byId(APP)).workload).toEqual({ kind: 'ReplicaSet', name: 'frontend-5d8f' });
  });

  it('takes the CronJob behind a Job from the watched Jobs', () => {
    const state = newState();
    state.upsert(
      'pods',
      pod(
        'report-abcde',
        { containerStatuses: [status('app', APP)] },
        {
          ownerReferences: [
            { apiVersion: 'batch/v1', kind: 'Job', name: 'report', uid: 'j', controller: true },
          ],
        },
      ),
    );
    expect(contextOf(state, byId(APP)).workload).toEqual({ kind: 'Job', name: 'report' });
    state.upsert('jobs', {
      metadata: {
        name: 'report',
        namespace: 'shop',
        ownerReferences: [{ kind: 'CronJob', name: 'nightly-report', controller: true }],
      },
    });
    expect(contextOf(state, byId(APP)).workload).toEqual({ kind: 'CronJob', name: 'nightly-report' });
  });

  it('resolves a deleted pod, marked deleted, inside the grace period and not after', () => {
    const time = clock();
    const state = newState({ deletedGraceMs: 60_000, now: time.now });
    const web = pod('web-0', { containerStatuses: [status('app', APP)] });
    state.upsert('pods', web);
    expect(contextOf(state, byId(APP)).deleted).toBeUndefined();

    state.remove('pods', web);
    time.advance(59_999);
    expect(state.resolve(byId(APP))).toMatchObject({
      outcome: 'container_id',
      pod: { pod: 'web-0', deleted: true, container: { name: 'app' } },
    });
    expect(
      state.resolve(
        alert({ 'container.id': short(SANDBOX), 'k8s.ns.name': 'shop', 'k8s.pod.name': 'web-0' }),
      ),
    ).toMatchObject({ outcome: 'pod_name', pod: { deleted: true } });

    time.advance(1);
    expect(state.resolve(byId(APP))).toBeUndefined();
    expect(
      state.resolve(
        alert({ 'container.id': short(SANDBOX), 'k8s.ns.name': 'shop', 'k8s.pod.name': 'web-0' }),
      ),
    ).toBeUndefined();
  });

  it('does not carry `deleted` over to a recreated pod of the same name', () => {
    const state = newState({ now: clock().now });
    const first = pod('db-0', { containerStatuses: [status('app', OLD)] }, { uid: 'uid-1' });
    state.upsert('pods', first);
    state.remove('pods', first);
    state.upsert('pods', pod('db-0', { containerStatuses: [status('app', APP)] }, { uid: 'uid-2' }));
    expect(contextOf(state, byId(OLD))).toMatchObject({ uid: 'uid-1', deleted: true });
    expect(contextOf(state, byId(APP)).deleted).toBeUndefined();
    const byName = contextOf(state, alert({ 'k8s.ns.name': 'shop', 'k8s.pod.name': 'db-0' }));
    expect(byName).toMatchObject({ uid: 'uid-2' });
    expect(byName.deleted).toBeUndefined();
  });

  it('shows a privileged runc pod as posture `privileged` with the `privileged` violation', () => {
    const state = newState();
    state.upsert('runtimeclasses', runtimeClass('runc', 'runc'));
    state.upsert(
      'pods',
      pod(
        'debug',
        { containerStatuses: [status('app', APP)] },
        {
          containers: [makeContainer('app', { securityContext: { privileged: true } })],
          spec: { runtimeClassName: 'runc' },
        },
      ),
    );
    const context = contextOf(state, byId(APP));
    expect(context.isolation).toBe('container');
    expect(context.posture.level).toBe('privileged');
    expect(context.posture.violations).toContainEqual({
      check: 'privileged',
      level: 'baseline',
      container: 'app',
      field: 'spec.containers[app].securityContext.privileged',
      value: 'true',
    });
  });

  it('shows a restricted gVisor pod as posture `restricted` and isolation `sandbox`', () => {
    const state = newState();
    state.upsert('runtimeclasses', runtimeClass('gvisor', 'runsc'));
    state.upsert(
      'pods',
      makeRestrictedPod({
        name: 'api-0',
        namespace: 'shop',
        spec: { runtimeClassName: 'gvisor' },
        status: { phase: 'Running', containerStatuses: [status('app', APP)] },
      }),
    );
    const context = contextOf(state, byId(APP));
    expect(context).toMatchObject({
      pod: 'api-0',
      runtimeClass: 'gvisor',
      handler: 'runsc',
      isolation: 'sandbox',
      posture: { level: 'restricted', violations: [] },
    });
  });
});

describe('ClusterState.changes$', () => {
  it('ticks on every upsert and remove of every kind', () => {
    const state = newState();
    let ticks = 0;
    const subscription = state.changes$.subscribe(() => {
      ticks += 1;
    });
    const web = pod('web-0', { containerStatuses: [status('app', APP)] });
    state.upsert('pods', web);
    state.upsert('runtimeclasses', runtimeClass('gvisor', 'runsc'));
    state.upsert('namespaces', { metadata: { name: 'shop' } });
    state.upsert('replicasets', { metadata: { name: 'rs', namespace: 'shop' } });
    state.upsert('jobs', { metadata: { name: 'job', namespace: 'shop' } });
    expect(ticks).toBe(5);
    state.remove('pods', web);
    state.remove('runtimeclasses', runtimeClass('gvisor', 'runsc'));
    state.remove('namespaces', { metadata: { name: 'shop' } });
    state.remove('replicasets', { metadata: { name: 'rs', namespace: 'shop' } });
    state.remove('jobs', { metadata: { name: 'job', namespace: 'shop' } });
    expect(ticks).toBe(10);
    subscription.unsubscribe();
  });

  it('has already applied the change when it ticks', () => {
    const state = newState();
    const seen: Array<string | undefined> = [];
    const subscription = state.changes$.subscribe(() => seen.push(state.resolve(byId(APP))?.outcome));
    state.upsert('pods', pod('web-0', { containerStatuses: [status('app', APP)] }));
    subscription.unsubscribe();
    expect(seen).toEqual(['container_id']);
  });
});
