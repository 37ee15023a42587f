import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { redactSecrets } from '../util/redact.js';
import { ConfigError, type ConfigProblem, joinPath } from './config-error.js';
import { describeIssue } from './describe-issue.js';
import { interpolateEnv } from './interpolate-env.js';
import { configSchema, type PerchConfig } from './schema.js';

export interface LoadOptions {
  /** perch.yaml; without one, Perch runs on defaults. */
  path?: string;
  env?: NodeJS.ProcessEnv;
  /** Applied over the file (CLI shorthands such as --listen), before validation. */
  overrides?: (raw: Record<string, unknown>) => void;
}

/** Reads, interpolates and validates perch.yaml, reporting every problem at once. */
export function loadConfig(options: LoadOptions = {}): PerchConfig {
  const label = options.path ?? 'built-in defaults';
  const raw = options.path ? readYaml(options.path) : {};
  return validateConfig(raw, label, options.env ?? process.env, options.overrides);
}

export function validateConfig(
  raw: unknown,
  label: string,
  env: NodeJS.ProcessEnv,
  overrides?: (raw: Record<string, unknown>) => void,
): PerchConfig {
  const problems: ConfigProblem[] = [];
  if (raw !== null && raw !== undefined && (typeof raw !== 'object' || Array.isArray(raw))) {
    throw new ConfigError(label, [{ path: '', message: 'expected a mapping of settings at the top level' }]);
  }
  const tree = (interpolateEnv(raw ?? {}, env, problems) ?? {}) as Record<string, unknown>;
  overrides?.(tree);
  const result = configSchema.safeParse(tree, { reportInput: true });
  if (!result.success) {
    // An unset variable already explains why the value at that key is wrong; say it once.
    const explained = new Set(problems.map((p) => p.path));
    problems.push(...result.error.issues.map(describeIssue).filter((p) => !explained.has(p.path)));
  }
  // zod reports `__proto__` in a strict object but drops it from a record (headers, isolation) unsaid.
  const reported = new Set(
    result.success
      ? []
      : result.error.issues
          .filter((i) => i.code === 'unrecognized_keys' && i.keys.includes('__proto__'))
          .map((i) => joinPath(i.path)),
  );
  for (const path of protoKeyPaths(tree))
    if (!reported.has(path))
      problems.push({ path, message: 'the name "__proto__" is not allowed (JavaScript reserves it)' });
  if (problems.length > 0) throw new ConfigError(label, problems);
  if (!result.success) throw new Error('unreachable: validation failed without problems');
  return result.data;
}

/** Where the tree has an own `__proto__` key: the paths of the mappings that hold one. */
function protoKeyPaths(tree: unknown, path: PropertyKey[] = [], found: string[] = []): string[] {
  if (Array.isArray(tree)) {
    for (const [i, item] of tree.entries()) protoKeyPaths(item, [...path, i], found);
  } else if (tree !== null && typeof tree === 'object') {
    if (Object.hasOwn(tree, '__proto__')) found.push(joinPath(path));
    for (const [key, value] of Object.entries(tree)) protoKeyPaths(value, [...path, key], found);
  }
  return found;
}

/** Reads a YAML file; a missing file or a syntax error is a ConfigError naming the file and the line. */
export function readYaml(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(path, [
      { path: '', message: `cannot read the file (${code ?? (err as Error).message})` },
    ]);
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      path,
      // The parser may quote the text it stumbled on, which may be a pasted token.
      doc.errors.map((e) => ({
        path: '',
        message: `YAML syntax: ${redactSecrets(e.message.split('\n')[0] ?? e.message)}`,
      })),
    );
  }
  try {
    return doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // Unresolved aliases and alias bombs surface only here, not in doc.errors.
    throw new ConfigError(path, [
      { path: '', message: `YAML: ${redactSecrets((err as Error).message.split('\n')[0] ?? '')}` },
    ]);
  }
}
