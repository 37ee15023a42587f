import { redactSecrets } from '../util/redact.js';

/** One thing wrong with the configuration: where (a dotted key path) and what. */
export interface ConfigProblem {
  path: string;
  message: string;
}

export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: ConfigProblem[],
  ) {
    super(
      `${source}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n${formatProblems(problems)}`,
    );
    this.name = 'ConfigError';
  }
}

export function formatProblems(problems: ConfigProblem[]): string {
  return problems.map((p) => `  - ${p.path || '(top level)'}: ${p.message}`).join('\n');
}

/** A key path such as `sinks.slack.url`; a key that is itself a secret (a token pasted as a key) is redacted. */
export function joinPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else {
      const key = redactSecrets(String(part));
      out += /^[A-Za-z_][\w-]*$/.test(key) ? (out ? `.${key}` : key) : `[${JSON.stringify(key)}]`;
    }
  }
  return out;
}
