/** What rules see of the fields Falco wrote, left out, or wrote as lists. */
import { describe, expect, it } from '@jest/globals';
import { parseFalcoJson } from '../../src/events/parse-falco-json.js';
import { alertFromEvent, type EventAlert } from '../../src/pipeline/alert.js';
import { fingerprint } from '../../src/rules/alert-keys.js';
import { compileMatch } from '../../src/rules/compile-match.js';
import type { MatchBlock } from '../../src/rules/rule-schema.js';

function alert(fields: Record<string, unknown>): EventAlert {
  const event = parseFalcoJson(
    JSON.stringify({ time: '2026-01-01T00:00:00.000000000Z', priority: 'Debug', ...fields }),
  );
  return alertFromEvent({ event, enrichment: { outcome: 'not_applicable' } }, 0);
}

function matches(block: MatchBlock, a: EventAlert): boolean {
  const notes = { errors: [], warnings: [] };
  const predicate = compileMatch(block, 'm', notes);
  expect(notes.errors).toEqual([]);
  return predicate(a);
}

// Falco before 0.30 wrote no source, no tags and no hostname.
const OLD_DROP = alert({
  rule: 'Falco internal: syscall event drop',
  output_fields: { n_drops: '6542' },
});
const OLD_DETECTION = alert({ rule: 'Non sudo setuid', output_fields: { 'user.uid': 2 } });
const LISTS = alert({
  rule: 'Create Privileged Pod',
  source: 'k8s_audit',
  tags: ['k8s'],
  output_fields: { 'ka.req.pod.containers.image': ['busybox:1.36', 'nginx:1.27'], privileged: [true, false] },
});

describe('rules on alerts from a Falco that wrote no source', () => {
  it('match the derived kind: internal for Falco’s own events, syscall for the rest', () => {
    expect(matches({ source: 'internal' }, OLD_DROP)).toBe(true);
    expect(matches({ source: 'syscall' }, OLD_DROP)).toBe(false);
    expect(matches({ source: 'syscall' }, OLD_DETECTION)).toBe(true);
    expect(
      matches({ expr: 'event.source == "internal" && event.tags == [] && event.hostname == ""' }, OLD_DROP),
    ).toBe(true);
    expect(fingerprint(OLD_DROP, ['source'])).toBe('internal');
  });
});

describe('rules on list fields', () => {
  it('compare a list as Falco’s text prints it, (a,b), and see it as a list in CEL', () => {
    expect(matches({ fields: { 'ka.req.pod.containers.image': '(busybox:1.36,nginx:1.27)' } }, LISTS)).toBe(
      true,
    );
    expect(matches({ fields: { 'ka.req.pod.containers.image': '*nginx:1.27*' } }, LISTS)).toBe(true);
    expect(matches({ expr: '"nginx:1.27" in event.fields["ka.req.pod.containers.image"]' }, LISTS)).toBe(
      true,
    );
    expect(matches({ expr: 'event.fields["privileged"].exists(p, p)' }, LISTS)).toBe(true);
    expect(fingerprint(LISTS, ['privileged'])).toBe('(true,false)');
  });
});
