import type { Generated } from 'kysely';
import type { EpochMs } from './column-types.js';
import type { InstanceTables } from './instance-schema.js';
import type { PipelineTables } from './pipeline-schema.js';
import type { WatchTables } from './watch-schema.js';

/** Table shapes as Kysely sees them (times: see EpochMs in column-types.ts). */
export type { EpochMs } from './column-types.js';

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
  /** Bumped by every transition: what Slack must show changed. */
  rev: Generated<number>;
  /** The rev the Slack thread (root message + notes) was last brought to. */
  slack_rev: Generated<number>;
  /** 1 while rev > slack_rev (indexed: the reconciler's work list). */
  slack_due: Generated<number>;
  slack_attempts: Generated<number>;
  slack_next_at: EpochMs | null;
  slack_lease_holder: string | null;
  slack_lease_expires_at: EpochMs | null;
  /** The apply lease: the replica working on an approved change, until when. */
  lease_holder: string | null;
  lease_expires_at: EpochMs | null;
  attempts: Generated<number>;
  next_attempt_at: EpochMs | null;
  /** When the forge says the MR reached its recorded state (out-of-order events are older). */
  mr_state_at: EpochMs | null;
  reason: string | null;
  actor: string | null;
  error_ref: string | null;
  superseded_by: string | null;
  thread_url: string | null;
}

export interface ChangeNotesTable {
  id: string;
  change_id: string;
  seq: number;
  kind: string;
  payload: string;
  posted_ts: string | null;
  attempts: Generated<number>;
  created_at: EpochMs;
}

export interface LocksTable {
  name: string;
  holder: string;
  expires_at: EpochMs;
}

export interface Database extends PipelineTables, WatchTables, InstanceTables {
  audit_log: AuditLogTable;
  change_requests: ChangeRequestsTable;
  change_notes: ChangeNotesTable;
  locks: LocksTable;
}

export type Engine = 'sqlite' | 'postgres';
