/**
 * What each output of Perch must carry for a corpus alert, computed from the alert's text with the
 * exact reader (not with Perch's parser), so a parser bug cannot hide itself.
 */
import { type ExactJson, readExactJson } from './exact-json.js';

type JsonObject = { [key: string]: ExactJson };

const isObject = (v: ExactJson | undefined): v is JsonObject =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const isScalar = (v: ExactJson): boolean => v === null || typeof v !== 'object';

/** Compact JSON text of a value, integers digit for digit. */
export function jsonText(value: ExactJson): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? Number(v) : v));
}

/**
 * A comparable rendering of a JSON value that keeps everything JSON says and the order of keys:
 * a string and a number of the same digits differ, integers keep every digit.
 */
export function canonical(value: ExactJson | undefined): string {
  return (
    JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? `<int ${v}>` : v)) ?? 'undefined'
  );
}

/**
 * The alert as Perch writes it back (the `event` of --json, replay --json and the webhook body):
 * exactly what Falco wrote, with one documented exception: a value nested deeper than a list of
 * scalars (an object, a list of lists) is carried as its JSON text.
 */
export function expectedEventJson(line: string): ExactJson {
  const alert = readExactJson(line) as JsonObject;
  const fields = alert.output_fields;
  if (!isObject(fields)) return alert;
  const carried: JsonObject = Object.create(null);
  for (const [key, value] of Object.entries(fields)) {
    const nested = isObject(value) || (Array.isArray(value) && !value.every(isScalar));
    carried[key] = nested ? jsonText(value) : value;
  }
  return { ...alert, output_fields: carried };
}

/** One value as Falco's text (and so its gRPC map) prints it: lists `(a,b)`, no value `<NA>`. */
export function grpcFieldText(value: ExactJson): string {
  if (value === null) return '<NA>';
  if (typeof value === 'string') return value;
  if (typeof value === 'bigint' || typeof value === 'number' || typeof value === 'boolean')
    return String(value);
  if (Array.isArray(value) && value.every(isScalar)) return `(${value.map(grpcFieldText).join(',')})`;
  return jsonText(value);
}

export interface ExpectedGrpc {
  rule: string;
  time: string;
  /** Upper-case enum name; absent for Emergency (proto3 zero value). */
  priority?: string;
  output?: string;
  hostname?: string;
  source?: string;
  tags?: string[];
  fields?: Record<string, string>;
}

/**
 * The alert as Falco 0.43 would have sent it over gRPC: strings only in the map, and nothing for an
 * empty string, list or map (proto3 writes no empty value, so empty and absent read the same).
 */
export function expectedGrpc(line: string): ExpectedGrpc {
  const alert = readExactJson(line) as JsonObject;
  const text = (key: string) => {
    const value = alert[key];
    return typeof value === 'string' && value !== '' ? value : undefined;
  };
  const tags = Array.isArray(alert.tags) && alert.tags.length > 0 ? (alert.tags as string[]) : undefined;
  let fields: Record<string, string> | undefined;
  if (isObject(alert.output_fields))
    for (const [key, value] of Object.entries(alert.output_fields)) {
      fields ??= {};
      fields[key] = grpcFieldText(value);
    }
  const priority = String(alert.priority).toUpperCase();
  return {
    rule: String(alert.rule),
    time: String(alert.time),
    ...(priority === 'EMERGENCY' ? {} : { priority }),
    ...(text('output') !== undefined ? { output: text('output') } : {}),
    ...(text('hostname') !== undefined ? { hostname: text('hostname') } : {}),
    ...(text('source') !== undefined ? { source: text('source') } : {}),
    ...(tags ? { tags } : {}),
    ...(fields ? { fields } : {}),
  };
}
