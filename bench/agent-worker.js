// The process under test (pinned to CPU 0 by bench/run.js). One scenario per process, so every figure
// starts from a fresh heap and JIT. Driven over IPC (bench/ipc.js); see bench/run.js for the method.

import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { PassThrough, Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import Fastify from 'fastify';
import { Subject } from 'rxjs';
import { Agent } from '../dist/app/agent.js';
import { replayFile } from '../dist/app/replay.js';
import { validateConfig } from '../dist/config/load-config.js';
import { parseFalcoJson } from '../dist/events/parse-falco-json.js';
import { loadFalcoProto } from '../dist/grpc/falco-proto.js';
import { ClusterState } from '../dist/kube/cluster-state.js';
import { clusterStateOptions } from '../dist/kube/kubernetes-context.js';
import { loadClusterDump } from '../dist/kube/offline-cluster.js';
import { createLogger } from '../dist/logging/logger.js';
import { EventMetrics } from '../dist/metrics/event-metrics.js';
import { PerchMetrics } from '../dist/metrics/perch-metrics.js';
import { Accounting } from '../dist/pipeline/accounting.js';
import { alertFromEvent } from '../dist/pipeline/alert.js';
import { buildPipeline } from '../dist/pipeline/pipeline.js';
import { loadRules } from '../dist/rules/load-rules.js';
import { ConsoleSink } from '../dist/sinks/console-sink.js';
import { readLinesOnce } from '../dist/sources/file-follower.js';
import { alertJson, DEPLOYMENTS, NODE_NAME, podOf, RULES } from './fixtures.js';
import { serve } from './ipc.js';

const log = createLogger('error');
const SEQ_IN_LINE = / seq=(\d+) /;

/** Where the console sink writes: nowhere. */
const nullOut = () =>
  new Writable({
    decodeStrings: false,
    write(_chunk, _encoding, done) {
      done();
    },
  });

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const tick = () => new Promise((resolve) => setImmediate(resolve));

/** State of the scenario this process runs. */
const state = {
  /** Events fully handled so far (pipeline: every outcome, shed included; bare: parsed). */
  processed: () => 0,
  shed: () => 0,
  cpuMark: process.cpuUsage(),
  stop: async () => {},
  /** Latency runs: receipt time by seq, and samples (ms) by phase. */
  received: new Map(),
  samples: new Map(),
};

function baseConfig(podsFile, extra = {}) {
  return {
    nodeName: NODE_NAME,
    log: { level: 'error' },
    server: { listen: '127.0.0.1:0', shutdownGrace: '5s' },
    kubernetes: { podsFile },
    // The default sink (console, text) writes to a null stream.
    sinks: { console: { type: 'console', format: 'text', color: 'never' } },
    ...extra,
  };
}

/**
 * A webhook sink that spools Warning and above, to a destination that refuses connections: every
 * alert it takes stays on disk, and the intake journal is in play for every Warning+ alert.
 */
function spooledSinks(spoolDir) {
  return {
    sinks: {
      console: { type: 'console', format: 'text', color: 'never' },
      siem: { type: 'webhook', url: 'http://127.0.0.1:1/', spoolMinPriority: 'Warning' },
    },
    delivery: { spoolPath: join(spoolDir, 'spool.db'), spoolMaxEntries: 5_000_000 },
  };
}

/** A full Agent (sources, enrichment, rules, dedup, correlation, metrics, console sink) as `perch run` builds it. */
async function startAgent({ podsFile, sources, rules, latency, extra }) {
  const config = validateConfig(
    baseConfig(podsFile, { sources, ...(rules ? { rules } : {}), ...extra }),
    'bench',
    {},
  );
  const out = latency ? latencyOut() : nullOut();
  const agent = new Agent(config, { stdout: out, stdin: new PassThrough() }, log, undefined, {});
  if (latency) {
    // Receipt: Node's HTTP server has parsed the request head (the body is in the same segment).
    agent.server.app.server.prependListener('request', (req) => {
      const seq = req.headers['x-bench-seq'];
      if (typeof seq === 'string') state.received.set(Number(seq), performance.now());
    });
  }
  const { port } = await agent.start();
  state.processed = () => agent.accounting.total;
  state.shed = () => agent.accounting.counts.shed;
  state.outcomes = () => ({ ...agent.accounting.counts });
  state.stop = async () => {
    await agent.stop('bench finished');
  };
  return { port };
}

/** Routed: the console sink writes the alert's line; the line carries the seq the load generator put in. */
function latencyOut() {
  const out = new Writable({
    write(_chunk, _encoding, done) {
      done();
    },
  });
  out.write = (chunk) => {
    const now = performance.now();
    const text = typeof chunk === 'string' ? chunk : String(chunk);
    if (text.includes(' INCIDENT ') || text.includes(' DIGEST ')) return true;
    const match = SEQ_IN_LINE.exec(text);
    if (!match) return true;
    const seq = Number(match[1]);
    const t0 = state.received.get(seq);
    if (t0 === undefined) return true;
    state.received.delete(seq);
    const phase = Math.floor(seq / 10_000_000);
    let list = state.samples.get(phase);
    if (!list) {
      list = [];
      state.samples.set(phase, list);
    }
    list.push(now - t0);
    return true;
  };
  return out;
}

/** Falco's http_output target without Perch: the same fastify setup, parse, answer 200, nothing else. */
async function startBareHttp() {
  let processed = 0;
  const app = Fastify({
    logger: false,
    keepAliveTimeout: 65_000,
    forceCloseConnections: 'idle',
    return503OnClosing: true,
  });
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: 1024 * 1024 }, (_req, body, done) =>
      done(null, body),
    );
    scope.post('/', (req, reply) => {
      JSON.parse(req.body);
      processed += 1;
      return reply.code(200).send({ accepted: 1 });
    });
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  state.processed = () => processed;
  state.stop = () => app.close();
  return { port: app.server.address().port };
}

