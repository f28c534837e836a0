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

/**
 * Records a CLI run in the same audit log as Slack commands (SQLite under store.dataDir, or DATABASE_URL).
 * Auditing must never hide the answer: a store that cannot be opened is reported on stderr and skipped.
 */
export const recordCliRun = async (
  io: CliIo,
  entry: {
    readonly command: string;
    readonly args: readonly string[];
    readonly target: string | null;
    readonly outcome: AuditOutcome;
    readonly detail?: string | null;
    readonly startedAt: Date;
    readonly configPath?: string | undefined;
  },
): Promise<void> => {
  if (io.env.OPSBOT_NO_AUDIT === '1') return;
  try {
    const configPath = entry.configPath ?? io.env.OPSBOT_CONFIG ?? null;
    const config = loadConfig(io.env, configPath ? resolve(io.cwd, configPath) : null);
    const { openStore } = await import('../store/open.js');
    const store = await openStore({
      databaseUrl: config.secrets.DATABASE_URL,
      dataDir: resolve(io.cwd, config.store.dataDir),
      now: io.now,
    });
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
};
