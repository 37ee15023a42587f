// Drives the real @kubernetes/client-node 1.4.0 (ListWatch informer, typed clients) against the fake API
// server, proving the fake speaks the protocol production code will rely on.

import { afterEach, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import {
  FakeKubeApi,
  type FakeKubeApiOptions,
  kubeConfigFor,
  type RecordedRequest,
  type TooOldMode,
} from '../fakes/fake-kube-api.js';

const TOKEN = 'perch-test-token';
const NODE = 'node-a';
const FIELD_SELECTOR = `spec.nodeName=${NODE}`;
const TIMEOUT_MS = 5000;

interface PodSpec {
  node?: string;
  namespace?: string;
  labels?: Record<string, string>;
}

function pod(name: string, { node, namespace = 'default', labels }: PodSpec = {}) {
  return {
    metadata: { name, namespace, ...(labels ? { labels } : {}) },
    spec: { ...(node ? { nodeName: node } : {}), containers: [{ name: 'app', image: 'busybox' }] },
    status: { phase: node ? 'Running' : 'Pending' },
  };
}

// ---- informer plumbing ---------------------------------------------------------------------------------

type WatchArgs = Parameters<k8s.Watch['watch']>;

/** The informer never asks for bookmarks; this Watch adds allowWatchBookmarks and reports BOOKMARK events. */
class BookmarkWatch extends k8s.Watch {
  private bookmarkListeners: ((rv: string) => void)[] = [];

  override watch(
    path: string,
    queryParams: WatchArgs[1],
    callback: WatchArgs[2],
    done: WatchArgs[3],
  ): Promise<AbortController> {
    const reporting: WatchArgs[2] = (phase, apiObj: unknown, watchObj: unknown) => {
      callback(phase, apiObj, watchObj); // the informer updates its resourceVersion synchronously in here
      if (phase === 'BOOKMARK') {
        const rv = resourceVersionOf(apiObj);
        for (const listener of this.bookmarkListeners.splice(0)) listener(rv);
      }
    };
    return super.watch(path, { ...queryParams, allowWatchBookmarks: true }, reporting, done);
  }

  nextBookmark(): Promise<string> {
    return withTimeout(new Promise((resolve) => this.bookmarkListeners.push(resolve)), 'BOOKMARK');
  }
}

function resourceVersionOf(obj: unknown): string {
  if (typeof obj !== 'object' || obj === null || !('metadata' in obj)) return '';
  const { metadata } = obj;
  if (typeof metadata !== 'object' || metadata === null || !('resourceVersion' in metadata)) return '';
  return String(metadata.resourceVersion);
}

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

type InformerEvent =
  | { type: 'add' | 'update' | 'delete'; pod: k8s.V1Pod }
  | { type: 'error'; error: unknown }
  | { type: 'connect' };

/** Records everything an informer emits; tests await events instead of sleeping. */
class Probe {
  readonly events: InformerEvent[] = [];
  private waiters: {
    since: number;
    match: (e: InformerEvent) => boolean;
    resolve: (e: InformerEvent) => void;
  }[] = [];

  constructor(informer: k8s.ListWatch<k8s.V1Pod>) {
    for (const type of ['add', 'update', 'delete'] as const) {
      informer.on(type, (pod) => this.push({ type, pod }));
    }
    informer.on('error', (error: unknown) => this.push({ type: 'error', error }));
    informer.on('connect', () => this.push({ type: 'connect' }));
  }

  mark(): number {
    return this.events.length;
  }

  /** The first event (at index >= since) of that type, for that pod name if given. */
  waitFor(type: InformerEvent['type'], name?: string, since = 0): Promise<InformerEvent> {
    const match = (e: InformerEvent) =>
      e.type === type && (name === undefined || ('pod' in e && e.pod.metadata?.name === name));
    const found = this.events.slice(since).find(match);
    if (found) return Promise.resolve(found);
    return withTimeout(
      new Promise((resolve) => this.waiters.push({ since, match, resolve })),
      `informer '${type}'${name ? ` for ${name}` : ''}`,
    );
  }

  async waitForError(since = 0): Promise<unknown> {
    const event = await this.waitFor('error', undefined, since);
    return event.type === 'error' ? event.error : undefined;
  }

  private push(event: InformerEvent): void {
    const index = this.events.push(event) - 1;
    const ready = this.waiters.filter((w) => index >= w.since && w.match(event));
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.resolve(event);
  }
}

// ---- per-test setup ------------------------------------------------------------------------------------

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startApi(options: FakeKubeApiOptions = {}) {
  const api = new FakeKubeApi({ token: TOKEN, ...options });
  const url = await api.start();
  cleanups.push(() => api.stop());
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions(kubeConfigFor(url, TOKEN));
  return { api, kc, url };
}

function podInformer(kc: k8s.KubeConfig) {
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const watch = new BookmarkWatch(kc);
  const informer = new k8s.ListWatch<k8s.V1Pod>(
    '/api/v1/pods',
    watch,
    () => core.listPodForAllNamespaces({ fieldSelector: FIELD_SELECTOR }),
    false,
    undefined,
    FIELD_SELECTOR,
  );
  const probe = new Probe(informer);
  cleanups.push(() => informer.stop());
  return { informer, probe, watch };
}

const names = (pods: readonly k8s.V1Pod[]) => pods.map((p) => p.metadata?.name).sort();
const isPodList = (r: RecordedRequest) => r.resource === 'pods' && r.verb === 'list';
const isPodWatch = (r: RecordedRequest) => r.resource === 'pods' && r.verb === 'watch';

// ---- raw protocol --------------------------------------------------------------------------------------

describe('fake kube api: wire protocol', () => {
  const auth = { authorization: `Bearer ${TOKEN}` };

  it('lists without item type meta, serves single objects with it, and answers 404/401/400 with Status', async () => {
    const { api, url } = await startApi();
    api.upsert('pods', pod('a1', { node: NODE, labels: { app: 'web' } }));
    api.upsert('pods', pod('a2', { node: NODE, labels: { app: 'db' } }));
    api.upsert('pods', pod('b1', { node: 'node-b', labels: { app: 'web' } }));

    const selectors = 'fieldSelector=spec.nodeName%3Dnode-a,status.phase!%3DFailed&labelSelector=app%3Dweb';
    const list = await fetch(`${url}/api/v1/pods?${selectors}`, { headers: auth });
    expect(list.status).toBe(200);
    const body = (await list.json()) as {
      kind: string;
      apiVersion: string;
      metadata: unknown;
      items: object[];
    };
    expect(body).toMatchObject({
      kind: 'PodList',
      apiVersion: 'v1',
      metadata: { resourceVersion: api.resourceVersion },
    });
    expect(body.items).toHaveLength(1);
    expect(body.items[0]).not.toHaveProperty('kind');
    expect(body.items[0]).toMatchObject({ metadata: { name: 'a1', namespace: 'default' } });

    const one = await fetch(`${url}/api/v1/namespaces/default/pods/a1`, { headers: auth });
    expect(await one.json()).toMatchObject({ kind: 'Pod', apiVersion: 'v1', metadata: { name: 'a1' } });

    const missing = await fetch(`${url}/apis/apps/v1/namespaces/default/replicasets/nope`, { headers: auth });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'replicasets.apps "nope" not found',
      reason: 'NotFound',
      details: { name: 'nope', group: 'apps', kind: 'replicasets' },
      code: 404,
    });

    const anonymous = await fetch(`${url}/api/v1/pods`);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ kind: 'Status', reason: 'Unauthorized', code: 401 });

    const badField = await fetch(`${url}/api/v1/pods?fieldSelector=spec.bogus%3D1`, { headers: auth });
    expect(badField.status).toBe(400);
    expect(await badField.json()).toMatchObject({
      message: 'field label not supported: spec.bogus',
      code: 400,
    });
  });

  it('streams newline-terminated watch events and answers a too-old RV with an ERROR 410 event or HTTP 410', async () => {
    const { api, url } = await startApi({ historyLimit: 1 });
    const from = api.resourceVersion;
    api.upsert('pods', pod('a1', { node: NODE }));
    api.upsert('pods', pod('a2', { node: NODE }));

    // `from` is now outside the 1-event window
    const expired = await fetch(`${url}/api/v1/pods?watch=1&resourceVersion=${from}`, { headers: auth });
    expect(expired.status).toBe(200);
    const text = await expired.text(); // the server ends the stream after the ERROR event
    expect(text.endsWith('\n')).toBe(true);
    expect(JSON.parse(text)).toEqual({
      type: 'ERROR',
      object: {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: `too old resource version: ${from} (${Number(from) + 1})`,
        reason: 'Expired',
        code: 410,
      },
    });

    api.setTooOldMode('http');
    const gone = await fetch(`${url}/api/v1/pods?watch=true&resourceVersion=${from}`, { headers: auth });
    expect(gone.status).toBe(410);
    expect(await gone.json()).toMatchObject({ kind: 'Status', reason: 'Expired', code: 410 });

    // a live watch: replay of a2 (after a1's RV), then a live DELETED, each on its own line with type meta
    const a1rv = Number(from) + 1;
    const live = await fetch(`${url}/api/v1/pods?watch=true&resourceVersion=${a1rv}&timeoutSeconds=1`, {
      headers: auth,
    });
    api.remove('pods', 'default', 'a1');
    api.closeWatches('pods');
    const lines = (await live.text()).split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((l) => JSON.parse(l) as unknown)).toEqual([
      {
        type: 'ADDED',
        object: expect.objectContaining({
          kind: 'Pod',
          apiVersion: 'v1',
          metadata: expect.objectContaining({ name: 'a2' }),
        }),
      },
      {
        type: 'DELETED',
        object: expect.objectContaining({
          kind: 'Pod',
          metadata: expect.objectContaining({ name: 'a1', resourceVersion: api.resourceVersion }),
        }),
      },
    ]);
  });

  it('sends periodic bookmarks only on watches that allowed them', async () => {
    const { api, url } = await startApi({ bookmarkIntervalMs: 20 });
    api.upsert('pods', pod('a1', { node: NODE }));
    const plain = await fetch(`${url}/api/v1/pods?watch=true&resourceVersion=${api.resourceVersion}`, {
      headers: auth,
    });
    const withBookmarks = await fetch(
      `${url}/api/v1/pods?watch=true&resourceVersion=${api.resourceVersion}&allowWatchBookmarks=true`,
      { headers: auth },
    );
    const reader = withBookmarks.body?.getReader();
    const first = await reader?.read();
    const [line] = new TextDecoder().decode(first?.value).split('\n');
    expect(JSON.parse(line ?? '')).toEqual({
      type: 'BOOKMARK',
      object: { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: api.resourceVersion } },
    });
    await reader?.cancel();
    api.closeWatches();
    expect(await plain.text()).toBe('');
  });
});

