import { randomUUID } from 'node:crypto';
import type {
  FakeHttpServer,
  FakeRequest,
  FakeResponse,
  Fault,
  Hold,
  RecordedRequest,
} from './forge-http.js';
import { HttpFail, pageLinks, paginate, startFakeHttpServer } from './forge-http.js';
import { serveGitHttp } from './git-http.js';
import type { GitRepo, TreeEdit } from './git-repo.js';
import { createGitlabCi, type GitlabCi } from './gitlab-ci.js';
import { createWebhookSender, type WebhookSender } from './webhook-sender.js';

/** GitLab's pagination headers (x-total, x-page, x-next-page empty on the last page, ...) and its Link header. */
const pageHeaders = (
  p: ReturnType<typeof paginate>,
  url: string,
  query: URLSearchParams,
): Record<string, string> => {
  const headers: Record<string, string> = {
    'x-total': String(p.total),
    'x-total-pages': String(p.totalPages),
    'x-page': String(p.page),
    'x-per-page': String(p.perPage),
    'x-next-page': p.page < p.totalPages ? String(p.page + 1) : '',
    'x-prev-page': p.page > 1 ? String(p.page - 1) : '',
  };
  const link = pageLinks(url, query, p.page, p.totalPages);
  if (link) headers.link = link;
  return headers;
};

/**
 * A GitLab REST v4 fake that @gitbeaker/rest talks to over loopback. Paths are the ones gitbeaker sends
 * (project ids and file paths URL-encoded as one segment). Repository state lives in real bare git repos;
 * merge requests and notes live in memory. Error bodies have GitLab's shapes (`{"message": "404 ..."}`).
 */

export interface FakeGitlabToken {
  readonly access: 'read' | 'write';
  /** Projects this token can see; all when omitted. */
  readonly projects?: readonly string[];
  readonly username?: string;
}

export interface FakeMergeRequest {
  id: number;
  iid: number;
  project: string;
  title: string;
  description: string;
  state: 'opened' | 'closed' | 'merged';
  source_branch: string;
  target_branch: string;
  labels: string[];
  remove_source_branch: boolean;
  sha: string | null;
  author: string;
  notes: Array<{ id: number; body: string; author: string }>;
  mergedBy?: string | null;
  closedBy?: string | null;
  updatedAt?: string;
  /** The fork holding source_branch (a project of the fake); the MR's own project when absent. */
  sourceProject?: string;
  /** "Allow commits from members who can merge to the target branch" of a fork MR. */
  allowCollaboration?: boolean;
}

export interface FakeGitlab {
  /** The `host` to give gitbeaker (no /api/v4). */
  readonly host: string;
  readonly requests: RecordedRequest[];
  readonly mergeRequests: FakeMergeRequest[];
  inject(matcher: { method?: string; path: RegExp }, fault: Fault, times?: number): void;
  /** Holds the next matching request before or after handling it (see FakeHttpServer.hold). */
  hold(matcher: { method?: string; path: RegExp }, when: 'before' | 'after'): Hold;
  /** Lowers the page size cap on lists, to exercise pagination. */
  setMaxPerPage(n: number): void;
  /** Requests whose path (after /api/v4) matches. */
  requestsTo(method: string, path: RegExp): RecordedRequest[];
  /** Pipelines, jobs, traces, and the hooks they send. */
  readonly ci: GitlabCi;
  /** Webhook deliveries (Pipeline / Job / Merge Request Hook) sent to the configured URL. */
  readonly webhooks: WebhookSender;
  /** The project webhook: URL, secret token (X-Gitlab-Token) and GitLab's retries of failed deliveries. */
  setWebhook(
    hook: {
      url: string;
      token: string | null;
      retries?: number;
      retryDelayMs?: number;
      timeoutMs?: number;
    } | null,
  ): void;
  /** An MR someone opened by hand (not through opsbot), from an existing branch. */
  addMergeRequest(
    project: string,
    mr: {
      sourceBranch: string;
      targetBranch?: string;
      title?: string;
      author?: string;
      /** A fork (another project of the fake) holding the source branch. */
      sourceProject?: string;
      allowCollaboration?: boolean;
    },
  ): Promise<FakeMergeRequest>;
  /** Marks a branch protected (the default branch always is). */
  protectBranch(project: string, branch: string): void;
  /** Basic-auth passwords git clients sent to the smart HTTP endpoints. */
  readonly gitPasswords: string[];
  /** Runs `fn` when the next git push arrives, before it is received (someone else's push racing it). */
  beforeNextPush(fn: () => Promise<void>): void;
  /**
   * Runs `fn` when the next git push starts, before the client reads the branch's head for it (someone else's
   * push landing between a pusher's fetch and its push: a `--force` push would overwrite it).
   */
  beforeNextPushStarts(fn: () => Promise<void>): void;
  /** Merges (or closes) an MR as `user` would in the UI, sending the Merge Request Hook. */
  setMergeRequestState(
    project: string,
    iid: number,
    state: 'merged' | 'closed',
    user: string,
  ): FakeMergeRequest;
  /** A new commit on the MR's branch (the MR's head moves; Merge Request Hook action "update"). */
  pushToMergeRequest(project: string, iid: number, sha: string): FakeMergeRequest;
  close(): Promise<void>;
}

