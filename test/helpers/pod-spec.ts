import type { ResourceFieldRef } from './kubelet-env.js';
import { find, type K8sObject } from './kustomize.js';

// The parts of a pod spec that the manifest tests read; the rendered objects are checked against the
// real Kubernetes schemas elsewhere (test/integration/daemonset.test.ts).

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    fieldRef?: { fieldPath: string };
    resourceFieldRef?: ResourceFieldRef;
    secretKeyRef?: { name: string; key: string; optional?: boolean };
    configMapKeyRef?: { name: string; key: string; optional?: boolean };
  };
}

export interface EnvFromSource {
  secretRef?: { name: string; optional?: boolean };
  configMapRef?: { name: string; optional?: boolean };
  prefix?: string;
}

export interface VolumeMount {
  name: string;
  mountPath: string;
  subPath?: string;
  readOnly?: boolean;
}

export interface ContainerSpec {
  name: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  envFrom?: EnvFromSource[];
  resources?: { limits?: Record<string, string>; requests?: Record<string, string> };
  volumeMounts?: VolumeMount[];
  securityContext?: {
    runAsUser?: number;
    runAsGroup?: number;
    runAsNonRoot?: boolean;
    readOnlyRootFilesystem?: boolean;
    allowPrivilegeEscalation?: boolean;
    capabilities?: { add?: string[]; drop?: string[] };
  };
}

export interface VolumeSpec {
  name: string;
  configMap?: { name: string; items?: { key: string; path: string }[]; optional?: boolean };
  emptyDir?: { medium?: string; sizeLimit?: string } | null;
  hostPath?: { path: string; type?: string };
}

export interface PodSpec {
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  securityContext?: {
    runAsUser?: number;
    runAsGroup?: number;
    runAsNonRoot?: boolean;
    fsGroup?: number;
    supplementalGroups?: number[];
  };
  containers: ContainerSpec[];
  volumes?: VolumeSpec[];
}

/** The pod template of the rendering's only DaemonSet. */
export function daemonSetPod(objects: K8sObject[]): PodSpec {
  const ds = find(objects, 'DaemonSet') as unknown as { spec: { template: { spec: PodSpec } } } | undefined;
  if (!ds) throw new Error('the rendering has no DaemonSet');
  return ds.spec.template.spec;
}

export function onlyContainer(pod: PodSpec): ContainerSpec {
  const [container, ...more] = pod.containers;
  if (!container || more.length > 0)
    throw new Error(`expected one container, found ${pod.containers.length}`);
  return container;
}

/** The data of a ConfigMap or Secret of the rendering, decoded; undefined when it is not there. */
export function dataOf(objects: K8sObject[], kind: 'ConfigMap' | 'Secret', name: string) {
  const object = find(objects, kind, name) as
    | { data?: Record<string, string>; stringData?: Record<string, string> }
    | undefined;
  if (!object) return undefined;
  const decoded = Object.fromEntries(
    Object.entries(object.data ?? {}).map(([k, v]) => [
      k,
      kind === 'Secret' ? Buffer.from(v, 'base64').toString() : v,
    ]),
  );
  return { ...decoded, ...(object.stringData ?? {}) };
}