// ---- the real informer ---------------------------------------------------------------------------------

describe('client-node ListWatch against the fake kube api', () => {
  it('fills the cache from the initial list; list and watch both carry the node field selector', async () => {
    const { api, kc } = await startApi();
    api.upsert('pods', pod('a1', { node: NODE }));
    api.upsert('pods', pod('a2', { node: NODE, namespace: 'kube-system' }));
    api.upsert('pods', pod('b1', { node: 'node-b' }));
    const { informer } = podInformer(kc);

    await informer.start();

    expect(names(informer.list())).toEqual(['a1', 'a2']);
    expect(informer.get('a2', 'kube-system')?.spec?.nodeName).toBe(NODE);
    const [list, ...moreLists] = api.requestsFor('pods', 'list');
    const [watch] = api.requestsFor('pods', 'watch');
    expect(moreLists).toHaveLength(0);
    expect(list).toMatchObject({
      path: '/api/v1/pods',
      query: { fieldSelector: FIELD_SELECTOR },
      headers: { authorization: `Bearer ${TOKEN}` },
      status: 200,
    });
    expect(watch).toMatchObject({
      path: '/api/v1/pods',
      query: {
        watch: 'true',
        resourceVersion: api.resourceVersion,
        fieldSelector: FIELD_SELECTOR,
        allowWatchBookmarks: 'true',
      },
      headers: { authorization: `Bearer ${TOKEN}` },
      status: 200,
    });
  });

  it('applies ADDED, MODIFIED and DELETED from the watch and ignores other nodes', async () => {
    const { api, kc } = await startApi();
    const { informer, probe } = podInformer(kc);
    await informer.start();

    api.upsert('pods', pod('b1', { node: 'node-b' })); // filtered out by the server
    api.upsert('pods', pod('a1', { node: NODE }));
    await probe.waitFor('add', 'a1');
    api.upsert('pods', pod('a1', { node: NODE, labels: { tier: 'gold' } }));
    await probe.waitFor('update', 'a1');
    expect(informer.get('a1', 'default')?.metadata?.labels).toEqual({ tier: 'gold' });
    api.remove('pods', 'default', 'a1');
    await probe.waitFor('delete', 'a1');

    expect(informer.list()).toHaveLength(0);
    expect(probe.events.filter((e) => 'pod' in e).map((e) => e.type)).toEqual(['add', 'update', 'delete']);
    expect(informer.latestResourceVersion()).toBe(api.resourceVersion);
  });

  it('sees a pod bound to the node as ADDED and a pod leaving the node as DELETED', async () => {
    const { api, kc } = await startApi();
    const { informer, probe } = podInformer(kc);
    await informer.start();

    api.upsert('pods', pod('p1')); // pending, not scheduled yet
    api.upsert('pods', pod('p1', { node: NODE })); // bound to this node
    const added = await probe.waitFor('add', 'p1');
    expect(added).toMatchObject({ pod: { spec: { nodeName: NODE } } });

    api.upsert('pods', pod('p1', { node: 'node-b' }));
    const deleted = await probe.waitFor('delete', 'p1');
    // the DELETED event carries the last matching state, stamped with the event's RV
    expect(deleted).toMatchObject({
      pod: { spec: { nodeName: NODE }, metadata: { resourceVersion: api.resourceVersion } },
    });
    expect(informer.list()).toHaveLength(0);
  });

  it('advances the RV on BOOKMARK and resumes from it after the stream ends, without a relist', async () => {
    const { api, kc } = await startApi({ historyLimit: 3 });
    api.upsert('pods', pod('a1', { node: NODE }));
    const { informer, probe, watch } = podInformer(kc);
    await informer.start();
    const listedAt = informer.latestResourceVersion();

    // churn on other nodes pushes the informer's RV out of the 3-event history window
    for (let i = 0; i < 5; i++) api.upsert('pods', pod(`b${i}`, { node: 'node-b' }));
    expect(informer.latestResourceVersion()).toBe(listedAt);

    const bookmark = watch.nextBookmark();
    expect(api.sendBookmark('pods')).toBe(1);
    expect(await bookmark).toBe(api.resourceVersion);
    expect(informer.latestResourceVersion()).toBe(api.resourceVersion);

    const mark = api.mark();
    expect(api.closeWatches('pods')).toBe(1); // the server-side watch timeout
    const resumed = await api.waitForRequest(isPodWatch, { since: mark });
    expect(resumed.query.resourceVersion).toBe(api.resourceVersion);
    expect(resumed.status).toBe(200);

    api.upsert('pods', pod('a2', { node: NODE }));
    await probe.waitFor('add', 'a2');
    expect(api.requestsSince(mark).filter(isPodList)).toHaveLength(0);
    expect(probe.events.filter((e) => e.type === 'delete')).toHaveLength(0);
  });

  it('relists after expireWatches() (ERROR 410 event on the open watch)', async () => {
    const { api, kc } = await startApi();
    api.upsert('pods', pod('a1', { node: NODE }));
    const { informer, probe } = podInformer(kc);
    await informer.start();

    const mark = api.mark();
    expect(api.expireWatches('pods')).toBe(1);
    await api.waitForRequest(isPodList, { since: mark });
    const rewatch = await api.waitForRequest(isPodWatch, { since: mark });

    expect(rewatch.query.resourceVersion).toBe(api.resourceVersion);
    expect(names(informer.list())).toEqual(['a1']);
    expect(probe.events.filter((e) => e.type === 'error')).toHaveLength(0);
    api.upsert('pods', pod('a2', { node: NODE }));
    await probe.waitFor('add', 'a2');
  });

  it.each<TooOldMode>(['event', 'http'])(
    'relists when resuming from an RV that left the history window (too old answered as %s)',
    async (mode) => {
      const { api, kc } = await startApi({ historyLimit: 2, tooOld: mode });
      api.upsert('pods', pod('a1', { node: NODE }));
      const { informer, probe } = podInformer(kc);
      await informer.start();
      const stale = informer.latestResourceVersion();

      // no bookmarks: churn on other nodes moves the window past the informer's RV
      for (let i = 0; i < 3; i++) api.upsert('pods', pod(`b${i}`, { node: 'node-b' }));
      const mark = api.mark();
      api.closeWatches('pods');

      const list = await api.waitForRequest(isPodList, { since: mark });
      const rewatch = await api.waitForRequest(isPodWatch, { since: list.seq });
      const [tooOld, ...rest] = api.requestsSince(mark);
      expect(tooOld).toMatchObject({
        verb: 'watch',
        query: { resourceVersion: stale },
        status: mode === 'http' ? 410 : 200,
      });
      expect(rest[0]).toBe(list);
      expect(rewatch.query.resourceVersion).toBe(api.resourceVersion);
      expect(names(informer.list())).toEqual(['a1']);
      expect(probe.events.filter((e) => e.type === 'error')).toHaveLength(0);
    },
  );
});

