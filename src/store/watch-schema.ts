import type { EpochMs } from './column-types.js';

/**
 * The platform-event watch: one cursor (how far the audit logs were read and posted), and the groups posted
 * to the channel with their message ts. A group row is written before its message is posted (ts null) and
 * given its ts after: a row without ts after a crash means "maybe posted", which the watcher resolves by
 * looking the message up in the channel before posting again.
 */
export interface WatchStateTable {
  id: string;
  cursor_ms: EpochMs;
  committed_at: EpochMs;
  last_run_at: EpochMs | null;
  last_error: string | null;
  last_error_at: EpochMs | null;
}

export interface WatchGroupsTable {
  group_key: string;
  cause: string;
  zone: string;
  from_ms: EpochMs;
  to_ms: EpochMs;
  vms: number;
  payload: string;
  channel: string;
  ts: string | null;
  created_at: EpochMs;
  updated_at: EpochMs;
}

export interface WatchTables {
  watch_state: WatchStateTable;
  watch_groups: WatchGroupsTable;
}
