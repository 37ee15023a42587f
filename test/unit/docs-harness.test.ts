import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { z } from 'zod';
import { schemaKeyPaths, snippetKeyPaths } from '../helpers/docs/config-keys.js';
import { DocSandbox } from '../helpers/docs/doc-sandbox.js';
import { parseMarkdown } from '../helpers/docs/markdown-blocks.js';
import { missingLines } from '../helpers/docs/shell-block.js';
import { planLine } from '../helpers/docs/shell-plan.js';
import { commandLines, parseCommandLine, ShellSyntaxError } from '../helpers/docs/shell-words.js';
import { snippetKind } from '../helpers/docs/snippet-kind.js';

const noOptionProblems = { problems: () => [] };

describe('reading Markdown for the docs test', () => {
  it('finds fenced blocks with their language, line and the marker right before them', () => {
    const doc = parseMarkdown(
      'x.md',
      [
        'Intro `perch check -c perch.yaml`.',
        '',
        '<!-- docs-test: skip (needs a Kubernetes cluster) -->',
        '```sh',
        'kubectl apply -k daemonset/base',
        '```',
        '',
        '1. In a list:',
        '   ```yaml',
        '   server: {listen: ":2804"}',
        '   ```',
      ].join('\n'),
    );
    expect(doc.problems).toEqual([]);
    expect(doc.blocks).toEqual([
      {
        file: 'x.md',
        line: 4,
        lang: 'sh',
        text: 'kubectl apply -k daemonset/base',
        marker: { kind: 'skip', reason: 'needs a Kubernetes cluster' },
      },
      { file: 'x.md', line: 9, lang: 'yaml', text: 'server: {listen: ":2804"}' },
    ]);
    expect(doc.spans).toEqual([{ file: 'x.md', line: 1, text: 'perch check -c perch.yaml' }]);
  });

  it('refuses a skip marker without a reason, an unknown marker, and a marker away from a block', () => {
    const doc = parseMarkdown(
      'x.md',
      [
        '<!-- docs-test: skip -->',
        '```sh',
        'perch demo',
        '```',
        '<!-- docs-test: skip () -->',
        '```sh',
        'perch demo',
        '```',
        '<!-- docs-test: ignore -->',
        '```sh',
        'perch demo',
        '```',
        '<!-- docs-test: skip (a reason) -->',
        'A paragraph.',
      ].join('\n'),
    );
    expect(doc.problems.map((p) => `${p.line}: ${p.message}`)).toEqual([
      '1: a skip marker needs its reason in parentheses: <!-- docs-test: skip (why it cannot run here) -->',
      '5: a skip marker needs its reason in parentheses: <!-- docs-test: skip (why it cannot run here) -->',
      '9: unknown docs-test marker "ignore": write <!-- docs-test: skip (why it cannot run here) --> or <!-- docs-test: defaults -->',
      '13: a docs-test marker must come right before a fenced code block',
    ]);
    expect(doc.blocks.every((b) => b.marker === undefined)).toBe(true);
  });
});

describe('reading shell lines', () => {
  it('reads words, quotes, comments, pipes, redirections and VAR=value prefixes', () => {
    expect(parseCommandLine(`A=1 perch replay "my file.jsonl" --json | jq '.x' > out.jsonl # note`)).toEqual([
      [
        { argv: ['perch', 'replay', 'my file.jsonl', '--json'], env: { A: '1' } },
        { argv: ['jq', '.x'], env: {}, stdoutFile: 'out.jsonl' },
      ],
    ]);
    expect(parseCommandLine('npm ci && npm run demo').map((p) => p.map((c) => c.argv))).toEqual([
      [['npm', 'ci']],
      [['npm', 'run', 'demo']],
    ]);
    expect(commandLines('# only a comment\n\nperch check \\\n  -c perch.yaml\n').map((l) => l.text)).toEqual([
      'perch check    -c perch.yaml',
    ]);
  });

  it('reports what it does not read rather than guessing', () => {
    for (const line of ['perch run --file $FILE', 'a || b', 'sleep 1 &', 'echo $(date)', 'perch demo 2> err'])
      expect(() => parseCommandLine(line)).toThrow(ShellSyntaxError);
  });
});

