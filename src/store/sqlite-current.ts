import { existsSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { MIGRATION_NAMES } from './migration-names.js';
import { SQLITE_FILE_NAME } from './sqlite-file.js';

/**
 * Runs `fn` in one transaction on an existing SQLite store through node:sqlite, without Kysely (whose import
 * alone costs a short-lived CLI process about 0.4 s of CPU): the CLI's audit row (audit-append.ts) and instance
 * memory (instance-file.ts). Only a file in WAL mode whose applied migrations are exactly the current ones is
 * used, under a snapshot (`BEGIN`) or the write lock (`BEGIN IMMEDIATE`, as openStore takes it), so no
 * migration can run between the check and the use. Returns null, having changed nothing, when that is not so
 * or anything fails (no file yet, a migration pending, a lock held past the busy timeout): the caller then goes
 * without, or through openStore, which migrates and reports errors in the store's own terms.
 */
export const withCurrentSqliteStore = <T>(
  dataDir: string,
  busyTimeoutMs: number,
  begin: 'BEGIN' | 'BEGIN IMMEDIATE',
  fn: (db: DatabaseSync) => T,
): T | null => {
  const file = path.join(path.resolve(dataDir), SQLITE_FILE_NAME);
  if (!existsSync(file)) return null;
  let db: DatabaseSync | null = null;
  try {
    db = new DatabaseSync(file, { timeout: busyTimeoutMs, enableForeignKeyConstraints: true });
    db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.trunc(busyTimeoutMs))}`);
    const mode = db.prepare('PRAGMA journal_mode').get() as Record<string, unknown> | undefined;
    if (String(mode ? Object.values(mode)[0] : '').toLowerCase() !== 'wal') return null;
    db.exec('PRAGMA synchronous = NORMAL');
    // A snapshot (read) or the write lock (write) first: no migration can run between the check and the use.
    db.exec(begin);
    let committed = false;
    try {
      const applied = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'kysely_migration'")
        .get()
        ? (db.prepare('SELECT name FROM kysely_migration ORDER BY name').all() as { name: string }[]).map(
            (r) => r.name,
          )
        : [];
      if (applied.length !== MIGRATION_NAMES.length || applied.some((n, i) => n !== MIGRATION_NAMES[i])) {
        return null;
      }
      const result = fn(db);
      db.exec('COMMIT');
      committed = true;
      return result;
    } finally {
      if (!committed) db.exec('ROLLBACK');
    }
  } catch {
    return null;
  } finally {
    if (db?.isOpen) db.close();
  }
};
