import { createHash } from 'node:crypto';
import { checkAccess, describeRule, type GroupMembership } from '../../core/access.js';
import type {
  AccessRule,
  ApprovalRule,
  CommandName,
  TerraformTarget,
  VersionlockTarget,
} from '../../core/config.js';
import { AppError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { ForgeKind, ForgePort } from '../../integrations/forge/port.js';
import type { ComputePort } from '../../integrations/gce/port.js';
import type { ChangeRequest, Store } from '../../store/types.js';
import { type LockEntry, listVersionlocks, type VersionlockRequest } from '../versionlock/index.js';
import { type ResolveResult, resolveInstance } from '../why-reboot/resolve-instance.js';
import {
  planTfImportRequest,
  planVersionlockRequest,
  replanStoredPlan,
  type TfImportRequest,
} from './plan-requests.js';
import {
  applyChange,
  approveChange,
  planOf,
  type RecordPlanOutcome,
  recordPlan,
  type SlackThread,
} from './runner.js';
import type { ApplyOutcome, ChangePlan, PlanOutcome } from './types.js';

/**
 * The change flow as data, shared by every change command (/versionlock, /tf-import, later /amend) and by
 * any front end (Slack handlers today, the CLI could drive it too): pick the target, plan against the base
 * branch, record the change request, decide who may approve or cancel, approve with a compare-and-set, apply,
 * and say what happened. Nothing here knows about Slack blocks or HTTP; handlers render and post.
 */

export type ChangeCommand = Extract<CommandName, 'versionlock' | 'tf-import'>;

export interface ChangeFlowDeps {
  readonly store: Store;
  /** The forge adapter for a kind; throws AppError('config_invalid') when that forge is not configured. */
  readonly forgeFor: (kind: ForgeKind) => ForgePort;
  readonly targets: {
    readonly versionlock: readonly VersionlockTarget[];
    readonly terraform: readonly TerraformTarget[];
  };
  /** config.access.approvals */
  readonly approvals: Readonly<Partial<Record<CommandName, ApprovalRule>>>;
  /** config.access.commands: "anyone allowed to run the command" when an approval rule names nobody. */
  readonly commandRules: Readonly<Partial<Record<CommandName, AccessRule>>>;
  readonly isMember: GroupMembership;
  /** Compute Engine, for `/tf-import vm` (created on first use). Absent: VM lookups are refused. */
  readonly compute?: (() => ComputePort) | undefined;
  readonly google?:
    | { readonly defaultProject?: string | undefined; readonly projects: readonly string[] }
    | undefined;
  readonly now: () => Date;
  readonly logger: Logger;
  readonly lockTtlMs?: number | undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Targets

export type TargetChoice<T> =
  | { readonly kind: 'found'; readonly target: T }
  | { readonly kind: 'none-configured'; readonly message: string }
  | { readonly kind: 'choose'; readonly names: readonly string[]; readonly message: string };

/** `--target NAME`, or the only target when one is configured. */
export const selectTarget = <T extends { readonly name: string }>(
  command: ChangeCommand,
  targets: readonly T[],
  name: string | null,
): TargetChoice<T> => {
  const names = targets.map((t) => t.name);
  if (targets.length === 0) {
    return {
      kind: 'none-configured',
      message: `/${command} has no targets configured in this opsbot (targets.${command === 'versionlock' ? 'versionlock' : 'terraform'}).`,
    };
  }
  if (name === null) {
    if (targets.length === 1) return { kind: 'found', target: targets[0] as T };
    return {
      kind: 'choose',
      names,
      message: `Several targets are configured: say which one with --target (${names.join(', ')}).`,
    };
  }
  const target = targets.find((t) => t.name === name);
  if (target) return { kind: 'found', target };
  return {
    kind: 'choose',
    names,
    message: `No target named "${name.slice(0, 64)}". Targets: ${names.join(', ')}.`,
  };
};

// ---------------------------------------------------------------------------------------------------------
// Planning

export type ChangeRequestSpec =
  | {
      readonly command: 'versionlock';
      readonly target: VersionlockTarget;
      readonly request: VersionlockRequest;
    }
  | { readonly command: 'tf-import'; readonly target: TerraformTarget; readonly request: TfImportRequest };

/** Plans against the live base head. Input the editors refuse throws AppError('bad_input') with the rule. */
export const planChange = async (deps: ChangeFlowDeps, spec: ChangeRequestSpec): Promise<PlanOutcome> => {
  const forge = deps.forgeFor(spec.target.forge);
  if (spec.command === 'versionlock') return planVersionlockRequest(forge, spec.target, spec.request);
  return planTfImportRequest(forge, spec.target, spec.request, deps.compute?.());
};

/** A short fingerprint of what a preview shows: a click on an older preview of the same change is refused. */
export const planDigest = (plan: ChangePlan): string =>
  createHash('sha256').update(plan.baseSha).update('\0').update(plan.diff).digest('hex').slice(0, 12);

/** The change request that already holds this plan's branch and is past planning (open, being applied). */
export const findActiveChange = async (
  deps: Pick<ChangeFlowDeps, 'store'>,
  plan: ChangePlan,
): Promise<ChangeRequest | null> => {
  const existing = await deps.store.changes.findByBranch(plan.forge, plan.repo, plan.branch);
  return existing && ['approved', 'applying', 'open'].includes(existing.status) ? existing : null;
};

/**
 * Records the plan tied to its Slack thread. The earlier row for the same branch (a previous root message
 * that was never approved) is returned too, so its message can be marked superseded.
 */
export const recordChange = async (
  deps: Pick<ChangeFlowDeps, 'store'>,
  plan: ChangePlan,
  requestedBy: string,
  thread: SlackThread,
  requestedByName: string | null = null,
): Promise<RecordPlanOutcome & { readonly previous: ChangeRequest | null }> => {
  const previous = await deps.store.changes.findByBranch(plan.forge, plan.repo, plan.branch);
  const outcome = await recordPlan(deps, plan, requestedBy, thread, requestedByName);
  return { ...outcome, previous };
};

// ---------------------------------------------------------------------------------------------------------
// Reads

export interface LockList {
  readonly target: VersionlockTarget;
  readonly ref: string;
  readonly exists: boolean;
  readonly entries: readonly LockEntry[];
}

export const listLocks = async (deps: ChangeFlowDeps, target: VersionlockTarget): Promise<LockList> => {
  const forge = deps.forgeFor(target.forge);
  const head = await forge.getBranchHead(target.repo, target.baseBranch);
  if (head === null) {
    throw new AppError('not_found', `Base branch ${target.baseBranch} does not exist in ${target.repo}.`);
  }
  const file = await forge.getFile(target.repo, target.path, head);
  if (!file) return { target, ref: head, exists: false, entries: [] };
  return { target, ref: head, exists: true, entries: listVersionlocks(file.content, target) };
};

export const resolveVm = async (
  deps: ChangeFlowDeps,
  spec: string,
  options: { project?: string | undefined; zone?: string | undefined } = {},
): Promise<ResolveResult> => {
  if (!deps.compute) {
    throw new AppError(
      'config_invalid',
      'Looking up VMs is not configured in this opsbot (no Compute Engine access).',
    );
  }
  return resolveInstance(deps.compute(), spec, {
    project: options.project,
    zone: options.zone,
    defaultProject: deps.google?.defaultProject,
    projects: deps.google?.projects ?? [],
  });
};

// ---------------------------------------------------------------------------------------------------------
// Who may approve or cancel

export type ActorDecision =
  | { readonly allowed: true }
  | {
      readonly allowed: false;
      readonly reason: 'self' | 'not-approver' | 'channel';
      readonly message: string;
    };

const commandOf = (change: ChangeRequest): ChangeCommand =>
  change.kind === 'tf-import' ? 'tf-import' : 'versionlock';

/** "<@U1> or members of <!subteam^S1>", or who may run the command when the approval rule names nobody. */
export const describeApprovers = (
  deps: Pick<ChangeFlowDeps, 'approvals' | 'commandRules'>,
  command: ChangeCommand,
): string => {
  const rule = deps.approvals[command];
  const second = rule?.requireSecondPerson ?? true;
  const who = [
    ...(rule?.groups ?? []).map((g) => `<!subteam^${g}>`),
    ...(rule?.users ?? []).map((u) => `<@${u}>`),
  ];
  const cmdRule = deps.commandRules[command];
  let base: string;
  if (who.length > 0) base = who.join(' or ');
  else if (cmdRule && (cmdRule.users.length > 0 || cmdRule.groups.length > 0)) {
    base = [...cmdRule.groups.map((g) => `<!subteam^${g}>`), ...cmdRule.users.map((u) => `<@${u}>`)].join(
      ' or ',
    );
  } else base = `anyone who may run /${command}`;
  return second ? `${base}, other than the requester` : base;
};

const isApprover = async (
  deps: Pick<ChangeFlowDeps, 'approvals' | 'commandRules' | 'isMember'>,
  command: ChangeCommand,
  userId: string,
  channelId: string,
): Promise<ActorDecision> => {
  const rule = deps.approvals[command];
  if (rule && (rule.users.length > 0 || rule.groups.length > 0)) {
    if (rule.users.includes(userId)) return { allowed: true };
    for (const g of rule.groups) if (await deps.isMember(g, userId)) return { allowed: true };
    return {
      allowed: false,
      reason: 'not-approver',
      message: `Only ${describeApprovers(deps, command)} can approve /${command} changes.`,
    };
  }
  // No approver list: whoever may run the command may approve it (in the command's channels).
  const decision = await checkAccess(
    command,
    deps.commandRules[command],
    { userId, channelId },
    deps.isMember,
  );
  if (decision.allowed) return decision;
  return {
    allowed: false,
    reason: decision.reason === 'channel' ? 'channel' : 'not-approver',
    message: `${describeRule(command, deps.commandRules[command] ?? { users: [], groups: [], channels: [] })} Approving its changes is too.`,
  };
};

/** Approve: an approver, and not the requester when the rule requires a second person (the default). */
export const decideApproval = async (
  deps: Pick<ChangeFlowDeps, 'approvals' | 'commandRules' | 'isMember'>,
  change: ChangeRequest,
  userId: string,
  channelId: string,
): Promise<ActorDecision> => {
  const command = commandOf(change);
  const second = deps.approvals[command]?.requireSecondPerson ?? true;
  if (second && userId === change.requestedBy) {
    return {
      allowed: false,
      reason: 'self',
      message: `You requested this change: someone else must approve it (${describeApprovers(deps, command)}).`,
    };
  }
  return isApprover(deps, command, userId, channelId);
};

/** Cancel: the requester, or anyone who could approve it. */
export const decideCancel = async (
  deps: Pick<ChangeFlowDeps, 'approvals' | 'commandRules' | 'isMember'>,
  change: ChangeRequest,
  userId: string,
  channelId: string,
): Promise<ActorDecision> => {
  if (userId === change.requestedBy) return { allowed: true };
  const command = commandOf(change);
  const decision = await isApprover(deps, command, userId, channelId);
  if (decision.allowed) return decision;
  return {
    allowed: false,
    reason: decision.reason,
    message: `Only the requester <@${change.requestedBy}> or ${describeApprovers(deps, command).replace(/, other than the requester$/, '')} can cancel this change.`,
  };
};

// ---------------------------------------------------------------------------------------------------------
// Clicks

export type ClickRefusal =
  | { readonly kind: 'unknown'; readonly message: string }
  | { readonly kind: 'stale'; readonly change: ChangeRequest; readonly message: string }
  | {
      readonly kind: 'refused';
      readonly change: ChangeRequest;
      readonly decision: ActorDecision & { allowed: false };
    }
  | { readonly kind: 'already'; readonly change: ChangeRequest | null; readonly message: string };

export type ApproveClick =
  | ClickRefusal
  /** This click won: the change is approved (or a failed apply is re-armed) and must be applied now. */
  | { readonly kind: 'approved'; readonly change: ChangeRequest; readonly retry: boolean };

const lookUp = async (
  deps: Pick<ChangeFlowDeps, 'store'>,
  changeId: string,
  digest: string | null,
): Promise<ClickRefusal | ChangeRequest> => {
  const change = await deps.store.changes.get(changeId);
  if (!change)
    return { kind: 'unknown', message: 'This change request is unknown (it may have been cleaned up).' };
  if (digest !== null && change.status === 'planned' && planDigest(planOf(change)) !== digest) {
    return {
      kind: 'stale',
      change,
      message:
        'This preview is out of date: the change was planned again since. Use the latest preview in its thread.',
    };
  }
  return change;
};

/**
 * An Approve click: checks the preview is current, who clicked, then approves with a compare-and-set, so of
 * two clicks (a double click, a Slack retry, two approvers at once) exactly one proceeds to apply. A change
 * whose apply failed is re-armed by an approver's click (the runner reuses whatever the failed attempt made).
 */
export const approveClick = async (
  deps: Pick<ChangeFlowDeps, 'store' | 'approvals' | 'commandRules' | 'isMember'>,
  click: {
    readonly changeId: string;
    readonly digest: string | null;
    readonly userId: string;
    readonly userName?: string | null;
    readonly channelId: string;
  },
): Promise<ApproveClick> => {
  const found = await lookUp(deps, click.changeId, click.digest);
  if (!('id' in found)) return found;
  const change = found;
  if (change.status !== 'planned' && change.status !== 'failed') {
    const by = change.approvedBy ? ` by <@${change.approvedBy}>` : '';
    const what = change.status === 'applying' ? 'approved and being applied' : change.status;
    return { kind: 'already', change, message: `This change is already ${what}${by}.` };
  }
  const decision = await decideApproval(deps, change, click.userId, click.channelId);
  if (!decision.allowed) return { kind: 'refused', change, decision };
  if (change.status === 'failed') {
    const rearmed = await deps.store.changes.transition(change.id, ['failed'], {
      status: 'approved',
      approvedBy: click.userId,
      approvedByName: click.userName ?? null,
    });
    if (rearmed) return { kind: 'approved', change: rearmed, retry: true };
    const now = await deps.store.changes.get(change.id);
    return { kind: 'already', change: now, message: `This change is already ${now?.status ?? 'gone'}.` };
  }
  const approved = await approveChange(deps.store, change.id, click.userId, click.userName ?? null);
  if (approved.kind === 'approved') return { kind: 'approved', change: approved.change, retry: false };
  return { kind: 'already', change: approved.change, message: approved.reason };
};

export type CancelClick = ClickRefusal | { readonly kind: 'cancelled'; readonly change: ChangeRequest };

export const cancelClick = async (
  deps: Pick<ChangeFlowDeps, 'store' | 'approvals' | 'commandRules' | 'isMember'>,
  click: {
    readonly changeId: string;
    readonly digest: string | null;
    readonly userId: string;
    readonly channelId: string;
  },
): Promise<CancelClick> => {
  const found = await lookUp(deps, click.changeId, null); // cancelling an older preview is still a cancel
  if (!('id' in found)) return found;
  const change = found;
  if (change.status !== 'planned' && change.status !== 'failed') {
    const by = change.approvedBy ? ` by <@${change.approvedBy}>` : '';
    return {
      kind: 'already',
      change,
      message: `This change is already ${change.status}${by}; it cannot be cancelled here.`,
    };
  }
  const decision = await decideCancel(deps, change, click.userId, click.channelId);
  if (!decision.allowed) return { kind: 'refused', change, decision };
  const cancelled = await deps.store.changes.transition(change.id, ['planned', 'failed'], {
    status: 'cancelled',
  });
  if (cancelled) return { kind: 'cancelled', change: cancelled };
  const now = await deps.store.changes.get(change.id);
  return { kind: 'already', change: now, message: `This change is already ${now?.status ?? 'gone'}.` };
};

/**
 * Applies an approved change (ensure branch, commit, MR; re-plan if the base moved). A `busy` target hands
 * the approval back (status planned) so the same Approve button works again in a minute.
 */
export const applyApproved = async (
  deps: ChangeFlowDeps,
  changeId: string,
  options: { readonly threadUrl: string | null },
): Promise<ApplyOutcome> => {
  const replanDeps = {
    forgeFor: deps.forgeFor,
    versionlockTargets: deps.targets.versionlock,
    terraformTargets: deps.targets.terraform,
  };
  const outcome = await applyChange(
    {
      store: deps.store,
      forgeFor: deps.forgeFor,
      now: deps.now,
      logger: deps.logger,
      ...(deps.lockTtlMs !== undefined ? { lockTtlMs: deps.lockTtlMs } : {}),
    },
    changeId,
    (plan) =>
      replanStoredPlan(
        plan.kind === 'tf-import' && deps.compute ? { ...replanDeps, compute: deps.compute() } : replanDeps,
        plan,
      ),
    { threadUrl: options.threadUrl },
  );
  if (outcome.kind === 'busy') {
    await deps.store.changes.transition(changeId, ['approved'], {
      status: 'planned',
      approvedBy: null,
      approvedByName: null,
    });
  }
  return outcome;
};

/** Parses a button value `<change id>:<plan digest>` (digest optional). */
export const parseChangeButtonValue = (value: string): { changeId: string; digest: string | null } | null => {
  const m = /^([0-9a-f-]{8,64})(?::([0-9a-f]{12}))?$/i.exec(value.trim());
  if (!m) return null;
  return { changeId: m[1] as string, digest: m[2] ?? null };
};

export const buildChangeButtonValue = (changeId: string, plan: ChangePlan): string =>
  `${changeId}:${planDigest(plan)}`;
