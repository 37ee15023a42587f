/**
 * What every FalcoEvent must look like, whichever decoder made it, and what every rejection must
 * look like. Each check throws a plain Error naming the violation, so fast-check reports it with
 * the counterexample.
 */
import { it } from '@jest/globals';
import { EventParseError } from '../../src/events/event-parse-error.js';
import { parseEventTime } from '../../src/events/event-time.js';
import type { FalcoEvent } from '../../src/events/falco-event.js';
import { MAX_FIELD_LENGTH } from '../../src/events/parse-falco-json.js';

/** `…[truncated]`: what a cut string may carry beyond MAX_FIELD_LENGTH. */
export const TRUNCATION_MARKER_LENGTH = '…[truncated]'.length;

export interface EventShapeOptions {
  /** Longest string allowed in any field; the JSON decoder's bound unless said otherwise. */
  maxString?: number;
}

function fail(message: string): never {
  throw new Error(`invalid FalcoEvent: ${message}`);
}

function checkString(value: unknown, where: string, max: number): void {
  if (typeof value !== 'string') fail(`${where} is ${typeof value}, not a string`);
  if (value.length > max) fail(`${where} has ${value.length} characters (more than ${max})`);
}

/** Throws unless `event` has exactly the documented field types and bounds. */
export function assertFalcoEvent(event: FalcoEvent, options: EventShapeOptions = {}): void {
  const max = options.maxString ?? MAX_FIELD_LENGTH + TRUNCATION_MARKER_LENGTH;
  if (typeof event.time !== 'string') fail(`time is ${typeof event.time}`);
  if (typeof event.timeNs !== 'bigint') fail(`timeNs is ${typeof event.timeNs}`);
  let reparsed: bigint;
  try {
    reparsed = parseEventTime(event.time);
  } catch (err) {
    fail(`time ${JSON.stringify(event.time)} does not parse back: ${(err as Error).message}`);
  }
  if (reparsed !== event.timeNs)
    fail(`time ${event.time} reads as ${reparsed}, but timeNs is ${event.timeNs}`);
  if (!Number.isInteger(event.priority) || event.priority < 0 || event.priority > 7)
    fail(`priority ${String(event.priority)} is not 0..7`);
  checkString(event.rule, 'rule', max);
  if (event.rule === '') fail('rule is empty');
  // What Falco left out stays absent (undefined), never a made-up default.
  if (event.output !== undefined) checkString(event.output, 'output', max);
  if (event.source !== undefined) checkString(event.source, 'source', max);
  if (event.hostname !== undefined) checkString(event.hostname, 'hostname', max);
  if (event.tags !== undefined) {
    if (!Array.isArray(event.tags)) fail('tags is not an array');
    event.tags.forEach((tag, i) => {
      checkString(tag, `tags[${i}]`, max);
    });
  }
  const fields = event.outputFields;
  if (fields === undefined) return;
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields))
    fail('outputFields is not an object');
  for (const [key, value] of Object.entries(fields)) {
    const where = `outputFields[${JSON.stringify(key.slice(0, 40))}]`;
    // A list field holds scalars only; anything nested deeper is carried as JSON text.
    if (Array.isArray(value)) {
      value.forEach((element, i) => {
        checkScalar(element, `${where}[${i}]`, max);
      });
    } else checkScalar(value, where, max);
  }
}

function checkScalar(value: unknown, where: string, max: number): void {
  if (value === null || typeof value === 'boolean' || typeof value === 'bigint') return;
  if (typeof value === 'number') {
    if (Number.isNaN(value)) fail(`${where} is NaN`);
    return;
  }
  checkString(value, where, max);
}

/** Throws unless `err` is an EventParseError with a path and a message. */
export function assertParseError(err: unknown): asserts err is EventParseError {
  if (!(err instanceof EventParseError)) {
    const name = err instanceof Error ? `${err.name}: ${err.message.slice(0, 200)}` : String(err);
    throw new Error(`expected an EventParseError, got ${name}`);
  }
  if (typeof err.path !== 'string' || err.path === '') throw new Error('EventParseError without a path');
  if (typeof err.message !== 'string' || err.message.trim() === '')
    throw new Error(`EventParseError at ${err.path} without a message`);
}

/** Runs a decoder: returns the event (checked) or undefined for a proper rejection; anything else throws. */
export function decodeOrReject(
  decode: () => FalcoEvent,
  options: EventShapeOptions = {},
): FalcoEvent | undefined {
  let event: FalcoEvent;
  try {
    event = decode();
  } catch (err) {
    assertParseError(err);
    return undefined;
  }
  assertFalcoEvent(event, options);
  return event;
}

/**
 * `it.failing` for a bug the fuzzers found: green while the bug is there, red once it is fixed.
 * `FUZZ_SHOW_KNOWN_BUGS=1` runs them as plain tests, to print fast-check's shrunk counterexample.
 */
export const knownBug: typeof it.failing = process.env.FUZZ_SHOW_KNOWN_BUGS
  ? (it as typeof it.failing)
  : it.failing;
