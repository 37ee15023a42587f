import type { RenderedRequest } from '../../src/delivery/destination.js';
import type { AttemptResult, Poster } from '../../src/delivery/poster.js';
import { ResponseHeaders } from '../../src/delivery/response-headers.js';

/** One request the sink sent: answered when the test says so. */
export interface HeldRequest {
  request: RenderedRequest;
  /** Date.now() when it was sent. */
  atMs: number;
  /** Still waiting for its answer. */
  pending: boolean;
  answer(status: number, headers?: Record<string, string>, body?: string): void;
  fail(reason: string): void;
}

/**
 * A Poster whose requests stay in flight until the test answers them, in any order: for what the
 * delivery engine does with several requests at once. Honours the abort signal like the real one.
 */
export class ManualPoster implements Poster {
  readonly held: HeldRequest[] = [];
  closed = false;
  private waiters: { count: number; resolve: () => void }[] = [];

  post(request: RenderedRequest, _timeoutMs: number, signal: AbortSignal): Promise<AttemptResult> {
    return new Promise((resolve) => {
      const held: HeldRequest = {
        request,
        atMs: Date.now(),
        pending: true,
        answer: (status, headers = {}, body = '') =>
          settle({ kind: 'answered', response: { status, headers: new ResponseHeaders(headers), body } }),
        fail: (reason) => settle({ kind: 'failed', failure: { type: 'connection', reason } }),
      };
      const settle = (result: AttemptResult): void => {
        if (!held.pending) return;
        held.pending = false;
        signal.removeEventListener('abort', onAbort);
        resolve(result);
      };
      const onAbort = (): void => settle({ kind: 'aborted' });
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      this.held.push(held);
      this.waiters = this.waiters.filter((w) => {
        if (this.held.length < w.count) return true;
        w.resolve();
        return false;
      });
    });
  }

  /** Requests not answered yet. */
  get inFlight(): HeldRequest[] {
    return this.held.filter((h) => h.pending);
  }

  /** Resolves once `count` requests have been sent (rejects after timeoutMs). */
  waitFor(count: number, timeoutMs = 5000): Promise<void> {
    if (this.held.length >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`expected ${count} requests, got ${this.held.length}`)),
        timeoutMs,
      );
      this.waiters.push({
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
