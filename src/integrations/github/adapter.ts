import { App, Octokit } from 'octokit';
import { AppError, IntegrationError } from '../../core/errors.js';
import {
  branchExistsError,
  describeFailure,
  type ForgeErrorContext,
  fileStateError,
  toForgeError,
} from '../forge/errors.js';
import { aggregateStatus, type CiJobState, type CiRunState, type CiStatus } from '../forge/events.js';
import { githubCiStatus } from '../forge/github-events.js';
import { readTail } from '../forge/log-tail.js';
import { forgeDate, msOf } from '../forge/payload.js';
import type {
  CiPipelineDetail,
  CommitResult,
  FileAtRef,
  ForgePort,
  MergeRequest,
  MergeRequestDetails,
  MergeRequestSource,
} from '../forge/port.js';
import {
  type RetryPolicy,
  retryPolicyFromOptions,
  timedFetch,
  withRetry,
  writeWithRecheck,
} from '../forge/retry.js';
import { num, obj, optStr, str } from '../forge/shape.js';
import { GitCredential } from '../git/credential.js';

/**
 * GitHub and GitHub Enterprise Server through octokit, with a personal/fine-grained token or as a GitHub App
 * installation. octokit's throttling and retry plugins are switched off on purpose: both adapters share one
 * set of rules (forge/retry.ts) so Retry-After and x-ratelimit-reset are honoured with the same bounds, and
 * writes are never repeated without reading first whether they landed.
 */

export interface GithubForgeOptions {
  /** https://api.github.com, or https://ghe.example.com/api/v3 for GHES. */
  readonly baseUrl: string;
  readonly token?: string;
  readonly app?: { readonly appId: number; readonly privateKey: string; readonly installationId: number };
  readonly timeoutMs?: number;
  readonly fetch?: typeof fetch;
  readonly maxRetries?: number;
  readonly maxRetryDelayMs?: number;
  readonly retry?: Partial<RetryPolicy>;
  readonly credentialName?: string;
  /** Where octokit's own warnings go (deprecations, auth clock skew); dropped when omitted. */
  readonly warn?: (message: string) => void;
}

const SERVICE = 'github' as const;

/** Requests that are safe to repeat after an ambiguous failure: reads, and writes whose repeat is harmless. */
const isIdempotent = (method: string, url: string): boolean =>
  method === 'GET' ||
  method === 'HEAD' ||
  // git objects are content-addressed (a repeated blob/tree is the same object, a stray commit is unreferenced),
  // adding labels is a set union, and an extra installation token is harmless.
  (method === 'POST' &&
    (/\/git\/(blobs|trees|commits)$/.test(url) ||
      /\/issues\/\{?[^/]+\}?\/labels$/.test(url) ||
      /\/app\/installations\/[^/]+\/access_tokens$/.test(url)));

const splitRepo = (repo: string): { owner: string; repo: string } => {
  const parts = repo.split('/');
  if (parts.length !== 2 || !parts[0] || !parts[1]) {
    throw new IntegrationError(SERVICE, `"${repo}" is not a GitHub repository: use "owner/name"`, {
      code: 'bad_input',
    });
  }
  return { owner: parts[0], repo: parts[1] };
};

const toMergeRequest = (raw: unknown): MergeRequest => {
  const p = obj(SERVICE, raw, 'pull request');
  const head = obj(SERVICE, p.head, 'pull request head');
  const base = obj(SERVICE, p.base, 'pull request base');
  const state = str(SERVICE, p.state, 'pull request state');
  return {
    number: num(SERVICE, p.number, 'pull request number'),
    url: str(SERVICE, p.html_url, 'pull request html_url'),
    title: str(SERVICE, p.title, 'pull request title'),
    state: typeof p.merged_at === 'string' ? 'merged' : state === 'open' ? 'open' : 'closed',
    sourceBranch: str(SERVICE, head.ref, 'pull request head.ref'),
    targetBranch: str(SERVICE, base.ref, 'pull request base.ref'),
    headSha: optStr(head.sha),
  };
};

