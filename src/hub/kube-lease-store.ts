import type { KubernetesConfig } from '../config/schema.js';
import { ApiStatusError, getJson, sendJson } from '../kube/api-request.js';
import { connectToCluster } from '../kube/cluster-connection.js';
import type { ClusterLocation } from '../kube/kube-connection.js';
import { LeaseConflict, type LeaseRecord, type LeaseStore, type StoredLease } from './lease-record.js';

/** A Lease call that hangs longer than this has failed: the elector retries on its own period. */
const LEASE_REQUEST_TIMEOUT_MS = 5_000;

interface LeaseObject {
  metadata?: { resourceVersion?: string };
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

/**
 * The coordination.k8s.io/v1 Lease through Perch's own API client (the one the agents' watches
 * use): the same kubeconfigs and in-cluster credentials, token rotation included.
 */
export async function kubeLeaseStore(
  location: Extract<ClusterLocation, { use: true }>,
  kubernetes: KubernetesConfig,
  namespace: string,
  name: string,
): Promise<LeaseStore> {
  const { connection } = await connectToCluster(location, kubernetes.context);
  const describe = `Lease ${namespace}/${name}`;
  const collection = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases`;
  const path = `${collection}/${encodeURIComponent(name)}`;
  const options = () => ({
    idleTimeoutMs: LEASE_REQUEST_TIMEOUT_MS,
    signal: AbortSignal.timeout(LEASE_REQUEST_TIMEOUT_MS),
  });
  const body = (record: LeaseRecord, resourceVersion?: string) => ({
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name, namespace, ...(resourceVersion !== undefined ? { resourceVersion } : {}) },
    spec: {
      holderIdentity: record.holderIdentity,
      leaseDurationSeconds: record.leaseDurationSeconds,
      acquireTime: microTime(record.acquireTime),
      renewTime: microTime(record.renewTime),
      leaseTransitions: record.leaseTransitions,
    },
  });
  const failure = (err: unknown): never => {
    if (err instanceof ApiStatusError && err.statusCode === 409)
      throw new LeaseConflict(`${describe} changed`);
    throw err instanceof ApiStatusError ? new Error(`${describe}: ${err.message}`) : err;
  };
  return {
    describe,
    async get(): Promise<StoredLease | undefined> {
      let lease: LeaseObject;
      try {
        lease = await getJson<LeaseObject>(connection, path, {}, options());
      } catch (err) {
        if (err instanceof ApiStatusError && err.statusCode === 404) return undefined;
        return failure(err);
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
      await sendJson(connection, 'POST', collection, body(record), options()).catch(failure);
    },
    async update(record, resourceVersion) {
      await sendJson(connection, 'PUT', path, body(record, resourceVersion), options()).catch(failure);
    },
  };
}

/** A Lease's times are MicroTime: RFC 3339 with exactly six fractional digits. */
function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

function toDate(value: string | undefined): Date {
  return value === undefined ? new Date(0) : new Date(value);
}
