import { IntegrationError } from '../../core/errors.js';
import { forgeConflictOf } from '../../integrations/forge/errors.js';
import type { FileAction, ForgePort, MergeRequest } from '../../integrations/forge/port.js';
import type { ChangePlan } from './types.js';

/**
 * The idempotent forge steps of an apply. Each finds what an earlier attempt (a retry, a double click, a
 * replica killed halfway) made and reuses it, so running them again never makes a second branch or MR.
 */

const fileActions = (plan: ChangePlan): FileAction[] =>
  plan.files.map((f) =>
    f.before === null
      ? { action: 'create', path: f.path, content: f.after }
      : { action: 'update', path: f.path, content: f.after },
  );

export const samePlannedContent = (a: ChangePlan, b: ChangePlan): boolean =>
  a.files.length === b.files.length &&
  a.files.every(
    (f, i) => f.path === b.files[i]?.path && f.after === b.files[i]?.after && f.before === b.files[i]?.before,
  );

/** Does `ref` already hold exactly what the plan writes? Then it is an earlier attempt of ours: reuse it. */
export const branchCarriesPlan = async (
  forge: ForgePort,
  plan: ChangePlan,
  ref: string,
): Promise<boolean> => {
  for (const f of plan.files) {
    const file = await forge.getFile(plan.repo, f.path, ref);
    if (file?.content !== f.after) return false;
  }
  return true;
};

export type EnsureBranch =
  | { readonly kind: 'ready'; readonly headSha: string; readonly reused: boolean }
  | { readonly kind: 'taken'; readonly reason: string };

/** The plan's branch with its one commit: found (and checked) or created from `plan.baseSha`. */
export const ensureBranch = async (forge: ForgePort, plan: ChangePlan): Promise<EnsureBranch> => {
  const head = await forge.getBranchHead(plan.repo, plan.branch);
  if (head !== null) {
    if (await branchCarriesPlan(forge, plan, head)) return { kind: 'ready', headSha: head, reused: true };
    return {
      kind: 'taken',
      reason: `Branch ${plan.branch} already exists in ${plan.repo} with other content; opsbot will not overwrite it.`,
    };
  }
  try {
    const commit = await forge.createBranchWithCommit({
      repo: plan.repo,
      branch: plan.branch,
      startSha: plan.baseSha,
      message: plan.commitMessage,
      actions: fileActions(plan),
    });
    return { kind: 'ready', headSha: commit.sha, reused: false };
  } catch (err) {
    // Another attempt created it between our read and our write (or our own write landed and its answer
    // was lost): verify and reuse. Files not as planned (a file to update that is not there) are not a
    // branch made concurrently: that error says which file, and goes to the user as it is.
    if (!(err instanceof IntegrationError && err.code === 'conflict')) throw err;
    if (forgeConflictOf(err) === 'file-state') throw err;
    const again = await forge.getBranchHead(plan.repo, plan.branch);
    if (again !== null && (await branchCarriesPlan(forge, plan, again)))
      return { kind: 'ready', headSha: again, reused: true };
    return { kind: 'taken', reason: `Branch ${plan.branch} was created concurrently with other content.` };
  }
};

/** The open MR of the plan's branch: found, or opened with `description`. */
export const ensureMergeRequest = async (
  forge: ForgePort,
  plan: ChangePlan,
  description: string,
): Promise<{ readonly mr: MergeRequest; readonly reused: boolean }> => {
  const found = await forge.findOpenMergeRequest(plan.repo, plan.branch);
  if (found) return { mr: found, reused: true };
  try {
    const mr = await forge.openMergeRequest(plan.repo, {
      sourceBranch: plan.branch,
      targetBranch: plan.baseBranch,
      title: plan.title,
      description,
      labels: plan.labels,
    });
    return { mr, reused: false };
  } catch (err) {
    if (!(err instanceof IntegrationError && err.code === 'conflict')) throw err;
    const mr = await forge.findOpenMergeRequest(plan.repo, plan.branch);
    if (!mr) throw err;
    return { mr, reused: true };
  }
};

/** "@alice" when Slack gave a handle, else the Slack user id: the description is read outside Slack. */
const person = (id: string | null, name: string | null): string => (name ? `@${name}` : (id ?? 'unknown'));

export const buildMrDescription = (
  plan: ChangePlan,
  people: {
    readonly requestedBy: string;
    readonly requestedByName: string | null;
    readonly approvedBy: string | null;
    readonly approvedByName: string | null;
  },
  threadUrl: string | null,
): string =>
  [
    plan.summary,
    '',
    `Requested by ${person(people.requestedBy, people.requestedByName)} and approved by ${person(people.approvedBy, people.approvedByName)} in Slack${threadUrl ? `: ${threadUrl}` : '.'}`,
    '',
    '```diff',
    plan.diff.trimEnd(),
    '```',
    '',
    `_Opened by opsbot (${plan.kind}, target \`${plan.target}\`). Re-running the same request reuses this branch and merge request._`,
  ].join('\n');