const toMergeRequestDetails = (raw: unknown): MergeRequestDetails => {
  const mr = toMergeRequest(raw);
  const p = obj(SERVICE, raw, 'pull request');
  const mergedBy =
    typeof p.merged_by === 'object' && p.merged_by !== null ? optStr((p.merged_by as Json).login) : null;
  return {
    ...mr,
    actor: mr.state === 'merged' ? mergedBy : null,
    updatedAt: forgeDate(p.updated_at) ?? new Date(0),
  };
};

type Json = Readonly<Record<string, unknown>>;

const ACTIONS_APP = 'github-actions';

const terminalAt = (status: CiStatus, at: Date | null): Date | null =>
  status === 'success' || status === 'failed' || status === 'canceled' ? at : null;

/** A workflow run as the REST API returns it -> the run the webhooks would describe. */
const toRun = (raw: unknown): CiRunState & { readonly createdAt: Date | null } => {
  const w = obj(SERVICE, raw, 'workflow run');
  const status = githubCiStatus(str(SERVICE, w.status, 'run status'), optStr(w.conclusion));
  const updated = forgeDate(w.updated_at);
  return {
    id: `run:${num(SERVICE, w.id, 'run id')}`,
    name: optStr(w.name) || optStr(w.path),
    status,
    url: optStr(w.html_url),
    generation: typeof w.run_attempt === 'number' ? w.run_attempt : 1,
    sequence: msOf(updated),
    startedAt: forgeDate(w.run_started_at) ?? forgeDate(w.created_at),
    finishedAt: terminalAt(status, updated),
    createdAt: forgeDate(w.created_at),
  };
};

const toJob = (raw: unknown): CiJobState => {
  const j = obj(SERVICE, raw, 'job');
  const conclusion = optStr(j.conclusion);
  const status = githubCiStatus(str(SERVICE, j.status, 'job status'), conclusion);
  return {
    id: String(num(SERVICE, j.id, 'job id')),
    name: str(SERVICE, j.name, 'job name'),
    stage: null,
    status,
    url: optStr(j.html_url),
    startedAt: forgeDate(j.started_at),
    finishedAt: forgeDate(j.completed_at),
    failureReason: status === 'failed' && conclusion !== 'failure' ? conclusion : null,
    allowFailure: false,
  };
};

const is404 = (err: unknown) => describeFailure(err).status === 404;

