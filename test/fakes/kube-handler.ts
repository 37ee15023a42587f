// The HTTP side of the fake: authentication, injected faults, routing, and the list / get / watch responses.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FaultInjector } from './kube-faults.js';
import { type KubeObjectLike, withoutTypeMeta, withTypeMeta } from './kube-objects.js';
import type { RequestLog } from './kube-request-log.js';
import type { ResourceInfo } from './kube-resources.js';
import { parseRoute, type Route } from './kube-routes.js';
import { compileFilter, type ObjectFilter, SelectorError } from './kube-selectors.js';
import {
  alreadyExists,
  badRequest,
  conflict,
  expired,
  methodNotAllowed,
  notFound,
  pathNotFound,
  type Status,
  statusFor,
  unauthorized,
  type Verb,
} from './kube-status.js';
import type { KubeStore } from './kube-store.js';
import { WatchStream } from './kube-watch.js';

/** How a watch from a resourceVersion older than the history window is answered. */
export type TooOldMode = 'event' | 'http';

/** Settings the test can change while the server runs. */
export interface HandlerSettings {
  token: string | undefined;
  user: string;
  tooOld: TooOldMode;
  bookmarkIntervalMs: number | undefined;
}

export interface HandlerContext {
  readonly settings: HandlerSettings;
  readonly store: KubeStore;
  readonly faults: FaultInjector;
  readonly log: RequestLog;
  readonly watches: Set<WatchStream>;
}

const TRUE_VALUES = new Set(['1', 't', 'T', 'true', 'TRUE', 'True']);

interface Parsed {
  readonly path: string;
  readonly query: Record<string, string>;
  readonly route: Route | undefined;
  readonly verb: Verb | undefined;
}

export function handleRequest(ctx: HandlerContext, req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://fake.invalid');
  const query = Object.fromEntries(url.searchParams);
  const route = parseRoute(url.pathname);
  const verb = route ? verbOf(route, query, req.method) : undefined;
  const { authorization, accept } = req.headers;
  const userAgent = req.headers['user-agent'];
  const entry = ctx.log.record({
    method: req.method ?? 'GET',
    path: url.pathname,
    query,
    headers: {
      ...(authorization === undefined ? {} : { authorization }),
      ...(accept === undefined ? {} : { accept }),
      ...(userAgent === undefined ? {} : { userAgent }),
    },
    ...(route ? { resource: route.info.resource } : {}),
    ...(route?.namespace === undefined ? {} : { namespace: route.namespace }),
    ...(route?.name === undefined ? {} : { name: route.name }),
    ...(verb === undefined ? {} : { verb }),
  });
  const answer = (body: string | undefined) => {
    let failure: Status | undefined;
    try {
      failure = dispatch(ctx, req, res, { path: url.pathname, query, route, verb }, body);
    } catch (err) {
      failure = statusFor(500, { user: ctx.settings.user, verb: verb ?? 'get' }, String(err));
    }
    if (failure && !res.headersSent) sendJson(res, failure.code, failure);
    ctx.log.settle(entry, res.statusCode);
  };
  if (req.method !== 'POST' && req.method !== 'PUT') {
    answer(undefined);
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => answer(Buffer.concat(chunks).toString('utf8')));
}

function verbOf(route: Route, query: Record<string, string>, method: string | undefined): Verb {
  if (method === 'POST') return 'create';
  if (method === 'PUT') return 'update';
  if (TRUE_VALUES.has(query.watch ?? '')) return 'watch';
  return route.name === undefined ? 'list' : 'get';
}

function authorized(settings: HandlerSettings, req: IncomingMessage): boolean {
  if (settings.token === undefined) return true;
  const [scheme, credential] = (req.headers.authorization ?? '').split(' ');
  return scheme?.toLowerCase() === 'bearer' && credential === settings.token;
}

/** Responds, or returns the Status to send as the error response. */
function dispatch(
  ctx: HandlerContext,
  req: IncomingMessage,
  res: ServerResponse,
  { path, query, route, verb }: Parsed,
  body: string | undefined,
): Status | undefined {
  if (path === '/healthz' || path === '/livez' || path === '/readyz') {
    res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' }).end('ok');
    return undefined;
  }
  if (!authorized(ctx.settings, req)) return unauthorized();
  const fault = ctx.faults.take({ path, resource: route?.info.resource, verb });
  if (fault) {
    const context = {
      user: ctx.settings.user,
      verb: verb ?? 'get',
      ...(route ? { info: route.info } : {}),
      ...(route?.namespace === undefined ? {} : { namespace: route.namespace }),
      ...(route?.name === undefined ? {} : { name: route.name }),
    };
    return statusFor(fault.status, context, fault.message);
  }
  if (!route || !verb) return pathNotFound();
  if (verb === 'create' || verb === 'update') return write(ctx, res, route, verb, body ?? '');
  if (req.method !== 'GET') return methodNotAllowed(req.method ?? '');

  let filter: ObjectFilter;
  try {
    filter = compileFilter(route.info, {
      namespace: route.namespace,
      name: route.name,
      fieldSelector: query.fieldSelector,
      labelSelector: query.labelSelector,
    });
  } catch (err) {
    if (err instanceof SelectorError) return badRequest(err.message);
    throw err;
  }

  switch (verb) {
    case 'get': {
      const obj = ctx.store.get(route.info, route.namespace, route.name ?? '');
      if (!obj) return notFound(route.info, route.name ?? '');
      sendJson(res, 200, withTypeMeta(route.info, obj));
      return undefined;
    }
    case 'list': {
      const items = ctx.store.list(route.info).filter(filter).map(withoutTypeMeta);
      const page = pageOf(items, query);
      if (!page) return badRequest(`invalid continue token: ${query.continue}`);
      sendJson(res, 200, {
        kind: route.info.listKind,
        apiVersion: route.info.apiVersion,
        metadata: {
          resourceVersion: String(ctx.store.resourceVersion),
          ...(page.next === undefined ? {} : { continue: page.next }),
        },
        items: page.items,
      });
      return undefined;
    }
    case 'watch':
      return serveWatch(ctx, res, route.info, filter, query);
  }
}

