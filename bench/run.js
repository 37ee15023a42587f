#!/usr/bin/env node
// Perch benchmarks: `npm run bench` (= `npm run build --silent && node bench/run.js`), or directly
// `node bench/run.js [--json FILE] [--profile DIR] [--quick] [--soak-minutes N] [--only http,spooled,…,added_us] [--help]`.
//
// How it is put together (the simplest robust option):
// - bench/ is plain ESM JavaScript importing the compiled agent from ../dist (hence the build first);
//   no TypeScript runner and no second tsconfig are needed, and the code measured is the code shipped.
// - Every scenario runs the process under test (bench/agent-worker.js) and the load generator
//   (bench/load-worker.js) as separate processes, pinned with `taskset` to CPU 0 and CPU 1 when
//   available, so "alerts/s" means "on one core". This orchestrator only waits on IPC.
// - Each throughput figure and its baseline are measured in the same run, back to back, with the same
//   load generator and inputs: the full pipeline (enrichment over 300 cached pods, default rules, dedup,
//   correlation, metrics, the console sink into a null stream) against the same transport into a no-op.
// - Inputs are deterministic (bench/fixtures.js): ~1.2 KB Falco JSON alerts over 10 rules and 300 pods.
// - The footprint figures (idle_rss, start, webhook, webhook_batch, storm_rss, soak_rss; bench/footprint.js) measure a real
//   `perch run` process from outside, through /proc, with the load generator pinned as above;
//   webhook_peer is the same load posted straight to the same receiver, without Perch.
// See docs/performance.md for what each figure measures, the targets and the latest numbers.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { alertJson, writeClusterDump } from './fixtures.js';
import { idleRss, soakRss, startTime, stormRss, webhookDelivery, webhookPeer } from './footprint.js';
import { pinningAvailable, startWorker } from './ipc.js';
import { summariseProfile } from './profile-summary.js';

const SCENARIOS = [
  'http',
  'http_serial',
  'spooled',
  'grpc',
  'jsonl',
  'latency',
  'rss',
  'metrics',
  'idle_rss',
  'start',
  'webhook',
  'webhook_peer',
  'webhook_batch',
  'storm_rss',
  'soak_rss',
  'added_us',
];
const USAGE = `usage: node bench/run.js [--json FILE] [--profile DIR] [--quick] [--soak-minutes N] [--only ${SCENARIOS.join(',')}]

  --json FILE       also write the figures as JSON to FILE
  --profile DIR     CPU-profile the agent during the measured rounds, one .cpuprofile per round in DIR
  --quick           shorter runs and smaller counts (a smoke test, not figures to compare)
  --soak-minutes N  how long soak_rss runs (default 10, or 1 with --quick)
  --only LIST       run only these scenarios, comma-separated: ${SCENARIOS.join(', ')}
                    (added_us is computed from http, grpc and jsonl, so it runs those three)
  --help            print this and exit
`;

/** Usage on stderr and exit 2: a typo must not start (or silently skip) a benchmark of several minutes. */
function usageError(problem) {
  process.stderr.write(`bench/run.js: ${problem}\n\n${USAGE}`);
  process.exit(2);
}

let parsed;
try {
  parsed = parseArgs({
    options: {
      json: { type: 'string' },
      profile: { type: 'string' },
      quick: { type: 'boolean' },
      only: { type: 'string' },
      'soak-minutes': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  }).values;
} catch (err) {
  usageError(err.message);
}
if (parsed.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const jsonPath = parsed.json;
const profileDir = parsed.profile;
const quick = parsed.quick === true;
const only = parsed.only?.split(',').map((name) => name.trim());
const unknown = only?.filter((name) => !SCENARIOS.includes(name)) ?? [];
if (unknown.length > 0)
  usageError(`unknown --only scenario(s): ${unknown.join(', ')} (expected some of: ${SCENARIOS.join(', ')})`);
const soakMinutes = Number(parsed['soak-minutes'] ?? (quick ? 1 : 10));
if (!(soakMinutes > 0) || !Number.isFinite(soakMinutes))
  usageError(`--soak-minutes ${parsed['soak-minutes']}: expected a number of minutes above 0`);
const ADDED_US_FROM = ['http', 'grpc', 'jsonl'];
const wanted = (name) =>
  !only || only.includes(name) || (ADDED_US_FROM.includes(name) && only.includes('added_us'));

const WARM_MS = quick ? 1000 : 2000;
const MEASURE_MS = quick ? 2000 : 4000;
const ROUNDS = quick ? 1 : 3;
const LATENCY_MS = quick ? 2000 : 5000;
const JSONL_LINES = quick ? 30_000 : 100_000;
const RSS_EVENTS = quick ? 200_000 : 1_000_000;
const RSS_KEYS = quick ? 20_000 : 100_000;
const IDLE_MS = quick ? 3000 : 5000;
/** V8's memory reducer first runs about 8 s after the allocation rate drops: idle RSS is read again after it. */
const SETTLED_MS = quick ? 12_000 : 15_000;
const START_RUNS = 3;
const WEBHOOK_RATE = 2000;
const WEBHOOK_MS = quick ? 3000 : 5000;
const STORM_MS = quick ? 5000 : 10_000;
const SOAK_RATE = 2000;
const AGENT_CPU = 0;
const LOAD_CPU = 1;

const TARGETS = {
  httpEps: 20_000,
  grpcEps: 35_000,
  ratio: 0.7,
  p99At5k: 5,
  rssMb: 150,
  idleRssMb: 80,
  startMs: 1000,
  cpuMsPerDelivery: 0.25,
  webhookP99Ms: 25,
  stormRssMb: 256,
  stormRssDaemonSetMb: 200,
  soakRssMb: 200,
  addedUs: 10,
};
/** falcosidekick (webhook output only) on the same load, measured once beside Perch: not re-measured here. */
const PEER_WEBHOOK_PER_CPU_S = 6300;
/** The batched webhook run: arrays of up to 64 alerts, the first waiting at most 5 ms for more. */
const WEBHOOK_BATCH = { maxAlerts: 64, maxWait: '5ms' };

const dir = mkdtempSync(join(tmpdir(), 'perch-bench-'));
const podsFile = writeClusterDump(join(dir, 'cluster.json'));
const progress = (text) => process.stderr.write(`  ${text}\n`);
const fmt = (n, digits = 0) =>
  Number.isFinite(n)
    ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : 'n/a';
const profiles = [];
if (profileDir) mkdirSync(profileDir, { recursive: true });

// PERCH_BENCH_AGENT_ARGS: extra node flags for the agent processes only, e.g. `--trace-gc`.
const extraAgentArgs = (process.env.PERCH_BENCH_AGENT_ARGS ?? '').split(/\s+/).filter(Boolean);

function agentWorker(_name, nodeArgs = []) {
  return startWorker('./agent-worker.js', { cpu: AGENT_CPU, nodeArgs: [...extraAgentArgs, ...nodeArgs] });
}

/**
 * --profile DIR: the V8 CPU profiler (the one `node --cpu-prof` drives) runs in the agent during the
 * measured rounds only, so start-up, module loading and JIT warm-up do not dilute it.
 */
async function profiled(worker, name, fn) {
  if (!profileDir || !name) return fn();
  await worker.call('profileStart');
  try {
    return await fn();
  } finally {
    const path = join(profileDir, `${name}.cpuprofile`);
    await worker.call('profileStop', { path });
    profiles.push(path);
  }
}

/** Busy and total CPU time of the whole machine (all CPUs) from /proc/stat, in ms; undefined elsewhere. */
function machineCpu() {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, idle, iowait, irq, softirq, steal] = fields;
    const busy = user + nice + system + irq + softirq + steal;
    return { busyMs: busy * 10, totalMs: (busy + idle + iowait) * 10 };
  } catch {
    return undefined;
  }
}

