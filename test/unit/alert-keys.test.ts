/** Dedup fingerprints and correlation group keys: one string per distinct set of parts, built once. */
import { createHash } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { parseFalcoJson } from '../../src/events/parse-falco-json.js';
import { alertFromEvent, type EventAlert } from '../../src/pipeline/alert.js';
import { fingerprint, groupKeys, KeyJoiner } from '../../src/rules/alert-keys.js';

function alert(rule: string, fields: Record<string, unknown>): EventAlert {
  const event = parseFalcoJson(
    JSON.stringify({
      time: '2026-01-01T00:00:00.000000000Z',
      priority: 'Warning',
      rule,
      output_fields: fields,
    }),
  );
  return alertFromEvent({ event, enrichment: { outcome: 'not_applicable' } }, 0);
}

const SEP = '\u001f';

describe('KeyJoiner', () => {
  it('joins the parts in the order named, for every combination of parts seen before or not', () => {
    const joiner = new KeyJoiner(['rule', 'proc.name', 'fd.name'], '∅');
    const expected: [EventAlert, string][] = [];
    for (const rule of ['a', 'b'])
      for (const proc of ['sh', 'bash'])
        for (const fd of ['/etc/shadow', '/etc/passwd'])
          expected.push([alert(rule, { 'proc.name': proc, 'fd.name': fd }), [rule, proc, fd].join(SEP)]);
    // Twice: the first pass builds the keys, the second finds them again.
    for (let pass = 0; pass < 2; pass++) for (const [a, key] of expected) expect(joiner.key(a)).toBe(key);
  });

  it('stands `missing` for a part the alert lacks, or gives no key when there is none', () => {
    const withoutFd = alert('a', { 'proc.name': 'sh' });
    const joiner = new KeyJoiner(['rule', 'fd.name', 'proc.name'], '∅');
    const groups = groupKeys(['rule', 'fd.name']);
    // Twice: once to build the key, once to find it.
    for (let pass = 0; pass < 2; pass++) {
      expect(joiner.key(withoutFd)).toBe(`a${SEP}∅${SEP}sh`);
      expect(groups.key(withoutFd)).toBeUndefined();
      expect(groups.key(alert('a', { 'fd.name': '/x' }))).toBe(`a${SEP}/x`);
    }
  });

  it('hashes a long key as before', () => {
    const cmdline = 'x'.repeat(300);
    const joined = `r${SEP}${cmdline}`;
    const hashed = `sha1:${createHash('sha1').update(joined).digest('base64')}`;
    expect(fingerprint(alert('r', { 'proc.cmdline': cmdline }), ['rule', 'proc.cmdline'])).toBe(hashed);
  });

  it('keeps answering right past the number of keys it remembers', () => {
    const joiner = new KeyJoiner(['rule', 'proc.pid'], '∅', 3);
    for (let round = 0; round < 3; round++)
      for (let pid = 0; pid < 10; pid++)
        expect(joiner.key(alert(`r${pid % 2}`, { 'proc.pid': pid }))).toBe(`r${pid % 2}${SEP}${pid}`);
  });

  it('gives every alert the empty key when no names are given', () => {
    expect(new KeyJoiner([], '∅').key(alert('a', {}))).toBe('');
  });
});
