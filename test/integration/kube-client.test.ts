// Perch's own Kubernetes client end to end: a kubeconfig file read by the parser, the connection it yields
// (TLS, client certificates, rotating tokens, the exec fallback) and the list/watch loop (paging, bookmarks,
// 410, re-watch) against the fake API server, asserted through the cache and the request log.

import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { connectToCluster } from '../../src/kube/cluster-connection.js';
import { ClusterState } from '../../src/kube/cluster-state.js';
import { KubeCluster } from '../../src/kube/kube-cluster.js';
import type { WatcherStatus } from '../../src/kube/resource-watcher.js';
import { createLogger } from '../../src/logging/logger.js';
import { FakeKubeApi, type FakeKubeApiOptions, type RecordedRequest } from '../fakes/fake-kube-api.js';
import { makePod } from '../fixtures/pods.js';
import { until } from '../helpers/until.js';

const NODE = 'node-a';
const CERTS = join(process.cwd(), 'test', 'fixtures', 'certs');
const cert = (name: string) => readFileSync(join(CERTS, name));
const base64 = (name: string) => cert(name).toString('base64');

interface LogLine {
  level: string;
  msg: string;
  resource?: string;
  problem?: string;
}

interface Harness {
  fake: FakeKubeApi;
  state: ClusterState;
  logs: LogLine[];
  dir: string;
  status(resource: string): WatcherStatus;
  livePods(): string[];
}

interface Options {
  fake?: FakeKubeApiOptions;
  /** The cluster and user entries of the kubeconfig, given the fake's URL and the kubeconfig's directory. */
  kubeconfig(url: string, dir: string): { cluster: Record<string, unknown>; user: Record<string, unknown> };
  seed?: (fake: FakeKubeApi) => void;
  waitForSync?: boolean;
}

const running: { cluster?: KubeCluster; fake: FakeKubeApi }[] = [];

afterEach(async () => {
  for (const { cluster, fake } of running.splice(0)) {
    await cluster?.stop();
    await fake.stop();
  }
});

function pod(name: string, node = NODE) {
  return makePod({ name, nodeName: node, status: { phase: 'Running' } });
}

function writeKubeconfig(
  dir: string,
  cluster: Record<string, unknown>,
  user: Record<string, unknown>,
): string {
  const path = join(dir, 'kubeconfig.yaml');
  writeFileSync(
    path,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'fake', cluster }],
      users: [{ name: 'perch', user }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'perch' } }],
      'current-context': 'fake',
    }),
  );
  return path;
}

async function start(options: Options): Promise<Harness> {
  const fake = new FakeKubeApi(options.fake);
  const entry: { cluster?: KubeCluster; fake: FakeKubeApi } = { fake };
  running.push(entry);
  const url = await fake.start();
  options.seed?.(fake);
  const dir = mkdtempSync(join(tmpdir(), 'perch-kube-client-'));
  const { cluster: clusterEntry, user } = options.kubeconfig(url, dir);
  const path = writeKubeconfig(dir, clusterEntry, user);
  const { connection } = await connectToCluster(
    { use: true, kind: 'file', path, describe: `kubeconfig ${path}` },
    undefined,
  );
  const logs: LogLine[] = [];
  const log = createLogger('info', { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) });
  const state = new ClusterState({ nodeName: NODE });
  const cluster = new KubeCluster(
    connection,
    state,
    { nodeName: NODE, watchNamespaces: false, watchOwners: false, backoff: { initialMs: 20, maxMs: 200 } },
    log,
  );
  entry.cluster = cluster;
  const status = (resource: string): WatcherStatus => {
    const found = cluster.statuses().find((s) => s.resource === resource);
    if (!found) throw new Error(`${resource} is not watched`);
    return found.status;
  };
  await cluster.start();
  if (options.waitForSync ?? true) {
    await until(
      () => cluster.statuses().every((s) => s.status.synced && !s.status.problem),
      'every watched resource to sync',
    );
  }
  return {
    fake,
    state,
    logs,
    dir,
    status,
    livePods: () =>
      state.pods
        .pods()
        .map((p) => `${p.namespace}/${p.name}`)
        .sort(),
  };
}

