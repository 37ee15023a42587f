import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ConnectionSettings } from './api-connection.js';
import { TokenFile } from './bearer-token.js';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** The pod's own service account: the API server from the service env, its CA and rotating token from the mount. */
export function inClusterSettings(
  env: NodeJS.ProcessEnv = process.env,
  dir: string = SERVICE_ACCOUNT_DIR,
): ConnectionSettings {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) {
    throw new Error(
      `in-cluster configuration needs KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT; got host ${JSON.stringify(host ?? '')}, port ${JSON.stringify(port ?? '')}`,
    );
  }
  // An IPv6 service address must be bracketed to be a URL host.
  const urlHost = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  const caPath = join(dir, 'ca.crt');
  let ca: Buffer;
  try {
    ca = readFileSync(caPath);
  } catch (err) {
    throw new Error(
      `cannot read the service account CA ${caPath}: ${(err as NodeJS.ErrnoException).code ?? err}`,
    );
  }
  return {
    server: `https://${urlHost}:${port}`,
    tls: { ca },
    auth: { kind: 'bearer', token: new TokenFile(join(dir, 'token')) },
  };
}
