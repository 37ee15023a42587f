/** fast-check arbitraries for untrusted alert input: valid-looking, wrong-typed and hostile. */
import fc from 'fast-check';
import { MAX_FIELD_LENGTH } from '../../src/events/parse-falco-json.js';
import { stringifyExact } from '../../src/events/serialize-event.js';

/** Strings that break naive code: NUL, lone surrogates, astral characters, prototype names, JSON syntax. */
export const nastyString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '',
      ' ',
      '\u0000',
      '\ud800',
      '\udfff',
      '\ud83d\ude00',
      '<NA>',
      '__proto__',
      'constructor',
      'toString',
      '"',
      '\\',
      '{"rule":"R"}',
      '\u2028\u2029',
      '\uFEFF',
      'null',
      '9007199254740993',
    ),
  },
);

/** Strings around and far beyond MAX_FIELD_LENGTH (up to 1 MiB), built without generating each character. */
export const hugeString: fc.Arbitrary<string> = fc
  .record({
    unit: fc.constantFrom('x', 'é', '\ud83d\ude00', '\u0000', '"', '\\', '\ud800'),
    length: fc.oneof(
      fc.integer({ min: MAX_FIELD_LENGTH - 2, max: MAX_FIELD_LENGTH + 2 }),
      fc.constantFrom(64 * 1024, 1024 * 1024),
    ),
  })
  .map(({ unit, length }) => unit.repeat(Math.ceil(length / unit.length)).slice(0, length));

const twoDigits = (n: number) => String(n).padStart(2, '0');

export interface TimeParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  fraction: string;
  /** `Z`, or a signed offset in minutes. */
  offsetMinutes: number | 'Z';
}

/** Calendar-valid components, years 0000-9999, any fraction of 0-9 digits, any real-world offset. */
export const validTimeParts: fc.Arbitrary<TimeParts> = fc.record({
  year: fc.oneof(fc.integer({ min: 1970, max: 2100 }), fc.integer({ min: 0, max: 9999 })),
  month: fc.integer({ min: 1, max: 12 }),
  day: fc.integer({ min: 1, max: 28 }),
  hour: fc.integer({ min: 0, max: 23 }),
  minute: fc.integer({ min: 0, max: 59 }),
  second: fc.integer({ min: 0, max: 59 }),
  fraction: fc.string({ unit: fc.constantFrom('0', '1', '5', '9'), maxLength: 9 }),
  offsetMinutes: fc.oneof(fc.constant<'Z'>('Z'), fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 })),
});

export function formatTimeParts(p: TimeParts): string {
  const date = `${String(p.year).padStart(4, '0')}-${twoDigits(p.month)}-${twoDigits(p.day)}`;
  const clock = `${twoDigits(p.hour)}:${twoDigits(p.minute)}:${twoDigits(p.second)}`;
  const fraction = p.fraction === '' ? '' : `.${p.fraction}`;
  let zone = 'Z';
  if (p.offsetMinutes !== 'Z') {
    const abs = Math.abs(p.offsetMinutes);
    zone = `${p.offsetMinutes < 0 ? '-' : '+'}${twoDigits(Math.floor(abs / 60))}:${twoDigits(abs % 60)}`;
  }
  return `${date}T${clock}${fraction}${zone}`;
}

/** The instant of `p` in nanoseconds, computed independently of the code under test. */
export function expectedTimeNs(p: TimeParts): bigint {
  const d = new Date(0);
  // setUTCFullYear, unlike Date.UTC, does not map years 0-99 to 1900-1999.
  d.setUTCFullYear(p.year, p.month - 1, p.day);
  d.setUTCHours(p.hour, p.minute, p.second, 0);
  const offset = p.offsetMinutes === 'Z' ? 0 : p.offsetMinutes;
  const nanos = BigInt((p.fraction || '0').padEnd(9, '0'));
  return (BigInt(d.getTime()) - BigInt(offset) * 60_000n) * 1_000_000n + nanos;
}

/** Falco-era timestamps only (1970-2100 UTC): what every other generator uses for a valid time. */
export const validTime: fc.Arbitrary<string> = fc
  .record({
    year: fc.integer({ min: 1970, max: 2100 }),
    month: fc.integer({ min: 1, max: 12 }),
    day: fc.integer({ min: 1, max: 28 }),
    hour: fc.integer({ min: 0, max: 23 }),
    minute: fc.integer({ min: 0, max: 59 }),
    second: fc.integer({ min: 0, max: 59 }),
    fraction: fc.string({ unit: fc.constantFrom('0', '1', '5', '9'), maxLength: 9 }),
    offsetMinutes: fc.constant<'Z'>('Z'),
  })
  .map(formatTimeParts);

export const validPriority: fc.Arbitrary<string | number> = fc.oneof(
  fc.constantFrom(
    'Emergency',
    'ALERT',
    'critical',
    'Error',
    'WARNING',
    'Notice',
    'informational',
    'info',
    'Debug',
    'warn',
    'err',
    'crit',
    'emerg',
    ' notice ',
  ),
  fc.integer({ min: 0, max: 7 }),
  fc.integer({ min: 0, max: 7 }).map(String),
);

