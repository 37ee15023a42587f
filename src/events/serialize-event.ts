import { randomBytes } from 'node:crypto';
import type { FalcoEvent } from './falco-event.js';
import { priorityName } from './priority.js';

/** Falco's wire shape of an alert (what http_output posts), with exact big integers. */
export function toFalcoJson(event: FalcoEvent): string {
  return stringifyExact(toFalcoShape(event));
}

export function toFalcoShape(event: FalcoEvent): Record<string, unknown> {
  return {
    hostname: event.hostname,
    output: event.output,
    output_fields: event.outputFields,
    priority: priorityName(event.priority),
    rule: event.rule,
    source: event.source,
    tags: event.tags,
    time: event.time,
  };
}

// A placeholder no input can forge: it starts with NUL and carries a per-process random nonce.
const NONCE = randomBytes(6).toString('hex');
const BIGINT_MARK = `\u0000${NONCE}:`;
const PLACEHOLDER = new RegExp(`"\\\\u0000${NONCE}:(-?\\d+)"`, 'g');

/** JSON.stringify that writes bigint values as plain JSON integers, digit for digit. */
export function stringifyExact(value: unknown, indent?: number): string {
  const text = JSON.stringify(
    value,
    (_key, v: unknown) => (typeof v === 'bigint' ? `${BIGINT_MARK}${v.toString()}` : v),
    indent,
  );
  return text.includes(NONCE) ? text.replace(PLACEHOLDER, '$1') : text;
}
