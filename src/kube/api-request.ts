import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { ApiConnection } from './api-connection.js';

/** A response other than 200 from the API server; `body` is the raw text (usually a Status object). */
export class ApiStatusError extends Error {
  constructor(
    readonly statusCode: number,
    readonly body: string,
    path: string,
    method = 'GET',
  ) {
    super(`${method} ${path} answered ${statusCode}${statusText(body)}`);
  }
}

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  signal?: AbortSignal;
  /** Fails the request with ETIMEDOUT when its socket is silent this long. */
  idleTimeoutMs: number;
}

/** GET `path` and parse the JSON answer. */
export async function getJson<T>(
  connection: ApiConnection,
  path: string,
  query: Query,
  options: RequestOptions,
): Promise<T> {
  return parseAnswer<T>(await get(connection, path, query, options), 'GET', path);
}

/** GET `path` and hand back the 200 response to read as a stream. */
export function get(
  connection: ApiConnection,
  path: string,
  query: Query,
  options: RequestOptions,
): Promise<IncomingMessage> {
  return withFreshCredentials(connection, () => exchange(connection, 'GET', path, query, options));
}

/**
 * Sends a JSON `body` with `method` (POST, PUT) and parses the 2xx answer; any other status
 * rejects with ApiStatusError (409 Conflict for a stale resourceVersion).
 */
export async function sendJson<T>(
  connection: ApiConnection,
  method: 'POST' | 'PUT',
  path: string,
  body: unknown,
  options: RequestOptions,
): Promise<T> {
  const text = JSON.stringify(body);
  const response = await withFreshCredentials(connection, () =>
    exchange(connection, method, path, {}, options, text),
  );
  return parseAnswer<T>(response, method, path);
}

/** A 401 re-reads rotating credentials and tries once more when they changed: a rotated token costs no backoff. */
async function withFreshCredentials(
  connection: ApiConnection,
  attempt: () => Promise<IncomingMessage>,
): Promise<IncomingMessage> {
  try {
    return await attempt();
  } catch (err) {
    if (err instanceof ApiStatusError && err.statusCode === 401 && connection.credentialsRejected()) {
      return attempt();
    }
    throw err;
  }
}

async function parseAnswer<T>(response: IncomingMessage, method: string, path: string): Promise<T> {
  const text = await readAll(response);
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Error(
      `${method} ${path} answered ${response.statusCode} with a body that is not JSON (${text.length} bytes)`,
    );
  }
}

async function exchange(
  connection: ApiConnection,
  method: 'GET' | 'POST' | 'PUT',
  path: string,
  query: Query,
  options: RequestOptions,
  body?: string,
): Promise<IncomingMessage> {
  const url = urlFor(connection.server, path, query);
  const base = await connection.requestOptions();
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = send(url, {
      ...base,
      method,
      agent: connection.agent,
      headers: {
        ...base.headers,
        Accept: 'application/json',
        'User-Agent': 'perch',
        ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      },
      ...(options.signal ? { signal: options.signal } : {}),
    });
    req.setTimeout(options.idleTimeoutMs, () => {
      req.destroy(
        Object.assign(new Error(`no data from the API server for ${options.idleTimeoutMs} ms`), {
          code: 'ETIMEDOUT',
        }),
      );
    });
    req.once('response', resolve);
    req.once('error', reject);
    req.end(body);
  });
  const status = response.statusCode ?? 0;
  if (status === 200 || (method !== 'GET' && status >= 200 && status < 300)) return response;
  const text = await readAll(response).catch(() => '');
  throw new ApiStatusError(status, text, url.pathname, method);
}

/** The server URL may carry a path prefix (a proxy in front of the API server); the API path goes under it. */
function urlFor(server: URL, path: string, query: Query): URL {
  const url = new URL(server);
  url.pathname = `${server.pathname.replace(/\/+$/, '')}${path}`;
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) url.searchParams.set(key, String(value));
  }
  return url;
}

function readAll(response: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    response.on('data', (chunk: Buffer) => chunks.push(chunk));
    response.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    response.once('error', reject);
  });
}

function statusText(body: string): string {
  try {
    const parsed = JSON.parse(body) as { message?: unknown };
    return typeof parsed.message === 'string' ? `: ${parsed.message}` : '';
  } catch {
    return '';
  }
}
