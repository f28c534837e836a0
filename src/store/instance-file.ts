import type { Selectable } from 'kysely';
import {
  type KnownInstance,
  type KnownInstanceQuery,
  toKnownInstance,
  toKnownInstanceRow,
} from './instance-repository.js';
import type { KnownInstancesTable } from './instance-schema.js';
import { withCurrentSqliteStore } from './sqlite-current.js';

/**
 * The instance memory (instance-repository.ts) of an existing SQLite store through node:sqlite, without
 * Kysely: for the CLI, whose first requests must leave before anything heavy loads (as audit-append.ts does
 * for the audit row). Only a file in WAL mode whose applied migrations are exactly the current ones is read
 * or written; otherwise these return null / false, having touched nothing, and the caller goes without the
 * memory (a read) or through openStore (a write).
 */

/** The remembered VMs of that name (KyselyInstanceRepository.find), or null when the file cannot be read this way. */
export const findKnownInstancesInSqlite = (
  dataDir: string,
  query: KnownInstanceQuery,
  options: { busyTimeoutMs: number },
): KnownInstance[] | null =>
  withCurrentSqliteStore(dataDir, options.busyTimeoutMs, 'BEGIN', (db) => {
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
  withCurrentSqliteStore(dataDir, options.busyTimeoutMs, 'BEGIN IMMEDIATE', (db) => {
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
