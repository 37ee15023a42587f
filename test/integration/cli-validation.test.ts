import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { CURRENT_ALERT } from '../fixtures/falco-alerts.js';
import { PerchProcess, runPerch } from '../helpers/cli-process.js';

const dir = mkdtempSync(join(tmpdir(), 'perch-validation-'));
const STACK_FRAME = /\n\s+at .+:\d+:\d+\)?\n/;

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** An environment where Perch finds no cluster: no service account, no $KUBECONFIG, an empty home. */
function noClusterEnv(): NodeJS.ProcessEnv {
  const { KUBECONFIG: _k, KUBERNETES_SERVICE_HOST: _h, ...env } = process.env;
  const home = join(dir, 'home');
  mkdirSync(home, { recursive: true });
  return { ...env, HOME: home };
}

/** The problem lines (`  - …`) of a report, in order. */
function problemLines(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line.startsWith('  - '));
}

describe('perch check and perch run validate the same way', () => {
  // Three broken rules (two problems each) and a rules file that is not there: seven rule problems.
  const badRule = (name: string) =>
    `  - { name: ${name}, match: { priority: ">Emergency" }, route: [pager] }\n`;
  const rules = file('seven.yaml', `rules:\n${badRule('one')}${badRule('two')}${badRule('three')}`);
  const everything = file(
    'everything.yaml',
    `server: {listen: nope}
kubernetes: {podsFile: ${join(dir, 'no-pods.json')}}
sources:
  grpc: {enabled: true, address: "localhost:5060", tls: {ca: ${join(dir, 'ca.crt')}, cert: ${join(dir, 'c.crt')}, key: ${join(dir, 'c.key')}}}
rules: {files: [${rules}, ${join(dir, 'missing-rules.yaml')}]}
sinks:
  team: {type: slack, url: "https://hooks.slack.com/services/T/B/X", template: "{{rule}} in {{nope}}"}
`,
  );

  it('perch check lists every problem of every kind at once and exits 1', async () => {
    const result = await runPerch(['check', '-c', everything]);
    expect(result.code).toBe(1);
    const problems = problemLines(result.stderr);
    expect(result.stderr).toContain(`perch check: ${problems.length} problem(s) in ${everything}`);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining('server.listen: expected HOST:PORT'),
        expect.stringContaining('sinks.team.template: unknown variable {{nope}}'),
        expect.stringContaining(`${join(dir, 'missing-rules.yaml')}: cannot read the file (ENOENT)`),
        expect.stringContaining('kubernetes.podsFile (--pods): cannot read cluster dump'),
        expect.stringContaining(`sources.grpc.tls.ca: cannot read ${join(dir, 'ca.crt')} (ENOENT)`),
        expect.stringContaining(`sources.grpc.tls.key: cannot read ${join(dir, 'c.key')} (ENOENT)`),
      ]),
    );
    expect(problems.filter((p) => p.includes(rules))).toHaveLength(6);
    expect(result.stderr).not.toMatch(STACK_FRAME);
  });

  it('perch run refuses the same file with the same problems and exit 2, starting nothing', async () => {
    const check = await runPerch(['check', '-c', everything]);
    const result = await runPerch(['run', '-c', everything]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`perch: invalid configuration in ${everything}`);
    expect(problemLines(result.stderr)).toEqual(problemLines(check.stderr));
    expect(result.stderr).not.toContain('Perch is running');
    expect(result.stderr).not.toMatch(STACK_FRAME);
  });

  it('kubernetes.enabled: true without a cluster is a problem for check and run, not a stack trace', async () => {
    const config = file('cluster.yaml', 'kubernetes: {enabled: true}\n');
    const env = noClusterEnv();
    const check = await runPerch(['check', '-c', config], undefined, { env });
    expect(check.code).toBe(1);
    expect(check.stderr).toContain('kubernetes.enabled is true but no cluster was found');
    const run = await runPerch(['run', '-c', config, '--listen', '127.0.0.1:0'], undefined, { env });
    expect(run.code).toBe(2);
    expect(problemLines(run.stderr)).toEqual(problemLines(check.stderr));
    expect(run.stderr).not.toMatch(STACK_FRAME);
  });

  it('a spool whose directory cannot be created is not a problem: the spool degrades and Perch runs', async () => {
    const notADirectory = file('plain-file', '');
    const config = file(
      'spool.yaml',
      `delivery: {spoolPath: ${join(notADirectory, 'sub', 'spool.db')}}
sinks:
  out: {type: console}
  hook: {type: webhook, url: "http://127.0.0.1:9/", spoolMinPriority: Warning}
`,
    );
    const check = await runPerch(['check', '-c', config]);
    expect(check.stderr).toBe('');
    expect(check.code).toBe(0);
    const perch = new PerchProcess(['run', '-c', config, '--listen', '127.0.0.1:0']);
    await perch.port();
    perch.child.kill('SIGTERM');
    expect(await perch.exited).toBe(0);
  });

  it('run --pods with a missing dump exits 2 with the key and the file named', async () => {
    const missing = join(dir, 'gone.json');
    const result = await runPerch(['run', '--pods', missing, '--listen', '127.0.0.1:0']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`kubernetes.podsFile (--pods): cannot read cluster dump ${missing}`);
    expect(result.stderr).not.toMatch(STACK_FRAME);
  });
});

