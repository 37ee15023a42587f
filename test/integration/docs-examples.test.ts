/**
 * The docs are executable: every shell command and every YAML/JSON snippet of README.md and
 * docs/*.md, read at run time, runs against the built CLI (dist/, `npm run build`), in a sandbox
 * that stands in for the reader's files (test/helpers/docs/doc-sandbox.ts). A block that cannot
 * run here says why, right before its fence: `<!-- docs-test: skip (the reason) -->`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { configSchema } from '../../src/config/schema.js';
import type { BlockOutcome } from '../helpers/docs/block-outcome.js';
import { isRunnable, limiter, runBlock } from '../helpers/docs/block-runner.js';
import { CliOptions } from '../helpers/docs/cli-options.js';
import { schemaKeyPaths, snippetKeyPaths } from '../helpers/docs/config-keys.js';
import { parseSnippet } from '../helpers/docs/config-snippet.js';
import { DocSandbox, REPO } from '../helpers/docs/doc-sandbox.js';
import { type DocBlock, MARKER_HELP, readDocs, where } from '../helpers/docs/markdown-blocks.js';
import { snippetKind } from '../helpers/docs/snippet-kind.js';

const docs = readDocs(REPO);
const blocks = docs.blocks.filter(isRunnable);
const base = mkdtempSync(join(tmpdir(), 'perch-docs-'));
const outcomes = new Map<DocBlock, Promise<BlockOutcome>>();
let cli: CliOptions;

beforeAll(() => {
  cli = new CliOptions();
  // Every block starts at once, a few processes at a time; each test then awaits its own.
  const slot = limiter(3);
  blocks.forEach((block, i) => {
    outcomes.set(
      block,
      slot(() => runBlock(block, cli, () => new DocSandbox(base, `block-${i}`))).catch(
        (err: Error): BlockOutcome => ({ problems: [err.stack ?? err.message], cannotRun: [], ran: [] }),
      ),
    );
  });
});

afterAll(async () => {
  // With -t, blocks whose tests were filtered out still run: let them end before their sandboxes go.
  await Promise.allSettled(outcomes.values());
  rmSync(base, { recursive: true, force: true });
}, 180_000);

function label(block: DocBlock): string {
  const first = block.text.split('\n').find((l) => l.trim() !== '' && !l.trim().startsWith('#')) ?? '';
  const mark = block.marker?.kind === 'skip' ? ' [skip]' : '';
  return `${where(block)} ${block.lang}${mark}: ${first.trim().slice(0, 70)}`;
}

describe('the docs as written', () => {
  it('has markers only of the known kinds, each with its reason, each right before a block', () => {
    const misplaced = docs.blocks
      .filter((b) => b.marker?.kind === 'defaults' && !['yaml', 'yml'].includes(b.lang))
      .map((b) => ({ file: b.file, line: b.line, message: 'a defaults marker belongs on a YAML snippet' }));
    expect([...docs.problems, ...misplaced].map((p) => `${where(p)}: ${p.message}`)).toEqual([]);
  });

  it.each(blocks.map((block) => [label(block), block] as const))(
    '%s',
    async (_, block) => {
      const outcome = (await outcomes.get(block)) as BlockOutcome;
      const failures = [...outcome.problems];
      if (outcome.cannotRun.length > 0)
        failures.push(
          `cannot run here: ${outcome.cannotRun.join('; ')}. If that is right, say why right before the fence: ${MARKER_HELP}`,
        );
      expect(failures).toEqual([]);
    },
    180_000,
  );

  it('names only perch commands and options that exist, also in the text', () => {
    const problems = docs.spans.flatMap((span) =>
      invocations(span.text).flatMap((args) =>
        cli.problems(args).map((p) => `${where(span)} \`${span.text}\`: ${p}`),
      ),
    );
    expect(problems).toEqual([]);
  });

  it('leaves no option of any perch command unnamed in the docs', () => {
    const text = [...docs.spans.map((s) => s.text), ...docs.blocks.map((b) => b.text)].join('\n');
    const missing = cli.commands.flatMap((command) =>
      cli
        .of(command)
        .options.filter((option) => !new RegExp(`(^|[\\s\`])${option}(?![\\w-])`, 'm').test(text))
        .map((option) => `perch ${command} ${option}`),
    );
    expect(missing).toEqual([]);
  });
});

describe('docs/configuration.md', () => {
  it('shows every setting of perch.yaml in a snippet that runs', () => {
    const documented = new Set<string>();
    for (const block of docs.blocks) {
      if (block.file !== 'docs/configuration.md' || block.marker?.kind === 'skip') continue;
      if (!['yaml', 'yml', 'json'].includes(block.lang)) continue;
      const parsed = parseSnippet(block.lang, block.text);
      if ('value' in parsed && snippetKind(parsed.value) === 'perch-config')
        snippetKeyPaths(parsed.value, configSchema, '', documented);
    }
    const missing = [...schemaKeyPaths(configSchema)].filter((key) => !documented.has(key));
    expect(missing).toEqual([]);
  });

  it('lists exactly the options of perch run', () => {
    const flags = docs.spans
      .filter((s) => s.file === 'docs/configuration.md')
      .map((s) => /^(--?[A-Za-z][\w-]*)(\s|$)/.exec(s.text)?.[1])
      .filter((flag): flag is string => flag !== undefined);
    const options = cli.of('run').options;
    expect({
      undocumented: options.filter((option) => !flags.includes(option)),
      unknown: [...new Set(flags)].filter(
        (flag) => !options.includes(flag) && !['-h', '--help'].includes(flag),
      ),
    }).toEqual({ undocumented: [], unknown: [] });
  });
});

/**
 * The perch invocations in a span of text, one per pipeline segment: `perch replay FILE [--json]`
 * → [[replay, FILE, [--json]]]; `perch … --json | jq` and other programs give none.
 */
function invocations(span: string): string[][] {
  return span.split(/\\?\|/).flatMap((segment) => {
    const words = segment.trim().split(/\s+/);
    const start = words[0] === 'perch' ? 1 : words[0] === 'node' && words[1] === 'dist/cli.js' ? 2 : -1;
    const args = words.slice(start);
    const first = args[0];
    if (start < 0 || (first !== undefined && !/^(-|[a-z])/.test(first))) return [];
    return [args];
  });
}
