import { existsSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { toAuditRow } from './audit-repository.js';
import { MIGRATION_NAMES } from './migration-names.js';
import { SQLITE_FILE_NAME } from './sqlite-file.js';
import type { AuditRecord } from './types.js';

/**
 * Appends one audit row to an existing SQLite store through node:sqlite, without loading Kysely (whose
 * import alone costs a short-lived process about 0.4 s of CPU): for the CLI, which writes one row and exits.
 * It only does so when the file's schema is exactly the current one (every migration applied, nothing newer)
 * and the file is in WAL mode; the row is the one KyselyAuditRepository.record writes (`toAuditRow`).
 * Returns false, having written nothing, whenever that is not so or anything fails (no file yet, a migration
 * pending, a lock held past the busy timeout): the caller then opens the store the full way (openStore),
 * which migrates, and reports its errors in the store's own terms.
 */
export const appendAuditRowToSqlite = (
  dataDir: string,
  entry: AuditRecord,
  options: { busyTimeoutMs: number },
): boolean => {
  const file = path.join(path.resolve(dataDir), SQLITE_FILE_NAME);
  if (!existsSync(file)) return false;
  let db: DatabaseSync | null = null;
  try {
    const row = toAuditRow(entry);
    db = new DatabaseSync(file, { timeout: options.busyTimeoutMs, enableForeignKeyConstraints: true });
    db.exec(`PRAGMA busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs))}`);
    const mode = db.prepare('PRAGMA journal_mode').get() as Record<string, unknown> | undefined;
    if (String(mode ? Object.values(mode)[0] : '').toLowerCase() !== 'wal') return false;
    db.exec('PRAGMA synchronous = NORMAL');
    // The write lock first, as openStore takes it: no migration can run between the check and the insert.
    db.exec('BEGIN IMMEDIATE');
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
        return false;
      }
      const columns = Object.keys(row) as (keyof typeof row)[];
      db.prepare(
        `INSERT INTO audit_log (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`,
      ).run(...columns.map((c) => (row[c] ?? null) as string | number | null));
      db.exec('COMMIT');
      committed = true;
      return true;
    } finally {
      if (!committed) db.exec('ROLLBACK');
    }
  } catch {
    return false;
  } finally {
    if (db?.isOpen) db.close();
  }
};
