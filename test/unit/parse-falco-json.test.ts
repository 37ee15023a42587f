import { describe, expect, it } from '@jest/globals';
import { EventParseError } from '../../src/events/event-parse-error.js';
import { parseEventTime } from '../../src/events/event-time.js';
import { jsonArrayElements } from '../../src/events/exact-integers.js';
import {
  containerId,
  eventTimeMs,
  isContainerEvent,
  isHostEvent,
  isInternalEvent,
  namespaceName,
  podName,
  sourceKind,
} from '../../src/events/falco-event.js';
import { MAX_FIELD_LENGTH, normaliseFalcoAlert, parseFalcoJson } from '../../src/events/parse-falco-json.js';
import { parseNdjson } from '../../src/events/parse-ndjson.js';
import { Priority } from '../../src/events/priority.js';
import { toFalcoJson } from '../../src/events/serialize-event.js';
import {
  AUDIT_ALERT_WITHOUT_OUTPUT,
  CURRENT_ALERT,
  HOST_ALERT,
  INTERNAL_DROP_ALERT,
  ISO_TIME_ALERT,
  PRE_030_ALERT,
  PRE_033_ALERT,
} from '../fixtures/falco-alerts.js';

function parseError(text: string): EventParseError {
  try {
    parseFalcoJson(text);
  } catch (err) {
    if (err instanceof EventParseError) return err;
    throw err;
  }
  throw new Error(`expected ${text} to be rejected`);
}

const minimal = (patch: Record<string, unknown>) =>
  JSON.stringify({ rule: 'R', priority: 'Notice', time: '2026-01-01T00:00:00.000000000Z', ...patch });