describe('planning a documented command line', () => {
  it('runs perch in either form, plays Falco upstream, and reads a jq path downstream', () => {
    const plan = planLine(
      'falco -o json_output=true | node dist/cli.js run --stdin --json | jq -c .event.rule',
      noOptionProblems,
    );
    expect(plan.cannotRun).toEqual([]);
    expect(plan.steps).toEqual([
      {
        kind: 'perch',
        args: ['run', '--stdin', '--json'],
        falcoOnStdin: true,
        jq: { path: ['event', 'rule'], compact: true, raw: false },
      },
    ]);
  });

  it('follows npm scripts to what they run, and treats installing and building as done', () => {
    const plan = planLine('npm ci && npm run demo', noOptionProblems);
    expect(plan).toEqual({
      steps: [{ kind: 'done' }, { kind: 'done' }, { kind: 'perch', args: ['demo'], falcoOnStdin: false }],
      cannotRun: [],
      problems: [],
    });
  });

  it('says what cannot run here, and what is wrong whether it runs or not', () => {
    expect(planLine('kubectl apply -k daemonset/base', noOptionProblems).cannotRun).toEqual([
      '`kubectl apply -k daemonset/base` cannot run here',
    ]);
    expect(planLine('npm test', noOptionProblems).cannotRun).toHaveLength(1);
    expect(planLine('npm run no-such-script', noOptionProblems).problems).toEqual([
      '`npm run no-such-script`: package.json has no script "no-such-script"',
    ]);
    const checker = { problems: (args: string[]) => (args.includes('--bogus') ? ['no option --bogus'] : []) };
    expect(planLine('perch run --bogus', checker).problems).toEqual(['no option --bogus']);
  });
});

describe('matching documented output', () => {
  const output = [
    '09:15:02.123 CRITICAL      Terminal shell [pod a]',
    '    detail',
    '09:16:17.000 NOTICE        Run shell [pod b]',
  ].join('\n');

  it('finds each shown line in order, … standing for any text or for lines left out', () => {
    expect(
      missingLines(
        ['09:15:02.123 CRITICAL      Terminal shell …', '…', '09:16:17.000 NOTICE … [pod b]'],
        output,
      ),
    ).toBe(undefined);
  });

  it('names the first shown line the output does not have', () => {
    expect(missingLines(['09:15:02.123 NOTICE  Terminal shell …'], output)).toBe(
      '09:15:02.123 NOTICE  Terminal shell …',
    );
    expect(missingLines(['09:16:17.000 NOTICE        Run shell [pod b]', '09:15:02.123 …'], output)).toBe(
      '09:15:02.123 …',
    );
  });
});

describe('telling snippets apart', () => {
  it('by their top-level keys', () => {
    expect(snippetKind({ server: { listen: ':2804' }, rules: { defaults: true } })).toBe('perch-config');
    expect(snippetKind({ rules: [{ name: 'x' }] })).toBe('rules-file');
    expect(snippetKind({ correlations: [] })).toBe('rules-file');
    expect(snippetKind({ json_output: true, http_output: { enabled: true } })).toBe('falco-config');
    expect(snippetKind({ falco: { grpc: { enabled: true } } })).toBe('falco-config');
    expect(snippetKind({ apiVersion: 'v1', kind: 'ConfigMap', data: {} })).toBe('kubernetes-manifest');
    expect(
      snippetKind([
        { apiVersion: 'v1', kind: 'Namespace' },
        { apiVersion: 'v1', kind: 'Secret' },
      ]),
    ).toBe('kubernetes-manifest');
    expect(snippetKind({ http: { pipeline_eps: 1 } })).toBe('unknown');
    expect(snippetKind([1, 2])).toBe('unknown');
  });
});

