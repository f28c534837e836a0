import { z } from 'zod';
import type { CiStatus, ForgeEvent, JobEvent, ParsedDelivery, PipelineEvent } from './events.js';
import { firstIssue, forgeDate, intId, loose, msOf, optText } from './payload.js';

/**
 * GitHub webhook bodies (pull_request, workflow_run, workflow_job, check_suite, check_run) -> opsbot forge
 * events. A GitHub "pipeline" is every run for one head commit: each workflow run (or check suite of another
 * CI app) is one run in it. Check suites and check runs made by GitHub Actions itself are dropped, since
 * workflow_run / workflow_job describe the same work with more detail.
 */

const ACTIONS_APP = 'github-actions';

/** GitHub status + conclusion -> opsbot's. */
export const githubCiStatus = (status: string, conclusion: string | null): CiStatus => {
  switch (status) {
    case 'completed':
      switch (conclusion) {
        case 'success':
        case 'neutral':
          return 'success';
        case 'failure':
        case 'timed_out':
        case 'startup_failure':
          return 'failed';
        case 'cancelled':
        case 'stale':
          return 'canceled';
        case 'action_required':
          return 'manual';
        default:
          return 'skipped';
      }
    case 'in_progress':
      return 'running';
    case 'waiting':
      return 'manual';
    default: // requested, queued, pending
      return 'pending';
  }
};

const repository = loose({ full_name: z.string().min(1), html_url: z.string().min(1) });

const prRef = loose({
  number: intId,
  base: loose({ repo: loose({ url: optText }).nullish() }).nullish(),
});

const pullRequestHook = loose({
  action: z.string(),
  repository,
  sender: loose({ login: optText }).nullish(),
  pull_request: loose({
    number: intId,
    state: z.string(),
    html_url: optText,
    merged: z.boolean().nullish(),
    merged_at: optText,
    closed_at: optText,
    updated_at: optText,
    merged_by: loose({ login: optText }).nullish(),
    head: loose({ ref: optText, sha: optText }),
  }),
});

const workflowRunHook = loose({
  repository,
  workflow: loose({ name: optText }).nullish(),
  workflow_run: loose({
    id: intId,
    name: optText,
    path: optText,
    status: z.string(),
    conclusion: optText,
    head_sha: z.string().min(1),
    head_branch: optText,
    html_url: optText,
    run_attempt: intId.nullish(),
    created_at: optText,
    updated_at: optText,
    run_started_at: optText,
    pull_requests: z.array(prRef).nullish(),
  }),
});

const workflowJobHook = loose({
  repository,
  workflow_job: loose({
    id: intId,
    run_id: intId,
    run_attempt: intId.nullish(),
    head_sha: z.string().min(1),
    head_branch: optText,
    html_url: optText,
    status: z.string(),
    conclusion: optText,
    created_at: optText,
    started_at: optText,
    completed_at: optText,
    name: z.string(),
    workflow_name: optText,
  }),
});

const app = loose({ slug: optText, name: optText }).nullish();

const checkSuiteHook = loose({
  repository,
  check_suite: loose({
    id: intId,
    head_branch: optText,
    head_sha: z.string().min(1),
    status: optText,
    conclusion: optText,
    created_at: optText,
    updated_at: optText,
    pull_requests: z.array(prRef).nullish(),
    app,
  }),
});

const checkRunHook = loose({
  repository,
  check_run: loose({
    id: intId,
    name: z.string(),
    head_sha: z.string().min(1),
    html_url: optText,
    status: z.string(),
    conclusion: optText,
    started_at: optText,
    completed_at: optText,
    app,
    check_suite: loose({
      id: intId,
      head_branch: optText,
      created_at: optText,
      pull_requests: z.array(prRef).nullish(),
    }),
  }),
});

type Repository = z.infer<typeof repository>;

/** A PR number from `pull_requests[]`, only for PRs of this repository (a fork's PRs name other repos). */
const prNumber = (
  prs: readonly z.infer<typeof prRef>[] | null | undefined,
  repo: Repository,
): number | null => {
  for (const p of prs ?? []) {
    const base = p.base?.repo?.url;
    if (!base || base.toLowerCase().endsWith(`/repos/${repo.full_name.toLowerCase()}`)) return p.number;
  }
  return null;
};

