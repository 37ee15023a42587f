import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { Spool, type SpoolEntryInfo } from '../../src/delivery/spool.js';
import { SpoolUnavailableError } from '../../src/delivery/spool-database.js';
import { openSqlite } from '../../src/delivery/sqlite.js';
import { until } from '../helpers/until.js';

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

  it('moves a corrupt file aside (never deletes it) and starts an empty spool', () => {
    const path = join(dir, 'corrupt.db');
    const garbage = 'this is not a SQLite database '.repeat(200);
    writeFileSync(path, garbage);
    const s = spool(10, path);
    expect(s.up).toBe(true);
    expect(s.count()).toBe(0);
    const aside = readdirSync(dir).filter((f) => f.startsWith('corrupt.db.corrupt-'));
    expect(aside).toHaveLength(1);
    expect(readFileSync(join(dir, aside[0] as string), 'utf8')).toBe(garbage);
    expect(s.put('slack', 4, 'payload')).toBeGreaterThan(0);
  });

  it('starts without a writable file: down, naming the path, and puts refuse instead of crashing', () => {
    const blocker = join(dir, 'file');
    writeFileSync(blocker, 'x');
    const path = join(blocker, 'spool.db');
    const s = spool(10, path);
    expect(s.up).toBe(false);
    expect(s.downReason).toContain(path);
    expect(() => s.put('slack', 4, 'payload')).toThrow(SpoolUnavailableError);
    expect(s.count()).toBe(0);
  });

  it('comes up on its own once the path can be written, and tells who listens', async () => {
    const blocker = join(dir, 'file');
    writeFileSync(blocker, 'x');
    const path = join(blocker, 'spool.db');
    const states: boolean[] = [];
    const recovered: string[] = [];
    const s = new Spool({ path, maxEntries: 10, retryMs: 20, onStateChange: (up) => states.push(up) });
    open.push(s);
    s.database.onRecover(() => recovered.push('recovered'));
    expect(s.up).toBe(false);
    rmSync(blocker);
    await until(() => s.up, 'the spool to come up');
    expect(states).toEqual([false, true]);
    expect(recovered).toEqual(['recovered']);
    const id = s.put('slack', 4, 'payload');
    expect(s.get(id)?.payload).toBe('payload');
  });

  it('moves aside a file written by a newer Perch instead of misreading it', () => {
    const path = join(dir, 'newer.db');
    const db = openSqlite(path);
    db.pragma('user_version = 99');
    db.close();
    const s = spool(10, path);
    expect(s.up).toBe(true);
    expect(readdirSync(dir).some((f) => f.startsWith('newer.db.corrupt-'))).toBe(true);
  });

  it('with group commit, writes of one event-loop turn reach the disk together, after that turn', async () => {
    const path = join(dir, 'group.db');
    const s = new Spool({ path, maxEntries: 100, groupCommit: true });
    open.push(s);
    const heard: boolean[] = [];
    s.put('slack', 4, 'one', 1, (ok) => heard.push(ok));
    s.put('slack', 4, 'two', 2, (ok) => heard.push(ok));
    const reader = openSqlite(path);
    const count = () => (reader.prepare('SELECT COUNT(*) AS n FROM spool').get() as { n: number }).n;
    // Another connection (a restarted Perch) sees nothing until the commit.
    expect(count()).toBe(0);
    expect(heard).toEqual([]);
    await s.database.committed();
    expect(heard).toEqual([true, true]);
    expect(count()).toBe(2);
    reader.close();
  });
});
