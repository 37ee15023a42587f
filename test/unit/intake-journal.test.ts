import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { IntakeJournal } from '../../src/delivery/intake-journal.js';
import { SpoolDatabase } from '../../src/delivery/spool-database.js';
import { openSqlite } from '../../src/delivery/sqlite.js';
import type { FalcoEvent } from '../../src/events/falco-event.js';
import { parseFalcoJson } from '../../src/events/parse-falco-json.js';
import { Priority } from '../../src/events/priority.js';
import { CURRENT_ALERT } from '../fixtures/falco-alerts.js';

let dir: string;
const opened: SpoolDatabase[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'perch-journal-'));
});

afterEach(() => {
  for (const db of opened.splice(0)) db.close();
  rmSync(dir, { recursive: true, force: true });
});

function journal(minPriority = Priority.Warning): {
  journal: IntakeJournal;
  unjournaled: number[];
  path: string;
} {
  const path = join(dir, 'spool.db');
  const database = new SpoolDatabase({ path, groupCommit: true });
  opened.push(database);
  const unjournaled: number[] = [];
  return { journal: new IntakeJournal(database, minPriority, (n) => unjournaled.push(n)), unjournaled, path };
}

function event(priority: Priority): FalcoEvent {
  return { ...parseFalcoJson(CURRENT_ALERT), priority };
}

/** What another process (the next start) would find on disk. */
function rowsOnDisk(path: string): number {
  const db = openSqlite(path);
  try {
    return (db.prepare('SELECT COUNT(*) AS n FROM intake').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

describe('IntakeJournal', () => {
  it('writes nothing for an event the pipeline settles before the commit', async () => {
    const { journal: j, path } = journal();
    const e = event(Priority.Critical);
    j.admit([e]);
    j.settle(e);
    await j.committed();
    expect(rowsOnDisk(path)).toBe(0);
    expect(j.held).toBe(0);
  });

  it('writes an event still in the pipeline at the commit, and removes it once settled', async () => {
    const { journal: j, path } = journal();
    const e = event(Priority.Warning);
    j.admit([e]);
    await j.committed();
    expect(rowsOnDisk(path)).toBe(1);
    expect(j.held).toBe(1);
    j.settle(e);
    await j.committed();
    expect(rowsOnDisk(path)).toBe(0);
  });

  it('keeps below its threshold out, and an event settled before it was admitted (shed at once)', async () => {
    const { journal: j, path } = journal(Priority.Error);
    const low = event(Priority.Warning);
    const shed = event(Priority.Critical);
    j.settle(shed);
    j.admit([low, shed]);
    await j.committed();
    expect(rowsOnDisk(path)).toBe(0);
  });

  it('hands back what a previous run left, exactly, and forgets each once settled', async () => {
    const first = journal();
    const e = event(Priority.Critical);
    first.journal.admit([e]);
    await first.journal.committed();
    for (const db of opened.splice(0)) db.close();

    const second = journal();
    const { events, unreadable } = second.journal.recover();
    expect(unreadable).toBe(0);
    expect(events).toHaveLength(1);
    expect(events[0]?.timeNs).toBe(e.timeNs);
    expect(events[0]?.outputFields).toEqual(e.outputFields);
    second.journal.settle(events[0] as FalcoEvent);
    await second.journal.committed();
    expect(rowsOnDisk(second.path)).toBe(0);
  });

  it('counts what it cannot journal while the spool cannot be written', () => {
    // A file where the spool's directory should be: the spool cannot be created.
    const blocker = join(dir, 'file');
    writeFileSync(blocker, 'x');
    const database = new SpoolDatabase({
      path: join(blocker, 'spool.db'),
      groupCommit: true,
      retryMs: 60_000,
    });
    opened.push(database);
    const unjournaled: number[] = [];
    const j = new IntakeJournal(database, Priority.Warning, (n) => unjournaled.push(n));
    j.admit([event(Priority.Critical), event(Priority.Notice), event(Priority.Error)]);
    expect(unjournaled).toEqual([2]);
  });
});
