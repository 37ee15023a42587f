import type { Readable } from 'node:stream';
import { Pool } from 'undici';
import { describeFailure } from './describe-failure.js';
import type { RenderedRequest } from './destination.js';
import type { AttemptResult, Poster } from './poster.js';
import { ResponseHeaders } from './response-headers.js';

/** Responses are read up to this size: a reason needs 200 characters, and a hostile answer must not fill memory. */
const MAX_RESPONSE_BYTES = 64 * 1024;
/** Destinations render a handful of URLs at most; the bound only keeps a misbehaving one from growing the cache. */
const MAX_CACHED_URLS = 64;

interface Target {
  pool: Pool;
  /** Path and query, as undici takes them. */
  path: string;
}

/**
 * Posts with undici's request API over one kept-alive pool per origin. URLs are parsed once and
 * remembered: a sink sends the same URL again and again. undici follows no redirect unless told to.
 */
export interface UndiciPosterOptions {
  /** Kept-alive connections per origin: as many as the sink keeps requests in flight (default 1). */
  connections?: number;
}

export class UndiciPoster implements Poster {
  private readonly pools = new Map<string, Pool>();
  private readonly targets = new Map<string, Target>();
  private readonly connections: number;

  constructor(options: UndiciPosterOptions = {}) {
    this.connections = Math.max(1, options.connections ?? 1);
  }

  async post(request: RenderedRequest, timeoutMs: number, signal: AbortSignal): Promise<AttemptResult> {
    if (signal.aborted) return { kind: 'aborted' };
    // One controller for both ends of the request: the sink closing, and the time allowed.
    const abort = new AbortController();
    const forward = (): void => abort.abort(signal.reason);
    signal.addEventListener('abort', forward, { once: true });
    const timer = setTimeout(
      () => abort.abort(new DOMException(`no answer within ${timeoutMs} ms`, 'TimeoutError')),
      timeoutMs,
    );
    timer.unref();
    try {
      const target = this.target(request.url);
      const response = await target.pool.request({
        path: target.path,
        method: 'POST',
        headers: request.headers,
        body: request.body,
        signal: abort.signal,
      });
      const body = await readCapped(response.body, MAX_RESPONSE_BYTES);
      return {
        kind: 'answered',
        response: { status: response.statusCode, headers: new ResponseHeaders(response.headers), body },
      };
    } catch (err) {
      if (signal.aborted) return { kind: 'aborted' };
      return { kind: 'failed', failure: describeFailure(err, timeoutMs) };
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', forward);
    }
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    this.targets.clear();
    await Promise.all(pools.map((pool) => pool.close()));
  }

  private target(url: string): Target {
    const known = this.targets.get(url);
    if (known) return known;
    const parsed = new URL(url);
    // fetch refused these too: undici would drop the credentials silently and send without them.
    if (parsed.username || parsed.password) throw new TypeError('a URL with credentials cannot be requested');
    let pool = this.pools.get(parsed.origin);
    if (!pool) {
      pool = new Pool(parsed.origin, { connections: this.connections });
      this.pools.set(parsed.origin, pool);
    }
    const target = { pool, path: `${parsed.pathname}${parsed.search}` };
    if (this.targets.size >= MAX_CACHED_URLS) this.targets.clear();
    this.targets.set(url, target);
    return target;
  }
}

/** The response body as text, read up to `max` bytes; the rest is discarded with the connection. */
function readCapped(body: Readable, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (): void => resolve(Buffer.concat(chunks, Math.min(size, max)).toString('utf8'));
    body.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.byteLength;
      if (size >= max) {
        // Settled first: destroying an unfinished body reports an error that no longer matters.
        finish();
        body.destroy();
      }
    });
    body.on('end', finish);
    body.on('error', reject);
  });
}
