import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FakeRequest, FakeResponse } from './forge-http.js';
import { HttpFail, pageLinks, paginate } from './forge-http.js';
import type { WebhookSender } from './webhook-sender.js';

/**
 * GitHub Actions (and another CI app's check runs) inside the GitHub fake: workflow runs of a commit with jobs
 * that move queued -> in_progress -> completed, "re-run failed jobs" as a new run attempt, job logs served the
 * way GitHub serves them (the API answers 302 to a short-lived signed URL on another host, which refuses an
 * Authorization header), the REST endpoints opsbot polls, and the workflow_run / workflow_job / check_run /
 * check_suite / pull_request webhooks, in the shapes of octokit/webhooks' payload examples.
 */

export type JobStatus = 'queued' | 'waiting' | 'in_progress' | 'completed';

export interface FakeWorkflowJob {
  id: number;
  runId: number;
  runAttempt: number;
  name: string;
  status: JobStatus;
  conclusion: string | null;
  createdAt: string;
  startedAt: string | null;
  completedAt: string | null;
  log: string;
  superseded: boolean;
}

export interface FakeWorkflowRun {
  id: number;
  repo: string;
  name: string;
  path: string;
  headSha: string;
  headBranch: string;
  event: string;
  prNumber: number | null;
  status: 'queued' | 'in_progress' | 'completed';
  conclusion: string | null;
  runAttempt: number;
  runNumber: number;
  checkSuiteId: number;
  createdAt: string;
  updatedAt: string;
  runStartedAt: string;
  jobs: FakeWorkflowJob[];
}

export interface FakeCheckRun {
  id: number;
  repo: string;
  headSha: string;
  headBranch: string;
  prNumber: number | null;
  name: string;
  app: { id: number; slug: string; name: string };
  suiteId: number;
  status: 'queued' | 'in_progress' | 'completed';
  conclusion: string | null;
  startedAt: string;
  completedAt: string | null;
  suiteCreatedAt: string;
}

export interface PullView {
  readonly number: number;
  readonly repo: string;
  readonly head: string;
  readonly base: string;
}

export interface GithubActionsDeps {
  readonly web: () => string;
  readonly api: () => string;
  readonly sender: WebhookSender;
  readonly secret: () => string | null;
  readonly pull: (repo: string, number: number) => PullView | undefined;
  readonly maxPerPage: () => number;
}

/** A GitHub Actions job log: every line prefixed with a timestamp, groups, an error annotation. */
export const githubLog = (lines: readonly string[], failed = false): string => {
  const t = () => `${new Date().toISOString().replace('Z', '0000Z')}`;
  const out = [
    `${t()} Requested labels: ubuntu-latest`,
    `${t()} Job defined at: acme/infra/.github/workflows/ci.yml@refs/pull/1/merge`,
    `${t()} ##[group]Run ./ci/test.sh`,
    `${t()} \u001b[36;1m./ci/test.sh\u001b[0m`,
    `${t()} ##[endgroup]`,
    ...lines.map((l) => `${t()} ${l}`),
    ...(failed ? [`${t()} ##[error]Process completed with exit code 1.`] : []),
    `${t()} Cleaning up orphan processes`,
  ];
  return `${out.join('\n')}\n`;
};

export interface GithubActions {
  readonly runs: FakeWorkflowRun[];
  readonly checkRuns: FakeCheckRun[];
  /** The signed log download URLs handed out (302 Location), in order. */
  readonly logDownloads: string[];
  createWorkflowRun(
    repo: string,
    opts: {
      headSha: string;
      headBranch: string;
      prNumber?: number;
      name: string;
      jobs: ReadonlyArray<{ name: string; log?: string }>;
    },
  ): FakeWorkflowRun;
  setJob(
    runId: number,
    name: string,
    status: JobStatus,
    conclusion?: string | null,
    opts?: { log?: string },
  ): FakeWorkflowJob;
  rerunFailedJobs(runId: number): FakeWorkflowRun;
  createCheckRun(
    repo: string,
    opts: {
      headSha: string;
      headBranch: string;
      prNumber?: number;
      name: string;
      app?: { slug: string; name: string };
    },
  ): FakeCheckRun;
  completeCheckRun(id: number, conclusion: string): FakeCheckRun;
  pullRequestHook(action: string, pr: Record<string, unknown>, repo: string, sender: string): void;
  route(req: FakeRequest, repo: string, rest: readonly string[]): Promise<FakeResponse | undefined>;
  close(): Promise<void>;
}

