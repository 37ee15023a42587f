import { type ConfigProblem, joinPath } from './config-error.js';

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

/** One zod issue as a problem that names the key, the value found and what was expected. */
export function describeIssue(issue: Issue): ConfigProblem {
  const path = joinPath(issue.path);
  if (issue.code === 'unrecognized_keys' && issue.keys) {
    return {
      path,
      message: `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')} (check the spelling)`,
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
