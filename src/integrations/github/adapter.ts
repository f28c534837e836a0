import { App, Octokit } from 'octokit';
import { AppError, IntegrationError } from '../../core/errors.js';
import { describeFailure, type ForgeErrorContext, toForgeError } from '../forge/errors.js';
import type { CommitResult, FileAtRef, ForgePort, MergeRequest } from '../forge/port.js';
import {
  type RetryPolicy,
  retryPolicyFromOptions,
  timedFetch,
  withRetry,
  writeWithRecheck,
} from '../forge/retry.js';
import { num, obj, optStr, str } from '../forge/shape.js';

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

  const branchExists = (repo: string, branch: string, cause?: unknown) =>
    new IntegrationError(SERVICE, `branch ${branch} already exists in ${repo}`, {
      code: 'conflict',
      status: 422,
      ...(cause !== undefined ? { cause } : {}),
    });

  return {
    kind: 'github',
    getBranchHead: (repo, branch) => call(ctx(repo, 'read'), (o) => headOf(o, repo, branch)),
    getFile: (repo, path, ref) => call(ctx(repo, 'read'), (o) => readFile(o, repo, path, ref)),

    createBranchWithCommit: (input) =>
      call(ctx(input.repo, 'write'), async (o): Promise<CommitResult> => {
        const r = splitRepo(input.repo);
        const start = (await o.rest.git.getCommit({ ...r, commit_sha: input.startSha })).data;
        // Same semantics as GitLab's commit actions: create must be new, update/delete must exist.
        for (const a of input.actions) {
          const present = (await readFile(o, input.repo, a.path, input.startSha)) !== null;
          if (a.action === 'create' ? present : !present) {
            throw new IntegrationError(
              SERVICE,
              `the change no longer applies to ${input.repo} at ${input.startSha.slice(0, 12)} (${a.path} ${present ? 'already exists' : 'does not exist'}); plan it again`,
              { code: 'conflict' },
            );
          }
        }
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
  };
};