const checksUrl = (repo: Repository, sha: string) =>
  `${repo.html_url.replace(/\/+$/, '')}/commit/${sha}/checks`;

export interface GithubParseOptions {
  readonly now?: () => Date;
}

/** Parses one GitHub delivery. `event` is the X-GitHub-Event header. */
export const parseGithubWebhook = (
  event: string,
  body: unknown,
  options: GithubParseOptions = {},
): ParsedDelivery => {
  const now = options.now ?? (() => new Date());
  const bad = (e: z.ZodError): ParsedDelivery => ({
    kind: 'ignored',
    reason: `unexpected ${event} body (${firstIssue(e)})`,
  });
  switch (event) {
    case 'pull_request': {
      const r = pullRequestHook.safeParse(body);
      if (!r.success) return bad(r.error);
      return { kind: 'events', events: [pullRequestEvent(r.data, now)] };
    }
    case 'workflow_run': {
      const r = workflowRunHook.safeParse(body);
      if (!r.success) return bad(r.error);
      return { kind: 'events', events: [workflowRunEvent(r.data, now)] };
    }
    case 'workflow_job': {
      const r = workflowJobHook.safeParse(body);
      if (!r.success) return bad(r.error);
      return { kind: 'events', events: [workflowJobEvent(r.data, now)] };
    }
    case 'check_suite': {
      const r = checkSuiteHook.safeParse(body);
      if (!r.success) return bad(r.error);
      if (r.data.check_suite.app?.slug === ACTIONS_APP)
        return { kind: 'ignored', reason: 'GitHub Actions check suite (workflow_run covers it)' };
      return { kind: 'events', events: [checkSuiteEvent(r.data, now)] };
    }
    case 'check_run': {
      const r = checkRunHook.safeParse(body);
      if (!r.success) return bad(r.error);
      if (r.data.check_run.app?.slug === ACTIONS_APP)
        return { kind: 'ignored', reason: 'GitHub Actions check run (workflow_job covers it)' };
      return { kind: 'events', events: [checkRunEvent(r.data, now)] };
    }
    case 'ping':
      return { kind: 'ignored', reason: 'ping' };
    default:
      return { kind: 'ignored', reason: `event "${event}" is not used` };
  }
};

const pullRequestEvent = (h: z.infer<typeof pullRequestHook>, now: () => Date): ForgeEvent => {
  const p = h.pull_request;
  const merged = p.merged === true || (p.merged_at !== null && p.merged_at !== undefined);
  const state = merged ? 'merged' : p.state === 'open' ? 'open' : 'closed';
  const times = [p.updated_at, p.closed_at, p.merged_at].map(forgeDate).filter((d): d is Date => d !== null);
  return {
    kind: 'merge_request',
    forge: 'github',
    repo: h.repository.full_name,
    number: p.number,
    state,
    url: p.html_url,
    sourceBranch: p.head.ref,
    headSha: p.head.sha,
    actor: (merged ? p.merged_by?.login : null) ?? h.sender?.login ?? null,
    at: times.length ? new Date(Math.max(...times.map((d) => d.getTime()))) : now(),
  };
};

const workflowRunEvent = (h: z.infer<typeof workflowRunHook>, now: () => Date): PipelineEvent => {
  const w = h.workflow_run;
  const status = githubCiStatus(w.status, w.conclusion);
  const updated = forgeDate(w.updated_at);
  const created = forgeDate(w.created_at);
  return {
    kind: 'pipeline',
    forge: 'github',
    repo: h.repository.full_name,
    mrNumber: prNumber(w.pull_requests, h.repository),
    sourceBranch: w.head_branch,
    sha: w.head_sha,
    pipelineKey: w.head_sha,
    pipelineUrl: checksUrl(h.repository, w.head_sha),
    ordinal: msOf(created),
    at: updated ?? now(),
    run: {
      id: `run:${w.id}`,
      name: w.name || h.workflow?.name || w.path || null,
      status,
      url: w.html_url,
      generation: w.run_attempt ?? 1,
      sequence: msOf(updated),
      startedAt: forgeDate(w.run_started_at) ?? created,
      finishedAt: status === 'success' || status === 'failed' || status === 'canceled' ? updated : null,
    },
    jobs: [],
  };
};

