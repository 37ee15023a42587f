import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { PodMonitor, PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { DaemonSet } from 'kubernetes-models/apps/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { ClusterRole, ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { ConfigMap, Namespace, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/load-config.js';
import { evaluatePodSecurity, type PodLike } from '../../src/kube/pod-security.js';
import { expandReferences, resourceFieldValue } from '../helpers/kubelet-env.js';
import { build, COMPONENTS, find, type K8sObject, REPO, withComponents } from '../helpers/kustomize.js';
import { linkConfigMapMounts } from '../helpers/pod-mounts.js';
import type { EnvVar } from '../helpers/pod-spec.js';
import { daemonSetPod, onlyContainer } from '../helpers/pod-spec.js';

const withComponent = (component: string) => withComponents([component]);

/** The container's ConfigMap files at their mount paths under a fresh root; returns the root. */
function mountedConfig(objects: K8sObject[]): string {
  const root = mkdtempSync(join(tmpdir(), 'perch-mounted-'));
  const pod = daemonSetPod(objects);
  linkConfigMapMounts(objects, pod, onlyContainer(pod), root);
  return root;
}

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ServiceAccount': ServiceAccount,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/DaemonSet': DaemonSet,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'monitoring.coreos.com/v1/PodMonitor': PodMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule,
};

function validateAll(objects: K8sObject[]): void {
  for (const object of objects) {
    const Model = MODELS[`${object.apiVersion}/${object.kind}`];
    if (!Model) throw new Error(`no schema for ${object.apiVersion} ${object.kind}: add it to the test`);
    // kubernetes-models validates against the JSON schemas generated from the Kubernetes OpenAPI.
    expect(() => new Model(object as never).validate()).not.toThrow();
  }
}

function podTemplate(objects: K8sObject[]): PodLike {
  const ds = find(objects, 'DaemonSet') as unknown as { spec: { template: PodLike } };
  return ds.spec.template;
}

function rbac(objects: K8sObject[]): string[] {
  return objects
    .filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role')
    .flatMap((o) => (o.rules as { apiGroups: string[]; resources: string[]; verbs: string[] }[]) ?? [])
    .flatMap((r) =>
      r.apiGroups.flatMap((g) =>
        r.resources.map((res) => `${g || 'core'}/${res}: ${[...r.verbs].sort().join(',')}`),
      ),
    )
    .sort();
}

/** Each rendering is built once per run: kustomize takes about half a second. */
function once(render: () => K8sObject[]): () => K8sObject[] {
  let cached: K8sObject[] | undefined;
  return () => {
    cached ??= render();
    return structuredClone(cached);
  };
}

// Every component on its own here; every combination of them in test/e2e/daemonset-components.
const RENDERINGS: [string, () => K8sObject[]][] = [
  ['base', once(() => build(join(REPO, 'daemonset/base')))],
  ...COMPONENTS.map((c): [string, () => K8sObject[]] => [c, once(() => withComponent(c))]),
  ['overlays/full', once(() => build(join(REPO, 'daemonset/overlays/full')))],
];

function rendering(name: string): K8sObject[] {
  const entry = RENDERINGS.find(([n]) => n === name);
  if (!entry) throw new Error(`no rendering ${name}`);
  return entry[1]();
}

