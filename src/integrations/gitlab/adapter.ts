import { createRequesterFn, type FormattedResponse } from '@gitbeaker/requester-utils';
import { Gitlab } from '@gitbeaker/rest';
import { IntegrationError } from '../../core/errors.js';
import {
  branchExistsError,
  describeFailure,
  type ForgeErrorContext,
  ForgeHttpError,
  fileStateError,
  messageFromBody,
  toForgeError,
} from '../forge/errors.js';
import type { CiJobState } from '../forge/events.js';
import { gitlabCiStatus, gitlabJobState, gitlabRunVersion } from '../forge/gitlab-events.js';
import { readTail } from '../forge/log-tail.js';
import { forgeDate } from '../forge/payload.js';
import type {
  CiPipelineSummary,
  CommitResult,
  FileAction,
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
import { arr, type Json, num, obj, optStr, str } from '../forge/shape.js';
import { GitCredential } from '../git/credential.js';

/**
 * GitLab (gitlab.com or self-managed) through @gitbeaker/rest. gitbeaker's own request handler uses the
 * global fetch, has no per-call timeout we can bound retries with and retries 429/502 ten times ignoring
 * Retry-After, so this adapter hands gitbeaker its own requester: injected fetch, a deadline per attempt,
 * and the shared retry rules (Retry-After honoured, reads only after 5xx/timeouts, bounded).
 */

export interface GitlabForgeOptions {
  readonly host: string;
  readonly token: string;
  readonly timeoutMs?: number;
  readonly fetch?: typeof fetch;
  readonly maxRetries?: number;
  /** Cap on a Retry-After we are willing to wait for, and on backoff (default 60 s). */
  readonly maxRetryDelayMs?: number;
  /** Overrides for tests (sleep, clock). */
  readonly retry?: Partial<RetryPolicy>;
  /** How the token is configured, named in "token invalid" messages (default GITLAB_TOKEN). */
  readonly credentialName?: string;
}

const SERVICE = 'gitlab' as const;

const parseBody = async (res: Response): Promise<unknown> => {
  if (res.status === 204) return null;
  const type = (res.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? '';
  if (type === 'application/json') return (await res.json()) ?? {};
  if (type.startsWith('text/')) return res.text();
  return res.blob();
};

const errorBody = async (res: Response): Promise<string> => {
  const text = await res.text().catch(() => '');
  try {
    return messageFromBody(JSON.parse(text));
  } catch {
    return text.slice(0, 300);
  }
};

const createRequester = (fetchImpl: typeof fetch, policy: RetryPolicy) =>
  createRequesterFn(
    async (_serviceOptions, requestOptions) => requestOptions,
    async (endpoint, options) => {
      const o = (options ?? {}) as {
        prefixUrl?: string;
        searchParams?: string;
        method?: string;
        headers?: Record<string, string>;
        body?: string | FormData;
        signal?: AbortSignal;
      };
      const base = o.prefixUrl ? (o.prefixUrl.endsWith('/') ? o.prefixUrl : `${o.prefixUrl}/`) : undefined;
      const url = new URL(endpoint, base);
      url.search = o.searchParams ?? '';
      const method = o.method ?? 'GET';
      const idempotent = method === 'GET' || method === 'HEAD';
      return withRetry(
        async (): Promise<FormattedResponse> => {
          const init: RequestInit = { method };
          if (o.headers) init.headers = o.headers;
          if (o.body !== undefined) init.body = o.body;
          if (o.signal) init.signal = o.signal;
          const res = await fetchImpl(url, init);
          const headers = Object.fromEntries(res.headers.entries());
          if (!res.ok) throw new ForgeHttpError(res.status, headers, await errorBody(res));
          return { body: (await parseBody(res)) as FormattedResponse['body'], headers, status: res.status };
        },
        idempotent,
        policy,
      );
    },
  );

const mrState = (s: string): MergeRequest['state'] =>
  s === 'opened' ? 'open' : s === 'merged' ? 'merged' : 'closed';

const toMergeRequest = (raw: unknown): MergeRequest => {
  const m = obj(SERVICE, raw, 'merge request');
  return {
    number: num(SERVICE, m.iid, 'merge request iid'),
    url: str(SERVICE, m.web_url, 'merge request web_url'),
    title: str(SERVICE, m.title, 'merge request title'),
    state: mrState(str(SERVICE, m.state, 'merge request state')),
    sourceBranch: str(SERVICE, m.source_branch, 'merge request source_branch'),
    targetBranch: str(SERVICE, m.target_branch, 'merge request target_branch'),
    headSha: optStr(m.sha),
  };
};

const toMergeRequestDetails = (raw: unknown): MergeRequestDetails => {
  const mr = toMergeRequest(raw);
  const m = obj(SERVICE, raw, 'merge request');
  const user = (v: unknown) => (typeof v === 'object' && v !== null ? optStr((v as Json).username) : null);
  return {
    ...mr,
    actor: mr.state === 'merged' ? user(m.merged_by) : mr.state === 'closed' ? user(m.closed_by) : null,
    updatedAt: forgeDate(m.updated_at) ?? new Date(0),
  };
};

const toPipelineSummary = (raw: unknown): CiPipelineSummary => {
  const p = obj(SERVICE, raw, 'pipeline');
  const id = num(SERVICE, p.id, 'pipeline id');
  return {
    key: String(id),
    sha: str(SERVICE, p.sha, 'pipeline sha'),
    ref: optStr(p.ref),
    url: optStr(p.web_url),
    status: gitlabCiStatus(str(SERVICE, p.status, 'pipeline status')),
    ordinal: id,
  };
};

const toJob = (raw: unknown): CiJobState => {
  const j = obj(SERVICE, raw, 'job');
  return gitlabJobState(optStr(j.web_url) ?? '', {
    id: num(SERVICE, j.id, 'job id'),
    name: str(SERVICE, j.name, 'job name'),
    stage: str(SERVICE, j.stage, 'job stage'),
    status: str(SERVICE, j.status, 'job status'),
    started_at: optStr(j.started_at),
    finished_at: optStr(j.finished_at),
    allow_failure: j.allow_failure === true,
    failure_reason: optStr(j.failure_reason),
  });
};

const is404 = (err: unknown) => describeFailure(err).status === 404;
/** GitLab says which thing was missing: "404 Project Not Found" vs "404 File Not Found" / "Branch". */
const isProjectMissing = (err: unknown) => /project not found/i.test(describeFailure(err).forgeMessage);

export const createGitlabForge = (opts: GitlabForgeOptions): ForgePort => {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const policy = retryPolicyFromOptions(opts);
  const fetchImpl = timedFetch(opts.fetch ?? globalThis.fetch, timeoutMs);
  const api = new Gitlab({
    host: opts.host.replace(/\/+$/, ''),
    token: opts.token,
    queryTimeout: null, // our fetch wrapper owns the deadline, per attempt
    requesterFn: createRequester(fetchImpl, policy),
  });

  const ctx = (repo: string, access: 'read' | 'write', subject?: string): ForgeErrorContext => ({
    service: SERVICE,
    repo,
    access,
    credential: opts.credentialName ?? 'GITLAB_TOKEN',
    timeoutMs,
    secrets: [opts.token],
    ...(subject !== undefined ? { subject } : {}),
  });

  const call = async <T>(c: ForgeErrorContext, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw toForgeError(err, c);
    }
  };

  const getBranchHead = (repo: string, branch: string) =>
    call(ctx(repo, 'read'), async () => {
      try {
        const b = obj(SERVICE, await api.Branches.show(repo, branch), 'branch');
        return str(SERVICE, obj(SERVICE, b.commit, 'branch commit').id, 'branch commit id');
      } catch (err) {
        if (is404(err) && !isProjectMissing(err)) return null;
        throw err;
      }
    });

  const getFile = (repo: string, path: string, ref: string) =>
    call(ctx(repo, 'read'), async (): Promise<FileAtRef | null> => {
      let f: Json;
      try {
        f = obj(SERVICE, await api.RepositoryFiles.show(repo, path, ref), 'file');
      } catch (err) {
        // "404 File Not Found" is the answer for a missing file; "404 Commit Not Found" means the ref is
        // missing, which is not "the file does not exist" (lib/api/files.rb, assign_file_vars!).
        if (is404(err) && /file not found/i.test(describeFailure(err).forgeMessage)) return null;
        if (is404(err) && /commit not found/i.test(describeFailure(err).forgeMessage)) {
          throw new IntegrationError(SERVICE, `ref ${ref} not found in ${repo} on GitLab`, {
            code: 'not_found',
            status: 404,
            cause: err,
          });
        }
        throw err;
      }
      const raw = str(SERVICE, f.content, 'file content');
      const content =
        f.encoding === 'base64' ? Buffer.from(raw, 'base64').toString('utf8') : String(f.content ?? '');
      return { path, content, blobSha: optStr(f.blob_id) };
    });

  const findOpenMergeRequest = (repo: string, sourceBranch: string) =>
    call(ctx(repo, 'read'), async () => {
      const list = arr(
        SERVICE,
        await api.MergeRequests.all({
          projectId: repo,
          sourceBranch,
          state: 'opened',
          perPage: 100,
          maxPages: 10,
        }),
        'merge request list',
      );
      return list.length ? toMergeRequest(list[0]) : null;
    });

  return {
    kind: 'gitlab',
    getBranchHead,

    getFile,

    createBranchWithCommit: (input) => {
      const c = ctx(input.repo, 'write');
      const post = async (): Promise<CommitResult> => {
        const res = obj(
          SERVICE,
          await api.Commits.create(
            input.repo,
            input.branch,
            input.message,
            input.actions.map(toGitlabAction),
            {
              startSha: input.startSha,
            },
          ),
          'commit',
        );
        return { sha: str(SERVICE, res.id, 'commit id'), webUrl: optStr(res.web_url) };
      };
      // After a 5xx/timeout the commit may exist: look before posting again.
      const recheck = async (): Promise<CommitResult | null> => {
        const head = await getBranchHead(input.repo, input.branch);
        if (head === null) return null;
        const commit = obj(SERVICE, await api.Commits.show(input.repo, head), 'commit');
        const parents = arr(SERVICE, commit.parent_ids, 'commit parent_ids');
        const sameMessage = optStr(commit.message)?.trim() === input.message.trim();
        if (parents.length === 1 && parents[0] === input.startSha && sameMessage) {
          return { sha: head, webUrl: optStr(commit.web_url) };
        }
        throw branchExists(input.repo, input.branch);
      };
      /** The planned paths that are not as the actions need them at the start commit (unreadable: left out). */
      const fileProblems = async (): Promise<{ path: string; exists: boolean }[]> => {
        const out: { path: string; exists: boolean }[] = [];
        for (const a of input.actions) {
          const exists = await getFile(input.repo, a.path, input.startSha).then(
            (file) => file !== null,
            () => null,
          );
          if (exists !== null && (a.action === 'create' ? exists : !exists))
            out.push({ path: a.path, exists });
        }
        return out;
      };
      return call(c, async () => {
        try {
          return await writeWithRecheck(post, recheck, policy);
        } catch (err) {
          const f = describeFailure(err);
          if (f.status === 400 && /branch .* already exists/i.test(f.forgeMessage)) {
            throw branchExists(input.repo, input.branch, err);
          }
          // Gitaly's index errors, as GitLab passes them on (400): "A file with this name doesn't exist"
          // (update, delete, move, chmod of a missing path) and "A file with this name already exists"
          // (create). The message names no path: read which of the planned paths are not as planned.
          const missing = /file with this name (doesn't|does not) exist/i.test(f.forgeMessage);
          if (f.status === 400 && (missing || /file with this name already exists/i.test(f.forgeMessage))) {
            throw fileStateError(SERVICE, input, await fileProblems(), 400, err);
          }
          throw err;
        }
      });
    },

    findOpenMergeRequest,

    openMergeRequest: (repo, input) =>
      call(ctx(repo, 'write'), async () => {
        const create = async () =>
          toMergeRequest(
            await api.MergeRequests.create(repo, input.sourceBranch, input.targetBranch, input.title, {
              description: input.description,
              labels: input.labels.join(','),
              removeSourceBranch: true,
            }),
          );
        const recheck = async () => {
          const mr = await findOpenMergeRequest(repo, input.sourceBranch);
          return mr && mr.targetBranch === input.targetBranch ? mr : null;
        };
        try {
          return await writeWithRecheck(create, recheck, policy);
        } catch (err) {
          if (describeFailure(err).status === 409) {
            throw new IntegrationError(
              SERVICE,
              `an open merge request for ${input.sourceBranch} already exists in ${repo}`,
              { code: 'conflict', status: 409, cause: err },
            );
          }
          throw err;
        }
      }),

    comment: (repo, number, body) =>
      call(ctx(repo, 'write', `merge request !${number}`), async () => {
        await api.MergeRequestNotes.create(repo, number, body);
      }),

    listComments: (repo, number) =>
      call(ctx(repo, 'read', `merge request !${number}`), async () => {
        const raw = arr(
          SERVICE,
          await api.MergeRequestNotes.all(repo, number, { perPage: 100, sort: 'asc', orderBy: 'created_at' }),
          'note list',
        );
        return raw.map((n) => {
          const note = obj(SERVICE, n, 'note');
          return { id: Number(note.id), body: typeof note.body === 'string' ? note.body : '' };
        });
      }),

    getMergeRequest: (repo, number) =>
      call(ctx(repo, 'read', `merge request !${number}`), async () => {
        try {
          return toMergeRequestDetails(await api.MergeRequests.show(repo, number));
        } catch (err) {
          if (is404(err) && !isProjectMissing(err)) return null;
          throw err;
        }
      }),

    listMergeRequestPipelines: (repo, mr, limit) =>
      call(ctx(repo, 'read', `merge request !${mr.number}`), async () => {
        const list = arr(
          SERVICE,
          await api.MergeRequests.allPipelines(repo, mr.number, {
            perPage: Math.min(100, limit),
            maxPages: 1,
          }),
          'pipeline list',
        );
        return list
          .map(toPipelineSummary)
          .sort((a, b) => b.ordinal - a.ordinal)
          .slice(0, limit);
      }),

    listPipelineJobs: (repo, pipeline) =>
      call(ctx(repo, 'read', `pipeline ${pipeline.key}`), async () => {
        const raw = arr(
          SERVICE,
          await api.Jobs.all(repo, { pipelineId: Number(pipeline.key), perPage: 100 }),
          'job list',
        );
        const jobs = raw.map(toJob);
        const first = raw[0] === undefined ? null : obj(SERVICE, raw[0], 'job');
        const p = first && typeof first.pipeline === 'object' ? (first.pipeline as Json) : null;
        const runId = `pipeline:${pipeline.key}`;
        return {
          summary: pipeline,
          runs: [
            {
              id: runId,
              name: null,
              status: pipeline.status,
              url: pipeline.url,
              ...gitlabRunVersion(jobs),
              startedAt: forgeDate(p?.created_at),
              finishedAt: null,
            },
          ],
          jobs: jobs.map((job) => ({ runId, job })),
        };
      }),

    getJobLogTail: (repo, jobId, maxBytes) =>
      call(ctx(repo, 'read', `job ${jobId}`), async () => {
        const url = `${opts.host.replace(/\/+$/, '')}/api/v4/projects/${encodeURIComponent(repo)}/jobs/${encodeURIComponent(jobId)}/trace`;
        return withRetry(
          async () => {
            const res = await fetchImpl(url, { headers: { 'PRIVATE-TOKEN': opts.token } });
            if (!res.ok) {
              throw new ForgeHttpError(
                res.status,
                Object.fromEntries(res.headers.entries()),
                await errorBody(res),
              );
            }
            return readTail(res, maxBytes);
          },
          true,
          policy,
        );
      }),

    retryFailedJobs: (repo, pipeline) =>
      call(ctx(repo, 'write', `pipeline ${pipeline.key}`), async () => {
        await api.Pipelines.retry(repo, Number(pipeline.key));
      }),

    getMergeRequestSource: (repo, number) =>
      call(ctx(repo, 'read', `merge request !${number}`), async (): Promise<MergeRequestSource | null> => {
        let raw: unknown;
        try {
          raw = await api.MergeRequests.show(repo, number);
        } catch (err) {
          if (is404(err) && !isProjectMissing(err)) return null;
          throw err;
        }
        const mr = toMergeRequest(raw);
        const m = obj(SERVICE, raw, 'merge request');
        const fork =
          typeof m.source_project_id === 'number' &&
          typeof m.target_project_id === 'number' &&
          m.source_project_id !== m.target_project_id;
        let sourceRepo = repo;
        let cloneUrl: string | null = null;
        try {
          const p = obj(
            SERVICE,
            await api.Projects.show(fork ? (m.source_project_id as number) : repo),
            'project',
          );
          sourceRepo = str(SERVICE, p.path_with_namespace, 'project path_with_namespace');
          cloneUrl = optStr(p.http_url_to_repo);
        } catch (err) {
          // A fork the token cannot see: the MR is still described, the push is refused for it.
          if (!(fork && (is404(err) || describeFailure(err).status === 403))) throw err;
        }
        let branchProtected = false;
        if (cloneUrl !== null) {
          try {
            const b = obj(SERVICE, await api.Branches.show(sourceRepo, mr.sourceBranch), 'branch');
            branchProtected = b.protected === true;
          } catch (err) {
            if (!is404(err)) throw err;
          }
        }
        const author =
          typeof m.author === 'object' && m.author !== null ? optStr((m.author as Json).username) : null;
        return {
          ...mr,
          sourceRepo,
          cloneUrl,
          fork,
          collaborationAllowed: !fork || m.allow_collaboration === true,
          branchProtected,
          author,
        };
      }),

    getGitCredential: async () => new GitCredential('oauth2', opts.token),
  };
};

const branchExists = (repo: string, branch: string, cause?: unknown) =>
  branchExistsError(SERVICE, repo, branch, 400, cause);

const toGitlabAction = (a: FileAction) =>
  a.action === 'delete'
    ? { action: 'delete' as const, filePath: a.path }
    : { action: a.action, filePath: a.path, content: a.content, encoding: 'text' as const };
