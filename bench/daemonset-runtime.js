// The process settings the shipped DaemonSet gives `perch run` (NODE_OPTIONS with V8's heap derived
// from the container's memory limit, MALLOC_ARENA_MAX), read from daemonset/base/daemonset.yaml so
// that the footprint figures measure Perch as it runs on a node, and follow the manifest when it
// changes. Only the two kinds of env the manifest uses are resolved: a value, and a
// resourceFieldRef on limits.memory with a divisor in Mi or Gi; anything else is an error here
// rather than a silently different process.

import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';

const MANIFEST = new URL('../daemonset/base/daemonset.yaml', import.meta.url);
const BINARY_UNITS = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30 };

function bytes(quantity) {
  const match = /^(\d+)(Ki|Mi|Gi)$/.exec(String(quantity));
  if (!match)
    throw new Error(`daemonset.yaml: quantity "${quantity}": expected a whole number of Ki, Mi or Gi`);
  return Number(match[1]) * BINARY_UNITS[match[2]];
}

/** { env, memoryLimit, describe }: the perch container's process env as the kubelet would set it. */
export function daemonSetRuntime() {
  const docs = parseAllDocuments(readFileSync(MANIFEST, 'utf8')).map((d) => d.toJS());
  const daemonSet = docs.find((d) => d?.kind === 'DaemonSet');
  const container = daemonSet?.spec?.template?.spec?.containers?.find((c) => c.name === 'perch');
  if (!container) throw new Error('daemonset.yaml: no DaemonSet with a container named perch');
  const limit = container.resources?.limits?.memory;
  const env = {};
  for (const item of container.env ?? []) {
    if (item.value !== undefined) {
      env[item.name] = String(item.value).replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name) =>
        name in env ? env[name] : whole,
      );
    } else if (item.valueFrom?.resourceFieldRef?.resource === 'limits.memory') {
      const divisor = item.valueFrom.resourceFieldRef.divisor ?? '1Mi';
      env[item.name] = String(Math.ceil(bytes(limit) / bytes(divisor)));
    }
    // fieldRef (the node name) and secrets are set by the bench itself or not needed.
  }
  const settings = ['NODE_OPTIONS', 'MALLOC_ARENA_MAX'].filter((name) => name in env);
  const picked = Object.fromEntries(settings.map((name) => [name, env[name]]));
  return {
    env: picked,
    memoryLimit: limit,
    describe: settings.map((name) => `${name}=${env[name]}`).join(' '),
  };
}
