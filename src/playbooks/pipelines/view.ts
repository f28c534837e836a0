import { aggregateStatus, type CiStatus, isTerminalCi } from '../../core/ci.js';
import type { SlackMessage } from '../../integrations/slack/port.js';
import { latestJobs } from '../../store/pipeline-repository.js';
import type { CiJob, FollowedMr, PipelineSnapshot } from '../../store/pipeline-types.js';

/**
 * What the Slack messages of a followed MR show, as data: the status message of a pipeline (overall state,
 * stages, jobs with durations, link), the result reply, and the "merged/closed by" reply. Renderers (Block Kit
 * in src/handlers/blocks/pipeline.ts, text for the CLI) turn these into messages; they are pure.
 */

export interface MrView {
  readonly forge: 'gitlab' | 'github';
  readonly repo: string;
  readonly number: number;
  readonly url: string | null;
}

export interface JobView {
  readonly name: string;
  readonly status: CiStatus;
  readonly durationMs: number | null;
  readonly url: string | null;
  readonly allowFailure: boolean;
  readonly failureReason: string | null;
}

export interface StageView {
  readonly name: string;
  readonly status: CiStatus;
  readonly url: string | null;
  readonly jobs: readonly JobView[];
}

export interface PipelineView {
  readonly mr: MrView;
  /** "Pipeline #1234" (GitLab) or "Checks of abc1234" (GitHub). */
  readonly label: string;
  readonly status: CiStatus;
  readonly url: string | null;
  readonly sha: string;
  readonly ref: string | null;
  readonly stages: readonly StageView[];
  readonly durationMs: number | null;
  /** When set, a newer pipeline replaced this one. */
  readonly supersededBy: { readonly label: string; readonly url: string | null } | null;
  readonly updatedAt: Date;
}

export interface FailedJobView {
  readonly name: string;
  readonly stage: string | null;
  readonly url: string | null;
  readonly failureReason: string | null;
  /** The last lines of its log (cleaned, secrets scrubbed), or null when it could not be read. */
  readonly logTail: readonly string[] | null;
}

export interface ResultView {
  readonly pipeline: PipelineView;
  readonly outcome: CiStatus;
  readonly failedJobs: readonly FailedJobView[];
  /** Failed jobs not shown (over the limit). */
  readonly moreFailed: number;
  /** Value of the "Retry failed jobs" button; null when there is nothing to retry. */
  readonly retryValue: string | null;
}

export interface EndedView {
  readonly mr: MrView;
  readonly state: 'merged' | 'closed';
  readonly actor: string | null;
}

export interface PipelineRenderers {
  status(view: PipelineView): SlackMessage;
  result(view: ResultView): SlackMessage;
  ended(view: EndedView): SlackMessage;
}

export const mrViewOf = (mr: Pick<FollowedMr, 'forge' | 'repo' | 'number' | 'url'>): MrView => ({
  forge: mr.forge,
  repo: mr.repo,
  number: mr.number,
  url: mr.url,
});

export const pipelineLabel = (forge: 'gitlab' | 'github', key: string): string =>
  forge === 'gitlab' ? `Pipeline #${key}` : `Checks of ${key.slice(0, 7)}`;

const durationOf = (start: Date | null, end: Date | null, now: Date): number | null => {
  if (!start) return null;
  const stop = end ?? now;
  return Math.max(0, stop.getTime() - start.getTime());
};

const jobView = (j: CiJob, now: Date): JobView => ({
  name: j.name,
  status: j.status,
  durationMs:
    j.status === 'running' || isTerminalCi(j.status) ? durationOf(j.startedAt, j.finishedAt, now) : null,
  url: j.url,
  allowFailure: j.allowFailure,
  failureReason: j.failureReason,
});

/** Jobs in the order the forge made them (ids grow), names as a tie-break. */
const byId = (a: CiJob, b: CiJob): number => {
  const x = /^\d+$/.test(a.jobId) ? Number(a.jobId) : 0;
  const y = /^\d+$/.test(b.jobId) ? Number(b.jobId) : 0;
  return x - y || a.name.localeCompare(b.name);
};

/** Stages: GitLab's stage names in pipeline order; on GitHub one stage per workflow run (or CI app). */
const stagesOf = (snap: PipelineSnapshot, now: Date): StageView[] => {
  const jobs = latestJobs(snap.jobs).sort(byId);
  if (snap.pipeline.forge === 'gitlab') {
    // Stage order: GitLab creates a pipeline's jobs stage by stage, so the first attempts' ids give it (a
    // retried job's new id would not).
    const order: string[] = [];
    for (const j of [...snap.jobs].sort(byId)) if (!order.includes(j.stage ?? '')) order.push(j.stage ?? '');
    return order.map((stage) => {
      const list = jobs.filter((j) => (j.stage ?? '') === stage);
      return {
        name: stage,
        status: aggregateStatus(
          list.map((j) => (j.allowFailure && j.status === 'failed' ? 'success' : j.status)),
        ),
        url: null,
        jobs: list.map((j) => jobView(j, now)),
      };
    });
  }
  return [...snap.runs]
    .sort((a, b) => (a.name ?? '').localeCompare(b.name ?? '') || a.runId.localeCompare(b.runId))
    .map((run) => ({
      name: run.name ?? run.runId,
      status: run.status,
      url: run.url,
      jobs: jobs.filter((j) => j.runId === run.runId).map((j) => jobView(j, now)),
    }));
};

export const buildPipelineView = (
  snap: PipelineSnapshot,
  mr: MrView,
  now: Date,
  supersededBy: PipelineSnapshot | null = null,
): PipelineView => {
  const p = snap.pipeline;
  const starts = snap.runs.map((r) => r.startedAt).filter((d): d is Date => d !== null);
  const start = starts.length ? new Date(Math.min(...starts.map((d) => d.getTime()))) : null;
  return {
    mr,
    label: pipelineLabel(p.forge, p.key),
    status: p.status,
    url: snap.runs.length === 1 && p.forge === 'github' ? (snap.runs[0]?.url ?? p.url) : p.url,
    sha: p.sha,
    ref: p.ref,
    stages: stagesOf(snap, now),
    durationMs: durationOf(start, isTerminalCi(p.status) ? (p.terminalAt ?? now) : null, now),
    supersededBy: supersededBy
      ? {
          label: pipelineLabel(supersededBy.pipeline.forge, supersededBy.pipeline.key),
          url: supersededBy.pipeline.url,
        }
      : null,
    updatedAt: p.updatedAt,
  };
};

/** The failed jobs that fail the pipeline (an allowed failure does not). */
export const failedJobsOf = (snap: PipelineSnapshot): CiJob[] =>
  latestJobs(snap.jobs)
    .filter((j) => j.status === 'failed' && !j.allowFailure)
    .sort(byId);

/** The retry button's value: which pipeline, and which completion of it (a click on an old result is stale). */
export const retryButtonValue = (pipelineId: string, completion: number): string =>
  `${completion}|${pipelineId}`;

export const parseRetryButtonValue = (value: string): { pipelineId: string; completion: number } | null => {
  const m = /^(\d+)\|(.+)$/s.exec(value);
  return m ? { completion: Number(m[1]), pipelineId: m[2] as string } : null;
};
