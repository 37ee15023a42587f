import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { HttpReceiver } from '../fakes/http-receiver.js';
import { CURRENT_ALERT } from '../fixtures/falco-alerts.js';
import { PerchProcess, runPerch } from '../helpers/cli-process.js';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const dir = mkdtempSync(join(tmpdir(), 'perch-exit-'));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** `perch run` → [0, 1, 2, …]: the codes README's exit-code table documents for each command. */
function documentedCodes(): [string, number][] {
  const rows = README.split('\n').filter((line) => /^\| `perch [a-z-]+`/.test(line));
  return rows.flatMap((row) => {
    const [, command, cell] = /^\| `perch ([a-z-]+)`\s*\|(.*)\|\s*$/.exec(row) ?? [];
    if (!command || !cell) return [];
    // A code opens the cell or follows a comma: "0 …, 1 if …, 130 on …" (not "timeout + 5 s").
    const codes = [...cell.trim().matchAll(/(?:^|, )(\d+)(?=[ ,]|$)/g)].map((m) => Number(m[1]));
    return codes.map((code): [string, number] => [command, code]);
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const servers: Server[] = [];
const receivers: HttpReceiver[] = [];
const running: PerchProcess[] = [];
afterAll(async () => {
  for (const perch of running) perch.child.kill('SIGKILL');
  for (const server of servers) server.close();
  for (const receiver of receivers) await receiver.stop();
});

interface Outcome {
  code: number | null;
  stderr: string;
}

/** One scenario per documented exit code, each producing that code the way a user would. */
const SCENARIOS: Record<string, () => Promise<Outcome>> = {
  'run 0': () => runPerch(['run', '--stdin', '--listen', '127.0.0.1:0'], ''),
  'run 1': async () => {
    const busy = createServer();
    servers.push(busy);
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', () => resolve()));
    const { port } = busy.address() as { port: number };
    const result = await runPerch(['run', '--listen', `127.0.0.1:${port}`]);
    expect(result.stderr).toContain('cannot start');
    expect(result.stderr).toContain('EADDRINUSE');
    return result;
  },
  'run 2': async () => {
    const result = await runPerch(['run', '-c', file('bad.yaml', 'server: {listen: nope}\n')]);
    expect(result.stderr).toContain('server.listen: expected HOST:PORT');
    return result;
  },
  'run 3': async () => {
    // The only sink cannot be reached and nothing spools: the alert taken in is lost at shutdown.
    const config = file(
      'lost.yaml',
      `sources: {http: {enabled: false}}\nrules: {defaults: false, dedup: {window: 0s}}\nserver: {shutdownGrace: 3s}\nsinks:\n  hook: {type: webhook, url: "http://127.0.0.1:${await freePort()}/"}\n`,
    );
    const result = await runPerch(
      ['run', '-c', config, '--stdin', '--listen', '127.0.0.1:0'],
      `${CURRENT_ALERT}\n`,
    );
    expect(result.stderr).toContain('were neither delivered nor spooled and are lost');
    return result;
  },
  'run 130': async () => {
    // A destination that takes its time keeps the drain busy when the second signal arrives.
    const receiver = await HttpReceiver.start();
    receivers.push(receiver);
    receiver.setDefault({ status: 200, delayMs: 20_000 });
    const config = file(
      'slow.yaml',
      `rules: {defaults: false, dedup: {window: 0s}}\nserver: {shutdownGrace: 30s}\nsinks:\n  hook: {type: webhook, url: "${receiver.url}/", timeout: 30s}\n`,
    );
    const perch = new PerchProcess(['run', '-c', config, '--listen', '127.0.0.1:0']);
    const port = await perch.port();
    running.push(perch);
    const posted = await fetch(`http://127.0.0.1:${port}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: CURRENT_ALERT,
    });
    expect(posted.status).toBe(200);
    await receiver.waitForRequests(1);
    perch.child.kill('SIGTERM');
    const deadline = Date.now() + 10_000;
    while (!perch.stderr.includes('shutting down') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    perch.child.kill('SIGTERM');
    const code = await perch.exited;
    expect(perch.stderr).toContain('second signal: exiting without draining');
    return { code, stderr: perch.stderr };
  },
  'hub 0': async () => {
    const config = file('hub.yaml', 'hub: {leaderElection: {enabled: false}}\n');
    const perch = new PerchProcess(['hub', '-c', config, '--listen', '127.0.0.1:0']);
    running.push(perch);
    const port = await perch.port(20_000);
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    perch.child.kill('SIGTERM');
    return { code: await perch.exited, stderr: perch.stderr };
  },
  'hub 1': async () => {
    const busy = createServer();
    servers.push(busy);
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', () => resolve()));
    const { port } = busy.address() as { port: number };
    const config = file('hub-busy.yaml', 'hub: {leaderElection: {enabled: false}}\n');
    const result = await runPerch(['hub', '-c', config, '--listen', `127.0.0.1:${port}`]);
    expect(result.stderr).toContain('cannot start');
    return result;
  },
  'hub 2': async () => {
    const result = await runPerch(['hub', '-c', file('bad-hub.yaml', 'hub: {ackTimeout: soon}\n')]);
    expect(result.stderr).toContain('hub.ackTimeout');
    return result;
  },
  'check 0': () => runPerch(['check', '-c', file('good.yaml', 'sinks: {out: {type: console}}\n')]),
  'check 1': () => runPerch(['check', '-c', file('bad-check.yaml', 'bogus: 1\n')]),
  'replay 0': () => runPerch(['replay', file('one.jsonl', `${CURRENT_ALERT}\n`)]),
  'replay 1': async () => {
    const result = await runPerch(['replay', file('empty.jsonl', '')]);
    expect(result.stderr).toContain('is a Falco alert');
    return result;
  },
  'replay 2': async () => {
    const result = await runPerch([
      'replay',
      file('two.jsonl', `${CURRENT_ALERT}\n`),
      '--pods',
      join(dir, 'nope.json'),
    ]);
    expect(result.stderr).toContain('kubernetes.podsFile (--pods)');
    return result;
  },
  'test-sink 0': () =>
    runPerch(['test-sink', 'out', '-c', file('console.yaml', 'sinks: {out: {type: console}}\n')]),
  'test-sink 1': async () => {
    const result = await runPerch([
      'test-sink',
      'nope',
      '-c',
      file('console-1.yaml', 'sinks: {out: {type: console}}\n'),
    ]);
    expect(result.stderr).toContain('no sink named "nope"');
    return result;
  },
  'test-sink 2': () =>
    runPerch(['test-sink', 'out', '-c', file('bad-sink.yaml', 'sinks: {out: {type: pager}}\n')]),
};

describe("README's exit-code table", () => {
  const documented = documentedCodes();

  it('documents the codes of run, check, replay, test-sink and hub, and each has a scenario here', () => {
    expect(documented.map(([command]) => command)).toEqual(
      expect.arrayContaining(['run', 'check', 'replay', 'test-sink', 'hub']),
    );
    expect(documented.map(([command, code]) => `${command} ${code}`).sort()).toEqual(
      Object.keys(SCENARIOS).sort(),
    );
  });

  it.each(documented)(
    'perch %s exits %d as documented, without a stack trace',
    async (command, code) => {
      const scenario = SCENARIOS[`${command} ${code}`];
      if (!scenario) throw new Error(`no scenario for perch ${command} exiting ${code}`);
      const result = await scenario();
      expect(result.code).toBe(code);
      expect(result.stderr).not.toMatch(/\n\s+at .+:\d+:\d+\)?\n/);
    },
    40_000,
  );
});
