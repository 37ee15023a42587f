// Perch run the way the DaemonSet runs it: the image's entrypoint (from the Dockerfile), the
// container's args, env and mounts (from the rendered manifests), a read-only root filesystem with
// only the emptyDirs writable, the pod's uid and groups, no capabilities (bubblewrap: apt-get
// install -y bubblewrap), its service account token and CA at their in-cluster paths, and a fake
// API server over TLS. It must become ready and deliver alerts, then stop cleanly on SIGTERM.
import { chmodSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from '@jest/globals';
import { FakeFalcoGrpc } from '../fakes/fake-falco-grpc.js';
import { FakeKubeApi } from '../fakes/fake-kube-api.js';
import { COMPONENTS, type K8sObject, withComponents } from '../helpers/kustomize.js';
import { PodSandbox } from '../helpers/pod-sandbox.js';
import { daemonSetPod, onlyContainer } from '../helpers/pod-spec.js';
import { hostPathStandIns, serviceAccountFiles } from '../helpers/pod-stand-ins.js';
import { until } from '../helpers/until.js';

const CERTS = fileURLToPath(new URL('../fixtures/certs/', import.meta.url));
const NODE = 'node-a';
const TOKEN = 'perch-service-account-token';
const CONTAINER_ID = `c0ffee000001${'0'.repeat(52)}`;
const POD = 'payments-7c9d8b6f4-abcde';

/** A pod of this node, whose ReplicaSet belongs to a Deployment that naming rules cannot guess. */
function seedCluster(api: FakeKubeApi): void {
  api.upsert('namespaces', { metadata: { name: 'payments' } });
  api.upsert('replicasets', {
    metadata: {
      name: 'payments-7c9d8b6f4',
      namespace: 'payments',
      uid: 'rs',
      ownerReferences: [
        { apiVersion: 'apps/v1', kind: 'Deployment', name: 'checkout', uid: 'd', controller: true },
      ],
    },
  });
  api.upsert('pods', {
    metadata: {
      name: POD,
      namespace: 'payments',
      uid: 'uid-pod',
      labels: { app: 'payments', 'pod-template-hash': '7c9d8b6f4' },
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          name: 'payments-7c9d8b6f4',
          uid: 'rs',
          controller: true,
        },
      ],
    },
    spec: { nodeName: NODE, containers: [{ name: 'api', image: 'shop/api:1' }] },
    status: {
      phase: 'Running',
      containerStatuses: [{ name: 'api', image: 'shop/api:1', containerID: `containerd://${CONTAINER_ID}` }],
    },
  });
}

function falcoAlert(rule: string): string {
  return JSON.stringify({
    rule,
    priority: 'Warning',
    time: '2026-01-01T00:00:00.000000000Z',
    output: `${rule} (test)`,
    hostname: NODE,
    output_fields: {
      'container.id': CONTAINER_ID.slice(0, 12),
      'k8s.ns.name': 'payments',
      'k8s.pod.name': POD,
    },
  });
}

/** The kubelet's readiness probe, read from the manifests: its path, on the port it names. */
function readinessUrl(objects: K8sObject[]): string {
  const container = onlyContainer(daemonSetPod(objects)) as ReturnType<typeof onlyContainer> & {
    ports: { name: string; containerPort: number }[];
    readinessProbe: { httpGet: { path: string; port: string | number } };
  };
  const { path, port } = container.readinessProbe.httpGet;
  const number =
    typeof port === 'number' ? port : container.ports.find((p) => p.name === port)?.containerPort;
  return `http://127.0.0.1:${number}${path}`;
}

/** The pod's port is the host's here (no pod network): say so rather than fail obscurely. */
async function assertPortFree(url: string): Promise<void> {
  const port = Number(new URL(url).port);
  await new Promise<void>((resolve, reject) => {
    const probe = createServer()
      .once('error', (err) =>
        reject(
          new Error(`port ${port} is taken (${(err as Error).message}): the pod's port must be free here`),
        ),
      )
      .listen(port, '0.0.0.0', () => probe.close(() => resolve()));
  });
}

type Readyz = { status: string; checks: { name: string; up: boolean; detail?: string }[] };

let sandbox: PodSandbox | undefined;
let api: FakeKubeApi | undefined;
let falco: FakeFalcoGrpc | undefined;
afterEach(async () => {
  if (sandbox && sandbox.child.exitCode === null) sandbox.child.kill('SIGKILL');
  await api?.stop();
  await falco?.stop();
  sandbox = api = falco = undefined;
});

