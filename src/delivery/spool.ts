import {
  newerSchema,
  SpoolDatabase,
  type SpoolDatabaseOptions,
  SpoolUnavailableError,
} from './spool-database.js';
import type { SqliteDatabase, SqliteStatement } from './sqlite.js';

export interface SpoolEntry {
  id: number;
  sink: string;
  priority: number;
  /** When the alert was first queued (ms since the epoch): retry.giveUpAfter counts from here, across restarts. */
  createdMs: number;
  attempts: number;
  payload: string;
}

/** An entry without its payload: what eviction reports. */
export type SpoolEntryInfo = Omit<SpoolEntry, 'payload'>;

export interface SpoolOptions extends SpoolDatabaseOptions {
  /** Entries across all sinks; beyond it the oldest entries of the lowest priority are evicted. */
  maxEntries: number;
}

const SCHEMA_VERSION = 1;

interface Row {
  id: number;
  sink: string;
  priority: number;
  created_ms: number;
  attempts: number;
  payload: string;
}

interface Statements {
  insert: SqliteStatement;
  pending: SqliteStatement;
  get: SqliteStatement;
  remove: SqliteStatement;
  attempt: SqliteStatement;
  lowest: SqliteStatement;
  counts: SqliteStatement;
}

/**
 * The durable spool: alerts waiting for delivery, in one SQLite table shared by every sink, so that
 * what was accepted survives a destination outage and a restart of Perch. One process owns the file.
 *
 * Durability trade-off: WAL journal with synchronous=NORMAL. A committed write is appended to the
 * WAL with write(2), so it survives Perch crashing, being OOM-killed or its container restarting
 * (the data is in the kernel's page cache). The WAL is fsynced only at checkpoints, so a power loss
 * or kernel crash can lose the last few commits (never corrupt the file). synchronous=FULL would
 * close that gap with an fsync per commit — milliseconds each on real disks, during exactly the
 * bursts that matter — while a node that loses power also loses the Falco and workloads that raised
 * the alerts. `synchronous: 'full'` is there for those who want it anyway.
 *
 * The file may be unwritable (full disk, read-only volume): see SpoolDatabase. Then puts throw
 * SpoolUnavailableError, removals are remembered and applied once the disk takes writes again.
 *
 * The payload is the rendered request, which includes the destination URL (for some services a
 * secret); the file is created readable by its owner only.
 */
export class Spool {
  readonly database: SpoolDatabase;
  private statements?: Statements;
  private readonly counts = new Map<string, number>();
  private total = 0;
  private readonly listeners = new Set<(evicted: SpoolEntryInfo[]) => void>();
  /** Entries settled while the disk refused writes: deleted once it takes them again. */
  private readonly pendingRemovals = new Set<number>();
  private closed = false;

  constructor(private readonly options: SpoolOptions) {
    this.database = new SpoolDatabase(options);
    this.database.onOpen((db) => this.prepare(db));
    this.database.onRecover(() => this.catchUp());
  }

  get path(): string {
    return this.options.path;
  }

  /** True while the spool can be written. */
  get up(): boolean {
    return this.database.up;
  }

  /** Why the spool cannot be written, if it cannot. */
  get downReason(): string | undefined {
    return this.database.downReason;
  }

  /**
   * Writes an entry and returns its id. It is on disk once committed: at once without group
   * commit, else at the end of this turn of the event loop; `onCommit(false)` says it never got
   * there (the disk failed; the entry is gone). When the spool is over maxEntries, evicts at once
   * (listeners hear of it) — possibly this very entry, if it is the only one of the lowest
   * priority: use `has(id)` to know. Throws SpoolUnavailableError while the disk refuses writes.
   */
  put(
    sink: string,
    priority: number,
    payload: string,
    createdMs = Date.now(),
    onCommit?: (committed: boolean) => void,
  ): number {
    const id = this.database.write(
      () => Number(this.prepared.insert.run(sink, priority, createdMs, payload).lastInsertRowid),
      (committed) => {
        if (!committed) this.adjust(sink, -1);
        onCommit?.(committed);
      },
    );
    this.adjust(sink, 1);
    this.evictOverflow();
    return id;
  }

  /** Up to `limit` entries of a sink after `afterId`, oldest (lowest id) first: page with the last id seen. */
  pending(sink: string, limit: number, afterId = 0): SpoolEntry[] {
    return this.database.read(() =>
      (this.prepared.pending.all(sink, afterId, limit) as Row[])
        .filter((row) => !this.pendingRemovals.has(row.id))
        .map(fromRow),
    );
  }

  get(id: number): SpoolEntry | undefined {
    if (this.pendingRemovals.has(id)) return undefined;
    const row = this.database.read(() => this.prepared.get.get(id) as Row | undefined);
    return row && fromRow(row);
  }

  has(id: number): boolean {
    return this.get(id) !== undefined;
  }

