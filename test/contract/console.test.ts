/**
 * Contract of the console sink's line format: whatever an alert holds, the terminal gets no control
 * or disguising character but Perch's own colours, no character cut apart, and no screenful of one value.
 */
import { describe, expect, it } from '@jest/globals';
import { formatAlertLine } from '../../src/sinks/console-format.js';
import { universalProblems } from './checks/destination-checks.js';
import { eventAlert, hostileAlerts, TEN_KB } from './hostile-corpus.js';

// biome-ignore lint/suspicious/noControlCharactersInRegex: Perch's own SGR colour codes are the point
const COLOUR = /\u001b\[[0-9;]*m/g;

describe('console contract', () => {
  it.each(hostileAlerts())('%s: escaped, whole characters, bounded', (_name, alert) => {
    for (const colour of [true, false]) {
      const line = formatAlertLine(alert, colour);
      const text = line.replace(COLOUR, '');
      expect(universalProblems({ line: text })).toEqual([]);
      // A 10 KB rule, output or pod name is cut, not printed in full (the incident has 8 lines more).
      expect(text.length).toBeLessThan(alert.kind === 'incident' ? 24_000 : 8_000);
      expect(text).not.toContain(TEN_KB.slice(0, 2000));
    }
  });

  it('a right-to-left override in a rule is shown as an escape', () => {
    const line = formatAlertLine(eventAlert('Drop \u202eexe.txt', 'wrote \u2066iso\u2069'), false);
    expect(line).toContain('Drop \\u202eexe.txt');
    expect(line).toContain('wrote \\u2066iso\\u2069');
    expect(line).not.toMatch(/[\u202e\u2066\u2069]/);
  });
});
