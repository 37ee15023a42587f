import { readdirSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { ConfigError, type ConfigProblem } from './config-error.js';
import { interpolateEnv } from './interpolate-env.js';
import type { ConfigLayer } from './merge-layers.js';
import { readYaml } from './read-yaml.js';
import { showValue } from './show-value.js';

/** The key of perch.yaml that names the drop-in directory. */
export const INCLUDE_DIR_KEY = 'includeDir';

export interface ConfigFiles {
  /** perch.yaml first, then each drop-in in name order. */
  layers: ConfigLayer[];
  /** The drop-in directory as resolved, when perch.yaml names one. */
  includeDir?: string;
}

/**
 * Reads perch.yaml and, when it sets `includeDir`, every `*.yaml` / `*.yml` file of that directory
 * in name order. Names starting with a dot are skipped: they are editor backups and the `..data`
 * links through which Kubernetes swaps a mounted ConfigMap atomically.
 */
export function readConfigFiles(path: string, env: NodeJS.ProcessEnv): ConfigFiles {
  const main = readMapping(path);
  if (!Object.hasOwn(main, INCLUDE_DIR_KEY)) return { layers: [{ file: path, tree: main }] };
  const includeDir = resolveIncludeDir(path, main[INCLUDE_DIR_KEY], env);
  let names: string[];
  try {
    names = readdirSync(includeDir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new ConfigError(path, [
      {
        path: INCLUDE_DIR_KEY,
        message: `cannot read the drop-in directory ${showValue(includeDir)} (${code}): expected a directory of *.yaml files`,
      },
    ]);
  }
  const layers: ConfigLayer[] = [{ file: path, tree: main }];
  const failures: ConfigError[] = [];
  // Plain code-unit order, the same on every machine whatever its locale.
  for (const name of names.filter(isDropInName).sort()) {
    const file = join(includeDir, name);
    try {
      const tree = readMapping(file);
      if (Object.hasOwn(tree, INCLUDE_DIR_KEY)) {
        throw new ConfigError(file, [
          {
            path: INCLUDE_DIR_KEY,
            message: `only ${path} may set ${INCLUDE_DIR_KEY}: drop-ins do not include further directories`,
          },
        ]);
      }
      layers.push({ file, tree });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      failures.push(err);
    }
  }
  const [first, ...more] = failures;
  if (first && more.length === 0) throw first;
  if (first) {
    throw new ConfigError(
      `${path} with drop-ins from ${includeDir}`,
      failures.flatMap((e) =>
        e.problems.map((p) => ({ path: p.path, message: `${p.message} (in ${e.source})` })),
      ),
    );
  }
  return { layers, includeDir };
}

function isDropInName(name: string): boolean {
  return !name.startsWith('.') && /\.ya?ml$/.test(name);
}

/** A YAML file that holds a mapping (or nothing: an empty drop-in adds nothing). */
function readMapping(file: string): Record<string, unknown> {
  const raw = readYaml(file);
  if (raw === null || raw === undefined) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(file, [{ path: '', message: 'expected a mapping of settings at the top level' }]);
  }
  return raw as Record<string, unknown>;
}

/** Relative to perch.yaml's own directory, so the pair can be copied anywhere together. */
function resolveIncludeDir(path: string, value: unknown, env: NodeJS.ProcessEnv): string {
  if (typeof value !== 'string' || value === '') {
    throw new ConfigError(path, [
      { path: INCLUDE_DIR_KEY, message: `got ${showValue(value)}, expected the path of a directory` },
    ]);
  }
  const problems: ConfigProblem[] = [];
  const dir = interpolateEnv(value, env, problems, [INCLUDE_DIR_KEY]) as string;
  if (problems.length > 0) throw new ConfigError(path, problems);
  return isAbsolute(dir) ? dir : join(dirname(path), dir);
}