describe('parseFalcoJson on every documented shape', () => {
  it('reads a current alert with its types intact and the 19-digit evt.time exact', () => {
    const e = parseFalcoJson(CURRENT_ALERT);
    expect(e.rule).toBe('Contact K8S API Server From Container');
    expect(e.priority).toBe(Priority.Notice);
    expect(e.source).toBe('syscall');
    expect(e.hostname).toBe('worker-2');
    expect(e.tags).toEqual(['T1565', 'container', 'k8s', 'maturity_stable', 'mitre_discovery', 'network']);
    expect(e.outputFields?.['evt.time']).toBe(1767258902123456789n);
    expect(e.outputFields?.['fd.rport']).toBe(443);
    expect(e.outputFields?.['user.loginuid']).toBe(-1);
    expect(e.timeNs).toBe(1767258902123456789n);
    expect(eventTimeMs(e)).toBe(1767258902123);
    expect(containerId(e)).toBe('4b1d2c3e5f60');
    expect(namespaceName(e)).toBe('tools');
    expect(podName(e)).toBe('toolbox-6d8f9c7b5-x2x7q');
    expect(isContainerEvent(e)).toBe(true);
    expect(isHostEvent(e)).toBe(false);
  });

  it('writes the exact evt.time back out digit for digit', () => {
    expect(toFalcoJson(parseFalcoJson(CURRENT_ALERT))).toContain('"evt.time":1767258902123456789');
  });

  it('accepts alerts from Falco before 0.30 (no source, tags, hostname; null fields), inventing none', () => {
    const e = parseFalcoJson(PRE_030_ALERT);
    expect(e.source).toBeUndefined();
    expect(sourceKind(e)).toBe('syscall');
    expect(e.tags).toBeUndefined();
    expect(e.hostname).toBeUndefined();
    expect(e.outputFields?.['proc.pname']).toBeNull();
    expect(e.outputFields?.['evt.time']).toBe(1598896926470112310n);
    expect(namespaceName(e)).toBeUndefined();
  });

  it('accepts alerts from Falco 0.30-0.32 (no hostname)', () => {
    const e = parseFalcoJson(PRE_033_ALERT);
    expect(e.tags).toEqual(['filesystem', 'mitre_credential_access']);
    expect(e.hostname).toBeUndefined();
  });

  it('recognises internal events, which carry no tags', () => {
    const e = parseFalcoJson(INTERNAL_DROP_ALERT);
    expect(isInternalEvent(e)).toBe(true);
    expect(e.priority).toBe(Priority.Debug);
    expect(e.outputFields?.n_drops).toBe('1342');
  });

  it('recognises host events and treats <NA>/null pod fields as absent', () => {
    const e = parseFalcoJson(HOST_ALERT);
    expect(isHostEvent(e)).toBe(true);
    expect(isContainerEvent(e)).toBe(false);
    expect(podName(e)).toBeUndefined();
    expect(e.timeNs).toBe(1767265200000000001n);
  });

  it('accepts alerts without the output property and from other sources', () => {
    const e = parseFalcoJson(AUDIT_ALERT_WITHOUT_OUTPUT);
    expect(e.output).toBeUndefined();
    expect(e.source).toBe('k8s_audit');
    expect(containerId(e)).toBeUndefined();
  });

  it('keeps a nested field value as JSON text instead of losing the alert', () => {
    const e = parseFalcoJson(ISO_TIME_ALERT);
    expect(e.priority).toBe(Priority.Critical);
    expect(e.outputFields?.['fd.rport']).toBe('{"port":443}');
    expect(e.outputFields?.['evt.time.iso8601']).toBe('2026-01-01T00:00:00.000000000Z');
  });

  it('reads priorities in any case and in Falco numeric encoding', () => {
    expect(parseFalcoJson(minimal({ priority: 'critical' })).priority).toBe(Priority.Critical);
    expect(parseFalcoJson(minimal({ priority: 'CRITICAL' })).priority).toBe(Priority.Critical);
    expect(parseFalcoJson(minimal({ priority: 'Informational' })).priority).toBe(Priority.Informational);
    expect(parseFalcoJson(minimal({ priority: 'INFO' })).priority).toBe(Priority.Informational);
    expect(parseFalcoJson(minimal({ priority: 0 })).priority).toBe(Priority.Emergency);
    expect(parseFalcoJson(minimal({ priority: '7' })).priority).toBe(Priority.Debug);
  });

  it('keeps timestamps with fewer digits or an offset exact', () => {
    expect(parseFalcoJson(minimal({ time: '2026-01-01T01:00:00.5+01:00' })).timeNs).toBe(
      1767225600500000000n,
    );
    expect(parseFalcoJson(minimal({ time: '2026-01-01T00:00:00Z' })).timeNs).toBe(1767225600000000000n);
  });

  it('cuts oversized untrusted strings with a visible marker', () => {
    const e = parseFalcoJson(
      minimal({ output_fields: { 'proc.cmdline': 'A'.repeat(MAX_FIELD_LENGTH + 100) } }),
    );
    const cmd = e.outputFields?.['proc.cmdline'] as string;
    expect(cmd.length).toBeLessThan(MAX_FIELD_LENGTH + 20);
    expect(cmd.endsWith('…[truncated]')).toBe(true);
  });

  it('cuts between characters: never half an emoji sequence or a letter without its accents', () => {
    const family = '👩‍👩‍👧‍👦';
    const accented = 'e\u0301';
    for (const tail of [family, accented]) {
      for (let shift = 0; shift < 8; shift++) {
        const value = 'A'.repeat(MAX_FIELD_LENGTH - shift) + tail.repeat(4);
        const e = parseFalcoJson(minimal({ output_fields: { 'proc.cmdline': value } }));
        const kept = String(e.outputFields?.['proc.cmdline']).replace('…[truncated]', '');
        // What is kept is a prefix of the original made only of whole characters of it.
        expect(value.startsWith(kept)).toBe(true);
        const rest = kept.slice(MAX_FIELD_LENGTH - shift);
        expect(rest.length % tail.length).toBe(0);
      }
    }
  });

  it('does not mistake a key quoted inside a string value for the field', () => {
    const raw =
      '{"rule":"R","priority":"Notice","time":"2026-01-01T00:00:00Z","output_fields":{"proc.cmdline":"echo \\"evt.time\\":1","evt.time":1767258902123456789}}';
    expect(parseFalcoJson(raw).outputFields?.['evt.time']).toBe(1767258902123456789n);
  });

  it('reads the field itself, not a key that ends the same way or the same key in a nested object', () => {
    const raw =
      '{"rule":"R","priority":"Notice","time":"2026-01-01T00:00:00Z","output_fields":{"k8s.meta":{"evt.time":1767258902000000001},' +
      '"my.evt.time":1767258902999999999,"evt.time":1767258902123456789,"evt.time.s":1767258902888888888}}';
    const fields = parseFalcoJson(raw).outputFields;
    expect(fields?.['evt.time']).toBe(1767258902123456789n);
    expect(fields?.['my.evt.time']).toBe(1767258902999999999n);
    expect(fields?.['evt.time.s']).toBe(1767258902888888888n);
  });
});

