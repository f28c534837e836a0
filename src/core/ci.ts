/**
 * CI vocabulary shared by every layer: the forge parsers and pollers produce these, the store applies them,
 * the reconciler and renderers show them. GitLab and GitHub terms are mapped to these in
 * src/integrations/forge/{gitlab,github}-events.ts.
 */

/** A forge, as the CI events name it (the same names as the forge port's ForgeKind). */
export type CiForge = 'gitlab' | 'github';

/**
 * A CI status in opsbot's terms. GitLab: created, waiting_for_resource/preparing/pending -> pending,
 * manual/scheduled -> manual, running, success, failed, canceled, skipped. GitHub: requested/queued/pending ->
 * pending, waiting -> manual, in_progress -> running, conclusions success/neutral -> success,
 * failure/timed_out/startup_failure -> failed, cancelled/stale -> canceled, skipped, action_required -> manual.
 */
export type CiStatus =
  | 'created'
  | 'pending'
  | 'manual'
  | 'running'
  | 'success'
  | 'failed'
  | 'canceled'
  | 'skipped';

export const CI_STATUSES: readonly CiStatus[] = [
  'created',
  'pending',
  'manual',
  'running',
  'success',
  'failed',
  'canceled',
  'skipped',
];

const TERMINAL: ReadonlySet<CiStatus> = new Set(['success', 'failed', 'canceled', 'skipped']);

export const isTerminalCi = (s: CiStatus): boolean => TERMINAL.has(s);

/**
 * How far along a job is. A job only ever moves up this order (created -> manual/scheduled -> pending ->
 * running -> done); a retried job is a new job with a new id. So a delivery carrying a lower rank than the
 * one stored for that job is older news and changes nothing.
 */
export const ciRank = (s: CiStatus): number => {
  switch (s) {
    case 'created':
      return 0;
    case 'manual':
      return 1;
    case 'pending':
      return 2;
    case 'running':
      return 3;
    default:
      return 4;
  }
};

/** One CI job (GitLab job, GitHub Actions job or check run). */
export interface CiJobState {
  /** Forge job id (GitLab job id, GitHub job / check run id), unique in the repository. */
  readonly id: string;
  readonly name: string;
  /** GitLab stage; null on GitHub (the workflow run is the stage there). */
  readonly stage: string | null;
  readonly status: CiStatus;
  readonly url: string | null;
  readonly startedAt: Date | null;
  readonly finishedAt: Date | null;
  readonly failureReason: string | null;
  /** A failure that does not fail the pipeline (GitLab allow_failure). */
  readonly allowFailure: boolean;
}

/**
 * One run inside a pipeline: the GitLab pipeline itself, a GitHub workflow run, or a GitHub check suite of
 * another CI app. Its status only moves forward in `(generation, sequence, rank)` order: `generation` grows
 * when the run is re-run (GitHub run_attempt; on GitLab the highest job id, since a retry creates new jobs),
 * `sequence` grows as it progresses within one generation (GitHub updated_at; on GitLab the sum of its jobs'
 * ranks). A delivery that is not ahead of what is stored is stale or a duplicate, and is dropped.
 */
export interface CiRunState {
  /** "pipeline:<id>" (GitLab), "run:<id>" (GitHub workflow run), "suite:<id>" (GitHub check suite). */
  readonly id: string;
  /** Workflow or CI app name; null for a GitLab pipeline. */
  readonly name: string | null;
  readonly status: CiStatus;
  readonly url: string | null;
  readonly generation: number;
  readonly sequence: number;
  readonly startedAt: Date | null;
  readonly finishedAt: Date | null;
}

/**
 * Where a CI event belongs. A pipeline is what gets one status message in Slack: on GitLab one pipeline (key:
 * its id), on GitHub every run for one head commit (key: the sha). The MR is named when the forge says so,
 * else it is found by branch and commit.
 */
export interface CiEventTarget {
  readonly forge: CiForge;
  readonly repo: string;
  readonly mrNumber: number | null;
  readonly sourceBranch: string | null;
  readonly sha: string;
  readonly pipelineKey: string;
  readonly pipelineUrl: string | null;
  /** Orders pipelines of one MR: the one with the highest ordinal is the current one (GitLab pipeline id, GitHub run id). */
  readonly ordinal: number;
  /** When the forge says it happened (for logs; ordering uses generation/sequence/rank). */
  readonly at: Date;
}

/** A run's state, with the jobs the delivery carried (GitLab Pipeline Hook builds; none on GitHub). */
export interface PipelineEvent extends CiEventTarget {
  readonly kind: 'pipeline';
  readonly run: CiRunState;
  readonly jobs: readonly CiJobState[];
}

/** One job's state. `runGeneration` is the run attempt it belongs to (GitHub run_attempt; GitLab its own id). */
export interface JobEvent extends CiEventTarget {
  readonly kind: 'job';
  readonly runId: string;
  readonly runName: string | null;
  readonly runUrl: string | null;
  readonly runGeneration: number;
  readonly job: CiJobState;
}

/**
 * The overall status of several runs (GitHub: the workflow runs of one commit; GitLab: the one pipeline):
 * running while any runs, pending while any waits to start, blocked on a manual action, else the worst
 * outcome (failed > canceled > success > skipped).
 */
export const aggregateStatus = (statuses: readonly CiStatus[]): CiStatus => {
  if (statuses.length === 0) return 'pending';
  if (statuses.includes('running')) return 'running';
  if (statuses.some((s) => s === 'pending' || s === 'created')) return 'pending';
  if (statuses.includes('manual')) return 'manual';
  if (statuses.includes('failed')) return 'failed';
  if (statuses.includes('canceled')) return 'canceled';
  if (statuses.includes('success')) return 'success';
  return 'skipped';
};