/** CPU used during a measurement by processes other than the agent and the load generator, in CPUs. */
function foreignLoad(before, after, ownCpuMs, seconds) {
  if (!before || !after) return undefined;
  return Math.max(0, (after.busyMs - before.busyMs - ownCpuMs) / 1000 / seconds);
}

function describeRound(name, r) {
  progress(
    `${name}: ${fmt(r.eps)} alerts/s, ${fmt(r.cpuUsPerAlert, 1)} µs agent CPU per alert, agent CPU ${fmt(r.cpuShare * 100)} %` +
      `${r.foreignCpus !== undefined ? `, other processes ${fmt(r.foreignCpus * 100)} % of a CPU` : ''}` +
      `${r.shed ? `, ${r.shed} shed` : ''}${r.errors ? `, ${r.errors} errors` : ''}`,
  );
}

const best = (rounds) => rounds.reduce((a, b) => (b.eps > a.eps ? b : a));

/**
 * HTTP: 8 keep-alive connections, each posting one alert at a time, against two servers (both warm),
 * alternating for ROUNDS rounds; each side's best round is its figure. By default the no-op server
 * (`bare`) against the agent (`pipeline`); the spooled scenario compares the agent with and without
 * a spooled sink. eps = alerts answered and fully handled (shed ones excluded) / (last handled − first sent).
 * With `connections: 1`, Falco's own http_output: one connection, each alert posted once the last
 * is answered, so every alert is a turn of the agent's event loop of its own.
 */
async function httpThroughput(modes = ['bare', 'pipeline'], { connections = 8, name = 'http' } = {}) {
  const workers = Object.fromEntries(modes.map((mode) => [mode, agentWorker(`http-${mode}`)]));
  const load = startWorker('./load-worker.js', { cpu: LOAD_CPU });
  const rounds = Object.fromEntries(modes.map((mode) => [mode, []]));
  try {
    const ports = {};
    const handled = {};
    for (const mode of modes) {
      ({ port: ports[mode] } = await workers[mode].call('start', {
        mode: `http-${mode}`,
        podsFile,
        spoolDir: mkdtempSync(join(dir, 'spool-')),
      }));
      const warm = await load.call('httpSaturate', { port: ports[mode], durationMs: WARM_MS, connections });
      handled[mode] = warm.ok;
      await workers[mode].call('waitProcessed', { total: handled[mode] });
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (const mode of modes) {
        const agent = workers[mode];
        const before = await agent.call('waitProcessed', { total: handled[mode] });
        await agent.call('markCpu');
        const cpu0 = machineCpu();
        const { run, done } = await profiled(agent, `${name}-${mode}-round${round + 1}`, async () => {
          const run = await load.call('httpSaturate', {
            port: ports[mode],
            durationMs: MEASURE_MS,
            connections,
          });
          handled[mode] += run.ok;
          return { run, done: await agent.call('waitProcessed', { total: handled[mode] }) };
        });
        const cpu1 = machineCpu();
        const shed = done.shed - before.shed;
        const seconds = (Math.max(done.atMs, run.tEnd) - run.t0) / 1000;
        const r = {
          eps: (run.ok - shed) / seconds,
          alerts: run.ok,
          seconds,
          shed,
          errors: run.errors,
          cpuUsPerAlert: (done.cpuMs * 1000) / run.ok,
          cpuShare: done.cpuMs / 1000 / seconds,
          loadCpuShare: run.loadCpuMs / 1000 / seconds,
          foreignCpus: foreignLoad(cpu0, cpu1, done.cpuMs + run.loadCpuMs, seconds),
          outcomes: done.outcomes,
        };
        rounds[mode].push(r);
        describeRound(`${name.replace('-', ' ')} ${mode} round ${round + 1}`, r);
      }
    }
    for (const w of Object.values(workers)) await w.call('stop');
    return Object.fromEntries(modes.map((mode) => [mode, { ...best(rounds[mode]), rounds: rounds[mode] }]));
  } finally {
    await Promise.all([...Object.values(workers).map((w) => w.stop()), load.stop()]);
  }
}

