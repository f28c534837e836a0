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

export interface OpenMergeRequestInput {
  readonly sourceBranch: string;
  readonly targetBranch: string;
  readonly title: string;
  readonly description: string;
  readonly labels: readonly string[];
}

export interface ForgePort {
  readonly kind: ForgeKind;
  /** The head commit sha of a branch, or null when the branch does not exist. */
  getBranchHead(repo: string, branch: string): Promise<string | null>;
  /** A file's content at a ref (branch or sha), or null when the file does not exist there. */
  getFile(repo: string, path: string, ref: string): Promise<FileAtRef | null>;
  /**
   * Creates `branch` from `startSha` with one commit carrying all `actions`. Fails with a conflict
   * IntegrationError if the branch already exists.
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
}
