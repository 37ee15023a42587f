/**
 * `JSON.parse` rounds integers beyond 2^53, and Falco's `evt.time` (nanoseconds, 19 digits) is
 * always one of them. Parsing every alert with a lossless parser would cost several times more, so
 * we let `JSON.parse` do the work and recover the exact digits from the raw text only for the few
 * fields whose parsed value is an unsafe integer.
 */
export function needsExactRecovery(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && !Number.isSafeInteger(value);
}

const patternCache = new Map<string, RegExp>();
const PATTERN_CACHE_LIMIT = 256;

function patternFor(key: string): RegExp {
  let pattern = patternCache.get(key);
  if (!pattern) {
    const quoted = JSON.stringify(key).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    // The key's closing quote is not escaped, so a key spelled inside a string value cannot match.
    pattern = new RegExp(`${quoted}\\s*:\\s*(-?\\d+)(?![\\d.eE])`);
    if (patternCache.size >= PATTERN_CACHE_LIMIT) patternCache.clear();
    patternCache.set(key, pattern);
  }
  return pattern;
}

/** The exact integer written for `key` in `raw`, or the rounded value when the text cannot be found. */
export function recoverExactInteger(raw: string, key: string, rounded: number): bigint {
  const match = patternFor(key).exec(raw);
  if (match?.[1]) {
    const exact = BigInt(match[1]);
    // Guard against a same-named key elsewhere in the document: it must round to what JSON.parse saw.
    if (Number(exact) === rounded) return exact;
  }
  return BigInt(rounded);
}