describe('daemonset manifests', () => {
  it.each(RENDERINGS)(
    '%s renders and every object validates against the Kubernetes schemas',
    (_name, render) => {
      const objects = render();
      expect(objects.length).toBeGreaterThanOrEqual(8);
      validateAll(objects);
    },
  );

  it.each(RENDERINGS)(
    '%s ships a configuration (perch.yaml and its drop-ins, as mounted) and rules that Perch accepts',
    (_name, render) => {
      const root = mountedConfig(render());
      expect(() => loadConfig({ path: join(root, 'etc/perch/perch.yaml'), env: {} })).not.toThrow();
      expect(parse(readFileSync(join(root, 'etc/perch/rules/rules.yaml'), 'utf8'))).toEqual({ rules: [] });
    },
  );

  it.each(RENDERINGS)(
    '%s ships no Secret: re-applying it cannot blank the secrets you created',
    (_name, render) => {
      expect(render().filter((o) => o.kind === 'Secret')).toEqual([]);
    },
  );

  it('base: the pod template is Pod Security "restricted", with everything a node agent needs', () => {
    const objects = rendering('base');
    expect(evaluatePodSecurity(podTemplate(objects))).toEqual({ level: 'restricted', violations: [] });
    expect(find(objects, 'Namespace')?.metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe(
      'restricted',
    );
    const ds = find(objects, 'DaemonSet') as unknown as {
      spec: {
        template: {
          spec: {
            tolerations: unknown[];
            containers: {
              env: unknown[];
              livenessProbe: unknown;
              readinessProbe: unknown;
              resources: unknown;
            }[];
          };
        };
      };
    };
    const pod = ds.spec.template.spec;
    expect(pod.tolerations).toEqual([{ operator: 'Exists' }]);
    const container = pod.containers[0];
    expect(container?.env).toContainEqual({
      name: 'NODE_NAME',
      valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } },
    });
    expect(container?.livenessProbe).toMatchObject({ httpGet: { path: '/healthz' } });
    expect(container?.readinessProbe).toMatchObject({ httpGet: { path: '/readyz' } });
    expect(container?.resources).toMatchObject({
      requests: { cpu: '100m', memory: '128Mi' },
      limits: { memory: '256Mi' },
    });
    // V8's heap is half the memory limit, whatever the limit is set to: what the kubelet makes of
    // the env for the rendered limit, and for a raised one.
    const heapFlag = (limit: string) => {
      const env: Record<string, string> = {};
      for (const variable of (container?.env ?? []) as EnvVar[]) {
        const ref = variable.valueFrom?.resourceFieldRef;
        if (ref) env[variable.name] = resourceFieldValue({ limits: { memory: limit } }, ref);
        else if (!variable.valueFrom) env[variable.name] = expandReferences(variable.value ?? '', env);
      }
      return env.NODE_OPTIONS;
    };
    expect(heapFlag('256Mi')).toBe('--max-old-space-size=128 --max-semi-space-size=2');
    expect(heapFlag('512Mi')).toBe('--max-old-space-size=256 --max-semi-space-size=2');
    expect(heapFlag('1Gi')).toBe('--max-old-space-size=512 --max-semi-space-size=2');
    expect(
      (find(objects, 'Service') as unknown as { spec: { internalTrafficPolicy: string } }).spec
        .internalTrafficPolicy,
    ).toBe('Local');
  });

  it('grpc-legacy: exactly the documented hostPath violation, and the namespace relaxed to allow it', () => {
    const objects = rendering('grpc-legacy');
    expect(evaluatePodSecurity(podTemplate(objects))).toEqual({
      level: 'privileged',
      violations: [
        {
          check: 'hostPathVolumes',
          level: 'baseline',
          field: 'spec.volumes[falco-socket].hostPath',
          value: '/run/falco',
        },
      ],
    });
    expect(find(objects, 'Namespace')?.metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe(
      'privileged',
    );
  });

  it('host-spool: exactly the spool hostPath violation', () => {
    expect(evaluatePodSecurity(podTemplate(rendering('host-spool'))).violations).toEqual([
      {
        check: 'hostPathVolumes',
        level: 'baseline',
        field: 'spec.volumes[spool].hostPath',
        value: '/var/lib/perch',
      },
    ]);
  });

  it('RBAC grants nothing beyond the documented read-only verbs', () => {
    expect(rbac(rendering('base'))).toEqual([
      'core/pods: get,list,watch',
      'node.k8s.io/runtimeclasses: get,list,watch',
    ]);
    expect(rbac(rendering('owner-lookup'))).toEqual([
      'apps/replicasets: get,list,watch',
      'batch/jobs: get,list,watch',
      'core/namespaces: get,list,watch',
      'core/pods: get,list,watch',
      'node.k8s.io/runtimeclasses: get,list,watch',
    ]);
    for (const [, render] of RENDERINGS) {
      for (const rule of rbac(render())) expect(rule).toMatch(/: get,list,watch$/);
    }
  });
});
