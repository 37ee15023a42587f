import { randomBytes } from 'node:crypto';

// A mark no input can forge: it starts with NUL and carries a per-process random nonce.
const NONCE = randomBytes(6).toString('hex');
const MARK = `\u0000${NONCE}:`;
const MARKED = new RegExp(`"\\\\u0000${NONCE}:(-?\\d+)"`, 'g');

/**
 * Falco's output fields with each bigint (an integer beyond 2^53, such as the nanosecond
 * `evt.time`) as a marked string that `stringifyMarked` writes back as the plain integer; the same
 * object when it holds none. A copy, never a change: the event is shared with other sinks.
 */
export function markIntegers<T>(fields: Record<string, T> | undefined): Record<string, unknown> | undefined {
  if (fields === undefined) return undefined;
  let copy: Record<string, unknown> | undefined;
  for (const key in fields) {
    const value: unknown = fields[key];
    let marked: unknown;
    if (typeof value === 'bigint') marked = `${MARK}${value}`;
    else if (Array.isArray(value) && value.some((v) => typeof v === 'bigint'))
      marked = value.map((v: unknown) => (typeof v === 'bigint' ? `${MARK}${v}` : v));
    else continue;
    copy ??= { ...fields };
    copy[key] = marked;
  }
  return copy ?? fields;
}

/**
 * JSON text of a value whose bigints were all marked by markIntegers: JSON.stringify without a
 * replacer (a replacer turns off V8's fast serializer and calls back for every key), then the marks
 * become the integers they stand for, digit for digit.
 */
export function stringifyMarked(value: unknown): string {
  const text = JSON.stringify(value);
  return text.includes(NONCE) ? text.replace(MARKED, '$1') : text;
}