// ---- failures ------------------------------------------------------------------------------------------

describe('client-node ListWatch error paths against the fake kube api', () => {
  it.each([
    [500, 'InternalError', 'Internal error occurred: fake kube api: injected failure'],
    [
      403,
      'Forbidden',
      'pods is forbidden: User "system:serviceaccount:perch:perch" cannot list resource "pods" in API group "" at the cluster scope',
    ],
  ])('emits an ApiException on a %i list and recovers with start()', async (status, reason, message) => {
    const { api, kc } = await startApi();
    api.upsert('pods', pod('a1', { node: NODE }));
    const { informer, probe } = podInformer(kc);
    api.failNext('pods', status, 1, { verb: 'list' });

    await informer.start();
    const error = await probe.waitForError();

    // client-node 1.4.0: ApiException { code, body: <raw response text>, headers }, message "HTTP-Code: ...\nMessage: Unknown API Status Code!..."
    expect(error).toBeInstanceOf(k8s.ApiException);
    expect(error).toMatchObject({
      code: status,
      message: expect.stringContaining('Unknown API Status Code!'),
    });
    expect(statusOf(error)).toMatchObject({
      kind: 'Status',
      status: 'Failure',
      reason,
      message,
      code: status,
    });
    expect(informer.list()).toHaveLength(0);
    expect(api.requestsFor('pods', 'watch')).toHaveLength(0); // the informer stopped

    await informer.start();
    expect(names(informer.list())).toEqual(['a1']);
    api.upsert('pods', pod('a2', { node: NODE }));
    await probe.waitFor('add', 'a2');
  });

  it('emits an ApiException without body on a 401 (wrong token) and recovers once the token matches', async () => {
    const { api, kc } = await startApi();
    api.upsert('pods', pod('a1', { node: NODE }));
    api.setToken('rotated-token');
    const { informer, probe } = podInformer(kc);

    await informer.start();
    const error = await probe.waitForError();
    // the generated client special-cases 401 and drops the Status body
    expect(error).toBeInstanceOf(k8s.ApiException);
    expect(error).toMatchObject({
      code: 401,
      body: undefined,
      message: expect.stringContaining('Message: Unauthorized'),
    });
    expect(api.requestsFor('pods', 'list')[0]).toMatchObject({
      status: 401,
      headers: { authorization: `Bearer ${TOKEN}` },
    });

    api.setToken(TOKEN);
    await informer.start();
    expect(names(informer.list())).toEqual(['a1']);
  });

  it('emits a plain Error with statusCode when the watch request fails, and start() resumes without a relist', async () => {
    const { api, kc } = await startApi();
    api.upsert('pods', pod('a1', { node: NODE }));
    const { informer, probe } = podInformer(kc);
    api.failNext('/api/v1/pods', 403, 1, { verb: 'watch' });

    await informer.start();
    const error = await probe.waitForError();
    // Watch.watch() only looks at the status line: new Error(statusText) + statusCode, the Status body is ignored
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(k8s.ApiException);
    expect(error).toMatchObject({ message: 'Forbidden', statusCode: 403 });
    expect(api.requestsFor('pods', 'watch')[0]).toMatchObject({ status: 403 });
    expect(names(informer.list())).toEqual(['a1']); // the list had succeeded

    const mark = api.mark();
    await informer.start();
    expect(api.requestsSince(mark)).toEqual([
      expect.objectContaining({
        verb: 'watch',
        status: 200,
        query: expect.objectContaining({ resourceVersion: api.resourceVersion }),
      }),
    ]);
  });

  it('errors when the server goes down, again with ECONNREFUSED while down, and resumes from the last RV after up()', async () => {
    const { api, kc } = await startApi();
    api.upsert('pods', pod('a1', { node: NODE }));
    const { informer, probe } = podInformer(kc);
    await informer.start();
    const rv = informer.latestResourceVersion();

    let since = probe.mark();
    await api.down();
    // the open watch's socket is destroyed: node-fetch reports a premature close of the chunked body
    expect(await probe.waitForError(since)).toMatchObject({
      message: 'Premature close',
      code: 'ERR_STREAM_PREMATURE_CLOSE',
    });

    api.upsert('pods', pod('a2', { node: NODE })); // happens while the informer is disconnected
    since = probe.mark();
    await informer.start();
    // start() keeps the RV, so it goes straight to the watch, which cannot connect
    const refused = await probe.waitForError(since);
    expect(refused).toBeInstanceOf(k8s.FetchError);
    expect(refused).toMatchObject({ type: 'system', code: 'ECONNREFUSED', errno: 'ECONNREFUSED' });

    const mark = api.mark();
    await api.up();
    await informer.start();
    await probe.waitFor('add', 'a2'); // replayed from the history after rv
    expect(api.requestsSince(mark)).toEqual([
      expect.objectContaining({
        verb: 'watch',
        status: 200,
        query: expect.objectContaining({ resourceVersion: rv }),
      }),
    ]);
    expect(names(informer.list())).toEqual(['a1', 'a2']);
  });
});

