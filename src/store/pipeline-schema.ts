import type { EpochMs } from './column-types.js';

/**
 * Tables of migration 0004_pipelines: forge webhook deliveries, followed merge requests, the latest known state
 * of their CI (pipelines, runs, jobs), and the Slack messages that show it. Flags are 0/1 integers on both
 * engines; large forge ids and times are 64-bit (read back through Number()).
 */

/** A 64-bit integer column that is not a time (forge ids, versions); pg returns BIGINT as a string. */
type Int64 = EpochMs;

export interface WebhookDeliveriesTable {
  id: string;
  source: string;
  event: string;
  received_at: EpochMs;
  body: string;
  status: string; // pending | done | ignored | failed
  attempts: number;
  lease_owner: string | null;
  lease_until: EpochMs;
  correlation_id: string;
  detail: string | null;
  processed_at: EpochMs | null;
}

export interface FollowedMrsTable {
  id: string;
  forge: string;
  repo: string;
  number: number;
  url: string | null;
  source_branch: string | null;
  head_sha: string | null;
  state: string; // open | merged | closed
  state_at: EpochMs;
  state_rank: number;
  actor: string | null;
  state_notified: string | null;
  active: number;
  poll_next_at: EpochMs | null;
  poll_interval_ms: number;
  poll_failures: number;
  lease_owner: string | null;
  lease_until: EpochMs;
  created_at: EpochMs;
  updated_at: EpochMs;
}

export interface PipelineFollowsTable {
  id: string;
  mr_id: string;
  channel: string;
  thread_ts: string;
  change_id: string | null;
  followed_by: string | null;
  active: number;
  stopped_by: string | null;
  end_posted: number;
  dirty_seq: number;
  next_sync_at: EpochMs | null;
  last_synced_at: EpochMs;
  sync_failures: number;
  lease_owner: string | null;
  lease_until: EpochMs;
  created_at: EpochMs;
  updated_at: EpochMs;
}

export interface CiPipelinesTable {
  id: string;
  forge: string;
  repo: string;
  pipeline_key: string;
  mr_id: string | null;
  sha: string;
  ref: string | null;
  url: string | null;
  status: string;
  ordinal: Int64;
  version: number;
  completion: number;
  terminal_at: EpochMs | null;
  created_at: EpochMs;
  updated_at: EpochMs;
}

export interface CiRunsTable {
  id: string;
  pipeline_id: string;
  run_id: string;
  name: string | null;
  status: string;
  url: string | null;
  generation: Int64;
  sequence: Int64;
  rank: number;
  started_at: EpochMs | null;
  finished_at: EpochMs | null;
}

export interface CiJobsTable {
  id: string;
  pipeline_id: string;
  run_id: string;
  job_id: string;
  name: string;
  stage: string | null;
  status: string;
  rank: number;
  url: string | null;
  started_at: EpochMs | null;
  finished_at: EpochMs | null;
  failure_reason: string | null;
  allow_failure: number;
}

export interface PipelineMessagesTable {
  follow_id: string;
  pipeline_id: string;
  message_ts: string;
  synced_version: number;
  superseded: number;
  result_posted: number;
  created_at: EpochMs;
}

export interface PipelineTables {
  webhook_deliveries: WebhookDeliveriesTable;
  followed_mrs: FollowedMrsTable;
  pipeline_follows: PipelineFollowsTable;
  ci_pipelines: CiPipelinesTable;
  ci_runs: CiRunsTable;
  ci_jobs: CiJobsTable;
  pipeline_messages: PipelineMessagesTable;
}
