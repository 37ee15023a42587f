import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { InvocationChecker } from './cli-options.js';
import { REPO } from './doc-sandbox.js';
import { type Pipeline, parseCommandLine, ShellSyntaxError, type SimpleCommand } from './shell-words.js';

/** A documented perch invocation, with what stands in for the programs around it. */
export interface PerchStep {
  kind: 'perch';
  args: string[];
  /** Falco's JSON lines on stdin (`falco … | perch run --stdin`): the demo's alerts stand in. */
  falcoOnStdin: boolean;
  stdinFile?: string;
  stdoutFile?: string;
  /** `| jq .a.b`: the output must be JSON lines in which the path has a value; jq prints it. */
  jq?: JqPath;
}

/** What the test environment has already done: installed the dependencies, built dist/. */
export interface DoneStep {
  kind: 'done';
}

export type Step = PerchStep | DoneStep;

export interface LinePlan {
  steps: Step[];
  /** Why (part of) the line cannot run here; the block then needs a skip marker. */
  cannotRun: string[];
  /** What is wrong whether it runs or not: an unknown command, option or npm script. */
  problems: string[];
}

const PACKAGE_SCRIPTS: Record<string, string> = JSON.parse(
  readFileSync(join(REPO, 'package.json'), 'utf8'),
).scripts;

/** Programs whose part the test plays itself; see PerchStep. */
const PRODUCERS = new Set(['falco']);

export function planLine(text: string, cli: InvocationChecker): LinePlan {
  const plan: LinePlan = { steps: [], cannotRun: [], problems: [] };
  let pipelines: Pipeline[];
  try {
    pipelines = parseCommandLine(text);
  } catch (err) {
    if (!(err instanceof ShellSyntaxError)) throw err;
    plan.cannotRun.push(err.message);
    return plan;
  }
  for (const pipeline of pipelines) planPipeline(pipeline, cli, plan, 0);
  return plan;
}

function planPipeline(pipeline: Pipeline, cli: InvocationChecker, plan: LinePlan, depth: number): void {
  const perchAt = pipeline.findIndex((c) => perchArgs(c) !== undefined);
  if (perchAt < 0) {
    if (pipeline.length === 1) planOther(pipeline[0] as SimpleCommand, cli, plan, depth);
    else plan.cannotRun.push(`\`${show(pipeline)}\` runs no perch command`);
    return;
  }
  const command = pipeline[perchAt] as SimpleCommand;
  const args = perchArgs(command) as string[];
  plan.problems.push(...cli.problems(args));
  const step: PerchStep = { kind: 'perch', args, falcoOnStdin: false };
  if (command.stdinFile) step.stdinFile = command.stdinFile;
  if (command.stdoutFile) step.stdoutFile = command.stdoutFile;
  const before = pipeline.slice(0, perchAt);
  const after = pipeline.slice(perchAt + 1);
  if (before.length === 1 && PRODUCERS.has(before[0]?.argv[0] ?? '')) step.falcoOnStdin = true;
  else if (before.length > 0) plan.cannotRun.push(`\`${show(before)}\` before perch cannot run here`);
  if (after.length === 1 && after[0]?.argv[0] === 'jq') {
    const jq = jqPath(after[0]);
    if (jq) step.jq = jq;
    else plan.cannotRun.push(`\`${show(after)}\`: only jq paths such as .a.b are checked`);
  } else if (after.length > 0) {
    plan.cannotRun.push(`\`${show(after)}\` after perch cannot run here`);
  }
  plan.steps.push(step);
}

/** npm commands: installing and building are done; scripts are followed to what they run. */
function planOther(command: SimpleCommand, cli: InvocationChecker, plan: LinePlan, depth: number): void {
  const [program, verb, name] = command.argv;
  if (program === 'npm' && (verb === 'ci' || verb === 'install')) {
    plan.steps.push({ kind: 'done' });
    return;
  }
  const script = program === 'npm' ? (verb === 'run' ? name : verb) : undefined;
  if (script === 'build' || (program === 'npm' && verb === 'run' && name === 'build')) {
    plan.steps.push({ kind: 'done' });
    return;
  }
  if (script !== undefined && (verb === 'run' || ['test', 'start'].includes(verb ?? ''))) {
    const body = PACKAGE_SCRIPTS[script];
    if (body === undefined) {
      plan.problems.push(`\`${show([command])}\`: package.json has no script "${script}"`);
      return;
    }
    if (depth > 3) {
      plan.cannotRun.push(`\`${show([command])}\`: scripts nested too deep`);
      return;
    }
    const extra = command.argv.includes('--') ? command.argv.slice(command.argv.indexOf('--') + 1) : [];
    let pipelines: Pipeline[];
    try {
      pipelines = parseCommandLine(body);
    } catch {
      plan.cannotRun.push(`\`${show([command])}\` runs \`${body}\``);
      return;
    }
    const last = pipelines.at(-1)?.at(-1);
    if (last) last.argv.push(...extra);
    const inner: LinePlan = { steps: [], cannotRun: [], problems: [] };
    for (const pipeline of pipelines) planPipeline(pipeline, cli, inner, depth + 1);
    plan.steps.push(...inner.steps);
    plan.problems.push(...inner.problems);
    if (inner.cannotRun.length > 0) plan.cannotRun.push(`\`${show([command])}\` runs \`${body}\``);
    return;
  }
  plan.cannotRun.push(`\`${show([command])}\` cannot run here`);
}

/** The arguments of `perch …`, `node dist/cli.js …`, or undefined for another program. */
export function perchArgs(command: SimpleCommand): string[] | undefined {
  const [program, first] = command.argv;
  if (program === 'perch') return command.argv.slice(1);
  if (program === 'node' && (first === 'dist/cli.js' || first === './dist/cli.js'))
    return command.argv.slice(2);
  return undefined;
}

/** `jq [-c] [-r] .a.b`: the only jq filters the docs test reads. */
export interface JqPath {
  path: string[];
  compact: boolean;
  raw: boolean;
}

function jqPath(command: SimpleCommand): JqPath | undefined {
  const flags = command.argv.slice(1).filter((arg) => /^-[cr]+$/.test(arg));
  const filters = command.argv.slice(1).filter((arg) => !/^-[cr]+$/.test(arg));
  const filter = filters.length === 1 ? filters[0] : undefined;
  if (!filter || !/^(\.[A-Za-z_][\w]*)+$/.test(filter)) return undefined;
  return {
    path: filter.slice(1).split('.'),
    compact: flags.some((f) => f.includes('c')),
    raw: flags.some((f) => f.includes('r')),
  };
}

function show(pipeline: Pipeline): string {
  return pipeline.map((c) => c.argv.join(' ')).join(' | ');
}