/**
 * gRPC: Falco 0.43 `sub` over a unix socket, one Falco server (in the load process) per subscriber.
 * A batch is queued and the clock runs from its first write to the last event handled by the agent.
 * Warm-up batch first, then ROUNDS alternating batches sized to last about MEASURE_MS each.
 */
async function grpcThroughput() {
  const load = startWorker('./load-worker.js', { cpu: LOAD_CPU });
  const workers = { bare: agentWorker('grpc-bare'), pipeline: agentWorker('grpc-pipeline') };
  const rounds = { bare: [], pipeline: [] };
  const addresses = {
    bare: `unix://${join(dir, 'falco-bare.sock')}`,
    pipeline: `unix://${join(dir, 'falco-pipeline.sock')}`,
  };
  try {
    const handled = { bare: 0, pipeline: 0 };
    const rate = {};
    const batch = async (mode, count, name) => {
      const agent = workers[mode];
      const address = addresses[mode];
      const before = await agent.call('waitProcessed', { total: handled[mode] });
      await agent.call('markCpu');
      const cpu0 = machineCpu();
      const done = await profiled(agent, name, async () => {
        await load.call('grpcPush', { address, count });
        handled[mode] += count;
        return agent.call('waitProcessed', { total: handled[mode] });
      });
      const cpu1 = machineCpu();
      const status = await load.call('grpcStatus', { address });
      const shed = done.shed - before.shed;
      const seconds = (done.atMs - status.batchStart) / 1000;
      const r = {
        eps: (count - shed) / seconds,
        alerts: count,
        seconds,
        shed,
        cpuUsPerAlert: (done.cpuMs * 1000) / count,
        cpuShare: done.cpuMs / 1000 / seconds,
        loadCpuShare: status.loadCpuMs / 1000 / seconds,
        foreignCpus: foreignLoad(cpu0, cpu1, done.cpuMs + status.loadCpuMs, seconds),
        outcomes: done.outcomes,
      };
      rate[mode] = r.eps;
      return r;
    };
    for (const mode of ['bare', 'pipeline']) {
      await load.call('grpcStart', { address: addresses[mode] });
      await workers[mode].call('start', { mode: `grpc-${mode}`, podsFile, address: addresses[mode] });
      const warm = await batch(mode, quick ? 20_000 : 50_000, undefined);
      describeRound(`grpc ${mode} warm-up`, warm);
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (const mode of ['bare', 'pipeline']) {
        const count = Math.round(Math.min(400_000, Math.max(30_000, (rate[mode] * MEASURE_MS) / 1000)));
        const r = await batch(mode, count, `grpc-${mode}-round${round + 1}`);
        rounds[mode].push(r);
        describeRound(`grpc ${mode} round ${round + 1}`, r);
      }
    }
    for (const w of Object.values(workers)) await w.call('stop');
    await load.call('grpcStop');
    return {
      bare: { ...best(rounds.bare), rounds: rounds.bare },
      pipeline: { ...best(rounds.pipeline), rounds: rounds.pipeline },
    };
  } finally {
    await Promise.all([...Object.values(workers).map((w) => w.stop()), load.stop()]);
  }
}

/**
 * JSON lines: `perch replay` (same pipeline, event-time clock, text output into a null stream) against
 * reading the same file with the same reader and JSON.parse. Both warm on another file first, then
 * ROUNDS alternating passes over the measured file; each side's best pass is its figure.
 */
async function jsonlThroughput(path, warmPath) {
  const workers = { bare: agentWorker('jsonl-bare'), pipeline: agentWorker('jsonl-pipeline') };
  const rounds = { bare: [], pipeline: [] };
  try {
    for (const mode of ['bare', 'pipeline'])
      await workers[mode].call('jsonl', { mode, path: warmPath, podsFile });
    for (let round = 0; round < ROUNDS; round++) {
      for (const mode of ['bare', 'pipeline']) {
        const cpu0 = machineCpu();
        const r = await profiled(workers[mode], `jsonl-${mode}-round${round + 1}`, () =>
          workers[mode].call('jsonl', { mode, path, podsFile }),
        );
        const cpu1 = machineCpu();
        const seconds = r.ms / 1000;
        const result = {
          eps: r.eps,
          alerts: r.events,
          seconds,
          cpuUsPerAlert: (r.cpuMs * 1000) / r.events,
          cpuShare: r.cpuMs / 1000 / seconds,
          foreignCpus: foreignLoad(cpu0, cpu1, r.cpuMs, seconds),
        };
        rounds[mode].push(result);
        describeRound(`jsonl ${mode} round ${round + 1}`, result);
      }
    }
    return {
      bare: { ...best(rounds.bare), rounds: rounds.bare },
      pipeline: { ...best(rounds.pipeline), rounds: rounds.pipeline },
    };
  } finally {
    await Promise.all(Object.values(workers).map((w) => w.stop()));
  }
}

function writeJsonl(path, lines, offset) {
  const chunks = [];
  for (let i = 0; i < lines; i++) chunks.push(alertJson(offset + i));
  writeFileSync(path, `${chunks.join('\n')}\n`);
}

