// A fake Kubernetes API server for tests: speaks the real list/watch wire protocol (see
// shared reference kubernetes.md §2) so that Perch's own list/watch client and @kubernetes/client-node's
// ListWatch informer can run against it.
//
// Served: GET list / watch / get for pods, namespaces, runtimeclasses, replicasets and jobs.
// Paging: `limit`/`continue` on lists, over the current state (not the consistent snapshot a real server keeps).
// Not served (by design): writes, subresources, protobuf.

import { createServer, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { FaultInjector, type FaultOptions } from './kube-faults.js';
import { type HandlerContext, type HandlerSettings, handleRequest, type TooOldMode } from './kube-handler.js';
import { clone, type FakeObject, type KubeObjectLike } from './kube-objects.js';
import {
  type RecordedRequest,
  RequestLog,
  type RequestPredicate,
  type WaitOptions,
} from './kube-request-log.js';
import { type ResourceInfo, type ResourceRef, resolveResource } from './kube-resources.js';
import { expired, type Verb } from './kube-status.js';
import { KubeStore, type StoreEvent } from './kube-store.js';
import type { WatchStream } from './kube-watch.js';

export type { FaultOptions } from './kube-faults.js';
export type { TooOldMode } from './kube-handler.js';
export type { FakeObject, KubeObjectLike } from './kube-objects.js';
export type { RecordedRequest, RequestPredicate, WaitOptions } from './kube-request-log.js';
export type { KindName, ResourceKey, ResourceRef } from './kube-resources.js';
export type { Status, Verb } from './kube-status.js';

export interface FakeKubeApiOptions {
  /** Bearer token every request must carry; unset = no authentication. */
  token?: string;
  /** The identity named in 403 messages. */
  user?: string;
  /** Events kept per resource; a watch from an RV before the window is "too old" (default 1000). */
  historyLimit?: number;
  /** The first mutation gets this + 1 (default 1000). */
  initialResourceVersion?: number;
  /** `'event'` (default): 200 + ERROR 410 event + close, like the watch cache; `'http'`: HTTP 410 Status. */
  tooOld?: TooOldMode;
  /** Send a BOOKMARK this often on watches with allowWatchBookmarks=true (default: only on `sendBookmark`). */
  bookmarkIntervalMs?: number;
  /**
   * Serve HTTPS with this certificate, as a real API server does (in-cluster clients verify it); with `ca`,
   * clients must present a certificate it signed (the API server's --client-ca-file).
   */
  tls?: { cert: string | Buffer; key: string | Buffer; ca?: string | Buffer };
}

/** The options object for `new KubeConfig().loadFromOptions(...)`. */
export interface FakeKubeConfigOptions {
  clusters: { name: string; server: string; skipTLSVerify: boolean }[];
  users: { name: string; token?: string }[];
  contexts: { name: string; cluster: string; user: string; namespace: string }[];
  currentContext: string;
}

/** client-node refuses `http://` servers unless the cluster has `skipTLSVerify: true`. */
export function kubeConfigFor(url: string, token?: string): FakeKubeConfigOptions {
  return {
    clusters: [{ name: 'fake', server: url, skipTLSVerify: true }],
    users: [token === undefined ? { name: 'fake-user' } : { name: 'fake-user', token }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'fake-user', namespace: 'default' }],
    currentContext: 'fake',
  };
}

export class FakeKubeApi {
  private readonly settings: HandlerSettings;
  private readonly store: KubeStore;
  private readonly faults = new FaultInjector();
  private readonly log = new RequestLog();
  private readonly watches = new Set<WatchStream>();
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;
  private boundPort = 0;
  private readonly tls: FakeKubeApiOptions['tls'];

  constructor(options: FakeKubeApiOptions = {}) {
    this.tls = options.tls;
    this.settings = {
      token: options.token,
      user: options.user ?? 'system:serviceaccount:perch:perch',
      tooOld: options.tooOld ?? 'event',
      bookmarkIntervalMs: options.bookmarkIntervalMs,
    };
    this.store = new KubeStore(options.historyLimit ?? 1000, options.initialResourceVersion ?? 1000);
  }

  // ---- lifecycle -------------------------------------------------------------------------------------

  /** Listens on 127.0.0.1 on a random port; returns the base URL (`http://127.0.0.1:PORT`, https with tls). */
  async start(): Promise<string> {
    if (!this.server) {
      const context: HandlerContext = {
        settings: this.settings,
        store: this.store,
        faults: this.faults,
        log: this.log,
        watches: this.watches,
      };
      const handler = (req: Parameters<typeof handleRequest>[1], res: Parameters<typeof handleRequest>[2]) =>
        handleRequest(context, req, res);
      const tls = this.tls;
      const clientCerts = tls?.ca ? { requestCert: true, rejectUnauthorized: true } : {};
      this.server = tls ? createTlsServer({ ...tls, ...clientCerts }, handler) : createServer(handler);
      this.server.on('connection', (socket: Socket) => {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
      });
    }
    await this.listen(0);
    return this.url;
  }

  /** Ends open watches, drops every connection and closes the server. */
  async stop(): Promise<void> {
    for (const watch of [...this.watches]) watch.end();
    await this.closeServer();
    this.faults.clear();
  }

