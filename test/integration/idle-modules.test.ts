// What a node pays for at rest: `perch run` in watch mode with the default console sink must not load
// the packages only some configurations need (docs/performance.md, docs/kubernetes.md): the official
// Kubernetes client (only for exec/auth-provider kubeconfigs), grpc-js and the Falco proto (only
// for a gRPC source or the bridge), undici (only once a sink posts), OpenTelemetry (only for an
// otlp sink; @opentelemetry/api itself is prom-client's), fastify's ajv schema compiler (no route has a schema),
// RxJS's index (it loads every operator; Perch takes the ones it uses). A probe preloaded into the real
// process lists every module it loaded, ESM and CommonJS, and what would wake it at rest.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from '@jest/globals';
import { FakeKubeApi } from '../fakes/fake-kube-api.js';
import { HttpReceiver } from '../fakes/http-receiver.js';
import { PerchProcess } from '../helpers/cli-process.js';
import { fakeKubeconfig } from '../helpers/fake-kubeconfig.js';
import { until } from '../helpers/until.js';

const ON_USE_ONLY = [
  '@kubernetes/client-node',
  '@grpc/grpc-js',
  '@grpc/proto-loader',
  'undici',
  // The OTLP encoder and its SDK types; @opentelemetry/api itself comes with prom-client.
  '@opentelemetry/otlp-transformer',
  '@opentelemetry/sdk-logs',
  '@opentelemetry/resources',
  // fastify's schema compilers: Perch's routes declare no schemas.
  'ajv',
  '@fastify/ajv-compiler',
];

let fake: FakeKubeApi | undefined;
let receiver: HttpReceiver | undefined;
let perch: PerchProcess | undefined;