/** The first truthy value of `probe`, polled: statuses change on network events the test cannot await. */
async function eventually<T>(probe: () => T | undefined, what: string): Promise<T> {
  let value: T | undefined;
  await until(() => {
    value = probe();
    return value !== undefined;
  }, what);
  return value as T;
}

const isPodWatch = (r: RecordedRequest) => r.resource === 'pods' && r.verb === 'watch';
const isPodList = (r: RecordedRequest) => r.resource === 'pods' && r.verb === 'list';
const warnings = (h: Harness) => h.logs.filter((l) => l.level === 'warn');
const tlsServer = { tls: { cert: cert('server.crt'), key: cert('server.key') } };

describe('TLS', () => {
  it('verifies the API server against certificate-authority, a file relative to the kubeconfig', async () => {
    const h = await start({
      fake: tlsServer,
      seed: (fake) => fake.upsert('pods', pod('web-0')),
      kubeconfig: (url, dir) => {
        copyFileSync(join(CERTS, 'ca.crt'), join(dir, 'cluster-ca.crt'));
        return { cluster: { server: url, 'certificate-authority': 'cluster-ca.crt' }, user: {} };
      },
    });
    expect(h.livePods()).toEqual(['default/web-0']);
  });

  it('verifies the API server against certificate-authority-data', async () => {
    const h = await start({
      fake: tlsServer,
      seed: (fake) => fake.upsert('pods', pod('web-0')),
      kubeconfig: (url) => ({
        cluster: { server: url, 'certificate-authority-data': base64('ca.crt') },
        user: {},
      }),
    });
    expect(h.livePods()).toEqual(['default/web-0']);
  });

  it('refuses a server its CA did not sign, and says so; insecure-skip-tls-verify accepts it', async () => {
    const refused = await start({
      fake: tlsServer,
      waitForSync: false,
      kubeconfig: (url) => ({
        cluster: { server: url, 'certificate-authority-data': base64('other-ca.crt') },
        user: {},
      }),
    });
    const problem = await eventually(() => refused.status('pods').problem, 'the pods list to fail');
    expect(problem.kind).toBe('tls');
    expect(problem.message).toContain("the API server's certificate was not accepted");
    expect(problem.message).toContain('certificate-authority');
    expect(refused.status('pods').synced).toBe(false);
    expect(refused.fake.requestsFor('pods')).toEqual([]); // nothing was sent over the unverified connection

    const skipped = await start({
      fake: tlsServer,
      kubeconfig: (url) => ({
        cluster: {
          server: url,
          'certificate-authority-data': base64('other-ca.crt'),
          'insecure-skip-tls-verify': true,
        },
        user: {},
      }),
    });
    expect(skipped.status('pods')).toMatchObject({ synced: true });
  });

  it('checks the certificate against tls-server-name instead of the server host', async () => {
    // the certificate names localhost and 127.0.0.1; the server is dialled by IP
    const named = await start({
      fake: tlsServer,
      kubeconfig: (url) => ({
        cluster: {
          server: url,
          'certificate-authority-data': base64('ca.crt'),
          'tls-server-name': 'localhost',
        },
        user: {},
      }),
    });
    expect(named.status('pods')).toMatchObject({ synced: true });

    const misnamed = await start({
      fake: tlsServer,
      waitForSync: false,
      kubeconfig: (url) => ({
        cluster: {
          server: url,
          'certificate-authority-data': base64('ca.crt'),
          'tls-server-name': 'api.example.invalid',
        },
        user: {},
      }),
    });
    const problem = await eventually(() => misnamed.status('pods').problem, 'the pods list to fail');
    expect(problem).toMatchObject({ kind: 'tls' });
    expect(problem.message).toContain('ERR_TLS_CERT_ALTNAME_INVALID');
  });

  it('presents the client certificate (files or -data) to a server that requires one', async () => {
    const mtls = { tls: { ...tlsServer.tls, ca: cert('ca.crt') } };
    const fromFiles = await start({
      fake: mtls,
      seed: (fake) => fake.upsert('pods', pod('web-0')),
      kubeconfig: (url, dir) => {
        copyFileSync(join(CERTS, 'client.crt'), join(dir, 'perch.crt'));
        copyFileSync(join(CERTS, 'client.key'), join(dir, 'perch.key'));
        return {
          cluster: { server: url, 'certificate-authority-data': base64('ca.crt') },
          user: { 'client-certificate': 'perch.crt', 'client-key': 'perch.key' },
        };
      },
    });
    expect(fromFiles.livePods()).toEqual(['default/web-0']);

    const fromData = await start({
      fake: mtls,
      kubeconfig: (url) => ({
        cluster: { server: url, 'certificate-authority-data': base64('ca.crt') },
        user: { 'client-certificate-data': base64('client.crt'), 'client-key-data': base64('client.key') },
      }),
    });
    expect(fromData.status('pods')).toMatchObject({ synced: true });

    const without = await start({
      fake: mtls,
      waitForSync: false,
      kubeconfig: (url) => ({
        cluster: { server: url, 'certificate-authority-data': base64('ca.crt') },
        user: {},
      }),
    });
    await eventually(
      () => without.status('pods').problem,
      'the pods list to fail without a client certificate',
    );
    expect(without.status('pods').synced).toBe(false);
  });
});