  /** Stops listening (clients get ECONNREFUSED) and tears down every open socket, watches included. */
  async down(): Promise<void> {
    for (const watch of [...this.watches]) watch.destroy();
    await this.closeServer();
  }

  /** Listens again on the same port. */
  async up(): Promise<void> {
    await this.listen(this.boundPort);
  }

  get port(): number {
    return this.boundPort;
  }

  get url(): string {
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${this.boundPort}`;
  }

  private listen(port: number): Promise<void> {
    const server = this.server;
    if (!server) return Promise.reject(new Error('fake kube api: start() first'));
    if (server.listening) return Promise.resolve();
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        this.boundPort = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  private closeServer(): Promise<void> {
    const server = this.server;
    if (!server?.listening) return Promise.resolve();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    return closed;
  }

  // ---- state -----------------------------------------------------------------------------------------

  /** The current global resourceVersion. */
  get resourceVersion(): string {
    return String(this.store.resourceVersion);
  }

  /** Creates or replaces an object: bumps the RV, records ADDED/MODIFIED, notifies watches. */
  upsert<T extends KubeObjectLike>(kind: ResourceRef, obj: T): FakeObject {
    const info = resolveResource(kind);
    const event = this.store.upsert(info, obj);
    this.publish(info, event);
    return clone(event.object);
  }

  /** Deletes an object (namespace ignored for cluster-scoped kinds); undefined when it did not exist. */
  remove(kind: ResourceRef, namespace: string | undefined, name: string): FakeObject | undefined {
    const info = resolveResource(kind);
    const event = this.store.remove(info, namespace, name);
    if (!event) return undefined;
    this.publish(info, event);
    return clone(event.object);
  }

  get(kind: ResourceRef, namespace: string | undefined, name: string): FakeObject | undefined {
    return this.store.get(resolveResource(kind), namespace, name);
  }

  list(kind: ResourceRef): FakeObject[] {
    return this.store.list(resolveResource(kind));
  }

  /** Shrinks (or grows) the per-resource history window, trimming immediately. */
  setHistoryLimit(limit: number): void {
    this.store.setHistoryLimit(limit);
  }

  /** Forgets all history: afterwards a watch from any RV older than the current one is too old. */
  compactHistory(kind?: ResourceRef): void {
    this.store.compact(kind === undefined ? undefined : resolveResource(kind));
  }

  /** Changes (or with `undefined` drops) the bearer token the server requires. */
  setToken(token: string | undefined): void {
    this.settings.token = token;
  }

  /** Switches how a too-old watch resourceVersion is answered. */
  setTooOldMode(mode: TooOldMode): void {
    this.settings.tooOld = mode;
  }

  private publish(info: ResourceInfo, event: StoreEvent): void {
    for (const watch of this.watches) if (watch.info === info) watch.deliver(event);
  }

  // ---- watches ---------------------------------------------------------------------------------------

  private watchesOf(kind: ResourceRef | undefined): WatchStream[] {
    const info = kind === undefined ? undefined : resolveResource(kind);
    return [...this.watches].filter((w) => info === undefined || w.info === info);
  }

  openWatches(kind?: ResourceRef): number {
    return this.watchesOf(kind).length;
  }

  /** BOOKMARK at the current RV on every open watch that allowed bookmarks; returns how many got one. */
  sendBookmark(kind?: ResourceRef): number {
    return this.watchesOf(kind).filter((w) => w.bookmark()).length;
  }

  /** ERROR 410 Expired on every open watch, then end them; returns how many. */
  expireWatches(kind?: ResourceRef): number {
    const watches = this.watchesOf(kind);
    for (const w of watches) w.fail(expired(w.lastRv, this.store.resourceVersion));
    return watches.length;
  }

  /** Normal end of stream on every open watch (the server-side watch timeout); returns how many. */
  closeWatches(kind?: ResourceRef): number {
    const watches = this.watchesOf(kind);
    for (const w of watches) w.end();
    return watches.length;
  }

  // ---- faults ----------------------------------------------------------------------------------------

  /**
   * The next `count` requests matching `target` (path prefix if it starts with `/`, else a resource such as
   * `'pods'`/`'Pod'`) get HTTP `status` with the Status body the apiserver would send.
   */
  failNext(target: string, status: number, count = 1, options: FaultOptions = {}): void {
    this.faults.add(target, status, count, options);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  // ---- request log -----------------------------------------------------------------------------------

  get requests(): readonly RecordedRequest[] {
    return this.log.all;
  }

  requestsFor(kind: ResourceRef, verb?: Verb): RecordedRequest[] {
    const info = resolveResource(kind);
    return this.log.all.filter(
      (r) => r.resource === info.resource && (verb === undefined || r.verb === verb),
    );
  }

  /** A position in the request log, for `waitForRequest(..., { since })` and `requestsSince`. */
  mark(): number {
    return this.log.mark();
  }

  requestsSince(mark: number): RecordedRequest[] {
    return this.log.all.filter((r) => r.seq >= mark);
  }

  /** Resolves with the first (already served or future) request matching; rejects after the timeout. */
  waitForRequest(predicate: RequestPredicate, options?: WaitOptions): Promise<RecordedRequest> {
    return this.log.waitFor(predicate, options);
  }

  clearRequests(): void {
    this.log.clear();
  }
}
