import { readFileSync } from 'node:fs';
import type { ClusterKind, ClusterState } from './cluster-state.js';

const KINDS: Record<string, ClusterKind> = {
  Pod: 'pods',
  RuntimeClass: 'runtimeclasses',
  Namespace: 'namespaces',
  ReplicaSet: 'replicasets',
  Job: 'jobs',
};

/**
 * Loads a `kubectl get pods,runtimeclasses -o json` dump (a List whose items carry their kind;
 * namespaces, replicasets and jobs are taken too) so replay and the demo enrich without a cluster.
 * Returns how many objects of each kind were loaded.
 */
export function loadClusterDump(path: string, state: ClusterState): Record<string, number> {
  let document: unknown;
  try {
    document = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read cluster dump ${path}: ${(err as Error).message}`);
  }
  const doc = document as { kind?: unknown; items?: unknown };
  const items = Array.isArray(doc.items) ? doc.items : [document];
  const listKind = typeof doc.kind === 'string' ? doc.kind.replace(/List$/, '') : undefined;
  const counts: Record<string, number> = {};
  for (const item of items as { kind?: unknown }[]) {
    const kindName = typeof item.kind === 'string' ? item.kind : listKind;
    const kind = kindName ? KINDS[kindName] : undefined;
    if (!kind) continue;
    state.upsert(kind, item);
    counts[kind] = (counts[kind] ?? 0) + 1;
  }
  if (Object.keys(counts).length === 0) {
    throw new Error(
      `${path} holds no pods or runtime classes: expected the output of kubectl get pods,runtimeclasses -o json`,
    );
  }
  return counts;
}
