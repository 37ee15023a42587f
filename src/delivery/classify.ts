import { snippet } from '../util/redact.js';
import type { DeliveryVerdict, Destination, DestinationResponse } from './destination.js';

/**
 * The delay a service asked for, in ms: the `Retry-After` header (seconds or an HTTP-date, RFC 9110
 * §10.2.3), else a JSON body's `retry_after` in seconds (Discord, float) or `parameters.retry_after`
 * (Telegram). Undefined when the answer names none.
 */
export function retryAfterMs(response: DestinationResponse, now: number = Date.now()): number | undefined {
  const header = response.headers.get('retry-after')?.trim();
  if (header) {
    if (/^\d+(\.\d+)?$/.test(header)) return Math.ceil(Number(header) * 1000);
    const date = Date.parse(header);
    if (!Number.isNaN(date)) return Math.max(0, date - now);
  }
  return bodyRetryAfter(response.body);
}

function bodyRetryAfter(body: string): number | undefined {
  if (!body.trimStart().startsWith('{')) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const record = parsed as { retry_after?: unknown; parameters?: { retry_after?: unknown } };
  const seconds = record.retry_after ?? record.parameters?.retry_after;
  return typeof seconds === 'number' && Number.isFinite(seconds) && seconds >= 0
    ? Math.ceil(seconds * 1000)
    : undefined;
}

/** `: <what the service said>` for a verdict's reason: one line, secrets redacted, at most 200 characters. */
export function responseDetail(text: string): string {
  const said = snippet(text);
  return said ? `: ${said}` : '';
}

const RETRIED = new Set([408, 425, 429]);
const DELIVERED: DeliveryVerdict = Object.freeze({ kind: 'delivered' });

/**
 * What a destination's answer means when it does not say otherwise: any 2xx is delivered (Teams
 * answers 202, Discord 204); 408, 425, 429 and 5xx are retried, after the delay the service asked
 * for when it named one; a redirect is not followed (the body, and any secret in the URL, would go
 * to a host nobody configured) and, like any other 4xx, rejected. The reason is the status and
 * `detail`: by default the start of the body; a destination passes what its service's error means.
 */
export function defaultClassify(
  response: DestinationResponse,
  now?: number,
  explained?: string,
): DeliveryVerdict {
  const { status } = response;
  if (status >= 200 && status < 300) return DELIVERED;
  // Only a failure needs the reason: a delivered answer is neither redacted nor cut.
  const detail = explained ?? responseDetail(response.body);
  if (RETRIED.has(status) || status >= 500) {
    const afterMs = retryAfterMs(response, now ?? Date.now());
    const reason = `HTTP ${status}${status === 429 ? ' (rate limited)' : ''}${detail}`;
    return afterMs === undefined ? { kind: 'retry', reason } : { kind: 'retry', reason, afterMs };
  }
  if (status >= 300 && status < 400) {
    return {
      kind: 'rejected',
      reason: `HTTP ${status}: redirect not followed; update the URL instead${detail}`,
    };
  }
  return { kind: 'rejected', reason: `HTTP ${status}${detail}` };
}

/** The destination's own reading of an answer, falling back to the default when it has none or it throws. */
export function classifyResponse(
  destination: Destination,
  response: DestinationResponse,
  now: number = Date.now(),
): DeliveryVerdict {
  if (!destination.classify) return defaultClassify(response, now);
  try {
    return destination.classify(response);
  } catch {
    // A bug in one destination's classify must not stall its queue: the generic reading still works.
    return defaultClassify(response, now);
  }
}
