import { createPublicKey, type KeyObject, randomBytes, verify } from 'node:crypto';
import type { FakeHttpServer, FakeRequest, FakeResponse, Fault, RecordedRequest } from './forge-http.js';
import { HttpFail, pageLinks, paginate, startFakeHttpServer } from './forge-http.js';
import { serveGitHttp } from './git-http.js';
import type { GitRepo, TreeEdit } from './git-repo.js';
import { createGithubActions, type GithubActions } from './github-actions.js';
import { createWebhookSender, type WebhookSender } from './webhook-sender.js';

/**
 * A GitHub REST fake (GHES-style `/api/v3` prefix by default) that octokit talks to over loopback. The git
 * data API writes real objects into bare repos (`hash-object`, index plumbing, `commit-tree`) and refs move
 * with `update-ref <new> <old>`, so a concurrent push is detected as it would be on GitHub. Pull requests,
 * labels and comments live in memory. Errors have GitHub's shape (`message` + `documentation_url`).
 */

export interface FakeGithubToken {
  readonly access: 'read' | 'write';
  /** "owner/name" repos this token can see; all when omitted. */
  readonly repos?: readonly string[];
  readonly login?: string;
}

export interface FakeGithubApp {
  readonly appId: number;
  /** The app's public key (PEM or KeyObject); JWTs must be RS256-signed by the matching private key. */
  readonly publicKey: string | KeyObject;
  readonly installationId: number;
  readonly access?: 'read' | 'write';
}

export interface FakePullRequest {
  number: number;
  repo: string;
  title: string;
  body: string;
  state: 'open' | 'closed';
  head: string;
  base: string;
  labels: string[];
  comments: Array<{ id: number; body: string; user: string }>;
  user: string;
  merged?: boolean;
  mergedBy?: string | null;
  closedAt?: string | null;
  updatedAt?: string;
  /** The repo holding `head` when the PR comes from a fork (else the PR's own repo). */
  headRepo?: string;
  /** "Allow edits by maintainers" (maintainer_can_modify) of a fork PR. */
  maintainerCanModify?: boolean;
}

export interface FakeGithub {
  /** The octokit `baseUrl` (with the /api/v3 prefix). */
  readonly baseUrl: string;
  readonly requests: RecordedRequest[];
  readonly pulls: FakePullRequest[];
  /** Installation tokens handed out, in order. */
  readonly issuedTokens: string[];
  inject(matcher: { method?: string; path: RegExp }, fault: Fault, times?: number): void;
  /** Lowers the page size cap on lists, to exercise pagination. */
  setMaxPerPage(n: number): void;
  requestsTo(method: string, path: RegExp): RecordedRequest[];
  /** Workflow runs, jobs, logs, other CI apps' check runs, and the webhooks they send. */
  readonly actions: GithubActions;
  /** Webhook deliveries sent to the configured URL (GitHub does not retry failed ones). */
  readonly webhooks: WebhookSender;
  /** The repository webhook: payload URL and secret (X-Hub-Signature-256). */
  setWebhook(hook: { url: string; secret: string | null; timeoutMs?: number } | null): void;
  /** A pull request someone opened by hand, from an existing branch. */
  addPull(
    repo: string,
    pr: {
      head: string;
      base?: string;
      title?: string;
      user?: string;
      /** A fork ("owner/name", one of the fake's repos) holding `head`. */
      headRepo?: string;
      maintainerCanModify?: boolean;
    },
  ): FakePullRequest;
  /** Branches reported as protected (GET /repos/:o/:r/branches/:b), besides the default branch. */
  protectBranch(repo: string, branch: string): void;
  /** Basic-auth passwords git clients sent to the smart HTTP endpoints. */
  readonly gitPasswords: string[];
  /** Runs `fn` when the next git push arrives, before it is received (someone else's push racing it). */
  beforeNextPush(fn: () => Promise<void>): void;
  /** Merges (or closes without merging) a pull request as `user`, sending pull_request "closed". */
  setPullState(
    repo: string,
    number: number,
    state: 'merged' | 'closed',
    user: string,
  ): Promise<FakePullRequest>;
  close(): Promise<void>;
}

