import { type Kysely, sql } from 'kysely';
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
  {
    // One change lifecycle: a finished change (merged, closed, cancelled, superseded) no longer holds its
    // branch, so the unique (forge, project, branch) becomes a partial index over the changes that still hold
    // one; apply leases (any replica resumes a change whose lease expired); the Slack state a reconciler
    // brings the thread to (rev vs slack_rev, with its own lease and backoff); thread notes as a durable
    // outbox written in the same transaction as the transition that makes them.
    name: '0003_change_lifecycle',
    async up(db, engine) {
      const big = int64(engine);
      if (engine === 'postgres') {
        await sql`alter table change_requests drop constraint change_requests_branch_unique`.execute(db);
      } else {
        // SQLite cannot drop a table constraint: rebuild the table without it (same columns, same data).
        await sql`alter table change_requests rename to change_requests_0002`.execute(db);
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
          .addColumn('created_at', big, (c) => c.notNull())
          .addColumn('updated_at', big, (c) => c.notNull())
          .addColumn('requested_by_name', 'text')
          .addColumn('approved_by_name', 'text')
          .execute();
        await sql`insert into change_requests select id, kind, target, forge, project, base_branch, branch, base_sha, head_sha, mr_number, mr_url, requested_by, approved_by, status, plan, slack_channel, slack_thread_ts, slack_status_ts, created_at, updated_at, requested_by_name, approved_by_name from change_requests_0002`.execute(
          db,
        );
        await sql`drop table change_requests_0002`.execute(db);
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
      }
      const columns: Array<[string, string, boolean]> = [
        ['rev', 'integer', true],
        ['slack_rev', 'integer', true],
        ['slack_due', 'integer', true],
        ['slack_attempts', 'integer', true],
        ['attempts', 'integer', true],
      ];
      for (const [name, type, zero] of columns) {
        await db.schema
          .alterTable('change_requests')
          .addColumn(name, sql.raw(type), (c) => (zero ? c.notNull().defaultTo(0) : c))
          .execute();
      }
      for (const name of [
        'slack_next_at',
        'slack_lease_expires_at',
        'lease_expires_at',
        'next_attempt_at',
        'mr_state_at',
      ]) {
        await db.schema.alterTable('change_requests').addColumn(name, sql.raw(big)).execute();
      }
      for (const name of [
        'slack_lease_holder',
        'lease_holder',
        'reason',
        'actor',
        'error_ref',
        'superseded_by',
        'thread_url',
      ]) {
        await db.schema.alterTable('change_requests').addColumn(name, 'text').execute();
      }
      // The change that holds a branch now; finished ones keep their row (and thread) as history.
      await sql`create unique index change_requests_active_branch on change_requests (forge, project, branch) where status in ('planned', 'approved', 'applying', 'open', 'failed')`.execute(
        db,
      );
      await db.schema
        .createIndex('change_requests_branch')
        .on('change_requests')
        .columns(['forge', 'project', 'branch', 'created_at'])
        .execute();
      await db.schema
        .createIndex('change_requests_slack_due')
        .on('change_requests')
        .columns(['slack_due', 'slack_next_at'])
        .execute();

      await db.schema
        .createTable('change_notes')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('change_id', 'text', (c) => c.notNull())
        .addColumn('seq', 'integer', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('posted_ts', 'text')
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', big, (c) => c.notNull())
        .addUniqueConstraint('change_notes_seq_unique', ['change_id', 'seq'])
        .execute();
    },
  },
  {
    // Forge events in (webhook deliveries, kept for de-duplication and crash recovery), followed MRs, the
    // latest known state of their CI, and the Slack messages that show it (see src/store/pipeline-schema.ts).
    name: '0004_pipelines',
    async up(db, engine) {
      const i64 = int64(engine);
      await db.schema
        .createTable('webhook_deliveries')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('event', 'text', (c) => c.notNull())
        .addColumn('received_at', i64, (c) => c.notNull())
        .addColumn('body', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('lease_owner', 'text')
        .addColumn('lease_until', i64, (c) => c.notNull().defaultTo(0))
        .addColumn('correlation_id', 'text', (c) => c.notNull())
        .addColumn('detail', 'text')
        .addColumn('processed_at', i64)
        .execute();
      await db.schema
        .createIndex('webhook_deliveries_status')
        .on('webhook_deliveries')
        .columns(['status', 'lease_until'])
        .execute();
      await db.schema
        .createIndex('webhook_deliveries_received')
        .on('webhook_deliveries')
        .columns(['received_at'])
        .execute();

      await db.schema
        .createTable('followed_mrs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('forge', 'text', (c) => c.notNull())
        .addColumn('repo', 'text', (c) => c.notNull())
        .addColumn('number', 'integer', (c) => c.notNull())
        .addColumn('url', 'text')
        .addColumn('source_branch', 'text')
        .addColumn('head_sha', 'text')
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('state_at', i64, (c) => c.notNull())
        .addColumn('state_rank', 'integer', (c) => c.notNull())
        .addColumn('actor', 'text')
        .addColumn('state_notified', 'text')
        .addColumn('active', 'integer', (c) => c.notNull())
        .addColumn('poll_next_at', i64)
        .addColumn('poll_interval_ms', 'integer', (c) => c.notNull())
        .addColumn('poll_failures', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('lease_owner', 'text')
        .addColumn('lease_until', i64, (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', i64, (c) => c.notNull())
        .addColumn('updated_at', i64, (c) => c.notNull())
        .addUniqueConstraint('followed_mrs_ref', ['forge', 'repo', 'number'])
        .execute();
      await db.schema
        .createIndex('followed_mrs_branch')
        .on('followed_mrs')
        .columns(['forge', 'repo', 'source_branch'])
        .execute();
      await db.schema
        .createIndex('followed_mrs_sha')
        .on('followed_mrs')
        .columns(['forge', 'repo', 'head_sha'])
        .execute();
      await db.schema.createIndex('followed_mrs_poll').on('followed_mrs').columns(['poll_next_at']).execute();

      await db.schema
        .createTable('pipeline_follows')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('mr_id', 'text', (c) => c.notNull().references('followed_mrs.id'))
        .addColumn('channel', 'text', (c) => c.notNull())
        .addColumn('thread_ts', 'text', (c) => c.notNull())
        .addColumn('change_id', 'text')
        .addColumn('followed_by', 'text')
        .addColumn('active', 'integer', (c) => c.notNull())
        .addColumn('stopped_by', 'text')
        .addColumn('end_posted', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('dirty_seq', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('next_sync_at', i64)
        .addColumn('last_synced_at', i64, (c) => c.notNull().defaultTo(0))
        .addColumn('sync_failures', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('lease_owner', 'text')
        .addColumn('lease_until', i64, (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', i64, (c) => c.notNull())
        .addColumn('updated_at', i64, (c) => c.notNull())
        .addUniqueConstraint('pipeline_follows_thread', ['mr_id', 'channel', 'thread_ts'])
        .execute();
      await db.schema
        .createIndex('pipeline_follows_due')
        .on('pipeline_follows')
        .columns(['next_sync_at'])
        .execute();

      await db.schema
        .createTable('ci_pipelines')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('forge', 'text', (c) => c.notNull())
        .addColumn('repo', 'text', (c) => c.notNull())
        .addColumn('pipeline_key', 'text', (c) => c.notNull())
        .addColumn('mr_id', 'text')
        .addColumn('sha', 'text', (c) => c.notNull())
        .addColumn('ref', 'text')
        .addColumn('url', 'text')
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('ordinal', i64, (c) => c.notNull())
        .addColumn('version', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('completion', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('terminal_at', i64)
        .addColumn('created_at', i64, (c) => c.notNull())
        .addColumn('updated_at', i64, (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('ci_pipelines_mr')
        .on('ci_pipelines')
        .columns(['mr_id', 'ordinal'])
        .execute();

      await db.schema
        .createTable('ci_runs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('pipeline_id', 'text', (c) => c.notNull())
        .addColumn('run_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text')
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('url', 'text')
        .addColumn('generation', i64, (c) => c.notNull())
        .addColumn('sequence', i64, (c) => c.notNull())
        .addColumn('rank', 'integer', (c) => c.notNull())
        .addColumn('started_at', i64)
        .addColumn('finished_at', i64)
        .execute();
      await db.schema.createIndex('ci_runs_pipeline').on('ci_runs').columns(['pipeline_id']).execute();

      await db.schema
        .createTable('ci_jobs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('pipeline_id', 'text', (c) => c.notNull())
        .addColumn('run_id', 'text', (c) => c.notNull())
        .addColumn('job_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('stage', 'text')
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('rank', 'integer', (c) => c.notNull())
        .addColumn('url', 'text')
        .addColumn('started_at', i64)
        .addColumn('finished_at', i64)
        .addColumn('failure_reason', 'text')
        .addColumn('allow_failure', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.createIndex('ci_jobs_pipeline').on('ci_jobs').columns(['pipeline_id']).execute();

      await db.schema
        .createTable('pipeline_messages')
        .addColumn('follow_id', 'text', (c) => c.notNull().references('pipeline_follows.id'))
        .addColumn('pipeline_id', 'text', (c) => c.notNull())
        .addColumn('message_ts', 'text', (c) => c.notNull())
        .addColumn('synced_version', 'integer', (c) => c.notNull())
        .addColumn('superseded', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('result_posted', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', i64, (c) => c.notNull())
        .addPrimaryKeyConstraint('pipeline_messages_pk', ['follow_id', 'pipeline_id'])
        .execute();
    },
  },
  {
    // The platform-event watch: its cursor and the groups it posted (src/store/watch-repository.ts).
    name: '0005_watch',
    async up(db, engine) {
      const i64 = int64(engine);
      await db.schema
        .createTable('watch_state')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('cursor_ms', i64, (c) => c.notNull())
        .addColumn('committed_at', i64, (c) => c.notNull())
        .addColumn('last_run_at', i64)
        .addColumn('last_error', 'text')
        .addColumn('last_error_at', i64)
        .execute();
      await db.schema
        .createTable('watch_groups')
        .addColumn('group_key', 'text', (c) => c.primaryKey())
        .addColumn('cause', 'text', (c) => c.notNull())
        .addColumn('zone', 'text', (c) => c.notNull())
        .addColumn('from_ms', i64, (c) => c.notNull())
        .addColumn('to_ms', i64, (c) => c.notNull())
        .addColumn('vms', 'integer', (c) => c.notNull())
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('channel', 'text', (c) => c.notNull())
        .addColumn('ts', 'text')
        .addColumn('created_at', i64, (c) => c.notNull())
        .addColumn('updated_at', i64, (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex('watch_groups_span')
        .on('watch_groups')
        .columns(['cause', 'zone', 'from_ms'])
        .execute();
    },
  },
  {
    name: '0006_known_instances',
    async up(db, engine) {
      await db.schema
        .createTable('known_instances')
        .addColumn('project', 'text', (c) => c.notNull())
        .addColumn('zone', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('instance_id', 'text', (c) => c.notNull())
        .addColumn('creation_timestamp', 'text')
        .addColumn('seen_at', int64(engine), (c) => c.notNull())
        .addPrimaryKeyConstraint('known_instances_pk', ['project', 'name', 'zone'])
        .execute();
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
