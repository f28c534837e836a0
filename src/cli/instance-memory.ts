import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { InstanceMemory } from '../playbooks/why-reboot/instance-memory.js';
import type { KnownInstance } from '../store/instance-repository.js';
import { SQLITE_FILE_NAME } from '../store/sqlite-file.js';
import type { Store } from '../store/types.js';

/**
 * The instance memory (src/playbooks/why-reboot/instance-memory.ts) for one CLI run, in the same store as
 * Slack's: a current SQLite file is read and written through node:sqlite directly (src/store/instance-file.ts,
 * a millisecond, no Kysely to load before the first requests leave); PostgreSQL, or a SQLite file that does
 * has a migration pending, through openStore, after the requests have left (a read) or at the end (a write);
 * no store is created for the memory alone (no file yet: nothing is remembered; the audit row creates it).
 * Sightings are written by `flush`, once the answer is out. Never throws: a memory that cannot be read is an
 * empty one, one that cannot be written is skipped (it is a hint for next time).
 */
export interface CliInstanceMemory extends InstanceMemory {
  /** Writes what this run saw; closes what it opened. */
  flush(): Promise<void>;
}

export interface CliStoreSettings {
  readonly databaseUrl: string | undefined;
  readonly dataDir: string;
  readonly busyTimeoutMs: number;
  readonly now: () => Date;
}

export const openCliInstanceMemory = (settings: CliStoreSettings): CliInstanceMemory => {
  const pending: KnownInstance[] = [];
  const postgres = Boolean(settings.databaseUrl?.trim());
  let store: Promise<Store> | null = null;
  const openFull = (): Promise<Store> => {
    store ??= import('../store/open.js').then(({ openStore }) =>
      openStore({ databaseUrl: settings.databaseUrl, dataDir: settings.dataDir, now: settings.now }),
    );
    return store;
  };
  return {
    async find(query) {
      try {
        if (!postgres) {
          const { findKnownInstancesInSqlite } = await import('../store/instance-file.js');
          return (
            findKnownInstancesInSqlite(settings.dataDir, query, { busyTimeoutMs: settings.busyTimeoutMs }) ??
            []
          );
        }
        await new Promise((resolve) => setImmediate(resolve)); // the requests leave before the driver loads
        return await (await openFull()).instances.find(query);
      } catch {
        return [];
      }
    },
    async remember(instances) {
      pending.push(...instances);
    },
    async flush() {
      try {
        if (pending.length > 0) {
          let written = false;
          if (!postgres) {
            const { rememberInstancesInSqlite } = await import('../store/instance-file.js');
            written = rememberInstancesInSqlite(settings.dataDir, pending, {
              busyTimeoutMs: settings.busyTimeoutMs,
            });
          }
          // A store with a migration pending is opened (and migrated) the full way, as the audit row does;
          // none is created for a hint alone (the audit row creates it, unless OPSBOT_NO_AUDIT=1).
          if (!written && (postgres || existsSync(join(settings.dataDir, SQLITE_FILE_NAME)))) {
            await (await openFull()).instances.remember(pending);
          }
        }
      } catch {
        // a hint for next time, never this run's failure
      } finally {
        pending.length = 0;
        const opened = store;
        if (opened) await opened.then((s) => s.close()).catch(() => undefined);
      }
    },
  };
};
