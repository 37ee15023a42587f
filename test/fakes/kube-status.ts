// metav1.Status bodies shaped like k8s.io/apimachinery pkg/api/errors (field order as the apiserver emits it).

import { qualifiedResource, type ResourceInfo } from './kube-resources.js';

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update';

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  causes?: { reason?: string; message: string; field?: string }[];
  retryAfterSeconds?: number;
}

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure';
  message: string;
  reason: string;
  details?: StatusDetails;
  code: number;
}

export function failure(code: number, reason: string, message: string, details?: StatusDetails): Status {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  };
}

function resourceDetails(info: ResourceInfo | undefined, name?: string): StatusDetails | undefined {
  if (!info) return undefined;
  const details: StatusDetails = {};
  if (name !== undefined) details.name = name;
  if (info.group !== '') details.group = info.group;
  details.kind = info.resource;
  return details;
}

export function unauthorized(): Status {
  return failure(401, 'Unauthorized', 'Unauthorized');
}

/** `pods is forbidden: User "x" cannot list resource "pods" in API group "" at the cluster scope` */
export function forbidden(
  user: string,
  verb: Verb,
  info: ResourceInfo | undefined,
  namespace?: string,
  name?: string,
): Status {
  if (!info) return failure(403, 'Forbidden', `forbidden: User "${user}" cannot ${verb} path`);
  const subject = name === undefined ? qualifiedResource(info) : `${qualifiedResource(info)} "${name}"`;
  const scope =
    namespace === undefined || !info.namespaced ? 'at the cluster scope' : `in the namespace "${namespace}"`;
  const message = `${subject} is forbidden: User "${user}" cannot ${verb} resource "${info.resource}" in API group "${info.group}" ${scope}`;
  return failure(403, 'Forbidden', message, resourceDetails(info, name));
}

export function notFound(info: ResourceInfo, name: string): Status {
  return failure(
    404,
    'NotFound',
    `${qualifiedResource(info)} "${name}" not found`,
    resourceDetails(info, name),
  );
}

/** POST of a name that exists: `leases.coordination.k8s.io "x" already exists` (errors.NewAlreadyExists). */
export function alreadyExists(info: ResourceInfo, name: string): Status {
  return failure(
    409,
    'AlreadyExists',
    `${qualifiedResource(info)} "${name}" already exists`,
    resourceDetails(info, name),
  );
}

/** PUT with a stale metadata.resourceVersion (errors.NewConflict with registry's OptimisticLockErrorMsg). */
export function conflict(info: ResourceInfo, name: string): Status {
  return failure(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${qualifiedResource(info)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    resourceDetails(info, name),
  );
}

export function pathNotFound(): Status {
  return failure(404, 'NotFound', 'the server could not find the requested resource', {});
}

export function internalError(message = 'fake kube api: injected failure'): Status {
  return failure(500, 'InternalError', `Internal error occurred: ${message}`, { causes: [{ message }] });
}

export function badRequest(message: string): Status {
  return failure(400, 'BadRequest', message);
}

export function methodNotAllowed(method: string): Status {
  return failure(
    405,
    'MethodNotAllowed',
    `the server does not allow this method on the requested resource (${method})`,
  );
}

/** `too old resource version: 15 (20)` (watch_cache.go), reason Expired (errors.NewResourceExpired). */
export function expired(requested: number | string, oldest: number | string): Status {
  return failure(410, 'Expired', `too old resource version: ${requested} (${oldest})`);
}

const REASONS: Readonly<Record<number, string>> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  410: 'Expired',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

/** The Status body the real apiserver would send with this HTTP code for this request. */
export function statusFor(
  code: number,
  context: { user: string; verb: Verb; info?: ResourceInfo; namespace?: string; name?: string },
  message?: string,
): Status {
  const { user, verb, info, namespace, name } = context;
  if (message !== undefined)
    return failure(code, REASONS[code] ?? 'Unknown', message, resourceDetails(info, name));
  switch (code) {
    case 401:
      return unauthorized();
    case 403:
      return forbidden(user, verb, info, namespace, name);
    case 404:
      return info && name !== undefined ? notFound(info, name) : pathNotFound();
    case 410:
      return expired(0, 0);
    case 429:
      return failure(429, 'TooManyRequests', 'Too many requests, please try again later.', {
        retryAfterSeconds: 1,
      });
    case 500:
      return internalError();
    default:
      return failure(code, REASONS[code] ?? 'Unknown', `fake kube api: injected ${code}`);
  }
}
