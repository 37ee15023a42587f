// What Perch costs per node, measured on a real `perch run` process (dist/cli.js) rather than the
// in-process agent the throughput figures use: idle memory and start time in the DaemonSet's watch
// mode (against a stub API server), CPU and latency per webhook delivery, and peak memory in a storm.

import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { daemonSetRuntime } from './daemonset-runtime.js';
import { NODE_NAME } from './fixtures.js';
import { cpuMs, freePort, peakRssMb, rssMb, startPerch, waitFor200, wakeups } from './perch-process.js';
import { startStubKubeApi, writeStubKubeconfig } from './stub-kube-api.js';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function baseConfig(dir, port, extra = {}) {
  return {
    nodeName: NODE_NAME,
    log: { level: 'error' },
    server: { listen: `127.0.0.1:${port}`, shutdownGrace: '2s' },
    delivery: { spoolPath: join(dir, 'spool.db') },
    sinks: { console: { type: 'console', format: 'text', color: 'never' } },
    ...extra,
  };
}

/**
 * One `perch run`: in watch mode (`kubernetes.enabled: true`, KUBECONFIG naming the stub) or without
 * Kubernetes; resolves once /healthz answers 200, and, in watch mode, both watches are open.
 */
async function launch({ dir, cpu, kube, extra, runtime }) {
  const port = await freePort();
  const run = mkdtempSync(join(dir, 'perch-'));
  const config = baseConfig(run, port, {
    kubernetes: kube ? { enabled: true } : { enabled: false },
    ...extra,
  });
  const env = {
    ...(runtime?.env ?? {}),
    ...(kube ? { KUBECONFIG: writeStubKubeconfig(join(run, 'kubeconfig'), kube.url) } : {}),
  };
  const perch = startPerch({ configPath: join(run, 'perch.yaml'), config, cpu, env });
  try {
    const healthyAt = await waitFor200(`http://127.0.0.1:${port}/healthz`, perch);
    if (kube) {
      const deadline = performance.now() + 30_000;
      while (kube.watchesOpen() < 2) {
        if (performance.now() > deadline)
          throw new Error(
            `the pod and runtimeclass watches did not open; requests: ${kube.requests().join(', ')}`,
          );
        await sleep(10);
      }
    }
    return { perch, port, startMs: healthyAt - perch.spawnedAt };
  } catch (err) {
    await perch.stop();
    throw err;
  }
}

/** How long idle CPU is read, after the second RSS reading. */
const IDLE_CPU_MS = 10_000;

/**
 * RSS at rest, one fresh process each: in watch mode with the DaemonSet's process settings (the
 * figure), the same with none (plain `node`), and without Kubernetes. Read `idleMs` after start-up
 * (the figure: it still holds start-up's garbage), and again at `settledMs`, by when V8's memory
 * reducer has usually made its first pass (it waits about 8 s for the allocation rate to drop).
 * In watch mode, CPU time and wake-ups are then read over IDLE_CPU_MS.
 */
export async function idleRss({ dir, cpu, idleMs, settledMs, progress }) {
  const runtime = daemonSetRuntime();
  const out = { settings: runtime.describe };
  const kube = await startStubKubeApi();
  try {
    for (const [name, withKube, settings] of [
      ['watch', kube, runtime],
      ['watchNoFlags', kube, undefined],
      ['withoutKubernetes', undefined, runtime],
    ]) {
      const { perch } = await launch({ dir, cpu, kube: withKube, runtime: settings });
      const pid = perch.child.pid;
      try {
        await sleep(idleMs);
        const mb = rssMb(pid);
        await sleep(settledMs - idleMs);
        out[name] = { rssMb: mb, idleMs, settledMb: rssMb(pid), settledMs };
        progress(
          `idle RSS (${name}): ${mb.toFixed(1)} MB after ${idleMs} ms without alerts, ` +
            `${out[name].settledMb.toFixed(1)} MB after ${settledMs} ms`,
        );
        if (name === 'watch') {
          // After start-up's garbage is collected: what the process costs while nothing happens.
          const [cpu0, woken0] = [cpuMs(pid), wakeups(pid)];
          await sleep(IDLE_CPU_MS);
          const seconds = IDLE_CPU_MS / 1000;
          out[name].idleCpuMs = IDLE_CPU_MS;
          out[name].cpuPct = (cpuMs(pid) - cpu0) / 10 / seconds;
          out[name].wakeupsPerSecond = (wakeups(pid) - woken0) / seconds;
          progress(
            `idle CPU (${name}), the next ${seconds} s: ${out[name].cpuPct.toFixed(2)} % of a CPU, ` +
              `woken ${out[name].wakeupsPerSecond.toFixed(0)} times a second`,
          );
        }
      } finally {
        await perch.stop();
      }
    }
  } finally {
    await kube.close();
  }
  return out;
}

