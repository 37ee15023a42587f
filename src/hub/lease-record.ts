/** The fields of a coordination.k8s.io/v1 Lease that leader election reads and writes. */
export interface LeaseRecord {
  /** Empty when nobody holds the lease (a leader released it on shutdown). */
  holderIdentity: string;
  leaseDurationSeconds: number;
  acquireTime: Date;
  renewTime: Date;
  leaseTransitions: number;
}

export interface StoredLease {
  record: LeaseRecord;
  /** metadata.resourceVersion: an update with an older one is refused (409 Conflict). */
  resourceVersion: string;
}

/** Another writer changed the Lease between our read and our write: re-read and decide again. */
export class LeaseConflict extends Error {}

/** The Lease in the API server: get (undefined when absent), create, update with optimistic concurrency. */
export interface LeaseStore {
  readonly describe: string;
  get(): Promise<StoredLease | undefined>;
  /** Throws LeaseConflict when the Lease exists already. */
  create(record: LeaseRecord): Promise<void>;
  /** Throws LeaseConflict when `resourceVersion` is no longer the Lease's. */
  update(record: LeaseRecord, resourceVersion: string): Promise<void>;
}
