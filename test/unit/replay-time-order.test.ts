import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { replayFile } from '../../src/app/replay.js';
import { TimeSortedLines } from '../../src/app/time-sorted-lines.js';
import { validateConfig } from '../../src/config/load-config.js';
import { createLogger } from '../../src/logging/logger.js';

const dir = mkdtempSync(join(tmpdir(), 'perch-replay-order-'));
const RULES = join(dir, 'rules.yaml');
writeFileSync(
  RULES,
  `
correlations:
  - { name: shells-in-namespace, type: event_count, rules: ["Terminal shell in container"], group-by: [namespace], timespan: 2m, condition: { gte: 4 } }
`,
);
// One fingerprint per rule, shared by both nodes, so their alerts fall into the same windows.
const config = validateConfig(
  { rules: { defaults: false, files: [RULES], dedup: { key: ['rule'], window: '5m' } } },
  't',
  {},
);
const log = createLogger('silent');

const START = Date.parse('2026-03-01T10:00:00Z');
const RULE_NAMES = ['Terminal shell in container', 'Read sensitive file untrusted'];

/** One node's Falco log: its alerts in time order, over half an hour. */
function nodeLog(node: string, offsetMs: number, count: number): string[] {
  return Array.from({ length: count }, (_, i) => {
    const t = START + offsetMs + i * 37_000 + ((i * 7919) % 13) * 1000;
    return JSON.stringify({
      hostname: node,
      output: `${node} alert ${i}`,
      output_fields: { 'container.id': `${node}-c`, 'k8s.ns.name': 'shop', 'k8s.pod.name': `${node}-pod` },
      priority: i % 11 === 5 ? 'Critical' : 'Warning',
      rule: RULE_NAMES[i % 7 === 0 ? 1 : 0],
      source: 'syscall',
      tags: [],
      time: new Date(t).toISOString(),
    });
  });
}

const timeOf = (line: string) => Date.parse(JSON.parse(line).time as string);

/** Replays `lines` as one file; returns what would be sent (JSON, ids removed) and the summary. */
async function replay(name: string, lines: string[]) {
  const path = join(dir, name);
  writeFileSync(path, `${lines.join('\n')}\n`);
  let text = '';
  const out = new Writable({
    write(chunk, _encoding, done) {
      text += String(chunk);
      done();
    },
  });
  const summary = await replayFile(path, { json: true, out, log, config });
  const sent = text
    .trim()
    .split('\n')
    .map((line) => {
      const { id: _id, sample, ...rest } = JSON.parse(line) as Record<string, unknown>;
      const { id: _sampleId, ...sampleRest } = (sample ?? {}) as Record<string, unknown>;
      return sample ? { ...rest, sample: sampleRest } : rest;
    });
  return { sent, summary };
}

describe('perch replay puts alerts in time order', () => {
  it('gives two nodes’ logs one after the other the same digests and incidents as the logs merged', async () => {
    const a = nodeLog('worker-a', 0, 50);
    const b = nodeLog('worker-b', 500, 50);
    const merged = [...a, ...b].sort((x, y) => timeOf(x) - timeOf(y));

    const concatenated = await replay('concatenated.jsonl', [...a, ...b]);
    const sorted = await replay('sorted.jsonl', merged);

    const digests = sorted.sent.filter((s) => s.kind === 'digest');
    expect(digests.length).toBeGreaterThan(3);
    expect(sorted.sent.some((s) => s.kind === 'incident')).toBe(true);
    expect(concatenated.sent).toEqual(sorted.sent);
    expect(concatenated.summary.outcomes).toEqual(sorted.summary.outcomes);
    // Never a digest wider than its window.
    for (const d of digests) {
      expect(Date.parse(d.lastSeen as string) - Date.parse(d.firstSeen as string)).toBeLessThan(300_000);
    }
  });

  it('reports the earliest and latest alert time, and rejected lines with their line numbers', async () => {
    const [first, second, third] = nodeLog('worker-a', 0, 3) as [string, string, string];
    const { summary, sent } = await replay('unordered.jsonl', [third, '{"rule": 1}', first, second]);
    expect(summary).toMatchObject({ lines: 4, events: 3, rejected: 1 });
    expect(summary.rejections[0]?.line).toBe(2);
    expect(summary.firstTime).toBe(JSON.parse(first).time);
    expect(summary.lastTime).toBe(JSON.parse(third).time);
    // In time order: alert 2 (a repeat of alert 1's rule) is digested although it came first.
    expect(sent.map((s) => (s.kind === 'event' ? (s.event as { output: string }).output : s.kind))).toEqual([
      'worker-a alert 0',
      'worker-a alert 1',
      'digest',
    ]);
  });
});

