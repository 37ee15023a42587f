import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BlockOutcome } from './block-outcome.js';
import type { InvocationChecker } from './cli-options.js';
import { DEMO_ALERTS, type DocSandbox } from './doc-sandbox.js';
import { runPerch } from './perch-runs.js';
import { type JqPath, type LinePlan, type PerchStep, planLine } from './shell-plan.js';
import { commandLines } from './shell-words.js';

interface DocumentedLine {
  text: string;
  /** `console` blocks: the lines shown after the command, each to be found in its output. */
  expected: string[];
}

/**
 * A `sh` block is command lines; a `console` block is `$ command` lines, each followed by lines of
 * its output.
 */
export function documentedLines(lang: string, text: string): DocumentedLine[] {
  if (lang !== 'console') return commandLines(text).map((line) => ({ text: line.text, expected: [] }));
  const lines: DocumentedLine[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('$ ')) lines.push({ text: line.slice(2), expected: [] });
    else if (line.trim() !== '') lines.at(-1)?.expected.push(line);
  }
  return lines;
}

export function planBlock(
  lang: string,
  text: string,
  cli: InvocationChecker,
): { line: DocumentedLine; plan: LinePlan }[] {
  return documentedLines(lang, text).map((line) => ({ line, plan: planLine(line.text, cli) }));
}

/**
 * Every line is planned first: if any cannot run here, nothing runs and the block needs a skip
 * marker. Then the lines run in order, each perch invocation against the built CLI.
 */
export async function runShellBlock(
  lang: string,
  text: string,
  cli: InvocationChecker,
  sandbox: DocSandbox,
): Promise<BlockOutcome> {
  const planned = planBlock(lang, text, cli);
  const outcome: BlockOutcome = {
    problems: planned.flatMap(({ plan }) => plan.problems),
    cannotRun: planned.flatMap(({ plan }) => plan.cannotRun),
    ran: [],
  };
  if (outcome.problems.length > 0 || outcome.cannotRun.length > 0) return outcome;
  for (const { line, plan } of planned) {
    let last: string | undefined;
    for (const step of plan.steps) {
      if (step.kind !== 'perch') continue;
      const result = await runStep(step, sandbox);
      outcome.ran.push(`perch ${step.args.join(' ')}`);
      if (result.problem) {
        outcome.problems.push(`\`${line.text}\`: ${result.problem}`);
        return outcome;
      }
      last = result.stdout;
    }
    if (line.expected.length > 0) {
      const missing = missingLines(line.expected, last ?? '');
      if (missing) outcome.problems.push(`\`${line.text}\` printed no line like:\n  ${missing}`);
    }
  }
  return outcome;
}

async function runStep(step: PerchStep, sandbox: DocSandbox): Promise<{ stdout: string; problem?: string }> {
  const stdin = step.falcoOnStdin
    ? readFileSync(DEMO_ALERTS, 'utf8')
    : step.stdinFile
      ? readFileSync(join(sandbox.dir, step.stdinFile), 'utf8')
      : undefined;
  const result = await runPerch(
    step.args.map((arg) => sandbox.remap(arg)),
    { cwd: sandbox.dir, env: sandbox.childEnv(), ...(stdin !== undefined ? { stdin } : {}) },
  );
  if (result.problem) return { stdout: result.stdout, problem: `${result.problem}\n${tail(result.stderr)}` };
  if (step.falcoOnStdin && result.stdout.trim() === '')
    return { stdout: '', problem: 'printed nothing for the alerts on its standard input' };
  const stdout = step.jq ? jq(result.stdout, step.jq) : { printed: result.stdout };
  if (stdout.problem) return { stdout: '', problem: stdout.problem };
  if (step.stdoutFile) writeFileSync(join(sandbox.dir, step.stdoutFile), stdout.printed);
  return { stdout: stdout.printed };
}

/**
 * What `jq .a.b` prints for JSON lines (two-space indents, or one line each with -c; strings bare
 * with -r), or why it would fail or print only null.
 */
function jq(stdout: string, filter: JqPath): { printed: string; problem?: string } {
  const printed: string[] = [];
  let found = false;
  for (const line of stdout.split('\n').filter((l) => l.trim() !== '')) {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      return { printed: '', problem: `jq would fail: this line is not JSON: ${line.slice(0, 200)}` };
    }
    for (const key of filter.path)
      value =
        value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
    if (value !== undefined && value !== null) found = true;
    printed.push(
      filter.raw && typeof value === 'string'
        ? value
        : JSON.stringify(value ?? null, null, filter.compact ? 0 : 2),
    );
  }
  if (!found)
    return {
      printed: '',
      problem: `jq .${filter.path.join('.')} would print only null: no output line has it`,
    };
  return { printed: `${printed.join('\n')}\n` };
}

/**
 * The first expected line not found in the output, after the one before it; `…` in an expected
 * line stands for any text, and a line of only `…` for lines left out.
 */
export function missingLines(expected: string[], output: string): string | undefined {
  const lines = output.split('\n').map((l) => l.trimEnd());
  let from = 0;
  for (const want of expected) {
    if (want.trim() === '…') continue;
    const pattern = new RegExp(
      `^${want
        .trimEnd()
        .split('…')
        .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*')}$`,
    );
    const at = lines.findIndex((line, i) => i >= from && pattern.test(line));
    if (at < 0) return want;
    from = at + 1;
  }
  return undefined;
}

function tail(text: string, lines = 15): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
