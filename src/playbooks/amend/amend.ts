import type { MergeRequestRef } from '../../integrations/forge/events.js';
import type { ForgePort, MergeRequestSource } from '../../integrations/forge/port.js';
import type {
  BranchChangeInput,
  BranchCommit,
  BranchPrepareOutcome,
  BranchPushOutcome,
  GitIdentity,
} from '../../integrations/git/workspace.js';
import { formatMrRef } from '../pipelines/mr-ref.js';
import { checkPatch } from './patch.js';

/**
 * `/amend` and `opsbot amend`: change someone's open MR/PR branch without losing anyone's commits. The
 * preview fetches the branch and applies the diff without pushing (so it shows the exact diff that will be
 * pushed and the head it was computed on); the apply does it again on that same head and pushes
 * (`--force-with-lease` on the previewed head, in both modes), then leaves a note on
 * the MR. Slack previews and applies apart (an approval comes later, maybe to another replica); the CLI
 * previews and pushes in one workspace (`prepareAmend`): the commit it shows is the commit it pushes. Every
 * refusal is data with a reason a person can act on.
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
  /**
   * Fetches the branch, applies the diff and commits in a temporary workspace (integrations/git); a `ready`
   * outcome holds it until its `dispose()`, which this playbook calls on every path.
   */
  readonly prepareBranchChange: (input: BranchChangeInput) => Promise<BranchPrepareOutcome>;
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
  out: Exclude<BranchPrepareOutcome, { kind: 'ready' }>,
): AmendNothingToDo | AmendRefusal | AmendHeadMoved => {
  switch (out.kind) {
    case 'already_applied':
      return { kind: 'nothing_to_do', target, headSha: out.head };
    case 'branch_missing':
      return refuse('head_unknown', `the branch ${target.branch} no longer exists in ${target.sourceRepo}`);
    case 'head_moved':
      // Deleted by the push (the lease refused it): the same answer as a branch already gone at the fetch.
      if (out.actual === null)
        return refuse('head_unknown', `the branch ${target.branch} no longer exists in ${target.sourceRepo}`);
      return { kind: 'head_moved', target, expected, actual: out.actual, commits: out.commits };
    case 'patch_failed':
      return refuse(
        'patch_failed',
        `the diff does not apply to ${target.branch} at ${expected.slice(0, 12)}: ${out.detail}`,
        out.hunk,
      );
  }
};

/** The diff checked, the MR read and the diff applied and committed on `expectedHead` (null: the MR's head). */
const prepareOn = async (
  deps: AmendDeps,
  req: AmendRequest,
  expectedHead: string | null,
  trailers: BranchChangeInput['trailers'],
  signal?: AbortSignal,
): Promise<
  | {
      kind: 'prepared';
      target: AmendTarget;
      files: readonly string[];
      /** The head the change was made on (or was expected and not found). */
      head: string;
      out: BranchPrepareOutcome;
    }
  | AmendRefusal
> => {
  const check = checkPatch(req.patch);
  if (!check.ok) return refuse('bad_patch', check.problem);
  const read = await readTarget(deps, req.ref);
  if (read.kind === 'refused') return read;
  const head = expectedHead ?? (read.mr.headSha as string);
  const out = await deps.prepareBranchChange({
    remote: { url: read.cloneUrl, credential: await deps.forge.getGitCredential() },
    branch: read.mr.sourceBranch,
    expectedHead: head,
    patch: req.patch,
    mode: req.mode,
    message: req.message,
    trailers,
    identity: deps.identity,
    ...(deps.tmpRoot ? { tmpRoot: deps.tmpRoot } : {}),
    ...(signal ? { signal } : {}),
  });
  return { kind: 'prepared', target: read.target, files: check.files, head, out };
};

const previewOf = (
  req: AmendRequest,
  target: AmendTarget,
  ready: { oldSha: string; diff: string; files: readonly string[] },
): AmendPreview => ({
  kind: 'preview',
  target,
  headSha: ready.oldSha,
  mode: req.mode,
  diff: ready.diff,
  files: ready.files,
});

/**
 * Checks the diff and the MR, then applies the diff on the MR's current head without pushing (the workspace is
 * removed before it returns: what Slack previews, to be applied after an approval by `applyAmend`).
 */
