/** What the destinations share about HTTP: JSON requests and the plain reading of an answer. */
import type { RenderedRequest } from '../../delivery/destination.js';
import { stringifyExact } from '../../events/serialize-event.js';

export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

export function jsonRequest(
  url: string,
  payload: unknown,
  headers: Record<string, string> = {},
): RenderedRequest {
  return {
    url,
    // stringifyExact: webhook payloads carry Falco's 19-digit evt.time, which must survive exactly.
    body: stringifyExact(payload),
    headers: { 'content-type': JSON_CONTENT_TYPE, ...headers },
  };
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
