// URL path → resource, namespace and name, for the REST paths the fake serves.

import { ALL_RESOURCES, type ResourceInfo } from './kube-resources.js';

export interface Route {
  readonly info: ResourceInfo;
  /** Set for `/namespaces/{ns}/...` paths. */
  readonly namespace?: string;
  /** Set for single-object paths. */
  readonly name?: string;
}

function find(group: string, version: string, resource: string | undefined): ResourceInfo | undefined {
  return ALL_RESOURCES.find((i) => i.group === group && i.version === version && i.resource === resource);
}

/**
 * Accepts
 *   /api/v1/{resource}[/{name}]                    (all namespaces, or cluster-scoped)
 *   /api/v1/namespaces/{ns}/{resource}[/{name}]
 *   /apis/{group}/{version}/... the same shapes
 * A name directly under a namespaced resource (`/api/v1/pods/x`) is not a valid path, like on the apiserver.
 */
export function parseRoute(pathname: string): Route | undefined {
  let segments: string[];
  try {
    segments = pathname
      .split('/')
      .filter((s) => s !== '')
      .map(decodeURIComponent);
  } catch {
    return undefined;
  }
  let group: string;
  let version: string;
  let rest: string[];
  if (segments[0] === 'api' && segments.length >= 3) {
    group = '';
    version = segments[1] ?? '';
    rest = segments.slice(2);
  } else if (segments[0] === 'apis' && segments.length >= 4) {
    group = segments[1] ?? '';
    version = segments[2] ?? '';
    rest = segments.slice(3);
  } else {
    return undefined;
  }

  if (rest[0] === 'namespaces' && rest.length >= 3) {
    const [, namespace = '', resource, name, ...extra] = rest;
    const info = find(group, version, resource);
    if (!info?.namespaced || extra.length > 0) return undefined;
    return name === undefined ? { info, namespace } : { info, namespace, name };
  }
  const [resource, name, ...extra] = rest;
  const info = find(group, version, resource);
  if (!info || extra.length > 0) return undefined;
  if (name === undefined) return { info };
  return info.namespaced ? undefined : { info, name };
}