async function latency() {
  const agent = agentWorker('latency');
  const load = startWorker('./load-worker.js', { cpu: LOAD_CPU });
  const out = {};
  try {
    const { port } = await agent.call('start', { mode: 'http-latency', podsFile });
    let phase = 0;
    for (const rate of [1000, 5000]) {
      // A lead-in second at the rate (JIT, connection and heap warm-up), then the measured run.
      await load.call('httpRate', { port, rate, durationMs: 1000, phase: phase++ });
      const measured = phase++;
      await agent.call('phaseStart');
      const cpu0 = machineCpu();
      const cpuAgent0 = await agent.call('markCpu');
      const sent = await load.call('httpRate', { port, rate, durationMs: LATENCY_MS, phase: measured });
      await new Promise((resolve) => setTimeout(resolve, 300));
      const done = await agent.call('waitProcessed', { total: cpuAgent0.processed });
      const cpu1 = machineCpu();
      const stats = await agent.call('latencyStats', { phase: measured });
      const seconds = LATENCY_MS / 1000 + 0.3;
      out[rate] = {
        ...stats,
        achievedRate: sent.achievedRate,
        clientQueueMax: sent.queuedMax,
        agentCpuShare: done.cpuMs / 1000 / seconds,
        foreignCpus: foreignLoad(cpu0, cpu1, done.cpuMs + sent.loadCpuMs, seconds),
      };
      progress(
        `latency @ ${rate}/s: p50 ${fmt(stats.p50, 2)} ms, p99 ${fmt(stats.p99, 2)} ms, max ${fmt(stats.max, 2)} ms ` +
          `(${stats.samples} alerts routed, ${fmt(sent.achievedRate)} sent/s; agent GC ${stats.gcPauses} pauses, ` +
          `${fmt(stats.gcTotalMs, 1)} ms total, longest ${fmt(stats.gcMaxMs, 1)} ms; event-loop delay p99 ` +
          `${fmt(stats.loopDelayP99Ms, 1)} ms, max ${fmt(stats.loopDelayMaxMs, 1)} ms; ` +
          `other processes ${fmt((out[rate].foreignCpus ?? Number.NaN) * 100)} % of a CPU)`,
      );
    }
    await agent.call('stop');
    return out;
  } finally {
    await Promise.all([agent.stop(), load.stop()]);
  }
}

/** Memory, in a fresh process per variant: the agent's default dedup.maxKeys, then every key held. */
async function memory() {
  const out = {};
  for (const [name, maxKeys] of [
    ['default', undefined],
    ['allKeys', RSS_KEYS],
  ]) {
    const agent = agentWorker('rss', ['--expose-gc']);
    try {
      const r = await agent.call('rss', { podsFile, events: RSS_EVENTS, keys: RSS_KEYS, maxKeys });
      progress(
        `rss (dedup.maxKeys ${fmt(r.maxKeys)}): ${fmt(r.rssMb, 1)} MB after ${fmt(r.events)} alerts / ${fmt(r.keys)} keys ` +
          `(${fmt(r.rssBeforeMb, 1)} MB before; heap ${fmt(r.heapUsedBeforeMb, 1)} → ${fmt(r.heapUsedMb, 1)} MB; ` +
          `${fmt(r.events / (r.ms / 1000))} alerts/s in-process)`,
      );
      out[name] = r;
    } finally {
      await agent.stop();
    }
  }
  return { ...out.default, allKeys: out.allKeys };
}

/** The footprint figures: a real `perch run` per measurement, the load process beside it when needed. */
async function footprint() {
  const out = {};
  const common = { dir, cpu: AGENT_CPU, progress };
  if (wanted('idle_rss')) out.idle = await idleRss({ ...common, idleMs: IDLE_MS, settledMs: SETTLED_MS });
  if (wanted('start')) out.start = await startTime({ ...common, runs: START_RUNS });
  if (['webhook', 'webhook_peer', 'webhook_batch', 'storm_rss', 'soak_rss'].some(wanted)) {
    const load = startWorker('./load-worker.js', { cpu: LOAD_CPU });
    const withLoad = { ...common, load, podsFile };
    try {
      const webhook = { ...withLoad, rate: WEBHOOK_RATE, durationMs: WEBHOOK_MS };
      if (wanted('webhook')) out.webhook = await webhookDelivery(webhook);
      if (wanted('webhook_peer')) out.webhookPeer = await webhookPeer(webhook);
      if (wanted('webhook_batch'))
        out.webhookBatch = await webhookDelivery({
          ...webhook,
          sink: { batch: WEBHOOK_BATCH },
          label: 'batched webhook',
        });
      if (wanted('storm_rss')) out.storm = await stormRss({ ...withLoad, durationMs: STORM_MS });
      if (wanted('soak_rss'))
        out.soak = await soakRss({ ...withLoad, rate: SOAK_RATE, durationMs: soakMinutes * 60_000 });
    } finally {
      await load.stop();
    }
  }
  return out;
}

/** The pipeline's CPU per alert over its no-op's, in µs, for one throughput pair (undefined without one). */
const addedOver = (pair) => pair && pair.pipeline.cpuUsPerAlert - pair.bare.cpuUsPerAlert;

/** Pipeline CPU per alert over each transport's no-op, in µs, from the throughput pairs of this run. */
function addedUs(r) {
  return { http: addedOver(r.http), grpc: addedOver(r.grpc), jsonl: addedOver(r.jsonl) };
}

async function metricsRender() {
  const agent = agentWorker('metrics');
  try {
    const r = await agent.call('metricsRender', { podsFile });
    progress(`/metrics: ${fmt(r.medianMs, 2)} ms median for ${r.series} series (${fmt(r.bytes / 1024)} KiB)`);
    return r;
  } finally {
    await agent.stop();
  }
}

const mark = (ok) => (ok ? '✓' : '✗');

/** At most `count` of `values` with their indexes, evenly spaced, the first and the last included. */
function evenlySpaced(values, count) {
  const step = Math.max(1, (values.length - 1) / (count - 1));
  const picked = new Set();
  for (let i = 0; i < values.length; i += step) picked.add(Math.round(i));
  picked.add(values.length - 1);
  return [...picked].filter((at) => at >= 0).map((at) => ({ at, value: values[at] }));
}
const ratioOf = (pair) => pair.pipeline.eps / pair.bare.eps;

