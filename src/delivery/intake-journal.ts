import type { FalcoEvent } from '../events/falco-event.js';
import { parseFalcoJson } from '../events/parse-falco-json.js';
import type { Priority } from '../events/priority.js';
import { toFalcoJson } from '../events/serialize-event.js';
import type { SpoolDatabase } from './spool-database.js';
import type { SqliteStatement } from './sqlite.js';

interface Statements {
  insert: SqliteStatement;
  remove: SqliteStatement;
  all: SqliteStatement;
}

/**
 * The acknowledgement journal: what makes an input's "accepted" (an HTTP 200, a saved file
 * position) true for the alerts a spooled sink must keep. Each such event is written to the spool's
 * file when it is taken in, before the input acknowledges it, and removed when the pipeline has
 * settled it — handed to the sinks (whose own spool entries then hold it), digested, silenced,
 * dropped or shed. What a crash leaves here is fed through the pipeline again at the next start,
 * so an acknowledged alert is delivered at least once even if Perch died before its sinks spooled it.
 *
 * Writes share the spool's group commit: one transaction per turn of the event loop, so a burst
 * of requests costs one commit, and inputs wait for `committed()` before they acknowledge.
 */
export class IntakeJournal {
  private statements?: Statements;
  private readonly rows = new WeakMap<FalcoEvent, number>();
  /** Rows of events settled while the disk refused writes: deleted once it takes them again. */
  private readonly pendingRemovals = new Set<number>();
  private heldRows = 0;

  constructor(
    private readonly database: SpoolDatabase,
    /** The lowest `spoolMinPriority` of the spooled sinks: below it nothing needs to be durable. */
    readonly minPriority: Priority,
    /** Events that should have been journaled but could not be (the spool is down). */
    private readonly onUnjournaled: (count: number) => void,
  ) {
    database.onOpen((db) => {
      db.exec(
        'CREATE TABLE IF NOT EXISTS intake (id INTEGER PRIMARY KEY AUTOINCREMENT, payload TEXT NOT NULL)',
      );
      this.statements = {
        insert: db.prepare('INSERT INTO intake (payload) VALUES (?)'),
        remove: db.prepare('DELETE FROM intake WHERE id = ?'),
        all: db.prepare('SELECT id, payload FROM intake ORDER BY id'),
      };
    });
    database.onRecover(() => this.catchUp());
  }

  /** Journals the events that must be durable; returns how many could not be (spool down). */
  admit(events: readonly FalcoEvent[]): number {
    const due = events.filter((e) => e.priority >= this.minPriority);
    if (due.length === 0) return 0;
    const insert = this.statements?.insert;
    try {
      if (!insert || !this.database.up) throw new Error('down');
      const ids = this.database.write(() =>
        due.map((event) => Number(insert.run(toFalcoJson(event)).lastInsertRowid)),
      );
      for (const [i, event] of due.entries()) this.rows.set(event, ids[i] as number);
      this.heldRows += due.length;
      return 0;
    } catch {
      this.onUnjournaled(due.length);
      return due.length;
    }
  }

  /** The event has left the pipeline's hands; its row goes in the same transaction as the sinks' puts. */
  settle(event: FalcoEvent): void {
    const id = this.rows.get(event);
    if (id === undefined) return;
    this.rows.delete(event);
    this.heldRows -= 1;
    const remove = this.statements?.remove;
    if (!remove || !this.database.up) {
      this.pendingRemovals.add(id);
      return;
    }
    try {
      this.database.write(() => remove.run(id));
    } catch {
      this.pendingRemovals.add(id);
    }
  }

  /** Events taken in and journaled that the pipeline has not settled yet: on disk for the next start. */
  get held(): number {
    return this.heldRows;
  }

  /** Resolves when what was admitted so far is on disk (or known not to be). */
  committed(): Promise<void> {
    return this.database.committed();
  }

  /** Commits now: before a position file records that lines were taken. */
  commitNow(): void {
    this.database.commit();
  }

  /**
   * The events a previous run acknowledged but did not settle, oldest first; each keeps its row
   * until the pipeline settles it again. A row that no longer parses is dropped and counted.
   */
  recover(): { events: FalcoEvent[]; unreadable: number } {
    const all = this.statements?.all;
    if (!all || !this.database.up) return { events: [], unreadable: 0 };
    const events: FalcoEvent[] = [];
    const unreadable: number[] = [];
    for (const row of all.all() as { id: number; payload: string }[]) {
      try {
        const event = parseFalcoJson(row.payload);
        this.rows.set(event, row.id);
        this.heldRows += 1;
        events.push(event);
      } catch {
        unreadable.push(row.id);
      }
    }
    for (const id of unreadable) this.pendingRemovals.add(id);
    this.catchUp();
    return { events, unreadable: unreadable.length };
  }

  private catchUp(): void {
    const remove = this.statements?.remove;
    if (!remove || this.pendingRemovals.size === 0) return;
    const ids = [...this.pendingRemovals];
    try {
      this.database.write(() => {
        for (const id of ids) remove.run(id);
      });
      for (const id of ids) this.pendingRemovals.delete(id);
    } catch {
      // Down again: they stay pending; at worst those events are taken in again after a restart.
    }
  }
}
