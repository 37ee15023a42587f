import { type ConfigProblem, joinPath } from './config-error.js';

const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\$/g;

/**
 * Replaces `${NAME}` and `${NAME:-default}` in every string of a parsed YAML tree with the
 * environment's values (`$$` writes a literal `$`). An unset variable without a default is a
 * problem named by its key, never an empty string that would fail later in a confusing way.
 */
export function interpolateEnv(
  tree: unknown,
  env: NodeJS.ProcessEnv,
  problems: ConfigProblem[],
  path: PropertyKey[] = [],
): unknown {
  if (typeof tree === 'string') {
    return tree.replace(REFERENCE, (whole, name: string | undefined, fallback: string | undefined) => {
      if (whole === '$$') return '$';
      const value = name === undefined || !Object.hasOwn(env, name) ? undefined : env[name];
      if (value !== undefined && value !== '') return value;
      if (fallback !== undefined) return fallback;
      problems.push({
        path: joinPath(path),
        message: `refers to environment variable ${name}, which is not set (write \${${name}:-default} to give a default)`,
      });
      return '';
    });
  }
  if (Array.isArray(tree)) return tree.map((item, i) => interpolateEnv(item, env, problems, [...path, i]));
  if (tree !== null && typeof tree === 'object') {
    // fromEntries defines each key, where assignment would treat `__proto__` as the prototype:
    // the settings under it would be inherited (and read) without being an own key to report.
    return Object.fromEntries(
      Object.entries(tree).map(([key, value]) => [key, interpolateEnv(value, env, problems, [...path, key])]),
    );
  }
  return tree;
}
