import type { ColumnType } from 'kysely';
import type { PipelineTables } from './pipeline-schema.js';

/**
 * Table shapes as Kysely sees them. Times are epoch milliseconds in a 64-bit integer column (SQLite
 * INTEGER, PostgreSQL BIGINT): both engines round-trip them exactly and compare them cheaply. `pg`
 * returns BIGINT as a string, so reads are typed `number | string` and go through `Number()`.
 */
export type EpochMs = ColumnType<number | string, number, number>;

export interface AuditLogTable {
  id: string;
  at: EpochMs;
  actor_id: string;
  actor_name: string | null;
  source: string;
  command: string;
  args: string;
  channel_id: string | null;
  target: string | null;
  outcome: string;
  detail: string | null;
  correlation_id: string;
  duration_ms: number | null;
}

export interface ChangeRequestsTable {
  id: string;
  kind: string;
  target: string;
  forge: string;
  project: string;
  base_branch: string;
  branch: string;
  base_sha: string | null;
  head_sha: string | null;
  mr_number: number | null;
  mr_url: string | null;
  requested_by: string;
  approved_by: string | null;
  requested_by_name: string | null;
  approved_by_name: string | null;
  status: string;
  plan: string;
  slack_channel: string | null;
  slack_thread_ts: string | null;
  slack_status_ts: string | null;
  created_at: EpochMs;
  updated_at: EpochMs;
}

export interface LocksTable {
  name: string;
  holder: string;
  expires_at: EpochMs;
}

export interface Database extends PipelineTables {
  audit_log: AuditLogTable;
  change_requests: ChangeRequestsTable;
  locks: LocksTable;
}

export type Engine = 'sqlite' | 'postgres';
