import { existsSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { Selectable } from 'kysely';
import {
  type KnownInstance,
  type KnownInstanceQuery,
  toKnownInstance,
  toKnownInstanceRow,
} from './instance-repository.js';
import type { KnownInstancesTable } from './instance-schema.js';
import { MIGRATION_NAMES } from './migration-names.js';
import { SQLITE_FILE_NAME } from './sqlite-file.js';

/**
 * The instance memory (instance-repository.ts) of an existing SQLite store through node:sqlite, without
 * Kysely: for the CLI, whose first requests must leave before anything heavy loads (as audit-append.ts does
 * for the audit row). Only a file in WAL mode whose applied migrations are exactly the current ones is read
 * or written; otherwise these return null / false, having touched nothing, and the caller goes without the
 * memory (a read) or through openStore (a write).
 */

const withCurrentStore = <T>(
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

/** The remembered VMs of that name (KyselyInstanceRepository.find), or null when the file cannot be read this way. */
export const findKnownInstancesInSqlite = (
  dataDir: string,
  query: KnownInstanceQuery,
  options: { busyTimeoutMs: number },
): KnownInstance[] | null =>
  withCurrentStore(dataDir, options.busyTimeoutMs, 'BEGIN', (db) => {
    const rows = (query.zone === null
      ? db
          .prepare('SELECT * FROM known_instances WHERE project = ? AND name = ? ORDER BY seen_at DESC')
          .all(query.project, query.name)
      : db
          .prepare(
            'SELECT * FROM known_instances WHERE project = ? AND name = ? AND zone = ? ORDER BY seen_at DESC',
          )
          .all(query.project, query.name, query.zone)) as unknown as Selectable<KnownInstancesTable>[];
    return rows.map(toKnownInstance);
  });

/** KyselyInstanceRepository.remember's upsert; false (nothing written) when the file cannot be written this way. */
export const rememberInstancesInSqlite = (
  dataDir: string,
  instances: readonly KnownInstance[],
  options: { busyTimeoutMs: number },
): boolean =>
  withCurrentStore(dataDir, options.busyTimeoutMs, 'BEGIN IMMEDIATE', (db) => {
    const upsert = db.prepare(
      `INSERT INTO known_instances (project, zone, name, instance_id, creation_timestamp, seen_at)
       VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (project, name, zone) DO UPDATE SET
         instance_id = excluded.instance_id,
         creation_timestamp = excluded.creation_timestamp,
         seen_at = excluded.seen_at
       WHERE known_instances.seen_at <= excluded.seen_at`,
    );
    for (const k of instances) {
      const r = toKnownInstanceRow(k);
      upsert.run(r.project, r.zone, r.name, r.instance_id, r.creation_timestamp ?? null, r.seen_at);
    }
    return true;
  }) === true;