const workflowJobEvent = (h: z.infer<typeof workflowJobHook>, now: () => Date): JobEvent => {
  const j = h.workflow_job;
  const status = githubCiStatus(j.status, j.conclusion);
  const web = h.repository.html_url.replace(/\/+$/, '');
  return {
    kind: 'job',
    forge: 'github',
    repo: h.repository.full_name,
    mrNumber: null,
    sourceBranch: j.head_branch,
    sha: j.head_sha,
    pipelineKey: j.head_sha,
    pipelineUrl: checksUrl(h.repository, j.head_sha),
    ordinal: msOf(forgeDate(j.created_at) ?? forgeDate(j.started_at)),
    at: forgeDate(j.completed_at) ?? forgeDate(j.started_at) ?? now(),
    runId: `run:${j.run_id}`,
    runName: j.workflow_name,
    runUrl: `${web}/actions/runs/${j.run_id}`,
    runGeneration: j.run_attempt ?? 1,
    job: {
      id: String(j.id),
      name: j.name,
      stage: null,
      status,
      url: j.html_url,
      startedAt: forgeDate(j.started_at),
      finishedAt: forgeDate(j.completed_at),
      failureReason: status === 'failed' && j.conclusion !== 'failure' ? j.conclusion : null,
      allowFailure: false,
    },
  };
};

const checkSuiteEvent = (h: z.infer<typeof checkSuiteHook>, now: () => Date): PipelineEvent => {
  const s = h.check_suite;
  const status = githubCiStatus(s.status ?? 'queued', s.conclusion);
  const updated = forgeDate(s.updated_at);
  return {
    kind: 'pipeline',
    forge: 'github',
    repo: h.repository.full_name,
    mrNumber: prNumber(s.pull_requests, h.repository),
    sourceBranch: s.head_branch,
    sha: s.head_sha,
    pipelineKey: s.head_sha,
    pipelineUrl: checksUrl(h.repository, s.head_sha),
    ordinal: msOf(forgeDate(s.created_at)),
    at: updated ?? now(),
    run: {
      id: `suite:${s.id}`,
      name: s.app?.name ?? s.app?.slug ?? null,
      status,
      url: null,
      generation: 1,
      sequence: msOf(updated),
      startedAt: forgeDate(s.created_at),
      finishedAt: status === 'success' || status === 'failed' || status === 'canceled' ? updated : null,
    },
    jobs: [],
  };
};

const checkRunEvent = (h: z.infer<typeof checkRunHook>, now: () => Date): JobEvent => {
  const c = h.check_run;
  const status = githubCiStatus(c.status, c.conclusion);
  return {
    kind: 'job',
    forge: 'github',
    repo: h.repository.full_name,
    mrNumber: prNumber(c.check_suite.pull_requests, h.repository),
    sourceBranch: c.check_suite.head_branch,
    sha: c.head_sha,
    pipelineKey: c.head_sha,
    pipelineUrl: checksUrl(h.repository, c.head_sha),
    ordinal: msOf(forgeDate(c.check_suite.created_at) ?? forgeDate(c.started_at)),
    at: forgeDate(c.completed_at) ?? forgeDate(c.started_at) ?? now(),
    runId: `suite:${c.check_suite.id}`,
    runName: c.app?.name ?? c.app?.slug ?? null,
    runUrl: null,
    runGeneration: 1,
    job: {
      id: String(c.id),
      name: c.name,
      stage: null,
      status,
      url: c.html_url,
      startedAt: forgeDate(c.started_at),
      finishedAt: forgeDate(c.completed_at),
      failureReason: status === 'failed' && c.conclusion !== 'failure' ? c.conclusion : null,
      allowFailure: false,
    },
  };
};
