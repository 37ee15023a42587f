import { createRequire } from 'node:module';

/**
 * The part of better-sqlite3's API the spool uses, typed here because the package ships no types
 * (and @types/better-sqlite3 is not a dependency). Synchronous by design: a write returns once it
 * is in the database, which is what lets `Spool.put` say "on disk" before an alert counts as accepted.
 */
export interface SqliteStatement {
  run(...params: unknown[]): { changes: number; lastInsertRowid: number | bigint };
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
}

export interface SqliteDatabase {
  prepare(sql: string): SqliteStatement;
  exec(sql: string): void;
  pragma(source: string, options?: { simple?: boolean }): unknown;
  transaction<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R;
  close(): void;
}

type SqliteConstructor = new (path: string, options?: { timeout?: number }) => SqliteDatabase;

// better-sqlite3 is CommonJS; createRequire loads it without an `any`-typed default import.
const require = createRequire(import.meta.url);

export function openSqlite(path: string): SqliteDatabase {
  const Database = require('better-sqlite3') as SqliteConstructor;
  return new Database(path);
}