/** The middle value (the upper of the two middle ones for an even count). */
const median = (values) => [...values].sort((a, b) => a - b)[values.length >> 1];

/** Spawn → /healthz 200 in watch mode with the DaemonSet's settings, `runs` fresh processes; the median is the figure. */
export async function startTime({ dir, cpu, runs, progress }) {
  const kube = await startStubKubeApi();
  const runtime = daemonSetRuntime();
  const samples = [];
  try {
    for (let i = 0; i < runs; i++) {
      const { perch, startMs } = await launch({ dir, cpu, kube, runtime });
      await perch.stop();
      samples.push(startMs);
      progress(`start ${i + 1}/${runs}: /healthz answered ${startMs.toFixed(0)} ms after spawn`);
    }
  } finally {
    await kube.close();
  }
  return { medianMs: median(samples), samples };
}

/** The agent's own account of alerts it dropped or shed: the /metrics series that say why `lost` is not 0. */
async function dropsFromMetrics(port) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => /^perch_(component_discarded_events_total|events_shed_total)\b/.test(line))
    .filter((line) => !line.endsWith(' 0'));
}

/**
 * The lead-in before a delivery run is measured. The fixture's alerts spread over every rule of every
 * workload, so each of the default correlation's groups (same rule across pods of a workload) fills
 * and raises its incident once, then stays quiet for the timespan (10 min): at 2,000/s most do so in
 * the first seconds. Five seconds let that start-up burst pass, as it passes on a node; the incidents
 * still raised while measuring are counted in the CPU and reported.
 */
const LEAD_IN_MS = 5000;

/**
 * Measured phases of a delivery run, back to back after the lead-in. The machine's speed moves from
 * one 5 s stretch to the next by ±10 %; the CPU figure is the median phase's, so that one lucky or
 * unlucky stretch does not decide it. Latency and losses count every phase's alerts.
 */
const MEASURED_PHASES = 3;

/**
 * A webhook for every alert: one webhook sink (Debug and up, no pacing to speak of) to the receiver in
 * the load process, dedup off; `rate` alerts/s over HTTP (Falco's http_output) for `durationMs` in
 * each of MEASURED_PHASES phases after the lead-in. A phase's agent CPU is counted from its first post
 * until its last alert is delivered (or nothing more arrives for 5 s); lost = posted − delivered.
 * `sink` adds to the sink's settings (a batch); `label` names the run in the progress line.
 */
