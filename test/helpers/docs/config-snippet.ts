import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { parseAllDocuments, stringify } from 'yaml';
import { loadConfig } from '../../../src/config/load-config.js';
import type { BlockOutcome } from './block-outcome.js';
import type { DocSandbox } from './doc-sandbox.js';
import { runPerch } from './perch-runs.js';
import { snippetKind } from './snippet-kind.js';

/**
 * The snippet as its reader's YAML (or JSON) parser would read it, or what is wrong with it;
 * several YAML documents (`---`) come as a list.
 */
export function parseSnippet(lang: string, text: string): { value: unknown } | { error: string } {
  if (lang === 'json') {
    try {
      return { value: JSON.parse(text) };
    } catch (err) {
      return { error: `not JSON: ${(err as Error).message}` };
    }
  }
  const docs = parseAllDocuments(text, { uniqueKeys: true, prettyErrors: true });
  const errors = (Array.isArray(docs) ? docs : [docs]).flatMap((doc) => doc.errors);
  if (errors.length > 0) return { error: `not YAML: ${errors.map((e) => e.message).join('; ')}` };
  const values = (Array.isArray(docs) ? docs : []).map((doc) => doc.toJS());
  return { value: values.length === 1 ? values[0] : values };
}

/**
 * Runs a YAML or JSON snippet the way its kind is used: perch.yaml through `perch check` and a
 * brief `perch run`; a rules file through `perch check` with a perch.yaml that lists it; Falco's
 * settings and Kubernetes objects only have to be YAML. With `defaults`, the snippet must also
 * load to exactly the configuration Perch has without a file.
 */
export async function runConfigSnippet(
  block: { lang: string; text: string; defaults: boolean },
  sandbox: DocSandbox,
): Promise<BlockOutcome> {
  const outcome: BlockOutcome = { problems: [], cannotRun: [], ran: [] };
  const parsed = parseSnippet(block.lang, block.text);
  if ('error' in parsed) {
    outcome.problems.push(parsed.error);
    return outcome;
  }
  const kind = snippetKind(parsed.value);
  if (kind === 'unknown') {
    outcome.cannotRun.push(
      'neither a perch.yaml, a rules file, Falco settings nor Kubernetes objects (by its top-level keys)',
    );
    return outcome;
  }
  // Falco reads its settings, and a cluster its objects: here they only have to be YAML.
  if (kind === 'falco-config' || kind === 'kubernetes-manifest') return outcome;

  const text = sandbox.remap(block.text);
  let configFile = join(sandbox.dir, 'snippet.yaml');
  if (kind === 'rules-file') {
    const rulesFile = join(sandbox.dir, 'rules-snippet.yaml');
    writeFileSync(rulesFile, text);
    writeFileSync(configFile, `rules: {files: [${JSON.stringify(rulesFile)}]}\n`);
  } else {
    if (!block.defaults) sandbox.provideEnv(text);
    const remapped = parseSnippet(block.lang, text);
    if ('value' in remapped) sandbox.provideFiles(remapped.value);
    writeFileSync(configFile, text);
  }
  if (block.defaults) outcome.problems.push(...differencesFromDefaults(block.text, sandbox));

  const env = sandbox.childEnv();
  const check = await runPerch(['check', '-c', configFile], { cwd: sandbox.dir, env });
  outcome.ran.push('perch check');
  if (check.problem) {
    outcome.problems.push(`perch check: ${check.problem}\n${check.stderr.trim()}`);
    return outcome;
  }
  if (kind === 'rules-file') return outcome;

  const served = servedOnFreePorts(parseSnippet(block.lang, text));
  if (served !== undefined) {
    configFile = join(sandbox.dir, 'snippet-free-ports.yaml');
    writeFileSync(configFile, served);
  }
  const run = await runPerch(['run', '-c', configFile], { cwd: sandbox.dir, env });
  outcome.ran.push('perch run');
  if (run.problem) outcome.problems.push(`perch run: ${run.problem}\n${tail(run.stderr)}`);
  return outcome;
}

/**
 * The snippet with its gRPC bridges on TCP moved to free loopback ports, so that runs can overlap
 * (the HTTP server gets `--listen`); undefined when it has none.
 */
function servedOnFreePorts(parsed: { value: unknown } | { error: string }): string | undefined {
  if (!('value' in parsed)) return undefined;
  const sinks = (parsed.value as { sinks?: Record<string, { type?: string; listen?: string }> }).sinks;
  let moved = false;
  for (const sink of Object.values(sinks ?? {})) {
    if (sink?.type === 'grpc-bridge' && sink.listen !== undefined && !sink.listen.startsWith('unix:')) {
      sink.listen = '127.0.0.1:0';
      moved = true;
    }
  }
  return moved ? stringify(parsed.value) : undefined;
}

/** Settings where the snippet, read with an empty environment, differs from Perch without a file. */
function differencesFromDefaults(text: string, sandbox: DocSandbox): string[] {
  const file = join(sandbox.dir, 'defaults-as-written.yaml');
  writeFileSync(file, text);
  let written: unknown;
  try {
    written = loadConfig({ path: file, env: {} });
  } catch (err) {
    return [`does not load without an environment: ${(err as Error).message}`];
  }
  const defaults = flatten(loadConfig({ env: {} }));
  const shown = flatten(written);
  const keys = [...new Set([...Object.keys(defaults), ...Object.keys(shown)])].sort();
  return keys
    .filter((key) => !isDeepStrictEqual(defaults[key], shown[key]))
    .map(
      (key) =>
        `${key}: the block gives ${JSON.stringify(shown[key]) ?? 'nothing'}, Perch's default is ${JSON.stringify(defaults[key]) ?? 'unset'}`,
    );
}

function flatten(value: unknown, path = '', out: Record<string, unknown> = {}): Record<string, unknown> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length > 0) {
    for (const [key, inner] of Object.entries(value)) flatten(inner, path ? `${path}.${key}` : key, out);
  } else {
    out[path] = value;
  }
  return out;
}

function tail(text: string, lines = 15): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
