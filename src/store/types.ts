import type { KyselyInstanceRepository } from './instance-repository.js';
import type { DeliveryRepository, PipelineRepository } from './pipeline-types.js';
import type { KyselyWatchRepository } from './watch-repository.js';

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
  | 'closed'
  | 'superseded';

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
  /** Why the change is where it is (cancel, nothing to do, failure), as plain text: escaped when shown. */
  readonly reason: string | null;
  /** Who moved it there (cancelled by, a Slack user id). */
  readonly actor: string | null;
  /** Correlation id of the failure that `reason` tells about. */
  readonly errorRef: string | null;
  /** The newer request of the same change that replaced this one. */
  readonly supersededBy: string | null;
  /** Link to the Slack thread (for the MR description and "superseded by" links). */
  readonly threadUrl: string | null;
  /** When the forge says the MR reached its recorded state. */
  readonly mrStateAt: Date | null;
  /** Apply attempts that failed on a retryable error since the last approval, and when the next may run. */
  readonly attempts: number;
  readonly nextAttemptAt: Date | null;
  /** Bumped by every transition; the Slack thread shows rev `slackRev`. */
  readonly rev: number;
  readonly slackRev: number;
  /** Failed attempts to bring the Slack thread up to date since it last was. */
  readonly slackAttempts: number;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/** Fields a transition or an update may set (status only through a transition). */
export type ChangePatch = Partial<
  Omit<ChangeRequest, 'id' | 'createdAt' | 'updatedAt' | 'rev' | 'slackRev' | 'slackAttempts' | 'status'>
>;

export type NewChangeRequest = Omit<
  ChangeRequest,
  | 'createdAt'
  | 'updatedAt'
  | 'requestedByName'
  | 'approvedByName'
  | 'reason'
  | 'actor'
  | 'errorRef'
  | 'supersededBy'
  | 'threadUrl'
  | 'mrStateAt'
  | 'attempts'
  | 'nextAttemptAt'
  | 'rev'
  | 'slackRev'
  | 'slackAttempts'
> &
  Partial<
    Pick<ChangeRequest, 'requestedByName' | 'approvedByName' | 'threadUrl' | 'reason' | 'supersededBy'>
  >;

/** A thread note waiting in the outbox (posted_ts null) or posted. */
export interface ChangeNote {
  readonly id: string;
  readonly changeId: string;
  /** Order within the change's thread. */
  readonly seq: number;
  readonly kind: string;
  /** JSON: the note's data, rendered when it is posted. */
  readonly payload: string;
  /** Slack ts once posted; '' when given up (the channel is gone). */
  readonly postedTs: string | null;
  /** Post attempts begun: more than 0 with no ts means a post may have landed unrecorded. */
  readonly attempts: number;
  readonly createdAt: Date;
}

export interface AuditRepository {
  record(entry: AuditRecord): Promise<void>;
  /** Many rows in as few statements as the engine allows; all of them or none (bursts of commands). */
  recordMany(entries: readonly AuditRecord[]): Promise<void>;
  list(query?: { command?: string; actorId?: string; limit?: number }): Promise<AuditRecord[]>;
}

