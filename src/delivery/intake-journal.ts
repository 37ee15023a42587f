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
 * position) true for the alerts a spooled sink must keep. An input admits each such event when it
 * takes it in; before the input acknowledges, the spool's transaction commits, and every admitted
 * event the pipeline has not settled by then is written to the `intake` table. Its row is removed
 * when the pipeline settles it — handed to the sinks (whose own spool entries then hold it, in the
 * same transaction), digested, silenced, dropped or shed. What a crash leaves here is fed through
 * the pipeline again at the next start, so an acknowledged alert is delivered at least once even
 * if Perch died before its sinks spooled it.
 *
 * Rows are written lazily, at commit: inputs admit after handing events to the pipeline, so the
 * commit runs after the pipeline's turn and an event settled within it costs no disk write at all.
 * One commit serves every request of an event-loop turn.
 */
export class IntakeJournal {
  private statements?: Statements;
  private readonly rows = new WeakMap<FalcoEvent, number>();
  /** Admitted, not settled, not yet written: written at the next commit if still unsettled then. */
  private pending: FalcoEvent[] = [];
  private readonly awaiting = new WeakSet<FalcoEvent>();
  /** Settled before their input admitted them (shed at once): admitting them must not write a row. */
  private readonly settledEarly = new WeakSet<FalcoEvent>();
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
    database.onBeforeCommit(() => this.writePending());
    database.onRecover(() => this.catchUp());
  }

  /** Takes note of events an input has just handed to the pipeline; they are durable at the next commit. */
  admit(events: readonly FalcoEvent[]): void {
    let due = 0;
    for (const event of events) {
      if (event.priority < this.minPriority || this.settledEarly.has(event)) continue;
      due += 1;
      this.awaiting.add(event);
      this.pending.push(event);
    }
    if (due === 0) return;
    try {
      this.database.begin();
    } catch {
      this.dropPending();
    }
  }

  /** The event has left the pipeline's hands; its row, if written, goes in the same transaction as the sinks' puts. */
  settle(event: FalcoEvent): void {
    if (this.awaiting.delete(event)) return;
    const id = this.rows.get(event);
    if (id === undefined) {
      this.settledEarly.add(event);
      return;
    }
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

  /** At commit, inside the transaction: the admitted events still in the pipeline get their rows. */
  private writePending(): void {
    const events = this.pending;
    if (events.length === 0) return;
    this.pending = [];
    const insert = this.statements?.insert;
    const written: FalcoEvent[] = [];
    this.database.onThisCommit((committed) => {
      if (committed) return;
      // Rolled back (the disk failed): these rows never existed.
      for (const event of written) {
        if (this.rows.delete(event)) this.heldRows -= 1;
      }
      this.onUnjournaled(written.length);
    });
    for (const event of events) {
      if (!this.awaiting.delete(event)) continue;
      if (!insert) {
        this.onUnjournaled(1);
        continue;
      }
      this.rows.set(event, Number(insert.run(toFalcoJson(event)).lastInsertRowid));
      this.heldRows += 1;
      written.push(event);
    }
  }

  /** The spool is down: what was admitted stays in memory only, counted. */
  private dropPending(): void {
    let dropped = 0;
    for (const event of this.pending) if (this.awaiting.delete(event)) dropped += 1;
    this.pending = [];
    if (dropped > 0) this.onUnjournaled(dropped);
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
