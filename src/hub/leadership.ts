import type { HubConfig, KubernetesConfig } from '../config/schema.js';
import { locateCluster } from '../kube/kube-connection.js';
import type { Logger } from '../logging/logger.js';
import { kubeLeaseStore } from './kube-lease-store.js';
import { type LeaderCallbacks, LeaseElector } from './lease-elector.js';
import { leaseIdentity, leaseNamespace } from './lease-identity.js';

export interface Leadership {
  readonly describe: string;
  /** The holder of the lease, when known. */
  holder(): string | undefined;
  start(): void;
  /** Stops; a leader hands the lease back so that a standby takes over at once. */
  stop(): Promise<void>;
}

/**
 * A Lease elector when a cluster is at hand; otherwise (a laptop, a test, or
 * `hub.leaderElection.enabled: false`) this hub leads alone from the start.
 */
export async function createLeadership(
  hub: HubConfig,
  kubernetes: KubernetesConfig,
  callbacks: LeaderCallbacks,
  log: Logger,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Leadership> {
  const election = hub.leaderElection;
  const identity = leaseIdentity(election.identity, env);
  const lone = (why: string): Leadership => ({
    describe: `single leader (${why})`,
    holder: () => identity,
    start: () => callbacks.onStartedLeading(false),
    stop: async () => undefined,
  });
  if (election.enabled === false) return lone('hub.leaderElection.enabled is false');
  const location = locateCluster(
    election.enabled === true ? { ...kubernetes, enabled: true } : { ...kubernetes, enabled: 'auto' },
    env,
  );
  if (!location.use) return lone(location.reason);
  const namespace = leaseNamespace(election.namespace, env);
  const store = await kubeLeaseStore(location, kubernetes, namespace, election.leaseName);
  const elector = new LeaseElector(
    store,
    identity,
    {
      leaseDurationMs: election.leaseDuration,
      renewDeadlineMs: election.renewDeadline,
      retryPeriodMs: election.retryPeriod,
    },
    callbacks,
    log,
  );
  return {
    describe: `${store.describe} as ${identity} (${location.describe})`,
    holder: () => elector.holder,
    start: () => elector.start(),
    stop: () => elector.stop(),
  };
}
