// Request/response over the child-process IPC channel: the orchestrator (bench/run.js) drives the agent
// worker and the load worker, each in its own process and pinned to its own CPU where `taskset` exists.

import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

let canPin;

/** True when `taskset` can pin processes here (Linux with util-linux, affinity allowed). */
export function pinningAvailable() {
  if (canPin === undefined) {
    const probe = spawnSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
    canPin = probe.status === 0;
  }
  return canPin;
}

/**
 * Starts `bench/<script>` with an IPC channel, on CPU `cpu` when pinning is available.
 * Returns { call(cmd, args), stop(), child }.
 */
export function startWorker(script, { cpu, nodeArgs = [], env = {} } = {}) {
  const path = fileURLToPath(new URL(script, import.meta.url));
  const node = [...nodeArgs, path];
  const pinned = cpu !== undefined && pinningAvailable();
  const child = pinned
    ? spawn('taskset', ['-c', String(cpu), process.execPath, ...node], {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        env: { ...process.env, ...env },
      })
    : spawn(process.execPath, node, {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        env: { ...process.env, ...env },
      });
  let next = 0;
  const pending = new Map();
  let exited = false;
  const exitPromise = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      exited = true;
      for (const { reject } of pending.values())
        reject(new Error(`${script} exited (code ${code}, signal ${signal}) during a call`));
      pending.clear();
      resolve({ code, signal });
    });
  });
  child.on('message', (message) => {
    const waiter = pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id);
    if (message.error) waiter.reject(new Error(`${script}: ${message.error}`));
    else waiter.resolve(message.result);
  });
  return {
    child,
    pinned,
    call(cmd, args = {}) {
      if (exited) return Promise.reject(new Error(`${script} is not running`));
      const id = ++next;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        child.send({ id, cmd, args });
      });
    },
    /** Asks the worker to exit cleanly (so --cpu-prof profiles get written); kills it after 10 s. */
    async stop() {
      if (exited) return;
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      try {
        await this.call('exit').catch(() => undefined);
        await exitPromise;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** In a worker: answers the orchestrator's calls with `handlers[cmd](args)`; `exit` ends the process. */
export function serve(handlers) {
  process.on('message', async ({ id, cmd, args }) => {
    if (cmd === 'exit') {
      process.send?.({ id, result: null }, () => process.exit(0));
      return;
    }
    try {
      const handler = handlers[cmd];
      if (!handler) throw new Error(`unknown command ${cmd}`);
      const result = await handler(args);
      process.send?.({ id, result: result ?? null });
    } catch (err) {
      process.send?.({ id, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    }
  });
  // The orchestrator died: do not linger.
  process.on('disconnect', () => process.exit(0));
}
