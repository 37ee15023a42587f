// What the soak test feeds Perch: Falco-style alerts of a known mix, the pods they happen in, and a
// steady HTTP load. Everything is seeded, so a failing run can be replayed with the same traffic.

import { randomBytes } from 'node:crypto';
import { Agent as HttpAgent, request } from 'node:http';
import type { FakeKubeApi } from '../fakes/fake-kube-api.js';

/** What the soak rules (see SOAK_RULES) do with each kind of alert. */
export type Fate = 'dropped' | 'silenced' | 'deduplicated' | 'each';

export interface Category {
  readonly key: string;
  readonly rule: string;
  readonly priority: string;
  readonly fate: Fate;
  /** Relative share of the traffic. */
  readonly weight: number;
}

/**
 * The mix. Every outcome of the accounting occurs: a drop rule, a silence rule, two deduplicated
 * rules (one at Error, so Error digests reach the spooled webhook), two rules delivered one by one
 * (Warning: the webhook's in-memory best effort; Critical: its spool). Shell bursts also make the
 * correlation fire.
 */
export const CATEGORIES: readonly Category[] = [
  { key: 'probe', rule: 'Soak noisy probe', priority: 'Debug', fate: 'dropped', weight: 2 },
  { key: 'scanner', rule: 'Soak known scanner', priority: 'Warning', fate: 'silenced', weight: 2 },
  { key: 'shell', rule: 'Terminal shell in container', priority: 'Notice', fate: 'deduplicated', weight: 9 },
  { key: 'credential', rule: 'Soak credential read', priority: 'Error', fate: 'deduplicated', weight: 2 },
  { key: 'outbound', rule: 'Soak outbound connection', priority: 'Warning', fate: 'each', weight: 3 },
  { key: 'privileged', rule: 'Soak privileged exec', priority: 'Critical', fate: 'each', weight: 2 },
];

/** The rules file of the soak: matches the categories above by Falco rule name only, so fates never depend on enrichment. */
export const SOAK_RULES = `
rules:
  - name: soak-drop-probes
    match: { rule: "Soak noisy probe" }
    drop: true
    reason: health-check noise
  - name: soak-silence-scanner
    match: { rule: "Soak known scanner" }
    silence: { until: "2099-01-01T00:00:00Z", reason: "soak: the scanner is known" }
  - name: soak-every-one
    match: { rule: ["Soak outbound connection", "Soak privileged exec"] }
    dedup: { enabled: false }
  - name: soak-shell-per-pod
    match: { rule: "Terminal shell in container" }
    dedup: { key: [rule, pod], window: 5s }
correlations:
  - name: soak-shell-burst
    title: Many shells in one workload
    type: event_count
    rules: ["Terminal shell in container"]
    group-by: [workload]
    timespan: 10s
    condition: { gte: 30 }
    severity: Error
`;

/** mulberry32: small, fast and good enough to pick categories and pods reproducibly. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Counts per category key. */
export type CategoryCounts = Record<string, number>;

export function emptyCounts(): CategoryCounts {
  return Object.fromEntries(CATEGORIES.map((c) => [c.key, 0]));
}

export function addCounts(into: CategoryCounts, from: CategoryCounts): void {
  for (const [key, n] of Object.entries(from)) into[key] = (into[key] ?? 0) + n;
}

export interface SoakPod {
  name: string;
  namespace: string;
  deployment: string;
  /** The full 64-hex id in the pod status; alerts carry its first 12 characters, as Falco does. */
  containerId: string;
}

const DEPLOYMENTS = 10;
const NAMESPACES = 5;

/**
 * The pods on the soak node, kept in the fake API server. `churn()` deletes one and creates another,
 * as rollouts and crash loops do, so the cache sees a stream of ADDED/DELETED events and alerts
 * keep naming pods it learned of a moment ago (or not yet, while the API server is down).
 */
export class PodFleet {
  readonly pods: SoakPod[] = [];
  created = 0;
  deleted = 0;

  constructor(
    private readonly api: FakeKubeApi,
    private readonly nodeName: string,
    private readonly random: () => number,
  ) {}

  populate(count: number): void {
    for (let i = 0; i < count; i++) this.add(i % DEPLOYMENTS);
  }

  churn(): void {
    const index = Math.floor(this.random() * this.pods.length);
    const [gone] = this.pods.splice(index, 1);
    if (gone) {
      this.api.remove('pods', gone.namespace, gone.name);
      this.deleted += 1;
    }
    this.add(Math.floor(this.random() * DEPLOYMENTS));
  }

  pick(): SoakPod {
    const pod = this.pods[Math.floor(this.random() * this.pods.length)];
    if (!pod) throw new Error('the fleet is empty');
    return pod;
  }

  private add(d: number): void {
    const deployment = `app-${d}`;
    const namespace = `team-${d % NAMESPACES}`;
    const hash = `${d}c9d8b6f4`;
    const name = `${deployment}-${hash}-${randomBytes(3).toString('hex')}`;
    const containerId = randomBytes(32).toString('hex');
    this.api.upsert('pods', {
      metadata: {
        name,
        namespace,
        uid: `uid-${name}`,
        labels: { app: deployment, team: namespace, 'pod-template-hash': hash },
        ownerReferences: [
          {
            apiVersion: 'apps/v1',
            kind: 'ReplicaSet',
            name: `${deployment}-${hash}`,
            uid: `rs-${deployment}`,
            controller: true,
          },
        ],
      },
      spec: {
        nodeName: this.nodeName,
        serviceAccountName: deployment,
        containers: [{ name: 'main', image: `registry.example/${deployment}:1` }],
      },
      status: {
        phase: 'Running',
        containerStatuses: [
          {
            name: 'main',
            image: `registry.example/${deployment}:1`,
            containerID: `containerd://${containerId}`,
          },
        ],
      },
    });
    this.pods.push({ name, namespace, deployment, containerId });
    this.created += 1;
  }
}