describe('perch check without -c', () => {
  it('reads ./perch.yaml, and says so plainly when there is none', async () => {
    const empty = join(dir, 'empty-cwd');
    mkdirSync(empty);
    const missing = await runPerch(['check'], undefined, { cwd: empty });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`perch check: no perch.yaml in ${empty}: name the file with -c FILE\n`);
    writeFileSync(join(empty, 'perch.yaml'), 'log: {level: warn}\n');
    const found = await runPerch(['check'], undefined, { cwd: empty });
    expect(found.code).toBe(0);
    expect(found.stdout).toContain('perch.yaml: OK');
  });
});

describe('perch replay', () => {
  it('names a missing input file without a stack trace and exits 1', async () => {
    const missing = join(dir, 'nope.jsonl');
    const result = await runPerch(['replay', missing]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`perch replay: cannot read ${missing} (ENOENT)\n`);
  });

  it.each([
    ['an empty file', ''],
    ['blank lines only', '\n\n'],
    ['no line that is an alert', '{"hello": "world"}\nnot json\n'],
  ])('exits 1 on %s, saying no line is an alert', async (_what, text) => {
    const input = file(`no-alerts-${text.length}.jsonl`, text);
    const result = await runPerch(['replay', input]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`perch replay: no line of ${input} is a Falco alert`);
    expect(result.stderr).not.toMatch(STACK_FRAME);
  });

  it('exits 0 when at least one line is an alert', async () => {
    const result = await runPerch(['replay', file('mixed.jsonl', `not json\n${CURRENT_ALERT}\n`)]);
    expect(result.code).toBe(0);
  });

  it('replays with a perch.yaml whose cluster is not here (only the rules and a dump matter offline)', async () => {
    const config = file('prod.yaml', 'kubernetes: {enabled: true}\n');
    const result = await runPerch(
      ['replay', file('prod.jsonl', `${CURRENT_ALERT}\n`), '-c', config],
      undefined,
      {
        env: noClusterEnv(),
      },
    );
    expect(result.code).toBe(0);
  });
});

describe('the sinks in use', () => {
  it('perch run says at start that configured sinks replace the default console sink', async () => {
    const config = file(
      'hook.yaml',
      'sources: {http: {enabled: false}, stdin: {enabled: true}}\nsinks: {hook: {type: webhook, url: "http://127.0.0.1:9/"}}\n',
    );
    const result = await runPerch(['run', '-c', config, '--listen', '127.0.0.1:0'], '');
    expect(result.code).toBe(0);
    const line = result.stderr.split('\n').find((l) => l.includes('sinks in use'));
    expect(JSON.parse(line ?? '{}')).toMatchObject({
      level: 'info',
      sinks: ['hook'],
      msg: expect.stringContaining('the default console sink is off because sinks are configured'),
    });
    const check = await runPerch(['check', '-c', config]);
    expect(check.stdout).toContain('sinks in use: hook; the default console sink is off');
  });

  it('without sinks in perch.yaml, the console default is named as such', async () => {
    const result = await runPerch(['check', '-c', file('no-sinks.yaml', 'log: {level: warn}\n')]);
    expect(result.stdout).toContain('sinks in use: console (the default: perch.yaml configures no sink)');
  });

  it('an empty sinks mapping is a warning: alerts go nowhere', async () => {
    const config = file(
      'empty-sinks.yaml',
      'sources: {http: {enabled: false}, stdin: {enabled: true}}\nsinks: {}\n',
    );
    const result = await runPerch(['run', '-c', config, '--listen', '127.0.0.1:0'], '');
    expect(result.stderr).toMatch(/"level":"warn".*no sink is configured/);
  });
});
