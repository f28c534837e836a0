import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import { loadConfig } from '../core/config.js';
import type { AuditOutcome } from '../store/types.js';
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

/**
 * Starts opening the audit store now (the store module, its migrations, the SQLite file or PostgreSQL pool),
 * so a command that waits on the network pays for it in parallel; `record` writes the row at the end.
 * Records in the same audit log as Slack commands (SQLite under store.dataDir, or DATABASE_URL). Auditing
 * must never hide the answer: a store that cannot be opened is reported on stderr and skipped.
 */
export const startCliAudit = (io: CliIo, configPath?: string | undefined): CliAudit => {
  if (io.env.OPSBOT_NO_AUDIT === '1') return { record: async () => {} };
  const opening = (async () => {
    const path = configPath ?? io.env.OPSBOT_CONFIG ?? null;
    const config = loadConfig(io.env, path ? resolve(io.cwd, path) : null);
    const { openStore } = await import('../store/open.js');
    return openStore({
      databaseUrl: config.secrets.DATABASE_URL,
      dataDir: resolve(io.cwd, config.store.dataDir),
      now: io.now,
    });
  })();
  opening.catch(() => undefined); // reported by record()
  return {
    async record(entry) {
      try {
        const store = await opening;
        try {
          const at = io.now();
          await store.audit.record({
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
          });
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