/**
 * POST (create) and PUT (update) as the apiserver does them: a create of a name that exists is 409
 * AlreadyExists; an update of an absent object is 404, and one whose metadata.resourceVersion is
 * not the stored one is 409 Conflict (optimistic concurrency; without a resourceVersion the update
 * is unconditional). Every write gets the next resourceVersion.
 */
function write(
  ctx: HandlerContext,
  res: ServerResponse,
  route: Route,
  verb: 'create' | 'update',
  body: string,
): Status | undefined {
  if (!route.info.namespaced || route.namespace === undefined)
    return methodNotAllowed(verb === 'create' ? 'POST' : 'PUT');
  if (verb === 'create' && route.name !== undefined) return methodNotAllowed('POST');
  if (verb === 'update' && route.name === undefined) return methodNotAllowed('PUT');
  let object: { metadata?: { name?: unknown; namespace?: unknown; resourceVersion?: unknown } };
  try {
    object = JSON.parse(body) as typeof object;
  } catch (err) {
    return badRequest(`the body is not JSON: ${(err as Error).message}`);
  }
  const metadata = object?.metadata;
  const name = typeof metadata?.name === 'string' ? metadata.name : '';
  if (name === '') return badRequest('metadata.name: Required value: name is required');
  if (route.name !== undefined && name !== route.name)
    return badRequest(`the name of the object (${name}) does not match the name on the URL (${route.name})`);
  if (metadata?.namespace !== undefined && metadata.namespace !== route.namespace)
    return badRequest(
      'the namespace of the provided object does not match the namespace sent on the request',
    );
  const existing = ctx.store.get(route.info, route.namespace, name);
  if (verb === 'create' && existing) return alreadyExists(route.info, name);
  if (verb === 'update') {
    if (!existing) return notFound(route.info, name);
    const expected = metadata?.resourceVersion;
    if (expected !== undefined && expected !== '' && expected !== existing.metadata.resourceVersion)
      return conflict(route.info, name);
  }
  const { resourceVersion: _rv, ...meta } = metadata as Record<string, unknown>;
  const event = ctx.store.upsert(route.info, {
    ...object,
    metadata: { ...meta, name, namespace: route.namespace },
  } as KubeObjectLike);
  for (const watch of ctx.watches) if (watch.info === route.info) watch.deliver(event);
  sendJson(res, verb === 'create' ? 201 : 200, event.object);
  return undefined;
}

function serveWatch(
  ctx: HandlerContext,
  res: ServerResponse,
  info: ResourceInfo,
  filter: ObjectFilter,
  query: Record<string, string>,
): Status | undefined {
  const requested = query.resourceVersion ?? '';
  // No RV or "0": start from the current state with synthetic ADDED events (api-concepts "Resource versions").
  const fromState = requested === '' || requested === '0';
  const startRv = fromState ? ctx.store.resourceVersion : Number(requested);
  if (!Number.isSafeInteger(startRv) || startRv < 0)
    return badRequest(`invalid resource version: ${requested}`);
  const history = fromState ? undefined : ctx.store.eventsSince(info, startRv);
  if (history && !history.ok && ctx.settings.tooOld === 'http') return expired(startRv, history.oldest);

  const timeoutSeconds = Number(query.timeoutSeconds);
  const stream = new WatchStream({
    info,
    filter,
    startRv,
    allowBookmarks: TRUE_VALUES.has(query.allowWatchBookmarks ?? ''),
    res,
    timeoutMs: Number.isFinite(timeoutSeconds) ? timeoutSeconds * 1000 : undefined,
    bookmarkIntervalMs: ctx.settings.bookmarkIntervalMs,
    currentRv: () => ctx.store.resourceVersion,
  });
  stream.open();
  if (history && !history.ok) {
    // The watch cache answers 200 and sends one ERROR event (cacher.go newErrWatcher).
    stream.fail(expired(startRv, history.oldest));
    return undefined;
  }
  ctx.watches.add(stream);
  stream.onClose(() => ctx.watches.delete(stream));
  if (fromState) stream.sendInitial(ctx.store.list(info));
  else if (history?.ok) for (const event of history.events) stream.deliver(event);
  return undefined;
}

/** One page of a list: `limit` items from the offset a `continue` token carries; undefined for a bad token. */
function pageOf<T>(items: T[], query: Record<string, string>): { items: T[]; next?: string } | undefined {
  const start = query.continue ? Number(Buffer.from(query.continue, 'base64url').toString()) : 0;
  if (!Number.isSafeInteger(start) || start < 0) return undefined;
  const limit = Number(query.limit);
  if (!Number.isSafeInteger(limit) || limit <= 0) return { items: items.slice(start) };
  const end = start + limit;
  return end < items.length
    ? { items: items.slice(start, end), next: Buffer.from(String(end)).toString('base64url') }
    : { items: items.slice(start) };
}

function sendJson(res: ServerResponse, code: number, body: unknown): void {
  const payload = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) });
  res.end(payload);
}