export async function webhookDelivery({
  dir,
  cpu,
  load,
  podsFile,
  rate,
  durationMs,
  progress,
  sink = {},
  label = 'webhook for every alert',
}) {
  const { port: receiverPort } = await load.call('receiverStart');
  const { perch, port } = await launch({
    dir,
    cpu,
    extra: {
      kubernetes: { enabled: false, podsFile },
      rules: { dedup: { window: '0s' } },
      sinks: {
        receiver: {
          type: 'webhook',
          url: `http://127.0.0.1:${receiverPort}/`,
          minPriority: 'Debug',
          rateLimit: { perSecond: 1_000_000, burst: 1_000_000 },
          ...sink,
        },
      },
    },
  });
  const pid = perch.child.pid;
  const range = (phase, count) => ({ from: phase * 10_000_000, to: phase * 10_000_000 + count });
  /** Waits until the phase's `count` alerts are all delivered, or nothing more arrives for 5 s. */
  const drain = async (phase, count) => {
    let last = -1;
    let quietSince = performance.now();
    for (;;) {
      const stats = await load.call('receiverStats', { ranges: [range(phase, count)] });
      if (stats.delivered >= count) return stats;
      if (stats.delivered !== last) {
        last = stats.delivered;
        quietSince = performance.now();
      } else if (performance.now() - quietSince > 5000) return stats;
      await sleep(20);
    }
  };
  try {
    const lead = await load.call('httpRate', { port, rate, durationMs: LEAD_IN_MS, phase: 1 });
    await drain(1, lead.sent);
    const phases = [];
    for (let phase = 2; phase < 2 + MEASURED_PHASES; phase++) {
      const before = await load.call('receiverStats', { ranges: [] });
      const cpu0 = cpuMs(pid);
      const sent = await load.call('httpRate', { port, rate, durationMs, phase });
      const stats = await drain(phase, sent.sent);
      const agentCpuMs = cpuMs(pid) - cpu0;
      const after = await load.call('receiverStats', { ranges: [] });
      phases.push({
        phase,
        sent: sent.sent,
        achievedRate: sent.achievedRate,
        errors: sent.errors,
        delivered: stats.delivered,
        agentCpuMs,
        cpuMsPerDelivery: stats.delivered > 0 ? agentCpuMs / stats.delivered : null,
        requests: after.requests - before.requests,
        incidents: after.incidents - before.incidents,
      });
    }
    const all = await load.call('receiverStats', {
      ranges: phases.map((p) => range(p.phase, p.sent)),
    });
    const drops = await dropsFromMetrics(port);
    const sum = (key) => phases.reduce((total, p) => total + p[key], 0);
    const middle = median(phases.map((p) => p.cpuMsPerDelivery ?? Number.POSITIVE_INFINITY));
    const result = {
      rate,
      phases,
      achievedRate: Math.min(...phases.map((p) => p.achievedRate)),
      sent: sum('sent'),
      ingestErrors: sum('errors'),
      delivered: all.delivered,
      lost: sum('sent') - all.delivered,
      p50Ms: all.p50,
      p99Ms: all.p99,
      maxMs: all.max,
      receiverRequests: sum('requests'),
      incidents: sum('incidents'),
      alertsPerRequest: sum('requests') > 0 ? all.delivered / sum('requests') : null,
      agentCpuMs: sum('agentCpuMs'),
      cpuMsPerDelivery: Number.isFinite(middle) ? middle : null,
      alertsPerCpuSecond: Number.isFinite(middle) && middle > 0 ? 1000 / middle : null,
      drops,
      // What the agent's counters say it dropped, lead-in included (lost counts the measured phases only).
      agentDropped: drops.reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0),
    };
    progress(
      `${label} @ ${rate}/s: ${result.delivered} of ${result.sent} delivered, p50 ` +
        `${result.p50Ms?.toFixed(2)} ms, p99 ${result.p99Ms?.toFixed(2)} ms, agent CPU ` +
        `${result.cpuMsPerDelivery?.toFixed(3)} ms per delivery, the median of ` +
        `${phases.map((p) => p.cpuMsPerDelivery?.toFixed(3)).join(', ')} ` +
        `(${result.alertsPerCpuSecond?.toFixed(0)}/CPU-s), ` +
        `${result.incidents} incidents delivered besides` +
        `${drops.length > 0 ? `; the agent counted, lead-in included: ${drops.join(', ')}` : ''}`,
    );
    return result;
  } finally {
    await perch.stop();
    await load.call('receiverStop');
  }
}

/**
 * The receiver-only peer: the same load generator posting the same alerts, at the same rate, straight
 * to the same receiver (one POST per alert, no agent between them). Its p99 is the floor of receipt →
 * delivered on this machine; alerts per CPU-second are those of the load process, which posts and, in
 * this run only, also receives: a floor for what forwarding one alert per request can cost in Node.
 */