export interface ChangeRequestRepository {
  /** Throws AppError('conflict') when the id is taken or another change still holds the branch. */
  create(change: NewChangeRequest): Promise<ChangeRequest>;
  get(id: string): Promise<ChangeRequest | null>;
  /** The most recent change request for a branch (finished ones included), or null. */
  findByBranch(forge: string, project: string, branch: string): Promise<ChangeRequest | null>;
  /** The most recent change request that recorded this merge request, or null. */
  findByMergeRequest(forge: string, project: string, number: number): Promise<ChangeRequest | null>;
  /**
   * Compare-and-set on status: updates only if the current status is one of `from`, bumps `rev` and marks
   * the Slack thread due. Returns the updated row, or null when another writer got there first. Only the
   * change lifecycle's transitions table calls it.
   */
  transition(
    id: string,
    from: readonly ChangeStatus[],
    patch: ChangePatch & { status: ChangeStatus },
  ): Promise<ChangeRequest | null>;
  /** Fields other than status; `touch` bumps rev (Slack must show it). Null when no change has this id. */
  update(id: string, patch: ChangePatch, options?: { touch?: boolean }): Promise<ChangeRequest | null>;
  /**
   * Takes (or renews) the apply lease of an approved/applying change whose lease is free, expired or ours
   * and whose next attempt is due. Null when someone else holds it or there is nothing to apply.
   */
  claimLease(id: string, holder: string, ttlMs: number): Promise<ChangeRequest | null>;
  /** Extends our lease; false when it is no longer ours. */
  renewLease(id: string, holder: string, ttlMs: number): Promise<boolean>;
  /** Gives the lease up, recording a retry schedule when given. */
  releaseLease(
    id: string,
    holder: string,
    retry?: {
      readonly attempts: number;
      readonly nextAttemptAt: Date | null;
      readonly reason?: string | null;
    },
  ): Promise<void>;
  /** Changes in these statuses, oldest first. */
  listByStatus(statuses: readonly ChangeStatus[], limit: number): Promise<ChangeRequest[]>;
  /** Approved/applying changes nobody holds a live lease on, whose next attempt is due. */
  listResumable(limit: number): Promise<ChangeRequest[]>;
  /** Ids of changes whose Slack thread is behind their state and due for another try. */
  listSlackDue(limit: number): Promise<string[]>;
  /** Takes the Slack lease of a change (so one replica posts its notes); null when held or not due. */
  claimSlack(id: string, holder: string, ttlMs: number): Promise<ChangeRequest | null>;
  /** Slack shows `rev`: clears due unless the change moved again meanwhile; releases the lease. */
  finishSlack(id: string, holder: string, rev: number): Promise<void>;
  /** A Slack failure: try again at `at` (Retry-After or backoff); releases the lease. */
  deferSlack(id: string, holder: string, at: Date): Promise<void>;
}

export interface ChangeNoteRepository {
  add(note: {
    readonly changeId: string;
    readonly seq: number;
    readonly kind: string;
    readonly payload: string;
  }): Promise<ChangeNote>;
  /** Notes of a change in thread order. */
  list(changeId: string): Promise<ChangeNote[]>;
  /** Counts a post attempt before it is made (a later attempt then checks the thread first). */
  markAttempt(id: string): Promise<void>;
  markPosted(id: string, ts: string): Promise<void>;
}

export interface LockRepository {
  /** Takes a named lease for `ttlMs` if free or expired; returns false if someone else holds it. */
  tryAcquire(name: string, holder: string, ttlMs: number): Promise<boolean>;
  release(name: string, holder: string): Promise<void>;
}

/** The repositories bound to one transaction. */
export interface StoreTx {
  readonly audit: AuditRepository;
  readonly changes: ChangeRequestRepository;
  readonly notes: ChangeNoteRepository;
  readonly locks: LockRepository;
}

export interface Store extends StoreTx {
  readonly engine: 'sqlite' | 'postgres';
  /** The platform-event watch: cursor and posted groups (src/store/watch-repository.ts). */
  readonly watch: KyselyWatchRepository;
  /** What opsbot last saw of each VM: name -> instance id (src/store/instance-repository.ts). */
  readonly instances: KyselyInstanceRepository;
  /** Followed MRs, their CI state and the Slack messages showing it (src/store/pipeline-types.ts). */
  readonly pipelines: PipelineRepository;
  /** Forge webhook deliveries (duplicates, crash recovery). */
  readonly deliveries: DeliveryRepository;
  /**
   * Runs `fn` in one transaction: every write through `tx` lands together or not at all (a throw rolls
   * back). SQLite takes the write lock up front (BEGIN IMMEDIATE); PostgreSQL runs READ COMMITTED, so
   * compare-and-set updates inside still decide races row by row.
   */
  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;
  /** Cheap round trip for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