/** Falco's gRPC `sub` read by plain grpc-js into a no-op, nudged the way Perch's GrpcSource nudges. */
async function startBareGrpc({ address, pollIntervalMs = 250 }) {
  let processed = 0;
  const proto = loadFalcoProto();
  const client = new proto.outputs(address, grpc.credentials.createInsecure());
  const call = client.sub();
  let quiet = true;
  call.write({});
  const nudge = setInterval(() => {
    if (quiet) call.write({});
    quiet = true;
  }, pollIntervalMs);
  call.on('data', () => {
    quiet = false;
    processed += 1;
  });
  call.on('error', () => undefined);
  state.processed = () => processed;
  state.stop = async () => {
    clearInterval(nudge);
    call.cancel();
    client.close();
  };
  return {};
}

async function waitProcessed({ total, timeoutMs = 120_000 }) {
  const deadline = Date.now() + timeoutMs;
  while (state.processed() < total) {
    if (Date.now() > deadline)
      throw new Error(`timed out: ${state.processed()} of ${total} events processed`);
    await sleep(1);
  }
  const atMs = Date.now();
  const cpu = process.cpuUsage(state.cpuMark);
  return {
    atMs,
    processed: state.processed(),
    shed: state.shed(),
    cpuMs: (cpu.user + cpu.system) / 1000,
    outcomes: state.outcomes?.(),
  };
}

function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

/** What can stall the agent during a latency run: its own GC pauses and event-loop delay. */
const stalls = { gc: [], loop: undefined, observer: undefined };

function phaseStart() {
  stalls.observer ??= new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) stalls.gc.push(entry.duration);
  });
  stalls.observer.observe({ entryTypes: ['gc'] });
  stalls.gc = [];
  stalls.loop?.disable();
  stalls.loop = monitorEventLoopDelay({ resolution: 1 });
  stalls.loop.enable();
  return {};
}

function latencyStats({ phase }) {
  const list = (state.samples.get(phase) ?? []).slice().sort((a, b) => a - b);
  stalls.loop?.disable();
  const gc = stalls.gc;
  return {
    samples: list.length,
    p50: percentile(list, 50),
    p90: percentile(list, 90),
    p99: percentile(list, 99),
    p999: percentile(list, 99.9),
    max: list[list.length - 1] ?? Number.NaN,
    gcPauses: gc.length,
    gcTotalMs: gc.reduce((a, b) => a + b, 0),
    gcMaxMs: gc.length > 0 ? Math.max(...gc) : 0,
    loopDelayP99Ms: stalls.loop ? stalls.loop.percentile(99) / 1e6 : Number.NaN,
    loopDelayMaxMs: stalls.loop ? stalls.loop.max / 1e6 : Number.NaN,
  };
}

