import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { KubernetesConfig } from '../config/schema.js';

export type ClusterLocation =
  | { use: true; kind: 'file' | 'in-cluster' | 'default'; path?: string; describe: string }
  | { use: false; reason: string };

/**
 * Where the API server is: an explicit kubeconfig, the pod's service account, or $KUBECONFIG /
 * ~/.kube/config. With `enabled: auto` and none of these, Perch runs without Kubernetes context
 * rather than guessing an API server. Decided without reading any credentials, which only watch
 * mode needs.
 */
export function locateCluster(
  config: KubernetesConfig,
  env: NodeJS.ProcessEnv = process.env,
): ClusterLocation {
  if (config.enabled === false) return { use: false, reason: 'kubernetes.enabled is false' };
  if (config.kubeconfig)
    return { use: true, kind: 'file', path: config.kubeconfig, describe: `kubeconfig ${config.kubeconfig}` };
  if (env.KUBERNETES_SERVICE_HOST)
    return { use: true, kind: 'in-cluster', describe: 'in-cluster service account' };
  const defaultPath = env.KUBECONFIG || join(homedir(), '.kube', 'config');
  if (env.KUBECONFIG || existsSync(defaultPath)) {
    return { use: true, kind: 'default', path: defaultPath, describe: `kubeconfig ${defaultPath}` };
  }
  if (config.enabled === true) {
    throw new Error(
      'kubernetes.enabled is true but no cluster was found: not in a pod (no KUBERNETES_SERVICE_HOST), no $KUBECONFIG, no ~/.kube/config; set kubernetes.kubeconfig',
    );
  }
  return { use: false, reason: 'no in-cluster service account and no kubeconfig (kubernetes.enabled: auto)' };
}
