import { redactSecrets } from '../util/redact.js';

export interface RequestFailure {
  /** For perch_component_errors_total: timeout, connection or request. */
  type: 'timeout' | 'connection' | 'request';
  /** For logs and /readyz: secrets redacted (a URL keeps at most its scheme and a host that cannot be one). */
  reason: string;
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);

interface ErrorLike {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  cause?: unknown;
}

// Duck-typed, not instanceof: network errors and DOMException may come from another realm (jest's vm, workers).
function asError(value: unknown): ErrorLike {
  return typeof value === 'object' && value !== null ? (value as ErrorLike) : {};
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/**
 * Why a request got no answer. undici rejects with the network error itself (ECONNREFUSED, a reset:
 * UND_ERR_SOCKET "other side closed"); fetch wraps it as `TypeError: fetch failed` with the real one
 * in `cause`; a timeout is a `TimeoutError`. Some messages (a malformed URL, a refused header value)
 * quote a secret, hence the redaction.
 */
export function describeFailure(err: unknown, timeoutMs: number): RequestFailure {
  const error = asError(err);
  const cause = asError(error.cause);
  if (error.name === 'TimeoutError' || cause.name === 'TimeoutError') {
    return { type: 'timeout', reason: `no answer within ${timeoutMs} ms` };
  }
  const coded = text(cause.code) ? cause : error;
  const code = text(coded.code);
  if (CONNECTION_CODES.has(code)) {
    const detail = text(coded.message) ? ` (${redactSecrets(text(coded.message))})` : '';
    return { type: 'connection', reason: `connection failed: ${code}${detail}` };
  }
  const message = text(error.message) || String(err);
  const causeMessage = text(cause.message) ? `: ${text(cause.message)}` : '';
  return { type: 'request', reason: `request failed: ${redactSecrets(`${message}${causeMessage}`)}` };
}