const DOCS = 'https://docs.github.com/rest';

const fail = (status: number, message: string, extra: Record<string, unknown> = {}): never => {
  throw new HttpFail(status, { message, documentation_url: DOCS, status: String(status), ...extra });
};

const b64url = (s: string) => Buffer.from(s, 'base64url');

export const startFakeGithub = async (opts: {
  repos: Readonly<Record<string, GitRepo>>;
  tokens?: Readonly<Record<string, FakeGithubToken>>;
  apps?: readonly FakeGithubApp[];
  prefix?: string;
  /** Page size cap on lists (GitHub: 100); lower it to exercise pagination. */
  maxPerPage?: number;
  /** Size above which contents returns no content (GitHub: 1 MB). */
  contentsLimit?: number;
}): Promise<FakeGithub> => {
  const protectedBranches = new Set<string>();
  const gitPasswords: string[] = [];
  const beforePush: Array<() => Promise<void>> = [];
  const prefix = opts.prefix ?? '/api/v3';
  const tokens = new Map<string, FakeGithubToken>(Object.entries(opts.tokens ?? {}));
  const pulls: FakePullRequest[] = [];
  const issuedTokens: string[] = [];
  const contentsLimit = opts.contentsLimit ?? 1024 * 1024;
  let web = '';
  let api = '';
  let maxPerPage = opts.maxPerPage ?? 100;
  let nextId = 5000;
  let used = 0;
  const webhooks = createWebhookSender();
  let hookSecret: string | null = null;
  const actions = await createGithubActions({
    web: () => web,
    api: () => api,
    sender: webhooks,
    secret: () => hookSecret,
    pull: (repo, number) => pulls.find((p) => p.repo === repo && p.number === number),
    maxPerPage: () => maxPerPage,
  });

  const checkJwt = (jwt: string, app: FakeGithubApp) => {
    const [h, p, s] = jwt.split('.');
    if (!h || !p || !s) return fail(401, 'A JSON web token could not be decoded');
    let header: { alg?: string };
    let payload: { iss?: unknown; iat?: number; exp?: number };
    try {
      header = JSON.parse(b64url(h).toString('utf8'));
      payload = JSON.parse(b64url(p).toString('utf8'));
    } catch {
      return fail(401, 'A JSON web token could not be decoded');
    }
    const key = typeof app.publicKey === 'string' ? createPublicKey(app.publicKey) : app.publicKey;
    if (header.alg !== 'RS256' || !verify('RSA-SHA256', Buffer.from(`${h}.${p}`), key, b64url(s))) {
      return fail(401, 'A JSON web token could not be decoded');
    }
    const now = Math.floor(Date.now() / 1000);
    if (String(payload.iss) !== String(app.appId))
      return fail(401, "'Issuer' claim ('iss') must be an Integer");
    if (typeof payload.exp !== 'number' || payload.exp < now) {
      return fail(
        401,
        "'Expiration time' claim ('exp') must be a numeric value representing the future time",
      );
    }
    if (typeof payload.iat !== 'number' || payload.iat > now + 60 || payload.exp - payload.iat > 660) {
      return fail(
        401,
        "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued",
      );
    }
  };

  const authenticate = (req: FakeRequest): [string, FakeGithubToken] => {
    const m = /^(token|bearer) (.+)$/i.exec(req.headers.authorization ?? '');
    const t = m?.[2] ? tokens.get(m[2]) : undefined;
    if (!m?.[2] || !t) return fail(401, 'Bad credentials');
    return [t.login ?? 'opsbot', t];
  };

  const prJson = (p: FakePullRequest, headSha: string | null, baseSha: string | null) => {
    const [owner] = p.repo.split('/');
    return {
      id: p.number + 100000,
      number: p.number,
      state: p.state,
      title: p.title,
      body: p.body,
      html_url: `${web}/${p.repo}/pull/${p.number}`,
      url: `${api}/repos/${p.repo}/pulls/${p.number}`,
      head: {
        ref: p.head,
        sha: headSha,
        label: `${(p.headRepo ?? p.repo).split('/')[0]}:${p.head}`,
        repo: {
          full_name: p.headRepo ?? p.repo,
          clone_url: `${web}/${p.headRepo ?? p.repo}.git`,
          fork: p.headRepo !== undefined && p.headRepo !== p.repo,
        },
      },
      base: {
        ref: p.base,
        sha: baseSha,
        label: `${owner}:${p.base}`,
        repo: { full_name: p.repo, clone_url: `${web}/${p.repo}.git`, fork: false },
      },
      maintainer_can_modify: p.maintainerCanModify ?? false,
      merged_at: p.merged ? (p.closedAt ?? null) : null,
      merged: p.merged === true,
      merged_by: p.merged && p.mergedBy ? { login: p.mergedBy } : null,
      closed_at: p.closedAt ?? null,
      updated_at: p.updatedAt ?? new Date(0).toISOString(),
      created_at: new Date(0).toISOString(),
      draft: false,
      labels: p.labels.map((name, i) => ({ id: i + 1, name })),
      user: { login: p.user },
    };
  };

  const headShaOf = async (p: FakePullRequest) =>
    (await opts.repos[p.headRepo ?? p.repo]?.revParse(`refs/heads/${p.head}`)) ?? null;

  const commitJson = async (name: string, repo: GitRepo, sha: string) => {
    const info = await repo.commitInfo(sha);
    if (!info) return fail(404, 'Not Found');
    return {
      sha,
      url: `${api}/repos/${name}/git/commits/${sha}`,
      html_url: `${web}/${name}/commit/${sha}`,
      message: info.message.replace(/\n$/, ''),
      tree: { sha: info.tree, url: `${api}/repos/${name}/git/trees/${info.tree}` },
      parents: info.parents.map((p) => ({ sha: p, url: `${api}/repos/${name}/git/commits/${p}` })),
    };
  };

  const handle = async (req: FakeRequest): Promise<FakeResponse> => {
    const s = req.segments;
    // GitHub App: exchange a JWT for an installation token.
    if (req.method === 'POST' && s[0] === 'app' && s[1] === 'installations' && s[3] === 'access_tokens') {
      const app = (opts.apps ?? []).find((a) => String(a.installationId) === s[2]);
      const jwt = /^bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
      if (!jwt) return fail(401, 'A JSON web token could not be decoded');
      if (!app) return fail(404, 'Not Found');
      checkJwt(jwt, app);
      const token = `ghs_${randomBytes(18).toString('hex')}`;
      tokens.set(token, { access: app.access ?? 'write', login: 'opsbot[bot]' });
      issuedTokens.push(token);
      return {
        status: 201,
        json: {
          token,
          expires_at: new Date(Date.now() + 3600_000).toISOString(),
          permissions: { contents: 'write', pull_requests: 'write', issues: 'write' },
          repository_selection: 'all',
        },
      };
    }

    const [login, token] = authenticate(req);
    if (s[0] !== 'repos' || !s[1] || !s[2]) return fail(404, 'Not Found');
    const name = `${s[1]}/${s[2]}`;
    const repo = opts.repos[name];
    if (!repo || (token.repos && !token.repos.includes(name))) return fail(404, 'Not Found');
    const write = req.method !== 'GET' && req.method !== 'HEAD';
    if (write && token.access !== 'write') {
      return fail(
        403,
        login.endsWith('[bot]')
          ? 'Resource not accessible by integration'
          : 'Resource not accessible by personal access token',
      );
    }
    const rest = s.slice(3);
    const ciAnswer = await actions.route(req, name, rest);
    if (ciAnswer) return ciAnswer;
    const r0 = rest[0];
    const r1 = rest[1];

    if (req.method === 'GET' && rest.length === 0) {
      return {
        status: 200,
        json: { id: 1, name: s[2], full_name: name, default_branch: repo.defaultBranch, private: true },
      };
    }

    if (req.method === 'GET' && r0 === 'branches' && rest.length >= 2) {
      const branch = rest.slice(1).join('/');
      const sha = await repo.revParse(`refs/heads/${branch}`);
      if (!sha) return fail(404, 'Branch not found');
      return {
        status: 200,
        json: {
          name: branch,
          commit: { sha, url: `${api}/repos/${name}/commits/${sha}` },
          protected: branch === repo.defaultBranch || protectedBranches.has(`${name}:${branch}`),
          _links: { html: `${web}/${name}/tree/${branch}` },
        },
      };
    }

    if (r0 === 'git') {
      if (req.method === 'GET' && r1 === 'ref') {
        const ref = rest.slice(2).join('/');
        const sha =
          ref.startsWith('heads/') || ref.startsWith('tags/') ? await repo.revParse(`refs/${ref}`) : null;
        if (!sha) return fail(404, 'Not Found');
        return {
          status: 200,
          json: {
            ref: `refs/${ref}`,
            url: `${api}/repos/${name}/git/refs/${ref}`,
            object: { sha, type: 'commit' },
          },
        };
      }
      if (req.method === 'POST' && r1 === 'refs' && rest.length === 2) {
        const body = req.json() as { ref?: string; sha?: string };
        if (!body.ref || !/^refs\/[^/]+\/.+/.test(body.ref))
          return fail(422, 'Reference name must start with refs/ and have at least two slashes.');
        if (!body.sha || !(await repo.revParse(`${body.sha}^{commit}`)))
          return fail(422, 'Object does not exist');
        if (!(await repo.updateRef(body.ref, body.sha, null))) return fail(422, 'Reference already exists');
        return {
          status: 201,
          json: {
            ref: body.ref,
            url: `${api}/repos/${name}/git/${body.ref}`,
            object: { sha: body.sha, type: 'commit' },
          },
        };
      }
      if (req.method === 'GET' && r1 === 'commits' && rest[2]) {
        const sha = await repo.revParse(`${rest[2]}^{commit}`);
        if (!sha) return fail(404, 'Not Found');
        return { status: 200, json: await commitJson(name, repo, sha) };
      }
      if (req.method === 'POST' && r1 === 'commits' && rest.length === 2) {
        const body = req.json() as { message?: string; tree?: string; parents?: string[] };
        if (!body.message || !body.tree) return fail(422, 'Invalid request.');
        if ((await repo.readObject(body.tree))?.type !== 'tree') {
          return fail(422, 'Tree SHA does not exist');
        }
        for (const p of body.parents ?? []) {
          if (!(await repo.revParse(`${p}^{commit}`)))
            return fail(422, 'Parent SHA does not exist or is not a commit object');
        }
        const sha = await repo.commitTree(body.tree, body.parents ?? [], body.message, {
          name: login,
          email: `${login.replace(/\W/g, '')}@users.noreply.example.test`,
        });
        return { status: 201, json: await commitJson(name, repo, sha) };
      }
      if (req.method === 'POST' && r1 === 'blobs' && rest.length === 2) {
        const body = req.json() as { content?: string; encoding?: string };
        if (typeof body.content !== 'string') return fail(422, 'Invalid request.');
        const buf = Buffer.from(body.content, body.encoding === 'base64' ? 'base64' : 'utf8');
        const sha = await repo.writeBlob(buf);
        return { status: 201, json: { sha, url: `${api}/repos/${name}/git/blobs/${sha}` } };
      }
      if (req.method === 'GET' && r1 === 'blobs' && rest[2]) {
        const object = await repo.readObject(rest[2]);
        if (object?.type !== 'blob') return fail(404, 'Not Found');
        const raw = Buffer.from(object.content.toString('utf8'), 'utf8');
        return {
          status: 200,
          json: {
            sha: rest[2],
            size: raw.length,
            encoding: 'base64',
            content: wrap64(raw.toString('base64')),
          },
        };
      }
      if (req.method === 'POST' && r1 === 'trees' && rest.length === 2) {
        const body = req.json() as {
          base_tree?: string;
          tree?: Array<{ path: string; mode: string; type: string; sha?: string | null; content?: string }>;
        };
        if (!Array.isArray(body.tree)) return fail(422, 'Invalid tree info');
        if (body.base_tree && !(await repo.revParse(`${body.base_tree}^{tree}`))) {
          return fail(422, 'Invalid tree info');
        }
        const edits: TreeEdit[] = [];
        for (const e of body.tree) {
          if (e.sha === null) {
            if (!body.base_tree || !(await repo.blobSha(body.base_tree, e.path))) {
              return fail(422, 'GitRPC::BadObjectState');
            }
            edits.push({ path: e.path, sha: null });
          } else if (typeof e.content === 'string') {
            edits.push({ path: e.path, sha: await repo.writeBlob(e.content), mode: e.mode });
          } else if (e.sha) {
            edits.push({ path: e.path, sha: e.sha, mode: e.mode });
          } else return fail(422, 'Must supply either tree.sha or tree.content');
        }
        const sha = await repo.buildTree(body.base_tree ?? null, edits);
        const entries = await repo.listDir(sha, '');
        return {
          status: 201,
          json: {
            sha,
            url: `${api}/repos/${name}/git/trees/${sha}`,
            tree: entries.map((e) => ({ path: e.path, type: e.type, sha: e.sha })),
            truncated: false,
          },
        };
      }
    }

    if (req.method === 'GET' && r0 === 'contents') {
      const path = rest.slice(1).join('/');
      const ref = req.query.get('ref') ?? repo.defaultBranch;
      const commit = (await repo.revParse(`refs/heads/${ref}`)) ?? (await repo.revParse(`${ref}^{commit}`));
      if (!commit) return fail(404, `No commit found for the ref ${ref}`);
      const object = await repo.readObject(`${commit}:${path}`);
      if (object?.type !== 'blob') {
        if (object?.type === 'tree') {
          const entries = await repo.listDir(commit, path);
          return {
            status: 200,
            json: entries.map((e) => ({
              type: e.type === 'tree' ? 'dir' : 'file',
              path: e.path,
              sha: e.sha,
            })),
          };
        }
        return fail(404, 'Not Found');
      }
      const blob = object.sha;
      const raw = Buffer.from(object.content.toString('utf8'), 'utf8');
      const big = raw.length > contentsLimit;
      return {
        status: 200,
        json: {
          type: 'file',
          name: path.split('/').pop(),
          path,
          sha: blob,
          size: raw.length,
          encoding: big ? 'none' : 'base64',
          content: big ? '' : wrap64(raw.toString('base64')),
          html_url: `${web}/${name}/blob/${ref}/${path}`,
        },
      };
    }

    if (r0 === 'pulls') {
      const mine = pulls.filter((p) => p.repo === name);
      if (req.method === 'GET' && rest.length === 1) {
        const state = req.query.get('state') ?? 'open';
        const head = req.query.get('head');
        const base = req.query.get('base');
        const [owner] = name.split('/');
        const filtered = mine.filter(
          (p) =>
            (state === 'all' || p.state === state) &&
            (!head || head === `${owner}:${p.head}`) &&
            (!base || base === p.base),
        );
        const pg = paginate(filtered, req.query, 30, maxPerPage);
        const items = [];
        for (const p of pg.items) {
          items.push(prJson(p, await headShaOf(p), await repo.revParse(`refs/heads/${p.base}`)));
        }
        const headers: Record<string, string> = {};
        if (pg.totalPages > 1) {
          const link = pageLinks(`${api}/repos/${name}/pulls`, req.query, pg.page, pg.totalPages);
          if (link) headers.link = link;
        }
        return { status: 200, headers, json: items };
      }
      if (req.method === 'POST' && rest.length === 1) {
        const body = req.json() as { title?: string; head?: string; base?: string; body?: string };
        const invalid = (field: string) =>
          fail(422, 'Validation Failed', { errors: [{ resource: 'PullRequest', field, code: 'invalid' }] });
        if (!body.title) return invalid('title');
        const headBranch = (body.head ?? '').includes(':')
          ? ((body.head ?? '').split(':')[1] ?? '')
          : (body.head ?? '');
        const headSha = headBranch ? await repo.revParse(`refs/heads/${headBranch}`) : null;
        if (!headSha) return invalid('head');
        const baseSha = body.base ? await repo.revParse(`refs/heads/${body.base}`) : null;
        if (!baseSha || !body.base) return invalid('base');
        const [owner] = name.split('/');
        if (mine.some((p) => p.state === 'open' && p.head === headBranch && p.base === body.base)) {
          return fail(422, 'Validation Failed', {
            errors: [
              {
                resource: 'PullRequest',
                code: 'custom',
                message: `A pull request already exists for ${owner}:${headBranch}.`,
              },
            ],
          });
        }
        if (headSha === baseSha) {
          return fail(422, 'Validation Failed', {
            errors: [
              {
                resource: 'PullRequest',
                code: 'custom',
                message: `No commits between ${body.base} and ${headBranch}`,
              },
            ],
          });
        }
        const pr: FakePullRequest = {
          number: pulls.length + 1,
          repo: name,
          title: body.title,
          body: body.body ?? '',
          state: 'open',
          head: headBranch,
          base: body.base,
          labels: [],
          comments: [],
          user: login,
        };
        pulls.push(pr);
        return { status: 201, json: prJson(pr, headSha, baseSha) };
      }
      const pr = mine.find((p) => String(p.number) === r1);
      if (req.method === 'GET' && pr && rest.length === 2) {
        return {
          status: 200,
          json: prJson(pr, await headShaOf(pr), await repo.revParse(`refs/heads/${pr.base}`)),
        };
      }
    }

    if (r0 === 'issues' && r1) {
      const pr = pulls.find((p) => p.repo === name && String(p.number) === r1);
      if (!pr) return fail(404, 'Not Found');
      if (req.method === 'POST' && rest[2] === 'labels' && rest.length === 3) {
        const body = req.json() as { labels?: unknown };
        if (!Array.isArray(body.labels)) return fail(422, 'Invalid request.');
        for (const l of body.labels) if (typeof l === 'string' && !pr.labels.includes(l)) pr.labels.push(l);
        return { status: 200, json: pr.labels.map((n, i) => ({ id: i + 1, name: n, color: 'ededed' })) };
      }
      if (rest[2] === 'comments' && rest.length === 3) {
        if (req.method === 'POST') {
          const body = req.json() as { body?: unknown };
          if (typeof body.body !== 'string' || body.body === '') return fail(422, 'Invalid request.');
          const c = { id: nextId++, body: body.body, user: login };
          pr.comments.push(c);
          return {
            status: 201,
            json: {
              id: c.id,
              body: c.body,
              user: { login },
              html_url: `${web}/${name}/pull/${pr.number}#issuecomment-${c.id}`,
            },
          };
        }
        if (req.method === 'GET') {
          // GitHub: 30 a page by default, per_page up to 100, oldest first, a Link header when there are more.
          const pg = paginate(pr.comments, req.query, 30, maxPerPage);
          const headers: Record<string, string> = {};
          if (pg.totalPages > 1) {
            const link = pageLinks(
              `${api}/repos/${name}/issues/${pr.number}/comments`,
              req.query,
              pg.page,
              pg.totalPages,
            );
            if (link) headers.link = link;
          }
          return {
            status: 200,
            headers,
            json: pg.items.map((c) => ({ id: c.id, body: c.body, user: { login: c.user } })),
          };
        }
      }
    }
    return fail(404, 'Not Found');
  };

  // Git over smart HTTP (https://<host>/<owner>/<repo>.git), basic auth with any token the API accepts.
  const gitRoute = {
    beforePush,
    repos: opts.repos,
    seenPasswords: gitPasswords,
    access: (password: string, name: string) => {
      const t = tokens.get(password);
      if (!t || (t.repos && !t.repos.includes(name))) return null;
      return { write: t.access === 'write' };
    },
  };
  const server: FakeHttpServer = await startFakeHttpServer(
    prefix,
    handle,
    () => {
      used += 1;
      return {
        'x-ratelimit-limit': '5000',
        'x-ratelimit-remaining': String(Math.max(5000 - used, 0)),
        'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 3600),
        'x-ratelimit-used': String(used),
        'x-ratelimit-resource': 'core',
        'x-github-request-id': randomBytes(6).toString('hex').toUpperCase(),
      };
    },
    (req, res) => serveGitHttp(req, res, gitRoute),
  );
  web = server.url;
  api = `${server.url}${prefix}`;
  return {
    baseUrl: api,
    requests: server.requests,
    pulls,
    issuedTokens,
    inject: (matcher, fault, times) => server.inject(matcher, fault, times),
    setMaxPerPage: (n) => {
      maxPerPage = n;
    },
    requestsTo: (method, path) =>
      server.requests.filter((r) => r.method === method && path.test(r.path.slice(prefix.length))),
    actions,
    webhooks,
    setWebhook(hook) {
      hookSecret = hook?.secret ?? null;
      webhooks.configure(
        hook ? { url: hook.url, retries: 0, retryDelayMs: 0, timeoutMs: hook.timeoutMs ?? 10_000 } : null,
      );
    },
    addPull(repo, p) {
      const pr: FakePullRequest = {
        number: pulls.length + 1,
        repo,
        title: p.title ?? `Update ${p.head}`,
        body: '',
        state: 'open',
        head: p.head,
        base: p.base ?? 'main',
        labels: [],
        comments: [],
        user: p.user ?? 'carol',
        updatedAt: new Date().toISOString(),
        ...(p.headRepo !== undefined ? { headRepo: p.headRepo } : {}),
        ...(p.maintainerCanModify !== undefined ? { maintainerCanModify: p.maintainerCanModify } : {}),
      };
      pulls.push(pr);
      return pr;
    },
    protectBranch(repo, branch) {
      protectedBranches.add(`${repo}:${branch}`);
    },
    gitPasswords,
    beforeNextPush(fn) {
      beforePush.push(fn);
    },
    async setPullState(repo, number, state, user) {
      const pr = pulls.find((p) => p.repo === repo && p.number === number);
      if (!pr) throw new Error(`fake github: no pull request ${repo}#${number}`);
      const at = new Date().toISOString();
      pr.state = 'closed';
      pr.merged = state === 'merged';
      pr.mergedBy = state === 'merged' ? user : null;
      pr.closedAt = at;
      pr.updatedAt = at;
      const git = opts.repos[repo];
      const json = prJson(pr, await headShaOf(pr), (await git?.revParse(`refs/heads/${pr.base}`)) ?? null);
      actions.pullRequestHook('closed', json, repo, user);
      return pr;
    },
    async close() {
      webhooks.configure(null);
      await Promise.all([server.close(), actions.close()]);
    },
  };
};

/** GitHub wraps base64 content at 60 characters per line. */
const wrap64 = (b64: string) => b64.replace(/(.{60})/g, '$1\n');
