import { hostname } from 'node:os';
import type { KubernetesConfig } from '../config/schema.js';
import type { Logger } from '../logging/logger.js';
import type { PerchMetrics } from '../metrics/perch-metrics.js';
import type { ReadinessCheck } from '../server/http-server.js';
import { ClusterState, type ClusterStateOptions } from './cluster-state.js';
import type { KubeCluster } from './kube-cluster.js';
import { type ClusterLocation, locateCluster } from './kube-connection.js';
import { loadClusterDump } from './offline-cluster.js';

/**
 * Where alerts get their Kubernetes context: live watches of the API server, a dump file for
 * offline use, or nothing (alerts then say `disabled`). Owns the cache and the watches' lifecycle.
 */
export class KubernetesContext {
  readonly state: ClusterState;
  readonly nodeName: string;
  private cluster?: KubeCluster;
  private readonly location?: Extract<ClusterLocation, { use: true }>;
  private readonly resources: { name: string; required: boolean }[] = [];
  private metricsTimer?: NodeJS.Timeout;
  readonly mode: 'watch' | 'dump' | 'disabled';

  constructor(
    private readonly config: KubernetesConfig,
    nodeName: string | undefined,
    private readonly metrics: PerchMetrics,
    private readonly log: Logger,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.nodeName = nodeName ?? env.NODE_NAME ?? hostname();
    this.state = new ClusterState(clusterStateOptions(config, this.nodeName));
    if (config.podsFile) {
      const counts = loadClusterDump(config.podsFile, this.state);
      log.info({ file: config.podsFile, loaded: counts }, 'Kubernetes context from a dump file');
      this.mode = 'dump';
      return;
    }
    const location = locateCluster(config, env);
    if (!location.use) {
      log.info({ reason: location.reason }, 'running without Kubernetes context');
      this.mode = 'disabled';
      return;
    }
    this.mode = 'watch';
    this.location = location;
    this.resources = [
      { name: 'pods', required: true },
      { name: 'runtimeclasses', required: true },
      ...(config.watchNamespaces ? [{ name: 'namespaces', required: false }] : []),
      ...(config.watchOwners
        ? [
            { name: 'replicasets', required: false },
            { name: 'jobs', required: false },
          ]
        : []),
    ];
  }

  get enabled(): boolean {
    return this.mode !== 'disabled';
  }

  async start(): Promise<void> {
    if (this.location) {
      // Loaded only in watch mode: dumps and replays do without the client.
      const { connectToCluster } = await import('./cluster-connection.js');
      const { KubeCluster } = await import('./kube-cluster.js');
      const { connection, describe } = await connectToCluster(this.location, this.config.context);
      this.log.info({ connection: describe, node: this.nodeName }, "watching this node's pods");
      this.cluster = new KubeCluster(
        connection,
        this.state,
        {
          nodeName: this.nodeName,
          watchNamespaces: this.config.watchNamespaces,
          watchOwners: this.config.watchOwners,
          onRestart: (resource) => this.metrics.kubeWatchRestarts.inc({ resource }),
        },
        this.log,
      );
    }
    this.metricsTimer = setInterval(() => this.updateGauges(), 5000);
    this.metricsTimer.unref();
    this.updateGauges();
    // Watches start in the background: alerts flow (and wait briefly for pods) while the first list runs.
    void this.cluster?.start();
  }

  async stop(): Promise<void> {
    clearInterval(this.metricsTimer);
    await this.cluster?.stop();
  }

  readinessChecks(): ReadinessCheck[] {
    return this.resources.map(({ name: resource, required }) => ({
      name: `kubernetes ${resource}`,
      required: false,
      check: () => {
        const status = this.cluster?.statuses().find((s) => s.resource === resource)?.status;
        if (!status) return { up: false, detail: 'not started yet' };
        if (status.problem)
          return {
            up: false,
            detail: `${status.problem.message}${status.synced ? '; serving the cached state' : ''}`,
          };
        return status.synced
          ? { up: true }
          : { up: false, detail: required ? 'first list still running' : 'not synced yet' };
      },
    }));
  }

  updateGauges(): void {
    const size = this.state.pods.size;
    this.metrics.kubeObjects.set({ kind: 'pods' }, size.live);
    this.metrics.kubeObjects.set({ kind: 'pods_deleted' }, size.deleted);
    this.metrics.kubeObjects.set({ kind: 'container_ids' }, size.containerIds);
    this.metrics.kubeObjects.set({ kind: 'runtimeclasses' }, this.state.runtimeClasses.size);
    for (const { resource, status } of this.cluster?.statuses() ?? []) {
      this.metrics.kubeWatchUp.set({ resource }, status.synced && !status.problem ? 1 : 0);
      if (status.lastSyncMs) this.metrics.kubeLastSync.set({ resource }, status.lastSyncMs / 1000);
    }
  }
}

/** The cache settings from `kubernetes:`; replay uses the same, so offline output matches the agent's. */
export function clusterStateOptions(config: KubernetesConfig, nodeName?: string): ClusterStateOptions {
  return {
    ...(nodeName ? { nodeName } : {}),
    labelAllowlist: config.labels,
    annotationAllowlist: config.annotations,
    handlerIsolation: config.isolation,
    deletedGraceMs: config.deletedPodGrace,
  };
}
