import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import { readSecrets } from '../core/secrets.js';
import { DEFAULT_DATA_DIR } from '../core/store-settings.js';
import type { AuditOutcome, AuditRecord, Store } from '../store/types.js';
import type { CliIo } from './io.js';

export const cliActor = (): string => {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return 'cli:unknown';
  }
};

export interface CliRunEntry {
  readonly command: string;
  readonly args: readonly string[];
  readonly target: string | null;
  readonly outcome: AuditOutcome;
  readonly detail?: string | null;
  readonly startedAt: Date;
  readonly configPath?: string | undefined;
}

export interface CliAudit {
  /** Writes the run's row and closes the store; never throws (a failure is a note on stderr). */
  record(entry: CliRunEntry): Promise<void>;
}

interface StoreSettings {
  readonly databaseUrl: string | undefined;
  readonly dataDir: string;
}

/**
 * Where the audit log is: from the config file when there is one (loadConfig, which validates it), else the
 * default directory and DATABASE_URL(_FILE) from the environment, without building the config schema.
 */
const storeSettings = async (io: CliIo, configPath: string | undefined): Promise<StoreSettings> => {
  const path = configPath ?? io.env.OPSBOT_CONFIG ?? null;
  if (!path) {
    return { databaseUrl: readSecrets(io.env).DATABASE_URL, dataDir: resolve(io.cwd, DEFAULT_DATA_DIR) };
  }
  const { loadConfig } = await import('../core/config.js');
  const config = loadConfig(io.env, resolve(io.cwd, path));
  return { databaseUrl: config.secrets.DATABASE_URL, dataDir: resolve(io.cwd, config.store.dataDir) };
};

const openFor = async (settings: StoreSettings, io: CliIo): Promise<Store> => {
  const { openStore } = await import('../store/open.js');
  return openStore({ databaseUrl: settings.databaseUrl, dataDir: settings.dataDir, now: io.now });
};

/**
 * Starts finding the audit store now, so a command that waits on the network pays for it in parallel;
 * `record` writes the row at the end. Records in the same audit log as Slack commands (SQLite under
 * store.dataDir, or DATABASE_URL). PostgreSQL opens now (the pool, its migrations). SQLite whose schema is
 * current gets the row appended directly through node:sqlite (src/store/audit-append.ts: no Kysely to load,
 * which would cost a short CLI run more than its own work); a new file or a pending migration opens the store
 * the full way. Auditing must never hide the answer: a store that cannot be opened is reported on stderr
 * and skipped.
 */
export const startCliAudit = (io: CliIo, configPath?: string | undefined): CliAudit => {
  if (io.env.OPSBOT_NO_AUDIT === '1') return { record: async () => {} };
  const opening = (async () => {
    const settings = await storeSettings(io, configPath);
    return { settings, store: settings.databaseUrl?.trim() ? await openFor(settings, io) : null };
  })();
  opening.catch(() => undefined); // reported by record()
  return {
    async record(entry) {
      try {
        const opened = await opening;
        const at = io.now();
        const row: AuditRecord = {
          at,
          actorId: cliActor(),
          source: 'cli',
          command: entry.command,
          args: entry.args.join(' ').slice(0, 2000),
          target: entry.target,
          outcome: entry.outcome,
          detail: entry.detail ?? null,
          correlationId: crypto.randomUUID(),
          durationMs: at.getTime() - entry.startedAt.getTime(),
        };
        if (opened.store === null) {
          const [{ appendAuditRowToSqlite }, { DEFAULT_SQLITE_BUSY_TIMEOUT_MS }] = await Promise.all([
            import('../store/audit-append.js'),
            import('../store/sqlite-file.js'),
          ]);
          const busyTimeoutMs = DEFAULT_SQLITE_BUSY_TIMEOUT_MS;
          if (appendAuditRowToSqlite(opened.settings.dataDir, row, { busyTimeoutMs })) return;
        }
        const store = opened.store ?? (await openFor(opened.settings, io));
        try {
          await store.audit.record(row);
        } finally {
          await store.close();
        }
      } catch (err) {
        const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
        io.stderr.write(`opsbot: note: this run was not recorded in the audit log (${message})\n`);
      }
    },
  };
};

/** Records a CLI run now (opening the store, writing the row, closing it): see startCliAudit. */
export const recordCliRun = (io: CliIo, entry: CliRunEntry): Promise<void> =>
  startCliAudit(io, entry.configPath).record(entry);