describe('parseFalcoJson rejects what is not an alert, saying what and where', () => {
  it.each([
    ['not json', '$', /malformed JSON/],
    ['[1,2]', '$', /expected a JSON object/],
    [minimal({ rule: '' }), 'rule', /non-empty string/],
    [minimal({ rule: 5 }), 'rule', /number 5/],
    [minimal({ priority: 'Loud' }), 'priority', /Emergency.*"Loud"/],
    [minimal({ priority: 9 }), 'priority', /number 9/],
    [minimal({ time: 'yesterday' }), 'time', /not an RFC 3339 timestamp/],
    [minimal({ time: '2026-02-30T00:00:00Z' }), 'time', /does not exist/],
    [minimal({ time: undefined }), 'time', /expected an RFC 3339 string/],
    [minimal({ tags: 'a,b' }), 'tags', /array of strings/],
    [minimal({ tags: ['ok', 3] }), 'tags[1]', /expected a string/],
    [minimal({ output_fields: [1] }), 'output_fields', /object of field name/],
    [minimal({ hostname: 7 }), 'hostname', /expected a string/],
  ])('%s → %s', (text, path, reason) => {
    const err = parseError(text);
    expect(err.path).toBe(path);
    expect(err.message).toMatch(reason);
  });
});

describe('parseNdjson', () => {
  it('parses good lines and reports bad ones by line number', () => {
    const result = parseNdjson(`${CURRENT_ALERT}\n\nnot json\r\n${PRE_033_ALERT}\n`);
    expect(result.events.map((e) => e.rule)).toEqual([
      'Contact K8S API Server From Container',
      'Read sensitive file untrusted',
    ]);
    expect(result.rejected).toEqual([{ line: 3, error: expect.stringMatching(/malformed JSON/) }]);
  });
});

describe('parseEventTime in a storm (timestamps within one second take a shortcut)', () => {
  const second = '2026-03-04T05:06:07';
  const secondNs = BigInt(Date.UTC(2026, 2, 4, 5, 6, 7)) * 1_000_000n;

  it('reads each fraction exactly while the second repeats, and a new second afresh', () => {
    expect(parseEventTime(`${second}.000000001Z`)).toBe(secondNs + 1n);
    expect(parseEventTime(`${second}.999999999Z`)).toBe(secondNs + 999_999_999n);
    expect(parseEventTime(`${second}.123456789Z`)).toBe(secondNs + 123_456_789n);
    expect(parseEventTime('2026-03-04T05:06:08.000000000Z')).toBe(secondNs + 1_000_000_000n);
    expect(parseEventTime(`${second}.5Z`)).toBe(secondNs + 500_000_000n);
    expect(parseEventTime(`${second}.000000002+01:00`)).toBe(secondNs - 3_600_000_000_000n + 2n);
  });

  it('still rejects a malformed fraction or zone in the second it has just seen', () => {
    expect(parseEventTime(`${second}.000000000Z`)).toBe(secondNs);
    expect(() => parseEventTime(`${second}.00000000xZ`)).toThrow(EventParseError);
    expect(() => parseEventTime(`${second}.000000000X`)).toThrow(EventParseError);
    expect(parseEventTime(`${second}.000000003z`)).toBe(secondNs + 3n);
  });
});

describe('jsonArrayElements (a batch is parsed element by element)', () => {
  it('splits an array into its elements’ texts, whatever their strings and nesting hold', () => {
    expect(jsonArrayElements('[]')).toEqual([]);
    expect(jsonArrayElements(' [ ] \n')).toEqual([]);
    const tricky = '{"a":"],[\\"}{","b":[1,{"c":2}]}';
    expect(jsonArrayElements(`[ ${tricky} ,\n{"d":null}, 12, "x]" ]`)).toEqual([
      tricky,
      '{"d":null}',
      '12',
      '"x]"',
    ]);
  });

  it('gives up on anything that is not one whole array', () => {
    for (const text of ['{"a":1}', '[{"a":1},', '[{"a":1}} ]', '[1 2]', '[1] [2]', '', '[{"a":"open]'])
      expect(jsonArrayElements(text)).toBeUndefined();
  });
});

