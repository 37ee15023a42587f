// Every request the fake served, with event-driven waiting for the ones a test expects.

import type { ResourceKey } from './kube-resources.js';
import type { Verb } from './kube-status.js';

export interface RecordedRequest {
  /** Position in the log, increasing across `clear()`; compare with `mark()`. */
  readonly seq: number;
  readonly method: string;
  readonly path: string;
  /** Query parameters, decoded (`fieldSelector: 'spec.nodeName=node-a'`). */
  readonly query: Readonly<Record<string, string>>;
  readonly headers: {
    readonly authorization?: string;
    readonly accept?: string;
    readonly userAgent?: string;
  };
  /** Absent for paths that are not a served resource. */
  readonly resource?: ResourceKey;
  readonly namespace?: string;
  readonly name?: string;
  readonly verb?: Verb;
  /** HTTP status of the response (200 for watches, also those answered with an ERROR event). */
  status?: number;
}

export type RequestPredicate = (request: RecordedRequest) => boolean;

export interface WaitOptions {
  /** Only consider requests with `seq >= since` (from `mark()`); default: the whole log. */
  readonly since?: number;
  readonly timeoutMs?: number;
}

interface Waiter {
  readonly predicate: RequestPredicate;
  readonly since: number;
  readonly resolve: (request: RecordedRequest) => void;
}

export class RequestLog {
  private entries: RecordedRequest[] = [];
  private nextSeq = 0;
  private waiters: Waiter[] = [];

  get all(): readonly RecordedRequest[] {
    return this.entries;
  }

  /** The seq the next request will get. */
  mark(): number {
    return this.nextSeq;
  }

  record(request: Omit<RecordedRequest, 'seq'>): RecordedRequest {
    const entry: RecordedRequest = { ...request, seq: this.nextSeq++ };
    this.entries.push(entry);
    return entry;
  }

  /** Called once the response status is known; wakes matching waiters. */
  settle(entry: RecordedRequest, status: number): void {
    entry.status = status;
    const matched = this.waiters.filter((w) => entry.seq >= w.since && w.predicate(entry));
    this.waiters = this.waiters.filter((w) => !matched.includes(w));
    for (const waiter of matched) waiter.resolve(entry);
  }

  waitFor(predicate: RequestPredicate, options: WaitOptions = {}): Promise<RecordedRequest> {
    const since = options.since ?? 0;
    const found = this.entries.find((e) => e.seq >= since && e.status !== undefined && predicate(e));
    if (found) return Promise.resolve(found);
    const timeoutMs = options.timeoutMs ?? 5000;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`fake kube api: no matching request within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter: Waiter = {
        predicate,
        since,
        resolve: (request) => {
          clearTimeout(timer);
          resolve(request);
        },
      };
      this.waiters.push(waiter);
    });
  }

  clear(): void {
    this.entries = [];
  }
}