const API = '/api/v4';

const fail = (status: number, message: unknown): never => {
  throw new HttpFail(status, { message });
};

const commitJson = async (host: string, project: string, repo: GitRepo, sha: string) => {
  const info = await repo.commitInfo(sha);
  if (!info) return fail(404, '404 Commit Not Found');
  const message = info.message;
  return {
    id: sha,
    short_id: sha.slice(0, 8),
    title: message.split('\n')[0] ?? '',
    message,
    parent_ids: info.parents,
    author_name: 'opsbot',
    web_url: `${host}/${project}/-/commit/${sha}`,
  };
};

export const startFakeGitlab = async (opts: {
  projects: Readonly<Record<string, GitRepo>>;
  tokens: Readonly<Record<string, FakeGitlabToken>>;
  /** Page size cap on lists (GitLab: 100); lower it to exercise pagination. */
  maxPerPage?: number;
}): Promise<FakeGitlab> => {
  const mergeRequests: FakeMergeRequest[] = [];
  let maxPerPage = opts.maxPerPage ?? 100;
  const webhooks = createWebhookSender();
  let hookToken: string | null = null;
  const projectIds = new Map<string, number>(Object.keys(opts.projects).map((p, i) => [p, 11 + i]));
  const ci = createGitlabCi({
    host: () => host,
    sender: webhooks,
    token: () => hookToken,
    webhookUuid: randomUUID(),
    projectId: (p) => projectIds.get(p) ?? 1,
    mergeRequest: (p, iid) => mergeRequests.find((m) => m.project === p && m.iid === iid),
    maxPerPage: () => maxPerPage,
  });
  let nextId = 1000;
  let host = '';
  const protectedBranches = new Set<string>();
  const gitPasswords: string[] = [];
  const beforePush: Array<() => Promise<void>> = [];
  const beforePushStarts: Array<() => Promise<void>> = [];
  const projectById = (id: string): string =>
    /^\d+$/.test(id) ? ([...projectIds.entries()].find(([, n]) => String(n) === id)?.[0] ?? id) : id;

  const authenticate = (req: FakeRequest): [string, FakeGitlabToken] => {
    const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const token = req.headers['private-token'] ?? bearer;
    const t = token === undefined ? undefined : opts.tokens[token];
    if (!token || !t) return fail(401, '401 Unauthorized');
    return [t.username ?? 'opsbot', t];
  };

  const project = (id: string, t: FakeGitlabToken) => {
    const repo = opts.projects[id];
    if (!repo || (t.projects && !t.projects.includes(id))) return fail(404, '404 Project Not Found');
    return repo;
  };

  const mrJson = (mr: FakeMergeRequest) => ({
    id: mr.id,
    iid: mr.iid,
    project_id: projectIds.get(mr.project) ?? 1,
    source_project_id: projectIds.get(mr.sourceProject ?? mr.project) ?? 1,
    target_project_id: projectIds.get(mr.project) ?? 1,
    allow_collaboration: mr.allowCollaboration ?? false,
    allow_maintainer_to_push: mr.allowCollaboration ?? false,
    title: mr.title,
    description: mr.description,
    state: mr.state,
    source_branch: mr.source_branch,
    target_branch: mr.target_branch,
    labels: mr.labels,
    force_remove_source_branch: mr.remove_source_branch,
    sha: mr.sha,
    author: { username: mr.author },
    web_url: `${host}/${mr.project}/-/merge_requests/${mr.iid}`,
    merged_by: mr.mergedBy ? { username: mr.mergedBy } : null,
    merge_user: mr.mergedBy ? { username: mr.mergedBy } : null,
    closed_by: mr.closedBy ? { username: mr.closedBy } : null,
    updated_at: mr.updatedAt ?? new Date(0).toISOString(),
    merged_at: mr.state === 'merged' ? (mr.updatedAt ?? null) : null,
    closed_at: mr.state === 'closed' ? (mr.updatedAt ?? null) : null,
  });

  const handle = async (req: FakeRequest): Promise<FakeResponse> => {
    const [user, token] = authenticate(req);
    const s = req.segments;
    if (s[0] !== 'projects' || s[1] === undefined) return fail(404, '404 Not Found');
    const projectId = projectById(s[1]);
    const repo = project(projectId, token);
    const write = req.method !== 'GET' && req.method !== 'HEAD';
    if (write && token.access !== 'write') return fail(403, '403 Forbidden');
    const rest = s.slice(2);
    const ciAnswer = await ci.route(req, projectId, rest);
    if (ciAnswer) return ciAnswer;

    if (req.method === 'GET' && rest.length === 0) {
      return {
        status: 200,
        json: {
          id: projectIds.get(projectId) ?? 1,
          path_with_namespace: projectId,
          default_branch: repo.defaultBranch,
          web_url: `${host}/${projectId}`,
          http_url_to_repo: `${host}/${projectId}.git`,
          forked_from_project: null,
        },
      };
    }

    // GET repository/branches/:branch
    if (req.method === 'GET' && rest[0] === 'repository' && rest[1] === 'branches' && rest.length === 3) {
      const name = rest[2] ?? '';
      const sha = await repo.revParse(`refs/heads/${name}`);
      if (!sha) return fail(404, '404 Branch Not Found');
      return {
        status: 200,
        json: {
          name,
          commit: await commitJson(host, projectId, repo, sha),
          merged: false,
          protected: name === repo.defaultBranch || protectedBranches.has(`${projectId}:${name}`),
          default: name === repo.defaultBranch,
          web_url: `${host}/${projectId}/-/tree/${name}`,
        },
      };
    }

    // GET repository/files/:path[/raw]?ref=
    if (req.method === 'GET' && rest[0] === 'repository' && rest[1] === 'files' && rest[2] !== undefined) {
      const filePath = rest[2];
      const ref = req.query.get('ref');
      if (!ref) return fail(400, 'ref is missing');
      const commit = await repo.revParse(`${ref}^{commit}`);
      if (!commit) return fail(404, '404 Commit Not Found');
      const file = await repo.readObject(`${commit}:${filePath}`);
      if (file?.type !== 'blob') return fail(404, '404 File Not Found');
      const blob = file.sha;
      const content = file.content.toString('utf8');
      if (rest[3] === 'raw') return { status: 200, text: content };
      return {
        status: 200,
        json: {
          file_name: filePath.split('/').pop(),
          file_path: filePath,
          size: Buffer.byteLength(content),
          encoding: 'base64',
          content: Buffer.from(content, 'utf8').toString('base64'),
          ref,
          blob_id: blob,
          commit_id: commit,
          last_commit_id: await repo.lastCommitFor(commit, filePath),
        },
      };
    }

    if (req.method === 'GET' && rest[0] === 'repository' && rest[1] === 'commits' && rest.length === 3) {
      const sha = await repo.revParse(`${rest[2] ?? ''}^{commit}`);
      if (!sha) return fail(404, '404 Commit Not Found');
      return { status: 200, json: await commitJson(host, projectId, repo, sha) };
    }

    // POST repository/commits: one commit with several actions, optionally creating the branch.
    if (req.method === 'POST' && rest.join('/') === 'repository/commits') {
      const body = req.json() as {
        branch?: string;
        commit_message?: string;
        start_branch?: string;
        start_sha?: string;
        force?: boolean;
        actions?: Array<{
          action: string;
          file_path: string;
          content?: string;
          encoding?: string;
          previous_path?: string;
        }>;
      };
      if (!body.branch) return fail(400, 'branch is missing');
      if (!body.commit_message) return fail(400, 'commit_message is missing');
      if (!Array.isArray(body.actions) || body.actions.length === 0) return fail(400, 'actions is missing');
      const branchRef = `refs/heads/${body.branch}`;
      const existing = await repo.revParse(branchRef);
      const starting = body.start_sha !== undefined || body.start_branch !== undefined;
      if (existing && starting && !body.force) {
        return fail(
          400,
          `A branch called '${body.branch}' already exists. Switch to that branch in order to make changes`,
        );
      }
      let base: string | null;
      if (body.start_sha !== undefined) {
        base = await repo.revParse(`${body.start_sha}^{commit}`);
        if (!base) return fail(400, 'Invalid start_sha');
      } else if (body.start_branch !== undefined) {
        base = await repo.revParse(`refs/heads/${body.start_branch}`);
        if (!base) return fail(400, `Failed to create commit: start_branch ${body.start_branch} not found`);
      } else {
        base = existing;
        if (!base) return fail(400, 'You can only create or edit files when you are on a branch');
      }
      const edits: TreeEdit[] = [];
      for (const a of body.actions) {
        const present = (await repo.blobSha(base, a.file_path)) !== null;
        const content =
          a.encoding === 'base64'
            ? Buffer.from(a.content ?? '', 'base64')
            : Buffer.from(a.content ?? '', 'utf8');
        if (a.action === 'create') {
          if (present) return fail(400, 'A file with this name already exists');
          edits.push({ path: a.file_path, sha: await repo.writeBlob(content) });
        } else if (a.action === 'update') {
          if (!present) return fail(400, "A file with this name doesn't exist");
          edits.push({ path: a.file_path, sha: await repo.writeBlob(content) });
        } else if (a.action === 'delete') {
          if (!present) return fail(400, "A file with this name doesn't exist");
          edits.push({ path: a.file_path, sha: null });
        } else {
          return fail(400, `actions[].action does not have a valid value`);
        }
      }
      const tree = await repo.buildTree(base, edits);
      const sha = await repo.commitTree(tree, [base], body.commit_message, {
        name: user,
        email: `${user}@example.test`,
      });
      if (!(await repo.updateRef(branchRef, sha, existing))) {
        return fail(400, 'Could not update branch: it was changed concurrently');
      }
      return { status: 201, json: await commitJson(host, projectId, repo, sha) };
    }

    // merge requests
    if (rest[0] === 'merge_requests') {
      const ofProject = mergeRequests.filter((m) => m.project === projectId);
      if (req.method === 'GET' && rest.length === 1) {
        const stateQ = req.query.get('state');
        const filtered = ofProject.filter(
          (m) =>
            (!req.query.get('source_branch') || m.source_branch === req.query.get('source_branch')) &&
            (!req.query.get('target_branch') || m.target_branch === req.query.get('target_branch')) &&
            (!stateQ || stateQ === 'all' || m.state === stateQ),
        );
        const p = paginate(filtered, req.query, 20, maxPerPage);
        const headers = pageHeaders(p, `${host}${API}${req.path}`, req.query);
        return { status: 200, headers, json: p.items.map(mrJson) };
      }
      if (req.method === 'POST' && rest.length === 1) {
        const body = req.json() as {
          source_branch?: string;
          target_branch?: string;
          title?: string;
          description?: string;
          labels?: string | string[];
          remove_source_branch?: boolean;
        };
        if (!body.source_branch || !body.target_branch || !body.title) {
          return fail(400, 'source_branch, target_branch, title are missing');
        }
        const head = await repo.revParse(`refs/heads/${body.source_branch}`);
        if (!head) return fail(422, ['Source branch does not exist']);
        if (!(await repo.revParse(`refs/heads/${body.target_branch}`))) {
          return fail(422, ['Target branch does not exist']);
        }
        const dup = ofProject.find(
          (m) =>
            m.state === 'opened' &&
            m.source_branch === body.source_branch &&
            m.target_branch === body.target_branch,
        );
        if (dup) {
          return fail(409, [`Another open merge request already exists for this source branch: !${dup.iid}`]);
        }
        const labels = Array.isArray(body.labels)
          ? body.labels
          : (body.labels ?? '')
              .split(',')
              .map((l) => l.trim())
              .filter((l) => l !== '');
        const mr: FakeMergeRequest = {
          id: nextId++,
          iid: ofProject.length + 1,
          project: projectId,
          title: body.title,
          description: body.description ?? '',
          state: 'opened',
          source_branch: body.source_branch,
          target_branch: body.target_branch,
          labels,
          remove_source_branch: body.remove_source_branch ?? false,
          sha: head,
          author: user,
          notes: [],
          updatedAt: new Date().toISOString(),
        };
        mergeRequests.push(mr);
        ci.mergeRequestHook(mr, 'open', user);
        return { status: 201, json: mrJson(mr) };
      }
      const mr = ofProject.find((m) => String(m.iid) === rest[1]);
      if (!mr) return fail(404, '404 Not found');
      if (req.method === 'GET' && rest.length === 2) return { status: 200, json: mrJson(mr) };
      if (rest[2] === 'notes' && rest.length === 3) {
        if (req.method === 'POST') {
          const body = req.json() as { body?: string };
          if (!body.body) return fail(400, 'body is missing');
          const note = { id: nextId++, body: body.body, author: user };
          mr.notes.push(note);
          return {
            status: 201,
            json: { id: note.id, body: note.body, author: { username: user }, noteable_iid: mr.iid },
          };
        }
        if (req.method === 'GET') {
          // GitLab: 20 a page by default, per_page up to 100, x-next-page empty on the last page; sort=asc
          // oldest first (the default is newest first).
          const ordered = req.query.get('sort') === 'asc' ? mr.notes : [...mr.notes].reverse();
          const p = paginate(ordered, req.query, 20, maxPerPage);
          const headers = pageHeaders(p, `${host}${API}${req.path}`, req.query);
          return {
            status: 200,
            headers,
            json: p.items.map((n) => ({ id: n.id, body: n.body, author: { username: n.author } })),
          };
        }
      }
    }
    return fail(404, '404 Not Found');
  };

  // Git over smart HTTP (<host>/<group>/<project>.git), basic auth `oauth2:<token>` (any user name). A push
  // moves the head of every open MR from that branch (Merge Request Hook "update"), as GitLab does.
  const gitRoute = {
    beforePush,
    beforePushStarts,
    repos: opts.projects,
    seenPasswords: gitPasswords,
    access: (password: string, name: string) => {
      const t = opts.tokens[password];
      if (!t || (t.projects && !t.projects.includes(name))) return null;
      return { write: t.access === 'write' };
    },
    onPush: (name: string, updates: readonly { ref: string; newSha: string | null }[]) => {
      for (const u of updates) {
        if (!u.ref.startsWith('refs/heads/') || u.newSha === null) continue;
        const branch = u.ref.slice('refs/heads/'.length);
        for (const mr of mergeRequests) {
          if (
            mr.state === 'opened' &&
            (mr.sourceProject ?? mr.project) === name &&
            mr.source_branch === branch
          ) {
            const oldrev = mr.sha;
            mr.sha = u.newSha;
            mr.updatedAt = new Date().toISOString();
            ci.mergeRequestHook(mr, 'update', mr.author, { oldrev });
          }
        }
      }
    },
  };
  const server: FakeHttpServer = await startFakeHttpServer(API, handle, undefined, (req, res) =>
    serveGitHttp(req, res, gitRoute),
  );
  host = server.url;
  return {
    host,
    requests: server.requests,
    mergeRequests,
    inject: (matcher, fault, times) => server.inject(matcher, fault, times),
    hold: (matcher, when) => server.hold(matcher, when),
    setMaxPerPage: (n) => {
      maxPerPage = n;
    },
    requestsTo: (method, path) =>
      server.requests.filter((r) => r.method === method && path.test(r.path.slice(API.length))),
    ci,
    webhooks,
    setWebhook(hook) {
      hookToken = hook?.token ?? null;
      webhooks.configure(
        hook
          ? {
              url: hook.url,
              retries: hook.retries ?? 3,
              retryDelayMs: hook.retryDelayMs ?? 200,
              timeoutMs: hook.timeoutMs ?? 10_000,
            }
          : null,
      );
    },
    protectBranch(project, branch) {
      protectedBranches.add(`${project}:${branch}`);
    },
    gitPasswords,
    beforeNextPush(fn) {
      beforePush.push(fn);
    },
    beforeNextPushStarts(fn) {
      beforePushStarts.push(fn);
    },
    async addMergeRequest(project, m) {
      const repo = opts.projects[m.sourceProject ?? project];
      if (!repo) throw new Error(`fake gitlab: no project ${m.sourceProject ?? project}`);
      const ofProject = mergeRequests.filter((x) => x.project === project);
      const mr: FakeMergeRequest = {
        id: nextId++,
        iid: ofProject.length + 1,
        project,
        title: m.title ?? `Update ${m.sourceBranch}`,
        description: '',
        state: 'opened',
        source_branch: m.sourceBranch,
        target_branch: m.targetBranch ?? 'main',
        labels: [],
        remove_source_branch: false,
        sha: await repo.revParse(`refs/heads/${m.sourceBranch}`),
        author: m.author ?? 'carol',
        notes: [],
        updatedAt: new Date().toISOString(),
        ...(m.sourceProject !== undefined ? { sourceProject: m.sourceProject } : {}),
        ...(m.allowCollaboration !== undefined ? { allowCollaboration: m.allowCollaboration } : {}),
      };
      mergeRequests.push(mr);
      ci.mergeRequestHook(mr, 'open', mr.author);
      return mr;
    },
    setMergeRequestState(project, iid, state, user) {
      const mr = mergeRequests.find((m) => m.project === project && m.iid === iid);
      if (!mr) throw new Error(`fake gitlab: no MR ${project}!${iid}`);
      mr.state = state;
      mr.updatedAt = new Date().toISOString();
      if (state === 'merged') mr.mergedBy = user;
      else mr.closedBy = user;
      ci.mergeRequestHook(mr, state === 'merged' ? 'merge' : 'close', user);
      return mr;
    },
    pushToMergeRequest(project, iid, sha) {
      const mr = mergeRequests.find((m) => m.project === project && m.iid === iid);
      if (!mr) throw new Error(`fake gitlab: no MR ${project}!${iid}`);
      const oldrev = mr.sha;
      mr.sha = sha;
      mr.updatedAt = new Date().toISOString();
      ci.mergeRequestHook(mr, 'update', mr.author, { oldrev });
      return mr;
    },
    async close() {
      webhooks.configure(null);
      await server.close();
    },
  };
};