export async function webhookPeer({ load, rate, durationMs, progress }) {
  const { port } = await load.call('receiverStart');
  const range = (count) => ({ from: 3 * 10_000_000, to: 3 * 10_000_000 + count });
  try {
    await load.call('httpRate', { port, rate, durationMs: 1000, phase: 4 });
    const sent = await load.call('httpRate', { port, rate, durationMs, phase: 3 });
    const stats = await load.call('receiverStats', { ranges: [range(sent.sent)] });
    const result = {
      rate,
      sent: sent.sent,
      delivered: stats.delivered,
      lost: sent.sent - stats.delivered,
      p50Ms: stats.p50,
      p99Ms: stats.p99,
      posterCpuMs: sent.loadCpuMs,
      alertsPerCpuSecond: sent.loadCpuMs > 0 ? stats.delivered / (sent.loadCpuMs / 1000) : null,
    };
    progress(
      `receiver-only peer @ ${rate}/s: ${result.delivered} of ${result.sent} received, p50 ` +
        `${result.p50Ms?.toFixed(2)} ms, p99 ${result.p99Ms?.toFixed(2)} ms, poster ` +
        `${result.alertsPerCpuSecond?.toFixed(0)} alerts/CPU-s`,
    );
    return result;
  } finally {
    await load.call('receiverStop');
  }
}

/**
 * Peak RSS (VmHWM) of `perch run` under an NDJSON storm: 1,000-alert bodies as fast as two
 * connections can post them for `durationMs`, once with its defaults and no heap flag, once with
 * the DaemonSet's process settings. sources.http.maxBodyBytes is raised to 4 MiB because 1,000 of
 * the bench's alerts (1.2 MB) exceed the 1 MiB default.
 */
export async function stormRss({ dir, cpu, load, podsFile, durationMs, progress }) {
  const noFlags = await stormOnce({ dir, cpu, load, podsFile, durationMs, progress, label: 'no heap flag' });
  const runtime = daemonSetRuntime();
  const daemonSet = await stormOnce({
    dir,
    cpu,
    load,
    podsFile,
    durationMs,
    progress,
    runtime,
    label: runtime.describe,
  });
  return { ...noFlags, daemonSet: { ...daemonSet, settings: runtime.describe } };
}

async function stormOnce({ dir, cpu, load, podsFile, durationMs, progress, runtime, label }) {
  const { perch, port } = await launch({
    dir,
    cpu,
    runtime,
    extra: {
      kubernetes: { enabled: false, podsFile },
      sources: { http: { maxBodyBytes: 4 * 1024 * 1024 } },
    },
  });
  const pid = perch.child.pid;
  try {
    const startMb = rssMb(pid);
    const storm = await load.call('ndjsonStorm', { port, durationMs });
    const peakMb = peakRssMb(pid);
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const series = (pattern) => Number(pattern.exec(text)?.[1] ?? Number.NaN);
    const result = {
      startMb,
      peakMb,
      endMb: rssMb(pid),
      ...storm,
      // What the agent did with the alerts: shed (lost to the full intake buffer), or held the batch back.
      shed: series(/^perch_events_total\{outcome="shed"\} (\d+)/m),
      held: series(/^perch_http_ingest_held_total (\d+)/m),
    };
    progress(
      `NDJSON storm (${label}): ${storm.alerts} alerts in ${storm.bodies} bodies over ${storm.ms} ms ` +
        `(answers ${JSON.stringify(storm.statuses)}; ${result.shed} shed, ${result.held} bodies held ` +
        `until the intake buffer had room); RSS ${startMb.toFixed(1)} MB at start, peak ${peakMb.toFixed(1)} MB`,
    );
    return result;
  } finally {
    await perch.stop();
  }
}

/** How often the soak reads the agent's RSS, and so how many readings make a minute. */
const SOAK_SAMPLE_MS = 5000;
const SOAK_SAMPLES_PER_MINUTE = 60_000 / SOAK_SAMPLE_MS;

/** Sum of perch_events_total over its outcomes, and the shed ones alone: where every alert taken in ended. */
async function outcomesFromMetrics(port) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let accounted = 0;
  let shed = 0;
  for (const match of text.matchAll(/^perch_events_total\{outcome="(\w+)"\} (\d+)/gm)) {
    accounted += Number(match[2]);
    if (match[1] === 'shed') shed = Number(match[2]);
  }
  return { accounted, shed };
}

