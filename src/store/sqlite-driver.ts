import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import type { SqliteDatabase, SqliteStatement } from 'kysely';

/**
 * Adapts Node's built-in `node:sqlite` (no native build) to the better-sqlite3-shaped object Kysely's
 * `SqliteDialect` expects. Kysely runs every query of one dialect on this single connection, one at a time.
 */

export interface SqliteFileOptions {
  /** How long a writer waits for another process's write lock before SQLITE_BUSY. */
  readonly busyTimeoutMs: number;
}

/** Prepared statements are reused: opsbot issues a small, fixed set of query shapes. */
const STATEMENT_CACHE_SIZE = 64;

const toParams = (parameters: ReadonlyArray<unknown>): SQLInputValue[] =>
  parameters.map((p) => {
    if (typeof p === 'boolean') return p ? 1 : 0;
    if (p === undefined) return null;
    return p as SQLInputValue;
  });

export class NodeSqliteDatabase implements SqliteDatabase {
  readonly #db: DatabaseSync;
  readonly #cache = new Map<string, StatementSync>();

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  get isOpen(): boolean {
    return this.#db.isOpen;
  }

  prepare(sql: string): SqliteStatement {
    let stmt = this.#cache.get(sql);
    if (stmt) {
      // Refresh its place so the cache evicts the least recently used shape.
      this.#cache.delete(sql);
    } else {
      stmt = this.#db.prepare(sql);
      if (this.#cache.size >= STATEMENT_CACHE_SIZE) {
        const oldest = this.#cache.keys().next().value;
        if (oldest !== undefined) this.#cache.delete(oldest);
      }
    }
    this.#cache.set(sql, stmt);
    const s = stmt;
    return {
      reader: s.columns().length > 0,
      all: (parameters) => s.all(...toParams(parameters)),
      run: (parameters) => {
        const { changes, lastInsertRowid } = s.run(...toParams(parameters));
        return { changes, lastInsertRowid };
      },
      iterate: (parameters) => s.iterate(...toParams(parameters)),
    };
  }

  /** Runs one or more statements that return nothing (PRAGMAs, DDL). */
  exec(sql: string): void {
    this.#db.exec(sql);
  }

  /** Reads one PRAGMA value, e.g. `journal_mode`. */
  pragma(name: string): unknown {
    const row = this.#db.prepare(`PRAGMA ${name}`).get() as Record<string, unknown> | undefined;
    return row ? Object.values(row)[0] : undefined;
  }

  close(): void {
    this.#cache.clear();
    if (this.#db.isOpen) this.#db.close();
  }
}

const SQLITE_BUSY = 5;
const isBusy = (err: unknown): boolean =>
  typeof err === 'object' && err !== null && (err as { errcode?: unknown }).errcode === SQLITE_BUSY;
const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * Runs `step` again while SQLite answers SQLITE_BUSY, for up to `timeoutMs`, for the statements SQLite fails
 * at once instead of calling its busy handler: switching a file to WAL needs the exclusive lock, and while
 * another process holds the write lock (BEGIN IMMEDIATE, as a second opsbot migrating the same fresh file
 * does) SQLite returns "database is locked" without waiting, to avoid a deadlock. The connection holds no
 * lock between tries, so waiting here cannot deadlock. Synchronous, like node:sqlite itself.
 */
const untilNotBusy = <T>(step: () => T, timeoutMs: number): T => {
  const deadline = performance.now() + timeoutMs;
  for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
    try {
      return step();
    } catch (err) {
      const left = deadline - performance.now();
      if (!isBusy(err) || left <= 0) throw err;
      Atomics.wait(pause, 0, 0, Math.min(delay + Math.random() * delay, left));
    }
  }
};

/**
 * Opens (creating if needed) a SQLite file for a long-lived service: WAL so readers never block the writer,
 * a busy timeout so a second process (the CLI next to the server) waits instead of failing with
 * SQLITE_BUSY, NORMAL sync (durable across application crashes in WAL mode), foreign keys on.
 */
export const openSqliteFile = (file: string, options: SqliteFileOptions): NodeSqliteDatabase => {
  const raw = new DatabaseSync(file, { timeout: options.busyTimeoutMs, enableForeignKeyConstraints: true });
  const db = new NodeSqliteDatabase(raw);
  try {
    db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs))}`);
    const mode = untilNotBusy(() => db.pragma('journal_mode = WAL'), options.busyTimeoutMs);
    if (String(mode).toLowerCase() !== 'wal') {
      throw new Error(`SQLite refused WAL journal mode (got ${String(mode)})`);
    }
    db.exec('PRAGMA synchronous = NORMAL');
    db.exec('PRAGMA foreign_keys = ON');
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
};
