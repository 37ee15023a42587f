/**
 * The docs test must be able to fail: each kind of drift it exists to catch, written as a block of
 * a doc would be, comes out as a problem or as a block that needs a reason to be skipped.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { runBlock } from '../helpers/docs/block-runner.js';
import { CliOptions } from '../helpers/docs/cli-options.js';
import { DocSandbox } from '../helpers/docs/doc-sandbox.js';
import type { DocBlock } from '../helpers/docs/markdown-blocks.js';

const base = mkdtempSync(join(tmpdir(), 'perch-docs-fails-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
const cli = new CliOptions();

function run(lang: string, text: string, marker?: DocBlock['marker']) {
  const block: DocBlock = { file: 'x.md', line: 1, lang, text, ...(marker ? { marker } : {}) };
  return runBlock(block, cli, () => new DocSandbox(base, 'case'));
}

describe('the docs test', () => {
  it('passes a command that works, and a skipped block it cannot run', async () => {
    expect(await run('sh', 'perch replay examples/demo/alerts.jsonl')).toMatchObject({
      problems: [],
      cannotRun: [],
    });
    const skipped = await run('sh', 'kubectl apply -k daemonset/base', {
      kind: 'skip',
      reason: 'needs a cluster',
    });
    expect(skipped).toEqual({ problems: [], cannotRun: [], ran: [] });
  });

  it('wants a reason for a block that cannot run here', async () => {
    const outcome = await run('sh', 'kubectl apply -k daemonset/base\nperch demo');
    expect(outcome.cannotRun).toEqual(['`kubectl apply -k daemonset/base` cannot run here']);
    expect(outcome.ran).toEqual([]);
  });

  it('fails a command that exits non-zero, naming the line', async () => {
    const outcome = await run('sh', 'perch replay missing.jsonl');
    expect(outcome.problems).toHaveLength(1);
    expect(outcome.problems[0]).toMatch(/^`perch replay missing.jsonl`: exited with [1-9]/);
  });

  it('fails an option the CLI does not have, even in a skipped block', async () => {
    const outcome = await run('sh', 'perch run --no-such-flag', { kind: 'skip', reason: 'needs Falco' });
    expect(outcome.problems).toEqual([expect.stringContaining('"perch run" has no option --no-such-flag')]);
  });

  it('fails output shown in a console block that the command no longer prints', async () => {
    const outcome = await run(
      'console',
      '$ perch replay alerts.jsonl --pods cluster.json\n09:16:17.000 CRITICAL      Run shell untrusted …',
    );
    expect(outcome.problems).toEqual([
      '`perch replay alerts.jsonl --pods cluster.json` printed no line like:\n  09:16:17.000 CRITICAL      Run shell untrusted …',
    ]);
  });

  it('fails a perch.yaml snippet that perch check refuses', async () => {
    const outcome = await run('yaml', 'server:\n  listen: nowhere\n');
    expect(outcome.problems).toEqual([
      expect.stringMatching(/^perch check: exited with [1-9][\s\S]*server\.listen/),
    ]);
  });

  it('fails a perch.yaml snippet that perch run refuses at start', async () => {
    // No cluster here: `kubernetes.enabled: true` makes that a start-up error.
    const outcome = await run('yaml', 'kubernetes:\n  enabled: true\n');
    expect(outcome.problems).toEqual([expect.stringMatching(/^perch (check|run): /)]);
  });

  it('fails a rules snippet that clashes with the bundled rules', async () => {
    const outcome = await run(
      'yaml',
      'rules:\n  - name: host-process\n    match: { host: true }\n    severity: Critical\n',
    );
    expect(outcome.problems).toEqual([expect.stringContaining('the name "host-process" is already used')]);
  });

  it('fails a defaults block that is not the defaults, or that needs the environment', async () => {
    const changed = await run('yaml', 'server:\n  listen: 0.0.0.0:2805\n', { kind: 'defaults' });
    expect(changed.problems).toEqual(["server.listen.port: the block gives 2805, Perch's default is 2804"]);
    const needsEnv = await run('yaml', 'nodeName: ${NODE_NAME}\n', { kind: 'defaults' });
    expect(needsEnv.problems[0]).toMatch(/^does not load without an environment: .*NODE_NAME/s);
  });

  it('wants a reason for a snippet that is no configuration it knows', async () => {
    const outcome = await run('json', '{"http": {"pipeline_eps": 1}}');
    expect(outcome.cannotRun).toEqual([
      'neither a perch.yaml, a rules file, Falco settings nor Kubernetes objects (by its top-level keys)',
    ]);
  });
});
