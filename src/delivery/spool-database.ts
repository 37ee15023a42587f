import { closeSync, existsSync, mkdirSync, openSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '../logging/logger.js';
import { openSqlite, type SqliteDatabase } from './sqlite.js';

export interface SpoolDatabaseOptions {
  path: string;
  /**
   * `normal` (default): a commit survives a crash or kill of Perch, but the last commits before a
   * power loss or kernel crash may be lost. `full`: survives those too, at the cost of an fsync per commit.
   */
  synchronous?: 'normal' | 'full';
  /**
   * Group commit: writes made during one turn of the event loop share one transaction, committed
   * right after that turn (setImmediate). Off: every write is its own transaction.
   */
  groupCommit?: boolean;
  /** While the spool cannot be written, how often to try again (default 10 s). */
  retryMs?: number;
  log?: Logger;
  /** Told whenever the spool stops or starts being writable. */
  onStateChange?: (up: boolean) => void;
}

/** Thrown by writes while the spool cannot be written: the caller keeps the alert in memory. */
export class SpoolUnavailableError extends Error {
  constructor(reason: string) {
    super(`the spool cannot be written: ${reason}`);
    this.name = 'SpoolUnavailableError';
  }
}

/** A schema that a newer Perch wrote; moved aside like a corrupt file rather than misread. */
class NewerSchemaError extends Error {}

type CommitListener = (committed: boolean) => void;

/**
 * The SQLite file behind the spool, kept usable whatever the disk does:
 *
 * - Opening never throws. A file that is not a database (corrupt, or from a newer Perch) is moved
 *   aside to `<path>.corrupt-<time>` and a fresh one is created; a file that cannot be created or
 *   written (full disk, read-only volume, permissions) leaves the spool *down*: writes throw
 *   SpoolUnavailableError (callers keep alerts in memory and count them) and a timer tries again
 *   every `retryMs` until the disk takes writes again.
 * - A write that fails while running (SQLITE_FULL, an I/O error) rolls back its transaction,
 *   tells the transaction's listeners (their entries are not on disk), and takes the spool down
 *   the same way; reads of what is already on disk keep working.
 * - Users register `onOpen` to create their tables and prepare statements, again after every reopen.
 */
export class SpoolDatabase {
  private db?: SqliteDatabase;
  private inTransaction = false;
  private commitTimer?: NodeJS.Immediate;
  private listeners: CommitListener[] = [];
  private readonly openHooks: ((db: SqliteDatabase) => void)[] = [];
  private readonly recoverHooks: (() => void)[] = [];
  private readonly beforeCommitHooks: ((db: SqliteDatabase) => void)[] = [];
  private problem?: string;
  private retryTimer?: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly options: SpoolDatabaseOptions) {
    this.open();
  }

  get path(): string {
    return this.options.path;
  }

  /** Undefined while writable; otherwise why not (for /readyz and logs). */
  get downReason(): string | undefined {
    return this.problem;
  }

  get up(): boolean {
    return this.problem === undefined;
  }

  /** Runs now (when open) and after every reopen: create tables, prepare statements. */
  onOpen(hook: (db: SqliteDatabase) => void): void {
    this.openHooks.push(hook);
    if (!this.db) return;
    try {
      hook(this.db);
    } catch (err) {
      // The file opened but its content is not what this Perch can use: the same as failing to open.
      this.db.close();
      this.db = undefined;
      this.recoverFromOpenFailure(err);
    }
  }

  /** Runs inside each transaction right before it commits: writes that were worth deferring till then. */
  onBeforeCommit(hook: (db: SqliteDatabase) => void): void {
    this.beforeCommitHooks.push(hook);
  }

  /** Hears whether the transaction now open reaches the disk (for writes made in an onBeforeCommit hook). */
  onThisCommit(listener: CommitListener): void {
    this.listeners.push(listener);
  }

  /** Opens the transaction of this turn (and schedules its commit) without writing yet. */
  begin(): void {
    this.write(() => undefined);
  }

  /** Runs whenever the spool becomes writable again after being down. */
  onRecover(hook: () => void): void {
    this.recoverHooks.push(hook);
  }

  /** Runs a read; throws SpoolUnavailableError when the file could not be opened at all. */
  read<T>(fn: (db: SqliteDatabase) => T): T {
    if (!this.db) throw new SpoolUnavailableError(this.problem ?? 'closed');
    return fn(this.db);
  }

  /**
   * Runs a write inside the current transaction (one per event-loop turn with group commit).
   * `onCommit` hears whether it reached the disk: true after the commit, false when the
   * transaction was rolled back by a failure (the write is then lost, and so are the others of
   * its transaction). Throws SpoolUnavailableError, having called nothing, while the spool is down.
   */
  write<T>(fn: (db: SqliteDatabase) => T, onCommit?: CommitListener): T {
    const db = this.db;
    if (!db || this.problem !== undefined) throw new SpoolUnavailableError(this.problem ?? 'closed');
    try {
      if (!this.inTransaction) {
        db.exec('BEGIN');
        this.inTransaction = true;
        if (this.options.groupCommit) this.commitTimer = setImmediate(() => this.commit());
      }
      const result = fn(db);
      if (this.options.groupCommit) {
        if (onCommit) this.listeners.push(onCommit);
        return result;
      }
      this.commit();
      if (this.problem !== undefined) throw new SpoolUnavailableError(this.problem);
      onCommit?.(true);
      return result;
    } catch (err) {
      if (err instanceof SpoolUnavailableError) throw err;
      this.fail(err);
      throw new SpoolUnavailableError(this.problem ?? describe(err));
    }
  }

  /** Commits what the current turn wrote, now: before a position file is saved, before shutdown. */
  commit(): void {
    if (this.commitTimer) clearImmediate(this.commitTimer);
    this.commitTimer = undefined;
    if (!this.inTransaction || !this.db) return;
    try {
      for (const hook of this.beforeCommitHooks) hook(this.db);
      this.db.exec('COMMIT');
      this.inTransaction = false;
      this.settle(true);
    } catch (err) {
      this.fail(err);
    }
  }

  /** Resolves once everything written so far is committed (or known lost, the spool then down). */
  committed(): Promise<void> {
    if (!this.inTransaction) return Promise.resolve();
    return new Promise((resolve) => this.listeners.push(() => resolve()));
  }

  close(): void {
    if (this.closed) return;
    this.commit();
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.db?.close();
    this.db = undefined;
  }

  private settle(committed: boolean): void {
    const listeners = this.listeners;
    this.listeners = [];
    for (const listener of listeners) listener(committed);
  }

  /** A write failed: undo the transaction, tell its writers, go down until a probe write succeeds. */
  private fail(err: unknown): void {
    if (this.commitTimer) clearImmediate(this.commitTimer);
    this.commitTimer = undefined;
    if (this.inTransaction) {
      try {
        this.db?.exec('ROLLBACK');
      } catch {
        // SQLite may already have rolled back on SQLITE_FULL or an I/O error; nothing else to undo.
      }
      this.inTransaction = false;
    }
    this.goDown(`writing ${this.options.path} failed: ${describe(err)}`);
    this.settle(false);
  }

  private goDown(reason: string): void {
    const wasUp = this.problem === undefined;
    this.problem = reason;
    if (wasUp) {
      this.options.log?.error(
        { path: this.options.path, reason, retryInMs: this.retryMs },
        'spool unavailable: alerts are kept in memory only until it can be written again',
      );
      this.options.onStateChange?.(false);
    }
    this.scheduleRetry();
  }

  private get retryMs(): number {
    return this.options.retryMs ?? 10_000;
  }

  private scheduleRetry(): void {
    if (this.closed || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.tryRecover();
    }, this.retryMs);
    this.retryTimer.unref();
  }

  private tryRecover(): void {
    if (this.closed || this.problem === undefined) return;
    if (this.db && this.probe(this.db)) {
      this.recovered();
      return;
    }
    // A handle that failed once may stay broken: start from a fresh one.
    this.db?.close();
    this.db = undefined;
    if (this.open() && this.db && this.probe(this.db)) this.recovered();
    else this.scheduleRetry();
  }

  /** A real write, undone at once: the only sure test that the disk takes writes again. */
  private probe(db: SqliteDatabase): boolean {
    try {
      db.exec('BEGIN IMMEDIATE; INSERT INTO spool_probe (at) VALUES (1); DELETE FROM spool_probe; COMMIT');
      return true;
    } catch (err) {
      try {
        db.exec('ROLLBACK');
      } catch {
        // Nothing was begun.
      }
      this.problem = `writing ${this.options.path} failed: ${describe(err)}`;
      return false;
    }
  }

  private recovered(): void {
    this.problem = undefined;
    this.options.log?.info({ path: this.options.path }, 'spool writable again: alerts are spooled again');
    this.options.onStateChange?.(true);
    for (const hook of this.recoverHooks) hook();
  }

  /** Opens the file (moving a corrupt one aside); on failure the spool is down. True when open. */
  private open(): boolean {
    try {
      this.db = this.openFile(this.options.path);
      return true;
    } catch (err) {
      return this.recoverFromOpenFailure(err);
    }
  }

  private recoverFromOpenFailure(err: unknown): boolean {
    const { path } = this.options;
    if (isNotADatabase(err) && path !== ':memory:') {
      const aside = moveAside(path);
      this.options.log?.error(
        { path, movedTo: aside, reason: describe(err) },
        'the spool file is not a usable database: moved it aside and started an empty spool',
      );
      try {
        this.db = this.openFile(path);
        return true;
      } catch (again) {
        this.goDown(`cannot open ${path}: ${describe(again)}`);
        return false;
      }
    }
    this.goDown(`cannot open ${path}: ${describe(err)}`);
    return false;
  }

  private openFile(path: string): SqliteDatabase {
    if (path !== ':memory:') {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      // Create the file ourselves so it is 0600 (SQLite gives its -wal and -shm files the same mode).
      closeSync(openSync(path, 'a', 0o600));
    }
    const db = openSqlite(path);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${this.options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
      db.exec('CREATE TABLE IF NOT EXISTS spool_probe (at INTEGER)');
      for (const hook of this.openHooks) hook(db);
      return db;
    } catch (err) {
      db.close();
      throw err;
    }
  }
}

/** Raised by a spool user's schema check: the file belongs to a newer Perch. */
export function newerSchema(found: number, known: number): Error {
  return new NewerSchemaError(
    `it was written by a newer Perch (spool schema ${found}, this one knows ${known})`,
  );
}

function isNotADatabase(err: unknown): boolean {
  if (err instanceof NewerSchemaError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT';
}

function moveAside(path: string): string {
  const aside = `${path}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  renameSync(path, aside);
  for (const suffix of ['-wal', '-shm']) {
    // The journal files belong to the moved database; a fresh one must not pick them up.
    if (existsSync(path + suffix)) renameSync(path + suffix, aside + suffix);
  }
  return aside;
}

function describe(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown } | null;
  const message = String(e?.message ?? err);
  return typeof e?.code === 'string' && !message.includes(e.code) ? `${e.code}: ${message}` : message;
}
