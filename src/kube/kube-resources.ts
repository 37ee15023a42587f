import type { ResourceSpec } from './resource-watcher.js';

/** This node's pods: both the list and the watch carry the node field selector. */
export function podsOfNode(nodeName: string): ResourceSpec {
  return { name: 'pods', path: '/api/v1/pods', fieldSelector: `spec.nodeName=${nodeName}` };
}

export const RUNTIME_CLASSES: ResourceSpec = {
  name: 'runtimeclasses',
  path: '/apis/node.k8s.io/v1/runtimeclasses',
};

export const NAMESPACES: ResourceSpec = { name: 'namespaces', path: '/api/v1/namespaces' };

export const REPLICA_SETS: ResourceSpec = { name: 'replicasets', path: '/apis/apps/v1/replicasets' };

export const JOBS: ResourceSpec = { name: 'jobs', path: '/apis/batch/v1/jobs' };
