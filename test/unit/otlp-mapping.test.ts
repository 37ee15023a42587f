import { describe, expect, it } from '@jest/globals';
import { parseFalcoJson } from '../../src/events/parse-falco-json.js';
import { alertFromEvent, type EventAlert } from '../../src/pipeline/alert.js';
import { alertToRecord } from '../../src/sinks/destinations/otlp-mapping.js';
import { CURRENT_ALERT } from '../fixtures/falco-alerts.js';
import { podContext } from '../fixtures/pod-context.js';
import { shareHiddenClass, WARM_UP_OBJECTS } from '../helpers/hidden-class.js';

function alert(n: number): EventAlert {
  return alertFromEvent(
    {
      event: parseFalcoJson(CURRENT_ALERT),
      enrichment: { outcome: 'container_id', pod: podContext() },
    },
    1_767_258_903_000 + n,
  );
}

describe('OTLP log records', () => {
  it('are built in one hidden class per shape, record and attributes alike', () => {
    // Every alert the OTLP sink takes becomes a record: a spread then given more properties would
    // be a class of its own per record in V8, and one more per attribute added after it.
    const records = Array.from({ length: WARM_UP_OBJECTS }, (_, n) => alertToRecord(alert(n)));
    expect(new Set(records.map((r) => r.observedNs)).size).toBe(WARM_UP_OBJECTS);
    expect(shareHiddenClass(records)).toBe(true);
    expect(shareHiddenClass(records.map((r) => r.attributes))).toBe(true);
    expect(Object.keys(records[0] ?? {})).toEqual([
      'resource',
      'timeNs',
      'observedNs',
      'severityNumber',
      'severityText',
      'body',
      'attributes',
    ]);
  });
});
