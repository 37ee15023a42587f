import { type ChildProcess, spawn } from 'node:child_process';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { CLI } from '../cli-process.js';

export interface PerchOutcome {
  /** null: killed (the run did not end in time). */
  code: number | null;
  stdout: string;
  stderr: string;
  /** What went wrong, in words, or undefined when the command did what the docs say. */
  problem?: string;
}

export interface PerchRunOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  stdin?: string;
  timeoutMs?: number;
}

/**
 * Runs the built CLI to its end (check, replay, demo, …), or, for `perch run`, briefly, as the
 * docs' readers would: start it, wait for /healthz, stop it with SIGTERM. `run` listens on a free
 * loopback port (`--listen 127.0.0.1:PORT` after the documented arguments) so that runs can
 * overlap. A documented command must exit 0.
 */
export async function runPerch(args: string[], options: PerchRunOptions): Promise<PerchOutcome> {
  const port = isAgentRun(args) ? await freePort() : undefined;
  const child = spawn(
    process.execPath,
    [CLI, ...args, ...(port === undefined ? [] : ['--listen', `127.0.0.1:${port}`])],
    { cwd: options.cwd, env: options.env, stdio: 'pipe' },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  child.stdin.on('error', () => {});
  if (options.stdin !== undefined) child.stdin.end(options.stdin);
  else if (port === undefined) child.stdin.end();
  let spawnError: Error | undefined;
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => resolve(code));
    child.on('error', (err) => {
      spawnError = err;
      resolve(null);
    });
  });

  const timeoutMs = options.timeoutMs ?? 30_000;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  const health = port === undefined ? undefined : await serveBriefly(child, port, exited);
  const code = await exited;
  clearTimeout(timer);
  let problem: string | undefined;
  if (spawnError) problem = `could not start: ${spawnError.message}`;
  else if (timedOut)
    problem =
      port === undefined
        ? `did not finish within ${timeoutMs / 1000} s`
        : `did not answer 200 on /healthz and stop within ${timeoutMs / 1000} s (last answer: ${health ?? 'none'})`;
  else if (code !== 0) problem = `exited with ${code}, expected 0`;
  return { code, stdout, stderr, ...(problem ? { problem } : {}) };
}

/** `perch`, `perch run …`, `perch -c x`: the agent (and not `perch run --help`). */
export function isAgentRun(args: string[]): boolean {
  if (args.some((a) => ['--help', '-h', '--version', '-V'].includes(a))) return false;
  const first = args[0];
  return first === undefined || first === 'run' || first.startsWith('-');
}

/**
 * Asks /healthz until it answers 200, then sends SIGTERM; returns the last answer. An agent that
 * ends by itself first (with only --stdin, Perch ends with its input) is left to its exit code.
 */
async function serveBriefly(
  child: ChildProcess,
  port: number,
  exited: Promise<number | null>,
): Promise<number | undefined> {
  let done = false;
  void exited.then(() => {
    done = true;
  });
  let status: number | undefined;
  while (!done && status !== 200) {
    status = await healthz(port);
    if (status !== 200) await new Promise((r) => setTimeout(r, 50));
  }
  if (!done) child.kill('SIGTERM');
  return status;
}

function healthz(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path: '/healthz', timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', () => resolve(undefined));
    req.on('timeout', () => req.destroy());
  });
}

/** A loopback port nothing listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject()));
    });
  });
}
