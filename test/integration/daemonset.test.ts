import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { PodMonitor, PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { DaemonSet, Deployment } from 'kubernetes-models/apps/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import {
  ClusterRole,
  ClusterRoleBinding,
  Role,
  RoleBinding,
} from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { ConfigMap, Namespace, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { parse } from 'yaml';
import { validateStartup } from '../../src/app/validate-startup.js';
import { loadConfig } from '../../src/config/load-config.js';
import { evaluatePodSecurity, type PodLike } from '../../src/kube/pod-security.js';
import { expandReferences, resourceFieldValue } from '../helpers/kubelet-env.js';
import { build, COMPONENTS, find, type K8sObject, REPO, withComponents } from '../helpers/kustomize.js';
import { linkConfigMapMounts } from '../helpers/pod-mounts.js';
import type { EnvVar } from '../helpers/pod-spec.js';
import { daemonSetPod, onlyContainer, type PodSpec } from '../helpers/pod-spec.js';

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
  'apps/v1/Deployment': Deployment,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
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

/** The grants of the roles (`kinds`) in a rendering, one line per group, resource and names. */
function rbac(objects: K8sObject[], kinds: readonly string[] = ['ClusterRole']): string[] {
  return objects
    .filter((o) => kinds.includes(o.kind))
    .flatMap(
      (o) =>
        (o.rules as {
          apiGroups: string[];
          resources: string[];
          resourceNames?: string[];
          verbs: string[];
        }[]) ?? [],
    )
    .flatMap((r) =>
      r.apiGroups.flatMap((g) =>
        r.resources.map(
          (res) =>
            `${g || 'core'}/${res}${r.resourceNames ? `/${r.resourceNames.join(',')}` : ''}: ${[...r.verbs].sort().join(',')}`,
        ),
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
    // glibc's arenas capped: part of the memory at rest the Sizing table in docs/operations.md counts on
    expect(((container?.env ?? []) as EnvVar[]).find((v) => v.name === 'MALLOC_ARENA_MAX')?.value).toBe('2');
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

  it('hub: its Role reads and renews exactly its own Lease, and creates leases (create cannot be limited by name)', () => {
    const objects = rendering('hub');
    expect(rbac(objects, ['Role'])).toEqual([
      'coordination.k8s.io/leases/perch-hub: get,update',
      'coordination.k8s.io/leases: create',
    ]);
    const binding = find(objects, 'RoleBinding', 'perch-hub-lease') as unknown as {
      subjects: { kind: string; name: string; namespace: string }[];
    };
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'perch-hub', namespace: 'perch' }]);
    // the agents gain nothing from it
    expect(rbac(objects)).toEqual(rbac(rendering('base')));
  });

  it('hub: two replicas, Pod Security "restricted", only the leader ready behind its Service, one evicted at a time', () => {
    const objects = rendering('hub');
    const deployment = find(objects, 'Deployment', 'perch-hub') as unknown as {
      metadata: { namespace: string };
      spec: {
        replicas: number;
        template: PodLike & {
          spec: { serviceAccountName: string; containers: { args: string[]; readinessProbe: unknown }[] };
        };
      };
    };
    expect(deployment.metadata.namespace).toBe('perch');
    expect(deployment.spec.replicas).toBe(2);
    expect(evaluatePodSecurity(deployment.spec.template)).toEqual({ level: 'restricted', violations: [] });
    expect(deployment.spec.template.spec.serviceAccountName).toBe('perch-hub');
    const container = deployment.spec.template.spec.containers[0];
    expect(container?.args).toEqual(['hub', '--config', '/etc/perch/hub.yaml']);
    expect(container?.readinessProbe).toMatchObject({ httpGet: { path: '/readyz' } });
    const service = find(objects, 'Service', 'perch-hub') as unknown as {
      spec: { selector: Record<string, string>; ports: { port: number }[] };
    };
    expect(service.spec.selector).toEqual({ 'app.kubernetes.io/name': 'perch-hub' });
    expect(service.spec.ports.map((p) => p.port)).toEqual([2805]);
    // the agents' Service does not select the hub's pods
    const agents = find(objects, 'Service', 'perch') as unknown as {
      spec: { selector: Record<string, string> };
    };
    expect(agents.spec.selector).toEqual({ 'app.kubernetes.io/name': 'perch' });
    expect(find(objects, 'PodDisruptionBudget', 'perch-hub')).toMatchObject({ spec: { maxUnavailable: 1 } });
  });

  it('hub: the agents forward to the hub Service, and the hub accepts its hub.yaml as perch hub checks it', async () => {
    const objects = rendering('hub');
    const agents = loadConfig({ path: join(mountedConfig(objects), 'etc/perch/perch.yaml'), env: {} });
    expect(agents.sinks.hub).toMatchObject({ type: 'hub', url: 'http://perch-hub.perch.svc:2805' });
    // The hub pod's ConfigMap mounts under a fresh root; its absolute rules path is read there.
    const root = mkdtempSync(join(tmpdir(), 'perch-hub-mounted-'));
    const deployment = find(objects, 'Deployment', 'perch-hub') as unknown as {
      spec: { template: { spec: PodSpec } };
    };
    const pod = deployment.spec.template.spec;
    linkConfigMapMounts(objects, pod, onlyContainer(pod), root);
    const checked = await validateStartup({
      path: join(root, 'etc/perch/hub.yaml'),
      env: {},
      scope: 'hub',
      overrides: (tree) => {
        const rules = tree.rules as { files: string[] };
        rules.files = rules.files.map((file) => join(root, file));
      },
    });
    expect(checked.groups).toEqual([]);
    expect(checked.config?.hub.leaderElection).toMatchObject({ enabled: true, leaseName: 'perch-hub' });
    expect(checked.config?.server.listen).toEqual({ host: '0.0.0.0', port: 2805 });
  });
});