// ---- other resources -----------------------------------------------------------------------------------

describe('typed clients against the fake kube api', () => {
  it('serves runtimeclasses, namespaces, replicasets and jobs (list, get, 404) and watches cluster-scoped kinds', async () => {
    const { api, kc } = await startApi();
    api.upsert('RuntimeClass', { metadata: { name: 'gvisor' }, handler: 'runsc' });
    api.upsert('namespaces', { metadata: { name: 'shop', labels: { team: 'web' } } });
    api.upsert('namespaces', { metadata: { name: 'ops', labels: { team: 'infra' } } });
    api.upsert('replicasets', {
      metadata: {
        name: 'web-7d9',
        namespace: 'shop',
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'u1' }],
      },
    });
    api.upsert('jobs', { metadata: { name: 'backup-123', namespace: 'ops' } });

    const node = kc.makeApiClient(k8s.NodeV1Api);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    const batch = kc.makeApiClient(k8s.BatchV1Api);

    const classes = await node.listRuntimeClass();
    expect(classes.items.map((c) => [c.metadata?.name, c.handler])).toEqual([['gvisor', 'runsc']]);
    expect((await node.readRuntimeClass({ name: 'gvisor' })).handler).toBe('runsc');
    const web = await core.listNamespace({ labelSelector: 'team in (web,frontend)' });
    expect(web.items.map((n) => n.metadata?.name)).toEqual(['shop']);
    expect((await core.readNamespace({ name: 'ops' })).metadata?.labels).toEqual({ team: 'infra' });
    const rs = await apps.readNamespacedReplicaSet({ name: 'web-7d9', namespace: 'shop' });
    expect(rs.metadata?.ownerReferences?.[0]?.name).toBe('web');
    expect((await batch.listJobForAllNamespaces()).items).toHaveLength(1);

    const missing = await batch
      .readNamespacedJob({ name: 'nope', namespace: 'ops' })
      .catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(k8s.ApiException);
    expect(missing).toMatchObject({ code: 404 });
    expect(statusOf(missing)).toMatchObject({ reason: 'NotFound', message: 'jobs.batch "nope" not found' });

    // a cluster-scoped informer without selectors
    const informer = k8s.makeInformer(kc, '/apis/node.k8s.io/v1/runtimeclasses', () =>
      node.listRuntimeClass(),
    );
    cleanups.push(() => informer.stop());
    const added = new Promise<k8s.V1RuntimeClass>((resolve) => {
      informer.on('add', (rc) => {
        if (rc.metadata?.name === 'kata-qemu') resolve(rc);
      });
    });
    await informer.start();
    expect(informer.list().map((rc) => rc.metadata?.name)).toEqual(['gvisor']);
    api.upsert('runtimeclasses', { metadata: { name: 'kata-qemu' }, handler: 'kata-qemu' });
    expect((await withTimeout(added, 'runtimeclass add')).handler).toBe('kata-qemu');
  });
});

