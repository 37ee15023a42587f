import { chmodSync, mkdirSync, mkdtempSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { K8sObject } from './kustomize.js';
import { type ContainerSpec, dataOf, type PodSpec, type VolumeSpec } from './pod-spec.js';

/** Where the kubelet mounts the service account's token, CA and namespace in every container. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** One mount of the container: a host file or directory bound in, or a fresh tmpfs (an emptyDir). */
export type Mount =
  | { kind: 'bind'; source: string; mountPath: string; readOnly: boolean }
  | { kind: 'tmpfs'; mountPath: string; sizeBytes?: number };

export interface MountOptions {
  /** The host directory that stands in for each hostPath volume, by its path on the node. */
  hostPaths?: Record<string, string>;
  /** token, ca.crt and namespace, as the kubelet projects them; required when the token is mounted. */
  serviceAccountDir?: string;
}

/**
 * The container's mounts as the kubelet would make them from the rendered manifests: ConfigMaps
 * written in the kubelet's layout (a timestamped directory, `..data` pointing at it, one link per
 * key), emptyDirs as tmpfs, hostPaths from the given stand-ins, and the service account token.
 * A volume kind the test cannot stand for is an error.
 */
export function containerMounts(
  objects: K8sObject[],
  pod: PodSpec,
  container: ContainerSpec,
  options: MountOptions = {},
): Mount[] {
  const work = mkdtempSync(join(tmpdir(), 'perch-pod-volumes-'));
  chmodSync(work, 0o755);
  const mounts: Mount[] = (container.volumeMounts ?? []).map((mount) => {
    const volume = pod.volumes?.find((v) => v.name === mount.name);
    if (!volume) throw new Error(`volumeMount ${mount.name} has no volume`);
    if (volume.emptyDir !== undefined) {
      if (mount.subPath) throw new Error(`emptyDir ${volume.name} with a subPath is not emulated`);
      const sizeBytes = quantityBytes(volume.emptyDir?.sizeLimit);
      return { kind: 'tmpfs', mountPath: mount.mountPath, ...(sizeBytes ? { sizeBytes } : {}) };
    }
    if (volume.configMap) {
      const dir = join(work, volume.name);
      writeConfigMapVolume(objects, volume, dir);
      // ConfigMap volumes are read-only whatever the mount says; a subPath is the file itself.
      const source = mount.subPath ? realpathSync(join(dir, mount.subPath)) : dir;
      return { kind: 'bind', source, mountPath: mount.mountPath, readOnly: true };
    }
    if (volume.hostPath) {
      const source = options.hostPaths?.[volume.hostPath.path];
      if (!source)
        throw new Error(`hostPath ${volume.hostPath.path} (volume ${volume.name}): give the test a stand-in`);
      return {
        kind: 'bind',
        source: join(source, mount.subPath ?? ''),
        mountPath: mount.mountPath,
        readOnly: mount.readOnly === true,
      };
    }
    throw new Error(`volume ${volume.name}: only configMap, emptyDir and hostPath volumes are emulated`);
  });
  if (automountsToken(objects, pod)) {
    if (!options.serviceAccountDir)
      throw new Error('the pod mounts its service account token: give serviceAccountDir');
    mounts.push({
      kind: 'bind',
      source: options.serviceAccountDir,
      mountPath: SERVICE_ACCOUNT_DIR,
      readOnly: true,
    });
  }
  return mounts;
}

/**
 * The ConfigMap files the container sees, linked under `root` at their mount paths (root/etc/perch/…),
 * so that Perch can load its configuration in-process from the same layout.
 */
export function linkConfigMapMounts(
  objects: K8sObject[],
  pod: PodSpec,
  container: ContainerSpec,
  root: string,
) {
  const configMapVolumes = new Set(pod.volumes?.filter((v) => v.configMap).map((v) => v.name));
  const only = {
    ...container,
    volumeMounts: container.volumeMounts?.filter((m) => configMapVolumes.has(m.name)),
  };
  for (const mount of containerMounts(objects, { ...pod, automountServiceAccountToken: false }, only)) {
    if (mount.kind !== 'bind') continue;
    const target = join(root, mount.mountPath);
    mkdirSync(dirname(target), { recursive: true });
    symlinkSync(mount.source, target);
  }
}

function writeConfigMapVolume(objects: K8sObject[], volume: VolumeSpec, dir: string): void {
  const spec = volume.configMap;
  if (!spec) return;
  const data = dataOf(objects, 'ConfigMap', spec.name);
  if (!data && !spec.optional)
    throw new Error(`volume ${volume.name}: no ConfigMap ${spec.name} in the rendering`);
  const files = spec.items
    ? spec.items.map((i) => [i.path, data?.[i.key]] as const)
    : Object.entries(data ?? {});
  const version = '..2026_01_01_00_00_00.000000001';
  mkdirSync(join(dir, version), { recursive: true, mode: 0o755 });
  for (const [path, text] of files) {
    if (text === undefined) throw new Error(`ConfigMap ${spec.name} has no key for ${path}`);
    mkdirSync(dirname(join(dir, version, path)), { recursive: true, mode: 0o755 });
    writeFileSync(join(dir, version, path), text, { mode: 0o644 });
  }
  symlinkSync(version, join(dir, '..data'));
  for (const top of new Set(files.map(([path]) => path.split('/')[0] ?? path)))
    symlinkSync(join('..data', top), join(dir, top));
  chmodSync(dir, 0o755);
}

function automountsToken(objects: K8sObject[], pod: PodSpec): boolean {
  if (pod.automountServiceAccountToken !== undefined) return pod.automountServiceAccountToken;
  const account = objects.find(
    (o) => o.kind === 'ServiceAccount' && o.metadata.name === (pod.serviceAccountName ?? 'default'),
  ) as { automountServiceAccountToken?: boolean } | undefined;
  return account?.automountServiceAccountToken ?? true;
}

/** `256Mi`, `1G`, `512` → bytes; undefined when unset. */
function quantityBytes(quantity: string | undefined): number | undefined {
  if (quantity === undefined) return undefined;
  const m = /^(\d+)(Ki|Mi|Gi|k|M|G)?$/.exec(quantity);
  if (!m) throw new Error(`sizeLimit ${quantity}: not a quantity this test understands`);
  const unit = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, k: 1e3, M: 1e6, G: 1e9 }[m[2] ?? ''] ?? 1;
  return Number(m[1]) * unit;
}
