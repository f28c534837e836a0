import type { CiForge, CiJobState, CiRunState, CiStatus, JobEvent, PipelineEvent } from '../core/ci.js';

/**
 * The pipeline follower's state, in domain terms: which merge requests are followed where (a Slack thread),
 * the latest known state of their CI, and what the Slack messages showing it last showed. Level-triggered:
 * events move the state forward (never back), and the reconciler makes Slack match it.
 */

export type MergeRequestState = 'open' | 'merged' | 'closed';

/** An MR (GitLab merge request, GitHub pull request); the forge code's MrRef has this shape. */
export interface MrRef {
  readonly forge: CiForge;
  readonly repo: string;
  readonly number: number;
}

/** An MR's state as the forge reported it (the forge code's MergeRequestEvent has this shape). */
export interface MergeRequestChange extends MrRef {
  readonly kind: 'merge_request';
  readonly state: MergeRequestState;
  readonly url: string | null;
  readonly sourceBranch: string | null;
  readonly headSha: string | null;
  readonly actor: string | null;
  readonly at: Date;
}

/** What the store applies: every forge event (webhook or poll) is one of these. */
export type StoreForgeEvent = MergeRequestChange | PipelineEvent | JobEvent;

/** One followed MR, whatever the number of threads following it. */
export interface FollowedMr extends MrRef {
  readonly id: string;
  readonly url: string | null;
  readonly sourceBranch: string | null;
  readonly headSha: string | null;
  readonly state: MergeRequestState;
  readonly stateAt: Date;
  /** Forge user who merged or closed it. */
  readonly actor: string | null;
  /** The last state handed to onMergeRequestState (null: never). */
  readonly stateNotified: MergeRequestState | null;
  /** Some thread still follows it. */
  readonly active: boolean;
  readonly pollIntervalMs: number;
  readonly pollFailures: number;
}

/** One Slack thread following one MR. */
export interface PipelineFollow {
  readonly id: string;
  readonly mrId: string;
  readonly channel: string;
  readonly threadTs: string;
  readonly changeId: string | null;
  readonly followedBy: string | null;
  readonly active: boolean;
  readonly stoppedBy: string | null;
  /** The "merged / closed by" reply was posted. */
  readonly endPosted: boolean;
  readonly syncFailures: number;
  readonly createdAt: Date;
}

export interface CiPipeline {
  readonly id: string;
  readonly forge: CiForge;
  readonly repo: string;
  readonly key: string;
  readonly mrId: string | null;
  readonly sha: string;
  readonly ref: string | null;
  readonly url: string | null;
  readonly status: CiStatus;
  readonly ordinal: number;
  /** Grows with every change of the pipeline, its runs or its jobs. */
  readonly version: number;
  /** How many times it reached a final state (a retry makes it run, and finish, again). */
  readonly completion: number;
  readonly terminalAt: Date | null;
  readonly updatedAt: Date;
}

/** A run as stored (its ordering fields stay in the store). */
export interface CiRun extends Omit<CiRunState, 'id' | 'sequence'> {
  readonly runId: string;
}

/** A job as stored, with the run it belongs to. */
export interface CiJob extends Omit<CiJobState, 'id'> {
  readonly jobId: string;
  readonly runId: string;
}

/** What the status message of one pipeline in one thread last showed. */
export interface PipelineMessage {
  readonly followId: string;
  readonly pipelineId: string;
  readonly messageTs: string;
  readonly syncedVersion: number;
  readonly superseded: boolean;
  /** The completion whose result reply was posted (0: none). */
  readonly resultPosted: number;
}

export interface PipelineSnapshot {
  readonly pipeline: CiPipeline;
  readonly runs: readonly CiRun[];
  readonly jobs: readonly CiJob[];
  readonly message: PipelineMessage | null;
}

/** Everything the reconciler needs for one thread: the newest pipeline first, then older ones still shown. */
export interface FollowView {
  readonly follow: PipelineFollow;
  readonly mr: FollowedMr;
  readonly pipelines: readonly PipelineSnapshot[];
  /** The follow's change counter when read; the sync is complete only if it has not moved since. */
  readonly dirtySeq: number;
}

export interface FollowInput {
  readonly ref: MrRef;
  readonly url: string | null;
  readonly channel: string;
  readonly threadTs: string;
  readonly changeId: string | null;
  readonly followedBy?: string | null;
}

export interface FollowTiming {
  /** A burst of events is shown this long after its first event (one update instead of many). */
  readonly coalesceMs: number;
  /** At least this long between two updates of one thread. */
  readonly minUpdateIntervalMs: number;
  /** First poll interval of a newly followed MR. */
  readonly pollIntervalMs: number;
}

