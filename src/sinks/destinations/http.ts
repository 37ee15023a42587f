/** What the destinations share about HTTP: JSON requests and the plain reading of an answer. */
import { retryAfterMs } from '../../delivery/classify.js';
import type { DeliveryVerdict, DestinationResponse, RenderedRequest } from '../../delivery/destination.js';
import { stringifyExact } from '../../events/serialize-event.js';
import { escapeControlChars } from '../untrusted-text.js';

export function jsonRequest(
  url: string,
  payload: unknown,
  headers: Record<string, string> = {},
): RenderedRequest {
  return {
    url,
    // stringifyExact: webhook payloads carry Falco's 19-digit evt.time, which must survive exactly.
    body: stringifyExact(payload),
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
  };
}

/** The start of a response body for a log line: services put their error code or message there. */
export function bodyHint(body: string, max = 200): string {
  const text = escapeControlChars(body.replace(/\s+/g, ' ').trim());
  if (!text) return '';
  return `: ${text.length > max ? `${text.slice(0, max - 1)}…` : text}`;
}

export function parseJsonObject(body: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The engine's default reading, spelled out so destinations can add to it: 2xx delivered; 408, 425,
 * 429 and 5xx retried (429 honouring Retry-After); 3xx and other 4xx rejected. `detail` names what the
 * service said, for the log line.
 */
export function standardVerdict(
  response: DestinationResponse,
  detail = bodyHint(response.body),
): DeliveryVerdict {
  const { status } = response;
  if (status >= 200 && status < 300) return { kind: 'delivered' };
  if (status === 429) {
    const afterMs = retryAfterMs(response);
    return {
      kind: 'retry',
      reason: `HTTP 429 (rate limited)${detail}`,
      ...(afterMs !== undefined ? { afterMs } : {}),
    };
  }
  if (status === 408 || status === 425 || status >= 500)
    return { kind: 'retry', reason: `HTTP ${status}${detail}` };
  if (status >= 300 && status < 400) {
    // Following a redirect would resend the alert (and any secret in the URL) somewhere unconfigured.
    return { kind: 'rejected', reason: `HTTP ${status} redirect: update the URL instead${detail}` };
  }
  return { kind: 'rejected', reason: `HTTP ${status}${detail}` };
}
