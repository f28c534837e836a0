import type { MergeRequestRef } from '../../integrations/forge/events.js';
import type { ForgePort, MergeRequestSource } from '../../integrations/forge/port.js';
import type {
  BranchChangeInput,
  BranchChangeOutcome,
  BranchCommit,
  GitIdentity,
} from '../../integrations/git/workspace.js';
import { formatMrRef } from '../pipelines/mr-ref.js';
import { checkPatch } from './patch.js';

/**
 * `/amend` and `opsbot amend`: change someone's open MR/PR branch without losing anyone's commits. The
 * preview fetches the branch and applies the diff without pushing (so it shows the exact diff that will be
 * pushed and the head it was computed on); the apply does it again on that same head and pushes (a normal
 * push when adding a commit, `--force-with-lease` on the previewed head when amending), then leaves a note on
 * the MR. Every refusal is data with a reason a person can act on.
 */

export type AmendMode = 'add' | 'amend';

export interface AmendRequest {
  readonly ref: MergeRequestRef;
  readonly patch: string;
  readonly mode: AmendMode;
  /** Commit message; null: "Change by opsbot" for a new commit, the amended commit's own message. */
  readonly message: string | null;
}

export interface AmendDeps {
  readonly forge: ForgePort;
  readonly changeBranch: (input: BranchChangeInput) => Promise<BranchChangeOutcome>;
  readonly identity: GitIdentity;
  readonly tmpRoot?: string;
}

export type AmendRefusalReason =
  | 'not_found'
  | 'not_open'
  | 'fork_not_allowed'
  | 'protected_branch'
  | 'head_unknown'
  | 'bad_patch'
  | 'patch_failed';

export interface AmendRefusal {
  readonly kind: 'refused';
  readonly reason: AmendRefusalReason;
  readonly message: string;
  /** patch_failed: the hunk git could not apply. */
  readonly hunk?: string | null;
}

export interface AmendTarget {
  readonly label: string;
  readonly url: string;
  readonly title: string;
  readonly sourceRepo: string;
  readonly branch: string;
  readonly fork: boolean;
  readonly author: string | null;
}

export interface AmendPreview {
  readonly kind: 'preview';
  readonly target: AmendTarget;
  /** The head commit the change was computed on: the apply pushes only onto this head. */
  readonly headSha: string;
  readonly mode: AmendMode;
  /** Exactly what the push changes on the branch. */
  readonly diff: string;
  readonly files: readonly string[];
}

export interface AmendNothingToDo {
  readonly kind: 'nothing_to_do';
  readonly target: AmendTarget;
  readonly headSha: string;
}

export interface AmendHeadMoved {
  readonly kind: 'head_moved';
  readonly target: AmendTarget;
  readonly expected: string;
  readonly actual: string | null;
  /** Who pushed what since the preview, newest first. */
  readonly commits: readonly BranchCommit[];
}

export interface AmendPushed {
  readonly kind: 'pushed';
  readonly target: AmendTarget;
  readonly oldSha: string;
  readonly newSha: string;
  readonly mode: AmendMode;
  readonly diff: string;
  readonly files: readonly string[];
  /** The MR note could not be posted (the push stands): why. */
  readonly noteProblem: string | null;
  /**
   * The commit was pushed by an earlier attempt of the same change (found on the branch by its
   * `Opsbot-Change` trailer, e.g. after a crash between the push and recording it): nothing pushed now.
   */
  readonly earlier: boolean;
}

export type AmendPreviewOutcome = AmendPreview | AmendNothingToDo | AmendRefusal | AmendHeadMoved;
export type AmendApplyOutcome = AmendPushed | AmendNothingToDo | AmendRefusal | AmendHeadMoved;

export const mrLabel = (ref: MergeRequestRef): string => formatMrRef(ref);

const refuse = (reason: AmendRefusalReason, message: string, hunk?: string | null): AmendRefusal => ({
  kind: 'refused',
  reason,
  message,
  ...(hunk !== undefined ? { hunk } : {}),
});

const targetOf = (ref: MergeRequestRef, mr: MergeRequestSource): AmendTarget => ({
  label: mrLabel(ref),
  url: mr.url,
  title: mr.title,
  sourceRepo: mr.sourceRepo,
  branch: mr.sourceBranch,
  fork: mr.fork,
  author: mr.author,
});

/** The MR, or why it cannot be changed. */
const readTarget = async (
  deps: AmendDeps,
  ref: MergeRequestRef,
): Promise<
  { kind: 'target'; mr: MergeRequestSource; target: AmendTarget; cloneUrl: string } | AmendRefusal
