// The workload a pod belongs to, from its controller ownerReference. Alerts are grouped and routed by workload
// (a Deployment, not one of its short-lived ReplicaSets or pods), so the chain is followed one step further where
// Kubernetes puts an intermediate controller in between: Pod → ReplicaSet → Deployment, Pod → Job → CronJob.

import type { PodLike, PodSpecLike } from './pod-security.js';

type Maybe<T> = T | null | undefined;

export type WorkloadKind =
  | 'Deployment'
  | 'ReplicaSet'
  | 'StatefulSet'
  | 'DaemonSet'
  | 'Job'
  | 'CronJob'
  | 'ReplicationController'
  | 'StaticPod'
  | 'Pod'
  // Custom controllers (Argo Rollouts, operators, ...) own pods too; their kind is passed through.
  | (string & {});

export interface Workload {
  kind: WorkloadKind;
  name: string;
  /** how it was derived */
  via: 'owner' | 'pod-template-hash' | 'api' | 'job-name' | 'mirror' | 'bare';
}

/**
 * Optional API-backed lookups (informer caches of ReplicaSets and Jobs). Each returns the object's own controller
 * owner, or undefined when the object is unknown or has none; either way the caller falls back to name rules.
 */
export interface OwnerLookup {
  replicaSetOwner?(namespace: string, name: string): { kind: string; name: string } | undefined;
  jobOwner?(namespace: string, name: string): { kind: string; name: string } | undefined;
}

export interface OwnerReferenceLike {
  kind?: Maybe<string>;
  name?: Maybe<string>;
  controller?: Maybe<boolean>;
}

/** Pod metadata beyond what the security evaluator reads; V1ObjectMeta (Date timestamps) and raw JSON both fit. */
export interface PodMetadataLike {
  name?: Maybe<string>;
  namespace?: Maybe<string>;
  uid?: Maybe<string>;
  labels?: Maybe<Readonly<Record<string, string>>>;
  annotations?: Maybe<Readonly<Record<string, string>>>;
  ownerReferences?: Maybe<readonly OwnerReferenceLike[]>;
  creationTimestamp?: Maybe<Date | string>;
}

export interface OwnedPodSpecLike extends PodSpecLike {
  nodeName?: Maybe<string>;
}

export interface OwnedPodLike extends PodLike {
  metadata?: Maybe<PodMetadataLike>;
  spec?: Maybe<OwnedPodSpecLike>;
}

const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror';
const POD_TEMPLATE_HASH = 'pod-template-hash';

export function resolveWorkload(pod: OwnedPodLike, lookup?: OwnerLookup): Workload {
  const meta = pod.metadata;
  const podName = meta?.name ?? '';
  const namespace = meta?.namespace ?? '';
  // Only the controller reference says who manages the pod; other owners (e.g. garbage-collection parents) don't.
  const owner = meta?.ownerReferences?.find((ref) => ref.controller === true && ref.kind && ref.name);

  if (meta?.annotations?.[MIRROR_ANNOTATION] !== undefined) {
    return { kind: 'StaticPod', name: staticPodName(podName, owner, pod.spec?.nodeName), via: 'mirror' };
  }
  if (!owner?.kind || !owner.name) return { kind: 'Pod', name: podName, via: 'bare' };

  const { kind, name } = owner;
  switch (kind) {
    case 'Node':
      return { kind: 'StaticPod', name: staticPodName(podName, owner, pod.spec?.nodeName), via: 'owner' };
    case 'ReplicaSet': {
      const apiOwner = lookup?.replicaSetOwner?.(namespace, name);
      if (apiOwner) return { kind: apiOwner.kind, name: apiOwner.name, via: 'api' };
      // The Deployment controller names its ReplicaSets `<deployment>-<hash>` and stamps the same hash on the
      // pods, so a matching suffix identifies the Deployment without ReplicaSet RBAC. A bare ReplicaSet has no
      // such label, and a suffix that does not match (truncated names) is left alone rather than guessed.
      const hash = meta?.labels?.[POD_TEMPLATE_HASH];
      if (hash && name.length > hash.length + 1 && name.endsWith(`-${hash}`)) {
        return { kind: 'Deployment', name: name.slice(0, -(hash.length + 1)), via: 'pod-template-hash' };
      }
      return { kind: 'ReplicaSet', name, via: 'owner' };
    }
    case 'Job': {
      const apiOwner = lookup?.jobOwner?.(namespace, name);
      if (apiOwner) return { kind: apiOwner.kind, name: apiOwner.name, via: 'api' };
      const cronJob = cronJobFromJobName(name, meta?.creationTimestamp);
      if (cronJob) return { kind: 'CronJob', name: cronJob, via: 'job-name' };
      return { kind: 'Job', name, via: 'owner' };
    }
    default:
      return { kind, name, via: 'owner' };
  }
}

// The CronJob controller names Jobs `<cronjob>-<scheduled time in minutes since the epoch>` and caps CronJob names
// at 52 characters to leave room for that suffix. Any Job name could end in digits, though (`backup-20240101`), so
// the suffix must also read as a plausible schedule: exactly 8 digits (minutes since epoch have had 8 digits since
// 1973 and will until 2160), not before CronJobs existed, and not after the pod was created (plus clock skew),
// since the Job and its pods are created at or after the scheduled time.
const CRONJOB_SUFFIX = /^(.{1,52})-(\d{8})$/;
const EARLIEST_SCHEDULE_MINUTE = Date.UTC(2016, 0, 1) / 60_000;
const CLOCK_SKEW_MINUTES = 5;

function cronJobFromJobName(jobName: string, podCreated: Maybe<Date | string>): string | undefined {
  const match = CRONJOB_SUFFIX.exec(jobName);
  const cronJob = match?.[1];
  const minutes = Number(match?.[2]);
  if (!cronJob || !(minutes >= EARLIEST_SCHEDULE_MINUTE)) return undefined;
  const createdMs =
    podCreated === null || podCreated === undefined ? Number.NaN : new Date(podCreated).getTime();
  // Without a creation time only the lower bound applies; API-delivered pods always carry one.
  if (Number.isFinite(createdMs) && minutes > createdMs / 60_000 + CLOCK_SKEW_MINUTES) return undefined;
  return cronJob;
}

// Kubelet names a mirror pod `<manifest name>-<lower-cased node name>` (pkg/kubelet/config/common.go), so the
// same manifest on every node (kube-proxy, etcd, ...) groups under one workload name.
function staticPodName(
  podName: string,
  owner: OwnerReferenceLike | undefined,
  nodeName: Maybe<string>,
): string {
  const node = (owner?.kind === 'Node' ? owner.name : undefined) ?? nodeName;
  const suffix = node ? `-${node.toLowerCase()}` : '';
  if (suffix && podName.length > suffix.length && podName.endsWith(suffix)) {
    return podName.slice(0, -suffix.length);
  }
  return podName;
}
