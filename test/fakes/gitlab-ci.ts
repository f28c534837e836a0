import { randomUUID } from 'node:crypto';
import type { FakeRequest, FakeResponse } from './forge-http.js';
import { HttpFail, pageLinks, paginate } from './forge-http.js';
import type { WebhookSender } from './webhook-sender.js';

/**
 * GitLab CI inside the GitLab fake: pipelines of merge requests with stages and jobs that move the way
 * GitLab moves them (the next stage's jobs become pending when the previous stage passed; a failure skips
 * later stages; a retry creates new jobs for the failed ones), job traces with ANSI colours and section
 * markers, the REST endpoints opsbot polls, and the Pipeline / Job / Merge Request Hooks each change sends,
 * in the shapes of GitLab's "Webhook events" documentation.
 */

export type GitlabJobStatus =
  | 'created'
  | 'pending'
  | 'running'
  | 'success'
  | 'failed'
  | 'canceled'
  | 'skipped'
  | 'manual';

export interface FakeGitlabJob {
  id: number;
  pipelineId: number;
  name: string;
  stage: string;
  status: GitlabJobStatus;
  allowFailure: boolean;
  failureReason: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  log: string;
  retried: boolean;
}

export interface FakeGitlabPipeline {
  id: number;
  iid: number;
  project: string;
  sha: string;
  ref: string;
  source: string;
  mrIid: number | null;
  status: GitlabJobStatus;
  stages: string[];
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
  jobs: FakeGitlabJob[];
}

export interface MergeRequestView {
  readonly id: number;
  readonly iid: number;
  readonly project: string;
  readonly title: string;
  readonly state: string;
  readonly source_branch: string;
  readonly target_branch: string;
  readonly sha: string | null;
}

export interface GitlabCiDeps {
  readonly host: () => string;
  readonly sender: WebhookSender;
  readonly token: () => string | null;
  readonly webhookUuid: string;
  readonly projectId: (project: string) => number;
  readonly mergeRequest: (project: string, iid: number) => MergeRequestView | undefined;
  readonly maxPerPage: () => number;
}

const TERMINAL = new Set<GitlabJobStatus>(['success', 'failed', 'canceled', 'skipped']);
const terminal = (s: GitlabJobStatus) => TERMINAL.has(s);