describe('perch replay reads a file in time order as it goes', () => {
  it('gives the same as when every time must be parsed first, and as the same lines out of order', async () => {
    const log = nodeLog('worker-a', 0, 60);
    const withBadLine = [...log.slice(0, 10), '{"rule": 1}', ...log.slice(10)];
    // Falco's own form: read as it goes.
    const asFalcoWrites = await replay('falco-form.jsonl', withBadLine);
    // A space after the colon hides the time from the quick look: the file is checked whole first.
    const spaced = await replay(
      'spaced.jsonl',
      withBadLine.map((line) => line.replace('"time":"', '"time": "')),
    );
    // Out of order (the last ten first): sorted.
    const shuffled = await replay('shuffled.jsonl', [
      ...withBadLine.slice(-10),
      ...withBadLine.slice(0, -10),
    ]);
    expect(asFalcoWrites.summary).toMatchObject({ lines: 61, events: 60, rejected: 1 });
    expect(asFalcoWrites.summary.rejections[0]?.line).toBe(11);
    expect(asFalcoWrites.sent.some((s) => s.kind === 'digest')).toBe(true);
    expect(spaced.sent).toEqual(asFalcoWrites.sent);
    expect(spaced.summary).toEqual(asFalcoWrites.summary);
    expect(shuffled.sent).toEqual(asFalcoWrites.sent);
    const { rejections: _shuffledRejections, ...shuffledRest } = shuffled.summary;
    const { rejections: _rejections, ...rest } = asFalcoWrites.summary;
    expect(shuffledRest).toEqual(rest);
  });
});

describe('TimeSortedLines', () => {
  const drain = async (lines: Iterable<string> | AsyncIterable<string>) => {
    const all: string[] = [];
    for await (const line of lines) all.push(line);
    return all;
  };
  const entries: [string, bigint][] = [
    ['b1', 20n],
    ['a1', 10n],
    ['c1', 30n],
    ['a2', 10n],
    ['early', -5n],
    ['b2', 20n],
    ['late', 99_999_999_999_999_999_999n],
    ['a3 with  spaces\tand tabs', 10n],
  ];
  const expected = ['early', 'a1', 'a2', 'a3 with  spaces\tand tabs', 'b1', 'b2', 'c1', 'late'];

  it('sorts in memory by time, keeping the order of lines of the same time', async () => {
    const sorted = new TimeSortedLines();
    for (const [text, time] of entries) sorted.add(text, time);
    expect(await drain(sorted.lines())).toEqual(expected);
    expect(sorted.spilled).toBe(0);
  });

  it('gives the same order through temporary runs when the lines exceed what it holds, then removes them', async () => {
    const before = new Set(readdirSync(tmpdir()).filter((name) => name.startsWith('perch-replay-')));
    const sorted = new TimeSortedLines(5);
    for (const [text, time] of entries) sorted.add(text, time);
    expect(sorted.spilled).toBeGreaterThan(2);
    const created = readdirSync(tmpdir()).filter(
      (name) => name.startsWith('perch-replay-') && !before.has(name),
    );
    expect(created).toHaveLength(1);
    expect(await drain(sorted.lines())).toEqual(expected);
    sorted.dispose();
    expect(existsSync(join(tmpdir(), created[0] as string))).toBe(false);
  });
});
