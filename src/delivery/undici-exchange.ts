import type { Dispatcher } from 'undici';
import { describeFailure } from './describe-failure.js';
import type { AttemptResult } from './poster.js';
import { ResponseHeaders } from './response-headers.js';

/** Responses are read up to this size: a reason needs 200 characters, and a hostile answer must not fill memory. */
export const MAX_RESPONSE_BYTES = 64 * 1024;

type Controller = Dispatcher.DispatchController;

/**
 * One attempt as an undici dispatch handler: the response is collected straight from the parser's
 * callbacks, without the stream, promise and AbortSignal that undici's `request()` makes for each
 * call. Settles exactly once: answered, failed (including the time allowed running out), or aborted
 * (the sink closing). What arrives after that is ignored; the connection is dropped if need be.
 */
export class UndiciExchange implements Dispatcher.DispatchHandler {
  private controller?: Controller;
  /** Why the request was ended before it started: it is aborted as soon as undici starts it. */
  private endedBeforeStart?: Error;
  private settled = false;
  private status = 0;
  private headers: Record<string, string | string[] | undefined> = {};
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly timeoutMs: number,
    private readonly resolve: (result: AttemptResult) => void,
  ) {
    this.timer = setTimeout(() => {
      const timeout = new DOMException(`no answer within ${timeoutMs} ms`, 'TimeoutError');
      this.finish({ kind: 'failed', failure: describeFailure(timeout, timeoutMs) });
      this.stop(timeout);
    }, timeoutMs);
    this.timer.unref();
  }

  /** The sink is closing: no verdict either way. */
  abort(reason: unknown): void {
    this.finish({ kind: 'aborted' });
    this.stop(reason instanceof Error ? reason : new Error('aborted'));
  }

  onRequestStart(controller: Controller): void {
    this.controller = controller;
    if (this.endedBeforeStart) controller.abort(this.endedBeforeStart);
  }

  onResponseStart(
    _controller: Controller,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    // 1xx informational answers come first; only the final one counts.
    this.status = statusCode;
    this.headers = headers;
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    if (this.settled) return;
    this.chunks.push(chunk);
    this.size += chunk.byteLength;
    if (this.size >= MAX_RESPONSE_BYTES) {
      this.answered();
      // The rest is not read: the connection goes with it.
      controller.abort(new Error('response body beyond the size Perch reads'));
    }
  }

  onResponseEnd(): void {
    this.answered();
  }

  onResponseError(_controller: Controller, err: Error): void {
    this.finish({ kind: 'failed', failure: describeFailure(err, this.timeoutMs) });
  }

  private answered(): void {
    if (this.settled) return;
    const bytes = Buffer.concat(this.chunks, Math.min(this.size, MAX_RESPONSE_BYTES));
    this.finish({
      kind: 'answered',
      response: {
        status: this.status,
        headers: new ResponseHeaders(this.headers),
        body: bytes.toString('utf8'),
        bytes,
      },
    });
  }

  private stop(reason: Error): void {
    if (this.controller) this.controller.abort(reason);
    else this.endedBeforeStart = reason;
  }

  private finish(result: AttemptResult): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.resolve(result);
  }
}