describe('credentials', () => {
  it('a rotated tokenFile: the 401 re-reads it and the watch resumes at once, with no problem and no relist', async () => {
    const h = await start({
      fake: { token: 'token-one' },
      seed: (fake) => fake.upsert('pods', pod('web-0')),
      kubeconfig: (url, dir) => {
        writeFileSync(join(dir, 'token'), 'token-one\n');
        return { cluster: { server: url }, user: { tokenFile: 'token' } };
      },
    });
    // the token is rotated: the file first, then the server stops accepting the old one
    writeFileSync(join(h.dir, 'token'), 'token-two\n');
    h.fake.setToken('token-two');
    const mark = h.fake.mark();
    h.fake.closeWatches('pods');

    const rejected = await h.fake.waitForRequest((r) => isPodWatch(r) && r.status === 401, { since: mark });
    expect(rejected.headers.authorization).toBe('Bearer token-one');
    const accepted = await h.fake.waitForRequest((r) => isPodWatch(r) && r.status === 200, { since: mark });
    expect(accepted.headers.authorization).toBe('Bearer token-two');

    h.fake.upsert('pods', pod('after-rotation'));
    await until(() => h.livePods().includes('default/after-rotation'), 'a pod added after the rotation');
    expect(h.status('pods')).toMatchObject({ synced: true, restarts: 0 });
    expect(h.status('pods').problem).toBeUndefined();
    expect(h.fake.requestsFor('pods', 'list')).toHaveLength(1);
    expect(warnings(h)).toEqual([]);
  });

  it('runs an exec credential plugin through the client-node fallback', async () => {
    const credential = JSON.stringify({
      apiVersion: 'client.authentication.k8s.io/v1beta1',
      kind: 'ExecCredential',
      status: { token: 'from-the-plugin' },
    });
    const h = await start({
      fake: { token: 'from-the-plugin' },
      seed: (fake) => fake.upsert('pods', pod('web-0')),
      kubeconfig: (url) => ({
        cluster: { server: url, 'insecure-skip-tls-verify': true },
        user: {
          exec: {
            apiVersion: 'client.authentication.k8s.io/v1beta1',
            command: process.execPath,
            args: ['-e', `process.stdout.write(${JSON.stringify(credential)})`],
            interactiveMode: 'Never',
          },
        },
      }),
    });
    expect(h.livePods()).toEqual(['default/web-0']);
    expect(h.fake.requestsFor('pods', 'list')[0]?.headers.authorization).toBe('Bearer from-the-plugin');
  });
});

