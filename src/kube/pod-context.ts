import type { Isolation } from './isolation.js';
import type { ContainerKind } from './pod-index.js';
import type { PssLevel, PssViolation } from './pod-security.js';
import type { WorkloadKind } from './workload.js';

/** What the cluster knows about the pod behind an alert. */
export interface PodContext {
  namespace: string;
  pod: string;
  uid: string;
  node?: string;
  /** Only the labels and annotations named in `kubernetes.labels` / `kubernetes.annotations`. */
  labels: Record<string, string>;
  annotations: Record<string, string>;
  workload: { kind: WorkloadKind; name: string };
  serviceAccount?: string;
  runtimeClass?: string;
  handler?: string;
  isolation: Isolation;
  /** The pod names a RuntimeClass the cluster does not have. */
  missingRuntimeClass?: boolean;
  posture: {
    /** Highest Pod Security Standards level the pod meets. */
    level: PssLevel;
    violations: PssViolation[];
    /** The namespace's `pod-security.kubernetes.io/enforce` label, when namespaces are watched. */
    namespaceEnforce?: string;
  };
  container?: { name: string; kind: ContainerKind; image?: string; id?: string; previous?: boolean };
  /** The pod was deleted before the alert was enriched (a late alert). */
  deleted?: boolean;
}

/**
 * How an alert was matched to the cluster. `pending` never leaves the enrich stage: it becomes
 * `late` when the pod shows up in time, or `unresolved` when it does not.
 */
export type EnrichmentOutcome =
  | 'container_id'
  | 'pod_name'
  | 'host'
  | 'late'
  | 'unresolved'
  | 'not_applicable'
  | 'disabled';

export interface Enrichment {
  outcome: EnrichmentOutcome;
  pod?: PodContext;
  /** For host events: the node the alert came from. */
  node?: string;
}