function table(r) {
  const rows = [['figure', 'value', 'baseline (same run)', 'target', '']];
  for (const [key, label, target] of [
    ['http', 'HTTP ingest, POST per alert, keep-alive', TARGETS.httpEps],
    ['grpc', 'gRPC ingest (Falco 0.43 sub)', TARGETS.grpcEps],
    ['jsonl', 'JSON-lines replay', undefined],
  ]) {
    const pair = r[key];
    if (!pair) continue;
    const ratio = ratioOf(pair);
    rows.push([
      `${label}: alerts/s`,
      fmt(pair.pipeline.eps),
      `no-op ${fmt(pair.bare.eps)}`,
      target ? `≥ ${fmt(target)}` : '—',
      target ? mark(pair.pipeline.eps >= target) : '',
    ]);
    rows.push([
      `  pipeline / no-op ratio`,
      fmt(ratio, 2),
      '',
      `≥ ${TARGETS.ratio}`,
      mark(ratio >= TARGETS.ratio),
    ]);
    const perCpu = (x) => `${fmt(x.cpuUsPerAlert, 1)} µs (${fmt(1e6 / x.cpuUsPerAlert)}/CPU-s)`;
    rows.push([`  agent CPU per alert`, perCpu(pair.pipeline), `no-op ${perCpu(pair.bare)}`, '', '']);
  }
  if (r.httpSerial) {
    const { bare, pipeline } = r.httpSerial;
    rows.push([
      "HTTP ingest, one connection, POST per alert (Falco's http_output): alerts/s",
      fmt(pipeline.eps),
      `no-op ${fmt(bare.eps)}`,
      '—',
      '',
    ]);
    rows.push([
      '  agent CPU per alert',
      `${fmt(pipeline.cpuUsPerAlert, 1)} µs`,
      `no-op ${fmt(bare.cpuUsPerAlert, 1)} µs`,
      '',
      '',
    ]);
    rows.push([
      '  pipeline CPU per alert over the no-op',
      `${fmt(addedOver(r.httpSerial), 1)} µs`,
      '',
      '—',
      '',
    ]);
  }
  if (r.spooled) {
    const { pipeline, spooled } = r.spooled;
    rows.push([
      'HTTP ingest with a spooled webhook sink (Warning+): alerts/s',
      fmt(spooled.eps),
      `without it ${fmt(pipeline.eps)}`,
      '—',
      '',
    ]);
    rows.push([
      '  agent CPU per alert',
      `${fmt(spooled.cpuUsPerAlert, 1)} µs`,
      `without it ${fmt(pipeline.cpuUsPerAlert, 1)} µs`,
      '',
      '',
    ]);
  }
  if (r.latency) {
    for (const rate of [1000, 5000]) {
      const s = r.latency[rate];
      rows.push([`latency receipt → routed @ ${fmt(rate)}/s: p50`, `${fmt(s.p50, 2)} ms`, '', '—', '']);
      const target = rate === 5000 ? TARGETS.p99At5k : undefined;
      rows.push([
        `latency receipt → routed @ ${fmt(rate)}/s: p99`,
        `${fmt(s.p99, 2)} ms`,
        `${fmt(s.samples)} alerts`,
        target ? `≤ ${target} ms` : '—',
        target ? mark(s.p99 <= target) : '',
      ]);
    }
  }
  if (r.rss) {
    rows.push([
      `RSS after ${fmt(r.rss.events)} alerts, ${fmt(r.rss.keys)} dedup keys`,
      `${fmt(r.rss.rssMb, 1)} MB`,
      `at start ${fmt(r.rss.rssBeforeMb, 1)} MB`,
      `≤ ${TARGETS.rssMb} MB`,
      mark(r.rss.rssMb <= TARGETS.rssMb),
    ]);
    rows.push([
      `  same, dedup.maxKeys ${fmt(r.rss.allKeys.maxKeys)} (default ${fmt(r.rss.maxKeys)}): every key held`,
      `${fmt(r.rss.allKeys.rssMb, 1)} MB`,
      `at start ${fmt(r.rss.allKeys.rssBeforeMb, 1)} MB`,
      '',
      '',
    ]);
  }
  if (r.metrics)
    rows.push([
      `/metrics render, default labels, ${fmt(r.metrics.series)} series`,
      `${fmt(r.metrics.medianMs, 2)} ms`,
      `${fmt(r.metrics.bytes / 1024)} KiB`,
      '—',
      '',
    ]);
  if (r.added_us) {
    for (const [key, label] of [
      ['http', 'HTTP'],
      ['grpc', 'gRPC'],
      ['jsonl', 'JSON lines'],
    ]) {
      const value = r.added_us[key];
      if (value === undefined) continue;
      rows.push([
        `pipeline CPU per alert over the no-op, ${label}`,
        `${fmt(value, 1)} µs`,
        `no-op ${fmt(r[key].bare.cpuUsPerAlert, 1)} µs`,
        `≤ ${TARGETS.addedUs} µs`,
        mark(value <= TARGETS.addedUs),
      ]);
    }
  }
  const fp = r.footprint ?? {};
  if (fp.idle) {
    rows.push([
      `idle RSS, watch mode (stub API server, ${fmt(fp.idle.watch.idleMs / 1000)} s without alerts, DaemonSet's ${fp.idle.settings})`,
      `${fmt(fp.idle.watch.rssMb, 1)} MB`,
      'before: 144 MB',
      `≤ ${TARGETS.idleRssMb} MB`,
      mark(fp.idle.watch.rssMb <= TARGETS.idleRssMb),
    ]);
    rows.push([
      `  same, ${fmt(fp.idle.watch.settledMs / 1000)} s without alerts (after V8's memory reducer, when it ran)`,
      `${fmt(fp.idle.watch.settledMb, 1)} MB`,
      '',
      '',
      '',
    ]);
    rows.push([
      `  agent CPU at rest, the ${fmt(fp.idle.watch.idleCpuMs / 1000)} s after that`,
      `${fmt(fp.idle.watch.cpuPct, 2)} %`,
      `woken ${fmt(fp.idle.watch.wakeupsPerSecond)} times a second`,
      '',
      '',
    ]);
    rows.push(['  same, plain node (no flags)', `${fmt(fp.idle.watchNoFlags.rssMb, 1)} MB`, '', '', '']);
    rows.push([
      '  same settings, without Kubernetes',
      `${fmt(fp.idle.withoutKubernetes.rssMb, 1)} MB`,
      'before: 96 MB',
      '',
      '',
    ]);
  }
  if (fp.start)
    rows.push([
      `start: spawn → /healthz 200, watch mode, median of ${fp.start.samples.length}`,
      `${fmt(fp.start.medianMs)} ms`,
      `before: ~1,800 ms; runs ${fp.start.samples.map((x) => fmt(x)).join(', ')}`,
      `≤ ${fmt(TARGETS.startMs)} ms`,
      mark(fp.start.medianMs <= TARGETS.startMs),
    ]);
  if (fp.webhook) {
    const w = fp.webhook;
    rows.push([
      `webhook for every alert @ ${fmt(w.rate)}/s: agent CPU per delivery, median of ${w.phases.length} phases`,
      `${fmt(w.cpuMsPerDelivery, 3)} ms`,
      `phases ${w.phases.map((p) => fmt(p.cpuMsPerDelivery, 3)).join(', ')}; before: 0.55–0.61 ms`,
      `≤ ${TARGETS.cpuMsPerDelivery} ms`,
      mark(w.cpuMsPerDelivery <= TARGETS.cpuMsPerDelivery),
    ]);
    rows.push([
      '  receipt → delivered: p99',
      `${fmt(w.p99Ms, 2)} ms`,
      `p50 ${fmt(w.p50Ms, 2)} ms; before: p99 830 ms`,
      `≤ ${TARGETS.webhookP99Ms} ms`,
      mark(w.p99Ms <= TARGETS.webhookP99Ms),
    ]);
    rows.push(['  lost (posted − delivered)', fmt(w.lost), `${fmt(w.sent)} posted`, '0', mark(w.lost === 0)]);
    rows.push([
      '  dropped or shed by the agent, lead-in included (its own counters)',
      fmt(w.agentDropped),
      w.drops.length > 0 ? 'reasons in the progress line' : '',
      '—',
      '',
    ]);
    rows.push([
      '  incidents delivered besides (their CPU counted above)',
      fmt(w.incidents),
      `phases ${w.phases.map((p) => fmt(p.incidents)).join(', ')}; the default correlations`,
      '—',
      '',
    ]);
    rows.push([
      '  alerts per agent CPU-second',
      fmt(w.alertsPerCpuSecond),
      `falcosidekick ${fmt(PEER_WEBHOOK_PER_CPU_S)} (measured once)`,
      '—',
      '',
    ]);
  }
  if (fp.webhookPeer) {
    const p = fp.webhookPeer;
    rows.push([
      `receiver-only peer @ ${fmt(p.rate)}/s (load → receiver, no agent): p99`,
      `${fmt(p.p99Ms, 2)} ms`,
      `p50 ${fmt(p.p50Ms, 2)} ms; ${fmt(p.lost)} lost`,
      '—',
      '',
    ]);
    rows.push([
      '  alerts per poster CPU-second (poster and receiver share it)',
      fmt(p.alertsPerCpuSecond),
      fp.webhook ? `Perch ${fmt(fp.webhook.alertsPerCpuSecond)} per agent CPU-s` : '',
      '—',
      '',
    ]);
  }
  if (fp.webhookBatch) {
    const b = fp.webhookBatch;
    rows.push([
      `batched webhook (≤ ${WEBHOOK_BATCH.maxAlerts} alerts, ≤ ${WEBHOOK_BATCH.maxWait}) @ ${fmt(b.rate)}/s: agent CPU per alert`,
      `${fmt(b.cpuMsPerDelivery, 3)} ms`,
      `${fmt(b.alertsPerRequest, 1)} alerts per request`,
      '—',
      '',
    ]);
    rows.push([
      '  receipt → delivered: p99',
      `${fmt(b.p99Ms, 2)} ms`,
      `p50 ${fmt(b.p50Ms, 2)} ms; ${fmt(b.lost)} lost`,
      '—',
      '',
    ]);
  }
  if (fp.storm)
    rows.push([
      `peak RSS, NDJSON storm (1,000-alert bodies, ${fmt(fp.storm.ms / 1000)} s, no heap flag)`,
      `${fmt(fp.storm.peakMb, 1)} MB`,
      `at start ${fmt(fp.storm.startMb, 1)} MB; before: 290 MB`,
      `≤ ${TARGETS.stormRssMb} MB`,
      mark(fp.storm.peakMb <= TARGETS.stormRssMb),
    ]);
  if (fp.storm?.daemonSet)
    rows.push([
      `  same, DaemonSet's ${fp.storm.daemonSet.settings}`,
      `${fmt(fp.storm.daemonSet.peakMb, 1)} MB`,
      `at start ${fmt(fp.storm.daemonSet.startMb, 1)} MB`,
      `≤ ${TARGETS.stormRssDaemonSetMb} MB`,
      mark(fp.storm.daemonSet.peakMb <= TARGETS.stormRssDaemonSetMb),
    ]);
  if (fp.soak) {
    const s = fp.soak;
    rows.push([
      `peak RSS, ${s.minutes}-min soak @ ${fmt(s.rate)}/s (one alert per POST, DaemonSet's settings)`,
      `${fmt(s.peakMb, 1)} MB`,
      `at start ${fmt(s.startMb, 1)} MB, at the end ${fmt(s.endMb, 1)} MB`,
      `≤ ${TARGETS.soakRssMb} MB`,
      mark(s.peakMb <= TARGETS.soakRssMb),
    ]);
    rows.push([
      '  RSS trend over the second half',
      `${fmt(s.secondHalfSlopeMbPerMin, 2)} MB/min`,
      `by minute: ${evenlySpaced(s.perMinuteMb, 8)
        .map(({ at, value }) => `${at + 1}: ${fmt(value, 1)}`)
        .join(', ')}`,
      '—',
      '',
    ]);
    rows.push([
      '  lost (answered 200 − accounted for)',
      fmt(s.lost),
      `${fmt(s.answered)} answered, ${fmt(s.shed)} shed, ${fmt(s.ingestErrors)} not answered 200`,
      '0',
      mark(s.lost === 0),
    ]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => [...row[c]].length)));
  const line = (row) =>
    row
      .map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(c === 4 ? 1 : widths[c])))
      .join('  ')
      .trimEnd();
  const sep = widths.map((w) => '─'.repeat(w)).join('  ');
  const foreign = ['http', 'httpSerial', 'grpc', 'jsonl']
    .flatMap((k) => (r[k] ? [...r[k].bare.rounds, ...r[k].pipeline.rounds] : []))
    .map((x) => x.foreignCpus)
    .filter((x) => x !== undefined);
  const notes = [];
  if (foreign.length > 0) {
    const mean = foreign.reduce((a, b) => a + b, 0) / foreign.length;
    notes.push(
      `Other processes used ${fmt(mean * 100)} % of a CPU on average during the throughput runs` +
        (mean > 0.15
          ? ' (a busy machine: alerts/s are best of rounds; agent CPU per alert is the steadier figure).'
          : '.'),
    );
  }
  return [line(rows[0]), sep, ...rows.slice(1).map(line), '', ...notes].join('\n');
}