describe('the list/watch loop', () => {
  it('pages a long list with limit and continue', async () => {
    const h = await start({
      seed: (fake) => {
        for (let i = 0; i < 501; i++) fake.upsert('pods', pod(`web-${i}`));
      },
      kubeconfig: (url) => ({ cluster: { server: url }, user: {} }),
    });
    expect(h.state.pods.size.live).toBe(501);
    const lists = h.fake.requestsFor('pods', 'list');
    expect(lists.map((r) => [r.query.limit, r.query.continue === undefined])).toEqual([
      ['500', true],
      ['500', false],
    ]);
    const watch = await h.fake.waitForRequest(isPodWatch);
    expect(watch.query.resourceVersion).toBe(h.fake.resourceVersion);
  });

  it('a bookmark moves the position: the next watch starts from it, not from the list', async () => {
    const h = await start({
      seed: (fake) => fake.upsert('pods', pod('web-0')),
      kubeconfig: (url) => ({ cluster: { server: url }, user: {} }),
    });
    const listedRv = h.fake.resourceVersion;
    // changes this watch does not see (another node's pods) move the server's resourceVersion on
    for (let i = 0; i < 3; i++) h.fake.upsert('pods', pod(`elsewhere-${i}`, 'node-b'));
    expect(h.fake.resourceVersion).not.toBe(listedRv);
    expect(h.fake.sendBookmark('pods')).toBe(1);
    const mark = h.fake.mark();
    // the bookmark is on the wire before the stream ends; give the client a moment to read it
    await new Promise((resolve) => setTimeout(resolve, 50));
    h.fake.closeWatches('pods');
    const rewatch = await h.fake.waitForRequest(isPodWatch, { since: mark });
    expect(rewatch.query.resourceVersion).toBe(h.fake.resourceVersion);
  });

  it('a stream the server ends is re-watched at once from the last event, with a 5–10 minute timeoutSeconds', async () => {
    const h = await start({
      seed: (fake) => fake.upsert('pods', pod('web-0')),
      kubeconfig: (url) => ({ cluster: { server: url }, user: {} }),
    });
    h.fake.upsert('pods', pod('web-1'));
    await until(() => h.livePods().includes('default/web-1'), 'the ADDED event');
    const lastRv = h.fake.resourceVersion;
    const mark = h.fake.mark();
    h.fake.closeWatches('pods');
    const rewatch = await h.fake.waitForRequest(isPodWatch, { since: mark });
    expect(rewatch.query).toMatchObject({ resourceVersion: lastRv, allowWatchBookmarks: 'true' });
    for (const watch of h.fake.requestsFor('pods', 'watch')) {
      expect(Number(watch.query.timeoutSeconds)).toBeGreaterThanOrEqual(300);
      expect(Number(watch.query.timeoutSeconds)).toBeLessThan(600);
    }
    expect(h.fake.requestsSince(mark).filter(isPodList)).toEqual([]);
    expect(h.status('pods')).toMatchObject({ synced: true, restarts: 0 });
  });

  it('a 410 answered as the HTTP status relists, as an ERROR event does', async () => {
    const h = await start({
      fake: { tooOld: 'http' },
      seed: (fake) => fake.upsert('pods', pod('web-0')),
      kubeconfig: (url) => ({ cluster: { server: url }, user: {} }),
    });
    h.fake.upsert('pods', pod('elsewhere-0', 'node-b'));
    h.fake.compactHistory('pods');
    const mark = h.fake.mark();
    h.fake.closeWatches('pods');
    const expired = await h.fake.waitForRequest((r) => isPodWatch(r) && r.status === 410, { since: mark });
    const relist = await h.fake.waitForRequest(isPodList, { since: expired.seq });
    expect(relist.status).toBe(200);
    const rewatch = await h.fake.waitForRequest((r) => isPodWatch(r) && r.status === 200, {
      since: relist.seq,
    });
    expect(rewatch.query.resourceVersion).toBe(h.fake.resourceVersion);
    expect(h.status('pods')).toMatchObject({ synced: true, restarts: 0 });
    expect(h.logs).toContainEqual(
      expect.objectContaining({ level: 'info', resource: 'pods', msg: 'relisted after the watch expired' }),
    );
    expect(warnings(h)).toEqual([]);
  });
});
