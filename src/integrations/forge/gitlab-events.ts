import { z } from 'zod';
import {
  type CiJobState,
  type CiStatus,
  ciRank,
  type ForgeEvent,
  type JobEvent,
  type MergeRequestEvent,
  type ParsedDelivery,
  type PipelineEvent,
} from './events.js';
import { firstIssue, forgeDate, intId, loose, optText } from './payload.js';

/**
 * GitLab webhook bodies (Merge Request Hook, Pipeline Hook, Job Hook) -> opsbot forge events. Shapes follow
 * GitLab's "Webhook events" documentation; only the fields opsbot uses are read, everything else is ignored.
 */

/** GitLab pipeline and job statuses -> opsbot's. An unknown status counts as pending (not done, not failed). */
export const gitlabCiStatus = (s: string): CiStatus => {
  switch (s) {
    case 'created':
      return 'created';
    case 'manual':
    case 'scheduled':
      return 'manual';
    case 'running':
      return 'running';
    case 'success':
      return 'success';
    case 'failed':
      return 'failed';
    case 'canceled':
    case 'canceling':
      return 'canceled';
    case 'skipped':
      return 'skipped';
    default: // waiting_for_resource, preparing, pending, waiting_for_callback, ...
      return 'pending';
  }
};

const mrState = (s: string): MergeRequestEvent['state'] =>
  s === 'merged' ? 'merged' : s === 'opened' ? 'open' : 'closed';

const project = loose({
  id: intId.optional(),
  path_with_namespace: z.string().min(1),
  web_url: z.string().min(1),
});

const build = loose({
  id: intId,
  stage: z.string(),
  name: z.string(),
  status: z.string(),
  started_at: optText,
  finished_at: optText,
  allow_failure: z.boolean().nullish(),
  failure_reason: optText,
});

const pipelineHook = loose({
  object_attributes: loose({
    id: intId,
    ref: optText,
    sha: z.string().min(1),
    status: z.string(),
    created_at: optText,
    finished_at: optText,
  }),
  merge_request: loose({ iid: intId, source_branch: optText, url: optText }).nullish(),
  project,
  builds: z.array(build).nullish(),
});

const jobHook = loose({
  ref: optText,
  tag: z.boolean().nullish(),
  sha: z.string().min(1),
  build_id: intId,
  build_name: z.string(),
  build_stage: z.string(),
  build_status: z.string(),
  build_started_at: optText,
  build_finished_at: optText,
  build_allow_failure: z.boolean().nullish(),
  build_failure_reason: optText,
  pipeline_id: intId,
  project: project.nullish(),
  repository: loose({ homepage: optText }).nullish(),
});

const mrHook = loose({
  user: loose({ username: optText }).nullish(),
  project,
  object_attributes: loose({
    iid: intId,
    state: z.string(),
    action: optText,
    url: optText,
    source_branch: optText,
    updated_at: optText,
    last_commit: loose({ id: optText }).nullish(),
  }),
});

/** A job as GitLab hooks (builds[], Job Hook) and the jobs API describe it. */
export const gitlabJobState = (
  url: string,
  j: {
    id: number;
    name: string;
    stage: string;
    status: string;
    started_at: string | null;
    finished_at: string | null;
    allow_failure?: boolean | null | undefined;
    failure_reason: string | null;
  },
): CiJobState => {
  const status = gitlabCiStatus(j.status);
  return {
    id: String(j.id),
    name: j.name,
    stage: j.stage,
    status,
    url,
    startedAt: forgeDate(j.started_at),
    finishedAt: forgeDate(j.finished_at),
    failureReason: status === 'failed' ? j.failure_reason : null,
    allowFailure: j.allow_failure === true,
  };
};

/** The project path of a Job Hook: `project.path_with_namespace` (newer GitLab), else from the homepage URL. */
const jobHookProject = (
  h: z.infer<typeof jobHook>,
  relativeRoot: string,
): { path: string; webUrl: string } | null => {
  if (h.project) return { path: h.project.path_with_namespace, webUrl: h.project.web_url };
  const home = h.repository?.homepage;
  if (!home) return null;
  try {
    const u = new URL(home);
    let p = u.pathname.replace(/^\/+|\/+$/g, '');
    const root = relativeRoot.replace(/^\/+|\/+$/g, '');
    if (root && p.startsWith(`${root}/`)) p = p.slice(root.length + 1);
    return p ? { path: p, webUrl: home.replace(/\/+$/, '') } : null;
  } catch {
    return null;
  }
};

/**
 * Where a GitLab pipeline is, from its latest jobs: a retry creates new jobs with higher ids, so the highest
 * id is the pipeline's attempt; within one attempt every job only moves forward, so the sum of their ranks
 * only grows. Webhooks and polling compute it the same way.
 */
export const gitlabRunVersion = (jobs: readonly CiJobState[]): { generation: number; sequence: number } => ({
  generation: jobs.reduce((m, j) => Math.max(m, Number(j.id)), 0),
  sequence: jobs.reduce((s, j) => s + ciRank(j.status), 0),
});

