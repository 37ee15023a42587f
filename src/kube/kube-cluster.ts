import type { Logger } from '../logging/logger.js';
import type { BackoffOptions } from '../util/backoff.js';
import type { ApiConnection } from './api-connection.js';
import type { ClusterKind, ClusterState } from './cluster-state.js';
import { JOBS, NAMESPACES, podsOfNode, REPLICA_SETS, RUNTIME_CLASSES } from './kube-resources.js';
import { type ResourceSpec, ResourceWatcher, type WatcherStatus } from './resource-watcher.js';

export interface KubeClusterOptions {
  nodeName: string;
  watchNamespaces: boolean;
  watchOwners: boolean;
  backoff?: BackoffOptions;
  onRestart?: (resource: string) => void;
}

/** The watches that keep ClusterState in sync with the API server for this node. */
export class KubeCluster {
  private readonly watchers: { spec: ResourceSpec; required: boolean; watcher: ResourceWatcher }[];

  constructor(
    private readonly connection: ApiConnection,
    state: ClusterState,
    options: KubeClusterOptions,
    log: Logger,
  ) {
    const wanted: { spec: ResourceSpec; kind: ClusterKind; required: boolean }[] = [
      { spec: podsOfNode(options.nodeName), kind: 'pods', required: true },
      { spec: RUNTIME_CLASSES, kind: 'runtimeclasses', required: true },
    ];
    if (options.watchNamespaces) wanted.push({ spec: NAMESPACES, kind: 'namespaces', required: false });
    if (options.watchOwners) {
      wanted.push({ spec: REPLICA_SETS, kind: 'replicasets', required: false });
      wanted.push({ spec: JOBS, kind: 'jobs', required: false });
    }
    this.watchers = wanted.map(({ spec, kind, required }) => ({
      spec,
      required,
      watcher: new ResourceWatcher(
        connection,
        spec,
        { upsert: (o) => state.upsert(kind, o), remove: (o) => state.remove(kind, o) },
        log.child({ component: 'kube' }),
        options.backoff,
        () => options.onRestart?.(spec.name),
      ),
    }));
  }

  async start(): Promise<void> {
    await Promise.all(this.watchers.map((w) => w.watcher.start()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.watchers.map((w) => w.watcher.stop()));
    this.connection.agent.destroy();
  }

  statuses(): { resource: string; required: boolean; status: WatcherStatus }[] {
    return this.watchers.map((w) => ({
      resource: w.spec.name,
      required: w.required,
      status: w.watcher.status(),
    }));
  }
}
