// Soak and faults: the real Agent, in process, for PERCH_SOAK_SECONDS (default 60, CI's short form;
// a real soak is e.g. `PERCH_SOAK_SECONDS=1800 npm run test:soak`) at a steady rate while:
//
// - the webhook sink's receiver flaps every 10 s for 3 s (in turn: refusing connections, 503, reset);
// - the Kubernetes API server goes down every 15 s for 4 s, while pods churn one a second;
// - Falco's gRPC server is killed and restarted every 10 s (its queue is lost, as a restart loses it).
//
// Inputs: Falco-style HTTP posts (one alert per request, a few keep-alive connections, 300/s by
// default) and the gRPC `sub` source (50/s). Afterwards every accepted alert must be accounted for
// exactly (delivered, digested, silenced, dropped or shed), the console must show every delivered
// alert and the digests must add up, every Error-or-above alert must have reached the webhook
// (spooled, at least once), memory must be flat and /healthz must have answered every second.
// Knobs: PERCH_SOAK_SECONDS, PERCH_SOAK_HTTP_RATE, PERCH_SOAK_GRPC_RATE, PERCH_SOAK_SEED,
// PERCH_SOAK_FALCO_RESTART_SECONDS (10), PERCH_SOAK_REPORT (a file to write the report to).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from '@jest/globals';
import { Agent } from '../../src/app/agent.js';
import { validateConfig } from '../../src/config/load-config.js';
import { Spool } from '../../src/delivery/spool.js';
import { createLogger } from '../../src/logging/logger.js';
import { PerchMetrics } from '../../src/metrics/perch-metrics.js';
import type { EventOutcome } from '../../src/pipeline/accounting.js';
import { FakeFalcoGrpc } from '../fakes/fake-falco-grpc.js';
import { FakeKubeApi } from '../fakes/fake-kube-api.js';
import { HttpReceiver } from '../fakes/http-receiver.js';
import { metricValue } from '../helpers/agent-harness.js';
import { fakeKubeconfig } from '../helpers/fake-kubeconfig.js';
import {
  ConsoleTally,
  DeliveryMatcher,
  HealthPoller,
  judgeMemory,
  LogTally,
  type MemorySample,
  sampleMemory,
  sleep,
  WebhookTally,
} from './soak-observers.js';
import {
  AlertFactory,
  addCounts,
  CATEGORIES,
  type CategoryCounts,
  emptyCounts,
  HttpLoad,
  PodFleet,
  SOAK_RULES,
  seededRandom,
} from './soak-traffic.js';

const SECONDS = Number(process.env.PERCH_SOAK_SECONDS ?? '60');
const HTTP_RATE = Number(process.env.PERCH_SOAK_HTTP_RATE ?? '300');
const GRPC_RATE = Number(process.env.PERCH_SOAK_GRPC_RATE ?? '50');
const SEED = Number(process.env.PERCH_SOAK_SEED ?? '20260101');
const HTTP_CONNECTIONS = 4;
const NODE = 'soak-node';
const PODS = 50;

/** PERCH_SOAK_FALCO_RESTART_SECONDS spaces the restarts out, to soak the rest while a gRPC fault is being fixed. */
const FALCO_RESTART_EVERY_MS = Number(process.env.PERCH_SOAK_FALCO_RESTART_SECONDS ?? '10') * 1000;
const FALCO_DOWN_MS = 500;
const WEBHOOK_FLAP_EVERY_MS = 10_000;
const WEBHOOK_FLAP_MS = 3000;
const KUBE_FLAP_EVERY_MS = 15_000;
const KUBE_DOWN_MS = 4000;
const MEMORY_EVERY_MS = 5000;
/** Memory criterion (see judgeMemory): the last third of the samples after warm-up may exceed the first by this much. */
const MEMORY_FIXED_MB = 8;
const MEMORY_FRACTION = 0.1;
const WARMUP_S = Math.max(15, Math.round(SECONDS / 6));
/** Retries of an accepted request come within a timeout (2 s) and a backoff (≤ 1 s, or the circuit's 1 s). */
const DUPLICATE_WINDOW_MS = 10_000;

