import { EventParseError } from './event-parse-error.js';
import { clip, describe, parseEventTime } from './event-time.js';
import { needsExactRecovery, recoverExactInteger } from './exact-integers.js';
import type { FalcoEvent, FieldValue } from './falco-event.js';
import { PRIORITY_NAMES, parsePriority } from './priority.js';

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
 * Builds a FalcoEvent from an already parsed alert. `raw` is the text it was parsed from, used
 * to keep integers beyond 2^53 exact.
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

  return {
    time: time as string,
    timeNs,
    priority,
    rule: truncate(rule),
    output: optionalString(alert, 'output', ''),
    source: optionalString(alert, 'source', 'syscall') || 'syscall',
    hostname: optionalString(alert, 'hostname', ''),
    tags: parseTags(alert.tags),
    outputFields: parseOutputFields(alert.output_fields, raw),
  };
}

function optionalString(alert: Record<string, unknown>, key: string, fallback: string): string {
  const value = alert[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'string') throw new EventParseError(key, `expected a string, got ${describe(value)}`);
  return truncate(value);
}

function parseTags(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value))
    throw new EventParseError('tags', `expected an array of strings, got ${describe(value)}`);
  return value.map((tag, i) => {
    if (typeof tag !== 'string')
      throw new EventParseError(`tags[${i}]`, `expected a string, got ${describe(tag)}`);
    return truncate(tag);
  });
}

function parseOutputFields(value: unknown, raw: string | undefined): Record<string, FieldValue> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new EventParseError(
      'output_fields',
      `expected an object of field name → value, got ${describe(value)}`,
    );
  }
  const fields: Record<string, FieldValue> = {};
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    fields[key] = fieldValue(key, v, raw);
  }
  return fields;
}

function fieldValue(key: string, value: unknown, raw: string | undefined): FieldValue {
  switch (typeof value) {
    case 'string':
      return truncate(value);
    case 'boolean':
      return value;
    case 'number':
      return needsExactRecovery(value) && raw !== undefined ? recoverExactInteger(raw, key, value) : value;
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

function truncate(text: string): string {
  return text.length <= MAX_FIELD_LENGTH ? text : text.slice(0, MAX_FIELD_LENGTH) + TRUNCATION_MARKER;
}
