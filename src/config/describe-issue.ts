import { type ConfigProblem, joinPath } from './config-error.js';
import { holdsSecret, kindOf, showValue } from './show-value.js';

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

/**
 * One zod issue as a problem that names the key, the value found and what was expected. A value
 * is quoted with its secrets redacted, and not at all under a key that holds a credential.
 */
export function describeIssue(issue: Issue): ConfigProblem {
  const path = joinPath(issue.path);
  const show = holdsSecret(issue.path)
    ? (value: unknown) => `${kindOf(value)} (not shown: this setting holds a secret)`
    : showValue;
  if (issue.code === 'unrecognized_keys' && issue.keys) {
    return {
      path,
      message: `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => showValue(k)).join(', ')} (check the spelling)`,
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
    return { path, message: `the name ${showValue(issue.input)} is not allowed: ${issue.issues[0].message}` };
  }
  if (issue.input === undefined && issue.code === 'invalid_type') {
    return { path, message: `is required (${issue.message.replace(/^Invalid input: /, '')})` };
  }
  const got = issue.code === 'custom' || issue.input === undefined ? '' : `got ${show(issue.input)}, `;
  const what = issue.message.replace(/^Invalid input: /, '').replace(/^Invalid option: /, '');
  return { path, message: `${got}${what.charAt(0).toLowerCase()}${what.slice(1)}` };
}
