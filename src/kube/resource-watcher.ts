import type { Logger } from '../logging/logger.js';
import { type BackoffOptions, nextDelay } from '../util/backoff.js';
import type { ApiConnection } from './api-connection.js';
import { describeWatchError, type WatchProblem } from './describe-watch-error.js';
import { type KubeObject, ListWatch, type ListWatchTarget } from './list-watch.js';

export type { KubeObject } from './list-watch.js';

export interface WatchHandlers {
  upsert(object: KubeObject): void;
  remove(object: KubeObject): void;
}

export interface ResourceSpec extends ListWatchTarget {
  /** Name in logs, metrics and /readyz, e.g. `pods`. */
  name: string;
}

export interface WatcherStatus {
  synced: boolean;
  lastSyncMs?: number;
  problem?: WatchProblem;
  restarts: number;
}

/**
 * One resource kept in sync by a list/watch loop. A failure stops the loop; this restarts it with
 * capped exponential backoff and jitter, keeping its resourceVersion so it resumes without a
 * relist when it can, while the cache keeps serving what it had.
 */
export class ResourceWatcher {
  private readonly loop: ListWatch;
  private state: WatcherStatus = { synced: false, restarts: 0 };
  private attempt = 0;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private lastLoggedProblem?: string;
  private running?: Promise<void>;
  private startSettled?: () => void;

  constructor(
    connection: ApiConnection,
    private readonly spec: ResourceSpec,
    handlers: WatchHandlers,
    private readonly log: Logger,
    private readonly backoff: BackoffOptions = { initialMs: 1000, maxMs: 30_000 },
    private readonly onRestart: () => void = () => {},
  ) {
    this.loop = new ListWatch(connection, spec, {
      upsert: (o) => this.onEvent(() => handlers.upsert(o)),
      remove: (o) => this.onEvent(() => handlers.remove(o)),
      synced: () => {
        this.markHealthy();
        this.startSettled?.();
      },
      relisted: () => this.log.info({ resource: spec.name }, 'relisted after the watch expired'),
    });
  }

  /** Resolves once the list is applied and the watch is open, or the attempt failed (then a retry is scheduled). */
  start(): Promise<void> {
    this.stopped = false;
    return new Promise((resolve) => {
      this.startSettled = resolve;
      this.running = this.loop.run().then(resolve, (err: unknown) => {
        resolve();
        this.onError(err);
      });
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.loop.stop();
    await this.running;
  }

  status(): WatcherStatus {
    return this.state;
  }

  private onEvent(apply: () => void): void {
    this.markHealthy();
    apply();
  }

  private markHealthy(): void {
    if (this.state.problem) this.log.info({ resource: this.spec.name }, 'watch recovered');
    this.lastLoggedProblem = undefined;
    this.attempt = 0;
    this.state = { ...this.state, synced: true, lastSyncMs: Date.now(), problem: undefined };
  }

  private onError(err: unknown): void {
    if (this.stopped) return;
    const problem = describeWatchError(err, this.spec.name);
    this.state = { ...this.state, problem };
    const delay = this.nextDelay();
    if (this.lastLoggedProblem !== problem.message) {
      // Log each distinct problem once, not once per retry: a down API server would flood the log.
      this.log.warn({ resource: this.spec.name, problem: problem.kind, retryInMs: delay }, problem.message);
      this.lastLoggedProblem = problem.message;
    }
    this.timer = setTimeout(() => {
      this.state = { ...this.state, restarts: this.state.restarts + 1 };
      this.onRestart();
      void this.start();
    }, delay);
    this.timer.unref();
  }

  private nextDelay(): number {
    // Jitter keeps a fleet of DaemonSet pods from reconnecting to a recovering API server in lockstep.
    return nextDelay(this.attempt++, this.backoff);
  }
}