export const previewAmend = async (deps: AmendDeps, req: AmendRequest): Promise<AmendPreviewOutcome> => {
  const prepared = await prepareOn(deps, req, null, []);
  if (prepared.kind === 'refused') return prepared;
  const { target, head, out } = prepared;
  if (out.kind !== 'ready') return fromBranch(target, head, out);
  await out.dispose();
  return previewOf(req, target, out);
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

/** What `prepareAmend` takes: an apply whose head is the one its own preview finds. */
export type AmendPrepareInput = Omit<AmendApplyInput, 'expectedHead'>;

export const CHANGE_TRAILER = 'Opsbot-Change';

/** The hidden marker in the MR note of a change (an HTML comment: GitLab and GitHub do not show it). */
export const amendNoteMarker = (changeId: string): string => `<!-- opsbot-change: ${changeId} -->`;

const carriesChange = (trailers: string, changeId: string): boolean =>
  trailers.split('\n').some((l) => l.trim() === `${CHANGE_TRAILER}: ${changeId}`);

export const amendTrailers = (input: AmendPrepareInput): Array<[string, string]> => [
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
 * What a push (or a prepare that found the branch elsewhere) means for the change: pushed, with the MR note
 * left; pushed by an earlier attempt of the same change; or why nothing was pushed.
 */
const settleApply = async (
  deps: AmendDeps,
  input: AmendApplyInput,
  target: AmendTarget,
  files: readonly string[],
  out: BranchPushOutcome | Exclude<BranchPrepareOutcome, { kind: 'ready' }>,
): Promise<AmendApplyOutcome> => {
  if (out.kind === 'head_moved' && input.changeId) {
    // The branch moved: by this change's own earlier push (killed before recording it)? Then it is done,
    // and only the note may be missing.
    const changeId = input.changeId;
    const ours = out.commits.find((c) => carriesChange(c.trailers, changeId));
    if (ours) {
      const earlier = {
        kind: 'pushed' as const,
        target,
        oldSha: input.expectedHead,
        newSha: ours.sha,
        mode: input.mode,
        diff: input.patch,
        files,
        earlier: true,
      };
      return { ...earlier, noteProblem: await ensureAmendNote(deps, input, earlier) };
    }
  }
  if (out.kind !== 'pushed') return fromBranch(target, input.expectedHead, out);
  const pushed = {
    kind: 'pushed' as const,
    target,
    oldSha: out.oldSha,
    newSha: out.newSha,
    mode: input.mode,
    diff: out.diff,
    files: out.files,
    earlier: false,
  };
  return { ...pushed, noteProblem: await ensureAmendNote(deps, input, pushed) };
};

/** Pushes a prepared commit and removes its workspace (also when the push fails). */
const pushAndDispose = async (
  ready: Extract<BranchPrepareOutcome, { kind: 'ready' }>,
): Promise<BranchPushOutcome> => {
  try {
    return await ready.push();
  } finally {
    await ready.dispose();
  }
};

/**
 * Applies the diff on the previewed head and pushes. Safe to repeat: a change already on the branch is
 * "nothing to do", and a branch that moved is never overwritten.
 */
export const applyAmend = async (deps: AmendDeps, input: AmendApplyInput): Promise<AmendApplyOutcome> => {
  const prepared = await prepareOn(deps, input, input.expectedHead, amendTrailers(input));
  if (prepared.kind === 'refused') return prepared;
  const { target, files, out } = prepared;
  return settleApply(deps, input, target, files, out.kind === 'ready' ? await pushAndDispose(out) : out);
};

/**
 * A preview holding its workspace: the commit shown is the commit `push()` pushes, made exactly as
 * `applyAmend` makes it (message, trailers, mode), onto the head shown only.
 */
export interface PreparedAmend extends AmendPreview {
  /** The commit `push()` pushes (made in the workspace, not on the forge until then). */
  readonly commitSha: string;
  /**
   * Pushes the previewed commit onto `headSha` (a branch that moved since is refused as `head_moved`, nothing
   * pushed), removes the workspace, then leaves the MR note. At most once.
   */
  push(): Promise<AmendApplyOutcome>;
  /** Removes the workspace without pushing. Safe to repeat, and after `push()`; call it on every path. */
  dispose(): Promise<void>;
}

export type AmendPrepareOutcome = PreparedAmend | AmendNothingToDo | AmendRefusal | AmendHeadMoved;

/**
 * Preview and apply in one workspace (`opsbot amend`): the diff checked, the MR read, the diff applied and
 * committed once on the MR's head, with the apply's trailers. The caller shows the preview, then pushes it or
 * not, and disposes in a `finally`. `signal` stops the git work, the push included (the caller's Ctrl-C).
 */
export const prepareAmend = async (
  deps: AmendDeps,
  input: AmendPrepareInput,
  { signal }: { readonly signal?: AbortSignal } = {},
): Promise<AmendPrepareOutcome> => {
  const prepared = await prepareOn(deps, input, null, amendTrailers(input), signal);
  if (prepared.kind === 'refused') return prepared;
  const { target, files, head, out } = prepared;
  if (out.kind !== 'ready') return fromBranch(target, head, out);
  const applyInput: AmendApplyInput = { ...input, expectedHead: out.oldSha };
  return {
    ...previewOf(input, target, out),
    commitSha: out.newSha,
    push: async () => settleApply(deps, applyInput, target, files, await pushAndDispose(out)),
    dispose: () => out.dispose(),
  };
};
