import type { ForgeKind } from '../../integrations/forge/port.js';

/** One file the change writes, with the content it had at the planned base. */
export interface PlannedFile {
  readonly path: string;
  readonly before: string | null; // null = the file does not exist yet
  readonly after: string;
}

/**
 * A change computed against the base branch head (a dry run). It is everything that will be written, so the
 * preview shown in Slack is exactly what Approve applies.
 */
export interface ChangePlan {
  readonly kind: string; // versionlock | tf-import | amend
  readonly target: string; // config target name
  readonly forge: ForgeKind;
  readonly repo: string;
  readonly baseBranch: string;
  readonly baseSha: string;
  readonly branch: string; // deterministic: the same request gives the same branch
  readonly title: string;
  readonly commitMessage: string;
  readonly summary: string; // one line, for Slack and the MR description
  readonly files: readonly PlannedFile[];
  readonly diff: string; // unified diff of all files
  readonly labels: readonly string[];
  /** The parsed command, kept so the plan can be recomputed when the base branch moves. */
  readonly request: Readonly<Record<string, unknown>>;
}

export type PlanOutcome =
  | { readonly kind: 'planned'; readonly plan: ChangePlan }
  | { readonly kind: 'nothing-to-do'; readonly reason: string }
  | { readonly kind: 'refused'; readonly reason: string };

/** Recomputes a plan against a (possibly newer) base: the same function that made the first plan. */
export type Replanner = (plan: ChangePlan) => Promise<PlanOutcome>;
