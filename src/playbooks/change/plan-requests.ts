import type { TerraformTarget, VersionlockTarget } from '../../core/config.js';
import type { ForgePort } from '../../integrations/forge/port.js';
import type { ComputePort, InstanceInfo } from '../../integrations/gce/port.js';
import { buildComputeInstanceImport, planTfImportChange, tfPath } from '../tf-import/index.js';
import { planVersionlockChange, type VersionlockRequest } from '../versionlock/index.js';
import { tfImportRequestSchema, versionlockRequestSchema } from './plan-schema.js';
import type { ChangePlan, PlanOutcome } from './types.js';

/**
 * Turns a command (/versionlock, /tf-import) into a ChangePlan against the current head of the target's base
 * branch. The same functions re-plan when the base moved, so what Approve applies is always recomputed from
 * what is really there.
 */

const baseHeadOrRefuse = async (
  forge: ForgePort,
  repo: string,
  branch: string,
): Promise<string | PlanOutcome> => {
  const sha = await forge.getBranchHead(repo, branch);
  return sha ?? { kind: 'refused', reason: `Base branch ${branch} does not exist in ${repo}.` };
};

export const planVersionlockRequest = async (
  forge: ForgePort,
  target: VersionlockTarget,
  request: VersionlockRequest,
  options: { branchPrefix?: string } = {},
): Promise<PlanOutcome> => {
  const head = await baseHeadOrRefuse(forge, target.repo, target.baseBranch);
  if (typeof head !== 'string') return head;
  const file = await forge.getFile(target.repo, target.path, head);
  const plan = planVersionlockChange(target, file?.content ?? null, request);
  if (plan.kind === 'nothing-to-do') return { kind: 'nothing-to-do', reason: plan.reason };
  const what = plan.outcome.summary;
  const branch = options.branchPrefix
    ? plan.branch.replace('opsbot/', `opsbot/${options.branchPrefix}-`)
    : plan.branch;
  const change: ChangePlan = {
    kind: 'versionlock',
    target: target.name,
    forge: target.forge,
    repo: target.repo,
    baseBranch: target.baseBranch,
    baseSha: head,
    branch,
    title: plan.title,
    commitMessage: `${plan.title}\n\nRequested through opsbot /versionlock (target ${target.name}).`,
    summary: `${what} in \`${target.path}\` (${target.format}).`,
    files: [{ path: plan.path, before: plan.before, after: plan.after }],
    diff: plan.diff,
    labels: ['opsbot', 'versionlock'],
    request: { ...request, ...(options.branchPrefix ? { branchPrefix: options.branchPrefix } : {}) },
  };
  return { kind: 'planned', plan: change };
};

export type TfImportRequest =
  | { readonly kind: 'address'; readonly address: string; readonly id: string }
  | { readonly kind: 'vm'; readonly instance: InstanceInfo };

export const planTfImportRequest = async (
  forge: ForgePort,
  target: TerraformTarget,
  request: TfImportRequest,
  compute?: ComputePort,
): Promise<PlanOutcome> => {
  const head = await baseHeadOrRefuse(forge, target.repo, target.baseBranch);
  if (typeof head !== 'string') return head;
  const importsPath = tfPath(target.dir, target.importsFile);
  const imports = (await forge.getFile(target.repo, importsPath, head))?.content ?? null;
  let address: string;
  let id: string;
  let resourceBlock: string | undefined;
  let resources: string | null | undefined;
  if (request.kind === 'vm') {
    const inst = request.instance;
    const bootDisk = inst.disks.find((d) => d.boot)?.source ?? null;
    const diskName = bootDisk?.split('/').pop();
    const bootImage =
      compute && diskName
        ? await compute.getDiskSourceImage(inst.project, inst.zone, diskName).catch(() => null)
        : null;
    const built = buildComputeInstanceImport(inst, { bootImage });
    address = built.address;
    id = built.id;
    resourceBlock = built.resourceBlock;
    const resourcesPath = tfPath(target.dir, target.resourcesFile);
    resources = (await forge.getFile(target.repo, resourcesPath, head))?.content ?? null;
  } else {
    address = request.address;
    id = request.id;
  }
  const plan = planTfImportChange(
    target,
    { imports, resources: resources ?? null },
    address,
    id,
    resourceBlock,
  );
  if (plan.kind === 'already-present') return { kind: 'nothing-to-do', reason: plan.reason };
  const change: ChangePlan = {
    kind: 'tf-import',
    target: target.name,
    forge: target.forge,
    repo: target.repo,
    baseBranch: target.baseBranch,
    baseSha: head,
    branch: plan.branch,
    title: plan.title,
    commitMessage: `${plan.title}\n\nRequested through opsbot /tf-import (target ${target.name}). Run terraform plan to review the import.`,
    summary:
      request.kind === 'vm'
        ? `Import VM ${request.instance.project}/${request.instance.zone}/${request.instance.name} as \`${plan.address}\` in \`${target.dir}\`, with a starting resource block to tune until \`terraform plan\` shows no changes.`
        : `Import \`${plan.id}\` as \`${plan.address}\` in \`${target.dir}\`.`,
    files: plan.files.map((f) => ({ path: f.path, before: f.before, after: f.after })),
    diff: plan.files.map((f) => f.diff).join(''),
    labels: ['opsbot', 'terraform-import'],
    request: { ...request },
  };
  return { kind: 'planned', plan: change };
};

export interface ReplanDeps {
  readonly forgeFor: (kind: ChangePlan['forge']) => ForgePort;
  readonly versionlockTargets: readonly VersionlockTarget[];
  readonly terraformTargets: readonly TerraformTarget[];
  readonly compute?: (() => ComputePort) | undefined;
}

/**
 * Recomputes a stored plan from its original request against the base head as it is now (the Replanner the
 * lifecycle calls when the base moved). A target removed from config since the plan refuses; a request that
 * does not parse is refused too (the plan came from an older opsbot).
 */
export const replanStoredPlan = async (deps: ReplanDeps, plan: ChangePlan): Promise<PlanOutcome> => {
  const forge = deps.forgeFor(plan.forge);
  if (plan.kind === 'versionlock') {
    const target = deps.versionlockTargets.find((t) => t.name === plan.target);
    if (!target) return { kind: 'refused', reason: `Target ${plan.target} is no longer configured.` };
    const parsed = versionlockRequestSchema.safeParse(plan.request);
    if (!parsed.success) return { kind: 'refused', reason: 'The stored request cannot be planned again.' };
    const { branchPrefix, ...request } = parsed.data;
    return planVersionlockRequest(forge, target, request, branchPrefix ? { branchPrefix } : {});
  }
  if (plan.kind === 'tf-import') {
    const target = deps.terraformTargets.find((t) => t.name === plan.target);
    if (!target) return { kind: 'refused', reason: `Target ${plan.target} is no longer configured.` };
    const parsed = tfImportRequestSchema.safeParse(plan.request);
    if (!parsed.success) return { kind: 'refused', reason: 'The stored request cannot be planned again.' };
    const request =
      parsed.data.kind === 'vm'
        ? { kind: 'vm' as const, instance: parsed.data.instance as unknown as InstanceInfo }
        : parsed.data;
    return planTfImportRequest(forge, target, request, request.kind === 'vm' ? deps.compute?.() : undefined);
  }
  return { kind: 'refused', reason: `Cannot re-plan a ${plan.kind} change.` };
};
