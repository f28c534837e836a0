import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IntegrationError } from '../../../src/core/errors.js';
import { forgeConflictOf } from '../../../src/integrations/forge/errors.js';
import type { ForgePort } from '../../../src/integrations/forge/port.js';
import {
  type ForgeHarness,
  INITIAL_FILES,
  READ_TOKEN,
  startGithubHarness,
  startGitlabHarness,
  WRITE_TOKEN,
} from './harness.js';

/** The same behaviour, checked against both adapters talking to their fakes over real HTTP and real git. */

const catchErr = async (p: Promise<unknown>): Promise<IntegrationError> => {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(IntegrationError);
    return err as IntegrationError;
  }
  throw new Error('expected the call to fail');
};

const noSecret = (e: IntegrationError) => {
  const text = `${e.userMessage} ${e.message} ${JSON.stringify(e.details)}`;
  expect(text).not.toContain(WRITE_TOKEN);
  expect(text).not.toContain(READ_TOKEN);
};

describe.each([
  ['gitlab', startGitlabHarness],
  ['github', startGithubHarness],
] as const)('forge contract: %s', (kind, start) => {
  let h: ForgeHarness;
  let forge: ForgePort;
  let base: string;

  beforeEach(async () => {
    h = await start();
    forge = h.forge();
    base = (await h.repo.revParse('refs/heads/main')) ?? '';
  });
  afterEach(async () => {
    await h.close();
  });

  const change = (branch: string) => ({
    repo: h.repoName,
    branch,
    startSha: base,
    message: 'versionlock: elasticsearch 7.10.2\n\nRequested in Slack.',
    actions: [
      {
        action: 'update',
        path: 'inventory/versionlock.list',
        content: '# managed by opsbot\n0:elasticsearch-7.10.2-1.*\n',
      },
      { action: 'create', path: 'terraform/prod/new dir/imported.tf', content: 'resource "x" "y" {}\n' },
      { action: 'delete', path: 'old/obsolete.txt' },
    ] as const,
  });

  it('reads files and branch heads at a ref, and null for what does not exist', async () => {
    expect(forge.kind).toBe(kind);
    expect(await forge.getBranchHead(h.repoName, 'main')).toBe(base);
    expect(await forge.getBranchHead(h.repoName, 'opsbot/nope')).toBeNull();
    const f = await forge.getFile(h.repoName, 'inventory/versionlock.list', 'main');
    expect(f?.content).toBe(INITIAL_FILES['inventory/versionlock.list']);
    expect(f?.blobSha).toBe(await h.repo.blobSha('main', 'inventory/versionlock.list'));
    expect(await forge.getFile(h.repoName, 'inventory/missing.list', 'main')).toBeNull();

    // A colleague pushes: the branch moves, the old sha still reads the old content.
    const pushed = await h.repo.commitToBranch(
      'main',
      { 'inventory/versionlock.list': 'changed\n' },
      'colleague',
    );
    expect(await forge.getBranchHead(h.repoName, 'main')).toBe(pushed);
    expect((await forge.getFile(h.repoName, 'inventory/versionlock.list', base))?.content).toBe(
      INITIAL_FILES['inventory/versionlock.list'],
    );
    expect((await forge.getFile(h.repoName, 'inventory/versionlock.list', 'main'))?.content).toBe(
      'changed\n',
    );
  });

  it('creates a branch with one multi-file commit (create + update + delete), base untouched', async () => {
    const res = await forge.createBranchWithCommit(change('opsbot/versionlock-elasticsearch-7.10.2'));
    expect(res.sha).toMatch(/^[0-9a-f]{40}$/);
    expect(await h.repo.revParse('refs/heads/opsbot/versionlock-elasticsearch-7.10.2')).toBe(res.sha);
    const info = await h.repo.commitInfo(res.sha);
    expect(info?.parents).toEqual([base]);
    expect(info?.message.trim()).toBe('versionlock: elasticsearch 7.10.2\n\nRequested in Slack.');
    expect(await h.repo.readTree(res.sha)).toEqual({
      'README.md': INITIAL_FILES['README.md'],
      'inventory/versionlock.list': '# managed by opsbot\n0:elasticsearch-7.10.2-1.*\n',
      'terraform/prod/imports.tf': INITIAL_FILES['terraform/prod/imports.tf'],
      'terraform/prod/new dir/imported.tf': 'resource "x" "y" {}\n',
    });
    expect(await h.repo.revParse('refs/heads/main')).toBe(base);
    expect(await h.repo.readTree('main')).toEqual(INITIAL_FILES);
    expect(await h.repo.listBranches()).toEqual(['main', 'opsbot/versionlock-elasticsearch-7.10.2']);
  });

  it('refuses to create a branch that already exists, leaving it as it was', async () => {
    const theirs = await h.repo.commitToBranch('opsbot/taken', { 'x.txt': 'theirs\n' }, 'someone else');
    const err = await catchErr(forge.createBranchWithCommit(change('opsbot/taken')));
    expect(err.code).toBe('conflict');
    expect(forgeConflictOf(err)).toBe('branch-exists');
    expect(err.userMessage).toBe('branch opsbot/taken already exists in infra/ansible');
    expect(await h.repo.revParse('refs/heads/opsbot/taken')).toBe(theirs);
  });

  it('refuses actions that no longer apply to the start commit, naming the files, creating nothing', async () => {
    const err = await catchErr(
      forge.createBranchWithCommit({
        ...change('opsbot/stale'),
        actions: [
          { action: 'update', path: 'README.md', content: 'fine\n' },
          { action: 'update', path: 'inventory/gone.list', content: 'x\n' },
        ],
      }),
    );
    expect(err.code).toBe('conflict');
    // A file-state conflict, not a branch that exists (which the apply would re-check as "concurrent").
    expect(forgeConflictOf(err)).toBe('file-state');
    expect(err.userMessage).toContain('no longer applies to infra/ansible');
    expect(err.userMessage).toContain('inventory/gone.list does not exist');
    expect(err.userMessage).not.toContain('README.md');
    const exists = await catchErr(
      forge.createBranchWithCommit({
        ...change('opsbot/stale'),
        actions: [{ action: 'create', path: 'README.md', content: 'x\n' }],
      }),
    );
    expect(forgeConflictOf(exists)).toBe('file-state');
    expect(exists.userMessage).toContain('README.md already exists');
    expect(await h.repo.listBranches()).toEqual(['main']);
  });

  it('opens an MR with description and labels, finds it by branch, comments on it', async () => {
    const branch = 'opsbot/versionlock-elasticsearch-7.10.2';
    const commit = await forge.createBranchWithCommit(change(branch));
    expect(await forge.findOpenMergeRequest(h.repoName, branch)).toBeNull();
    const description = 'Requested by <@U123> in https://example.slack.com/archives/C1/p1700000000000100';
    const mr = await forge.openMergeRequest(h.repoName, {
      sourceBranch: branch,
      targetBranch: 'main',
      title: 'versionlock: elasticsearch 7.10.2',
      description,
      labels: ['opsbot', 'versionlock'],
    });
    expect(mr).toMatchObject({
      title: 'versionlock: elasticsearch 7.10.2',
      state: 'open',
      sourceBranch: branch,
      targetBranch: 'main',
      headSha: commit.sha,
    });
    expect(mr.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/infra\/ansible\//);
    expect(h.stored(mr.number)).toMatchObject({ labels: ['opsbot', 'versionlock'], description });

    expect(await forge.findOpenMergeRequest(h.repoName, branch)).toEqual(mr);
    expect(await forge.findOpenMergeRequest(h.repoName, 'opsbot/other')).toBeNull();

    const dup = await catchErr(
      forge.openMergeRequest(h.repoName, {
        sourceBranch: branch,
        targetBranch: 'main',
        title: 'again',
        description: '',
        labels: [],
      }),
    );
    expect(dup.code).toBe('conflict');

    await forge.comment(h.repoName, mr.number, 'Pipeline passed :white_check_mark:');
    expect(h.stored(mr.number)?.comments).toEqual(['Pipeline passed :white_check_mark:']);
  });

  it('lists every comment of an MR, oldest first, across pages (more than 100)', async () => {
    const branch = 'opsbot/many-comments';
    await forge.createBranchWithCommit(change(branch));
    const mr = await forge.openMergeRequest(h.repoName, {
      sourceBranch: branch,
      targetBranch: 'main',
      title: 'many comments',
      description: '',
      labels: [],
    });
    const bodies = Array.from({ length: 105 }, (_, i) => `comment ${i + 1}`);
    for (const b of bodies) await forge.comment(h.repoName, mr.number, b);
    const listed = await forge.listComments(h.repoName, mr.number);
    expect(listed.map((c) => c.body)).toEqual(bodies);
    expect(new Set(listed.map((c) => c.id)).size).toBe(105);
  });

  it('a bad token is an actionable 401 that never shows the token', async () => {
    const err = await catchErr(
      h.forge({ token: 'not-a-real-token-xyz' }).getFile(h.repoName, 'README.md', 'main'),
    );
    expect(err.status).toBe(401);
    expect(err.code).toBe('forbidden');
    expect(err.retryable).toBe(false);
    expect(err.userMessage).toContain(
      `the ${kind === 'gitlab' ? 'GitLab' : 'GitHub'} token is invalid or expired`,
    );
    expect(`${err.userMessage} ${JSON.stringify(err.details)}`).not.toContain('not-a-real-token-xyz');
  });

  it('a read-only token reads, but a write says it lacks write access to the repo', async () => {
    const ro = h.forge({ token: READ_TOKEN });
    expect((await ro.getFile(h.repoName, 'README.md', 'main'))?.content).toBe('# infra\n');
    const err = await catchErr(ro.createBranchWithCommit(change('opsbot/ro')));
    expect(err.status).toBe(403);
    expect(err.code).toBe('forbidden');
    expect(err.userMessage).toContain(
      `the ${kind === 'gitlab' ? 'GitLab' : 'GitHub'} token lacks write access to infra/ansible`,
    );
    noSecret(err);
    expect(await h.repo.listBranches()).toEqual(['main']);
  });

  it('an unknown repository is named in the error', async () => {
    const err = await catchErr(forge.getFile('infra/nope', 'README.md', 'main'));
    expect(err.code).toBe('not_found');
    expect(err.userMessage).toBe(
      `repository infra/nope not found on ${kind === 'gitlab' ? 'GitLab' : 'GitHub'} (or the token cannot see it)`,
    );
  });

  it('honours Retry-After on 429, then succeeds', async () => {
    h.inject('readFile', { kind: 'respond', status: 429, headers: { 'retry-after': '1' } }, 1);
    const t0 = Date.now();
    const f = await forge.getFile(h.repoName, 'README.md', 'main');
    const elapsed = Date.now() - t0;
    expect(f?.content).toBe('# infra\n');
    expect(elapsed).toBeGreaterThanOrEqual(1000);
    const reqs = h.requests('readFile');
    expect(reqs).toHaveLength(2);
    expect((reqs[1]?.at ?? 0) - (reqs[0]?.at ?? 0)).toBeGreaterThanOrEqual(990);
  });

  it('repeats a rate-limited write (it was not processed) and commits exactly once', async () => {
    h.inject('createBranch', { kind: 'respond', status: 429, headers: { 'retry-after': '0' } }, 1);
    const res = await forge.createBranchWithCommit(change('opsbot/after-429'));
    expect(await h.repo.revParse('refs/heads/opsbot/after-429')).toBe(res.sha);
    expect(h.requests('createBranch')).toHaveLength(2);
  });

  it('does not wait for a Retry-After beyond the bound: says when to retry instead', async () => {
    const f = h.forge({ maxRetryDelayMs: 5_000 });
    h.inject('readFile', { kind: 'respond', status: 429, headers: { 'retry-after': '120' } }, 5);
    const t0 = Date.now();
    const err = await catchErr(f.getFile(h.repoName, 'README.md', 'main'));
    // Not even the 5 s bound was waited: it answered at once (a wait for Retry-After would take 120 s).
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(err.retryable).toBe(true);
    expect(err.userMessage).toContain('rate limiting opsbot; retry after 120 s');
    expect(h.requests('readFile')).toHaveLength(1);
  });

  it('times out a hanging call as a retryable error, within bounded retries', async () => {
    const f = h.forge({ timeoutMs: 300, maxRetries: 1 });
    h.inject('readFile', { kind: 'hang' }, 5);
    const t0 = Date.now();
    const err = await catchErr(f.getFile(h.repoName, 'README.md', 'main'));
    const elapsed = Date.now() - t0;
    expect(err.code).toBe('timeout');
    expect(err.retryable).toBe(true);
    expect(err.userMessage).toContain('did not answer within 0.3 s');
    expect(h.requests('readFile')).toHaveLength(2);
    // Each attempt waited its whole 0.3 s timeout (a lower bound cannot flake on a slow machine); a call
    // without a timeout would hang and fail at the test's own deadline.
    expect(elapsed).toBeGreaterThanOrEqual(600);
  });

  it('retries a read after a 502 and reports a lasting 5xx as retryable', async () => {
    h.inject('branchHead', { kind: 'respond', status: 502 }, 1);
    expect(await forge.getBranchHead(h.repoName, 'main')).toBe(base);
    h.inject('branchHead', { kind: 'respond', status: 503 }, 10);
    const err = await catchErr(forge.getBranchHead(h.repoName, 'main'));
    expect(err.retryable).toBe(true);
    expect(err.userMessage).toBe(
      `${kind === 'gitlab' ? 'GitLab' : 'GitHub'} is failing (status 503); try again`,
    );
  });

  it('after a 502 on a write that did land, finds it instead of writing twice', async () => {
    h.inject('createBranch', { kind: 'fail-after-handling', status: 502 }, 1);
    const res = await forge.createBranchWithCommit(change('opsbot/landed'));
    expect(await h.repo.revParse('refs/heads/opsbot/landed')).toBe(res.sha);
    expect(h.requests('createBranch')).toHaveLength(1);

    h.inject('openMr', { kind: 'fail-after-handling', status: 502 }, 1);
    const mr = await forge.openMergeRequest(h.repoName, {
      sourceBranch: 'opsbot/landed',
      targetBranch: 'main',
      title: 't',
      description: 'd',
      labels: [],
    });
    expect(mr.sourceBranch).toBe('opsbot/landed');
    expect(h.requests('openMr')).toHaveLength(1);
  });

  it('after a 502 on a write that did not land, writes again', async () => {
    h.inject('createBranch', { kind: 'respond', status: 502 }, 1);
    const res = await forge.createBranchWithCommit(change('opsbot/retry'));
    expect(await h.repo.revParse('refs/heads/opsbot/retry')).toBe(res.sha);
    expect(h.requests('createBranch')).toHaveLength(2);
  });

  it('never repeats a comment blindly after a 5xx', async () => {
    await forge.createBranchWithCommit(change('opsbot/c'));
    const mr = await forge.openMergeRequest(h.repoName, {
      sourceBranch: 'opsbot/c',
      targetBranch: 'main',
      title: 't',
      description: 'd',
      labels: [],
    });
    h.inject('comment', { kind: 'fail-after-handling', status: 500 }, 1);
    const err = await catchErr(forge.comment(h.repoName, mr.number, 'once'));
    expect(err.retryable).toBe(true);
    expect(h.requests('comment')).toHaveLength(1);
    expect(h.stored(mr.number)?.comments).toEqual(['once']);
  });
});