const cleanup: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

/**
 * Runs `fault` every `everyMs` (first after `firstMs`) until stopped; stop() waits for the one in
 * progress, then throws what a fault threw (kept until then: an unhandled rejection would end jest).
 */
class FaultLoop {
  count = 0;
  private running = true;
  private failure?: unknown;
  private readonly done: Promise<void>;

  constructor(firstMs: number, everyMs: number, fault: (n: number) => Promise<void>) {
    this.done = (async () => {
      const started = Date.now();
      for (let n = 0; ; n++) {
        const due = started + firstMs + n * everyMs;
        while (this.running && Date.now() < due) await sleep(Math.min(100, due - Date.now()));
        if (!this.running) return;
        await fault(n);
        this.count += 1;
      }
    })().catch((err: unknown) => {
      this.failure = err;
    });
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
    if (this.failure !== undefined) throw this.failure;
  }
}

async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** Every series of a metric whose labels include `labels`, as { labels, value }. */
async function series(
  metrics: PerchMetrics,
  name: string,
  labels: Record<string, string> = {},
): Promise<{ labels: Record<string, string | number>; value: number }[]> {
  const metric = await metrics.registry.getSingleMetric(name)?.get();
  return (metric?.values ?? [])
    .filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want))
    .map((v) => ({ labels: v.labels as Record<string, string | number>, value: v.value }));
}

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