/** Least-squares slope of `samples` ({ atMs, mb }) in MB per minute. */
function slopeMbPerMinute(samples) {
  const n = samples.length;
  if (n < 2) return null;
  const meanX = samples.reduce((s, p) => s + p.atMs, 0) / n;
  const meanY = samples.reduce((s, p) => s + p.mb, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of samples) {
    num += (p.atMs - meanX) * (p.mb - meanY);
    den += (p.atMs - meanX) ** 2;
  }
  return den === 0 ? null : (num / den) * 60_000;
}

/**
 * RSS of `perch run` with the DaemonSet's process settings under a steady load for `durationMs`:
 * `rate` alerts/s over HTTP, one alert per POST on four keep-alive connections as Falco's
 * http_output sends them, each alert its own dedup key and stamped with the time it is sent, so the
 * dedup and correlation windows fill to their bounds and keep turning over. RSS is read every
 * SOAK_SAMPLE_MS; the figure is the peak (VmHWM). The slope over the second half says whether RSS
 * has levelled off. lost = answered 200 − accounted for by perch_events_total (every outcome).
 */
export async function soakRss({ dir, cpu, load, podsFile, rate, durationMs, progress }) {
  const runtime = daemonSetRuntime();
  const { perch, port } = await launch({
    dir,
    cpu,
    runtime,
    extra: { kubernetes: { enabled: false, podsFile } },
  });
  const pid = perch.child.pid;
  try {
    const startMb = rssMb(pid);
    const cpu0 = cpuMs(pid);
    const t0 = performance.now();
    const samples = [];
    const sampler = setInterval(() => {
      const atMs = performance.now() - t0;
      const mb = rssMb(pid);
      samples.push({ atMs, mb });
      if (samples.length % SOAK_SAMPLES_PER_MINUTE === 0)
        progress(`soak: ${(atMs / 60_000).toFixed(0)} min, RSS ${mb.toFixed(1)} MB`);
    }, SOAK_SAMPLE_MS);
    let sent;
    try {
      sent = await load.call('httpRate', { port, rate, durationMs, phase: 1, connections: 4 });
    } finally {
      clearInterval(sampler);
    }
    const agentCpuMs = cpuMs(pid) - cpu0;
    const seconds = (performance.now() - t0) / 1000;
    // The last alerts may still be in the pipeline: wait until all are accounted for, or 5 s of no change.
    let outcomes = await outcomesFromMetrics(port);
    let quietSince = performance.now();
    while (outcomes.accounted < sent.ok && performance.now() - quietSince < 5000) {
      await sleep(50);
      const next = await outcomesFromMetrics(port);
      if (next.accounted !== outcomes.accounted) quietSince = performance.now();
      outcomes = next;
    }
    const secondHalf = samples.filter((s) => s.atMs >= durationMs / 2);
    const result = {
      rate,
      minutes: durationMs / 60_000,
      settings: runtime.describe,
      sent: sent.sent,
      answered: sent.ok,
      ingestErrors: sent.errors,
      achievedRate: sent.achievedRate,
      accounted: outcomes.accounted,
      shed: outcomes.shed,
      lost: sent.ok - outcomes.accounted,
      startMb,
      peakMb: peakRssMb(pid),
      endMb: rssMb(pid),
      perMinuteMb: samples
        .filter((_, i) => (i + 1) % SOAK_SAMPLES_PER_MINUTE === 0)
        .map((s) => Number(s.mb.toFixed(1))),
      secondHalfSlopeMbPerMin: slopeMbPerMinute(secondHalf),
      agentCpuShare: agentCpuMs / 1000 / seconds,
    };
    progress(
      `soak (${runtime.describe}) @ ${rate}/s for ${result.minutes} min: ${sent.ok} of ${sent.sent} answered, ` +
        `${result.lost} lost, ${result.shed} shed; RSS ${startMb.toFixed(1)} MB at start, peak ` +
        `${result.peakMb.toFixed(1)} MB, ${result.endMb.toFixed(1)} MB at the end; second half ` +
        `${result.secondHalfSlopeMbPerMin?.toFixed(2)} MB/min; agent CPU ${(result.agentCpuShare * 100).toFixed(0)} %`,
    );
    return result;
  } finally {
    await perch.stop();
  }
}