describe('the settings of a schema and of a snippet', () => {
  const schema = z.strictObject({
    server: z
      .strictObject({ listen: z.string().default(':2804'), grace: z.string().optional() })
      .prefault({}),
    files: z.array(z.strictObject({ path: z.string() })).default([]),
    labels: z.record(z.string(), z.string()).default({}),
    sinks: z
      .record(
        z.string(),
        z.discriminatedUnion('type', [
          z.strictObject({ type: z.literal('console'), color: z.string().optional() }),
          z.strictObject({ type: z.literal('slack'), url: z.string() }),
        ]),
      )
      .default({}),
  });

  it('lists every key, list items under the list, named entries as *, and every variant', () => {
    expect([...schemaKeyPaths(schema)].sort()).toEqual(
      [
        'files',
        'files.path',
        'labels',
        'server',
        'server.grace',
        'server.listen',
        'sinks',
        'sinks.*.color',
        'sinks.*.type',
        'sinks.*.type=console',
        'sinks.*.type=slack',
        'sinks.*.url',
      ].sort(),
    );
  });

  it('reads the same paths off a snippet, so that what it leaves out shows', () => {
    const shown = snippetKeyPaths(
      {
        server: { listen: ':1' },
        files: [{ path: '/x' }],
        labels: { a: 'b' },
        sinks: { chat: { type: 'slack', url: 'u' } },
      },
      schema,
    );
    const missing = [...schemaKeyPaths(schema)].filter((key) => !shown.has(key));
    expect(missing.sort()).toEqual(['server.grace', 'sinks.*.color', 'sinks.*.type=console']);
  });
});

describe('the sandbox of a documented command', () => {
  const base = mkdtempSync(join(tmpdir(), 'perch-docs-unit-'));
  const sandbox = new DocSandbox(base, 'unit');
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it('moves file paths under its root and leaves URLs alone', () => {
    const text = [
      'spoolPath: /var/lib/perch/spool.db',
      'token: file:/etc/perch/token',
      'listen: unix:///run/perch/falco.sock',
      'url: https://siem.example/etc/x',
      'path: /',
    ].join('\n');
    expect(sandbox.remap(text).split('\n')).toEqual([
      `spoolPath: ${sandbox.root}/var/lib/perch/spool.db`,
      `token: file:${sandbox.root}/etc/perch/token`,
      `listen: unix://${sandbox.root}/run/perch/falco.sock`,
      'url: https://siem.example/etc/x',
      'path: /',
    ]);
  });

  it('provides the secrets, rules, pods and certificates a snippet names, and its variables', () => {
    const root = sandbox.root;
    sandbox.provideFiles({
      sources: {
        http: { token: `file:${root}/etc/perch/token` },
        grpc: { tls: { ca: `${root}/etc/ca.crt` } },
      },
      rules: { files: [`${root}/etc/perch/rules/team.yaml`] },
      kubernetes: {
        podsFile: `${root}/etc/perch/cluster.json`,
        kubeconfig: `${root}/etc/kubeconfig`,
        context: 'prod',
      },
    });
    expect(readFileSync(`${root}/etc/perch/token`, 'utf8')).toBe('stand-in-secret\n');
    expect(readFileSync(`${root}/etc/perch/rules/team.yaml`, 'utf8')).toBe('rules: []\n');
    expect(readFileSync(`${root}/etc/ca.crt`, 'utf8')).toContain('BEGIN CERTIFICATE');
    expect(JSON.parse(readFileSync(`${root}/etc/perch/cluster.json`, 'utf8')).items.length).toBeGreaterThan(
      0,
    );
    expect(readFileSync(`${root}/etc/kubeconfig`, 'utf8')).toContain('current-context: "prod"');
    sandbox.provideEnv('url: ${SLACK_WEBHOOK_URL}\nname: ${NODE_NAME:-x}\nlevel: $${LEVEL}');
    expect(sandbox.env).toEqual({ SLACK_WEBHOOK_URL: 'http://127.0.0.1:9/stand-in' });
  });

  it('never writes a stand-in outside itself', () => {
    expect(() => sandbox.provideFiles({ rules: { files: ['/path/to/rules.yaml'] } })).toThrow(
      /outside the sandbox/,
    );
    expect(existsSync('/path/to/rules.yaml')).toBe(false);
  });
});
