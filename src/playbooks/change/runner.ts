import { randomUUID } from 'node:crypto';
import { AppError, IntegrationError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { FileAction, ForgePort, MergeRequest } from '../../integrations/forge/port.js';
import type { ChangeRequest, Store } from '../../store/types.js';
import type { ApplyOutcome, ChangePlan, Replanner } from './types.js';

export interface ChangeRunnerDeps {
  readonly store: Store;
  readonly forgeFor: (kind: ChangePlan['forge']) => ForgePort;
  readonly now: () => Date;
  readonly logger: Logger;
  readonly lockTtlMs?: number;
}

export interface SlackThread {
  readonly channel: string;
  readonly ts: string;
}

export type RecordPlanOutcome =
  | { readonly kind: 'recorded'; readonly change: ChangeRequest }
  | { readonly kind: 'already-open'; readonly change: ChangeRequest };

/**
 * Records a computed plan as a change request in state `planned`, tied to its Slack thread. The branch name
 * is deterministic, so the same request made again finds the earlier one: an open MR is reported rather than
 * duplicated; a cancelled, failed or still-planned one is re-planned in place.
 */
export const recordPlan = async (
  deps: Pick<ChangeRunnerDeps, 'store'>,
  plan: ChangePlan,
  requestedBy: string,
  thread: SlackThread | null,
  requestedByName: string | null = null,
): Promise<RecordPlanOutcome> => {
  const fields = {
    kind: plan.kind,
    target: plan.target,
    baseBranch: plan.baseBranch,
    baseSha: plan.baseSha,
    headSha: null,
    mrNumber: null,
    mrUrl: null,
    requestedBy,
    requestedByName,
    approvedBy: null,
    approvedByName: null,
    plan: JSON.stringify(plan),
    slackChannel: thread?.channel ?? null,
    slackThreadTs: thread?.ts ?? null,
    slackStatusTs: null,
  };
  for (let attempt = 0; attempt < 3; attempt++) {
    const existing = await deps.store.changes.findByBranch(plan.forge, plan.repo, plan.branch);
    if (existing) {
      if (existing.status === 'open' || existing.status === 'applying' || existing.status === 'approved') {
        return { kind: 'already-open', change: existing };
      }
      const again = await deps.store.changes.transition(
        existing.id,
        ['planned', 'cancelled', 'failed', 'closed', 'merged'],
        {
          status: 'planned',
          ...fields,
        },
      );
      if (again) return { kind: 'recorded', change: again };
      continue; // it moved under us: look again
    }
    try {
      const change = await deps.store.changes.create({
        id: randomUUID(),
        forge: plan.forge,
        project: plan.repo,
        branch: plan.branch,
        status: 'planned',
        ...fields,
      });
      return { kind: 'recorded', change };
    } catch (err) {
      if (!(err instanceof AppError && err.code === 'conflict')) throw err; // a concurrent request won: look again
    }
  }
  throw new AppError('conflict', 'This change is being requested by someone else right now; try again.');
};

export const planOf = (change: ChangeRequest): ChangePlan => JSON.parse(change.plan) as ChangePlan;

const fileActions = (plan: ChangePlan): FileAction[] =>
  plan.files.map((f) =>
    f.before === null
      ? { action: 'create', path: f.path, content: f.after }
      : { action: 'update', path: f.path, content: f.after },
  );

const samePlannedContent = (a: ChangePlan, b: ChangePlan): boolean =>
  a.files.length === b.files.length &&
  a.files.every(
    (f, i) => f.path === b.files[i]?.path && f.after === b.files[i]?.after && f.before === b.files[i]?.before,
  );

/** Does `branch` already hold exactly what the plan writes? Then it is our earlier attempt: reuse it. */
const branchCarriesPlan = async (forge: ForgePort, plan: ChangePlan, ref: string): Promise<boolean> => {
  for (const f of plan.files) {
    const file = await forge.getFile(plan.repo, f.path, ref);
    if (file?.content !== f.after) return false;
  }
  return true;
};

/** "@alice" when Slack gave a handle, else the Slack user id: the description is read outside Slack. */
const person = (id: string | null, name: string | null): string => (name ? `@${name}` : (id ?? 'unknown'));

export const buildMrDescription = (
  plan: ChangePlan,
  requestedBy: string,
  approvedBy: string,
  threadUrl: string | null,
): string =>
  [
    plan.summary,
    '',
    `Requested by ${requestedBy} and approved by ${approvedBy} in Slack${threadUrl ? `: ${threadUrl}` : '.'}`,
    '',
    '```diff',
    plan.diff.trimEnd(),
    '```',
    '',
    `_Opened by opsbot (${plan.kind}, target \`${plan.target}\`). Re-running the same request reuses this branch and merge request._`,
  ].join('\n');

/**
 * Applies an approved change: per-target lock, base re-check (re-plan if it moved), ensure branch + commit,
 * ensure MR. Every step finds and reuses what an earlier attempt (a retry, a double click, another replica)
 * created, so running it twice never opens a second MR.
 */
export const applyChange = async (
  deps: ChangeRunnerDeps,
  changeId: string,
  replan: Replanner,
  options: { threadUrl?: string | null } = {},
): Promise<ApplyOutcome> => {
  const change = await deps.store.changes.get(changeId);
  if (!change)
    return { kind: 'not-approvable', reason: 'This change request is unknown (it may have expired).' };
  if (change.status === 'open' || change.status === 'merged') {
    return { kind: 'already-open', mrUrl: change.mrUrl, mrNumber: change.mrNumber };
  }
  if (change.status !== 'approved' && change.status !== 'applying' && change.status !== 'failed') {
    return { kind: 'not-approvable', reason: `This change is ${change.status}.` };
  }
  const plan = planOf(change);
  const forge = deps.forgeFor(plan.forge);
  const lockName = `target:${plan.forge}:${plan.repo}:${plan.files.map((f) => f.path).join(',')}`;
  const holder = `${changeId}:${randomUUID()}`;
  const log = deps.logger.child({ changeId, target: plan.target, branch: plan.branch });
  if (!(await deps.store.locks.tryAcquire(lockName, holder, deps.lockTtlMs ?? 120_000))) {
    return {
      kind: 'busy',
      reason: `Another change to ${plan.repo} ${plan.files.map((f) => f.path).join(', ')} is being applied; try again in a minute.`,
    };
  }
  try {
    const moved = await deps.store.changes.transition(changeId, ['approved', 'failed', 'applying'], {
      status: 'applying',
    });
    if (!moved)
      return { kind: 'not-approvable', reason: 'This change was handled by someone else meanwhile.' };

    // 1. The branch may exist from an earlier attempt: reuse it only if it carries exactly this change.
    let headSha = await forge.getBranchHead(plan.repo, plan.branch);
    if (headSha !== null && !(await branchCarriesPlan(forge, plan, headSha))) {
      await deps.store.changes.transition(changeId, ['applying'], { status: 'failed' });
      return {
        kind: 'branch-taken',
        reason: `Branch ${plan.branch} already exists in ${plan.repo} with other content; opsbot will not overwrite it.`,
      };
    }

    // 2. No branch yet: make sure the plan still matches the base branch head before writing anything.
    if (headSha === null) {
      const baseHead = await forge.getBranchHead(plan.repo, plan.baseBranch);
      if (baseHead === null)
        throw new AppError('not_found', `Base branch ${plan.baseBranch} no longer exists in ${plan.repo}.`);
      let effective = plan;
      if (baseHead !== plan.baseSha) {
        const again = await replan(plan);
        if (again.kind === 'nothing-to-do') {
          await deps.store.changes.transition(changeId, ['applying'], { status: 'cancelled' });
          return { kind: 'nothing-to-do', reason: again.reason };
        }
        if (again.kind === 'refused') {
          await deps.store.changes.transition(changeId, ['applying'], { status: 'failed' });
          return { kind: 'not-approvable', reason: again.reason };
        }
        if (!samePlannedContent(plan, again.plan)) {
          await deps.store.changes.transition(changeId, ['applying'], {
            status: 'planned',
            approvedBy: null,
            approvedByName: null,
            baseSha: again.plan.baseSha,
            plan: JSON.stringify(again.plan),
          });
          return { kind: 'replanned', plan: again.plan };
        }
        effective = again.plan; // same edit on a newer base: what was approved is what gets written
        await deps.store.changes.update(changeId, {
          baseSha: effective.baseSha,
          plan: JSON.stringify(effective),
        });
      }
      try {
        const commit = await forge.createBranchWithCommit({
          repo: plan.repo,
          branch: plan.branch,
          startSha: effective.baseSha,
          message: effective.commitMessage,
          actions: fileActions(effective),
        });
        headSha = commit.sha;
      } catch (err) {
        // Another replica or a retried request created it between our read and our write: verify and reuse.
        if (!(err instanceof IntegrationError && err.code === 'conflict')) throw err;
        headSha = await forge.getBranchHead(plan.repo, plan.branch);
        if (headSha === null || !(await branchCarriesPlan(forge, plan, headSha))) {
          await deps.store.changes.transition(changeId, ['applying'], { status: 'failed' });
          return {
            kind: 'branch-taken',
            reason: `Branch ${plan.branch} was created concurrently with other content.`,
          };
        }
      }
      log.info({ headSha }, 'change branch ready');
    } else {
      log.info({ headSha }, 'change branch reused');
    }

    // 3. The MR: find the open one for this branch before opening another.
    const current = (await deps.store.changes.get(changeId)) ?? change;
    let mr: MergeRequest | null = await forge.findOpenMergeRequest(plan.repo, plan.branch);
    const reused = mr !== null;
    if (!mr) {
      try {
        mr = await forge.openMergeRequest(plan.repo, {
          sourceBranch: plan.branch,
          targetBranch: plan.baseBranch,
          title: plan.title,
          description: buildMrDescription(
            planOf(current),
            person(current.requestedBy, current.requestedByName),
            person(current.approvedBy, current.approvedByName),
            options.threadUrl ?? null,
          ),
          labels: plan.labels,
        });
      } catch (err) {
        if (!(err instanceof IntegrationError && err.code === 'conflict')) throw err;
        mr = await forge.findOpenMergeRequest(plan.repo, plan.branch);
        if (!mr) throw err;
      }
    }
    await deps.store.changes.transition(changeId, ['applying'], {
      status: 'open',
      headSha,
      mrNumber: mr.number,
      mrUrl: mr.url,
    });
    log.info({ mr: mr.url, reused }, 'change merge request ready');
    return { kind: 'opened', mrUrl: mr.url, mrNumber: mr.number, reused, headSha };
  } catch (err) {
    await deps.store.changes.transition(changeId, ['applying'], { status: 'failed' }).catch(() => null);
    throw err;
  } finally {
    await deps.store.locks
      .release(lockName, holder)
      .catch((err: unknown) => log.warn({ err }, 'lock release failed'));
  }
};

/**
 * Approve click: authorisation is checked by the caller; this records who approved with a compare-and-set,
 * so of two concurrent clicks exactly one proceeds to apply.
 */
export const approveChange = async (
  store: Store,
  changeId: string,
  approver: string,
  approverName: string | null = null,
): Promise<
  | { kind: 'approved'; change: ChangeRequest }
  | { kind: 'not-approvable'; reason: string; change: ChangeRequest | null }
> => {
  const updated = await store.changes.transition(changeId, ['planned'], {
    status: 'approved',
    approvedBy: approver,
    approvedByName: approverName,
  });
  if (updated) return { kind: 'approved', change: updated };
  const change = await store.changes.get(changeId);
  if (!change) return { kind: 'not-approvable', reason: 'This change request is unknown.', change: null };
  const by = change.approvedBy ? ` by <@${change.approvedBy}>` : '';
  return { kind: 'not-approvable', reason: `This change is already ${change.status}${by}.`, change };
};

export const cancelChange = async (store: Store, changeId: string): Promise<boolean> =>
  (await store.changes.transition(changeId, ['planned'], { status: 'cancelled' })) !== null;
