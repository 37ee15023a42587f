import { describeFailure, type RequestFailure } from './describe-failure.js';
import type { DestinationResponse, RenderedRequest } from './destination.js';

/** Responses are read up to this size: a reason needs 200 characters, and a hostile answer must not fill memory. */
const MAX_RESPONSE_BYTES = 64 * 1024;

export type AttemptResult =
  | { kind: 'answered'; response: DestinationResponse }
  | { kind: 'failed'; failure: RequestFailure }
  /** `signal` fired (the sink is closing): no verdict either way. */
  | { kind: 'aborted' };

/**
 * One POST of a prepared request, bounded by `timeoutMs` (connecting, waiting and reading the body)
 * and by `signal`. Never throws. Redirects are not followed: the body (and any secret it carries)
 * must not go to a host the configuration did not name.
 */
export async function postRequest(
  fetchFn: typeof fetch,
  request: RenderedRequest,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<AttemptResult> {
  try {
    const response = await fetchFn(request.url, {
      method: 'POST',
      headers: request.headers,
      body: request.body,
      redirect: 'manual',
      signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), signal]),
    });
    const body = await readCapped(response, MAX_RESPONSE_BYTES);
    return { kind: 'answered', response: { status: response.status, headers: response.headers, body } };
  } catch (err) {
    if (signal.aborted) return { kind: 'aborted' };
    return { kind: 'failed', failure: describeFailure(err, timeoutMs) };
  }
}

/** The response body as text, read up to `max` bytes; the rest is cancelled. */
async function readCapped(response: Response, max: number): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
    if (size >= max) {
      await reader.cancel().catch(() => undefined);
      break;
    }
  }
  return new TextDecoder().decode(Buffer.concat(chunks).subarray(0, max));
}
