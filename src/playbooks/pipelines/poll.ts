import { isTerminalCi } from '../../core/ci.js';
import type { JobEvent, MergeRequestStateEvent, PipelineEvent } from '../../integrations/forge/events.js';
import type { CiPipelineDetail, ForgeKind, MergeRequestDetails } from '../../integrations/forge/port.js';
import type { MergeRequestChange, PipelineSnapshot } from '../../store/pipeline-types.js';

/**
 * What a poll of the forge read, as the same events the webhooks produce: one code path applies both, and
 * both order a run's states the same way (GitHub run_attempt + updated_at; GitLab highest job id + progress).
 */

export const mergeRequestEventOf = (
  forge: ForgeKind,
  repo: string,
  mr: MergeRequestDetails,
): MergeRequestChange & MergeRequestStateEvent => ({
  kind: 'merge_request',
  forge,
  repo,
  number: mr.number,
  state: mr.state,
  url: mr.url,
  sourceBranch: mr.sourceBranch,
  headSha: mr.headSha,
  actor: mr.actor,
  at: mr.updatedAt,
});

export const pipelineEventsOf = (
  forge: ForgeKind,
  repo: string,
  mr: { readonly number: number; readonly sourceBranch: string | null },
  detail: CiPipelineDetail,
  now: Date,
): Array<PipelineEvent | JobEvent> => {
  const s = detail.summary;
  return detail.runs.map(
    (run): PipelineEvent => ({
      kind: 'pipeline',
      forge,
      repo,
      mrNumber: mr.number,
      sourceBranch: mr.sourceBranch ?? s.ref,
      sha: s.sha,
      pipelineKey: s.key,
      pipelineUrl: s.url,
      ordinal: s.ordinal,
      at: now,
      run,
      jobs: detail.jobs.filter((j) => j.runId === run.id).map((j) => j.job),
    }),
  );
};

/** A pipeline read from the forge, shaped like one read from the store (for the CLI, which has no store). */
export const snapshotOf = (
  forge: ForgeKind,
  repo: string,
  detail: CiPipelineDetail,
  now: Date,
): PipelineSnapshot => {
  const s = detail.summary;
  const done = isTerminalCi(s.status);
  const finished = detail.runs.map((r) => r.finishedAt?.getTime() ?? 0).filter((t) => t > 0);
  return {
    pipeline: {
      id: `${forge}:${repo}#${s.key}`,
      forge,
      repo,
      key: s.key,
      mrId: null,
      sha: s.sha,
      ref: s.ref,
      url: s.url,
      status: s.status,
      ordinal: s.ordinal,
      version: 0,
      completion: done ? 1 : 0,
      terminalAt: done ? new Date(finished.length ? Math.max(...finished) : now.getTime()) : null,
      updatedAt: now,
    },
    runs: detail.runs.map((r) => ({
      runId: r.id,
      name: r.name,
      status: r.status,
      url: r.url,
      generation: r.generation,
      startedAt: r.startedAt,
      finishedAt: r.finishedAt,
    })),
    jobs: detail.jobs.map(({ runId, job }) => ({
      jobId: job.id,
      runId,
      name: job.name,
      stage: job.stage,
      status: job.status,
      url: job.url,
      startedAt: job.startedAt,
      finishedAt: job.finishedAt,
      failureReason: job.failureReason,
      allowFailure: job.allowFailure,
    })),
    message: null,
  };
};