> => {
  const label = mrLabel(ref);
  const mr = await deps.forge.getMergeRequestSource(ref.repo, ref.number);
  if (!mr) return refuse('not_found', `${label} does not exist (or opsbot's token cannot see it)`);
  const kind = ref.forge === 'gitlab' ? 'merge request' : 'pull request';
  if (mr.state !== 'open')
    return refuse('not_open', `${label} is ${mr.state}: only an open ${kind} is changed`);
  if (mr.fork && !mr.collaborationAllowed) {
    const setting =
      ref.forge === 'gitlab'
        ? '"Allow commits from members who can merge to the target branch"'
        : '"Allow edits by maintainers"';
    return refuse(
      'fork_not_allowed',
      `${label} comes from the fork ${mr.sourceRepo}, which does not allow maintainers to push: ${mr.author ? `@${mr.author}` : 'the author'} can tick ${setting} on the ${kind}, or apply the change themselves`,
    );
  }
  if (mr.branchProtected) {
    return refuse(
      'protected_branch',
      `${mr.sourceRepo}:${mr.sourceBranch} is a protected branch: opsbot does not push to it`,
    );
  }
  if (!mr.headSha || !mr.cloneUrl) {
    return refuse(
      'head_unknown',
      `the head commit of ${label} is out of opsbot's reach (${mr.cloneUrl ? 'the forge names no head commit' : `the source repository ${mr.sourceRepo} cannot be read`})`,
    );
  }
  return { kind: 'target', mr, target: targetOf(ref, mr), cloneUrl: mr.cloneUrl };
};

const fromBranch = (
  target: AmendTarget,
  expected: string,
  out: Exclude<BranchChangeOutcome, { kind: 'ready' | 'pushed' }>,
): AmendNothingToDo | AmendRefusal | AmendHeadMoved => {
  switch (out.kind) {
    case 'already_applied':
      return { kind: 'nothing_to_do', target, headSha: out.head };
    case 'branch_missing':
      return refuse('head_unknown', `the branch ${target.branch} no longer exists in ${target.sourceRepo}`);
    case 'head_moved':
      return { kind: 'head_moved', target, expected, actual: out.actual, commits: out.commits };
    case 'patch_failed':
      return refuse(
        'patch_failed',
        `the diff does not apply to ${target.branch} at ${expected.slice(0, 12)}: ${out.detail}`,
        out.hunk,
      );
  }
};

/** Checks the diff and the MR, then applies the diff on the MR's current head without pushing. */
export const previewAmend = async (deps: AmendDeps, req: AmendRequest): Promise<AmendPreviewOutcome> => {
  const check = checkPatch(req.patch);
  if (!check.ok) return refuse('bad_patch', check.problem);
  const read = await readTarget(deps, req.ref);
  if (read.kind === 'refused') return read;
  const head = read.mr.headSha as string;
  const out = await deps.changeBranch({
    remote: { url: read.cloneUrl, credential: await deps.forge.getGitCredential() },
    branch: read.mr.sourceBranch,
    expectedHead: head,
    patch: req.patch,
    mode: req.mode,
    message: req.message,
    trailers: [],
    identity: deps.identity,
    push: false,
    ...(deps.tmpRoot ? { tmpRoot: deps.tmpRoot } : {}),
  });
  if (out.kind === 'ready' || out.kind === 'pushed') {
    return {
      kind: 'preview',
      target: read.target,
      headSha: out.oldSha,
      mode: req.mode,
      diff: out.diff,
      files: out.files,
    };
  }
  return fromBranch(read.target, head, out);
};

export interface AmendApplyInput extends AmendRequest {
  /** The head the preview was computed on. */
  readonly expectedHead: string;
  /** Who asked and who approved (Slack names, or cli:<user>), for the trailers and the note. */
  readonly requester: string;
  readonly approver: string | null;
  /** Why (the request's reason), for the MR note. */
  readonly reason: string | null;
  /** Link to the Slack thread of the change, for the MR note. */
  readonly threadUrl: string | null;
  /** `Co-authored-by` value when the requester's forge identity is known ("Name <email>"). */
  readonly coAuthor?: string | null;
  /**
   * The change (of the lifecycle) this apply is for: the commit carries it as an `Opsbot-Change` trailer and
   * the MR note as a hidden marker, so a retry recognises its own push and leaves the note once.
   */
  readonly changeId?: string | null;
}

export const CHANGE_TRAILER = 'Opsbot-Change';

/** The hidden marker in the MR note of a change (an HTML comment: GitLab and GitHub do not show it). */
export const amendNoteMarker = (changeId: string): string => `<!-- opsbot-change: ${changeId} -->`;