const RENDERINGS: [string, string[]][] = [
  ['the base', []],
  ['every component', COMPONENTS],
];

describe('Perch in the DaemonSet pod, as rendered', () => {
  it.each(RENDERINGS)(
    '%s: ready behind its probe, delivers an enriched alert, stops cleanly on SIGTERM',
    async (_name, components) => {
      const objects = withComponents(components);
      const hostPaths = hostPathStandIns(objects);
      const readyz = readinessUrl(objects);
      await assertPortFree(readyz);

      api = new FakeKubeApi({
        token: TOKEN,
        tls: { cert: readFileSync(join(CERTS, 'server.crt')), key: readFileSync(join(CERTS, 'server.key')) },
      });
      await api.start();
      seedCluster(api);

      const falcoDir = hostPaths['/run/falco'];
      if (falcoDir) {
        falco = new FakeFalcoGrpc({ address: `unix://${join(falcoDir, 'falco.sock')}` });
        await falco.start();
        // As Falco leaves it (0755, root), then the documented fix: group-writable for gid 0.
        chmodSync(join(falcoDir, 'falco.sock'), 0o755);
        chmodSync(join(falcoDir, 'falco.sock'), 0o775);
      }

      // The spool's hostPath as the kubelet creates it (root, 0755), then the documented step
      // (install -d -o 65532 …): writable by the pod's user. The hub component's forwarding spools.
      const spoolDir = hostPaths['/var/lib/perch'];
      if (spoolDir) chmodSync(spoolDir, 0o777);

      sandbox = new PodSandbox({
        objects,
        hostPaths,
        serviceAccountDir: serviceAccountFiles(TOKEN),
        fieldRefs: { 'spec.nodeName': NODE },
        kubeletEnv: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(api.port) },
      });
      const pod = sandbox;
      const explain = () => `perch's stderr:\n${pod.stderr}`;

      // Ready means every check up: each input, and the pod watch over TLS with the token.
      let body: Readyz = { status: '', checks: [] };
      try {
        await until(
          async () => {
            if (pod.child.exitCode !== null) throw new Error(`perch exited with ${pod.child.exitCode}`);
            const res = await fetch(readyz).catch(() => undefined);
            if (!res) return false;
            body = (await res.json()) as Readyz;
            return res.status === 200 && body.checks.every((c) => c.up);
          },
          'every /readyz check up',
          30_000,
        );
      } catch (err) {
        throw new Error(`${(err as Error).message}\n/readyz: ${JSON.stringify(body)}\n${explain()}`);
      }
      const checks = body.checks.map((c) => c.name);
      expect(checks).toContain('source http');
      expect(checks).toContain('kubernetes pods');
      expect(checks.some((c) => c.startsWith('source grpc'))).toBe(falcoDir !== undefined);

      // Falco's http_output, to the port the container declares.
      const ingest = new URL('/', readyz).toString();
      const res = await fetch(ingest, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: falcoAlert('Terminal shell in container'),
      });
      expect(res.status).toBe(200);
      if (falco) falco.pushEvent(falcoAlert('Read sensitive file untrusted'));
      // Events, that is: the default correlations may add an incident of both.
      const events = () =>
        pod
          .stdoutLines()
          .map((l) => JSON.parse(l) as { kind: string; enrichment: unknown; event: { rule: string } })
          .filter((a) => a.kind === 'event');
      const expected = falco ? 2 : 1;
      await until(() => events().length >= expected, `${expected} alert(s) on the console`, 15_000).catch(
        (err: Error) => {
          throw new Error(`${err.message}\nstdout:\n${pod.stdout}\n${explain()}`);
        },
      );

      const alerts = events();
      const ownerLookup = components.includes('owner-lookup');
      for (const alert of alerts) {
        expect(alert.enrichment).toMatchObject({
          pod: {
            namespace: 'payments',
            pod: POD,
            node: NODE,
            // From the API with owner lookups; from the ReplicaSet's name without.
            workload: { kind: 'Deployment', name: ownerLookup ? 'checkout' : 'payments' },
          },
        });
      }
      expect(alerts.map((a) => a.event.rule).sort()).toEqual(
        falco
          ? ['Read sensitive file untrusted', 'Terminal shell in container']
          : ['Terminal shell in container'],
      );
      expect(api.requestsFor('replicasets').length > 0).toBe(ownerLookup);

      expect(await pod.terminate()).toBe(0);
      expect(pod.stderr).not.toMatch(/EROFS|EACCES|read-only file system|permission denied/i);
    },
    90_000,
  );
});
