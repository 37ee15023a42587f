// The resource types the fake API server serves, with the type metadata the real apiserver uses for them.

export type ResourceKey = 'pods' | 'namespaces' | 'runtimeclasses' | 'replicasets' | 'jobs' | 'leases';
export type KindName = 'Pod' | 'Namespace' | 'RuntimeClass' | 'ReplicaSet' | 'Job' | 'Lease';
/** A resource named either by its plural resource name (`'pods'`) or by its kind (`'Pod'`). */
export type ResourceRef = ResourceKey | KindName;

export interface ResourceInfo {
  readonly resource: ResourceKey;
  readonly kind: KindName;
  readonly listKind: string;
  /** API group, `''` for the core group. */
  readonly group: string;
  readonly version: string;
  readonly apiVersion: string;
  readonly namespaced: boolean;
  /** Field-selector labels the apiserver accepts for this resource. */
  readonly fieldLabels: readonly string[];
}

const NAME = 'metadata.name';
const NAMESPACE = 'metadata.namespace';

// Field labels from kubernetes pkg/apis/*/v1/conversion.go (AddFieldLabelConversionFunc).
export const RESOURCES: Readonly<Record<ResourceKey, ResourceInfo>> = {
  pods: {
    resource: 'pods',
    kind: 'Pod',
    listKind: 'PodList',
    group: '',
    version: 'v1',
    apiVersion: 'v1',
    namespaced: true,
    fieldLabels: [
      NAME,
      NAMESPACE,
      'spec.nodeName',
      'spec.restartPolicy',
      'spec.schedulerName',
      'spec.serviceAccountName',
      'spec.hostNetwork',
      'status.phase',
      'status.podIP',
      'status.nominatedNodeName',
    ],
  },
  namespaces: {
    resource: 'namespaces',
    kind: 'Namespace',
    listKind: 'NamespaceList',
    group: '',
    version: 'v1',
    apiVersion: 'v1',
    namespaced: false,
    fieldLabels: [NAME, 'status.phase'],
  },
  runtimeclasses: {
    resource: 'runtimeclasses',
    kind: 'RuntimeClass',
    listKind: 'RuntimeClassList',
    group: 'node.k8s.io',
    version: 'v1',
    apiVersion: 'node.k8s.io/v1',
    namespaced: false,
    fieldLabels: [NAME],
  },
  replicasets: {
    resource: 'replicasets',
    kind: 'ReplicaSet',
    listKind: 'ReplicaSetList',
    group: 'apps',
    version: 'v1',
    apiVersion: 'apps/v1',
    namespaced: true,
    fieldLabels: [NAME, NAMESPACE, 'status.replicas'],
  },
  jobs: {
    resource: 'jobs',
    kind: 'Job',
    listKind: 'JobList',
    group: 'batch',
    version: 'v1',
    apiVersion: 'batch/v1',
    namespaced: true,
    fieldLabels: [NAME, NAMESPACE, 'status.successful'],
  },
  leases: {
    resource: 'leases',
    kind: 'Lease',
    listKind: 'LeaseList',
    group: 'coordination.k8s.io',
    version: 'v1',
    apiVersion: 'coordination.k8s.io/v1',
    namespaced: true,
    fieldLabels: [NAME, NAMESPACE],
  },
};

export const ALL_RESOURCES: readonly ResourceInfo[] = Object.values(RESOURCES);

export function isResourceRef(value: string): value is ResourceRef {
  return ALL_RESOURCES.some((info) => info.resource === value || info.kind === value);
}

export function resolveResource(ref: ResourceRef): ResourceInfo {
  const info = ALL_RESOURCES.find((candidate) => candidate.resource === ref || candidate.kind === ref);
  if (!info) throw new Error(`fake kube api: unknown resource ${ref}`);
  return info;
}

/** `pods` for the core group, `replicasets.apps` otherwise (how apiserver messages name resources). */
export function qualifiedResource(info: ResourceInfo): string {
  return info.group === '' ? info.resource : `${info.resource}.${info.group}`;
}

/** `/api/v1` or `/apis/{group}/{version}`. */
export function groupVersionPath(info: ResourceInfo): string {
  return info.group === '' ? `/api/${info.version}` : `/apis/${info.group}/${info.version}`;
}
