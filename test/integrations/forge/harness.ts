import type { ForgePort } from '../../../src/integrations/forge/port.js';
import { createGithubForge } from '../../../src/integrations/github/adapter.js';
import { createGitlabForge } from '../../../src/integrations/gitlab/adapter.js';
import type { Fault, Hold, RecordedRequest } from '../../fakes/forge-http.js';
import { createBareRepo, type GitRepo } from '../../fakes/git-repo.js';
import { startFakeGithub } from '../../fakes/github.js';
import { startFakeGitlab } from '../../fakes/gitlab.js';

/** One fake forge + one real bare repo, driven through the real adapter, for the shared contract tests. */

export const WRITE_TOKEN = 'wr1te-t0ken-SECRET-abcdef';
export const READ_TOKEN = 'read-0nly-t0ken-SECRET-123456';

export interface ForgeOptions {
  readonly token?: string;
  readonly timeoutMs?: number;
  readonly maxRetries?: number;
  readonly maxRetryDelayMs?: number;
}

export type Route = 'readFile' | 'branchHead' | 'createBranch' | 'openMr' | 'listMr' | 'comment';

export interface ForgeHarness {
  readonly kind: 'gitlab' | 'github';
  readonly repoName: string;
  readonly repo: GitRepo;
  forge(o?: ForgeOptions): ForgePort;
  /** Path regex (after the API prefix) of the request each operation ends with. */
  route(r: Route): { method: string; path: RegExp };
  inject(r: Route, fault: Fault, times?: number): void;
  /** Holds the next matching request (GitLab fake only), `before` handling it or `after`, until released. */
  hold?(r: Route, when: 'before' | 'after'): Hold;
  requests(r: Route): RecordedRequest[];
  allRequests(): RecordedRequest[];
  stored(number: number): { labels: string[]; description: string; comments: string[] } | null;
  close(): Promise<void>;
}

export const INITIAL_FILES = {
  'README.md': '# infra\n',
  'inventory/versionlock.list': '# managed by opsbot\n0:elasticsearch-7.10.1-1.*\n',
  'terraform/prod/imports.tf': '# imports\n',
  'old/obsolete.txt': 'remove me\n',
};

export const startGitlabHarness = async (): Promise<ForgeHarness> => {
  const repoName = 'infra/ansible';
  const repo = await createBareRepo(INITIAL_FILES);
  const fake = await startFakeGitlab({
    projects: { [repoName]: repo },
    tokens: { [WRITE_TOKEN]: { access: 'write' }, [READ_TOKEN]: { access: 'read' } },
  });
  const P = 'projects/infra%2Fansible';
  const routes: Record<Route, { method: string; path: RegExp }> = {
    readFile: { method: 'GET', path: new RegExp(`^/${P}/repository/files/`) },
    branchHead: { method: 'GET', path: new RegExp(`^/${P}/repository/branches/`) },
    createBranch: { method: 'POST', path: new RegExp(`^/${P}/repository/commits$`) },
    openMr: { method: 'POST', path: new RegExp(`^/${P}/merge_requests$`) },
    listMr: { method: 'GET', path: new RegExp(`^/${P}/merge_requests$`) },
    comment: { method: 'POST', path: new RegExp(`^/${P}/merge_requests/\\d+/notes$`) },
  };
  return {
    kind: 'gitlab',
    repoName,
    repo,
    forge: (o = {}) =>
      createGitlabForge({
        host: fake.host,
        token: o.token ?? WRITE_TOKEN,
        timeoutMs: o.timeoutMs ?? 5_000,
        maxRetries: o.maxRetries ?? 2,
        ...(o.maxRetryDelayMs !== undefined ? { maxRetryDelayMs: o.maxRetryDelayMs } : {}),
        retry: { baseDelayMs: 20 },
      }),
    route: (r) => routes[r],
    inject: (r, fault, times) => fake.inject(routes[r], fault, times),
    hold: (r, when) => fake.hold(routes[r], when),
    requests: (r) => fake.requestsTo(routes[r].method, routes[r].path),
    allRequests: () => fake.requests,
    stored: (n) => {
      const mr = fake.mergeRequests.find((m) => m.iid === n);
      return mr
        ? { labels: mr.labels, description: mr.description, comments: mr.notes.map((x) => x.body) }
        : null;
    },
    close: async () => {
      await fake.close();
      await repo.cleanup();
    },
  };
};

export const startGithubHarness = async (): Promise<ForgeHarness> => {
  const repoName = 'infra/ansible';
  const repo = await createBareRepo(INITIAL_FILES);
  const fake = await startFakeGithub({
    repos: { [repoName]: repo },
    tokens: { [WRITE_TOKEN]: { access: 'write' }, [READ_TOKEN]: { access: 'read' } },
  });
  const R = 'repos/infra/ansible';
  const routes: Record<Route, { method: string; path: RegExp }> = {
    readFile: { method: 'GET', path: new RegExp(`^/${R}/contents/`) },
    branchHead: { method: 'GET', path: new RegExp(`^/${R}/git/ref/`) },
    createBranch: { method: 'POST', path: new RegExp(`^/${R}/git/refs$`) },
    openMr: { method: 'POST', path: new RegExp(`^/${R}/pulls$`) },
    listMr: { method: 'GET', path: new RegExp(`^/${R}/pulls$`) },
    comment: { method: 'POST', path: new RegExp(`^/${R}/issues/\\d+/comments$`) },
  };
  return {
    kind: 'github',
    repoName,
    repo,
    forge: (o = {}) =>
      createGithubForge({
        baseUrl: fake.baseUrl,
        token: o.token ?? WRITE_TOKEN,
        timeoutMs: o.timeoutMs ?? 5_000,
        maxRetries: o.maxRetries ?? 2,
        ...(o.maxRetryDelayMs !== undefined ? { maxRetryDelayMs: o.maxRetryDelayMs } : {}),
        retry: { baseDelayMs: 20 },
      }),
    route: (r) => routes[r],
    inject: (r, fault, times) => fake.inject(routes[r], fault, times),
    requests: (r) => fake.requestsTo(routes[r].method, routes[r].path),
    allRequests: () => fake.requests,
    stored: (n) => {
      const pr = fake.pulls.find((p) => p.number === n);
      return pr
        ? { labels: pr.labels, description: pr.body, comments: pr.comments.map((c) => c.body) }
        : null;
    },
    close: async () => {
      await fake.close();
      await repo.cleanup();
    },
  };
};