export interface GitlabParseOptions {
  /** The configured GitLab host (`forges.gitlab.host`); its path is GitLab's relative URL root, if any. */
  readonly host?: string;
  /** Receive time, used when the payload carries no time. */
  readonly now?: () => Date;
}

/** Parses one GitLab delivery. `event` is the X-Gitlab-Event header. */
export const parseGitlabWebhook = (
  event: string,
  body: unknown,
  options: GitlabParseOptions = {},
): ParsedDelivery => {
  const now = options.now ?? (() => new Date());
  let relativeRoot = '';
  try {
    relativeRoot = options.host ? new URL(options.host).pathname : '';
  } catch {
    relativeRoot = '';
  }
  switch (event) {
    case 'Pipeline Hook': {
      const r = pipelineHook.safeParse(body);
      if (!r.success)
        return { kind: 'ignored', reason: `unexpected Pipeline Hook body (${firstIssue(r.error)})` };
      return { kind: 'events', events: [pipelineEvent(r.data, now)] };
    }
    case 'Job Hook': {
      const r = jobHook.safeParse(body);
      if (!r.success) return { kind: 'ignored', reason: `unexpected Job Hook body (${firstIssue(r.error)})` };
      if (r.data.tag) return { kind: 'ignored', reason: 'tag pipeline' };
      const p = jobHookProject(r.data, relativeRoot);
      if (!p) return { kind: 'ignored', reason: 'Job Hook without a project path' };
      return { kind: 'events', events: [jobEvent(r.data, p, now)] };
    }
    case 'Merge Request Hook': {
      const r = mrHook.safeParse(body);
      if (!r.success)
        return { kind: 'ignored', reason: `unexpected Merge Request Hook body (${firstIssue(r.error)})` };
      return { kind: 'events', events: [mergeRequestEvent(r.data, now)] };
    }
    default:
      return { kind: 'ignored', reason: `event "${event}" is not used` };
  }
};

const pipelineEvent = (h: z.infer<typeof pipelineHook>, now: () => Date): PipelineEvent => {
  const a = h.object_attributes;
  const web = h.project.web_url.replace(/\/+$/, '');
  const jobs = (h.builds ?? []).map((b) => gitlabJobState(`${web}/-/jobs/${b.id}`, b));
  const url = `${web}/-/pipelines/${a.id}`;
  return {
    kind: 'pipeline',
    forge: 'gitlab',
    repo: h.project.path_with_namespace,
    mrNumber: h.merge_request?.iid ?? null,
    sourceBranch: h.merge_request?.source_branch ?? a.ref,
    sha: a.sha,
    pipelineKey: String(a.id),
    pipelineUrl: url,
    ordinal: a.id,
    at: forgeDate(a.finished_at) ?? forgeDate(a.created_at) ?? now(),
    run: {
      id: `pipeline:${a.id}`,
      name: null,
      status: gitlabCiStatus(a.status),
      url,
      ...gitlabRunVersion(jobs),
      startedAt: forgeDate(a.created_at),
      finishedAt: forgeDate(a.finished_at),
    },
    jobs,
  };
};

const jobEvent = (
  h: z.infer<typeof jobHook>,
  p: { path: string; webUrl: string },
  now: () => Date,
): JobEvent => ({
  kind: 'job',
  forge: 'gitlab',
  repo: p.path,
  mrNumber: null,
  sourceBranch: h.ref,
  sha: h.sha,
  pipelineKey: String(h.pipeline_id),
  pipelineUrl: `${p.webUrl}/-/pipelines/${h.pipeline_id}`,
  ordinal: h.pipeline_id,
  at: forgeDate(h.build_finished_at) ?? forgeDate(h.build_started_at) ?? now(),
  runId: `pipeline:${h.pipeline_id}`,
  runName: null,
  runUrl: `${p.webUrl}/-/pipelines/${h.pipeline_id}`,
  runGeneration: h.build_id,
  job: gitlabJobState(`${p.webUrl}/-/jobs/${h.build_id}`, {
    id: h.build_id,
    name: h.build_name,
    stage: h.build_stage,
    status: h.build_status,
    started_at: h.build_started_at,
    finished_at: h.build_finished_at,
    allow_failure: h.build_allow_failure,
    failure_reason: h.build_failure_reason,
  }),
});

const mergeRequestEvent = (h: z.infer<typeof mrHook>, now: () => Date): ForgeEvent => {
  const a = h.object_attributes;
  return {
    kind: 'merge_request',
    forge: 'gitlab',
    repo: h.project.path_with_namespace,
    number: a.iid,
    state: mrState(a.state),
    url: a.url,
    sourceBranch: a.source_branch,
    headSha: a.last_commit?.id ?? null,
    actor: h.user?.username ?? null,
    at: forgeDate(a.updated_at) ?? now(),
  };
};
