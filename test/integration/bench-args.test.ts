import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';

const BENCH = fileURLToPath(new URL('../../bench/run.js', import.meta.url));
const bench = (...args: string[]) =>
  spawnSync(process.execPath, [BENCH, ...args], { encoding: 'utf8', timeout: 15_000 });

describe('bench/run.js arguments', () => {
  it('--help prints the usage with every scenario and exits 0 without benchmarking', () => {
    const result = bench('--help');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('usage: node bench/run.js');
    expect(result.stdout).toContain(
      'http, http_serial, spooled, grpc, jsonl, latency, rss, metrics, idle_rss, start, webhook, webhook_peer, webhook_batch, storm_rss, soak_rss, added_us',
    );
    expect(result.stdout).toContain('added_us is computed from http, grpc and jsonl');
    expect(result.stdout).toContain('--soak-minutes N  how long soak_rss runs');
    expect(result.stderr).not.toContain('Perch benchmarks');
  });

  it.each([
    [['--only', 'bogus'], 'unknown --only scenario(s): bogus'],
    [['--only', 'http,nope'], 'unknown --only scenario(s): nope'],
    [['--only', 'webhook,idle'], 'unknown --only scenario(s): idle'],
    [['--only', 'webhook_peer,webhook_batched'], 'unknown --only scenario(s): webhook_batched'],
    [['--bogus'], "Unknown option '--bogus'"],
    [['extra'], "Unexpected argument 'extra'"],
    [['--soak-minutes', '0'], '--soak-minutes 0: expected a number of minutes above 0'],
    [['--soak-minutes', 'ten'], '--soak-minutes ten: expected a number of minutes above 0'],
  ])('%j is refused with the usage and exit 2 before any benchmark starts', (args, problem) => {
    const result = bench(...args);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(problem);
    expect(result.stderr).toContain('usage: node bench/run.js');
    expect(result.stderr).not.toContain('Perch benchmarks');
  });
});
