/** Versionlock: the pure editors of the three file formats and the planner of a change (the public face). */

export { editVersionlock, listVersionlocks } from './edit.js';
export {
  buildVersionlockBranchName,
  planVersionlockChange,
  type VersionlockPlan,
  type VersionlockPlanTarget,
} from './plan.js';
export type {
  LockEntry,
  VersionlockFileOptions,
  VersionlockFormat,
  VersionlockOutcome,
  VersionlockRequest,
  VersionSpec,
} from './types.js';
export { VERSIONLOCK_FORMATS } from './types.js';
export { assertPackageName, parseVersionSpec } from './validate.js';
