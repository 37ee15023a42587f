import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

const SERVICE_ACCOUNT_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/** The Lease's namespace: configured, else $POD_NAMESPACE, else the service account's, else `default`. */
export function leaseNamespace(
  configured: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  readNamespaceFile: () => string | undefined = readServiceAccountNamespace,
): string {
  return configured ?? (env.POD_NAMESPACE || undefined) ?? readNamespaceFile() ?? 'default';
}

/** This replica's name in the Lease: configured, else $POD_NAME, else the host name (the pod's name in a pod). */
export function leaseIdentity(configured: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return configured ?? (env.POD_NAME || undefined) ?? hostname();
}

function readServiceAccountNamespace(): string | undefined {
  try {
    return readFileSync(SERVICE_ACCOUNT_NAMESPACE, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}
