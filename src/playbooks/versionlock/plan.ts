import { buildChangeBranchName } from '../branch-name.js';
import { unifiedDiff } from '../diff.js';
import { editVersionlock } from './edit.js';
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
 * The branch of a change to one target, e.g. `opsbot/versionlock/el7-prod/elasticsearch-7.10.2-1`: the
 * target is part of it, so the same package locked in two targets of one repository gets two branches.
 */
export const buildVersionlockBranchName = (target: string, request: VersionlockRequest): string =>
  buildChangeBranchName(
    'versionlock',
    target,
    request.op === 'add' ? `${request.pkg}-${request.version}` : `remove-${request.pkg}`,
  );

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
    branch: buildVersionlockBranchName(target.name, request),
    title: `versionlock: ${outcome.summary}`,
    diff: unifiedDiff(target.path, content, outcome.after),
    before: content,
    after: outcome.after,
    outcome,
  };
};
