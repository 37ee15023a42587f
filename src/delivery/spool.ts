import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { openSqlite, type SqliteDatabase, type SqliteStatement } from './sqlite.js';

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

export interface SpoolOptions {
  path: string;
  /** Entries across all sinks; beyond it the oldest entries of the lowest priority are evicted. */
  maxEntries: number;
  /**
   * `normal` (default): a put survives a crash or kill of Perch, but the last puts before a power
   * loss or kernel crash may be lost. `full`: survives those too, at the cost of an fsync per put.
   */
  synchronous?: 'normal' | 'full';
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

/**
 * The durable spool: alerts waiting for delivery, in one SQLite table shared by every sink, so that
 * what was accepted survives a destination outage and a restart of Perch. One process owns the file.
 *
 * Durability trade-off: WAL journal with synchronous=NORMAL. Each put is its own committed
 * transaction, appended to the WAL with write(2) before put returns, so it survives Perch crashing,
 * being OOM-killed or its container restarting (the data is in the kernel's page cache). The WAL is
 * fsynced only at checkpoints, so a power loss or kernel crash can lose the last few puts (never
 * corrupt the file). synchronous=FULL would close that gap with an fsync per alert — milliseconds
 * each on real disks, on the event loop, during exactly the bursts that matter — while a node that
 * loses power also loses the Falco and workloads that raised the alerts. `synchronous: 'full'` is
 * there for those who want it anyway.
 *
 * The payload is the rendered request, which includes the destination URL (for some services a
 * secret); the file is created readable by its owner only.
 */
export class Spool {
  private readonly db: SqliteDatabase;
  private readonly statements: {
    insert: SqliteStatement;
    pending: SqliteStatement;
    get: SqliteStatement;
    remove: SqliteStatement;
    attempt: SqliteStatement;
    lowest: SqliteStatement;
  };
  private readonly counts = new Map<string, number>();
  private total = 0;
  private readonly listeners = new Set<(evicted: SpoolEntryInfo[]) => void>();
  private closed = false;

  constructor(private readonly options: SpoolOptions) {
    const { path } = options;
    let db: SqliteDatabase | undefined;
    try {
      if (path !== ':memory:') {
        mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
        // Create the file ourselves so it is 0600 (SQLite gives its -wal and -shm files the same mode).
        closeSync(openSync(path, 'a', 0o600));
      }
      db = openSqlite(path);
      this.db = db;
      this.db.pragma('journal_mode = WAL');
      this.db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
      const version = Number(this.db.pragma('user_version', { simple: true }));
      if (version > SCHEMA_VERSION) {
        throw new Error(
          `it was written by a newer Perch (spool schema ${version}, this one knows ${SCHEMA_VERSION})`,
        );
      }
      this.db.exec(`
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
        insert: this.db.prepare(
          'INSERT INTO spool (sink, priority, created_ms, attempts, payload) VALUES (?, ?, ?, 0, ?)',
        ),
        pending: this.db.prepare('SELECT * FROM spool WHERE sink = ? AND id > ? ORDER BY id LIMIT ?'),
        get: this.db.prepare('SELECT * FROM spool WHERE id = ?'),
        remove: this.db.prepare('DELETE FROM spool WHERE id = ? RETURNING sink'),
        attempt: this.db.prepare('UPDATE spool SET attempts = attempts + 1 WHERE id = ?'),
        lowest: this.db.prepare(
          'SELECT id, sink, priority, created_ms, attempts FROM spool ORDER BY priority, id LIMIT ?',
        ),
      };
      const rows = this.db.prepare('SELECT sink, COUNT(*) AS n FROM spool GROUP BY sink').all() as {
        sink: string;
        n: number;
      }[];
      for (const { sink, n } of rows) this.adjust(sink, n);
    } catch (err) {
      db?.close();
      // Without this, "file is not a database" says nothing about which file or what to do.
      throw new Error(
        `cannot open the delivery spool ${path}: ${(err as Error).message} (move the file aside to start with an empty spool)`,
        { cause: err },
      );
    }
  }

  get path(): string {
    return this.options.path;
  }

  /**
   * Writes an entry and returns its id once it is committed (see the class comment for what that
   * survives). When the spool is over maxEntries, evicts at once (listeners hear of it) — possibly
   * this very entry, if it is the only one of the lowest priority: use `has(id)` to know.
   */
  put(sink: string, priority: number, payload: string, createdMs = Date.now()): number {
    const id = Number(this.statements.insert.run(sink, priority, createdMs, payload).lastInsertRowid);
    this.adjust(sink, 1);
    this.evictOverflow();
    return id;
  }

  /** Up to `limit` entries of a sink after `afterId`, oldest (lowest id) first: page with the last id seen. */
  pending(sink: string, limit: number, afterId = 0): SpoolEntry[] {
    return (this.statements.pending.all(sink, afterId, limit) as Row[]).map(fromRow);
  }

  get(id: number): SpoolEntry | undefined {
    const row = this.statements.get.get(id) as Row | undefined;
    return row && fromRow(row);
  }

  has(id: number): boolean {
    return this.statements.get.get(id) !== undefined;
  }

  /** Returns false when the entry was not there (already removed or evicted). */
  remove(id: number): boolean {
    const row = this.statements.remove.get(id) as { sink: string } | undefined;
    if (!row) return false;
    this.adjust(row.sink, -1);
    return true;
  }

  recordAttempt(id: number): void {
    this.statements.attempt.run(id);
  }

  /** Entries of one sink, or of all; kept in memory, so cheap enough for every scrape. */
  count(sink?: string): number {
    return sink === undefined ? this.total : (this.counts.get(sink) ?? 0);
  }

  /** Evicts the oldest entries of the lowest priority until the spool fits; returns them (also told to listeners). */
  evictOverflow(): SpoolEntryInfo[] {
    const excess = this.total - this.options.maxEntries;
    if (excess <= 0) return [];
    const evicted = this.db.transaction(() => {
      const rows = this.statements.lowest.all(excess) as Omit<Row, 'payload'>[];
      for (const row of rows) this.statements.remove.get(row.id);
      return rows;
    })();
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
    this.db.close();
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
