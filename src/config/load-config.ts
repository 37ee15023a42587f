import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { ConfigError, type ConfigProblem, joinPath } from './config-error.js';
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
  if (problems.length > 0) throw new ConfigError(label, problems);
  if (!result.success) throw new Error('unreachable: validation failed without problems');
  return result.data;
}

function readYaml(path: string): unknown {
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
      doc.errors.map((e) => ({ path: '', message: `YAML syntax: ${e.message.split('\n')[0] ?? e.message}` })),
    );
  }
  return doc.toJS();
}

interface Issue {
  code: string;
  path: PropertyKey[];
  message: string;
  input?: unknown;
  keys?: string[];
  options?: unknown[];
  discriminator?: string;
  issues?: Issue[];
}

function describeIssue(issue: Issue): ConfigProblem {
  const path = joinPath(issue.path);
  if (issue.code === 'unrecognized_keys' && issue.keys) {
    return {
      path,
      message: `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')} (check the spelling; see docs/configuration.md)`,
    };
  }
  if (issue.code === 'invalid_union' && issue.discriminator && issue.options) {
    const input = issue.input as Record<string, unknown> | undefined;
    const got = input?.[issue.discriminator];
    return {
      path,
      message: `${got === undefined ? 'is required' : `got ${show(got)}`}, expected one of: ${issue.options.join(', ')}`,
    };
  }
  if (issue.code === 'invalid_key' && issue.issues?.[0]) {
    return { path, message: `the name ${show(issue.input)} is not allowed: ${issue.issues[0].message}` };
  }
  if (issue.input === undefined && issue.code === 'invalid_type') {
    return { path, message: `is required (${issue.message.replace(/^Invalid input: /, '')})` };
  }
  const got = issue.code === 'custom' || issue.input === undefined ? '' : `got ${show(issue.input)}, `;
  const what = issue.message.replace(/^Invalid input: /, '').replace(/^Invalid option: /, '');
  return { path, message: `${got}${what.charAt(0).toLowerCase()}${what.slice(1)}` };
}

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'a list' : 'a mapping';
}
