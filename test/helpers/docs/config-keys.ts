import type { z } from 'zod';

/**
 * The settings of Perch's schema as key paths: `server.listen`, `sources.files.path` (a list's
 * items under the list's key), `sinks.*.url` (a map of named entries: `*` for the name), and for
 * every variant of a union told apart by a key, that key and its value: `sinks.*.type=slack`.
 * The same paths are read off a documented snippet, so the two can be compared.
 */
export type KeyPaths = Set<string>;

/** The parts of zod's definitions this walk reads; zod 4 keeps them in `_zod.def`. */
interface Def {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  valueType?: z.ZodType;
  options?: z.ZodType[];
  discriminator?: string;
  values?: unknown[];
}

function def(schema: z.ZodType): Def {
  return schema._zod.def as unknown as Def;
}

/** The schema behind defaults, optionals and transforms. */
function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (;;) {
    const d = def(current);
    if (d.innerType) current = d.innerType;
    else if (d.type === 'pipe' && d.in) current = d.in;
    else return current;
  }
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

/** Maps with named entries of their own settings (sinks) are walked; maps of plain values are one setting. */
function hasSettings(schema: z.ZodType): boolean {
  const d = def(unwrap(schema));
  return d.type === 'object' || (d.type === 'union' && d.discriminator !== undefined);
}

function variantTag(variant: z.ZodType, discriminator: string): string {
  const field = def(unwrap(variant)).shape?.[discriminator];
  return field ? String(def(unwrap(field)).values?.[0]) : '?';
}

export function schemaKeyPaths(schema: z.ZodType, path = '', out: KeyPaths = new Set()): KeyPaths {
  const d = def(unwrap(schema));
  if (d.type === 'object' && d.shape) {
    for (const [key, inner] of Object.entries(d.shape)) {
      out.add(join(path, key));
      schemaKeyPaths(inner, join(path, key), out);
    }
  } else if (d.type === 'array' && d.element) {
    schemaKeyPaths(d.element, path, out);
  } else if (d.type === 'record' && d.valueType && hasSettings(d.valueType)) {
    schemaKeyPaths(d.valueType, join(path, '*'), out);
  } else if (d.type === 'union' && d.discriminator && d.options) {
    for (const variant of d.options) {
      out.add(`${join(path, d.discriminator)}=${variantTag(variant, d.discriminator)}`);
      schemaKeyPaths(variant, path, out);
    }
  }
  return out;
}

/** The key paths a parsed snippet sets, read with the schema as the guide. */
export function snippetKeyPaths(
  value: unknown,
  schema: z.ZodType,
  path = '',
  out: KeyPaths = new Set(),
): KeyPaths {
  const d = def(unwrap(schema));
  const isMap = value !== null && typeof value === 'object' && !Array.isArray(value);
  if (d.type === 'object' && d.shape && isMap) {
    for (const [key, inner] of Object.entries(value)) {
      const field = d.shape[key];
      if (!field) continue;
      out.add(join(path, key));
      snippetKeyPaths(inner, field, join(path, key), out);
    }
  } else if (d.type === 'array' && d.element && Array.isArray(value)) {
    for (const item of value) snippetKeyPaths(item, d.element, path, out);
  } else if (d.type === 'record' && d.valueType && hasSettings(d.valueType) && isMap) {
    for (const inner of Object.values(value)) snippetKeyPaths(inner, d.valueType, join(path, '*'), out);
  } else if (d.type === 'union' && d.discriminator && d.options && isMap) {
    const tag = (value as Record<string, unknown>)[d.discriminator];
    const variant = d.options.find((v) => variantTag(v, d.discriminator as string) === String(tag));
    if (variant) {
      out.add(`${join(path, d.discriminator)}=${String(tag)}`);
      snippetKeyPaths(value, variant, path, out);
    }
  }
  return out;
}
