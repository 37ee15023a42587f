import type { IncomingMessage } from 'node:http';
import type { ApiConnection } from './api-connection.js';
import { ApiStatusError, get, getJson } from './api-request.js';

/** What the list/watch loop reads of an object: enough to key it and to know where the stream is. */
export interface KubeObject {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

export interface ListWatchTarget {
  path: string;
  fieldSelector?: string;
}

export interface ListWatchHandlers {
  upsert(object: KubeObject): void;
  remove(object: KubeObject): void;
  /** The list is applied and a watch is open: the cache is in sync. */
  synced(): void;
  /** A list replaced the cache after a watch expired (410). */
  relisted(): void;
}

interface ObjectList {
  metadata?: { resourceVersion?: string; continue?: string };
  items?: KubeObject[];
}

interface WatchEvent {
  type?: string;
  object?: KubeObject & { code?: unknown };
}

const PAGE_SIZE = 500;
const LIST_IDLE_TIMEOUT_MS = 60_000;
/** A watch the server should have ended by its timeoutSeconds but that is still silent after this is dead. */
const WATCH_GRACE_SECONDS = 60;

/** client-go's reflector spreads watch lifetimes over 5–10 minutes so a fleet does not reconnect at once. */
export function randomWatchTimeoutSeconds(random: () => number = Math.random): number {
  return Math.floor(300 * (1 + random()));
}

/**
 * One resource's list-then-watch loop. Lists (page by page) when it has no resourceVersion, then
 * watches from the last one seen, bookmarks included; a stream the server ends is re-watched at
 * once, and a 410 (as the HTTP status or an ERROR event) relists. Any other failure rejects
 * `run()`, keeping the position so the next `run()` resumes without a relist.
 */
export class ListWatch {
  private resourceVersion?: string;
  private known = new Map<string, KubeObject>();
  private controller?: AbortController;
  private listed = false;

  constructor(
    private readonly connection: ApiConnection,
    private readonly target: ListWatchTarget,
    private readonly handlers: ListWatchHandlers,
    private readonly watchTimeoutSeconds: () => number = randomWatchTimeoutSeconds,
  ) {}

  /** Resolves when stopped; rejects on a failure other than an expired watch. */
  async run(): Promise<void> {
    const controller = new AbortController();
    this.controller = controller;
    try {
      while (!controller.signal.aborted) {
        if (this.resourceVersion === undefined) await this.list(controller.signal);
        if (await this.watch(controller.signal)) this.resourceVersion = undefined;
      }
    } catch (err) {
      if (controller.signal.aborted) return;
      throw err;
    }
  }

  stop(): void {
    this.controller?.abort();
  }

  private async list(signal: AbortSignal): Promise<void> {
    const { items, resourceVersion } = await this.listAll(signal);
    const previous = this.known;
    this.known = new Map();
    for (const item of items) {
      const key = keyOf(item);
      this.known.set(key, item);
      const before = previous.get(key);
      // An object unchanged since the last list is not applied again.
      if (!before || before.metadata?.resourceVersion !== item.metadata?.resourceVersion) {
        this.handlers.upsert(item);
      }
    }
    // What the list no longer has was deleted while no watch was open.
    for (const [key, object] of previous) if (!this.known.has(key)) this.handlers.remove(object);
    this.resourceVersion = resourceVersion;
    if (this.listed) this.handlers.relisted();
    this.listed = true;
  }

  private async listAll(signal: AbortSignal): Promise<{ items: KubeObject[]; resourceVersion: string }> {
    let items: KubeObject[] = [];
    let next: string | undefined;
    for (;;) {
      let page: ObjectList;
      try {
        page = await getJson<ObjectList>(
          this.connection,
          this.target.path,
          { fieldSelector: this.target.fieldSelector, limit: PAGE_SIZE, continue: next },
          { signal, idleTimeoutMs: LIST_IDLE_TIMEOUT_MS },
        );
      } catch (err) {
        // The continue token expired between pages: start the list over, as client-go does.
        if (next !== undefined && err instanceof ApiStatusError && err.statusCode === 410) {
          items = [];
          next = undefined;
          continue;
        }
        throw err;
      }
      items.push(...(page.items ?? []));
      next = page.metadata?.continue || undefined;
      if (next === undefined) {
        const resourceVersion = page.metadata?.resourceVersion;
        if (!resourceVersion) {
          throw new Error(`the list of ${this.target.path} has no metadata.resourceVersion to watch from`);
        }
        return { items, resourceVersion };
      }
    }
  }

  /** Watches until the stream ends; true when it ended because the position expired (410). */
  private async watch(signal: AbortSignal): Promise<boolean> {
    const timeoutSeconds = this.watchTimeoutSeconds();
    let response: IncomingMessage;
    try {
      response = await get(
        this.connection,
        this.target.path,
        {
          watch: true,
          resourceVersion: this.resourceVersion,
          allowWatchBookmarks: true,
          timeoutSeconds,
          fieldSelector: this.target.fieldSelector,
        },
        { signal, idleTimeoutMs: (timeoutSeconds + WATCH_GRACE_SECONDS) * 1000 },
      );
    } catch (err) {
      if (err instanceof ApiStatusError && err.statusCode === 410) return true;
      throw err;
    }
    this.handlers.synced();
    return this.consume(response);
  }

  private consume(response: IncomingMessage): Promise<boolean> {
    return new Promise((resolve, reject) => {
      let pending = '';
      let expired = false;
      let failed = false;
      const fail = (err: unknown) => {
        if (failed) return;
        failed = true;
        response.destroy();
        reject(err);
      };
      const applyLines = (final: boolean) => {
        const lines = pending.split('\n');
        pending = final ? '' : (lines.pop() ?? '');
        for (const line of lines) {
          if (line.trim() === '') continue;
          if (this.apply(JSON.parse(line) as WatchEvent)) expired = true;
        }
      };
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        pending += chunk;
        if (!chunk.includes('\n')) return;
        try {
          applyLines(false);
        } catch (err) {
          fail(err);
        }
      });
      response.once('end', () => {
        if (failed) return;
        try {
          applyLines(true);
        } catch (err) {
          fail(err);
          return;
        }
        resolve(expired);
      });
      response.once('error', fail);
      response.once('close', () => {
        if (!response.complete) {
          fail(Object.assign(new Error('the watch connection closed mid-stream'), { code: 'ECONNRESET' }));
        }
      });
    });
  }

  /** Applies one event; true for an ERROR 410 (the position expired). */
  private apply(event: WatchEvent): boolean {
    const object = event.object;
    if (!object) throw new Error(`a watch event of ${this.target.path} has no object (type ${event.type})`);
    if (event.type === 'ERROR') {
      if (object.code === 410) return true;
      const code = typeof object.code === 'number' ? object.code : 0;
      throw new ApiStatusError(code, JSON.stringify(object), this.target.path);
    }
    // The position moves before the handler runs: an object the cache cannot take is not replayed forever.
    const resourceVersion = object.metadata?.resourceVersion;
    if (resourceVersion) this.resourceVersion = resourceVersion;
    const key = keyOf(object);
    switch (event.type) {
      case 'ADDED':
      case 'MODIFIED':
        this.known.set(key, object);
        this.handlers.upsert(object);
        break;
      case 'DELETED':
        this.known.delete(key);
        this.handlers.remove(object);
        break;
      case 'BOOKMARK':
        break;
      default:
        throw new Error(`unknown watch event type ${JSON.stringify(event.type)} on ${this.target.path}`);
    }
    return false;
  }
}

function keyOf(object: KubeObject): string {
  return `${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`;
}
