// Every combination of the DaemonSet's kustomize components, each rendered by the real kustomize
// in two orders: the renderings must not depend on the order, each component's settings must be in
// the configuration Perch merges from the mounted ConfigMaps, and `perch check` must accept that
// configuration run inside the pod's sandbox (bubblewrap: apt-get install -y bubblewrap).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { loadConfig } from '../../src/config/load-config.js';
import { buildAsync, COMPONENTS, type K8sObject, overlayWith } from '../helpers/kustomize.js';
import { linkConfigMapMounts } from '../helpers/pod-mounts.js';
import { runInPod } from '../helpers/pod-sandbox.js';
import { daemonSetPod, dataOf, onlyContainer } from '../helpers/pod-spec.js';
import { hostPathStandIns, serviceAccountFiles } from '../helpers/pod-stand-ins.js';

const subsets: string[][] = Array.from({ length: 2 ** COMPONENTS.length }, (_, mask) =>
  COMPONENTS.filter((_c, i) => mask & (1 << i)),
);
const label = (components: string[]) => (components.length === 0 ? 'base alone' : components.join(' + '));

interface Rendered {
  components: string[];
  listed: K8sObject[];
  reversed: K8sObject[];
}
const rendered = new Map<string, Rendered>();

/**
 * Objects in a fixed order, and so the pod's volumes and mounts: Kubernetes keys both by name and
 * mount path (the order of the list means nothing), so two renderings compare as what they deploy.
 */
function canonical(objects: K8sObject[]): K8sObject[] {
  const by =
    <T>(key: (item: T) => string) =>
    (a: T, b: T) =>
      key(a).localeCompare(key(b));
  return structuredClone(objects)
    .map((object) => {
      if (object.kind !== 'DaemonSet') return object;
      const pod = daemonSetPod([object]);
      pod.volumes?.sort(by((v) => v.name));
      for (const container of pod.containers) container.volumeMounts?.sort(by((m) => m.mountPath));
      return object;
    })
    .sort((a, b) => `${a.kind}/${a.metadata.name}`.localeCompare(`${b.kind}/${b.metadata.name}`));
}

/** kustomize is single-threaded and the machine may have two cores: two renderings at a time. */
async function renderAll(): Promise<void> {
  const queue = [...subsets];
  const worker = async () => {
    for (let components = queue.shift(); components; components = queue.shift()) {
      const listed = await buildAsync(overlayWith(components));
      const reversed =
        components.length > 1 ? await buildAsync(overlayWith([...components].reverse())) : listed;
      rendered.set(label(components), { components, listed, reversed });
    }
  };
  await Promise.all([worker(), worker()]);
}

function renderingOf(components: string[]): Rendered {
  const r = rendered.get(label(components));
  if (!r) throw new Error(`${label(components)} was not rendered`);
  return r;
}

/** Perch's configuration merged from the container's ConfigMap mounts, as `perch run` loads it. */
function mergedConfig(objects: K8sObject[]) {
  const root = mkdtempSync(join(tmpdir(), 'perch-mounted-'));
  const pod = daemonSetPod(objects);
  linkConfigMapMounts(objects, pod, onlyContainer(pod), root);
  return loadConfig({ path: join(root, 'etc/perch/perch.yaml'), env: {} });
}

const grants = (objects: K8sObject[], resource: string) =>
  objects.some(
    (o) =>
      o.kind === 'ClusterRole' &&
      (o.rules as { resources: string[]; verbs: string[] }[]).some(
        (r) => r.resources.includes(resource) && r.verbs.includes('watch'),
      ),
  );

beforeAll(renderAll, 600_000);

describe(`every combination of the ${COMPONENTS.length} components (${subsets.length})`, () => {
  it.each(subsets.map((s) => [label(s), s] as const))('%s: renders the same whatever the order', (_l, s) => {
    const { listed, reversed } = renderingOf(s);
    expect(canonical(reversed)).toEqual(canonical(listed));
  });

  it.each(subsets.map((s) => [label(s), s] as const))(
    "%s: Perch's merged configuration has every component's settings and the base's",
    (_l, s) => {
      const { listed } = renderingOf(s);
      const config = mergedConfig(listed);
      const grpcLegacy = s.includes('grpc-legacy');
      const ownerLookup = s.includes('owner-lookup');
      expect(config.sources.grpc.enabled).toBe(grpcLegacy);
      if (grpcLegacy) expect(config.sources.grpc.address).toBe('unix:///run/falco/falco.sock');
      expect(config.kubernetes.watchOwners).toBe(ownerLookup);
      expect(config.kubernetes.watchNamespaces).toBe(ownerLookup);
      // Owner lookups on exactly when their RBAC is granted, and the socket mounted exactly when read.
      for (const resource of ['namespaces', 'replicasets', 'jobs'])
        expect(grants(listed, resource)).toBe(ownerLookup);
      const mounts = onlyContainer(daemonSetPod(listed)).volumeMounts?.map((m) => m.mountPath);
      expect(mounts?.includes('/run/falco')).toBe(grpcLegacy);
      // What the base sets, whatever was added.
      expect(config.sources.http.enabled).toBe(true);
      expect(config.kubernetes.enabled).toBe(true);
      expect(config.rules.files).toEqual(['/etc/perch/rules/rules.yaml']);
      expect(config.delivery.spoolPath).toBe('/var/lib/perch/spool.db');
      expect(config.server.shutdownGrace).toBe(20_000);
      // The hub component adds the agents' forwarding; their console stays for node-local logs.
      expect(Object.keys(config.sinks)).toEqual(s.includes('hub') ? ['console', 'hub'] : ['console']);
    },
  );

  it('`perch check` accepts each distinct configuration, run as the container runs', async () => {
    // Combinations that mount the same files the same way are one check: the rest cannot differ.
    const distinct = new Map<string, { what: string[]; objects: K8sObject[] }>();
    for (const s of subsets) {
      const { listed } = renderingOf(s);
      const pod = daemonSetPod(listed);
      const key = JSON.stringify([
        dataOf(listed, 'ConfigMap', 'perch-config'),
        dataOf(listed, 'ConfigMap', 'perch-config-d'),
        pod.volumes,
        onlyContainer(pod),
      ]);
      const entry = distinct.get(key) ?? { what: [], objects: listed };
      entry.what.push(label(s));
      distinct.set(key, entry);
    }
    expect(distinct.size).toBeGreaterThanOrEqual(4);
    for (const { what, objects } of distinct.values()) {
      const result = await runInPod({
        objects,
        // `run` becomes `check`, with the container's own --config.
        args: (args) => ['check', ...args.filter((a) => a !== 'run')],
        hostPaths: hostPathStandIns(objects),
        serviceAccountDir: serviceAccountFiles('unused-by-check'),
        fieldRefs: { 'spec.nodeName': 'node-a' },
        kubeletEnv: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: '6443' },
      });
      expect({ what, ...result }).toMatchObject({
        what,
        code: 0,
        stdout: expect.stringMatching(/^\/etc\/perch\/perch\.yaml: OK/),
      });
    }
  }, 300_000);
});
