// One open watch: newline-delimited JSON events over a chunked 200 response.

import type { ServerResponse } from 'node:http';
import { type FakeObject, withTypeMeta } from './kube-objects.js';
import type { ResourceInfo } from './kube-resources.js';
import type { ObjectFilter } from './kube-selectors.js';
import type { Status } from './kube-status.js';
import type { StoreEvent } from './kube-store.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchStreamOptions {
  readonly info: ResourceInfo;
  readonly filter: ObjectFilter;
  /** Events at or below this RV are not delivered. */
  readonly startRv: number;
  readonly allowBookmarks: boolean;
  readonly res: ServerResponse;
  /** `timeoutSeconds` of the request: the server ends the stream after it. */
  readonly timeoutMs?: number | undefined;
  /** Periodic bookmarks (only when the client allowed them). */
  readonly bookmarkIntervalMs?: number | undefined;
  readonly currentRv: () => number;
}

export class WatchStream {
  readonly info: ResourceInfo;
  readonly allowBookmarks: boolean;
  /** The RV of the last event written, i.e. where the client would resume. */
  lastRv: number;
  private readonly res: ServerResponse;
  private readonly filter: ObjectFilter;
  private readonly currentRv: () => number;
  private readonly timers: NodeJS.Timeout[] = [];
  private closedFlag = false;
  private readonly closeListeners: (() => void)[] = [];

  constructor(options: WatchStreamOptions) {
    this.info = options.info;
    this.allowBookmarks = options.allowBookmarks;
    this.lastRv = options.startRv;
    this.res = options.res;
    this.filter = options.filter;
    this.currentRv = options.currentRv;
    this.res.on('close', () => this.markClosed());
    if (options.timeoutMs !== undefined && options.timeoutMs > 0) {
      this.timers.push(setTimeout(() => this.end(), options.timeoutMs).unref());
    }
    if (this.allowBookmarks && options.bookmarkIntervalMs !== undefined && options.bookmarkIntervalMs > 0) {
      this.timers.push(setInterval(() => this.bookmark(), options.bookmarkIntervalMs).unref());
    }
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  onClose(listener: () => void): void {
    if (this.closedFlag) listener();
    else this.closeListeners.push(listener);
  }

  /** Sends headers right away, as the apiserver does, so the client sees the watch as established. */
  open(): void {
    this.res.writeHead(200, {
      'Content-Type': 'application/json',
      'Cache-Control': 'no-cache, private',
      'Transfer-Encoding': 'chunked',
    });
    this.res.flushHeaders();
  }

  /** Synthetic ADDED events for the current state (watch without resourceVersion, or with "0"). */
  sendInitial(objects: readonly FakeObject[]): void {
    for (const obj of objects) if (this.filter(obj)) this.write('ADDED', withTypeMeta(this.info, obj));
  }

  /**
   * Delivers a store event through the selector like the cacher's convertToWatchEvent: starts matching →
   * ADDED, keeps matching → MODIFIED, stops matching → DELETED with the previous state at the event's RV.
   */
  deliver(event: StoreEvent): void {
    if (this.closedFlag || event.rv <= this.lastRv) return;
    const curPasses = event.type !== 'DELETED' && this.filter(event.object);
    const prevPasses = event.prev !== undefined && this.filter(event.prev);
    if (curPasses && !prevPasses) this.write('ADDED', event.object);
    else if (curPasses && prevPasses) this.write('MODIFIED', event.object);
    else if (!curPasses && prevPasses && event.prev) {
      const object = event.type === 'DELETED' ? event.object : event.prev;
      this.write('DELETED', {
        ...object,
        metadata: { ...object.metadata, resourceVersion: String(event.rv) },
      });
    }
  }

  /** Sends a BOOKMARK at the current RV; false when the client did not ask for bookmarks. */
  bookmark(): boolean {
    if (this.closedFlag || !this.allowBookmarks) return false;
    const rv = Math.max(this.currentRv(), this.lastRv);
    this.write('BOOKMARK', {
      kind: this.info.kind,
      apiVersion: this.info.apiVersion,
      metadata: { resourceVersion: String(rv) },
    });
    return true;
  }

  /** Sends an ERROR event (e.g. 410 Expired) and ends the stream. */
  fail(status: Status): void {
    if (this.closedFlag) return;
    this.write('ERROR', status);
    this.end();
  }

  /** Normal end of stream, as on the server-side watch timeout. */
  end(): void {
    if (this.closedFlag) return;
    this.res.end();
    this.markClosed();
  }

  /** Abrupt end: the TCP connection is torn down. */
  destroy(): void {
    this.res.socket?.destroy();
    this.markClosed();
  }

  private write(type: WatchEventType, object: FakeObject | Status): void {
    if (this.closedFlag) return;
    if (object.kind !== 'Status') {
      const rv = Number(object.metadata.resourceVersion);
      if (Number.isFinite(rv)) this.lastRv = Math.max(this.lastRv, rv);
    }
    this.res.write(`${JSON.stringify({ type, object })}\n`);
  }

  private markClosed(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    for (const timer of this.timers) clearTimeout(timer);
    for (const listener of this.closeListeners.splice(0)) listener();
  }
}
