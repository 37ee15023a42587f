import { describe, expect, it, jest } from '@jest/globals';
import type { V1OwnerReference, V1Pod } from '@kubernetes/client-node';
import { type OwnerLookup, resolveWorkload } from '../../src/kube/workload.js';
import { makePod, type PodOptions, toJson } from '../fixtures/pods.js';

function owner(kind: string, name: string, controller: boolean | 'unset' = true): V1OwnerReference {
  const apiVersion = { ReplicaSet: 'apps/v1', StatefulSet: 'apps/v1', DaemonSet: 'apps/v1', Job: 'batch/v1' }[
    kind
  ];
  return {
    apiVersion: apiVersion ?? 'v1',
    kind,
    name,
    uid: `uid-${name}`,
    ...(controller === 'unset' ? {} : { controller }),
  };
}

function ownedPod(ref: V1OwnerReference, options: PodOptions = {}): V1Pod {
  return makePod({ ownerReferences: [ref], ...options });
}

function withCreation(pod: V1Pod, iso: string): V1Pod {
  if (pod.metadata) pod.metadata.creationTimestamp = new Date(iso);
  return pod;
}

describe('resolveWorkload: ReplicaSet → Deployment', () => {
  const rsPod = (labels?: Record<string, string>) =>
    ownedPod(owner('ReplicaSet', 'web-7d4b9c8f6d'), {
      name: 'web-7d4b9c8f6d-x2k9p',
      ...(labels ? { labels } : {}),
    });

  it('strips the pod-template-hash the pod carries', () => {
    expect(resolveWorkload(rsPod({ app: 'web', 'pod-template-hash': '7d4b9c8f6d' }))).toEqual({
      kind: 'Deployment',
      name: 'web',
      via: 'pod-template-hash',
    });
  });

  it('prefers the ReplicaSet owner from the API', () => {
    const replicaSetOwner = jest.fn<NonNullable<OwnerLookup['replicaSetOwner']>>(() => ({
      kind: 'Deployment',
      name: 'frontend',
    }));
    const pod = rsPod({ 'pod-template-hash': '7d4b9c8f6d' });
    expect(resolveWorkload(pod, { replicaSetOwner })).toEqual({
      kind: 'Deployment',
      name: 'frontend',
      via: 'api',
    });
    expect(replicaSetOwner).toHaveBeenCalledWith('default', 'web-7d4b9c8f6d');
  });

  it('passes through a non-Deployment RS owner from the API (e.g. Argo Rollouts)', () => {
    const lookup: OwnerLookup = { replicaSetOwner: () => ({ kind: 'Rollout', name: 'canary' }) };
    expect(resolveWorkload(rsPod(), lookup)).toEqual({ kind: 'Rollout', name: 'canary', via: 'api' });
  });

  it('falls back to the hash when the API does not know the ReplicaSet', () => {
    const lookup: OwnerLookup = { replicaSetOwner: () => undefined, jobOwner: () => undefined };
    expect(resolveWorkload(rsPod({ 'pod-template-hash': '7d4b9c8f6d' }), lookup).via).toBe(
      'pod-template-hash',
    );
  });

  it('stays a ReplicaSet without a pod-template-hash label', () => {
    expect(resolveWorkload(rsPod())).toEqual({ kind: 'ReplicaSet', name: 'web-7d4b9c8f6d', via: 'owner' });
  });

  it('stays a ReplicaSet when the hash is not the name suffix (truncated or bare RS)', () => {
    expect(resolveWorkload(rsPod({ 'pod-template-hash': '5f6g7h8j9k' }))).toEqual({
      kind: 'ReplicaSet',
      name: 'web-7d4b9c8f6d',
      via: 'owner',
    });
    const onlyHash = ownedPod(owner('ReplicaSet', '-abc'), { labels: { 'pod-template-hash': 'abc' } });
    expect(resolveWorkload(onlyHash).kind).toBe('ReplicaSet');
  });
});

describe('resolveWorkload: Job → CronJob', () => {
  // 29145600 minutes after the epoch is 2025-06-01T00:00Z.
  const scheduledJob = 'report-29145600';

  it('uses the Job owner from the API', () => {
    const jobOwner = jest.fn<NonNullable<OwnerLookup['jobOwner']>>(() => ({
      kind: 'CronJob',
      name: 'nightly',
    }));
    const pod = ownedPod(owner('Job', 'nightly-manual-x7'), { namespace: 'batch' });
    expect(resolveWorkload(pod, { jobOwner })).toEqual({ kind: 'CronJob', name: 'nightly', via: 'api' });
    expect(jobOwner).toHaveBeenCalledWith('batch', 'nightly-manual-x7');
  });

  it('derives the CronJob from a scheduled-minute suffix not after the pod was created', () => {
    const pod = withCreation(ownedPod(owner('Job', scheduledJob)), '2025-06-01T00:00:03Z');
    expect(resolveWorkload(pod)).toEqual({ kind: 'CronJob', name: 'report', via: 'job-name' });
    expect(resolveWorkload(pod, { jobOwner: () => undefined }).via).toBe('job-name');
    expect(resolveWorkload(toJson(pod))).toEqual({ kind: 'CronJob', name: 'report', via: 'job-name' });
  });

  it('accepts the suffix without a creation time (lower bound only)', () => {
    expect(resolveWorkload(ownedPod(owner('Job', scheduledJob))).kind).toBe('CronJob');
  });

  it.each([
    ['no numeric suffix', 'db-migrate'],
    ['a date, not a minute count (before CronJobs existed)', 'backup-20240101'],
    ['too few digits', 'report-2914560'],
    ['too many digits', 'report-291456000'],
    ['a prefix longer than a CronJob name may be', `${'a'.repeat(53)}-29145600`],
  ])('keeps a Job with %s', (_why, name) => {
    const pod = withCreation(ownedPod(owner('Job', name)), '2025-06-01T00:00:03Z');
    expect(resolveWorkload(pod)).toEqual({ kind: 'Job', name, via: 'owner' });
  });

  it('keeps a Job whose suffix lies after the pod was created', () => {
    const pod = withCreation(ownedPod(owner('Job', 'report-29245600')), '2025-06-01T00:00:03Z');
    expect(resolveWorkload(pod)).toEqual({ kind: 'Job', name: 'report-29245600', via: 'owner' });
  });
});

