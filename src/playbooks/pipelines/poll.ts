import type { JobEvent, MergeRequestStateEvent, PipelineEvent } from '../../integrations/forge/events.js';
import type { CiPipelineDetail, ForgeKind, MergeRequestDetails } from '../../integrations/forge/port.js';
import type { MergeRequestChange } from '../../store/pipeline-types.js';

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
