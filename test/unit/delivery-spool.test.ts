import { statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { Spool, type SpoolEntryInfo } from '../../src/delivery/spool.js';

let dir: string;
const open: Spool[] = [];

function spool(maxEntries = 100, path = join(dir, 'spool.db')): Spool {
  const s = new Spool({ path, maxEntries });
  open.push(s);
  return s;
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'perch-spool-'));
});

afterEach(async () => {
  for (const s of open.splice(0)) s.close();
  await rm(dir, { recursive: true, force: true });
});

describe('Spool', () => {
  it('returns a sink’s pending entries in id order, pages after an id, and counts per sink', () => {
    const s = spool();
    const a1 = s.put('a', 3, 'a1', 10);
    s.put('b', 3, 'b1', 11);
    const a2 = s.put('a', 7, 'a2', 12);
    const a3 = s.put('a', 0, 'a3', 13);
    expect(s.pending('a', 10).map((e) => e.payload)).toEqual(['a1', 'a2', 'a3']);
    expect(s.pending('a', 2).map((e) => e.id)).toEqual([a1, a2]);
    expect(s.pending('a', 10, a2).map((e) => e.id)).toEqual([a3]);
    expect(s.get(a2)).toEqual({ id: a2, sink: 'a', priority: 7, createdMs: 12, attempts: 0, payload: 'a2' });
    expect([s.count(), s.count('a'), s.count('b'), s.count('none')]).toEqual([4, 3, 1, 0]);
  });

  it('removes entries once, and records attempts', () => {
    const s = spool();
    const id = s.put('a', 3, 'x');
    s.recordAttempt(id);
    s.recordAttempt(id);
    expect(s.get(id)?.attempts).toBe(2);
    expect(s.remove(id)).toBe(true);
    expect(s.remove(id)).toBe(false);
    expect(s.has(id)).toBe(false);
    expect(s.count('a')).toBe(0);
  });

  it('over maxEntries evicts the oldest entries of the lowest priority, and says which', () => {
    const s = spool(4);
    const heard: SpoolEntryInfo[][] = [];
    s.onEvict((evicted) => heard.push(evicted));
    s.put('a', 5, 'crit-1', 1);
    const low1 = s.put('b', 2, 'notice-1', 2);
    s.put('a', 2, 'notice-2', 3);
    s.put('a', 7, 'emerg-1', 4);
    s.put('a', 5, 'crit-2', 5);
    expect(heard).toEqual([[{ id: low1, sink: 'b', priority: 2, createdMs: 2, attempts: 0 }]]);
    s.put('b', 6, 'alert-1', 6);
    expect(heard[1]?.map((e) => e.createdMs)).toEqual([3]);
    expect(s.count()).toBe(4);
    expect(s.pending('a', 10).map((e) => e.payload)).toEqual(['crit-1', 'emerg-1', 'crit-2']);
  });

  it('evicts the newcomer itself when it is the only one of the lowest priority', () => {
    const s = spool(2);
    s.put('a', 5, 'crit-1');
    s.put('a', 5, 'crit-2');
    const id = s.put('a', 1, 'info');
    expect(s.has(id)).toBe(false);
    expect(s.pending('a', 10).map((e) => e.payload)).toEqual(['crit-1', 'crit-2']);
  });

  it('evictOverflow returns what it evicted (nothing when within bounds)', () => {
    const s = spool(3);
    expect(s.evictOverflow()).toEqual([]);
  });

  it('survives being closed and reopened: entries, order and ids continue', () => {
    const first = spool();
    first.put('a', 3, 'one');
    const two = first.put('a', 3, 'two');
    first.remove(two);
    first.put('a', 3, 'three');
    first.close();
    const again = spool();
    expect(again.pending('a', 10).map((e) => e.payload)).toEqual(['one', 'three']);
    expect(again.count('a')).toBe(2);
    // AUTOINCREMENT: ids of removed rows are never reused, so order by id stays the order of arrival.
    expect(again.put('a', 3, 'four')).toBeGreaterThan(two + 1);
  });

  it('creates the parent directory and a file only its owner can read', () => {
    const path = join(dir, 'nested', 'deeper', 'spool.db');
    const s = spool(10, path);
    s.put('a', 1, 'x');
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('refuses a corrupt file with an error naming the path', () => {
    const path = join(dir, 'corrupt.db');
    writeFileSync(path, 'this is not a SQLite database '.repeat(200));
    expect(() => spool(10, path)).toThrow(path);
    expect(() => spool(10, path)).toThrow(/not a database/);
  });

  it('refuses a path it cannot create, naming it', () => {
    const blocker = join(dir, 'file');
    writeFileSync(blocker, 'x');
    const path = join(blocker, 'spool.db');
    expect(() => spool(10, path)).toThrow(`cannot open the delivery spool ${path}`);
  });
});
