import { delimiter } from 'node:path';
import { type ApiConnection, apiConnection } from './api-connection.js';
import { inClusterSettings } from './in-cluster.js';
import type { ClusterLocation } from './kube-connection.js';
import { type KubeconfigSelection, readKubeconfig } from './kubeconfig-file.js';

type Located = Extract<ClusterLocation, { use: true }>;

/** The kubeconfig files of a location: `$KUBECONFIG` may list several. */
function kubeconfigPaths(location: Located): string[] {
  const path = location.path ?? '';
  return location.kind === 'default' ? path.split(delimiter).filter(Boolean) : [path];
}

/**
 * Reads and checks the kubeconfig of a located cluster without connecting (what `perch check`
 * validates); `context` is `kubernetes.context`, else the kubeconfig's current-context.
 */
export function selectKubeconfig(location: Located, context: string | undefined): KubeconfigSelection {
  return readKubeconfig(kubeconfigPaths(location), context);
}

/** How to reach a located cluster: the pod's service account, or the kubeconfig's selected context. */
export async function connectToCluster(
  location: Located,
  context: string | undefined,
): Promise<{ connection: ApiConnection; describe: string }> {
  if (location.kind === 'in-cluster') {
    return { connection: apiConnection(inClusterSettings()), describe: location.describe };
  }
  const selection = selectKubeconfig(location, context);
  const describe = `${location.describe}, context ${selection.context}`;
  if (selection.kind === 'direct') return { connection: apiConnection(selection.settings), describe };
  const { pluginConnection } = await import('./plugin-connection.js');
  return {
    connection: await pluginConnection(kubeconfigPaths(location), selection.context),
    describe: `${describe} (user ${selection.user} through its ${selection.plugin} plugin)`,
  };
}
