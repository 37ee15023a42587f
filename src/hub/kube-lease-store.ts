import type { KubernetesConfig } from '../config/schema.js';
import type { ClusterLocation } from '../kube/kube-connection.js';
import { LeaseConflict, type LeaseRecord, type LeaseStore, type StoredLease } from './lease-record.js';

/**
 * The Lease through @kubernetes/client-node's CoordinationV1Api. Imported lazily and only by the
 * hub: one Deployment, so the library's memory is not multiplied by the nodes as an agent's would be.
 */
export async function kubeLeaseStore(
  location: Extract<ClusterLocation, { use: true }>,
  kubernetes: KubernetesConfig,
  namespace: string,
  name: string,
): Promise<LeaseStore> {
  // One after the other: both load the same library, which must be evaluated once.
  const { loadKubeConfig } = await import('../kube/kube-config-loader.js');
  const k8s = await import('@kubernetes/client-node');
  const { kubeConfig } = loadKubeConfig(location, kubernetes);
  const api = kubeConfig.makeApiClient(k8s.CoordinationV1Api);
  const describe = `Lease ${namespace}/${name}`;
  const spec = (record: LeaseRecord) => ({
    holderIdentity: record.holderIdentity,
    leaseDurationSeconds: record.leaseDurationSeconds,
    acquireTime: record.acquireTime,
    renewTime: record.renewTime,
    leaseTransitions: record.leaseTransitions,
  });
  const conflictOr = (err: unknown): never => {
    if (err instanceof k8s.ApiException && err.code === 409) throw new LeaseConflict(`${describe} changed`);
    throw err instanceof k8s.ApiException ? new Error(`${describe}: HTTP ${err.code}`) : err;
  };
  return {
    describe,
    async get(): Promise<StoredLease | undefined> {
      let lease: Awaited<ReturnType<typeof api.readNamespacedLease>>;
      try {
        lease = await api.readNamespacedLease({ name, namespace });
      } catch (err) {
        if (err instanceof k8s.ApiException && err.code === 404) return undefined;
        throw err instanceof k8s.ApiException ? new Error(`${describe}: HTTP ${err.code}`) : err;
      }
      const s = lease.spec ?? {};
      return {
        resourceVersion: lease.metadata?.resourceVersion ?? '',
        record: {
          holderIdentity: s.holderIdentity ?? '',
          leaseDurationSeconds: s.leaseDurationSeconds ?? 0,
          acquireTime: toDate(s.acquireTime),
          renewTime: toDate(s.renewTime),
          leaseTransitions: s.leaseTransitions ?? 0,
        },
      };
    },
    async create(record) {
      await api
        .createNamespacedLease({ namespace, body: { metadata: { name, namespace }, spec: spec(record) } })
        .catch(conflictOr);
    },
    async update(record, resourceVersion) {
      await api
        .replaceNamespacedLease({
          name,
          namespace,
          body: { metadata: { name, namespace, resourceVersion }, spec: spec(record) },
        })
        .catch(conflictOr);
    },
  };
}

function toDate(value: Date | string | undefined): Date {
  return value === undefined ? new Date(0) : new Date(value);
}