/** Picks categories by weight and writes Falco ≥ 0.41 JSON alerts (19-digit evt.time, sorted keys). */
export class AlertFactory {
  private readonly totalWeight = CATEGORIES.reduce((sum, c) => sum + c.weight, 0);
  private seq = 0;

  constructor(
    private readonly fleet: PodFleet,
    private readonly nodeName: string,
    private readonly random: () => number,
  ) {}

  next(): { category: Category; json: string } {
    const category = this.pickCategory();
    const pod = this.fleet.pick();
    const nowMs = Date.now();
    const evtTime = `${BigInt(nowMs) * 1_000_000n + BigInt(this.seq % 1_000_000)}`;
    const shortId = pod.containerId.slice(0, 12);
    this.seq += 1;
    // Assembled by hand so evt.time stays an exact 19-digit integer, as Falco writes it.
    const fields =
      `{"container.id":"${shortId}","container.name":"main","evt.time":${evtTime},` +
      `"k8s.ns.name":"${pod.namespace}","k8s.pod.name":"${pod.name}","proc.cmdline":"sh -c soak ${this.seq}",` +
      `"proc.name":"sh","proc.pid":${this.seq},"user.name":"root"}`;
    const json =
      `{"hostname":"${this.nodeName}","output":"${category.rule} (soak ${this.seq}) container_id=${shortId}",` +
      `"output_fields":${fields},"priority":"${category.priority}","rule":"${category.rule}",` +
      `"source":"syscall","tags":["container","soak"],"time":"${new Date(nowMs).toISOString()}"}`;
    return { category, json };
  }

  private pickCategory(): Category {
    let roll = this.random() * this.totalWeight;
    for (const category of CATEGORIES) {
      roll -= category.weight;
      if (roll < 0) return category;
    }
    return CATEGORIES[CATEGORIES.length - 1] as Category;
  }
}

export interface HttpLoadStats {
  attempted: number;
  accepted: CategoryCounts;
  acceptedTotal: number;
  /** Non-200 answers and transport errors: any is a failure of the run (Falco would lose those alerts). */
  failures: number;
  failureSamples: string[];
  /** Largest delay behind schedule, ms: tells a load generator that could not keep up from a slow Perch. */
  maxLagMs: number;
  maxLatencyMs: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Falco's http_output: one alert per POST, each connection posting serially (Falco waits for the
 * answer), over a few keep-alive connections, at a steady total rate.
 */
export class HttpLoad {
  readonly stats: HttpLoadStats = {
    attempted: 0,
    accepted: emptyCounts(),
    acceptedTotal: 0,
    failures: 0,
    failureSamples: [],
    maxLagMs: 0,
    maxLatencyMs: 0,
  };
  private readonly agent: HttpAgent;
  private running = false;
  private workers: Promise<void>[] = [];

  constructor(
    private readonly port: number,
    private readonly factory: AlertFactory,
    private readonly ratePerSecond: number,
    private readonly connections: number,
  ) {
    this.agent = new HttpAgent({ keepAlive: true, maxSockets: connections });
  }

  start(): void {
    this.running = true;
    const startedAt = Date.now();
    const intervalMs = (1000 * this.connections) / this.ratePerSecond;
    this.workers = Array.from({ length: this.connections }, (_, w) =>
      this.worker(startedAt + (w * intervalMs) / this.connections, intervalMs),
    );
  }

  /** Stops posting; resolves once every request in flight was answered. */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.workers);
    // Idle keep-alive sockets would otherwise hold the agent's server.close() open.
    this.agent.destroy();
  }

  private async worker(firstAt: number, intervalMs: number): Promise<void> {
    for (let k = 0; this.running; k++) {
      const due = firstAt + k * intervalMs;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
      else this.stats.maxLagMs = Math.max(this.stats.maxLagMs, -wait);
      if (!this.running) return;
      const { category, json } = this.factory.next();
      this.stats.attempted += 1;
      const started = Date.now();
      const outcome = await this.post(json);
      this.stats.maxLatencyMs = Math.max(this.stats.maxLatencyMs, Date.now() - started);
      if (outcome === 200) {
        this.stats.accepted[category.key] = (this.stats.accepted[category.key] ?? 0) + 1;
        this.stats.acceptedTotal += 1;
      } else {
        this.stats.failures += 1;
        if (this.stats.failureSamples.length < 5) this.stats.failureSamples.push(String(outcome));
      }
    }
  }

  private post(body: string): Promise<number | string> {
    return new Promise((resolve) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: this.port,
          path: '/',
          method: 'POST',
          agent: this.agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
          timeout: 10_000,
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', (err) => resolve(`response error: ${err.message}`));
        },
      );
      req.on('timeout', () => req.destroy(new Error('timed out after 10 s')));
      req.on('error', (err) => resolve(`request error: ${err.message}`));
      req.end(body);
    });
  }
}