describe('soak', () => {
  it(
    `takes ${SECONDS} s of steady alerts through sink, API server and Falco faults, accounting for every one`,
    async () => {
      // Shorter than a few fault periods, a run would prove nothing about the faults.
      expect(SECONDS).toBeGreaterThanOrEqual(20);
      const dir = mkdtempSync(join(tmpdir(), 'perch-soak-'));
      cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
      const random = seededRandom(SEED);

      // ---- the world around Perch ------------------------------------------------------------------
      // A short history: watches resume after an outage of a few seconds (a few events); the default
      // 1000 would keep filling with churned pods for ~8 minutes and read as growth of the heap.
      const kube = new FakeKubeApi({ token: 'soak', historyLimit: 200 });
      const kubeUrl = await kube.start();
      cleanup.push(() => kube.stop());
      const fleet = new PodFleet(kube, NODE, random);
      fleet.populate(PODS);

      const falco = new FakeFalcoGrpc({ address: `unix://${join(dir, 'falco', 'falco.sock')}` });
      const falcoAddress = await falco.start();
      cleanup.push(() => falco.stop());

      const receiver = await HttpReceiver.start();
      cleanup.push(() => receiver.stop());

      const rulesPath = join(dir, 'soak-rules.yaml');
      writeFileSync(rulesPath, SOAK_RULES);
      const spoolPath = join(dir, 'spool', 'spool.db');

      // ---- the agent ---------------------------------------------------------------------------------
      const matcher = new DeliveryMatcher();
      const consoleOut = new ConsoleTally(matcher);
      const logs = new LogTally();
      const metrics = new PerchMetrics({ processMetrics: false });
      const config = validateConfig(
        {
          nodeName: NODE,
          server: { listen: '127.0.0.1:0', shutdownGrace: '60s' },
          kubernetes: {
            kubeconfig: fakeKubeconfig(kubeUrl, 'soak', dir),
            pendingTimeout: '2s',
            // Deleted pods are kept this long for late alerts: short, so their number is steady within the short form.
            deletedPodGrace: '30s',
          },
          sources: {
            http: { enabled: true },
            grpc: { enabled: true, address: falcoAddress, reconnectInitial: '200ms', reconnectMax: '2s' },
          },
          sinks: {
            out: { type: 'console', format: 'json' },
            hook: {
              type: 'webhook',
              url: `${receiver.url}/hook`,
              minPriority: 'Warning',
              spoolMinPriority: 'Error',
              timeout: '2s',
              retry: { initial: '100ms', max: '1s' },
              // The webhook's default pace (10/s) is for a real receiver; this one must keep up with the soak.
              rateLimit: { perSecond: 2000, burst: 200 },
            },
          },
          delivery: { spoolPath },
          // Bundled rules off: the fates of the generated alerts must follow from the soak rules alone.
          rules: {
            defaults: false,
            files: [rulesPath],
            watch: false,
            dedup: { key: ['rule', 'workload'], window: '3s' },
          },
        },
        'soak',
        {},
      );
      const agent = new Agent(
        config,
        { stdout: consoleOut, stdin: new PassThrough() },
        createLogger('warn', logs),
        metrics,
      );
      // Shed events carry a reason that no metric shows; keep it for the report.
      const shedReasons = new Map<string, number>();
      const record = agent.accounting.record.bind(agent.accounting);
      agent.accounting.record = (outcome: EventOutcome, detail?: string) => {
        if (outcome === 'shed') shedReasons.set(detail ?? '?', (shedReasons.get(detail ?? '?') ?? 0) + 1);
        record(outcome, detail);
      };
      const { port } = await agent.start();
      let agentStopped = false;
      cleanup.push(async () => {
        if (!agentStopped) await agent.stop('soak cleanup');
      });
      await until(() => agent.kubernetes.state.pods.size.live === PODS, 'the first pod list', 15_000);

      const grpcSourceId = `grpc:${falcoAddress}`;
      const grpcReceived = () =>
        metricValue(metrics, 'perch_component_received_events_total', { component_id: grpcSourceId });

      // ---- observers -----------------------------------------------------------------------------------
      const startedAt = Date.now();
      const webhook = new WebhookTally(receiver, matcher, DUPLICATE_WINDOW_MS);
      const drainTimer = setInterval(() => webhook.drain(), 250);
      cleanup.push(() => clearInterval(drainTimer));
      const health = new HealthPoller(port);
      health.start();
      const memory: MemorySample[] = [];
      const memoryTimer = setInterval(() => memory.push(sampleMemory(startedAt)), MEMORY_EVERY_MS);
      cleanup.push(() => clearInterval(memoryTimer));

      // ---- inputs ---------------------------------------------------------------------------------------
      const factory = new AlertFactory(fleet, NODE, random);
      const http = new HttpLoad(port, factory, HTTP_RATE, HTTP_CONNECTIONS);
      http.start();

      // gRPC: what Perch received is the prefix of what was pushed since the last restart (one stream,
      // FIFO queue); the rest was either still queued at the restart or lost in flight when Falco died.
      const grpcByCategory: CategoryCounts = emptyCounts();
      let grpcPushed = 0;
      let epoch: string[] = [];
      let receivedAtEpochStart = 0;
      let grpcPaused = false;
      const restarts: { leftInQueue: number; lostInFlight: number; received: number }[] = [];
      const reconnectMs: number[] = [];
      const perTick = GRPC_RATE / 10;
      let owed = 0;
      const pushTimer = setInterval(() => {
        if (grpcPaused) return;
        owed += perTick;
        for (; owed >= 1; owed -= 1) {
          const { category, json } = factory.next();
          falco.pushEvent(json);
          epoch.push(category.key);
          grpcPushed += 1;
        }
      }, 100);
      cleanup.push(() => clearInterval(pushTimer));
      /** Settles the epoch since the last restart; Falco must be stopped (or its queue drained). */
      const closeEpoch = async () => {
        const received = await grpcReceived();
        const receivedNow = received - receivedAtEpochStart;
        const leftInQueue = falco.queueLength;
        const lostInFlight = epoch.length - leftInQueue - receivedNow;
        for (const key of epoch.slice(0, receivedNow)) grpcByCategory[key] = (grpcByCategory[key] ?? 0) + 1;
        restarts.push({ leftInQueue, lostInFlight, received: receivedNow });
        epoch = [];
        receivedAtEpochStart = received;
      };

      // ---- faults ---------------------------------------------------------------------------------------
      const churnTimer = setInterval(() => fleet.churn(), 1000);
      cleanup.push(() => clearInterval(churnTimer));
      // Perch must hold one `sub` stream to Falco, however often Falco restarts: more would split the
      // queue between them and each would poll (Falco answers each in turn).
      let maxSubStreams = 0;
      let maxHookQueue = 0;
      const streamsTimer = setInterval(() => {
        maxSubStreams = Math.max(maxSubStreams, falco.stats.activeSubStreams);
        void series(metrics, 'perch_sink_queue_depth', { sink: 'hook' }).then((s) => {
          maxHookQueue = Math.max(maxHookQueue, s[0]?.value ?? 0);
        });
      }, 250);
      cleanup.push(() => clearInterval(streamsTimer));
      const falcoRestarts = new FaultLoop(FALCO_RESTART_EVERY_MS, FALCO_RESTART_EVERY_MS, async () => {
        grpcPaused = true;
        await falco.stop();
        // What had reached Perch's socket before the kill is still being read: let it settle.
        await sleep(FALCO_DOWN_MS);
        await closeEpoch();
        await falco.restart();
        grpcPaused = false;
        // How long Perch takes to notice Falco is back (its reconnect backoff): for the report.
        const back = Date.now();
        await until(
          async () =>
            (await metricValue(metrics, 'perch_grpc_source_connected', { address: falcoAddress })) === 1,
          'Perch to reconnect to Falco',
          10_000,
        );
        reconnectMs.push(Date.now() - back);
      });
      const flapModes = ['refused', '503', 'reset'] as const;
      const webhookFlaps = new FaultLoop(5000, WEBHOOK_FLAP_EVERY_MS, async (n) => {
        const mode = flapModes[n % flapModes.length];
        if (mode === 'refused') await receiver.down();
        else if (mode === '503') receiver.setDefault({ status: 503, body: 'unavailable' });
        else receiver.setDefault({ reset: true });
        await sleep(WEBHOOK_FLAP_MS);
        await receiver.up();
        receiver.setDefault({ status: 200, body: 'ok' });
      });
      const kubeFlaps = new FaultLoop(7000, KUBE_FLAP_EVERY_MS, async () => {
        await kube.down();
        await sleep(KUBE_DOWN_MS);
        await kube.up();
        // The request log would grow with the run; nothing here reads it.
        kube.clearRequests();
      });

      await sleep(SECONDS * 1000);

      // ---- wind down: faults end in a healthy state, inputs stop, the backlog drains ---------------
      await Promise.all([falcoRestarts.stop(), webhookFlaps.stop(), kubeFlaps.stop()]);
      clearInterval(churnTimer);
      clearInterval(memoryTimer);
      clearInterval(streamsTimer);
      const loadSeconds = (Date.now() - startedAt) / 1000;
      await http.stop();
      grpcPaused = true;
      clearInterval(pushTimer);
      await until(
        async () => falco.queueLength === 0 && (await grpcReceived()) - receivedAtEpochStart >= epoch.length,
        'Perch to read what Falco still had queued',
        15_000,
      );
      await closeEpoch();
      await until(
        async () =>
          ((await series(metrics, 'perch_sink_queue_depth', { sink: 'hook' }))[0]?.value ?? 0) === 0,
        'the webhook backlog to drain',
        60_000,
      );
      await health.stop();
      const stopped = await agent.stop('soak finished');
      agentStopped = true;
      clearInterval(drainTimer);
      webhook.drain();

      // ---- what happened -------------------------------------------------------------------------------
      const counts = { ...agent.accounting.counts };
      const expected: CategoryCounts = emptyCounts();
      addCounts(expected, http.stats.accepted);
      addCounts(expected, grpcByCategory);
      const byFate = (fate: string) =>
        CATEGORIES.filter((c) => c.fate === fate).reduce((sum, c) => sum + (expected[c.key] ?? 0), 0);
      const grpcTotal = await grpcReceived();
      const received = http.stats.acceptedTotal + grpcTotal;
      const hookDelivered = await metricValue(metrics, 'perch_sink_deliveries_total', {
        sink: 'hook',
        status: 'delivered',
      });
      const hookRetried = await metricValue(metrics, 'perch_sink_deliveries_total', {
        sink: 'hook',
        status: 'retried',
      });
      const hookReceived = await metricValue(metrics, 'perch_component_received_events_total', {
        component_id: 'hook',
      });
      const hookSent = await metricValue(metrics, 'perch_component_sent_events_total', {
        component_id: 'hook',
      });
      const hookDiscarded = await series(metrics, 'perch_component_discarded_events_total', {
        component_id: 'hook',
      });
      const hookDiscardedTotal = hookDiscarded.reduce((sum, s) => sum + s.value, 0);
      const spool = new Spool({ path: spoolPath, maxEntries: 100_000 });
      const spoolLeft = spool.count();
      spool.close();
      const outcomeMetric = Object.fromEntries(
        (await series(metrics, 'perch_events_total')).map((s) => [String(s.labels.outcome), s.value]),
      );
      const enrichment = Object.fromEntries(
        (await series(metrics, 'perch_enrichment_total')).map((s) => [String(s.labels.outcome), s.value]),
      );
      const kubeRestarts = (await series(metrics, 'perch_kube_watch_restarts_total')).reduce(
        (s, x) => s + x.value,
        0,
      );
      const grpcReconnects = (await series(metrics, 'perch_grpc_source_reconnects_total'))
        .filter((x) => x.value > 0)
        .map((x) => `${x.labels.reason} ${x.value}`)
        .join(', ');
      const verdict = judgeMemory(memory, WARMUP_S, MEMORY_FIXED_MB, MEMORY_FRACTION);
      const lost = restarts.reduce((sum, r) => sum + r.lostInFlight, 0);
      const leftInQueues = restarts.reduce((sum, r) => sum + r.leftInQueue, 0);

      const report = [
        `perch soak: ${SECONDS} s (load ${round(loadSeconds)} s), seed ${SEED}`,
        `  inputs: http ${http.stats.acceptedTotal} accepted of ${http.stats.attempted} (${round(http.stats.acceptedTotal / loadSeconds)}/s, failures ${http.stats.failures}, max lag ${http.stats.maxLagMs} ms, max latency ${http.stats.maxLatencyMs} ms); grpc pushed ${grpcPushed}, received ${grpcTotal} (${round(grpcTotal / loadSeconds)}/s), left in queue at restarts ${leftInQueues}, lost in flight ${lost}`,
        `  by category (received): ${CATEGORIES.map((c) => `${c.key} ${expected[c.key]}`).join(', ')}`,
        `  accounting: total ${agent.accounting.total} = received ${received}; ${Object.entries(counts)
          .map(([k, v]) => `${k} ${v}`)
          .join(
            ', ',
          )}${shedReasons.size ? ` (shed: ${[...shedReasons].map(([r, n]) => `${r} ${n}`).join(', ')})` : ''}`,
        `  console: ${consoleOut.eventLines} events, ${consoleOut.digestLines} digests covering ${consoleOut.digestedTotal}, ${consoleOut.incidentLines} incidents; ${consoleOut.errorOrAbove} at Error or above`,
        `  webhook: received ${hookReceived}, delivered ${hookDelivered}, retried ${hookRetried}, discarded ${hookDiscarded.map((s) => `${s.labels.reason} ${s.value}`).join(', ') || 'none'}; receiver accepted ${webhook.accepted} (unique ${webhook.uniqueAccepted}, duplicates ${webhook.duplicates}), refused ${[...webhook.refused].map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}; Error+ matched ${matcher.matched}, still missing ${matcher.awaiting}, max backlog ${matcher.maxAwaiting} (queue depth max ${maxHookQueue}); spool left ${spoolLeft}`,
        `  faults: falco restarts ${falcoRestarts.count} (grpc reconnects ${grpcReconnects}; back after ${reconnectMs.join('/')} ms; max sub streams open ${maxSubStreams}), webhook flaps ${webhookFlaps.count}, kube outages ${kubeFlaps.count} (watch restarts ${kubeRestarts}), pods created ${fleet.created} deleted ${fleet.deleted}`,
        `  enrichment: ${Object.entries(enrichment)
          .filter(([, v]) => v > 0)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}`,
        `  health: ${health.polls} polls, ${health.failures} failures, max ${health.maxLatencyMs} ms; /metrics ${health.scrapes} scrapes, ${health.scrapeFailures} failures, max ${health.maxScrapeMs} ms`,
        `  memory (heapUsed after gc, MB): ${memory.map((m) => `${m.atS}s ${round(m.heapUsedMB)}`).join(', ')}`,
        `  memory verdict: after ${verdict.warmupS} s warm-up, first third ${round(verdict.firstMeanMB)} MB, last third ${round(verdict.lastMeanMB)} MB, growth ${round(verdict.growthMB)} MB (allowed ${round(verdict.allowedMB)}), slope ${round(verdict.slopeMBPerMin, 2)} MB/min, rss last ${round(memory.at(-1)?.rssMB ?? 0)} MB`,
        `  logs (warn+): ${[...logs.counts].map(([k, v]) => `${k} ×${v}`).join('; ') || 'none'}`,
        `  stop: ${stopped.clean ? 'clean' : 'grace expired'}`,
      ].join('\n');
      process.stdout.write(`\n${report}\n`);
      if (process.env.PERCH_SOAK_REPORT) writeFileSync(process.env.PERCH_SOAK_REPORT, `${report}\n`);

      // ---- the verdict -------------------------------------------------------------------------------
      expect(stopped.clean).toBe(true);
      expect(http.stats.failures).toBe(0);
      expect(health.failures).toBe(0);
      expect(health.scrapeFailures).toBe(0);
      expect(falcoRestarts.count).toBeGreaterThan(0);
      expect(webhookFlaps.count).toBeGreaterThan(0);
      expect(kubeFlaps.count).toBeGreaterThan(0);

      // gRPC: Perch never received more than Falco had popped; a restart loses at most what was in flight.
      for (const r of restarts) expect(r.lostInFlight).toBeGreaterThanOrEqual(0);
      // Bookkeeping: the epochs together cover everything Perch's gRPC source counted.
      expect(grpcTotal).toBe(grpcPushed - leftInQueues - lost);
      expect(await metricValue(metrics, 'perch_component_sent_events_total', { component_id: 'http' })).toBe(
        http.stats.acceptedTotal,
      );

      // The accounting is exact: every event received ends in one outcome, each as the rules say.
      expect(agent.accounting.total).toBe(received);
      expect(counts.dropped).toBe(byFate('dropped'));
      expect(counts.silenced).toBe(byFate('silenced'));
      expect(counts.shed).toBe(0);
      expect(counts.routed + counts.digested).toBe(byFate('deduplicated') + byFate('each'));
      expect(outcomeMetric).toEqual(counts);

      // Nothing lost at the console: every delivered event shown, digests add up to `digested`, rule by rule.
      expect(consoleOut.malformed).toBe(0);
      expect(consoleOut.eventLines).toBe(counts.routed);
      expect(consoleOut.digestedTotal).toBe(counts.digested);
      for (const c of CATEGORIES) {
        const shown = (consoleOut.events.get(c.rule) ?? 0) + (consoleOut.digestCounts.get(c.rule) ?? 0);
        expect({ rule: c.rule, shown }).toEqual({
          rule: c.rule,
          shown: c.fate === 'dropped' || c.fate === 'silenced' ? 0 : expected[c.key],
        });
        if (c.fate === 'each') expect(consoleOut.events.get(c.rule) ?? 0).toBe(expected[c.key]);
      }
      expect(consoleOut.incidentLines).toBeGreaterThan(0);

      // The webhook: every Error-or-above alert the console showed was accepted (at least once), none
      // came from nowhere, the metric agrees with the receiver, and the sink's own books balance.
      expect(matcher.awaiting).toBe(0);
      expect(matcher.unexplained).toBe(0);
      expect(webhook.acceptedErrorOrAbove).toBe(consoleOut.errorOrAbove);
      expect(webhook.uniqueAccepted).toBe(hookDelivered);
      expect(hookReceived).toBe(consoleOut.warningOrAbove);
      expect(hookSent + hookDiscardedTotal).toBe(hookReceived);
      expect(hookSent).toBe(hookDelivered);
      expect(spoolLeft).toBe(0);

      expect(verdict.ok).toBe(true);
      expect({ maxSubStreams }).toEqual({ maxSubStreams: 1 });
    },
    (SECONDS + 240) * 1000,
  );
});
