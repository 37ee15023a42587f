import * as k8s from '@kubernetes/client-node';
import type { ResourceSpec } from './resource-watcher.js';

/** This node's pods: both the list and the watch carry the node field selector. */
export function podsOfNode(nodeName: string): ResourceSpec {
  const fieldSelector = `spec.nodeName=${nodeName}`;
  return {
    name: 'pods',
    path: '/api/v1/pods',
    fieldSelector,
    list: (kc) => {
      const api = kc.makeApiClient(k8s.CoreV1Api);
      return () => api.listPodForAllNamespaces({ fieldSelector });
    },
  };
}

export const RUNTIME_CLASSES: ResourceSpec = {
  name: 'runtimeclasses',
  path: '/apis/node.k8s.io/v1/runtimeclasses',
  list: (kc) => {
    const api = kc.makeApiClient(k8s.NodeV1Api);
    return () => api.listRuntimeClass();
  },
};

export const NAMESPACES: ResourceSpec = {
  name: 'namespaces',
  path: '/api/v1/namespaces',
  list: (kc) => {
    const api = kc.makeApiClient(k8s.CoreV1Api);
    return () => api.listNamespace();
  },
};

export const REPLICA_SETS: ResourceSpec = {
  name: 'replicasets',
  path: '/apis/apps/v1/replicasets',
  list: (kc) => {
    const api = kc.makeApiClient(k8s.AppsV1Api);
    return () => api.listReplicaSetForAllNamespaces();
  },
};

export const JOBS: ResourceSpec = {
  name: 'jobs',
  path: '/apis/batch/v1/jobs',
  list: (kc) => {
    const api = kc.makeApiClient(k8s.BatchV1Api);
    return () => api.listJobForAllNamespaces();
  },
};
