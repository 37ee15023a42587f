import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { EventParseError } from '../../src/events/event-parse-error.js';
import { parseEventTime } from '../../src/events/event-time.js';
import type { FalcoEvent } from '../../src/events/falco-event.js';
import { MAX_FIELD_LENGTH, normaliseFalcoAlert, parseFalcoJson } from '../../src/events/parse-falco-json.js';
import { parseNdjson } from '../../src/events/parse-ndjson.js';
import { stringifyExact, toFalcoJson } from '../../src/events/serialize-event.js';
import {
  alertLikeText,
  anyJsonValue,
  deepJson,
  deepSpec,
  expectedTimeNs,
  formatTimeParts,
  hugeString,
  nastyString,
  type TimeParts,
  type ValidAlert,
  validAlert,
  validTimeParts,
} from './arbitraries.js';
import { assertFalcoEvent, decodeOrReject } from './invariants.js';

const decode = (text: string) => decodeOrReject(() => parseFalcoJson(text));

/** An alert's JSON with `fieldsText` spliced in raw as the value of output_fields.x. */
const withRawField = (fieldsText: string) =>
  `{"rule":"R","priority":"Notice","time":"2026-01-01T00:00:00Z","output_fields":{"x":${fieldsText},"y":1}}`;

function parseValid(alert: ValidAlert): FalcoEvent {
  const event = parseFalcoJson(stringifyExact(alert));
  assertFalcoEvent(event);
  return event;
}

