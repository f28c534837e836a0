import type { Kysely } from 'kysely';
import type { Migration, MigrationProvider } from 'kysely/migration';
import type { Engine } from './schema.js';

/**
 * The schema's history, in code (no migration folder to ship). Append only: a released migration is never
 * edited, a change is a new entry. Names sort in the order they must run.
 */
export interface NamedMigration {
  readonly name: string;
  // biome-ignore lint/suspicious/noExplicitAny: a migration runs against whatever schema existed before it
  up(db: Kysely<any>, engine: Engine): Promise<void>;
}

/** 64-bit integer for epoch milliseconds: INTEGER is already 64-bit in SQLite. */
const int64 = (engine: Engine) => (engine === 'postgres' ? 'bigint' : 'integer');

export const migrations: readonly NamedMigration[] = [
  {
    name: '0001_initial',
    async up(db, engine) {
      await db.schema
        .createTable('audit_log')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('at', int64(engine), (c) => c.notNull())
        .addColumn('actor_id', 'text', (c) => c.notNull())
        .addColumn('actor_name', 'text')
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('command', 'text', (c) => c.notNull())
        .addColumn('args', 'text', (c) => c.notNull())
        .addColumn('channel_id', 'text')
        .addColumn('target', 'text')
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('detail', 'text')
        .addColumn('correlation_id', 'text', (c) => c.notNull())
        .addColumn('duration_ms', 'integer')
        .execute();
      await db.schema.createIndex('audit_log_at').on('audit_log').columns(['at']).execute();
      await db.schema
        .createIndex('audit_log_command_at')
        .on('audit_log')
        .columns(['command', 'at'])
        .execute();
      await db.schema.createIndex('audit_log_actor_at').on('audit_log').columns(['actor_id', 'at']).execute();

      await db.schema
        .createTable('change_requests')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('target', 'text', (c) => c.notNull())
        .addColumn('forge', 'text', (c) => c.notNull())
        .addColumn('project', 'text', (c) => c.notNull())
        .addColumn('base_branch', 'text', (c) => c.notNull())
        .addColumn('branch', 'text', (c) => c.notNull())
        .addColumn('base_sha', 'text')
        .addColumn('head_sha', 'text')
        .addColumn('mr_number', 'integer')
        .addColumn('mr_url', 'text')
        .addColumn('requested_by', 'text', (c) => c.notNull())
        .addColumn('approved_by', 'text')
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('plan', 'text', (c) => c.notNull())
        .addColumn('slack_channel', 'text')
        .addColumn('slack_thread_ts', 'text')
        .addColumn('slack_status_ts', 'text')
        .addColumn('created_at', int64(engine), (c) => c.notNull())
        .addColumn('updated_at', int64(engine), (c) => c.notNull())
        .addUniqueConstraint('change_requests_branch_unique', ['forge', 'project', 'branch'])
        .execute();
      // Webhooks find a change by its merge request; the status page lists open changes.
      await db.schema
        .createIndex('change_requests_mr')
        .on('change_requests')
        .columns(['forge', 'project', 'mr_number'])
        .execute();
      await db.schema
        .createIndex('change_requests_status')
        .on('change_requests')
        .columns(['status', 'updated_at'])
        .execute();

      await db.schema
        .createTable('locks')
        .addColumn('name', 'text', (c) => c.primaryKey())
        .addColumn('holder', 'text', (c) => c.notNull())
        .addColumn('expires_at', int64(engine), (c) => c.notNull())
        .execute();
    },
  },
  {
    // MR descriptions name people by handle: a Slack user id means nothing to a reviewer on the forge.
    name: '0002_change_actor_names',
    async up(db) {
      await db.schema.alterTable('change_requests').addColumn('requested_by_name', 'text').execute();
      await db.schema.alterTable('change_requests').addColumn('approved_by_name', 'text').execute();
    },
  },
];

/** Kysely's provider over the in-code list, bound to one engine for the few type differences. */
export const migrationProvider = (engine: Engine): MigrationProvider => ({
  async getMigrations() {
    const out: Record<string, Migration> = {};
    for (const m of migrations) out[m.name] = { up: (db) => m.up(db, engine) };
    return out;
  },
});