/** GitLab's hook timestamp format: "2016-08-12 15:23:28 UTC". */
export const hookTime = (iso: string | null): string | null =>
  iso === null ? null : `${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;

const nowIso = () => new Date().toISOString();

/** A realistic job trace: runner banner, collapsible sections, colours, then the script's output. */
export const gitlabTrace = (lines: readonly string[], exitCode = 0): string => {
  const t = Math.floor(Date.now() / 1000);
  const out = [
    '\u001b[0KRunning with gitlab-runner 17.5.0 (8ec04662)\u001b[0;m',
    '\u001b[0K  on docker-auto-scale 0277ea0f, system ID: s_3bb7bbcd9e17\u001b[0;m',
    `section_start:${t}:prepare_executor\r\u001b[0K\u001b[0K\u001b[36;1mPreparing the "docker" executor\u001b[0;m\u001b[0;m`,
    '\u001b[0KUsing Docker executor with image ruby:3.3 ...\u001b[0;m',
    `section_end:${t}:prepare_executor\r\u001b[0K`,
    `section_start:${t}:step_script\r\u001b[0K\u001b[0K\u001b[36;1mExecuting "step_script" stage of the job script\u001b[0;m\u001b[0;m`,
    ...lines,
    `section_end:${t}:step_script\r\u001b[0K`,
    exitCode === 0
      ? '\u001b[32;1mJob succeeded\u001b[0;m'
      : `\u001b[31;1mERROR: Job failed: exit code ${exitCode}\u001b[0;m`,
  ];
  return `${out.join('\n')}\n`;
};

export interface GitlabCi {
  readonly pipelines: FakeGitlabPipeline[];
  createPipeline(
    project: string,
    opts: {
      mrIid?: number;
      ref?: string;
      sha: string;
      /** true: a merge request pipeline (merge_request block set); false: a branch pipeline. Default true. */
      mergeRequestEvent?: boolean;
      jobs: ReadonlyArray<{ name: string; stage: string; allowFailure?: boolean; log?: string }>;
    },
  ): FakeGitlabPipeline;
  /** Moves a job (the latest attempt of `name`) and lets the pipeline follow, sending the hooks. */
  setJob(
    pipelineId: number,
    name: string,
    status: GitlabJobStatus,
    opts?: { log?: string; failureReason?: string },
  ): FakeGitlabJob;
  retry(pipelineId: number): FakeGitlabPipeline;
  mergeRequestHook(mr: MergeRequestView, action: string, user: string, extra?: Record<string, unknown>): void;
  pipelineHookBody(p: FakeGitlabPipeline): Record<string, unknown>;
  jobHookBody(p: FakeGitlabPipeline, j: FakeGitlabJob): Record<string, unknown>;
  /** REST routes under /projects/:id/...; undefined when the path is not a CI route. */
  route(req: FakeRequest, project: string, rest: readonly string[]): Promise<FakeResponse | undefined>;
}

export const createGitlabCi = (deps: GitlabCiDeps): GitlabCi => {
  const pipelines: FakeGitlabPipeline[] = [];
  let nextPipelineId = 100;
  let nextJobId = 5000;

  const projectBlock = (project: string) => {
    const web = `${deps.host()}/${project}`;
    return {
      id: deps.projectId(project),
      name: project.split('/').pop(),
      description: '',
      web_url: web,
      avatar_url: null,
      git_ssh_url: `git@127.0.0.1:${project}.git`,
      git_http_url: `${web}.git`,
      namespace: project.split('/')[0],
      visibility_level: 0,
      path_with_namespace: project,
      default_branch: 'main',
      ci_config_path: null,
      homepage: web,
      url: `git@127.0.0.1:${project}.git`,
      ssh_url: `git@127.0.0.1:${project}.git`,
      http_url: `${web}.git`,
    };
  };
  const userBlock = (username: string) => ({
    id: 42,
    name: username,
    username,
    avatar_url: null,
    email: '[REDACTED]',
  });

  const headers = (event: string) => (): Record<string, string> => {
    const h: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'GitLab/17.5.0',
      'x-gitlab-event': event,
      'x-gitlab-event-uuid': randomUUID(),
      'x-gitlab-webhook-uuid': deps.webhookUuid,
      'x-gitlab-instance': deps.host(),
      'idempotency-key': randomUUID(),
    };
    const token = deps.token();
    if (token !== null) h['x-gitlab-token'] = token;
    return h;
  };

  const latest = (p: FakeGitlabPipeline) => p.jobs.filter((j) => !j.retried);

  const jobRest = (p: FakeGitlabPipeline, j: FakeGitlabJob) => ({
    id: j.id,
    status: j.status,
    stage: j.stage,
    name: j.name,
    ref: p.ref,
    tag: false,
    coverage: null,
    allow_failure: j.allowFailure,
    created_at: j.createdAt,
    started_at: j.startedAt,
    finished_at: j.finishedAt,
    erased_at: null,
    duration: duration(j),
    queued_duration: 0.5,
    user: userBlock('opsbot'),
    commit: { id: p.sha, short_id: p.sha.slice(0, 8), title: 'commit', message: 'commit' },
    pipeline: {
      id: p.id,
      iid: p.iid,
      project_id: deps.projectId(p.project),
      ref: p.ref,
      sha: p.sha,
      status: p.status,
      created_at: p.createdAt,
      updated_at: p.updatedAt,
      web_url: `${deps.host()}/${p.project}/-/pipelines/${p.id}`,
    },
    web_url: `${deps.host()}/${p.project}/-/jobs/${j.id}`,
    project: { ci_job_token_scope_enabled: false },
    artifacts: [],
    runner: null,
    failure_reason: j.status === 'failed' ? (j.failureReason ?? 'script_failure') : undefined,
    retried: j.retried,
  });

  const duration = (j: FakeGitlabJob): number | null =>
    j.startedAt && j.finishedAt ? (Date.parse(j.finishedAt) - Date.parse(j.startedAt)) / 1000 : null;

  const pipelineRest = (p: FakeGitlabPipeline) => ({
    id: p.id,
    iid: p.iid,
    project_id: deps.projectId(p.project),
    sha: p.sha,
    ref: p.ref,
    status: p.status,
    source: p.source,
    created_at: p.createdAt,
    updated_at: p.updatedAt,
    web_url: `${deps.host()}/${p.project}/-/pipelines/${p.id}`,
  });

  const pipelineHookBody = (p: FakeGitlabPipeline): Record<string, unknown> => {
    const mr = p.mrIid === null ? undefined : deps.mergeRequest(p.project, p.mrIid);
    const jobs = latest(p);
    return {
      object_kind: 'pipeline',
      object_attributes: {
        id: p.id,
        iid: p.iid,
        name: null,
        ref: p.ref,
        tag: false,
        sha: p.sha,
        before_sha: '0000000000000000000000000000000000000000',
        source: p.source,
        status: p.status,
        detailed_status: p.status === 'success' ? 'passed' : p.status,
        stages: p.stages,
        created_at: hookTime(p.createdAt),
        finished_at: hookTime(p.finishedAt),
        duration: null,
        queued_duration: null,
        variables: [],
        url: `${deps.host()}/${p.project}/-/pipelines/${p.id}`,
      },
      merge_request:
        p.source === 'merge_request_event' && mr
          ? {
              id: mr.id,
              iid: mr.iid,
              title: mr.title,
              source_branch: mr.source_branch,
              source_project_id: deps.projectId(p.project),
              target_branch: mr.target_branch,
              target_project_id: deps.projectId(p.project),
              state: mr.state,
              merge_status: 'can_be_merged',
              detailed_merge_status: 'mergeable',
              url: `${deps.host()}/${p.project}/-/merge_requests/${mr.iid}`,
            }
          : null,
      user: userBlock('alice'),
      project: projectBlock(p.project),
      commit: {
        id: p.sha,
        message: 'commit\n',
        title: 'commit',
        timestamp: p.createdAt,
        url: `${deps.host()}/${p.project}/-/commit/${p.sha}`,
        author: { name: 'Alice', email: '[REDACTED]' },
      },
      builds: jobs.map((j) => ({
        id: j.id,
        stage: j.stage,
        name: j.name,
        status: j.status,
        created_at: hookTime(j.createdAt),
        started_at: hookTime(j.startedAt),
        finished_at: hookTime(j.finishedAt),
        duration: duration(j),
        queued_duration: 0.5,
        failure_reason: j.status === 'failed' ? (j.failureReason ?? 'script_failure') : null,
        when: 'on_success',
        manual: j.status === 'manual',
        allow_failure: j.allowFailure,
        user: userBlock('alice'),
        runner: null,
        artifacts_file: { filename: null, size: null },
        environment: null,
      })),
    };
  };

  const jobHookBody = (p: FakeGitlabPipeline, j: FakeGitlabJob): Record<string, unknown> => {
    const web = `${deps.host()}/${p.project}`;
    return {
      object_kind: 'build',
      ref: p.ref,
      tag: false,
      before_sha: '0000000000000000000000000000000000000000',
      sha: p.sha,
      retries_count: p.jobs.filter((x) => x.name === j.name && x.retried).length,
      build_id: j.id,
      build_name: j.name,
      build_stage: j.stage,
      build_status: j.status,
      build_created_at: hookTime(j.createdAt),
      build_started_at: hookTime(j.startedAt),
      build_finished_at: hookTime(j.finishedAt),
      build_duration: duration(j),
      build_queued_duration: 0.5,
      build_allow_failure: j.allowFailure,
      build_failure_reason: j.status === 'failed' ? (j.failureReason ?? 'script_failure') : 'unknown_failure',
      pipeline_id: p.id,
      runner: null,
      project_id: deps.projectId(p.project),
      project_name: p.project.replace(/\//g, ' / '),
      user: userBlock('alice'),
      commit: {
        id: p.id,
        name: null,
        sha: p.sha,
        message: 'commit\n',
        author_name: 'Alice',
        author_email: '[REDACTED]',
        author_url: `${deps.host()}/alice`,
        status: p.status,
        duration: null,
        started_at: hookTime(p.createdAt),
        finished_at: hookTime(p.finishedAt),
      },
      repository: {
        name: p.project.split('/').pop(),
        url: `git@127.0.0.1:${p.project}.git`,
        description: '',
        homepage: web,
        git_http_url: `${web}.git`,
        git_ssh_url: `git@127.0.0.1:${p.project}.git`,
        visibility_level: 0,
      },
      project: projectBlock(p.project),
      environment: null,
    };
  };

  const sendPipeline = (p: FakeGitlabPipeline) =>
    deps.sender.send('Pipeline Hook', pipelineHookBody(p), headers('Pipeline Hook'));
  const sendJob = (p: FakeGitlabPipeline, j: FakeGitlabJob) =>
    deps.sender.send('Job Hook', jobHookBody(p, j), headers('Job Hook'));

  /** The pipeline status GitLab derives from its latest jobs. */
  const derive = (p: FakeGitlabPipeline): GitlabJobStatus => {
    const jobs = latest(p);
    const open = jobs.filter((j) => !terminal(j.status));
    if (open.length > 0) {
      if (open.every((j) => j.status === 'manual')) return 'manual';
      if (jobs.some((j) => j.status === 'running' || terminal(j.status))) return 'running';
      if (open.every((j) => j.status === 'created')) return 'created';
      return 'pending';
    }
    if (jobs.some((j) => j.status === 'failed' && !j.allowFailure)) return 'failed';
    if (jobs.some((j) => j.status === 'canceled')) return 'canceled';
    if (jobs.length > 0 && jobs.every((j) => j.status === 'skipped')) return 'skipped';
    return 'success';
  };

  /** GitLab's stage processing: when a stage is done, the next runs or (after a failure) is skipped. */
  const advance = (p: FakeGitlabPipeline): FakeGitlabJob[] => {
    const moved: FakeGitlabJob[] = [];
    let blocked = false;
    let failed = false;
    for (const stage of p.stages) {
      const jobs = latest(p).filter((j) => j.stage === stage);
      if (failed) {
        for (const j of jobs.filter((x) => x.status === 'created')) {
          j.status = 'skipped';
          moved.push(j);
        }
        continue;
      }
      if (blocked) break;
      for (const j of jobs.filter((x) => x.status === 'created')) {
        j.status = 'pending';
        moved.push(j);
      }
      if (jobs.some((j) => !terminal(j.status) && !(j.status === 'manual'))) blocked = true;
      if (jobs.some((j) => j.status === 'failed' && !j.allowFailure)) failed = true;
    }
    return moved;
  };

  const settle = (p: FakeGitlabPipeline, changed: FakeGitlabJob[]): void => {
    const before = p.status;
    const moved = advance(p);
    p.status = derive(p);
    p.updatedAt = nowIso();
    p.finishedAt = terminal(p.status) ? p.updatedAt : null;
    for (const j of [...changed, ...moved]) sendJob(p, j);
    if (p.status !== before) sendPipeline(p);
  };

  const find = (id: number) => {
    const p = pipelines.find((x) => x.id === id);
    if (!p) throw new Error(`fake gitlab: no pipeline ${id}`);
    return p;
  };

  const fail = (status: number, message: string): never => {
    throw new HttpFail(status, { message });
  };

  const listed = <T>(req: FakeRequest, items: readonly T[], defaultPerPage = 20) => {
    const p = paginate(items, req.query, defaultPerPage, deps.maxPerPage());
    const headers: Record<string, string> = {
      'x-total': String(p.total),
      'x-total-pages': String(p.totalPages),
      'x-page': String(p.page),
      'x-per-page': String(p.perPage),
      'x-next-page': p.page < p.totalPages ? String(p.page + 1) : '',
      'x-prev-page': p.page > 1 ? String(p.page - 1) : '',
    };
    const link = pageLinks(`${deps.host()}/api/v4${req.path}`, req.query, p.page, p.totalPages);
    if (link) headers.link = link;
    return { status: 200, headers, items: p.items };
  };

  const self: GitlabCi = {
    pipelines,
    createPipeline(project, opts) {
      const stages = [...new Set(opts.jobs.map((j) => j.stage))];
      const at = nowIso();
      const ofProject = pipelines.filter((p) => p.project === project);
      const p: FakeGitlabPipeline = {
        id: nextPipelineId++,
        iid: ofProject.length + 1,
        project,
        sha: opts.sha,
        ref:
          opts.mergeRequestEvent === false || opts.mrIid === undefined
            ? (opts.ref ?? 'main')
            : `refs/merge-requests/${opts.mrIid}/head`,
        source: opts.mergeRequestEvent === false || opts.mrIid === undefined ? 'push' : 'merge_request_event',
        mrIid: opts.mrIid ?? null,
        status: 'created',
        stages,
        createdAt: at,
        updatedAt: at,
        finishedAt: null,
        jobs: [],
      };
      if (p.source === 'push' && opts.ref) p.ref = opts.ref;
      for (const j of opts.jobs) {
        p.jobs.push({
          id: nextJobId++,
          pipelineId: p.id,
          name: j.name,
          stage: j.stage,
          status: 'created',
          allowFailure: j.allowFailure ?? false,
          failureReason: null,
          createdAt: at,
          startedAt: null,
          finishedAt: null,
          log: j.log ?? gitlabTrace([`$ ./ci/${j.name}.sh`, `${j.name}: ok`]),
          retried: false,
        });
      }
      pipelines.push(p);
      sendPipeline(p); // "created"
      settle(p, []);
      return p;
    },
    setJob(pipelineId, name, status, opts = {}) {
      const p = find(pipelineId);
      const j = latest(p).find((x) => x.name === name);
      if (!j) throw new Error(`fake gitlab: no job ${name} in pipeline ${pipelineId}`);
      j.status = status;
      const at = nowIso();
      if (status === 'running') j.startedAt = at;
      if (terminal(status)) {
        j.startedAt ??= at;
        j.finishedAt = at;
      }
      if (opts.log !== undefined) j.log = opts.log;
      if (opts.failureReason !== undefined) j.failureReason = opts.failureReason;
      settle(p, [j]);
      return j;
    },
    retry(pipelineId) {
      const p = find(pipelineId);
      const changed: FakeGitlabJob[] = [];
      for (const j of latest(p)) {
        if (j.status === 'failed' || j.status === 'canceled') {
          j.retried = true;
          const fresh: FakeGitlabJob = {
            ...j,
            id: nextJobId++,
            status: 'pending',
            failureReason: null,
            createdAt: nowIso(),
            startedAt: null,
            finishedAt: null,
            retried: false,
          };
          p.jobs.push(fresh);
          changed.push(fresh);
        } else if (j.status === 'skipped') {
          j.status = 'created';
        }
      }
      settle(p, changed);
      return p;
    },
    mergeRequestHook(mr, action, user, extra = {}) {
      const web = `${deps.host()}/${mr.project}`;
      deps.sender.send(
        'Merge Request Hook',
        {
          object_kind: 'merge_request',
          event_type: 'merge_request',
          user: userBlock(user),
          project: projectBlock(mr.project),
          object_attributes: {
            id: mr.id,
            iid: mr.iid,
            title: mr.title,
            state: mr.state,
            action,
            source_branch: mr.source_branch,
            target_branch: mr.target_branch,
            source_project_id: deps.projectId(mr.project),
            target_project_id: deps.projectId(mr.project),
            url: `${web}/-/merge_requests/${mr.iid}`,
            updated_at: hookTime(nowIso()),
            merge_commit_sha: null,
            last_commit: mr.sha
              ? { id: mr.sha, message: 'commit\n', title: 'commit', url: `${web}/-/commit/${mr.sha}` }
              : null,
            ...extra,
          },
          labels: [],
          changes: {},
          repository: {
            name: mr.project.split('/').pop(),
            url: `git@127.0.0.1:${mr.project}.git`,
            homepage: web,
          },
        },
        headers('Merge Request Hook'),
      );
    },
    pipelineHookBody,
    jobHookBody,
    async route(req, project, rest) {
      // GET merge_requests/:iid/pipelines
      if (
        req.method === 'GET' &&
        rest[0] === 'merge_requests' &&
        rest[2] === 'pipelines' &&
        rest.length === 3
      ) {
        const iid = Number(rest[1]);
        if (!deps.mergeRequest(project, iid)) return fail(404, '404 Not found');
        const list = pipelines
          .filter((p) => p.project === project && p.mrIid === iid)
          .sort((a, b) => b.id - a.id)
          .map(pipelineRest);
        const r = listed(req, list);
        return { status: 200, headers: r.headers, json: r.items };
      }
      if (rest[0] === 'pipelines' && rest[1] !== undefined) {
        const p = pipelines.find((x) => x.project === project && String(x.id) === rest[1]);
        if (!p) return fail(404, '404 Not found');
        if (req.method === 'GET' && rest.length === 2) return { status: 200, json: pipelineRest(p) };
        if (req.method === 'GET' && rest[2] === 'jobs' && rest.length === 3) {
          const all = req.query.get('include_retried') === 'true';
          const jobs = (all ? p.jobs : latest(p)).slice().sort((a, b) => b.id - a.id);
          const r = listed(req, jobs);
          return { status: 200, headers: r.headers, json: r.items.map((j) => jobRest(p, j)) };
        }
        if (req.method === 'POST' && rest[2] === 'retry' && rest.length === 3) {
          if (!latest(p).some((j) => j.status === 'failed' || j.status === 'canceled')) {
            return fail(403, '403 Forbidden - Pipeline cannot be retried');
          }
          return { status: 201, json: pipelineRest(self.retry(p.id)) };
        }
      }
      if (req.method === 'GET' && rest[0] === 'jobs' && rest[2] === 'trace' && rest.length === 3) {
        const job = pipelines
          .flatMap((p) => (p.project === project ? p.jobs : []))
          .find((j) => String(j.id) === rest[1]);
        if (!job) return fail(404, '404 Not found');
        return { status: 200, headers: { 'content-type': 'text/plain' }, text: job.log };
      }
      return undefined;
    },
  };
  return self;
};
