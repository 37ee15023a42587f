/**
 * Turns a failed list or watch into a sentence an operator can act on. Shapes: ApiStatusError
 * with `statusCode` and the raw Status text as `body` for an HTTP error or an ERROR event; a
 * Node network error with a string `code` (`ECONNREFUSED` when the server is down, `ECONNRESET`
 * when a watch connection drops). A numeric `code` (client-node's ApiException) counts as a status too.
 */
export interface WatchProblem {
  kind: 'unauthorized' | 'forbidden' | 'unreachable' | 'server_error' | 'expired' | 'other';
  message: string;
}

interface ErrorShape {
  code?: unknown;
  statusCode?: unknown;
  body?: unknown;
  message?: unknown;
}

export function describeWatchError(err: unknown, resource: string): WatchProblem {
  const e = (err ?? {}) as ErrorShape;
  const status =
    typeof e.code === 'number' ? e.code : typeof e.statusCode === 'number' ? e.statusCode : undefined;
  if (status === 401) {
    return {
      kind: 'unauthorized',
      message: `the API server rejected Perch's credentials (401) while watching ${resource}: check the service account token`,
    };
  }
  if (status === 403) {
    const detail = statusMessage(e.body);
    return {
      kind: 'forbidden',
      message: `missing permission: list and watch ${resource} (403${detail ? `: ${detail}` : ''}); grant it in Perch's ClusterRole`,
    };
  }
  if (status === 410)
    return { kind: 'expired', message: `the watch of ${resource} expired (410); relisting` };
  if (status !== undefined && status >= 500) {
    return { kind: 'server_error', message: `the API server failed (${status}) while serving ${resource}` };
  }
  const code = typeof e.code === 'string' ? e.code : undefined;
  if (
    code &&
    [
      'ECONNREFUSED',
      'ECONNRESET',
      'ENOTFOUND',
      'EHOSTUNREACH',
      'ETIMEDOUT',
      'ERR_STREAM_PREMATURE_CLOSE',
    ].includes(code)
  ) {
    return {
      kind: 'unreachable',
      message: `the API server is unreachable (${code}) while watching ${resource}`,
    };
  }
  const message = typeof e.message === 'string' ? e.message.split('\n')[0] : String(err);
  return { kind: 'other', message: `watching ${resource} failed: ${message}` };
}

function statusMessage(body: unknown): string | undefined {
  if (typeof body !== 'string') return undefined;
  try {
    const parsed = JSON.parse(body) as { message?: unknown };
    return typeof parsed.message === 'string' ? parsed.message : undefined;
  } catch {
    return undefined;
  }
}
