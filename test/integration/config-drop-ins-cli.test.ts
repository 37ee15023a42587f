import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { runPerch } from '../helpers/cli-process.js';

/** perch.yaml naming conf.d, and the given drop-ins; returns perch.yaml's path. */
function withDropIns(dropIns: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'perch-cli-drop-ins-'));
  mkdirSync(join(dir, 'conf.d'));
  writeFileSync(
    join(dir, 'perch.yaml'),
    'includeDir: conf.d\nserver: {listen: 127.0.0.1:0}\nrules: {defaults: false}\n',
  );
  for (const [name, text] of Object.entries(dropIns)) writeFileSync(join(dir, 'conf.d', name), text);
  return join(dir, 'perch.yaml');
}

describe('perch check and perch run read the drop-ins of includeDir', () => {
  it('both refuse a bad drop-in and name it', async () => {
    const path = withDropIns({ '50-site.yaml': 'log: {level: loud}\n' });
    const dropIn = join(path, '..', 'conf.d', '50-site.yaml');
    const check = await runPerch(['check', '-c', path]);
    expect(check.code).not.toBe(0);
    expect(check.stderr).toContain(`log.level: got "loud"`);
    expect(check.stderr).toContain(`(in ${dropIn})`);
    const run = await runPerch(['run', '-c', path]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`(in ${dropIn})`);
  });

  it('run applies a drop-in: its stdin input replaces the HTTP one and takes an alert', async () => {
    const path = withDropIns({
      '50-inputs.yaml': 'sources: {http: {enabled: false}, stdin: {enabled: true}}\n',
    });
    expect((await runPerch(['check', '-c', path])).code).toBe(0);
    const alert = JSON.stringify({
      rule: 'From a drop-in',
      priority: 'Warning',
      time: '2026-01-01T00:00:00Z',
      output: 'x',
    });
    const run = await runPerch(['run', '-c', path, '--json'], `${alert}\n`);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('"rule":"From a drop-in"');
  });
});
