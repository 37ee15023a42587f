// A stub Kubernetes API server for the footprint figures: just enough of the list/watch protocol for the
// real Kubernetes client in `perch run` to sync (the TypeScript fake in test/fakes serves
// the full protocol and faults; bench/ runs plain JavaScript against dist/, so it cannot import it).
// Lists answer with the fixture cluster; a watch answers 200 and then stays open with nothing to say,
// as the API server does for a quiet node.

import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { clusterDump } from './fixtures.js';

const RESOURCE_VERSION = '1000';

const LISTS = {
  '/api/v1/pods': { apiVersion: 'v1', kind: 'PodList', kindOfItems: 'Pod' },
  '/apis/node.k8s.io/v1/runtimeclasses': {
    apiVersion: 'node.k8s.io/v1',
    kind: 'RuntimeClassList',
    kindOfItems: 'RuntimeClass',
  },
};

/** Listens on 127.0.0.1; returns { url, watchesOpen(), requests(), close() }. */
export async function startStubKubeApi() {
  const items = clusterDump().items;
  const watches = new Set();
  const seen = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://stub');
    seen.push(`${req.method} ${url.pathname}${url.searchParams.get('watch') === 'true' ? ' watch' : ''}`);
    const list = LISTS[url.pathname];
    if (req.method !== 'GET' || !list) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          kind: 'Status',
          apiVersion: 'v1',
          status: 'Failure',
          reason: 'NotFound',
          code: 404,
          message: `the bench's stub API server serves only ${Object.keys(LISTS).join(' and ')}`,
        }),
      );
      return;
    }
    if (url.searchParams.get('watch') === 'true') {
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      res.flushHeaders();
      watches.add(res);
      res.on('close', () => watches.delete(res));
      return;
    }
    const body = {
      apiVersion: list.apiVersion,
      kind: list.kind,
      metadata: { resourceVersion: RESOURCE_VERSION },
      items: items.filter((item) => item.kind === list.kindOfItems),
    };
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    watchesOpen: () => watches.size,
    requests: () => [...seen],
    async close() {
      for (const res of watches) res.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A kubeconfig for the stub (plain http://; insecure-skip-tls-verify only matters to clients that insist on TLS). */
export function writeStubKubeconfig(path, url) {
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'stub', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'stub', user: { token: 'bench-token' } }],
    contexts: [{ name: 'stub', context: { cluster: 'stub', user: 'stub', namespace: 'default' } }],
    'current-context': 'stub',
  };
  // JSON is YAML: a kubeconfig reader takes either.
  writeFileSync(path, JSON.stringify(config));
  return path;
}