/** JSON lines read with the same reader replay uses, parsed, dropped. */
function readAndParse(path) {
  return new Promise((resolve, reject) => {
    let events = 0;
    readLinesOnce(path).subscribe({
      next: (record) => {
        if (record.kind !== 'line') return;
        JSON.parse(record.line.text);
        events += 1;
      },
      error: reject,
      complete: () => resolve(events),
    });
  });
}

async function timed(fn) {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const result = await fn();
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { result, ms, cpuMs: (cpu.user + cpu.system) / 1000 };
}

/** One timed pass over a JSON-lines file: the no-op reader, or `perch replay` into a null stream. */
async function jsonl({ mode, path, podsFile }) {
  const config = validateConfig(baseConfig(podsFile), 'bench', {});
  const run =
    mode === 'bare'
      ? () => readAndParse(path)
      : async () => (await replayFile(path, { json: false, out: nullOut(), log, config })).events;
  const { result, ms, cpuMs } = await timed(run);
  return { events: result, ms, cpuMs, eps: result / (ms / 1000) };
}

/**
 * Memory: the agent's pipeline (intake, enrichment over the 300 cached pods, default rules, dedup,
 * correlation, event metrics, console sink to a null stream) fed 1M events whose dedup keys take
 * 100k distinct values (key: rule, workload, proc.cmdline; window 5 min). `maxKeys` defaults to the
 * agent's default (50k: beyond it the window that ends soonest is closed early); pass 100k to hold
 * every key. RSS after a full GC.
 */
async function rss({ podsFile, events, keys, maxKeys }) {
  const config = validateConfig(
    baseConfig(podsFile, {
      rules: { dedup: { key: ['rule', 'workload', 'proc.cmdline'], ...(maxKeys ? { maxKeys } : {}) } },
    }),
    'bench',
    {},
  );
  const metrics = new PerchMetrics();
  const eventMetrics = new EventMetrics(config.metrics, metrics.registry);
  const cluster = new ClusterState(clusterStateOptions(config.kubernetes, config.nodeName));
  loadClusterDump(podsFile, cluster);
  const rules = loadRules({ config: config.rules, sinkNames: Object.keys(config.sinks) });
  if (rules.errors.length > 0) throw new Error(rules.errors.join('; '));
  const consoleConfig = config.sinks.console;
  const sinks = [new ConsoleSink('console', consoleConfig, nullOut(), metrics.component('sink', 'console'))];
  const accounting = new Accounting((outcome) => metrics.countOutcome(outcome));
  const source = new Subject();
  const alerts$ = buildPipeline(source, {
    sinks,
    log,
    now: Date.now,
    rules: () => rules.ruleSet,
    accounting,
    intake: { capacity: config.pipeline.bufferSize },
    dedupMaxKeys: config.rules.dedup.maxKeys,
    correlationMaxGroups: config.pipeline.maxCorrelationGroups,
    allowedLatenessMs: config.pipeline.allowedLateness,
    onRuleOutcome: (disposition, rule) => metrics.ruleDispositions.inc({ disposition, rule }),
    onEvent: (alert) => eventMetrics.observeEvent(alert),
    onSent: (alert) => eventMetrics.observeSent(alert, Date.now()),
    resolver: cluster,
    enrich: {
      pendingTimeoutMs: config.kubernetes.pendingTimeout,
      maxPending: config.kubernetes.maxPending,
      onOutcome: (outcome) => metrics.countEnrichment(outcome),
    },
  });
  let sent = 0;
  alerts$.subscribe({
    next: () => {
      sent += 1;
    },
  });
  const templates = Array.from({ length: 1000 }, (_, n) => alertJson(n, { cmdline: '@@CMD@@' }));
  global.gc?.();
  global.gc?.();
  const before = process.memoryUsage();
  const t0 = performance.now();
  const batch = 500;
  for (let i = 0; i < events; ) {
    const end = Math.min(events, i + batch);
    for (; i < end; i++) {
      const text = templates[i % templates.length].replaceAll('@@CMD@@', `job-${i % keys}`);
      source.next(parseFalcoJson(text));
    }
    // Let the intake buffer hand the batch on (it drains on the event loop, as in the agent).
    while (accounting.total < i) await tick();
  }
  const ms = performance.now() - t0;
  for (let k = 0; k < 3; k++) {
    global.gc?.();
    await sleep(20);
  }
  const after = process.memoryUsage();
  const mb = (b) => b / (1024 * 1024);
  return {
    events,
    keys,
    maxKeys: config.rules.dedup.maxKeys,
    ms,
    sent,
    outcomes: { ...accounting.counts },
    gcAvailable: typeof global.gc === 'function',
    rssBeforeMb: mb(before.rss),
    rssMb: mb(after.rss),
    heapUsedMb: mb(after.heapUsed),
    heapUsedBeforeMb: mb(before.heapUsed),
    externalMb: mb(after.external),
  };
}