function toJson(r, meta) {
  const pair = (p) =>
    p && {
      pipeline_eps: Math.round(p.pipeline.eps),
      bare_eps: Math.round(p.bare.eps),
      ratio: round(ratioOf(p), 3),
    };
  const json = {};
  if (r.http) json.http = pair(r.http);
  if (r.httpSerial)
    json.http_serial = {
      ...pair(r.httpSerial),
      pipeline_cpu_us_per_alert: round(r.httpSerial.pipeline.cpuUsPerAlert, 2),
      bare_cpu_us_per_alert: round(r.httpSerial.bare.cpuUsPerAlert, 2),
      added_us: round(addedOver(r.httpSerial), 1),
    };
  if (r.grpc) json.grpc = pair(r.grpc);
  if (r.spooled)
    json.http_spooled = {
      spooled_eps: Math.round(r.spooled.spooled.eps),
      unspooled_eps: Math.round(r.spooled.pipeline.eps),
      spooled_cpu_us_per_alert: round(r.spooled.spooled.cpuUsPerAlert, 2),
      unspooled_cpu_us_per_alert: round(r.spooled.pipeline.cpuUsPerAlert, 2),
    };
  if (r.jsonl) json.jsonl = pair(r.jsonl);
  if (r.latency)
    json.latency_ms = Object.fromEntries(
      Object.entries(r.latency).map(([rate, s]) => [rate, { p50: round(s.p50, 3), p99: round(s.p99, 3) }]),
    );
  if (r.rss) json.rss_mb_1m = round(r.rss.rssMb, 1);
  if (r.metrics) json.metrics_render_ms = round(r.metrics.medianMs, 3);
  const fp = r.footprint ?? {};
  if (fp.idle) {
    json.idle_rss_mb = round(fp.idle.watch.rssMb, 1);
    json.idle_rss_mb_settled = round(fp.idle.watch.settledMb, 1);
    json.idle_rss_mb_without_kubernetes = round(fp.idle.withoutKubernetes.rssMb, 1);
    json.idle_rss_mb_no_flags = round(fp.idle.watchNoFlags.rssMb, 1);
    json.idle_cpu_pct = round(fp.idle.watch.cpuPct, 3);
    json.idle_wakeups_per_second = round(fp.idle.watch.wakeupsPerSecond, 1);
    json.footprint_settings = fp.idle.settings;
  }
  if (fp.start) json.start_ms = Math.round(fp.start.medianMs);
  if (fp.webhook)
    json.webhook = {
      cpu_ms_per_delivery: round(fp.webhook.cpuMsPerDelivery, 3),
      cpu_ms_per_delivery_phases: fp.webhook.phases.map((p) => round(p.cpuMsPerDelivery, 3)),
      p99_ms_at_2000: round(fp.webhook.p99Ms, 2),
      lost: fp.webhook.lost,
      agent_dropped: fp.webhook.agentDropped,
      incidents: fp.webhook.incidents,
      alerts_per_cpu_second: Math.round(fp.webhook.alertsPerCpuSecond ?? Number.NaN) || null,
    };
  if (fp.webhookPeer)
    json.webhook_peer = {
      poster_alerts_per_cpu_second: Math.round(fp.webhookPeer.alertsPerCpuSecond ?? Number.NaN) || null,
      p99_ms_at_2000: round(fp.webhookPeer.p99Ms, 2),
      lost: fp.webhookPeer.lost,
    };
  if (fp.webhookBatch)
    json.webhook_batched = {
      cpu_ms_per_delivery: round(fp.webhookBatch.cpuMsPerDelivery, 3),
      cpu_ms_per_delivery_phases: fp.webhookBatch.phases.map((p) => round(p.cpuMsPerDelivery, 3)),
      p99_ms_at_2000: round(fp.webhookBatch.p99Ms, 2),
      lost: fp.webhookBatch.lost,
      agent_dropped: fp.webhookBatch.agentDropped,
      alerts_per_request: round(fp.webhookBatch.alertsPerRequest, 2),
      incidents: fp.webhookBatch.incidents,
      alerts_per_cpu_second: Math.round(fp.webhookBatch.alertsPerCpuSecond ?? Number.NaN) || null,
    };
  if (fp.storm) json.storm_rss_mb = round(fp.storm.peakMb, 1);
  if (fp.storm?.daemonSet) json.storm_rss_mb_daemonset = round(fp.storm.daemonSet.peakMb, 1);
  if (fp.soak)
    json.soak = {
      minutes: fp.soak.minutes,
      rate: fp.soak.rate,
      peak_rss_mb: round(fp.soak.peakMb, 1),
      end_rss_mb: round(fp.soak.endMb, 1),
      rss_mb_by_minute: fp.soak.perMinuteMb,
      second_half_slope_mb_per_min: round(fp.soak.secondHalfSlopeMbPerMin, 3),
      lost: fp.soak.lost,
      shed: fp.soak.shed,
      settings: fp.soak.settings,
    };
  if (r.added_us)
    json.added_us = Object.fromEntries(
      Object.entries(r.added_us)
        .filter(([, value]) => value !== undefined)
        .map(([key, value]) => [key, round(value, 1)]),
    );
  json.targets = {
    http_pipeline_eps: TARGETS.httpEps,
    grpc_pipeline_eps: TARGETS.grpcEps,
    ratio: TARGETS.ratio,
    p99_ms_at_5000: TARGETS.p99At5k,
    rss_mb: TARGETS.rssMb,
    idle_rss_mb: TARGETS.idleRssMb,
    start_ms: TARGETS.startMs,
    webhook: {
      cpu_ms_per_delivery: TARGETS.cpuMsPerDelivery,
      p99_ms_at_2000: TARGETS.webhookP99Ms,
      lost: 0,
    },
    storm_rss_mb: TARGETS.stormRssMb,
    storm_rss_mb_daemonset: TARGETS.stormRssDaemonSetMb,
    soak: { peak_rss_mb: TARGETS.soakRssMb, lost: 0 },
    added_us: TARGETS.addedUs,
  };
  json.baselines = {
    idle_rss_mb: 144,
    idle_rss_mb_without_kubernetes: 96,
    start_ms: 1800,
    webhook: { cpu_ms_per_delivery: 0.58, p99_ms_at_2000: 830, falcosidekick_alerts_per_cpu_second: 6300 },
    storm_rss_mb: 290,
    added_us: { http: 16.8, grpc: 11.5, jsonl: 8.7 },
  };
  json.meta = meta;
  json.details = r;
  return json;
}

