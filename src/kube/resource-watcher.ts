import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import * as k8s from '@kubernetes/client-node';
import type { Logger } from '../logging/logger.js';
import { type BackoffOptions, nextDelay } from '../util/backoff.js';
import { describeWatchError, type WatchProblem } from './describe-watch-error.js';

export interface WatchHandlers {
  upsert(object: KubernetesObject): void;
  remove(object: KubernetesObject): void;
}

export interface ResourceSpec {
  /** Name in logs, metrics and /readyz, e.g. `pods`. */
  name: string;
  path: string;
  list: (kc: KubeConfig) => () => Promise<k8s.KubernetesListObject<KubernetesObject>>;
  fieldSelector?: string;
}

export interface WatcherStatus {
  synced: boolean;
  lastSyncMs?: number;
  problem?: WatchProblem;
  restarts: number;
}

type WatchArgs = Parameters<k8s.Watch['watch']>;

/** The informer never asks for bookmarks; without them a node-filtered watch falls behind and relists. */
class BookmarkWatch extends k8s.Watch {
  override watch(path: string, query: WatchArgs[1], callback: WatchArgs[2], done: WatchArgs[3]) {
    return super.watch(path, { ...query, allowWatchBookmarks: true }, callback, done);
  }
}

/**
 * One resource kept in sync with client-node's ListWatch. The informer stops for good on any
 * error; this restarts it with capped exponential backoff and jitter, keeping its resourceVersion
 * so it resumes without a relist when it can, while the cache keeps serving what it had.
 */
export class ResourceWatcher {
  private readonly informer: k8s.ListWatch<KubernetesObject>;
  private state: WatcherStatus = { synced: false, restarts: 0 };
  private attempt = 0;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private lastLoggedProblem?: string;
  private retryPending = false;
  private failedSinceStart = false;

  constructor(
    kc: KubeConfig,
    private readonly spec: ResourceSpec,
    handlers: WatchHandlers,
    private readonly log: Logger,
    private readonly backoff: BackoffOptions = { initialMs: 1000, maxMs: 30_000 },
    private readonly onRestart: () => void = () => {},
  ) {
    const listFn = spec.list(kc);
    const list = async () => {
      const result = await listFn();
      // A list after the first sync means the watch expired (410) and the cache was rebuilt.
      if (this.state.synced) this.log.info({ resource: spec.name }, 'relisted after the watch expired');
      return result;
    };
    this.informer = new k8s.ListWatch(
      spec.path,
      new BookmarkWatch(kc),
      list,
      false,
      undefined,
      spec.fieldSelector,
    );
    this.informer.on('add', (o) => this.onEvent(() => handlers.upsert(o)));
    this.informer.on('update', (o) => this.onEvent(() => handlers.upsert(o)));
    this.informer.on('delete', (o) => this.onEvent(() => handlers.remove(o)));
    this.informer.on('error', (err) => this.onError(err));
  }

  async start(): Promise<void> {
    this.stopped = false;
    this.failedSinceStart = false;
    try {
      // Resolves once the list is applied and the watch is open (or the attempt failed, reported through 'error').
      await this.informer.start();
      // ListWatch opens the watch after its list returns even if stop() came meanwhile; close it again.
      if (this.stopped) {
        await this.informer.stop();
        return;
      }
      if (!this.failedSinceStart) this.markHealthy();
    } catch (err) {
      this.onError(err);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.informer.stop();
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
    this.failedSinceStart = true;
    // The informer can report one failure both as an event and as a rejected start().
    if (this.stopped || this.retryPending) return;
    const problem = describeWatchError(err, this.spec.name);
    this.state = { ...this.state, problem };
    const delay = this.nextDelay();
    if (this.lastLoggedProblem !== problem.message) {
      // Log each distinct problem once, not once per retry: a down API server would flood the log.
      this.log.warn({ resource: this.spec.name, problem: problem.kind, retryInMs: delay }, problem.message);
      this.lastLoggedProblem = problem.message;
    }
    this.retryPending = true;
    this.timer = setTimeout(() => {
      this.retryPending = false;
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
