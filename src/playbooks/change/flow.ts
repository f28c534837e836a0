import { createHash } from 'node:crypto';
import { checkAccess, type GroupMembership } from '../../core/access.js';
import type {
  AccessRule,
  ApprovalRule,
  CommandName,
  TerraformTarget,
  VersionlockTarget,
} from '../../core/config.js';
import { AppError } from '../../core/errors.js';
import type { ForgeKind, ForgePort } from '../../integrations/forge/port.js';
import type { ComputePort } from '../../integrations/gce/port.js';
import type { ChangeRequest } from '../../store/types.js';
import { type LockEntry, listVersionlocks, type VersionlockRequest } from '../versionlock/index.js';
import { type ResolveResult, resolveInstance } from '../why-reboot/resolve-instance.js';
import { planTfImportRequest, planVersionlockRequest, type TfImportRequest } from './plan-requests.js';
import type { ChangePlan, PlanOutcome } from './types.js';

/**
 * What every change command (/versionlock, /tf-import, later /amend) shares before and around the lifecycle
 * (lifecycle.ts): pick the target, plan against the base branch, re-plan a stored plan, decide who may approve
 * or cancel. Nothing here knows about Slack blocks or HTTP.
 */

export type ChangeCommand = Extract<CommandName, 'versionlock' | 'tf-import' | 'amend'>;

/** The command whose approval rules govern a change of this kind. */
export const commandOfKind = (kind: string): ChangeCommand =>
  kind === 'tf-import' ? 'tf-import' : kind === 'amend' ? 'amend' : 'versionlock';

export interface ChangeFlowDeps {
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

/**
 * Who may approve a command's changes, as data: config.access.approvals, else (nobody named there) who may
 * run the command. The handlers render it (Slack mentions); a playbook never writes Slack syntax.
 */
export interface Approvers {
  readonly command: ChangeCommand;
  readonly users: readonly string[];
  readonly groups: readonly string[];
  /** Neither rule names anyone: whoever may run the command. */
  readonly anyone: boolean;
  /** The requester may not approve their own change (requireSecondPerson, the default). */
  readonly secondPerson: boolean;
}

export type ActorDecision =
  | { readonly allowed: true }
  | {
      readonly allowed: false;
      readonly reason: 'self' | 'not-approver' | 'channel';
      readonly action: 'approve' | 'cancel';
      readonly approvers: Approvers;
      /** The command's own access rule when it refused (no approver list): what that rule allows. */
      readonly rule: AccessRule | null;
      /** cancel: the requester, who may always cancel. */
      readonly requester: string | null;
    };

export type ActorRefusal = Extract<ActorDecision, { allowed: false }>;

const commandOf = (change: ChangeRequest): ChangeCommand => commandOfKind(change.kind);

export const listApprovers = (
  deps: Pick<ChangeFlowDeps, 'approvals' | 'commandRules'>,
  command: ChangeCommand,
): Approvers => {
  const rule = deps.approvals[command];
  const secondPerson = rule?.requireSecondPerson ?? true;
  if (rule && (rule.users.length > 0 || rule.groups.length > 0)) {
    return { command, users: rule.users, groups: rule.groups, anyone: false, secondPerson };
  }
  const cmdRule = deps.commandRules[command];
  if (cmdRule && (cmdRule.users.length > 0 || cmdRule.groups.length > 0)) {
    return { command, users: cmdRule.users, groups: cmdRule.groups, anyone: false, secondPerson };
  }
  return { command, users: [], groups: [], anyone: true, secondPerson };
};

const isApprover = async (
  deps: Pick<ChangeFlowDeps, 'approvals' | 'commandRules' | 'isMember'>,
  command: ChangeCommand,
  userId: string,
  channelId: string,
): Promise<ActorDecision> => {
  const rule = deps.approvals[command];
  const refused = (reason: ActorRefusal['reason'], cmdRule: AccessRule | null): ActorRefusal => ({
    allowed: false,
    reason,
    action: 'approve',
    approvers: listApprovers(deps, command),
    rule: cmdRule,
    requester: null,
  });
  if (rule && (rule.users.length > 0 || rule.groups.length > 0)) {
    if (rule.users.includes(userId)) return { allowed: true };
    for (const g of rule.groups) if (await deps.isMember(g, userId)) return { allowed: true };
    return refused('not-approver', null);
  }
  // No approver list: whoever may run the command may approve it (in the command's channels).
  const decision = await checkAccess(
    command,
    deps.commandRules[command],
    { userId, channelId },
    deps.isMember,
  );
  if (decision.allowed) return decision;
  return refused(
    decision.reason === 'channel' ? 'channel' : 'not-approver',
    deps.commandRules[command] ?? { users: [], groups: [], channels: [] },
  );
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
      action: 'approve',
      approvers: listApprovers(deps, command),
      rule: null,
      requester: change.requestedBy,
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
  const decision = await isApprover(deps, commandOf(change), userId, channelId);
  if (decision.allowed) return decision;
  return { ...decision, action: 'cancel', rule: null, requester: change.requestedBy };
};

/** Parses a button value `<change id>:<plan digest>` (digest optional). */
export const parseChangeButtonValue = (value: string): { changeId: string; digest: string | null } | null => {
  const m = /^([0-9a-f-]{8,64})(?::([0-9a-f]{12}))?$/i.exec(value.trim());
  if (!m) return null;
  return { changeId: m[1] as string, digest: m[2] ?? null };
};

export const buildChangeButtonValue = (changeId: string, plan: ChangePlan): string =>
  `${changeId}:${planDigest(plan)}`;
