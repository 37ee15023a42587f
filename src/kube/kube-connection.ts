import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import type { KubernetesConfig } from '../config/schema.js';

export type ConnectionChoice =
  | { use: true; kubeConfig: k8s.KubeConfig; describe: string }
  | { use: false; reason: string };

/**
 * Where the API server is: an explicit kubeconfig, the pod's service account, or $KUBECONFIG /
 * ~/.kube/config. With `enabled: auto` and none of these, Perch runs without Kubernetes context
 * rather than falling back to client-node's default of http://localhost:8080.
 */
export function chooseConnection(
  config: KubernetesConfig,
  env: NodeJS.ProcessEnv = process.env,
): ConnectionChoice {
  if (config.enabled === false) return { use: false, reason: 'kubernetes.enabled is false' };
  const kc = new k8s.KubeConfig();
  if (config.kubeconfig) {
    kc.loadFromFile(config.kubeconfig);
    return select(kc, config, `kubeconfig ${config.kubeconfig}`);
  }
  if (env.KUBERNETES_SERVICE_HOST) {
    kc.loadFromCluster();
    return { use: true, kubeConfig: kc, describe: 'in-cluster service account' };
  }
  const defaultPath = env.KUBECONFIG || join(homedir(), '.kube', 'config');
  if (env.KUBECONFIG || existsSync(defaultPath)) {
    kc.loadFromDefault();
    return select(kc, config, `kubeconfig ${defaultPath}`);
  }
  if (config.enabled === true) {
    throw new Error(
      'kubernetes.enabled is true but no cluster was found: not in a pod (no KUBERNETES_SERVICE_HOST), no $KUBECONFIG, no ~/.kube/config; set kubernetes.kubeconfig',
    );
  }
  return { use: false, reason: 'no in-cluster service account and no kubeconfig (kubernetes.enabled: auto)' };
}

function select(kc: k8s.KubeConfig, config: KubernetesConfig, describe: string): ConnectionChoice {
  if (config.context) kc.setCurrentContext(config.context);
  if (!kc.getCurrentCluster())
    throw new Error(`${describe} has no current cluster (context "${kc.getCurrentContext()}")`);
  return { use: true, kubeConfig: kc, describe: `${describe}, context ${kc.getCurrentContext()}` };
}
