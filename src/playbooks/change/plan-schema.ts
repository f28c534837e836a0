import { z } from 'zod';
import { AppError } from '../../core/errors.js';
import type { ChangePlan } from './types.js';

/**
 * The stored plan (change_requests.plan), parsed once when a change is read for work, with the shape checked:
 * a row written by an older opsbot or edited by hand fails here with one clear error instead of somewhere in
 * the middle of an apply.
 */
const plannedFile = z.object({
  path: z.string().min(1),
  before: z.string().nullable(),
  after: z.string(),
});

export const changePlanSchema = z
  .object({
    kind: z.string().min(1),
    target: z.string().min(1),
    forge: z.enum(['gitlab', 'github']),
    repo: z.string().min(1),
    baseBranch: z.string().min(1),
    baseSha: z.string().min(1),
    branch: z.string().min(1),
    title: z.string(),
    commitMessage: z.string(),
    summary: z.string(),
    files: z.array(plannedFile),
    diff: z.string(),
    labels: z.array(z.string()),
    request: z.record(z.string(), z.unknown()),
  })
  // An amend changes someone's MR branch with git (its files are in its request); every other change
  // writes at least one planned file.
  .refine((p) => p.kind === 'amend' || p.files.length > 0, { path: ['files'], message: 'no files' });

export const versionlockRequestSchema = z.discriminatedUnion('op', [
  z.object({
    op: z.literal('add'),
    pkg: z.string().min(1),
    version: z.string().min(1),
    branchPrefix: z.string().optional(),
  }),
  z.object({ op: z.literal('remove'), pkg: z.string().min(1), branchPrefix: z.string().optional() }),
]);

export const tfImportRequestSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('address'), address: z.string().min(1), id: z.string().min(1) }),
  z.object({
    kind: z.literal('vm'),
    // The instance as Compute described it when planned (InstanceInfo); its shape is the adapter's.
    instance: z.looseObject({ name: z.string(), project: z.string(), zone: z.string() }),
  }),
]);

/** Parses a stored plan; a row that does not hold one is an internal error naming the change. */
export const parseStoredPlan = (json: string, changeId: string): ChangePlan => {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (cause) {
    throw new AppError('internal', 'The stored plan of this change is unreadable.', {
      cause,
      details: { changeId },
    });
  }
  const parsed = changePlanSchema.safeParse(raw);
  if (!parsed.success) {
    throw new AppError('internal', 'The stored plan of this change is not a plan opsbot can apply.', {
      cause: parsed.error,
      details: { changeId, issues: parsed.error.issues.slice(0, 3).map((i) => i.path.join('.')) },
    });
  }
  return parsed.data;
};
