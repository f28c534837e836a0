import { unifiedDiff } from '../diff.js';
import { buildVersionlockBranchName, editVersionlock } from './index.js';
import type { VersionlockFileOptions, VersionlockOutcome, VersionlockRequest } from './types.js';

/** The part of a config versionlock target the plan needs (a `VersionlockTarget` fits). */
export interface VersionlockPlanTarget extends VersionlockFileOptions {
  readonly name: string;
  readonly path: string;
}

export type VersionlockPlan =
  | {
      readonly kind: 'change';
      readonly target: string;
      readonly path: string;
      readonly branch: string;
      /** Commit and MR title. */
      readonly title: string;
      readonly diff: string;
      readonly before: string | null;
      readonly after: string;
      readonly outcome: Extract<VersionlockOutcome, { kind: 'changed' }>;
    }
  | {
      readonly kind: 'nothing-to-do';
      readonly target: string;
      readonly path: string;
      readonly reason: string;
    };

/**
 * Plans a versionlock change against the file content read at the base branch (null: file absent).
 * Pure; throws AppError('bad_input') for refused input, like editVersionlock.
 */
export const planVersionlockChange = (
  target: VersionlockPlanTarget,
  content: string | null,
  request: VersionlockRequest,
): VersionlockPlan => {
  const outcome = editVersionlock(content, request, target);
  if (outcome.kind === 'nothing-to-do') {
    return { kind: 'nothing-to-do', target: target.name, path: target.path, reason: outcome.reason };
  }
  return {
    kind: 'change',
    target: target.name,
    path: target.path,
    branch: buildVersionlockBranchName(request),
    title: `versionlock: ${outcome.summary}`,
    diff: unifiedDiff(target.path, content, outcome.after),
    before: content,
    after: outcome.after,
    outcome,
  };
};