afterEach(async () => {
  if (perch && perch.child.exitCode === null) perch.child.kill('SIGKILL');
  await fake?.stop();
  await receiver?.stop();
  fake = undefined;
  receiver = undefined;
  perch = undefined;
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * A preload that records, at exit, the packages the process loaded (CommonJS from require.cache, ESM
 * through a resolve hook), how many ICU grapheme segmenters it made (about 3 MB each), and what
 * wakes it on its own: the period of every setInterval and the resolution of every event-loop delay
 * monitor (prom-client's nodejs_eventloop_lag_*).
 */
function writeProbe(dir: string): {
  preload: string;
  files: () => string[];
  loaded: () => string[];
  segmenters: () => number;
  wakers: () => { intervalsMs: number[]; eventLoopSamplesMs: number[] };
} {
  const list = join(dir, 'loaded.txt');
  const segmenterCount = join(dir, 'segmenters.txt');
  const wakerList = join(dir, 'wakers.json');
  const hook = join(dir, 'hook.mjs');
  writeFileSync(
    hook,
    `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(${JSON.stringify(list)}, r.url + '\\n');
  return r;
}
`,
  );
  const preload = join(dir, 'probe.cjs');
  writeFileSync(
    preload,
    `require('node:module').register(${JSON.stringify(pathToFileURL(hook).href)});
process.on('exit', () => require('node:fs').appendFileSync(${JSON.stringify(list)}, Object.keys(require.cache).join('\\n') + '\\n'));
const Segmenter = Intl.Segmenter;
let made = 0;
Intl.Segmenter = class extends Segmenter { constructor(...args) { super(...args); made += 1; } };
process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(segmenterCount)}, String(made)));
const wakers = { intervalsMs: [], eventLoopSamplesMs: [] };
const perfHooks = require('node:perf_hooks');
const monitor = perfHooks.monitorEventLoopDelay;
perfHooks.monitorEventLoopDelay = (options) => { wakers.eventLoopSamplesMs.push(options?.resolution ?? 10); return monitor(options); };
const every = globalThis.setInterval;
globalThis.setInterval = function (fn, ms, ...args) { wakers.intervalsMs.push(ms); return every.call(this, fn, ms, ...args); };
process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(wakerList)}, JSON.stringify(wakers)));
`,
  );
  const files = () => readFileSync(list, 'utf8').split('\n');
  return {
    preload,
    files,
    segmenters: () => Number(readFileSync(segmenterCount, 'utf8')),
    wakers: () => JSON.parse(readFileSync(wakerList, 'utf8')),
    loaded: () => {
      const packages = files()
        .map((path) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1])
        .filter((name): name is string => name !== undefined);
      return [...new Set(packages)].sort();
    },
  };
}

async function runUntilHealthy(
  config: object,
  dir: string,
  preload: string,
  then?: (url: string) => Promise<void>,
) {
  const port = await freePort();
  const path = join(dir, 'perch.yaml');
  writeFileSync(path, JSON.stringify({ server: { listen: `127.0.0.1:${port}` }, ...config }));
  perch = new PerchProcess(['run', '-c', path], {
    env: { ...process.env, NODE_OPTIONS: `--require ${preload}` },
  });
  const url = `http://127.0.0.1:${port}`;
  await until(
    async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200,
    'perch ready',
    20_000,
  );
  await then?.(url);
  perch.child.kill('SIGTERM');
  expect(await perch.exited).toBe(0);
}

const loadedPackages = (loaded: string[]) =>
  ON_USE_ONLY.filter((name) => loaded.some((p) => p === name || p.startsWith(`${name}/`)));

describe('what perch run loads at rest', () => {
  it('in watch mode with the console sink: none of the packages only some configurations need', async () => {
    fake = new FakeKubeApi({ token: 'idle-token' });
    const apiUrl = await fake.start();
    const dir = mkdtempSync(join(tmpdir(), 'perch-idle-'));
    const probe = writeProbe(dir);
    await runUntilHealthy(
      {
        nodeName: 'node-a',
        kubernetes: { enabled: true, kubeconfig: fakeKubeconfig(apiUrl, 'idle-token', dir) },
        sinks: { console: { type: 'console', format: 'text', color: 'never' } },
      },
      dir,
      probe.preload,
      // Ready does not wait for the watches (they are not required): at rest means they are open.
      (url) =>
        until(
          async () => {
            const res = await fetch(`${url}/readyz`).catch(() => undefined);
            const body = (await res?.json()) as { checks: { up: boolean }[] } | undefined;
            return body !== undefined && body.checks.every((check) => check.up);
          },
          'every readiness check up, the Kubernetes watches included',
          20_000,
        ),
    );
    const loaded = probe.loaded();
    expect(loaded).toContain('fastify'); // the probe sees the process's packages
    expect(loadedPackages(loaded)).toEqual([]);
    // RxJS's parts come one by one (src/util/rx.ts): its index would load every operator it has.
    const rxjs = probe.files().filter((path) => path.includes('node_modules/rxjs/'));
    expect(rxjs.some((path) => path.endsWith('/internal/Observable.js'))).toBe(true);
    expect(rxjs.filter((path) => /\/rxjs\/dist\/\w+\/(operators\/)?index\.js$/.test(path))).toEqual([]);
    // Made when a value is first cut to length (src/util/graphemes.ts), not at start.
    expect(probe.segmenters()).toBe(0);
    // At rest nothing wakes the process more than 10 times a second (prom-client samples the event
    // loop every 10 ms by default: 100 wake-ups a second on every node).
    const { intervalsMs, eventLoopSamplesMs } = probe.wakers();
    expect(eventLoopSamplesMs).toEqual([100]);
    expect(intervalsMs).toContain(5000); // the probe sees Perch's own: the Kubernetes gauges
    expect(intervalsMs.filter((ms) => !(ms >= 1000))).toEqual([]);
  }, 60_000);

  it('loads undici once a webhook sink posts (the probe sees CommonJS loaded on use)', async () => {
    receiver = await HttpReceiver.start();
    const dir = mkdtempSync(join(tmpdir(), 'perch-idle-'));
    const probe = writeProbe(dir);
    await runUntilHealthy(
      {
        nodeName: 'node-a',
        kubernetes: { enabled: false },
        sinks: { hook: { type: 'webhook', url: `${receiver.url}/hook` } },
      },
      dir,
      probe.preload,
      async (url) => {
        const alert = {
          time: new Date().toISOString(),
          rule: 'Terminal shell in container',
          priority: 'Warning',
          output: 'x',
        };
        expect(
          (
            await fetch(`${url}/`, {
              method: 'POST',
              body: JSON.stringify(alert),
              headers: { 'content-type': 'application/json' },
            })
          ).status,
        ).toBe(200);
        await receiver?.waitForRequests(1);
      },
    );
    expect(loadedPackages(probe.loaded())).toEqual(['undici']);
  }, 60_000);
});
