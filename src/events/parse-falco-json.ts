import { graphemeStart } from '../util/graphemes.js';
import { EventParseError } from './event-parse-error.js';
import { clip, describe, parseEventTime } from './event-time.js';
import { jsonArrayElements, needsExactRecovery, RawNumberTexts } from './exact-integers.js';
import type { FalcoEvent } from './falco-event.js';
import type { FieldScalar, FieldValue } from './field-value.js';
import { PRIORITY_NAMES, parsePriority } from './priority.js';
import { setOwn } from './set-own.js';

/** Longest string we keep from an untrusted alert field; longer ones are cut with a marker. */
export const MAX_FIELD_LENGTH = 16 * 1024;
const TRUNCATION_MARKER = '…[truncated]';

/** Parses one alert in Falco's JSON format (json_output, http_output, falcosidekick's POST /). */
export function parseFalcoJson(text: string): FalcoEvent {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (err) {
    throw new EventParseError('$', `malformed JSON: ${(err as Error).message}`);
  }
  return normaliseFalcoAlert(document, text);
}

/**
 * Builds a FalcoEvent from an already parsed alert. `raw` is the text it was parsed from (the
 * alert, or a JSON array of alerts holding it), used to keep numbers `JSON.parse` changed exact.
 */
export function normaliseFalcoAlert(document: unknown, raw?: string): FalcoEvent {
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw new EventParseError('$', `expected a JSON object (one Falco alert), got ${describe(document)}`);
  }
  const alert = document as Record<string, unknown>;

  const rule = alert.rule;
  if (typeof rule !== 'string' || rule === '') {
    throw new EventParseError(
      'rule',
      `expected a non-empty string (the Falco rule name), got ${describe(rule)}`,
    );
  }
  const priority = parsePriority(alert.priority);
  if (priority === undefined) {
    throw new EventParseError(
      'priority',
      `expected one of ${PRIORITY_NAMES.join(', ')} (any case) or Falco's number 0-7, got ${describe(alert.priority)}`,
    );
  }
  const time = alert.time;
  const timeNs = parseEventTime(time);

  // What Falco left out stays undefined: writing the alert back must not invent a source, an empty
  // tag list or an empty text. (One object shape for every alert, whatever it has.)
  return {
    time: time as string,
    timeNs,
    priority,
    rule: truncate(rule),
    output: optionalString(alert, 'output'),
    message: optionalString(alert, 'message'),
    source: optionalString(alert, 'source'),
    hostname: optionalString(alert, 'hostname'),
    tags: parseTags(alert.tags),
    outputFields: parseOutputFields(alert, raw),
  };
}

/** A string Falco may leave out; JSON `null` counts as left out (no Falco writes it there). */
function optionalString(alert: Record<string, unknown>, key: string): string | undefined {
  const value = alert[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new EventParseError(key, `expected a string, got ${describe(value)}`);
  return truncate(value);
}

// The parsed document is Perch's own (nothing else holds it), so tags and output fields are checked
// and fixed where they are instead of being copied: every alert passes here.
function parseTags(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value))
    throw new EventParseError('tags', `expected an array of strings, got ${describe(value)}`);
  for (let i = 0; i < value.length; i++) {
    const tag: unknown = value[i];
    if (typeof tag !== 'string')
      throw new EventParseError(`tags[${i}]`, `expected a string, got ${describe(tag)}`);
    if (tag.length > MAX_FIELD_LENGTH) value[i] = truncate(tag);
  }
  return value as string[];
}