describe('resolveWorkload: direct controllers', () => {
  it.each(['StatefulSet', 'DaemonSet', 'ReplicationController', 'Workflow'])(
    '%s owns its pods directly',
    (kind) => {
      expect(resolveWorkload(ownedPod(owner(kind, 'thing')))).toEqual({ kind, name: 'thing', via: 'owner' });
    },
  );

  it('does not consult lookups for direct controllers', () => {
    const lookup: OwnerLookup = {
      replicaSetOwner: jest.fn(() => undefined),
      jobOwner: jest.fn(() => undefined),
    };
    resolveWorkload(ownedPod(owner('StatefulSet', 'db')), lookup);
    expect(lookup.replicaSetOwner).not.toHaveBeenCalled();
    expect(lookup.jobOwner).not.toHaveBeenCalled();
  });
});

describe('resolveWorkload: static pods', () => {
  const mirror = { 'kubernetes.io/config.mirror': '0f3c5a1b2d4e6f708192a3b4c5d6e7f8' };

  it('recognises the mirror annotation and names the workload after the manifest', () => {
    const pod = ownedPod(owner('Node', 'node-1'), {
      name: 'kube-apiserver-node-1',
      namespace: 'kube-system',
      annotations: mirror,
    });
    expect(resolveWorkload(pod)).toEqual({ kind: 'StaticPod', name: 'kube-apiserver', via: 'mirror' });
  });

  it('recognises a Node controller owner without the annotation', () => {
    const pod = ownedPod(owner('Node', 'node-1'), { name: 'etcd-node-1' });
    expect(resolveWorkload(pod)).toEqual({ kind: 'StaticPod', name: 'etcd', via: 'owner' });
  });

  it('uses spec.nodeName when the annotation comes without an owner', () => {
    const pod = makePod({ name: 'kube-proxy-worker-7', nodeName: 'worker-7', annotations: mirror });
    expect(resolveWorkload(pod)).toEqual({ kind: 'StaticPod', name: 'kube-proxy', via: 'mirror' });
  });

  it('keeps the pod name when it does not end with the node name', () => {
    const pod = makePod({ name: 'custom', nodeName: 'worker-7', annotations: mirror });
    expect(resolveWorkload(pod)).toEqual({ kind: 'StaticPod', name: 'custom', via: 'mirror' });
  });
});

describe('resolveWorkload: bare pods', () => {
  it('reports a pod without owners as itself', () => {
    expect(resolveWorkload(makePod({ name: 'debug' }))).toEqual({ kind: 'Pod', name: 'debug', via: 'bare' });
  });

  it.each([false, 'unset'] as const)('ignores an owner whose controller flag is %p', (controller) => {
    const pod = ownedPod(owner('ReplicaSet', 'web-7d4b9c8f6d', controller), { name: 'adopted' });
    expect(resolveWorkload(pod)).toEqual({ kind: 'Pod', name: 'adopted', via: 'bare' });
  });

  it('picks the controller among several owners', () => {
    const pod = makePod({
      ownerReferences: [owner('ConfigMap', 'parent', false), owner('StatefulSet', 'db')],
    });
    expect(resolveWorkload(pod)).toEqual({ kind: 'StatefulSet', name: 'db', via: 'owner' });
  });

  it('tolerates empty and partial objects', () => {
    expect(resolveWorkload({})).toEqual({ kind: 'Pod', name: '', via: 'bare' });
    expect(resolveWorkload({ metadata: { ownerReferences: [{ controller: true }] } })).toEqual({
      kind: 'Pod',
      name: '',
      via: 'bare',
    });
  });
});

describe('resolveWorkload: plain JSON', () => {
  it('resolves raw watch JSON like typed objects', () => {
    const raw = JSON.parse(
      JSON.stringify({
        metadata: {
          name: 'api-6b8f9d7c5-qwzrt',
          namespace: 'shop',
          labels: { 'pod-template-hash': '6b8f9d7c5' },
          ownerReferences: [
            { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'api-6b8f9d7c5', controller: true },
          ],
        },
      }),
    ) as V1Pod;
    expect(resolveWorkload(raw)).toEqual({ kind: 'Deployment', name: 'api', via: 'pod-template-hash' });
  });
});
