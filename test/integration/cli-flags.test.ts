import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from '@jest/globals';
import { PerchProcess, runPerch } from '../helpers/cli-process.js';

const doc = (name: string) => readFileSync(new URL(`../../docs/${name}`, import.meta.url), 'utf8');
const CERTS = fileURLToPath(new URL('../fixtures/certs/', import.meta.url));

/** The flags of the "Command-line shorthands for `perch run`" table of docs/configuration.md. */
function shorthandTableFlags(): string[] {
  const text = doc('configuration.md');
  const start = text.indexOf('## Command-line shorthands for `perch run`');
  const end = text.indexOf('\n## ', start + 1);
  const rows = text
    .slice(start, end < 0 ? undefined : end)
    .split('\n')
    .filter((line) => line.startsWith('| `'));
  // The first cell of each row: "`--config FILE`, `-c FILE`".
  return rows.flatMap((row) =>
    [...(row.split('|')[1] ?? '').matchAll(/`(--?[a-z][a-z-]*)/g)].map((m) => m[1] ?? ''),
  );
}

/** Every `perch run …` command of docs/grpc.md's shell blocks, split into arguments. */
function grpcDocCommands(): string[][] {
  const blocks = [...doc('grpc.md').matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
  return blocks
    .flatMap((block) => block.split('\n'))
    .filter((line) => line.startsWith('perch run'))
    .map((line) => line.trim().split(/\s+/).slice(2));
}

async function runHelpFlags(): Promise<string[]> {
  const help = await runPerch(['run', '--help']);
  expect(help.code).toBe(0);
  const flags = [...help.stdout.matchAll(/^ {2}(?:(-[a-z]), )?(--[a-z][a-z-]*)/gm)].flatMap((m) =>
    m[1] ? [m[1], m[2] ?? ''] : [m[2] ?? ''],
  );
  return flags.filter((f) => f !== '-h' && f !== '--help');
}

const running: PerchProcess[] = [];
afterAll(() => {
  for (const perch of running) perch.child.kill('SIGKILL');
});

describe('perch run flags and their documentation', () => {
  it('the shorthands table of docs/configuration.md lists exactly the flags perch run accepts', async () => {
    const documented = shorthandTableFlags();
    expect(documented).toEqual(expect.arrayContaining(['--config', '-c', '--grpc', '--grpc-ca', '--pods']));
    expect([...new Set(documented)].sort()).toEqual((await runHelpFlags()).sort());
  });

  it('every flag docs/grpc.md uses with perch run is one perch run accepts', async () => {
    const commands = grpcDocCommands();
    expect(commands.length).toBeGreaterThanOrEqual(2);
    const accepted = await runHelpFlags();
    for (const args of commands)
      for (const flag of args.filter((a) => a.startsWith('-'))) expect(accepted).toContain(flag);
  });

  it.each(grpcDocCommands().map((args) => [args.join(' '), args]))(
    'perch run %s starts as docs/grpc.md writes it (with the certificates it names at hand)',
    async (_line, args) => {
      const cwd = mkdtempSync(join(tmpdir(), 'perch-grpc-doc-'));
      copyFileSync(join(CERTS, 'ca.crt'), join(cwd, 'ca.crt'));
      copyFileSync(join(CERTS, 'client.crt'), join(cwd, 'client.crt'));
      copyFileSync(join(CERTS, 'client.key'), join(cwd, 'client.key'));
      // Only the HTTP address is changed, so parallel test runs do not compete for :2804.
      const perch = new PerchProcess(['run', ...(args as string[]), '--listen', '127.0.0.1:0'], { cwd });
      running.push(perch);
      await perch.port();
      expect(perch.stderr).toMatch(/"sources":\["grpc:[^"]+"\]/);
      perch.child.kill('SIGTERM');
      expect(await perch.exited).toBe(0);
    },
    20_000,
  );

  it('the gRPC TLS flags reach sources.grpc.tls: a missing certificate is named and run exits 2', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'perch-grpc-flags-'));
    const result = await runPerch(
      [
        'run',
        '--grpc',
        'falco.example:5060',
        '--grpc-ca',
        'ca.crt',
        '--grpc-cert',
        'c.crt',
        '--grpc-key',
        'c.key',
      ],
      undefined,
      { cwd },
    );
    expect(result.code).toBe(2);
    expect(result.stderr).not.toContain('unknown option');
    expect(result.stderr).toContain('sources.grpc.tls.ca: cannot read ca.crt (ENOENT)');
    expect(result.stderr).toContain('sources.grpc.tls.key: cannot read c.key (ENOENT)');
  });

  it('--grpc over TCP without certificates says which settings are missing', async () => {
    const result = await runPerch(['run', '--grpc', 'falco.example:5060']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('sources.grpc.tls');
    expect(result.stderr).toContain('mutual TLS');
  });

  it.each([
    ['run', 2],
    ['replay x.jsonl', 2],
    ['test-sink x', 2],
    ['check', 1],
  ])(
    'perch %s refuses an unknown flag with exit %d (its code for invalid configuration)',
    async (command, code) => {
      const result = await runPerch([...command.split(' '), '--bogus']);
      expect(result.code).toBe(code);
      expect(result.stderr).toBe("error: unknown option '--bogus'\n");
    },
  );
});
