import { isSecretName, redactSecrets } from '../util/redact.js';

const MAX_SHOWN = 60;

/**
 * A value as a config error quotes it. Secrets are redacted before the value is shortened, so
 * that the cut cannot leave half a token the patterns no longer recognise.
 */
export function showValue(value: unknown): string {
  if (typeof value === 'string') {
    const shown = redactSecrets(value);
    return JSON.stringify(shown.length > MAX_SHOWN ? `${shown.slice(0, MAX_SHOWN)}…` : shown);
  }
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'a list' : 'a mapping';
}

/** Whether a key path leads to a credential (a token, the headers or one of their values): its value is never quoted, only its kind. */
export function holdsSecret(path: ReadonlyArray<PropertyKey>): boolean {
  const keys = path.filter((key): key is string => typeof key === 'string');
  const last = keys.at(-1);
  return last !== undefined && (isSecretName(last) || last === 'headers' || keys.at(-2) === 'headers');
}

/** `a number`, `a string`…: what an error says instead of quoting a secret. */
export function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'a mapping' : `a ${typeof value}`;
}