export type ApplyResult =
  | { readonly kind: 'ignored'; readonly reason: string }
  | { readonly kind: 'applied'; readonly mrId: string; readonly changed: boolean };

export interface MergeRequestPatch {
  /** The state the worker saw when it claimed the MR. */
  readonly stateSeen: MergeRequestState;
  readonly pollNextAt: number | null;
  readonly pollIntervalMs?: number;
  readonly pollFailures?: number;
  readonly stateNotified?: MergeRequestState;
}

export interface PipelineRepository {
  /** Idempotent: the same MR + channel + thread is followed once; a stopped follow stays stopped. */
  ensureFollow(
    input: FollowInput,
    timing: FollowTiming,
  ): Promise<{ follow: PipelineFollow; mr: FollowedMr; created: boolean }>;
  /** Active follows of an MR, in one channel when given. */
  listFollows(ref: MrRef, channel?: string): Promise<PipelineFollow[]>;
  /** Ends every active follow of the MR in the channel; returns them. */
  stopFollows(ref: MrRef, channel: string, by: string): Promise<PipelineFollow[]>;
  getMergeRequest(ref: MrRef): Promise<FollowedMr | null>;
  getPipeline(id: string): Promise<PipelineSnapshot | null>;
  /** The followed MR an event belongs to, or null (cheap; for answering webhooks). */
  matchEvent(event: StoreForgeEvent): Promise<string | null>;
  /** Applies one event in one transaction; stale and duplicate events change nothing. */
  applyEvent(event: StoreForgeEvent, timing: FollowTiming): Promise<ApplyResult>;

  claimDueFollows(owner: string, leaseMs: number, limit: number): Promise<string[]>;
  loadFollowView(followId: string): Promise<FollowView | null>;
  recordMessage(
    followId: string,
    pipelineId: string,
    patch: Partial<Omit<PipelineMessage, 'followId' | 'pipelineId'>>,
  ): Promise<void>;
  /** The "merged/closed" reply is out: the follow ends. */
  endFollow(followId: string, reason: 'ended' | 'gone'): Promise<void>;
  /** Releases the lease. `nextAt`: when to look again (null: only when something changes). */
  finishFollowSync(
    followId: string,
    owner: string,
    seenDirtySeq: number,
    outcome: { readonly nextAt: number | null; readonly posted: boolean; readonly dirtyNextAt: number },
  ): Promise<void>;
  /** Releases the lease after a failure, to try again at `at`. */
  deferFollow(followId: string, owner: string, at: number, failed: boolean): Promise<void>;

  /** MRs due for a poll or for telling the lifecycle about a state change. */
  claimDueMergeRequests(owner: string, leaseMs: number, limit: number): Promise<FollowedMr[]>;
  finishMergeRequest(mrId: string, owner: string, patch: MergeRequestPatch): Promise<void>;
  /**
   * Every followed open MR due for one read from the forge now (after the store was unreachable: the forge
   * events it refused are not sent again), and the MR leases `owner` still holds from passes cut off by it
   * released. How many.
   */
  syncOpenMergeRequests(owner: string): Promise<number>;
}

export interface StoredDelivery {
  readonly id: string;
  readonly source: 'gitlab' | 'github';
  readonly event: string;
  readonly body: string;
  readonly correlationId: string;
  readonly attempts: number;
  readonly receivedAt: Date;
}

export type DeliveryStatus = 'done' | 'ignored' | 'failed';

export interface DeliveryRepository {
  /** Records a delivery leased to `owner`; 'duplicate' when its id was recorded before. */
  record(
    d: Omit<StoredDelivery, 'attempts' | 'receivedAt'> & { readonly owner: string; readonly leaseMs: number },
  ): Promise<'recorded' | 'duplicate'>;
  /** Pending deliveries whose lease expired (a crash, another replica gone), leased to `owner`. */
  claimPending(owner: string, leaseMs: number, limit: number): Promise<StoredDelivery[]>;
  finish(id: string, owner: string, status: DeliveryStatus, detail?: string | null): Promise<void>;
  /** Gives a delivery back after a passing failure, to be tried again at `at`. */
  release(id: string, owner: string, at: number, detail: string): Promise<void>;
  /** Forgets finished deliveries received before `before` (the duplicate window). */
  prune(before: Date): Promise<number>;
  get(id: string): Promise<(StoredDelivery & { status: string; detail: string | null }) | null>;
}