  /** Returns false when the entry was not there (already removed or evicted). */
  remove(id: number): boolean {
    if (this.pendingRemovals.has(id)) return false;
    if (!this.database.up) {
      const row = this.get(id);
      if (!row) return false;
      this.pendingRemovals.add(id);
      this.adjust(row.sink, -1);
      return true;
    }
    const row = this.database.write(() => this.prepared.remove.get(id) as { sink: string } | undefined);
    if (!row) return false;
    this.adjust(row.sink, -1);
    return true;
  }

  /** Attempts are advice for backoff after a restart: one that cannot be written is not worth failing for. */
  recordAttempt(id: number): void {
    if (!this.database.up) return;
    this.database.write(() => this.prepared.attempt.run(id));
  }

  /** Entries of one sink, or of all; kept in memory, so cheap enough for every scrape. */
  count(sink?: string): number {
    return sink === undefined ? this.total : (this.counts.get(sink) ?? 0);
  }

  /** Evicts the oldest entries of the lowest priority until the spool fits; returns them (also told to listeners). */
  evictOverflow(): SpoolEntryInfo[] {
    const excess = this.total - this.options.maxEntries;
    if (excess <= 0 || !this.database.up) return [];
    const evicted = this.database.write(() => {
      const rows = this.prepared.lowest.all(excess) as Omit<Row, 'payload'>[];
      for (const row of rows) this.prepared.remove.get(row.id);
      return rows;
    });
    const infos = evicted.map(({ created_ms, ...rest }) => ({ ...rest, createdMs: created_ms }));
    for (const info of infos) this.adjust(info.sink, -1);
    for (const listener of this.listeners) listener(infos);
    return infos;
  }

  /** Each sink subscribes to learn which of its entries were evicted (by any sink's put); returns the unsubscribe. */
  onEvict(listener: (evicted: SpoolEntryInfo[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    this.database.close();
  }

  private get prepared(): Statements {
    if (!this.statements) throw new SpoolUnavailableError(this.downReason ?? 'not open');
    return this.statements;
  }

  private prepare(db: SqliteDatabase): void {
    const version = Number(db.pragma('user_version', { simple: true }));
    if (version > SCHEMA_VERSION) throw newerSchema(version, SCHEMA_VERSION);
    db.exec(`
      CREATE TABLE IF NOT EXISTS spool (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        sink TEXT NOT NULL,
        priority INTEGER NOT NULL,
        created_ms INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        payload TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS spool_by_sink ON spool (sink, id);
      CREATE INDEX IF NOT EXISTS spool_by_priority ON spool (priority, id);
      PRAGMA user_version = ${SCHEMA_VERSION};
    `);
    this.statements = {
      insert: db.prepare(
        'INSERT INTO spool (sink, priority, created_ms, attempts, payload) VALUES (?, ?, ?, 0, ?)',
      ),
      pending: db.prepare('SELECT * FROM spool WHERE sink = ? AND id > ? ORDER BY id LIMIT ?'),
      get: db.prepare('SELECT * FROM spool WHERE id = ?'),
      remove: db.prepare('DELETE FROM spool WHERE id = ? RETURNING sink'),
      attempt: db.prepare('UPDATE spool SET attempts = attempts + 1 WHERE id = ?'),
      lowest: db.prepare(
        'SELECT id, sink, priority, created_ms, attempts FROM spool ORDER BY priority, id LIMIT ?',
      ),
      counts: db.prepare('SELECT sink, COUNT(*) AS n FROM spool GROUP BY sink'),
    };
    this.recount();
  }

  /** The disk takes writes again: apply the removals it missed, then trust only what it holds. */
  private catchUp(): void {
    const ids = [...this.pendingRemovals];
    try {
      this.database.write(() => {
        for (const id of ids) this.prepared.remove.get(id);
      });
      this.database.commit();
      if (this.database.up) this.pendingRemovals.clear();
    } catch {
      // Down again already: the rows stay and are sent again after a restart (at least once).
    }
    this.recount();
  }

  private recount(): void {
    this.counts.clear();
    this.total = 0;
    const rows = this.prepared.counts.all() as { sink: string; n: number }[];
    for (const { sink, n } of rows) this.adjust(sink, n);
    for (const id of this.pendingRemovals) {
      const row = this.prepared.get.get(id) as Row | undefined;
      if (row) this.adjust(row.sink, -1);
    }
  }

  private adjust(sink: string, delta: number): void {
    const next = (this.counts.get(sink) ?? 0) + delta;
    if (next > 0) this.counts.set(sink, next);
    else this.counts.delete(sink);
    this.total += delta;
  }
}

function fromRow(row: Row): SpoolEntry {
  return {
    id: row.id,
    sink: row.sink,
    priority: row.priority,
    createdMs: row.created_ms,
    attempts: row.attempts,
    payload: row.payload,
  };
}
