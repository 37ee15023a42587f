import { ConfigError, type ConfigProblem, joinPath } from './config-error.js';
import { readConfigFiles } from './config-files.js';
import { describeIssue } from './describe-issue.js';
import { interpolateEnv } from './interpolate-env.js';
import { type ConfigOrigins, mergeLayers } from './merge-layers.js';
import { configSchema, type PerchConfig } from './schema.js';

export { readYaml } from './read-yaml.js';

export interface LoadOptions {
  /** perch.yaml (and the drop-ins of its `includeDir`); without one, Perch runs on defaults. */
  path?: string;
  env?: NodeJS.ProcessEnv;
  /** Applied over the file (CLI shorthands such as --listen), before validation. */
  overrides?: (raw: Record<string, unknown>) => void;
}

/**
 * Reads perch.yaml and its drop-ins, merges them, interpolates and validates the result, reporting
 * every problem at once; with drop-ins, each problem names the file(s) that set the key.
 */
export function loadConfig(options: LoadOptions = {}): PerchConfig {
  const env = options.env ?? process.env;
  if (!options.path) return validateConfig({}, 'built-in defaults', env, options.overrides);
  const { layers, includeDir } = readConfigFiles(options.path, env);
  if (layers.length === 1) return validateConfig(layers[0]?.tree, options.path, env, options.overrides);
  const { tree, origins } = mergeLayers(layers);
  return validateConfig(
    tree,
    `${options.path} with drop-ins from ${includeDir}`,
    env,
    options.overrides,
    origins,
  );
}

export function validateConfig(
  raw: unknown,
  label: string,
  env: NodeJS.ProcessEnv,
  overrides?: (raw: Record<string, unknown>) => void,
  origins?: ConfigOrigins,
): PerchConfig {
  const problems: ConfigProblem[] = [];
  if (raw !== null && raw !== undefined && (typeof raw !== 'object' || Array.isArray(raw))) {
    throw new ConfigError(label, [{ path: '', message: 'expected a mapping of settings at the top level' }]);
  }
  const tree = (interpolateEnv(raw ?? {}, env, problems) ?? {}) as Record<string, unknown>;
  overrides?.(tree);
  const result = configSchema.safeParse(tree, { reportInput: true });
  // An unknown key is reported at its parent mapping; the file to name is the one that has the key.
  const keysOf = new Map<ConfigProblem, string[]>();
  if (!result.success) {
    // An unset variable already explains why the value at that key is wrong; say it once.
    const explained = new Set(problems.map((p) => p.path));
    for (const issue of result.error.issues) {
      const problem = describeIssue(issue);
      if (explained.has(problem.path)) continue;
      if (issue.code === 'unrecognized_keys')
        keysOf.set(
          problem,
          issue.keys.map((k) => joinPath([...issue.path, k])),
        );
      problems.push(problem);
    }
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
  if (problems.length > 0) {
    const named = origins ? problems.map((p) => naming(p, keysOf.get(p) ?? [p.path], origins)) : problems;
    throw new ConfigError(label, named);
  }
  if (!result.success) throw new Error('unreachable: validation failed without problems');
  return result.data;
}

/** A problem of a merged configuration, with the file(s) to edit. */
function naming(problem: ConfigProblem, paths: string[], origins: ConfigOrigins): ConfigProblem {
  const files = [...new Set(paths.flatMap((path) => origins.filesFor(path)))];
  return files.length === 0
    ? problem
    : { ...problem, message: `${problem.message} (in ${files.join(', ')})` };
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