const carriesChange = (trailers: string, changeId: string): boolean =>
  trailers.split('\n').some((l) => l.trim() === `${CHANGE_TRAILER}: ${changeId}`);

export const amendTrailers = (input: AmendApplyInput): Array<[string, string]> => [
  ['Requested-by', input.requester],
  ...(input.approver ? [['Approved-by', input.approver] as [string, string]] : []),
  ...(input.coAuthor ? [['Co-authored-by', input.coAuthor] as [string, string]] : []),
  ...(input.changeId ? [[CHANGE_TRAILER, input.changeId] as [string, string]] : []),
];

export const buildAmendNote = (input: AmendApplyInput, pushed: Omit<AmendPushed, 'noteProblem'>): string => {
  const what =
    pushed.mode === 'amend'
      ? `amended the last commit of \`${pushed.target.branch}\` (${pushed.oldSha.slice(0, 12)} -> ${pushed.newSha.slice(0, 12)})`
      : `added commit ${pushed.newSha.slice(0, 12)} to \`${pushed.target.branch}\``;
  const lines = [
    `opsbot ${what}, changing ${pushed.files.map((f) => `\`${f}\``).join(', ')}.`,
    '',
    `Requested by ${input.requester}${input.approver ? `, approved by ${input.approver}` : ''}.`,
  ];
  if (input.reason) lines.push('', `Why: ${input.reason}`);
  if (input.threadUrl) lines.push('', `Slack thread: ${input.threadUrl}`);
  if (input.changeId) lines.push('', amendNoteMarker(input.changeId));
  return lines.join('\n');
};

/**
 * Leaves the MR note once: with a change id, a note already carrying its marker (left by an earlier attempt)
 * is kept and none is added. Returns why the note could not be left, or null.
 */
export const ensureAmendNote = async (
  deps: AmendDeps,
  input: AmendApplyInput,
  pushed: Omit<AmendPushed, 'noteProblem'>,
): Promise<string | null> => {
  try {
    if (input.changeId) {
      const marker = amendNoteMarker(input.changeId);
      const notes = await deps.forge.listComments(input.ref.repo, input.ref.number);
      if (notes.some((n) => n.body.includes(marker))) return null;
    }
    await deps.forge.comment(input.ref.repo, input.ref.number, buildAmendNote(input, pushed));
    return null;
  } catch (err) {
    return err instanceof Error && 'userMessage' in err
      ? String(err.userMessage)
      : 'the note could not be posted';
  }
};

/**
 * Applies the diff on the previewed head and pushes. Safe to repeat: a change already on the branch is
 * "nothing to do", and a branch that moved is never overwritten.
 */
export const applyAmend = async (deps: AmendDeps, input: AmendApplyInput): Promise<AmendApplyOutcome> => {
  const check = checkPatch(input.patch);
  if (!check.ok) return refuse('bad_patch', check.problem);
  const read = await readTarget(deps, input.ref);
  if (read.kind === 'refused') return read;
  const out = await deps.changeBranch({
    remote: { url: read.cloneUrl, credential: await deps.forge.getGitCredential() },
    branch: read.mr.sourceBranch,
    expectedHead: input.expectedHead,
    patch: input.patch,
    mode: input.mode,
    message: input.message,
    trailers: amendTrailers(input),
    identity: deps.identity,
    push: true,
    ...(deps.tmpRoot ? { tmpRoot: deps.tmpRoot } : {}),
  });
  if (out.kind === 'head_moved' && input.changeId) {
    // The branch moved: by this change's own earlier push (killed before recording it)? Then it is done,
    // and only the note may be missing.
    const changeId = input.changeId;
    const ours = out.commits.find((c) => carriesChange(c.trailers, changeId));
    if (ours) {
      const earlier = {
        kind: 'pushed' as const,
        target: read.target,
        oldSha: input.expectedHead,
        newSha: ours.sha,
        mode: input.mode,
        diff: input.patch,
        files: check.files,
        earlier: true,
      };
      return { ...earlier, noteProblem: await ensureAmendNote(deps, input, earlier) };
    }
  }
  if (out.kind !== 'ready' && out.kind !== 'pushed') {
    return fromBranch(read.target, input.expectedHead, out);
  }
  const pushed = {
    kind: 'pushed' as const,
    target: read.target,
    oldSha: out.oldSha,
    newSha: out.newSha,
    mode: input.mode,
    diff: out.diff,
    files: out.files,
    earlier: false,
  };
  return { ...pushed, noteProblem: await ensureAmendNote(deps, input, pushed) };
};