function parseOutputFields(
  alert: Record<string, unknown>,
  raw: string | undefined,
): Record<string, FieldValue> | undefined {
  const value = alert.output_fields;
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new EventParseError(
      'output_fields',
      `expected an object of field name → value, got ${describe(value)}`,
    );
  }
  const fields = value as Record<string, unknown>;
  // The raw text is read only for alerts with a number JSON.parse changed (RawNumberTexts reads it
  // when first asked). No closure in this loop: one that captured `key` would cost a context
  // object per field of every alert, used or not.
  let texts: RawNumberTexts | undefined;
  // Written back after the loop: RawNumberTexts compares the alert's numbers as JSON.parse read them.
  // The first change (Falco's alerts have one, evt.time) is held without an array of its own.
  let firstKey: string | undefined;
  let firstField: FieldValue = null;
  let moreChanges: [string, FieldValue][] | undefined;
  for (const key in fields) {
    const v = fields[key];
    let field: FieldValue;
    if (typeof v === 'number') {
      if (!needsExactRecovery(v) && Number.isFinite(v)) continue;
      if (raw !== undefined) texts ??= new RawNumberTexts(raw, alert);
      field = exactNumber(v, texts?.get(key));
    } else if (v === null || typeof v === 'boolean') continue;
    else if (typeof v === 'string' && v.length <= MAX_FIELD_LENGTH) continue;
    else if (Array.isArray(v)) {
      if (raw !== undefined) texts ??= new RawNumberTexts(raw, alert);
      const list = listValue(v, key, texts);
      if (list === v) continue;
      field = list ?? fieldValue(key, v);
    } else field = fieldValue(key, v);
    if (firstKey === undefined) {
      firstKey = key;
      firstField = field;
    } else {
      moreChanges ??= [];
      moreChanges.push([key, field]);
    }
  }
  if (firstKey !== undefined) setOwn(fields, firstKey, firstField);
  if (moreChanges) for (const [key, field] of moreChanges) setOwn(fields, key, field);
  return fields as Record<string, FieldValue>;
}

/**
 * An integer beyond 2^53 as the bigint of the digits written; a number beyond the double range
 * (`1e400`, which JSON.parse reads as Infinity and JSON writes back as null) as the text written,
 * like a nested value. Without the text, what JSON.parse read is the best there is.
 */
function exactNumber(parsed: number, text: string | undefined): bigint | string {
  // The text must read as the parsed value: a guard against a caller's `raw` that is not the alert's.
  const written = text !== undefined && Number(text) === parsed ? text : undefined;
  if (Number.isFinite(parsed))
    return written !== undefined && /^-?\d+$/.test(written) ? BigInt(written) : BigInt(parsed);
  return truncate(written ?? String(parsed));
}

/**
 * A list field (libsinsp writes them as JSON arrays) as a list of scalars: the same array when
 * nothing in it needs fixing, a fixed copy otherwise. Undefined when it holds objects or lists,
 * which no list field does: such a value is carried as JSON text like any nested one.
 */
function listValue(
  values: unknown[],
  key: string,
  numberTexts: RawNumberTexts | undefined,
): FieldScalar[] | undefined {
  let copy: FieldScalar[] | undefined;
  // The texts of the elements as written, looked up once and only for a number JSON.parse changed.
  let elementTexts: string[] | null | undefined;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    let element: FieldScalar;
    if (typeof v === 'number') {
      if (!needsExactRecovery(v) && Number.isFinite(v)) continue;
      if (elementTexts === undefined) {
        const text = numberTexts?.get(key);
        const texts = text === undefined ? undefined : jsonArrayElements(text);
        elementTexts = texts?.length === values.length ? texts : null;
      }
      element = exactNumber(v, elementTexts?.[i]);
    } else if (v === null || typeof v === 'boolean') continue;
    else if (typeof v === 'string') {
      if (v.length <= MAX_FIELD_LENGTH) continue;
      element = truncate(v);
    } else return undefined;
    copy ??= values.slice() as FieldScalar[];
    copy[i] = element;
  }
  return copy ?? (values as FieldScalar[]);
}

function fieldValue(key: string, value: unknown): FieldValue {
  switch (typeof value) {
    case 'string':
      return truncate(value);
    case 'boolean':
    case 'number':
      return value;
    case 'object':
      if (value === null) return null;
      // Some plugins and senders nest documents; keep the alert and carry the value as JSON text.
      try {
        return truncate(JSON.stringify(value));
      } catch {
        throw new EventParseError(
          `output_fields[${JSON.stringify(clip(key, 60))}]`,
          'the value is nested too deeply',
        );
      }
    default:
      throw new EventParseError(
        `output_fields[${JSON.stringify(clip(key, 60))}]`,
        `unsupported value ${describe(value)}`,
      );
  }
}

/** Cut between characters, never inside one (a surrogate pair, an emoji sequence, a letter and its accents). */
function truncate(text: string): string {
  return text.length <= MAX_FIELD_LENGTH
    ? text
    : text.slice(0, graphemeStart(text, MAX_FIELD_LENGTH)) + TRUNCATION_MARKER;
}