export const createGithubForge = (opts: GithubForgeOptions): ForgePort => {
  if (!opts.token && !opts.app) {
    throw new AppError(
      'config_invalid',
      'GitHub needs GITHUB_TOKEN or a GitHub App (appId, installationId, key)',
    );
  }
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const policy = retryPolicyFromOptions(opts);
  const warn = opts.warn ?? (() => {});
  const noop = () => {};

  const retryPlugin = (octokit: { hook: InstanceType<typeof Octokit>['hook'] }) => {
    octokit.hook.wrap('request', (request, options) =>
      withRetry(
        async () => request(options),
        isIdempotent(String(options.method), String(options.url)),
        policy,
      ),
    );
  };
  const ForgeOctokit = Octokit.plugin(retryPlugin).defaults({
    baseUrl: opts.baseUrl.replace(/\/+$/, ''),
    request: { fetch: timedFetch(opts.fetch ?? globalThis.fetch, timeoutMs) },
    throttle: { enabled: false },
    retry: { enabled: false },
    log: { debug: noop, info: noop, warn, error: warn },
  });

  let client: Promise<InstanceType<typeof Octokit>>;
  if (opts.token) {
    client = Promise.resolve(new ForgeOctokit({ auth: opts.token }));
  } else {
    const app = opts.app as NonNullable<GithubForgeOptions['app']>;
    const gh = new App({ appId: app.appId, privateKey: app.privateKey, Octokit: ForgeOctokit });
    // No request yet: the installation token is fetched (and renewed) on first use by @octokit/auth-app.
    client = gh.getInstallationOctokit(app.installationId) as Promise<InstanceType<typeof Octokit>>;
  }

  const secrets = [opts.token, opts.app?.privateKey].filter((s): s is string => typeof s === 'string');
  const credential =
    opts.credentialName ?? (opts.token ? 'GITHUB_TOKEN' : 'the GitHub App id and GITHUB_APP_PRIVATE_KEY');
  const ctx = (repo: string, access: 'read' | 'write', subject?: string): ForgeErrorContext => ({
    service: SERVICE,
    repo,
    access,
    credential,
    timeoutMs,
    secrets,
    ...(subject !== undefined ? { subject } : {}),
  });
  const call = async <T>(c: ForgeErrorContext, fn: (o: InstanceType<typeof Octokit>) => Promise<T>) => {
    try {
      return await fn(await client);
    } catch (err) {
      throw toForgeError(err, c);
    }
  };

  /** GitHub answers a bare 404 both for a missing file and a missing repo: tell them apart. */
  const nullIfRepoExists = async (o: InstanceType<typeof Octokit>, repo: string, err: unknown) => {
    if (!is404(err)) throw err;
    await o.rest.repos.get(splitRepo(repo)); // throws 404 -> "repository not found"
    return null;
  };

  const headOf = async (o: InstanceType<typeof Octokit>, repo: string, branch: string) => {
    try {
      const { data } = await o.rest.git.getRef({ ...splitRepo(repo), ref: `heads/${branch}` });
      return str(SERVICE, obj(SERVICE, data.object, 'ref object').sha, 'ref sha');
    } catch (err) {
      return nullIfRepoExists(o, repo, err);
    }
  };

  const readFile = async (
    o: InstanceType<typeof Octokit>,
    repo: string,
    path: string,
    ref: string,
  ): Promise<FileAtRef | null> => {
    let data: unknown;
    try {
      data = (await o.rest.repos.getContent({ ...splitRepo(repo), path, ref })).data;
    } catch (err) {
      return nullIfRepoExists(o, repo, err);
    }
    if (Array.isArray(data) || obj(SERVICE, data, 'content').type !== 'file') {
      throw new IntegrationError(SERVICE, `${path} in ${repo} at ${ref} is not a file`, {
        code: 'bad_input',
      });
    }
    const f = obj(SERVICE, data, 'content');
    const sha = str(SERVICE, f.sha, 'content sha');
    let base64 = typeof f.content === 'string' ? f.content : '';
    // Files over 1 MB come back with encoding "none" and no content: fetch the blob instead.
    if (f.encoding !== 'base64' || (base64 === '' && Number(f.size ?? 0) > 0)) {
      const blob = (await o.rest.git.getBlob({ ...splitRepo(repo), file_sha: sha })).data;
      base64 = blob.content;
    }
    return { path, content: Buffer.from(base64, 'base64').toString('utf8'), blobSha: sha };
  };

  const findOpen = async (o: InstanceType<typeof Octokit>, repo: string, sourceBranch: string) => {
    const r = splitRepo(repo);
    const list = await o.paginate(o.rest.pulls.list, {
      ...r,
      head: `${r.owner}:${sourceBranch}`,
      state: 'open',
      per_page: 100,
    });
    const first = list.find((p) => p.head.ref === sourceBranch);
    return first ? toMergeRequest(first) : null;
  };

  const downloadFetch = timedFetch(opts.fetch ?? globalThis.fetch, timeoutMs);

  /** Every workflow run of a commit with its jobs, and other CI apps' check runs grouped by suite. */
  const pipelineOf = async (
    o: InstanceType<typeof Octokit>,
    repo: string,
    sha: string,
  ): Promise<CiPipelineDetail | null> => {
    const r = splitRepo(repo);
    const rawRuns = await o.paginate(o.rest.actions.listWorkflowRunsForRepo, {
      ...r,
      head_sha: sha,
      per_page: 100,
    });
    const runs = rawRuns.map(toRun);
    const jobs: Array<{ runId: string; job: CiJobState }> = [];
    for (const run of runs) {
      const id = Number(run.id.slice('run:'.length));
      const list = await o.paginate(o.rest.actions.listJobsForWorkflowRun, {
        ...r,
        run_id: id,
        filter: 'latest',
        per_page: 100,
      });
      for (const j of list) jobs.push({ runId: run.id, job: toJob(j) });
    }
    const checks = (await o.paginate(o.rest.checks.listForRef, { ...r, ref: sha, per_page: 100 })).filter(
      (c) => c.app?.slug !== ACTIONS_APP,
    );
    const suites = new Map<
      string,
      { name: string | null; jobs: CiJobState[]; created: number; seq: number }
    >();
    for (const c of checks) {
      const suiteId = `suite:${c.check_suite?.id ?? 0}`;
      const job = toJob({ ...c, html_url: c.html_url ?? null });
      const s = suites.get(suiteId) ?? {
        name: c.app?.name ?? c.app?.slug ?? null,
        jobs: [],
        created: Number.POSITIVE_INFINITY,
        seq: 0,
      };
      s.jobs.push(job);
      s.created = Math.min(s.created, msOf(job.startedAt) || Number.POSITIVE_INFINITY);
      s.seq = Math.max(s.seq, msOf(job.finishedAt), msOf(job.startedAt));
      suites.set(suiteId, s);
      jobs.push({ runId: suiteId, job });
    }
    const allRuns: CiRunState[] = [
      ...runs.map(({ createdAt: _c, ...run }) => run),
      ...[...suites.entries()].map(([id, s]) => {
        const status = aggregateStatus(s.jobs.map((j) => j.status));
        return {
          id,
          name: s.name,
          status,
          url: null,
          generation: 1,
          sequence: s.seq,
          startedAt: null,
          finishedAt: null,
        };
      }),
    ];
    if (allRuns.length === 0) return null;
    const created = [
      ...runs.map((x) => msOf(x.createdAt)),
      ...[...suites.values()].map((x) => (Number.isFinite(x.created) ? x.created : 0)),
    ].filter((x) => x > 0);
    const web = opts.baseUrl.replace(/\/api\/v3\/?$/, '').replace('://api.github.com', '://github.com');
    return {
      summary: {
        key: sha,
        sha,
        ref: null,
        url: `${web.replace(/\/+$/, '')}/${repo}/commit/${sha}/checks`,
        status: aggregateStatus(allRuns.map((x) => x.status)),
        ordinal: created.length ? Math.min(...created) : 0,
      },
      runs: allRuns,
      jobs,
    };
  };

  const branchExists = (repo: string, branch: string, cause?: unknown) =>
    branchExistsError(SERVICE, repo, branch, 422, cause);

  return {
    kind: 'github',
    getBranchHead: (repo, branch) => call(ctx(repo, 'read'), (o) => headOf(o, repo, branch)),
    getFile: (repo, path, ref) => call(ctx(repo, 'read'), (o) => readFile(o, repo, path, ref)),

    createBranchWithCommit: (input) =>
      call(ctx(input.repo, 'write'), async (o): Promise<CommitResult> => {
        const r = splitRepo(input.repo);
        const start = (await o.rest.git.getCommit({ ...r, commit_sha: input.startSha })).data;
        // Same semantics as GitLab's commit actions: create must be new, update/delete must exist.
        const problems: { path: string; exists: boolean }[] = [];
        for (const a of input.actions) {
          const present = (await readFile(o, input.repo, a.path, input.startSha)) !== null;
          if (a.action === 'create' ? present : !present) problems.push({ path: a.path, exists: present });
        }
        if (problems.length > 0) throw fileStateError(SERVICE, input, problems, null);
        const tree: Array<{ path: string; mode: '100644'; type: 'blob'; sha: string | null }> = [];
        for (const a of input.actions) {
          if (a.action === 'delete') {
            tree.push({ path: a.path, mode: '100644', type: 'blob', sha: null });
            continue;
          }
          const blob = await o.rest.git.createBlob({
            ...r,
            content: Buffer.from(a.content, 'utf8').toString('base64'),
            encoding: 'base64',
          });
          tree.push({ path: a.path, mode: '100644', type: 'blob', sha: blob.data.sha });
        }
        const newTree = await o.rest.git.createTree({ ...r, base_tree: start.tree.sha, tree });
        const commit = (
          await o.rest.git.createCommit({
            ...r,
            message: input.message,
            tree: newTree.data.sha,
            parents: [input.startSha],
          })
        ).data;
        const result: CommitResult = { sha: commit.sha, webUrl: optStr(commit.html_url) };
        const createRef = async () => {
          await o.rest.git.createRef({ ...r, ref: `refs/heads/${input.branch}`, sha: commit.sha });
          return result;
        };
        const recheck = async () => {
          const head = await headOf(o, input.repo, input.branch);
          if (head === null) return null;
          if (head === commit.sha) return result;
          throw branchExists(input.repo, input.branch);
        };
        try {
          return await writeWithRecheck(createRef, recheck, policy);
        } catch (err) {
          const f = describeFailure(err);
          if (f.status === 422 && /reference already exists/i.test(f.forgeMessage)) {
            throw branchExists(input.repo, input.branch, err);
          }
          throw err;
        }
      }),

    findOpenMergeRequest: (repo, sourceBranch) =>
      call(ctx(repo, 'read'), (o) => findOpen(o, repo, sourceBranch)),

    openMergeRequest: (repo, input) =>
      call(ctx(repo, 'write'), async (o) => {
        const r = splitRepo(repo);
        const create = async () =>
          toMergeRequest(
            (
              await o.rest.pulls.create({
                ...r,
                head: input.sourceBranch,
                base: input.targetBranch,
                title: input.title,
                body: input.description,
              })
            ).data,
          );
        const recheck = async () => {
          const mr = await findOpen(o, repo, input.sourceBranch);
          return mr && mr.targetBranch === input.targetBranch ? mr : null;
        };
        let mr: MergeRequest;
        try {
          mr = await writeWithRecheck(create, recheck, policy);
        } catch (err) {
          const f = describeFailure(err);
          if (f.status === 422 && /pull request already exists/i.test(f.forgeMessage)) {
            throw new IntegrationError(
              SERVICE,
              `an open pull request for ${input.sourceBranch} already exists in ${repo}`,
              { code: 'conflict', status: 422, cause: err },
            );
          }
          throw err;
        }
        if (input.labels.length > 0) {
          try {
            await o.rest.issues.addLabels({ ...r, issue_number: mr.number, labels: [...input.labels] });
          } catch (err) {
            const e = toForgeError(err, ctx(repo, 'write', `pull request #${mr.number}`));
            throw new IntegrationError(
              SERVICE,
              `opened pull request #${mr.number} in ${repo} but could not label it: ${e.userMessage}`,
              {
                code: e.code,
                retryable: e.retryable,
                status: e.status,
                cause: err,
                details: { url: mr.url },
              },
            );
          }
        }
        return mr;
      }),

    comment: (repo, number, body) =>
      call(ctx(repo, 'write', `pull request #${number}`), async (o) => {
        await o.rest.issues.createComment({ ...splitRepo(repo), issue_number: number, body });
      }),

    listComments: (repo, number) =>
      call(ctx(repo, 'read', `pull request #${number}`), async (o) => {
        const list = await o.paginate(o.rest.issues.listComments, {
          ...splitRepo(repo),
          issue_number: number,
          per_page: 100,
        });
        return list.map((c) => ({ id: c.id, body: c.body ?? '' }));
      }),

    getMergeRequest: (repo, number) =>
      call(ctx(repo, 'read', `pull request #${number}`), async (o) => {
        try {
          return toMergeRequestDetails(
            (await o.rest.pulls.get({ ...splitRepo(repo), pull_number: number })).data,
          );
        } catch (err) {
          return nullIfRepoExists(o, repo, err);
        }
      }),

    listMergeRequestPipelines: (repo, mr) =>
      call(ctx(repo, 'read', `pull request #${mr.number}`), async (o) => {
        if (!mr.headSha) return [];
        const detail = await pipelineOf(o, repo, mr.headSha);
        return detail ? [detail.summary] : [];
      }),

    listPipelineJobs: (repo, pipeline) =>
      call(ctx(repo, 'read', `commit ${pipeline.sha.slice(0, 12)}`), async (o) => {
        return (await pipelineOf(o, repo, pipeline.sha)) ?? { summary: pipeline, runs: [], jobs: [] };
      }),

    getJobLogTail: (repo, jobId, maxBytes) =>
      call(ctx(repo, 'read', `job ${jobId}`), async (o) => {
        // The API answers 302 to a short-lived download URL on another host: follow it ourselves, without
        // the token (the download URL carries its own signature).
        const res = await o.request('GET /repos/{owner}/{repo}/actions/jobs/{job_id}/logs', {
          ...splitRepo(repo),
          job_id: Number(jobId),
          request: { redirect: 'manual', parseSuccessResponseBody: false },
        });
        const location = (res.headers as Record<string, string | undefined>).location;
        if (!location) return null;
        return withRetry(
          async () => {
            const dl = await downloadFetch(location);
            if (!dl.ok) {
              await dl.arrayBuffer().catch(() => undefined);
              throw Object.assign(new Error(`log download answered ${dl.status}`), {
                status: dl.status,
                response: { status: dl.status, headers: Object.fromEntries(dl.headers.entries()), data: '' },
              });
            }
            return readTail(dl, maxBytes);
          },
          true,
          policy,
        );
      }),

    retryFailedJobs: (repo, pipeline) =>
      call(ctx(repo, 'write', `commit ${pipeline.key.slice(0, 12)}`), async (o) => {
        for (const runId of pipeline.runIds) {
          const m = /^run:(\d+)$/.exec(runId);
          if (!m) continue; // another CI app's check suite: GitHub cannot re-run it
          await o.rest.actions.reRunWorkflowFailedJobs({ ...splitRepo(repo), run_id: Number(m[1]) });
        }
      }),

    getMergeRequestSource: (repo, number) =>
      call(ctx(repo, 'read', `pull request #${number}`), async (o): Promise<MergeRequestSource | null> => {
        let raw: unknown;
        try {
          raw = (await o.rest.pulls.get({ ...splitRepo(repo), pull_number: number })).data;
        } catch (err) {
          return nullIfRepoExists(o, repo, err);
        }
        const mr = toMergeRequest(raw);
        const p = obj(SERVICE, raw, 'pull request');
        const head = obj(SERVICE, p.head, 'pull request head');
        // head.repo is null when the fork was deleted: the commits are then out of reach.
        const headRepo = typeof head.repo === 'object' && head.repo !== null ? (head.repo as Json) : null;
        const sourceRepo = headRepo ? str(SERVICE, headRepo.full_name, 'head repo full_name') : repo;
        const fork = sourceRepo.toLowerCase() !== repo.toLowerCase();
        let branchProtected = false;
        if (headRepo) {
          try {
            const b = (await o.rest.repos.getBranch({ ...splitRepo(sourceRepo), branch: mr.sourceBranch }))
              .data;
            branchProtected = b.protected === true;
          } catch (err) {
            if (!is404(err) && describeFailure(err).status !== 403) throw err;
          }
        }
        const user = typeof p.user === 'object' && p.user !== null ? optStr((p.user as Json).login) : null;
        return {
          ...mr,
          sourceRepo,
          cloneUrl: headRepo ? optStr(headRepo.clone_url) : null,
          fork,
          collaborationAllowed: !fork || p.maintainer_can_modify === true,
          branchProtected,
          author: user,
        };
      }),

    getGitCredential: async () => {
      if (opts.token) return new GitCredential('x-access-token', opts.token);
      // The App's installation token (cached and renewed by @octokit/auth-app).
      return call(ctx('', 'read', 'installation token'), async (o) => {
        const auth = (await o.auth({ type: 'installation' })) as { token?: unknown };
        if (typeof auth.token !== 'string') {
          throw new IntegrationError(SERVICE, 'the GitHub App installation token could not be read', {
            code: 'upstream',
          });
        }
        return new GitCredential('x-access-token', auth.token);
      });
    },
  };
};
