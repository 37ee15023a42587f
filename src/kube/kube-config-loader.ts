import * as k8s from '@kubernetes/client-node';
import type { KubernetesConfig } from '../config/schema.js';
import type { ClusterLocation } from './kube-connection.js';

/** Loads the client's KubeConfig for a located cluster (imported lazily: only watch mode needs it). */
export function loadKubeConfig(
  location: Extract<ClusterLocation, { use: true }>,
  config: KubernetesConfig,
): { kubeConfig: k8s.KubeConfig; describe: string } {
  const kc = new k8s.KubeConfig();
  if (location.kind === 'in-cluster') {
    kc.loadFromCluster();
    return { kubeConfig: kc, describe: location.describe };
  }
  if (location.kind === 'file' && location.path) kc.loadFromFile(location.path);
  else kc.loadFromDefault();
  if (config.context) kc.setCurrentContext(config.context);
  if (!kc.getCurrentCluster()) {
    throw new Error(`${location.describe} has no current cluster (context "${kc.getCurrentContext()}")`);
  }
  return { kubeConfig: kc, describe: `${location.describe}, context ${kc.getCurrentContext()}` };
}
