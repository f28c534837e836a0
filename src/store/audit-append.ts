import { toAuditRow } from './audit-repository.js';
import { withCurrentSqliteStore } from './sqlite-current.js';
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
  return (
    withCurrentSqliteStore(dataDir, options.busyTimeoutMs, 'BEGIN IMMEDIATE', (db) => {
      const row = toAuditRow(entry);
      const columns = Object.keys(row) as (keyof typeof row)[];
      db.prepare(
        `INSERT INTO audit_log (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`,
      ).run(...columns.map((c) => (row[c] ?? null) as string | number | null));
      return true;
    }) ?? false
  );
};