const round = (n, digits) => (Number.isFinite(n) ? Number(n.toFixed(digits)) : null);

async function main() {
  const started = Date.now();
  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    pinned: pinningAvailable(),
    quick,
  };
  process.stderr.write(
    `Perch benchmarks (${meta.cpus} CPUs, ${meta.cpuModel}, node ${meta.node}; ` +
      `${meta.pinned ? `agent on CPU ${AGENT_CPU}, load on CPU ${LOAD_CPU}` : 'no CPU pinning: taskset unavailable'})\n`,
  );
  const r = {};
  if (wanted('http')) r.http = await httpThroughput();
  if (wanted('http_serial'))
    r.httpSerial = await httpThroughput(undefined, { connections: 1, name: 'http-serial' });
  if (wanted('spooled')) r.spooled = await httpThroughput(['pipeline', 'spooled']);
  if (wanted('grpc')) r.grpc = await grpcThroughput();
  if (wanted('jsonl')) {
    const warmPath = join(dir, 'warm.jsonl');
    const path = join(dir, 'alerts.jsonl');
    writeJsonl(warmPath, 20_000, 0);
    writeJsonl(path, JSONL_LINES, 20_000);
    r.jsonl = await jsonlThroughput(path, warmPath);
  }
  if (wanted('latency')) r.latency = await latency();
  if (wanted('rss')) r.rss = await memory();
  if (wanted('metrics')) r.metrics = await metricsRender();
  if (wanted('added_us')) r.added_us = addedUs(r);
  if (['idle_rss', 'start', 'webhook', 'webhook_peer', 'webhook_batch', 'storm_rss', 'soak_rss'].some(wanted))
    r.footprint = await footprint();
  meta.seconds = Math.round((Date.now() - started) / 1000);

  process.stdout.write(
    `\nPerch benchmarks — ${meta.cpus} × ${meta.cpuModel}, node ${meta.node}, ` +
      `${meta.pinned ? 'agent and load generator on one CPU each' : 'unpinned'}, ${meta.seconds} s` +
      `${quick ? ' (--quick: shorter runs, smaller counts)' : ''}\n\n${table(r)}\n`,
  );
  if (jsonPath) {
    writeFileSync(jsonPath, `${JSON.stringify(toJson(r, meta), null, 2)}\n`);
    process.stdout.write(`\nfigures written to ${jsonPath}\n`);
  }
  if (profileDir) {
    // One summary per scenario, its measured rounds added up; the no-op profiles are kept for comparison.
    for (const scenario of [
      'http-pipeline',
      'http-serial-pipeline',
      'http-spooled',
      'grpc-pipeline',
      'jsonl-pipeline',
    ]) {
      const files = profiles.filter((f) => f.includes(`${scenario}-round`));
      if (files.length === 0) continue;
      try {
        process.stdout.write(`\n${summariseProfile(files, { top: 20 })}\n`);
      } catch (err) {
        process.stdout.write(`\n${scenario}: ${err.message}\n`);
      }
    }
    process.stdout.write(`\nprofiles (pipeline and no-op, per round) in ${profileDir}\n`);
  }
}

try {
  await main();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