describe('fuzz: parseFalcoJson never throws anything but EventParseError', () => {
  it('arbitrary strings (binary, unicode, JSON-ish fragments)', () => {
    const jsonish = fc
      .array(
        fc.constantFrom('{', '}', '[', ']', '"', ':', ',', 'rule', 'priority', '1e999', '-', 'null', ' '),
        {
          maxLength: 30,
        },
      )
      .map((parts) => parts.join(''));
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), nastyString, jsonish), (text) => {
        decode(text);
      }),
      { numRuns: 400 },
    );
  });

  it('arbitrary JSON values', () => {
    fc.assert(
      fc.property(anyJsonValue, (value) => {
        decode(stringifyExact(value));
      }),
      { numRuns: 300 },
    );
  });

  it('alert-like objects with any field missing or of the wrong type', () => {
    fc.assert(
      fc.property(alertLikeText, (text) => {
        decode(text);
      }),
      { numRuns: 500 },
    );
  });

  it('deep nesting (1000-2500 levels) in output_fields becomes a JSON string, cut to the bound', () => {
    fc.assert(
      fc.property(deepSpec(1000, 2500), (spec) => {
        const event = decode(withRawField(deepJson(spec)));
        expect(event).toBeDefined();
        expect(typeof event?.outputFields?.x).toBe('string');
        expect(event?.outputFields?.y).toBe(1);
      }),
      { numRuns: 30 },
    );
  });

  it('deep nesting (up to 100 000 levels) anywhere but inside output_fields is rejected', () => {
    fc.assert(
      fc.property(
        deepSpec(1000, 100_000),
        fc.constantFrom('$', 'rule', 'priority', 'time', 'output', 'tags', 'extra'),
        (spec, where) => {
          const nested = deepJson(spec);
          const text =
            where === '$'
              ? nested
              : `{"rule":"R","priority":"Notice","time":"2026-01-01T00:00:00Z",${JSON.stringify(where)}:${nested}}`;
          decode(text);
        },
      ),
      { numRuns: 30 },
    );
  });

  it('huge strings (to 1 MiB) in every string field are cut to MAX_FIELD_LENGTH plus the marker', () => {
    fc.assert(
      fc.property(
        hugeString,
        fc.constantFrom('rule', 'output', 'hostname', 'source', 'tag', 'field', 'key'),
        (big, where) => {
          const alert: Record<string, unknown> = {
            rule: 'R',
            priority: 'Notice',
            time: '2026-01-01T00:00:00Z',
          };
          if (where === 'tag') alert.tags = [big];
          else if (where === 'field') alert.output_fields = { f: big };
          else if (where === 'key') alert.output_fields = { [big]: 1 };
          else alert[where] = big;
          const event = decode(JSON.stringify(alert));
          if (!event) throw new Error('a well-typed alert was rejected');
          const kept =
            where === 'tag'
              ? event.tags?.[0]
              : where === 'field'
                ? event.outputFields?.f
                : where === 'key'
                  ? undefined
                  : event[where as 'rule' | 'output' | 'hostname' | 'source'];
          if (kept === undefined) return;
          expect(typeof kept).toBe('string');
          const text = String(kept);
          if (big.length <= MAX_FIELD_LENGTH) expect(text).toBe(big);
          else expect(text).toBe(`${big.slice(0, MAX_FIELD_LENGTH)}…[truncated]`);
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('fuzz: well-typed alerts are kept exactly', () => {
  it('every output field keeps its value; integers beyond 2^53 stay exact bigints', () => {
    fc.assert(
      fc.property(validAlert, (alert) => {
        const event = parseValid(alert);
        for (const [key, value] of Object.entries(alert.output_fields ?? {})) {
          const got = event.outputFields?.[key];
          if (typeof value === 'bigint') expect(got).toBe(value);
          else if (typeof value === 'string')
            expect(got).toBe(
              value.length > MAX_FIELD_LENGTH ? `${value.slice(0, MAX_FIELD_LENGTH)}…[truncated]` : value,
            );
          else if (typeof value === 'number' && !Number.isSafeInteger(value) && Number.isInteger(value))
            // An unsafe integer becomes a bigint of the digits as written (JSON.stringify writes the
            // shortest form: 40457251517422408 as "40457251517422410"), or of the double for 1e+21 and up.
            expect(got).toBe(
              /^-?\d+$/.test(JSON.stringify(value)) ? BigInt(JSON.stringify(value)) : BigInt(value),
            );
          else if (typeof value === 'number')
            expect(got === value).toBe(true); // -0 is written as 0
          else expect(got).toBe(value);
        }
        expect(Object.keys(event.outputFields ?? {}).sort()).toEqual(
          Object.keys(alert.output_fields ?? {}).sort(),
        );
      }),
      { numRuns: 300 },
    );
  });

  it('parse(toFalcoJson(event)) is the same event, big integers digit for digit', () => {
    fc.assert(
      fc.property(validAlert, (alert) => {
        const event = parseValid(alert);
        const again = parseFalcoJson(toFalcoJson(event));
        expect(again).toEqual(event);
        for (const [key, value] of Object.entries(event.outputFields ?? {}))
          if (typeof value === 'bigint') expect(again.outputFields?.[key]).toBe(value);
      }),
      { numRuns: 300 },
    );
  });

  it('in a JSON array of alerts (an HTTP batch), each alert reads its big integers from its own element', () => {
    fc.assert(
      fc.property(fc.uniqueArray(validAlert, { selector: (a) => a.time, maxLength: 5 }), (alerts) => {
        const text = stringifyExact(alerts);
        (JSON.parse(text) as unknown[]).forEach((item, i) => {
          expect(normaliseFalcoAlert(item, text)).toEqual(parseFalcoJson(stringifyExact(alerts[i])));
        });
      }),
      { numRuns: 100 },
    );
  });

  /** Two integers beyond 2^53 that JSON.parse reads as the same double. */
  const roundingTwins = fc
    .record({ big: fc.bigInt({ min: 2n ** 60n, max: 2n ** 62n }), delta: fc.constantFrom(1n, 2n, -1n, -2n) })
    .filter(({ big, delta }) => Number(big) === Number(big + delta))
    .map(({ big, delta }) => ({ big, twin: big + delta }));

  it('alerts of one batch whose evt.time round to the same double each keep their own', () => {
    fc.assert(
      fc.property(roundingTwins, ({ big, twin }) => {
        const alert = (n: bigint, second: number) =>
          `{"rule":"R","priority":"Notice","time":"2026-01-01T00:00:0${second}Z","output_fields":{"evt.time":${n}}}`;
        const text = `[${alert(big, 1)},${alert(twin, 2)}]`;
        const [first, second] = JSON.parse(text) as unknown[];
        expect(normaliseFalcoAlert(first, text).outputFields?.['evt.time']).toBe(big);
        expect(normaliseFalcoAlert(second, text).outputFields?.['evt.time']).toBe(twin);
      }),
      { numRuns: 50 },
    );
  });

  it('a key written with escapes is read, not a plainly written copy of it nested elsewhere', () => {
    const spelling = fc.constantFrom(
      ['evt.time', '\\u0065vt.time'],
      ['evt.time', 'evt\\u002etime'],
      ['fd.name/x', 'fd.name\\/x'],
    );
    fc.assert(
      fc.property(roundingTwins, spelling, ({ big, twin }, [key, written]) => {
        const text = `{"rule":"R","priority":"Notice","time":"2026-01-01T00:00:00Z","output_fields":{"n":{${JSON.stringify(key)}:${twin}},"${written}":${big}}}`;
        expect(parseFalcoJson(text).outputFields?.[key]).toBe(big);
      }),
      { numRuns: 30 },
    );
  });

  it('the time fields agree with an independent calendar computation (years 0100-9999)', () => {
    fc.assert(
      // Years 0000-0099 are a KNOWN BUG below.
      fc.property(
        validTimeParts.filter((p) => p.year >= 100),
        (parts: TimeParts) => {
          expect(parseEventTime(formatTimeParts(parts))).toBe(expectedTimeNs(parts));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('an hour of 24 or more is rejected', () => {
    fc.assert(
      fc.property(fc.integer({ min: 24, max: 99 }), fc.integer({ min: 1, max: 28 }), (h, d) => {
        const pad = (n: number) => String(n).padStart(2, '0');
        expect(() => parseEventTime(`2026-03-${pad(d)}T${h}:00:00Z`)).toThrow(EventParseError);
      }),
      { numRuns: 100 },
    );
  });
});

describe('fuzz: parseNdjson', () => {
  type Line =
    | { kind: 'valid'; text: string }
    | { kind: 'blank'; text: string }
    | { kind: 'junk'; text: string };
  const line: fc.Arbitrary<Line> = fc.oneof(
    { weight: 3, arbitrary: validAlert.map((a) => ({ kind: 'valid' as const, text: stringifyExact(a) })) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('', ' ', '\r', '\t \r').map((text) => ({ kind: 'blank' as const, text })),
    },
    {
      weight: 3,
      arbitrary: fc
        .oneof(alertLikeText, nastyString, deepSpec(1, 3000).map(deepJson))
        .filter((t) => !t.includes('\n'))
        .map((text) => ({ kind: 'junk' as const, text })),
    },
  );

  it('every non-blank line is an event or a numbered rejection; valid lines are never lost', () => {
    fc.assert(
      fc.property(fc.array(line, { maxLength: 25 }), fc.constantFrom('\n', '\r\n'), (lines, eol) => {
        const { events, rejected } = parseNdjson(lines.map((l) => l.text).join(eol));
        const nonBlank = lines.filter((l) => l.text.trim() !== '').length;
        expect(events.length + rejected.length).toBe(nonBlank);
        for (const event of events) assertFalcoEvent(event);
        let previous = 0;
        for (const r of rejected) {
          expect(r.line).toBeGreaterThan(previous);
          previous = r.line;
          const source = lines[r.line - 1];
          expect(source?.kind).toBe('junk');
          expect(typeof r.error).toBe('string');
          expect(r.error.length).toBeGreaterThan(0);
          // A rejection names the offending field, never an internal failure.
          expect(r.error).not.toMatch(/^(RangeError|TypeError|SyntaxError|Error):/);
        }
        const validCount = lines.filter((l) => l.kind === 'valid').length;
        expect(events.length).toBeGreaterThanOrEqual(validCount);
      }),
      { numRuns: 150 },
    );
  });

  it('huge NDJSON documents (many lines, long lines) do not throw', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20_000 }),
        fc.constantFrom('{}', 'x', '{"rule":"R","priority":"Notice","time":"2026-01-01T00:00:00Z"}'),
        (count, text) => {
          const { events, rejected, rejectedCount } = parseNdjson(`${text}\n`.repeat(count));
          // Every line is accounted for; the details listed stay bounded whatever the body's size.
          expect(events.length + rejectedCount).toBe(count);
          expect(rejected.length).toBeLessThanOrEqual(21);
        },
      ),
      { numRuns: 10 },
    );
  });
});

/**
 * Bugs these fuzzers found, each pinned with a generator that always hits it (see `knownBug`).
 */
describe('fuzz: KNOWN BUGS in the JSON decoder (found by fuzzing: knownBug = still open, it = fixed and kept as a regression test)', () => {
  it('output_fields nested 10 000+ deep throws RangeError instead of EventParseError', () => {
    fc.assert(
      fc.property(deepSpec(10_000, 100_000), (spec) => {
        decode(withRawField(deepJson(spec)));
      }),
      { numRuns: 5 },
    );
  });

  it('years 0000-0099 are read as 1900-1999 (Date.UTC maps two-digit years)', () => {
    fc.assert(
      fc.property(
        validTimeParts.filter((p) => p.year < 100),
        (parts) => {
          expect(parseEventTime(formatTimeParts(parts))).toBe(expectedTimeNs(parts));
        },
      ),
      { numRuns: 50 },
    );
  });

  const pad = (n: number) => String(n).padStart(2, '0');

  it('minutes 60-99 are accepted and roll over into the next hour', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 22 }), fc.integer({ min: 60, max: 99 }), (h, m) => {
        expect(() => parseEventTime(`2026-03-10T${pad(h)}:${m}:00Z`)).toThrow(EventParseError);
      }),
      { numRuns: 50 },
    );
  });

  it('seconds 61-99 are accepted and roll over into the next minute', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 22 }), fc.integer({ min: 61, max: 99 }), (h, sec) => {
        expect(() => parseEventTime(`2026-03-10T${pad(h)}:00:${sec}Z`)).toThrow(EventParseError);
      }),
      { numRuns: 50 },
    );
  });

  it('zone offsets of 24h or more, or with minutes 60-99, are accepted', () => {
    const zone = fc.oneof(
      fc.integer({ min: 24, max: 99 }).map((h) => `+${h}:00`),
      fc.integer({ min: 60, max: 99 }).map((m) => `-01:${m}`),
    );
    fc.assert(
      fc.property(zone, (z) => {
        expect(() => parseEventTime(`2026-03-10T12:00:00${z}`)).toThrow(EventParseError);
      }),
      { numRuns: 50 },
    );
  });

  it('an output field named __proto__ is dropped (and null makes outputFields prototype-less)', () => {
    const value = fc.oneof(fc.constant(null), fc.boolean(), fc.integer(), nastyString, fc.constant({ a: 1 }));
    fc.assert(
      fc.property(value, (v) => {
        const text = `{"rule":"R","priority":"Notice","time":"2026-01-01T00:00:00Z","output_fields":{"__proto__":${JSON.stringify(v)}}}`;
        const event = parseFalcoJson(text);
        expect(Object.hasOwn(event.outputFields ?? {}, '__proto__')).toBe(true);
        expect(Object.getPrototypeOf(event.outputFields)).toBe(Object.prototype);
      }),
      { numRuns: 20 },
    );
  });

  it('exact-integer recovery reads a decoy occurrence of the key elsewhere in the text', () => {
    // A decoy that rounds to the same double passes the recovery's guard and wins.
    const pair = fc.bigInt({ min: 2n ** 60n, max: 2n ** 62n }).chain((big) =>
      fc
        .constantFrom(1n, -1n, 2n, -2n)
        .map((delta) => ({ big, decoy: big + delta }))
        .filter(({ big: b, decoy }) => Number(b) === Number(decoy)),
    );
    const key = fc.string({ unit: fc.constantFrom('a', 'b', '.'), minLength: 1, maxLength: 5 });
    fc.assert(
      fc.property(
        pair,
        key,
        fc.constantFrom('nested object', 'key ending in the name', 'string then key ":"'),
        (p, k, how) => {
          const big = p.big.toString();
          const decoy = p.decoy.toString();
          let text: string;
          let name = k;
          if (how === 'nested object')
            text = `{"n":{${JSON.stringify(k)}:${decoy}},${JSON.stringify(k)}:${big}}`;
          else if (how === 'key ending in the name')
            text = `{${JSON.stringify(`x"${k}`)}:${decoy},${JSON.stringify(k)}:${big}}`;
          else {
            name = ':';
            text = `{"s":":${decoy}",":":${big}}`;
          }
          const event = parseFalcoJson(
            `{"rule":"R","priority":"Notice","time":"2026-01-01T00:00:00Z","output_fields":${text}}`,
          );
          expect(event.outputFields?.[name]).toBe(p.big);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('a number beyond the double range (1e400) becomes Infinity, which serializes as null', () => {
    const literal = fc
      .record({
        sign: fc.constantFrom('', '-'),
        mantissa: fc.integer({ min: 1, max: 9 }),
        exp: fc.integer({ min: 309, max: 9999 }),
      })
      .map(({ sign, mantissa, exp }) => `${sign}${mantissa}e${exp}`);
    fc.assert(
      fc.property(literal, (n) => {
        const event = decode(withRawField(n));
        if (!event) return; // a rejection would be fine
        expect(parseFalcoJson(toFalcoJson(event))).toEqual(event);
      }),
      { numRuns: 20 },
    );
  });
});