describe('exact integers in an alert with many of them', () => {
  it('keeps every one exact, past the first few found by a search and the rest by one walk', () => {
    const values = Array.from({ length: 12 }, (_, i) => 9_007_199_254_740_993n + BigInt(i * 2));
    const fields = values.map((v, i) => `"f${i}":${v}`).join(',');
    const event = parseFalcoJson(
      `{"rule":"r","priority":"Warning","time":"2026-01-01T00:00:00Z","output_fields":{"note":"\\"f3\\":1",${fields}}}`,
    );
    expect(values.map((_, i) => event.outputFields?.[`f${i}`])).toEqual(values);
  });
});

describe('list fields (libsinsp writes them as JSON arrays)', () => {
  const withFields = (fields: string) =>
    `{"rule":"r","priority":"Warning","time":"2026-01-01T00:00:00Z","output_fields":{${fields}}}`;

  it('keeps a list of scalars as a list of the same values and types, written back as the same array', () => {
    const text = withFields(
      '"k8s.pod.labels":["app:web","tier:db"],"flags":[true,false,null],"ports":[80,-1,0.5],"none":[]',
    );
    const event = parseFalcoJson(text);
    expect(event.outputFields).toEqual({
      'k8s.pod.labels': ['app:web', 'tier:db'],
      flags: [true, false, null],
      ports: [80, -1, 0.5],
      none: [],
    });
    expect(toFalcoJson(event)).toContain(
      '"output_fields":{"k8s.pod.labels":["app:web","tier:db"],"flags":[true,false,null],"ports":[80,-1,0.5],"none":[]}',
    );
  });

  it('keeps integers beyond 2^53 inside a list exact, digit for digit', () => {
    const text = withFields('"ts":[1767258902123456789,1,-9007199254740993],"evt.time":1767258902123456789');
    const event = parseFalcoJson(text);
    expect(event.outputFields?.ts).toEqual([1767258902123456789n, 1, -9007199254740993n]);
    expect(toFalcoJson(event)).toContain('"ts":[1767258902123456789,1,-9007199254740993]');
    // The same from a JSON array of alerts: each alert's list is read from its own text, told
    // apart from a twin of the same time by the values JSON.parse did keep.
    const twin = withFields('"ts":[1767258902123456788,2,-9007199254740993],"evt.time":1767258902123456789');
    const batch = `[${twin},${text}]`;
    const [first, second] = JSON.parse(batch) as unknown[];
    expect(normaliseFalcoAlert(first, batch).outputFields?.ts).toEqual([
      1767258902123456788n,
      2,
      -9007199254740993n,
    ]);
    expect(normaliseFalcoAlert(second, batch).outputFields?.ts).toEqual([
      1767258902123456789n,
      1,
      -9007199254740993n,
    ]);
  });

  it('cuts an oversized string in a list like any other, and carries a list of objects as JSON text', () => {
    const long = 'A'.repeat(MAX_FIELD_LENGTH + 5);
    const event = parseFalcoJson(withFields(`"l":["${long}","b"],"nested":[{"a":1}],"deep":[[1]]`));
    expect(event.outputFields?.l).toEqual([`${long.slice(0, MAX_FIELD_LENGTH)}…[truncated]`, 'b']);
    expect(event.outputFields?.nested).toBe('[{"a":1}]');
    expect(event.outputFields?.deep).toBe('[[1]]');
  });
});

describe('what Falco left out stays out', () => {
  it('writes back only the keys the alert had, in Falco’s order, empty ones included', () => {
    const bare =
      '{"priority":"Debug","rule":"Falco internal: syscall event drop","time":"2019-01-01T00:00:00.000000000Z"}';
    const event = parseFalcoJson(bare);
    expect(toFalcoJson(event)).toBe(bare);
    expect(sourceKind(event)).toBe('internal');
    const empty =
      '{"hostname":"","message":"","output":"","output_fields":{},"priority":"Notice","rule":"r","source":"","tags":[],"time":"2026-01-01T00:00:00.000000000Z"}';
    expect(toFalcoJson(parseFalcoJson(empty))).toBe(empty);
    expect(sourceKind(parseFalcoJson(empty))).toBe('syscall');
  });

  it('keeps json_include_message_property’s message', () => {
    const event = parseFalcoJson(
      minimal({ message: 'A shell was spawned', output: '00:00:00.000000000: Notice A shell was spawned' }),
    );
    expect(event.message).toBe('A shell was spawned');
    expect(toFalcoJson(event)).toContain('"message":"A shell was spawned","output":');
  });
});
