import { createRequire } from 'node:module';
import type { Pool } from 'undici';
import { describeFailure } from './describe-failure.js';
import type { RenderedRequest } from './destination.js';
import type { AttemptResult, Poster } from './poster.js';
import { UndiciExchange } from './undici-exchange.js';

// undici costs about 10 MB and 100 ms to load, on every node; one whose sinks never post (console,
// the gRPC bridge) should not pay for it, so it is loaded with the first pool. It is CommonJS, so
// createRequire loads it synchronously, on the sending path.
const require = createRequire(import.meta.url);
let undici: typeof import('undici') | undefined;
function loadUndici(): typeof import('undici') {
  undici ??= require('undici') as typeof import('undici');
  return undici;
}

/** Destinations render a handful of URLs at most; the bound only keeps a misbehaving one from growing the cache. */
const MAX_CACHED_URLS = 64;

interface Target {
  pool: Pool;
  /** Path and query, as undici takes them. */
  path: string;
}

export interface UndiciPosterOptions {
  /** Kept-alive connections per origin: as many as the sink keeps requests in flight (default 1). */
  connections?: number;
}

/**
 * Posts with undici's dispatch API (see UndiciExchange) over one kept-alive pool per origin. URLs
 * are parsed once and remembered: a sink sends the same URL again and again. undici follows no
 * redirect unless told to.
 */
export class UndiciPoster implements Poster {
  private readonly pools = new Map<string, Pool>();
  private readonly targets = new Map<string, Target>();
  private readonly connections: number;
  private readonly bySignal = new WeakMap<AbortSignal, Set<UndiciExchange>>();

  constructor(options: UndiciPosterOptions = {}) {
    this.connections = Math.max(1, options.connections ?? 1);
  }

  post(request: RenderedRequest, timeoutMs: number, signal: AbortSignal): Promise<AttemptResult> {
    if (signal.aborted) return Promise.resolve({ kind: 'aborted' });
    let target: Target;
    try {
      target = this.target(request.url);
    } catch (err) {
      return Promise.resolve({ kind: 'failed', failure: describeFailure(err, timeoutMs) });
    }
    const live = this.requestsUnder(signal);
    return new Promise((resolve) => {
      const exchange = new UndiciExchange(timeoutMs, (result) => {
        live.delete(exchange);
        resolve(result);
      });
      live.add(exchange);
      target.pool.dispatch(
        { path: target.path, method: 'POST', headers: request.headers, body: request.bytes ?? request.body },
        exchange,
      );
    });
  }

  /**
   * The requests in flight under `signal`, aborted together when it fires: one listener per signal
   * rather than one added and removed per request.
   */
  private requestsUnder(signal: AbortSignal): Set<UndiciExchange> {
    let live = this.bySignal.get(signal);
    if (!live) {
      const set = new Set<UndiciExchange>();
      live = set;
      this.bySignal.set(signal, set);
      signal.addEventListener(
        'abort',
        () => {
          for (const exchange of set) exchange.abort(signal.reason);
        },
        { once: true },
      );
    }
    return live;
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
      pool = new (loadUndici().Pool)(parsed.origin, { connections: this.connections });
      this.pools.set(parsed.origin, pool);
    }
    const target = { pool, path: `${parsed.pathname}${parsed.search}` };
    if (this.targets.size >= MAX_CACHED_URLS) this.targets.clear();
    this.targets.set(url, target);
    return target;
  }
}