/**
 * /metrics render: the agent's registry (process metrics, component and pipeline counters, event
 * metrics at the default label set) with 1,000 series on perch_falco_events_total: 10 rules × 100
 * workloads. Median of `runs` renders after a warm-up.
 */
async function metricsRender({ podsFile, runs = 31 }) {
  const config = validateConfig(baseConfig(podsFile), 'bench', {});
  const metrics = new PerchMetrics();
  const eventMetrics = new EventMetrics(config.metrics, metrics.registry);
  const cluster = new ClusterState(clusterStateOptions(config.kubernetes, config.nodeName));
  loadClusterDump(podsFile, cluster);
  const source = metrics.component('source', 'http');
  const sink = metrics.component('sink', 'console');
  let n = 0;
  for (let d = 0; d < DEPLOYMENTS; d++) {
    for (let r = 0; r < RULES.length; r++) {
      // Find a fixture alert of rule r on a pod of deployment d, then make it so.
      const pod = podOf(d);
      const text = alertJson(n++)
        .replace(/"rule":"[^"]*"/, `"rule":${JSON.stringify(RULES[r].rule)}`)
        .replace(/"priority":"[^"]*"/, `"priority":"${RULES[r].priority}"`)
        .replace(/"container\.id":"[^"]*"/, `"container.id":"${pod.containerId.slice(0, 12)}"`);
      const event = parseFalcoJson(text);
      const enrichment = cluster.resolve(event) ?? { outcome: 'unresolved' };
      const alert = alertFromEvent({ event, enrichment }, Date.now());
      for (let k = 0; k < 3; k++) {
        source.received();
        eventMetrics.observeEvent(alert);
        eventMetrics.observeSent(alert, Date.now() + k);
        sink.sent();
      }
    }
  }
  const series = (await metrics.registry.getSingleMetric('perch_falco_events_total').get()).values.length;
  for (let i = 0; i < 5; i++) await metrics.registry.metrics();
  const times = [];
  let bytes = 0;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const text = await metrics.registry.metrics();
    times.push(performance.now() - t0);
    bytes = text.length;
  }
  times.sort((a, b) => a - b);
  return {
    series,
    runs,
    medianMs: times[Math.floor(runs / 2)],
    minMs: times[0],
    maxMs: times[runs - 1],
    bytes,
  };
}

/** The V8 CPU profiler (what `node --cpu-prof` uses), limited to the measured runs. */
let profiler;

serve({
  async profileStart() {
    profiler = new Session();
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.setSamplingInterval', { interval: 200 });
    await profiler.post('Profiler.start');
    return {};
  },
  async profileStop({ path }) {
    const { profile } = await profiler.post('Profiler.stop');
    profiler.disconnect();
    writeFileSync(path, JSON.stringify(profile));
    return { path };
  },
  async start(args) {
    if (args.mode === 'http-pipeline') return startAgent({ podsFile: args.podsFile, sources: {} });
    if (args.mode === 'http-latency')
      return startAgent({
        podsFile: args.podsFile,
        sources: {},
        // Every alert its own dedup key, so every one is routed (and opens a dedup window).
        rules: { dedup: { key: ['rule', 'workload', 'proc.pid'] } },
        latency: true,
      });
    if (args.mode === 'http-bare') return startBareHttp();
    if (args.mode === 'http-spooled')
      return startAgent({ podsFile: args.podsFile, sources: {}, extra: spooledSinks(args.spoolDir) });
    if (args.mode === 'grpc-pipeline')
      return startAgent({
        podsFile: args.podsFile,
        sources: { http: { enabled: false }, grpc: { enabled: true, address: args.address } },
      });
    if (args.mode === 'grpc-bare') return startBareGrpc(args);
    throw new Error(`unknown mode ${args.mode}`);
  },
  markCpu() {
    state.cpuMark = process.cpuUsage();
    return { processed: state.processed() };
  },
  waitProcessed,
  phaseStart,
  latencyStats,
  lostLatencySamples() {
    return { unmatched: state.received.size };
  },
  async stop() {
    await state.stop();
  },
  jsonl,
  rss,
  metricsRender,
});
