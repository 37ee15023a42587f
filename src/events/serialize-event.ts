import { randomBytes } from 'node:crypto';
import type { FalcoEvent } from './falco-event.js';
import { priorityName } from './priority.js';

/** Falco's wire shape of an alert (what http_output posts), with exact big integers. */
export function toFalcoJson(event: FalcoEvent): string {
  return stringifyExact(toFalcoShape(event));
}

/**
 * The alert as Falco wrote it: its keys in Falco's (alphabetical) order, and only those it wrote.
 * Nothing Perch derives goes in here.
 */
export function toFalcoShape(event: FalcoEvent): Record<string, unknown> {
  const shape: Record<string, unknown> = {};
  if (event.hostname !== undefined) shape.hostname = event.hostname;
  if (event.message !== undefined) shape.message = event.message;
  if (event.output !== undefined) shape.output = event.output;
  if (event.outputFields !== undefined) shape.output_fields = event.outputFields;
  shape.priority = priorityName(event.priority);
  shape.rule = event.rule;
  if (event.source !== undefined) shape.source = event.source;
  if (event.tags !== undefined) shape.tags = event.tags;
  shape.time = event.time;
  return shape;
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
