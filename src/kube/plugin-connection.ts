import type { RequestOptions } from 'node:https';
import { type ApiConnection, keepAliveAgent, parseServer } from './api-connection.js';

/**
 * A connection whose credentials come from a kubeconfig `exec` or `auth-provider` plugin (cloud
 * CLIs on a laptop). Only then is @kubernetes/client-node loaded (tens of MB): it runs the plugin
 * and caches and refreshes what it returns; Perch still does the requests itself.
 */
export async function pluginConnection(paths: readonly string[], context: string): Promise<ApiConnection> {
  const k8s = await import('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  for (const [i, path] of paths.entries()) {
    if (i === 0) {
      kc.loadFromFile(path);
      continue;
    }
    const next = new k8s.KubeConfig();
    next.loadFromFile(path);
    kc.mergeConfig(next, true);
  }
  kc.setCurrentContext(context);
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error(`context "${context}" has no cluster`);
  const server = parseServer(cluster.server, `the server of cluster "${cluster.name}"`);
  return {
    server,
    agent: keepAliveAgent(server),
    requestOptions: async () => {
      const options: RequestOptions = {};
      await kc.applyToHTTPSOptions(options);
      return options;
    },
    // The plugin decides when its credential expires; client-node asks it again then.
    credentialsRejected: () => false,
  };
}