export const createGithubActions = async (deps: GithubActionsDeps): Promise<GithubActions> => {
  const runs: FakeWorkflowRun[] = [];
  const checkRuns: FakeCheckRun[] = [];
  const logDownloads: string[] = [];
  let nextRunId = 7_000_000_000;
  let nextJobId = 20_000_000_000;
  let nextSuiteId = 9_000_000_000;
  let runNumber = 0;
  const hookId = String(400_000_000 + Math.floor(Math.random() * 1000));

  // ---- log downloads: another origin, signed URLs that expire, no Authorization header accepted
  const signingKey = randomBytes(16);
  const tickets = new Map<string, { jobId: number; expires: number }>();
  const downloads: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const m = /^\/logs\/(\d+)\/job-logs\.txt$/.exec(url.pathname);
    const sig = url.searchParams.get('sig') ?? '';
    const ticket = tickets.get(sig);
    if (req.headers.authorization) {
      res.writeHead(400, { 'content-type': 'application/xml' });
      res.end('<?xml version="1.0" encoding="utf-8"?><Error><Code>InvalidAuthenticationInfo</Code></Error>');
      return;
    }
    if (!m || !ticket || ticket.jobId !== Number(m[1]) || ticket.expires < Date.now()) {
      res.writeHead(403, { 'content-type': 'application/xml' });
      res.end('<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthenticationFailed</Code></Error>');
      return;
    }
    const job = runs.flatMap((r) => r.jobs).find((j) => j.id === ticket.jobId);
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(job?.log ?? '');
  });
  await new Promise<void>((r) => downloads.listen(0, '127.0.0.1', r));
  const downloadOrigin = `http://127.0.0.1:${(downloads.address() as AddressInfo).port}`;

  const now = () => new Date().toISOString();
  const fail = (status: number, message: string): never => {
    throw new HttpFail(status, { message, documentation_url: 'https://docs.github.com/rest' });
  };

  const repoBlock = (repo: string) => {
    const [owner, name] = repo.split('/');
    return {
      id: 186_853_002,
      node_id: 'MDEwOlJlcG9zaXRvcnkxODY4NTMwMDI=',
      name,
      full_name: repo,
      private: true,
      owner: { login: owner, id: 38_302_899, type: 'Organization' },
      html_url: `${deps.web()}/${repo}`,
      url: `${deps.api()}/repos/${repo}`,
      default_branch: 'main',
    };
  };
  const sender = (login: string) => ({ login, id: 21_031_067, type: 'User' });

  const headers =
    (event: string) =>
    (raw: string): Record<string, string> => {
      const h: Record<string, string> = {
        'content-type': 'application/json',
        'user-agent': 'GitHub-Hookshot/8e03811',
        'x-github-event': event,
        'x-github-delivery': randomUUID(),
        'x-github-hook-id': hookId,
        'x-github-hook-installation-target-id': '186853002',
        'x-github-hook-installation-target-type': 'repository',
      };
      const secret = deps.secret();
      if (secret !== null) {
        h['x-hub-signature'] = `sha1=${createHmac('sha1', secret).update(raw).digest('hex')}`;
        h['x-hub-signature-256'] = `sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`;
      }
      return h;
    };

  const prRefs = (repo: string, prNumber: number | null, headSha: string) => {
    if (prNumber === null) return [];
    const pr = deps.pull(repo, prNumber);
    if (!pr) return [];
    const repoRef = { id: 186_853_002, url: `${deps.api()}/repos/${repo}`, name: repo.split('/')[1] };
    return [
      {
        url: `${deps.api()}/repos/${repo}/pulls/${pr.number}`,
        id: 279_147_437 + pr.number,
        number: pr.number,
        head: { ref: pr.head, sha: headSha, repo: repoRef },
        base: { ref: pr.base, sha: '0'.repeat(40), repo: repoRef },
      },
    ];
  };

  const latestJobs = (r: FakeWorkflowRun) => r.jobs.filter((j) => !j.superseded);

  const runJson = (r: FakeWorkflowRun) => ({
    id: r.id,
    name: r.name,
    node_id: `WFR_${r.id}`,
    head_branch: r.headBranch,
    head_sha: r.headSha,
    path: r.path,
    display_title: `CI for ${r.headBranch}`,
    run_number: r.runNumber,
    event: r.event,
    status: r.status,
    conclusion: r.conclusion,
    workflow_id: 2_823_525,
    check_suite_id: r.checkSuiteId,
    url: `${deps.api()}/repos/${r.repo}/actions/runs/${r.id}`,
    html_url: `${deps.web()}/${r.repo}/actions/runs/${r.id}`,
    pull_requests: prRefs(r.repo, r.prNumber, r.headSha),
    created_at: r.createdAt,
    updated_at: r.updatedAt,
    run_attempt: r.runAttempt,
    run_started_at: r.runStartedAt,
    jobs_url: `${deps.api()}/repos/${r.repo}/actions/runs/${r.id}/jobs`,
    logs_url: `${deps.api()}/repos/${r.repo}/actions/runs/${r.id}/logs`,
    rerun_url: `${deps.api()}/repos/${r.repo}/actions/runs/${r.id}/rerun`,
    previous_attempt_url:
      r.runAttempt > 1
        ? `${deps.api()}/repos/${r.repo}/actions/runs/${r.id}/attempts/${r.runAttempt - 1}`
        : null,
    head_repository: repoBlock(r.repo),
    repository: repoBlock(r.repo),
  });

  const jobJson = (r: FakeWorkflowRun, j: FakeWorkflowJob) => ({
    id: j.id,
    run_id: r.id,
    workflow_name: r.name,
    head_branch: r.headBranch,
    run_url: `${deps.api()}/repos/${r.repo}/actions/runs/${r.id}`,
    run_attempt: j.runAttempt,
    node_id: `CR_${j.id}`,
    head_sha: r.headSha,
    url: `${deps.api()}/repos/${r.repo}/actions/jobs/${j.id}`,
    html_url: `${deps.web()}/${r.repo}/actions/runs/${r.id}/job/${j.id}`,
    status: j.status,
    conclusion: j.conclusion,
    created_at: j.createdAt,
    started_at: j.startedAt,
    completed_at: j.completedAt,
    name: j.name,
    steps: [],
    check_run_url: `${deps.api()}/repos/${r.repo}/check-runs/${j.id}`,
    labels: ['ubuntu-latest'],
    runner_id: j.startedAt ? 5 : null,
    runner_name: j.startedAt ? 'GitHub Actions 5' : null,
    runner_group_id: j.startedAt ? 2 : null,
    runner_group_name: j.startedAt ? 'GitHub Actions' : null,
  });

  const sendRun = (action: string, r: FakeWorkflowRun) =>
    deps.sender.send(
      'workflow_run',
      {
        action,
        workflow_run: runJson(r),
        workflow: {
          id: 2_823_525,
          name: r.name,
          path: r.path,
          state: 'active',
          html_url: `${deps.web()}/${r.repo}/blob/main/${r.path}`,
        },
        repository: repoBlock(r.repo),
        sender: sender('octocat'),
      },
      headers('workflow_run'),
    );
  const sendJob = (r: FakeWorkflowRun, j: FakeWorkflowJob) =>
    deps.sender.send(
      'workflow_job',
      {
        action: j.status,
        workflow_job: jobJson(r, j),
        repository: repoBlock(r.repo),
        sender: sender('octocat'),
      },
      headers('workflow_job'),
    );

  const deriveRun = (r: FakeWorkflowRun): void => {
    const jobs = latestJobs(r);
    if (jobs.every((j) => j.status === 'completed')) {
      r.status = 'completed';
      const cs = jobs.map((j) => j.conclusion);
      r.conclusion = cs.some((c) => c === 'failure' || c === 'timed_out')
        ? 'failure'
        : cs.some((c) => c === 'cancelled')
          ? 'cancelled'
          : 'success';
    } else if (jobs.some((j) => j.status === 'in_progress' || j.status === 'completed')) {
      r.status = 'in_progress';
      r.conclusion = null;
    } else {
      r.status = 'queued';
      r.conclusion = null;
    }
    r.updatedAt = now();
  };

  const findRun = (id: number) => {
    const r = runs.find((x) => x.id === id);
    if (!r) throw new Error(`fake github: no run ${id}`);
    return r;
  };

  const checkRunJson = (c: FakeCheckRun) => {
    const app = { id: c.app.id, slug: c.app.slug, name: c.app.name, owner: { login: 'octocoders' } };
    const suiteRuns = [c, ...checkRuns.filter((x) => x.suiteId === c.suiteId && x.id !== c.id)];
    const suiteDone = suiteRuns.every((x) => x.status === 'completed');
    return {
      id: c.id,
      head_sha: c.headSha,
      node_id: `CR_${c.id}`,
      external_id: '',
      url: `${deps.api()}/repos/${c.repo}/check-runs/${c.id}`,
      html_url: `${deps.web()}/${c.repo}/runs/${c.id}`,
      details_url: 'https://ci.example.com/build/1',
      status: c.status,
      conclusion: c.conclusion,
      started_at: c.startedAt,
      completed_at: c.completedAt,
      output: { title: null, summary: null, text: null, annotations_count: 0 },
      name: c.name,
      check_suite: {
        id: c.suiteId,
        head_branch: c.headBranch,
        head_sha: c.headSha,
        status: suiteDone ? 'completed' : 'in_progress',
        conclusion: suiteDone
          ? suiteRuns.some((x) => x.conclusion === 'failure')
            ? 'failure'
            : 'success'
          : null,
        pull_requests: prRefs(c.repo, c.prNumber, c.headSha),
        app,
        created_at: c.suiteCreatedAt,
        updated_at: now(),
      },
      app,
      pull_requests: prRefs(c.repo, c.prNumber, c.headSha),
    };
  };

  const sendCheckRun = (action: string, c: FakeCheckRun) => {
    const body = checkRunJson(c);
    deps.sender.send(
      'check_run',
      { action, check_run: body, repository: repoBlock(c.repo), sender: sender('octocat') },
      headers('check_run'),
    );
    if (action === 'completed' && body.check_suite.status === 'completed') {
      deps.sender.send(
        'check_suite',
        {
          action: 'completed',
          check_suite: { ...body.check_suite, latest_check_runs_count: 1, before: null, after: c.headSha },
          repository: repoBlock(c.repo),
          sender: sender('octocat'),
        },
        headers('check_suite'),
      );
    }
  };

  const listed = <T>(req: FakeRequest, key: string, items: readonly T[], map: (t: T) => unknown) => {
    const p = paginate(items, req.query, 30, deps.maxPerPage());
    const headers: Record<string, string> = {};
    if (p.totalPages > 1) {
      const link = pageLinks(
        `${deps.api()}${req.path.replace(/^\/api\/v3/, '')}`,
        req.query,
        p.page,
        p.totalPages,
      );
      if (link) headers.link = link;
    }
    return { status: 200, headers, json: { total_count: p.total, [key]: p.items.map(map) } };
  };

  const self: GithubActions = {
    runs,
    checkRuns,
    logDownloads,
    createWorkflowRun(repo, opts) {
      const at = now();
      const id = nextRunId++;
      const r: FakeWorkflowRun = {
        id,
        repo,
        name: opts.name,
        path: `.github/workflows/${opts.name.toLowerCase().replace(/\W+/g, '-')}.yml`,
        headSha: opts.headSha,
        headBranch: opts.headBranch,
        event: opts.prNumber !== undefined ? 'pull_request' : 'push',
        prNumber: opts.prNumber ?? null,
        status: 'queued',
        conclusion: null,
        runAttempt: 1,
        runNumber: ++runNumber,
        checkSuiteId: nextSuiteId++,
        createdAt: at,
        updatedAt: at,
        runStartedAt: at,
        jobs: opts.jobs.map((j) => ({
          id: nextJobId++,
          runId: id,
          runAttempt: 1,
          name: j.name,
          status: 'queued',
          conclusion: null,
          createdAt: at,
          startedAt: null,
          completedAt: null,
          log: j.log ?? githubLog([`${j.name}: ok`]),
          superseded: false,
        })),
      };
      runs.push(r);
      sendRun('requested', r);
      for (const j of r.jobs) sendJob(r, j);
      return r;
    },
    setJob(runId, name, status, conclusion = null, opts = {}) {
      const r = findRun(runId);
      const j = latestJobs(r).find((x) => x.name === name);
      if (!j) throw new Error(`fake github: no job ${name} in run ${runId}`);
      const before = r.status;
      j.status = status;
      j.conclusion = status === 'completed' ? (conclusion ?? 'success') : null;
      if (status === 'in_progress') j.startedAt = now();
      if (status === 'completed') {
        j.startedAt ??= now();
        j.completedAt = now();
      }
      if (opts.log !== undefined) j.log = opts.log;
      deriveRun(r);
      sendJob(r, j);
      if (r.status !== before) sendRun(r.status === 'queued' ? 'requested' : r.status, r);
      return j;
    },
    rerunFailedJobs(runId) {
      const r = findRun(runId);
      if (r.status !== 'completed') return fail(403, 'This workflow is already running');
      const failed = latestJobs(r).filter((j) => j.conclusion === 'failure' || j.conclusion === 'cancelled');
      if (failed.length === 0) return fail(403, 'There are no failed jobs to re-run');
      r.runAttempt += 1;
      const at = now();
      const fresh: FakeWorkflowJob[] = [];
      for (const j of failed) {
        j.superseded = true;
        const n: FakeWorkflowJob = {
          ...j,
          id: nextJobId++,
          runAttempt: r.runAttempt,
          status: 'queued',
          conclusion: null,
          createdAt: at,
          startedAt: null,
          completedAt: null,
          superseded: false,
        };
        r.jobs.push(n);
        fresh.push(n);
      }
      r.runStartedAt = at;
      deriveRun(r);
      sendRun('requested', r);
      for (const j of fresh) sendJob(r, j);
      return r;
    },
    createCheckRun(repo, opts) {
      const app = { id: 29_310, ...(opts.app ?? { slug: 'octocoders-linter', name: 'Octocoders Linter' }) };
      const existing = checkRuns.find(
        (c) => c.repo === repo && c.headSha === opts.headSha && c.app.slug === app.slug,
      );
      const c: FakeCheckRun = {
        id: nextJobId++,
        repo,
        headSha: opts.headSha,
        headBranch: opts.headBranch,
        prNumber: opts.prNumber ?? null,
        name: opts.name,
        app,
        suiteId: existing?.suiteId ?? nextSuiteId++,
        status: 'in_progress',
        conclusion: null,
        startedAt: now(),
        completedAt: null,
        suiteCreatedAt: existing?.suiteCreatedAt ?? now(),
      };
      checkRuns.push(c);
      sendCheckRun('created', c);
      return c;
    },
    completeCheckRun(id, conclusion) {
      const c = checkRuns.find((x) => x.id === id);
      if (!c) throw new Error(`fake github: no check run ${id}`);
      c.status = 'completed';
      c.conclusion = conclusion;
      c.completedAt = now();
      sendCheckRun('completed', c);
      return c;
    },
    pullRequestHook(action, pr, repo, login) {
      deps.sender.send(
        'pull_request',
        { action, number: pr.number, pull_request: pr, repository: repoBlock(repo), sender: sender(login) },
        headers('pull_request'),
      );
    },
    async route(req, repo, rest) {
      const [r0, r1, r2, r3] = rest;
      if (r0 === 'actions' && r1 === 'runs') {
        if (req.method === 'GET' && rest.length === 2) {
          const sha = req.query.get('head_sha');
          const branch = req.query.get('branch');
          const list = runs
            .filter(
              (r) => r.repo === repo && (!sha || r.headSha === sha) && (!branch || r.headBranch === branch),
            )
            .sort((a, b) => b.id - a.id);
          return listed(req, 'workflow_runs', list, runJson);
        }
        const run = runs.find((r) => r.repo === repo && String(r.id) === r2);
        if (!run) return fail(404, 'Not Found');
        if (req.method === 'GET' && rest.length === 3) return { status: 200, json: runJson(run) };
        if (req.method === 'GET' && r3 === 'jobs' && rest.length === 4) {
          const filter = req.query.get('filter') ?? 'latest';
          const jobs = filter === 'all' ? run.jobs : latestJobs(run);
          return listed(req, 'jobs', jobs, (j) => jobJson(run, j));
        }
        if (req.method === 'POST' && r3 === 'rerun-failed-jobs' && rest.length === 4) {
          self.rerunFailedJobs(run.id);
          return { status: 201, json: {} };
        }
      }
      if (
        req.method === 'GET' &&
        r0 === 'actions' &&
        r1 === 'jobs' &&
        rest[3] === 'logs' &&
        rest.length === 4
      ) {
        const job = runs.flatMap((r) => (r.repo === repo ? r.jobs : [])).find((j) => String(j.id) === r2);
        if (!job) return fail(404, 'Not Found');
        const sig = createHmac('sha256', signingKey).update(`${job.id}:${randomUUID()}`).digest('hex');
        tickets.set(sig, { jobId: job.id, expires: Date.now() + 60_000 });
        const location = `${downloadOrigin}/logs/${job.id}/job-logs.txt?sig=${sig}&se=${Date.now() + 60_000}`;
        logDownloads.push(location);
        return { status: 302, headers: { location } };
      }
      if (req.method === 'GET' && r0 === 'commits' && r2 === 'check-runs' && rest.length === 3) {
        const matches = (sha: string, branch: string) => sha === r1 || branch === r1;
        // GitHub lists Actions jobs here too, as check runs of the github-actions app.
        const actions: FakeCheckRun[] = runs
          .filter((r) => r.repo === repo && matches(r.headSha, r.headBranch))
          .flatMap((r) =>
            latestJobs(r).map((j) => ({
              id: j.id,
              repo,
              headSha: r.headSha,
              headBranch: r.headBranch,
              prNumber: r.prNumber,
              name: j.name,
              app: { id: 15_368, slug: 'github-actions', name: 'GitHub Actions' },
              suiteId: r.checkSuiteId,
              status:
                j.status === 'completed'
                  ? 'completed'
                  : j.status === 'in_progress'
                    ? 'in_progress'
                    : 'queued',
              conclusion: j.conclusion,
              startedAt: j.startedAt ?? j.createdAt,
              completedAt: j.completedAt,
              suiteCreatedAt: r.createdAt,
            })),
          );
        const list = [
          ...actions,
          ...checkRuns.filter((c) => c.repo === repo && matches(c.headSha, c.headBranch)),
        ];
        return listed(req, 'check_runs', list, checkRunJson);
      }
      return undefined;
    },
    close: () =>
      new Promise<void>((resolve) => {
        downloads.closeAllConnections();
        downloads.close(() => resolve());
      }),
  };
  return self;
};
