import type { RequestFailure } from './describe-failure.js';
import type { DestinationResponse, RenderedRequest } from './destination.js';

export type AttemptResult =
  | { kind: 'answered'; response: DestinationResponse }
  | { kind: 'failed'; failure: RequestFailure }
  /** `signal` fired (the sink is closing): no verdict either way. */
  | { kind: 'aborted' };

/**
 * Sends a sink's requests. `post` is one POST of a prepared request, bounded by `timeoutMs`
 * (connecting, waiting and reading the body) and by `signal`; it never throws and never follows a
 * redirect: the body (and any secret it carries) must not go to a host the configuration did not name.
 */
export interface Poster {
  post(request: RenderedRequest, timeoutMs: number, signal: AbortSignal): Promise<AttemptResult>;
  /** Lets go of kept-alive connections; called once, when nothing is in flight any more. */
  close(): Promise<void>;
}