/** An unsafe integer, as the bigint a lossless sender means (evt.time in ns and friends). */
export const unsafeInteger: fc.Arbitrary<bigint> = fc.oneof(
  fc.bigInt({ min: 2n ** 53n, max: 2n ** 64n }),
  fc.bigInt({ min: -(2n ** 64n), max: -(2n ** 53n) }),
  fc.bigInt({ min: 1_000_000_000_000_000_000n, max: 9_999_999_999_999_999_999n }),
);

/** A flat output-field value of every JSON kind Falco writes. */
export const flatFieldValue: fc.Arbitrary<string | number | bigint | boolean | null> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.maxSafeInteger(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  unsafeInteger,
  nastyString,
);

/**
 * Keys from a small alphabet full of JSON syntax, so that keys collide with each other and with
 * text inside values (stressing the exact-integer recovery from raw text).
 */
export const trickyKey: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: fc.constantFrom('a', 'b', '"', '\\', ':', ' ', '1', '.', '\u0000'), maxLength: 4 }),
  fc.constantFrom('evt.time', 'proc.cmdline', 'fd.rport', 'container.id', 'k8s.pod.name'),
  nastyString,
);

export interface DeepSpec {
  depth: number;
  kind: 'array' | 'object' | 'mixed';
  leaf: string;
}

/** How deep and of what: printed by fast-check instead of megabytes of brackets. */
export function deepSpec(minDepth: number, maxDepth: number): fc.Arbitrary<DeepSpec> {
  return fc.record({
    depth: fc.integer({ min: minDepth, max: maxDepth }),
    kind: fc.constantFrom<DeepSpec['kind']>('array', 'object', 'mixed'),
    leaf: fc.constantFrom('1', '"x"', 'null', '9007199254740993', '[]', '{}'),
  });
}

/** The JSON text of a deeply nested value (never built as a JS value). */
export function deepJson({ depth, kind, leaf }: DeepSpec): string {
  if (kind === 'array') return `${'['.repeat(depth)}${leaf}${']'.repeat(depth)}`;
  if (kind === 'object') return `${'{"a":'.repeat(depth)}${leaf}${'}'.repeat(depth)}`;
  const open: string[] = [];
  const close: string[] = [];
  for (let i = 0; i < depth; i++) {
    open.push(i % 2 ? '[' : '{"k":');
    close.push(i % 2 ? ']' : '}');
  }
  return `${open.join('')}${leaf}${close.reverse().join('')}`;
}

/** Any JSON value (including unicode), with big integers written exactly. */
export const anyJsonValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 4, stringUnit: 'binary' }),
  unsafeInteger,
);

/** Each alert field: absent, valid, or any wrong JSON type. */
function field<T>(valid: fc.Arbitrary<T>): fc.Arbitrary<unknown> {
  return fc.oneof({ weight: 6, arbitrary: valid }, { weight: 1, arbitrary: anyJsonValue });
}

const outputFields: fc.Arbitrary<unknown> = field(
  fc.dictionary(trickyKey, fc.oneof({ weight: 5, arbitrary: flatFieldValue }, anyJsonValue), { maxKeys: 8 }),
);

/** Objects shaped like Falco alerts, where any field may be missing or of the wrong type. */
export const alertLike: fc.Arbitrary<Record<string, unknown>> = fc.record(
  {
    rule: field(fc.oneof(nastyString, fc.constant('Terminal shell in container'))),
    priority: field(validPriority),
    time: field(fc.oneof({ weight: 4, arbitrary: validTime }, nastyString)),
    output: field(nastyString),
    source: field(fc.constantFrom('syscall', 'k8s_audit', 'internal', '', 'okta')),
    hostname: field(nastyString),
    tags: field(fc.array(nastyString, { maxLength: 5 })),
    output_fields: outputFields,
    extra: anyJsonValue,
  },
  { requiredKeys: [] },
);

/** JSON text of an alert-like object, big integers exact. */
export const alertLikeText: fc.Arbitrary<string> = alertLike.map((a) => stringifyExact(a));

/** A flat, valid alert: what a real Falco sends, with hostile but well-typed contents. */
export interface ValidAlert {
  rule: string;
  priority: string | number;
  time: string;
  output?: string;
  source?: string;
  hostname?: string;
  tags?: string[];
  output_fields?: Record<string, string | number | bigint | boolean | null>;
}

export const validAlert: fc.Arbitrary<ValidAlert> = fc.record(
  {
    rule: fc.oneof({ weight: 5, arbitrary: nastyString }, hugeString).filter((s) => s !== ''),
    priority: validPriority,
    time: validTime,
    output: fc.oneof({ weight: 5, arbitrary: nastyString }, hugeString),
    source: fc.constantFrom('syscall', 'k8s_audit', 'internal', 'okta'),
    hostname: nastyString,
    tags: fc.array(nastyString, { maxLength: 5 }),
    output_fields: fc.dictionary(trickyKey, flatFieldValue, { maxKeys: 10 }),
  },
  { requiredKeys: ['rule', 'priority', 'time'] },
);
