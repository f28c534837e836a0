import type { DeliveryRepository, PipelineRepository } from './pipeline-types.js';

/**
 * The store's repositories, in domain terms. One implementation (Kysely) serves both engines:
 * SQLite via node:sqlite (embedded default) and PostgreSQL via pg (DATABASE_URL).
 */

export type AuditOutcome =
  | 'ok'
  | 'refused' // access rule said no
  | 'bad_input'
  | 'nothing_to_do'
  | 'dry_run'
  | 'planned'
  | 'approved'
  | 'cancelled'
  | 'failed';

export interface AuditRecord {
  readonly id?: string;
  readonly at: Date;
  readonly actorId: string; // Slack user id, or "cli:<user>"
  readonly actorName?: string | null;
  readonly source: 'slack' | 'cli' | 'webhook';
  readonly command: string; // why-reboot, versionlock, ...
  readonly args: string; // as typed, secrets never included
  readonly channelId?: string | null;
  readonly target?: string | null; // VM, change target, MR
  readonly outcome: AuditOutcome;
  readonly detail?: string | null;
  readonly correlationId: string;
  readonly durationMs?: number | null;
}

export type ChangeStatus =
  | 'planned'
  | 'approved'
  | 'applying'
  | 'open'
  | 'cancelled'
  | 'failed'
  | 'merged'
  | 'closed';

export interface ChangeRequest {
  readonly id: string;
  readonly kind: string; // versionlock | tf-import | amend
  readonly target: string; // config target name
  readonly forge: 'gitlab' | 'github';
  readonly project: string; // repo slug
  readonly baseBranch: string;
  readonly branch: string;
  readonly baseSha: string | null;
  readonly headSha: string | null;
  readonly mrNumber: number | null;
  readonly mrUrl: string | null;
  readonly requestedBy: string; // Slack user id
  readonly approvedBy: string | null;
  readonly requestedByName: string | null; // Slack handle, for people outside Slack (MR descriptions)
  readonly approvedByName: string | null;
  readonly status: ChangeStatus;
  readonly plan: string; // JSON of the plan (files and their new content hash, diff)
  readonly slackChannel: string | null;
  readonly slackThreadTs: string | null; // root message ts
  readonly slackStatusTs: string | null; // status message ts
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export type NewChangeRequest = Omit<
  ChangeRequest,
  'createdAt' | 'updatedAt' | 'requestedByName' | 'approvedByName'
> &
  Partial<Pick<ChangeRequest, 'requestedByName' | 'approvedByName'>>;

export interface AuditRepository {
  record(entry: AuditRecord): Promise<void>;
  /** Many rows in as few statements as the engine allows; all of them or none (bursts of commands). */
  recordMany(entries: readonly AuditRecord[]): Promise<void>;
  list(query?: { command?: string; actorId?: string; limit?: number }): Promise<AuditRecord[]>;
}

export interface ChangeRequestRepository {
  create(change: NewChangeRequest): Promise<ChangeRequest>;
  get(id: string): Promise<ChangeRequest | null>;
  findByBranch(forge: string, project: string, branch: string): Promise<ChangeRequest | null>;
  /**
   * Compare-and-set on status: updates only if the current status is one of `from`. Returns the updated
   * row, or null when another writer got there first (e.g. a double-clicked Approve).
   */
  transition(
    id: string,
    from: readonly ChangeStatus[],
    patch: Partial<Omit<ChangeRequest, 'id' | 'createdAt' | 'updatedAt'>> & { status: ChangeStatus },
  ): Promise<ChangeRequest | null>;
  update(
    id: string,
    patch: Partial<Omit<ChangeRequest, 'id' | 'createdAt' | 'updatedAt' | 'status'>>,
  ): Promise<ChangeRequest | null>;
}

export interface LockRepository {
  /** Takes a named lease for `ttlMs` if free or expired; returns false if someone else holds it. */
  tryAcquire(name: string, holder: string, ttlMs: number): Promise<boolean>;
  release(name: string, holder: string): Promise<void>;
}

export interface Store {
  readonly engine: 'sqlite' | 'postgres';
  readonly audit: AuditRepository;
  readonly changes: ChangeRequestRepository;
  readonly locks: LockRepository;
  /** Followed MRs, their CI state and the Slack messages showing it (src/store/pipeline-types.ts). */
  readonly pipelines: PipelineRepository;
  /** Forge webhook deliveries (duplicates, crash recovery). */
  readonly deliveries: DeliveryRepository;
  /** Cheap round trip for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
