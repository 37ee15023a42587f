/**
 * Turns a failed list or watch into a sentence an operator can act on. Shapes: ApiStatusError
 * with `statusCode` and the raw Status text as `body` for an HTTP error or an ERROR event; a
 * Node network error with a string `code` (`ECONNREFUSED` when the server is down, `ECONNRESET`
 * when a watch connection drops). A numeric `code` (client-node's ApiException) counts as a status too.
 */
export interface WatchProblem {
  kind: 'unauthorized' | 'forbidden' | 'unreachable' | 'tls' | 'server_error' | 'expired' | 'other';
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
  if (code && SERVER_CERTIFICATE_CODES.has(code)) {
    return {
      kind: 'tls',
      message: `the API server's certificate was not accepted (${code}: ${message}) while watching ${resource}: check the cluster's certificate-authority and tls-server-name`,
    };
  }
  if (code?.startsWith('ERR_SSL_')) {
    return {
      kind: 'tls',
      message: `the TLS handshake with the API server failed (${code}: ${message}) while watching ${resource}: check the client certificate and key`,
    };
  }
  return { kind: 'other', message: `watching ${resource} failed: ${message}` };
}

/** Node's codes for a server certificate that does not verify against the CA or the expected name. */
const SERVER_CERTIFICATE_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

function statusMessage(body: unknown): string | undefined {
  if (typeof body !== 'string') return undefined;
  try {
    const parsed = JSON.parse(body) as { message?: unknown };
    return typeof parsed.message === 'string' ? parsed.message : undefined;
  } catch {
    return undefined;
  }
}