describe('Leases against the fake kube api (coordination.k8s.io/v1, optimistic concurrency)', () => {
  it('creates, reads and updates a Lease; 404 when absent, 409 on a second create and on a stale resourceVersion', async () => {
    const { kc } = await startApi();
    const leases = kc.makeApiClient(k8s.CoordinationV1Api);
    const namespace = 'perch';
    const name = 'perch-hub';

    const absent = await leases.readNamespacedLease({ name, namespace }).catch((e: unknown) => e);
    expect(absent).toMatchObject({ code: 404 });
    expect(statusOf(absent)).toMatchObject({
      reason: 'NotFound',
      message: 'leases.coordination.k8s.io "perch-hub" not found',
    });

    const renewTime = new Date('2026-01-01T00:00:00.123456Z');
    const created = await leases.createNamespacedLease({
      namespace,
      body: {
        metadata: { name },
        spec: { holderIdentity: 'hub-a', leaseDurationSeconds: 15, renewTime, leaseTransitions: 0 },
      },
    });
    const firstVersion = created.metadata?.resourceVersion ?? '';
    expect(firstVersion).toMatch(/^\d+$/);

    const again = await leases
      .createNamespacedLease({ namespace, body: { metadata: { name }, spec: { holderIdentity: 'hub-b' } } })
      .catch((e: unknown) => e);
    expect(again).toMatchObject({ code: 409 });
    expect(statusOf(again)).toMatchObject({ reason: 'AlreadyExists' });

    const read = await leases.readNamespacedLease({ name, namespace });
    expect(read.spec).toMatchObject({
      holderIdentity: 'hub-a',
      leaseDurationSeconds: 15,
      leaseTransitions: 0,
    });
    // the renew time (a MicroTime) survives the round trip
    expect(new Date(String(read.spec?.renewTime)).getTime()).toBe(renewTime.getTime());

    // hub-b wins the race with the version both read; hub-a's write with the same version is refused
    const won = await leases.replaceNamespacedLease({
      name,
      namespace,
      body: {
        metadata: { name, resourceVersion: firstVersion },
        spec: { holderIdentity: 'hub-b', leaseDurationSeconds: 15, leaseTransitions: 1 },
      },
    });
    expect(Number(won.metadata?.resourceVersion)).toBeGreaterThan(Number(firstVersion));
    const lost = await leases
      .replaceNamespacedLease({
        name,
        namespace,
        body: { metadata: { name, resourceVersion: firstVersion }, spec: { holderIdentity: 'hub-a' } },
      })
      .catch((e: unknown) => e);
    expect(lost).toMatchObject({ code: 409 });
    expect(statusOf(lost)).toMatchObject({ reason: 'Conflict' });
    expect((await leases.readNamespacedLease({ name, namespace })).spec?.holderIdentity).toBe('hub-b');

    const missing = await leases
      .replaceNamespacedLease({
        name: 'other',
        namespace,
        body: { metadata: { name: 'other', resourceVersion: '1' }, spec: {} },
      })
      .catch((e: unknown) => e);
    expect(missing).toMatchObject({ code: 404 });
  });
});

function statusOf(error: unknown): unknown {
  return error instanceof k8s.ApiException && typeof error.body === 'string'
    ? JSON.parse(error.body)
    : undefined;
}
