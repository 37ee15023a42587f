// A real `perch run` (dist/cli.js) as its own process, pinned like the agent worker, and what the
// kernel says it costs: RSS, peak RSS and CPU time from /proc, so the figures include everything the
// process loads and does, not only the pipeline.

import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { pinningAvailable } from './ipc.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const TICK_MS = 10; // USER_HZ is 100 on every Linux Node supports

/** A TCP port free right now on 127.0.0.1 (`perch run` must be told its port to be polled). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts `perch run -c <config>` on `cpu`; `spawnedAt` is performance.now() just before spawn.
 * taskset execs node, so the child's pid is the agent's.
 */
export function startPerch({ configPath, config, cpu, env = {} }) {
  writeFileSync(configPath, JSON.stringify(config));
  // PERCH_BENCH_PERCH_ARGS: extra node flags for the spawned `perch run`, e.g. `--cpu-prof --cpu-prof-dir=DIR`.
  const nodeArgs = (process.env.PERCH_BENCH_PERCH_ARGS ?? '').split(/\s+/).filter(Boolean);
  const args = [...nodeArgs, CLI, 'run', '-c', configPath];
  const options = { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } };
  const spawnedAt = performance.now();
  const child =
    cpu !== undefined && pinningAvailable()
      ? spawn('taskset', ['-c', String(cpu), process.execPath, ...args], options)
      : spawn(process.execPath, args, options);
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text) => {
    stderr = (stderr + text).slice(-4000);
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    child,
    spawnedAt,
    stderr: () => stderr,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Polls `url` until it answers 200; returns performance.now() at that answer. */
export async function waitFor200(url, perch, timeoutMs = 30_000) {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (perch.child.exitCode !== null)
      throw new Error(
        `perch run exited (code ${perch.child.exitCode}) before ${url} answered:\n${perch.stderr()}`,
      );
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.status === 200) return performance.now();
    } catch {
      // Not listening yet.
    }
    if (performance.now() > deadline)
      throw new Error(`${url} did not answer 200 within ${timeoutMs} ms:\n${perch.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const statusField = (pid, field) => {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : Number.NaN;
};

/** Resident set size now, in MB (2^20 bytes). */
export const rssMb = (pid) => statusField(pid, 'VmRSS');

/** The highest resident set size the process has had, in MB. */
export const peakRssMb = (pid) => statusField(pid, 'VmHWM');

/** How many times the process's main thread has gone to sleep and been woken (voluntary context switches). */
export const wakeups = (pid) =>
  Number(
    /^voluntary_ctxt_switches:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? Number.NaN,
  );

/** User + system CPU time the process has used, in ms (10 ms resolution). */
export function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may contain spaces; the fields after it are fixed.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}
