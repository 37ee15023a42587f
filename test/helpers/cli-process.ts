import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

export interface SpawnOptions {
  cwd?: string;
  /** The environment instead of this process's (NO_COLOR is always set). */
  env?: NodeJS.ProcessEnv;
}

/** A running `perch` process (the built CLI, as users run it) with its output collected. */
export class PerchProcess {
  readonly child: ChildProcessWithoutNullStreams;
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;

  constructor(args: string[], options: SpawnOptions = {}) {
    this.child = spawn(process.execPath, [CLI, ...args], {
      stdio: 'pipe',
      env: { ...(options.env ?? process.env), NO_COLOR: '1' },
      ...(options.cwd ? { cwd: options.cwd } : {}),
    });
    this.child.stdout.on('data', (d: Buffer) => {
      this.stdout += d.toString();
    });
    this.child.stderr.on('data', (d: Buffer) => {
      this.stderr += d.toString();
    });
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  /** Resolves with the port once the agent logs that it is running. */
  async port(timeoutMs = 10_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const m = /"msg":"Perch is running"/.test(this.stderr) ? /"port":(\d+)/.exec(this.stderr) : null;
      if (m?.[1]) return Number(m[1]);
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`perch did not start:\n${this.stderr}`);
  }

  stdoutLines(): string[] {
    return this.stdout.split('\n').filter((l) => l.trim() !== '');
  }

  async waitForStdoutLines(count: number, timeoutMs = 10_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.stdoutLines().length < count && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    return this.stdoutLines();
  }
}

/** Runs perch to completion and returns its exit code and output. */
export async function runPerch(args: string[], stdin?: string, options: SpawnOptions = {}) {
  const p = new PerchProcess(args, options);
  if (stdin !== undefined) p.child.stdin.end(stdin);
  const code = await p.exited;
  return { code, stdout: p.stdout, stderr: p.stderr };
}
