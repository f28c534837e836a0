import type { CiJobState, CiRunState, CiStatus } from '../../core/ci.js';
import type { GitCredential } from '../git/credential.js';

/**
 * One forge port for GitLab (gitbeaker) and GitHub (octokit). "MR" means a GitLab merge request or a GitHub
 * pull request. `ensure*`-style callers build on these reads and writes; adapters never retry a write that
 * may have landed without first reading whether it did.
 */

export type ForgeKind = 'gitlab' | 'github';

export interface FileAtRef {
  readonly path: string;
  readonly content: string; // UTF-8 text
  readonly blobSha: string | null;
}

export type FileAction =
  | { readonly action: 'create'; readonly path: string; readonly content: string }
  | { readonly action: 'update'; readonly path: string; readonly content: string }
  | { readonly action: 'delete'; readonly path: string };

export interface CommitResult {
  readonly sha: string;
  readonly webUrl: string | null;
}

export interface MergeRequest {
  readonly number: number; // GitLab iid, GitHub number
  readonly url: string;
  readonly title: string;
  readonly state: 'open' | 'closed' | 'merged';
  readonly sourceBranch: string;
  readonly targetBranch: string;
  readonly headSha: string | null;
}

/** An MR with what the pipeline follower needs: who merged or closed it, and when it last changed. */
export interface MergeRequestDetails extends MergeRequest {
  /** Who merged it (merged), or closed it (closed); null while open or when the forge does not say. */
  readonly actor: string | null;
  readonly updatedAt: Date;
}

/** An MR with where its commits live, for changing its branch with git (`/amend`). */
export interface MergeRequestSource extends MergeRequest {
  /** The repository holding the source branch: the MR's own, or a fork. */
  readonly sourceRepo: string;
  /** https clone URL of `sourceRepo`, without credentials. */
  readonly cloneUrl: string | null;
  readonly fork: boolean;
  /** Whether the bot may push to the source branch of a fork (GitLab allow_collaboration, GitHub
   * maintainer_can_modify); true for a branch of the MR's own repository. */
  readonly collaborationAllowed: boolean;
  readonly branchProtected: boolean;
  /** The MR author's forge user name. */
  readonly author: string | null;
}

/** One pipeline of an MR (GitLab: a pipeline; GitHub: every run for the head commit). */
export interface CiPipelineSummary {
  readonly key: string;
  readonly sha: string;
  readonly ref: string | null;
  readonly url: string | null;
  readonly status: CiStatus;
  /** Orders the MR's pipelines, newest highest (see CiEventTarget.ordinal). */
  readonly ordinal: number;
}

/** A pipeline's runs and their jobs, as the webhooks would describe them. */
export interface CiPipelineDetail {
  readonly summary: CiPipelineSummary;
  readonly runs: readonly CiRunState[];
  readonly jobs: readonly { readonly runId: string; readonly job: CiJobState }[];
}

export interface OpenMergeRequestInput {
  readonly sourceBranch: string;
  readonly targetBranch: string;
  readonly title: string;
  readonly description: string;
  readonly labels: readonly string[];
}

export interface ForgeComment {
  readonly id: number;
  readonly body: string;
}

export interface ForgePort {
  readonly kind: ForgeKind;
  /** The head commit sha of a branch, or null when the branch does not exist. */
  getBranchHead(repo: string, branch: string): Promise<string | null>;
  /**
   * A file's content at a ref (branch or sha), or null when the file does not exist there (a ref that does
   * not exist is a not_found error, not null).
   */
  getFile(repo: string, path: string, ref: string): Promise<FileAtRef | null>;
  /**
   * Creates `branch` from `startSha` with one commit carrying all `actions`. Fails with a conflict
   * IntegrationError whose `forgeConflictOf` is 'branch-exists' if the branch already exists, and
   * 'file-state' (naming the paths) if a file to create exists or one to update or delete does not.
   */
  createBranchWithCommit(input: {
    readonly repo: string;
    readonly branch: string;
    readonly startSha: string;
    readonly message: string;
    readonly actions: readonly FileAction[];
  }): Promise<CommitResult>;
  findOpenMergeRequest(repo: string, sourceBranch: string): Promise<MergeRequest | null>;
  openMergeRequest(repo: string, input: OpenMergeRequestInput): Promise<MergeRequest>;
  comment(repo: string, number: number, body: string): Promise<void>;
  /** The MR's comments (GitLab notes, GitHub issue comments), oldest first, every page. */
  listComments(repo: string, number: number): Promise<readonly ForgeComment[]>;

  // CI (the pipeline follower's polling, job logs and the "Retry failed jobs" button)

  /** The MR (GitLab iid, GitHub PR number), or null when it does not exist. */
  getMergeRequest(repo: string, number: number): Promise<MergeRequestDetails | null>;
  /**
   * The MR's pipelines, newest first, at most `limit` (GitLab `GET /merge_requests/:iid/pipelines`; GitHub: the
   * workflow runs and other CI apps' check runs of the head commit, as one pipeline).
   */
  listMergeRequestPipelines(
    repo: string,
    mr: { readonly number: number; readonly headSha: string | null },
    limit: number,
  ): Promise<CiPipelineSummary[]>;
  /** Every run and the latest attempt of every job of a pipeline (all pages). */
  listPipelineJobs(repo: string, pipeline: CiPipelineSummary): Promise<CiPipelineDetail>;
  /**
   * The end of a job's log, at most `maxBytes` (GitLab job trace; GitHub job logs, which answer with a
   * redirect to a short-lived download URL). null when the job has no log (a check run of another CI app).
   */
  getJobLogTail(repo: string, jobId: string, maxBytes: number): Promise<string | null>;
  /** Re-runs the failed jobs: GitLab retries the pipeline; GitHub re-runs the failed jobs of each run given. */
  retryFailedJobs(
    repo: string,
    pipeline: { readonly key: string; readonly runIds: readonly string[] },
  ): Promise<void>;

  // Git over HTTPS (`/amend` changes an MR's branch with real git)

  /** The MR with its source repository, fork permission and branch protection, or null when not found. */
  getMergeRequestSource(repo: string, number: number): Promise<MergeRequestSource | null>;
  /**
   * The credential git uses over HTTPS (GitLab `oauth2:<token>`, GitHub `x-access-token:<token>`; a GitHub
   * App's installation token, fetched or renewed on the way).
   */
  getGitCredential(): Promise<GitCredential>;
}
