import { createHash } from 'node:crypto';
import { z } from 'zod';
import { AppError } from '../../core/errors.js';
import type { MergeRequestRef } from '../../integrations/forge/events.js';
import type { ChangePlan } from '../change/types.js';
import type { AmendMode, AmendPreview, AmendRequest } from './amend.js';

/**
 * `/amend` as a change of the shared lifecycle (playbooks/change): the preview becomes a stored plan of kind
 * `amend`, approved and audited like any other change. Its store key (the `branch` column) is not the MR's
 * source branch, which opsbot does not own: it is `amend:<mr number>:<hash of the request>`, never a valid git
 * ref name, so a second amend on the same MR is its own change, the same request made again supersedes the
 * older preview, and no forge event about a real branch is ever taken for it. The lifecycle's apply calls
 * `applyAmend` on the previewed head (lifecycle.ts), never the branch-per-change steps of ensure.ts.
 */

export const AMEND_KIND = 'amend';

/** What the stored plan keeps of an amend request (plan.request), checked when read back. */
export const amendPlanRequestSchema = z.object({
  ref: z.object({
    forge: z.enum(['gitlab', 'github']),
    repo: z.string().min(1),
    number: z.number().int().positive(),
  }),
  patch: z.string().min(1),
  mode: z.enum(['add', 'amend']),
  message: z.string().nullable(),
  reason: z.string().nullable(),
  /** The head the preview was computed on: the apply pushes onto this head only. */
  headSha: z.string().min(1),
  sourceBranch: z.string().min(1),
  sourceRepo: z.string().min(1),
  mrUrl: z.string(),
  mrTitle: z.string(),
  files: z.array(z.string()),
});

export type AmendPlanRequest = z.infer<typeof amendPlanRequestSchema>;

export const amendKey = (ref: MergeRequestRef, patch: string, mode: AmendMode, message: string | null) =>
  `amend:${ref.number}:${createHash('sha256')
    .update(patch)
    .update('\0')
    .update(mode)
    .update('\0')
    .update(message ?? '')
    .digest('hex')
    .slice(0, 12)}`;

/** The preview as a change plan: exactly the diff that will be pushed, on the head it was computed on. */
export const buildAmendPlan = (
  req: AmendRequest,
  preview: AmendPreview,
  reason: string | null,
): ChangePlan => {
  const t = preview.target;
  const request: AmendPlanRequest = {
    ref: { forge: req.ref.forge, repo: req.ref.repo, number: req.ref.number },
    patch: req.patch,
    mode: req.mode,
    message: req.message,
    reason,
    headSha: preview.headSha,
    sourceBranch: t.branch,
    sourceRepo: t.sourceRepo,
    mrUrl: t.url,
    mrTitle: t.title,
    files: [...preview.files],
  };
  const what = req.mode === 'amend' ? 'amend the last commit of' : 'add a commit to';
  return {
    kind: AMEND_KIND,
    target: t.label,
    forge: req.ref.forge,
    repo: req.ref.repo,
    baseBranch: t.branch,
    baseSha: preview.headSha,
    branch: amendKey(req.ref, req.patch, req.mode, req.message),
    title: `${t.label}: ${t.title}`,
    commitMessage:
      req.message ?? (req.mode === 'amend' ? '(the amended commit keeps its message)' : 'Change by opsbot'),
    summary: `${what} ${t.label} (${preview.files.join(', ')})`,
    files: [],
    diff: preview.diff,
    labels: [],
    request,
  };
};

/** The amend request of a stored plan; a plan that does not hold one is an internal error. */
export const amendRequestOf = (plan: ChangePlan): AmendPlanRequest => {
  const parsed = amendPlanRequestSchema.safeParse(plan.request);
  if (!parsed.success) {
    throw new AppError('internal', 'The stored amend request of this change is unreadable.', {
      cause: parsed.error,
    });
  }
  return parsed.data;
};
