import type { RenderedRequest } from './destination.js';

/** How a rendered request is stored in the spool; versioned so a later format can still read old rows. */
export function encodeRequest(request: RenderedRequest): string {
  return JSON.stringify({ v: 1, url: request.url, headers: request.headers, body: request.body });
}

/** Undefined for a row this version cannot read (it is then discarded and counted, not retried forever). */
export function decodeRequest(payload: string): RenderedRequest | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { v, url, headers, body } = parsed as Record<string, unknown>;
  if (v !== 1 || typeof url !== 'string' || typeof body !== 'string') return undefined;
  if (typeof headers !== 'object' || headers === null) return undefined;
  const clean: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) if (typeof value === 'string') clean[name] = value;
  return { url, headers: clean, body };
}
