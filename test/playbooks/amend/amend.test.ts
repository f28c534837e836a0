import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ForgePort } from '../../../src/integrations/forge/port.js';
import { GitCredential } from '../../../src/integrations/git/credential.js';
import { prepareBranchChange } from '../../../src/integrations/git/workspace.js';
import { createGithubForge } from '../../../src/integrations/github/adapter.js';
import { createGitlabForge } from '../../../src/integrations/gitlab/adapter.js';
import {
  type AmendDeps,
  type AmendPreview,
  applyAmend,
  type PreparedAmend,
  prepareAmend,
  previewAmend,
} from '../../../src/playbooks/amend/amend.js';
import { createBareRepo, type GitRepo } from '../../fakes/git-repo.js';
import { type FakeGithub, startFakeGithub } from '../../fakes/github.js';
import { type FakeGitlab, startFakeGitlab } from '../../fakes/gitlab.js';

/**
 * /amend's core with real git: the forge fakes serve real bare repositories over git's smart HTTP protocol
 * (git http-backend), so the fetch, the apply and the push are git's own, against the adapters' reads of
 * the MR. Every test checks the branch in the bare repository afterwards: what a colleague would see.
 */

const TOKEN = 'glpat-amend-SECRET-0123456789';
const GH_TOKEN = 'ghp_amendSECRET0123456789abcdef';
const BOT = { name: 'opsbot', email: 'opsbot@example.test' };
const CAROL = { name: 'Carol Author', email: 'carol@example.test' };

const PATCH = `diff --git a/inventory/versionlock.list b/inventory/versionlock.list
--- a/inventory/versionlock.list
+++ b/inventory/versionlock.list
@@ -1,2 +1,3 @@
 # managed by opsbot
 0:elasticsearch-7.10.1-1.*
+0:kibana-7.10.1-1.*
`;

const FILES = {
  'README.md': '# infra\n',
  'inventory/versionlock.list': '# managed by opsbot\n0:elasticsearch-7.10.1-1.*\n',
};

let tmpRoot: string;
beforeEach(async () => {
  tmpRoot = await mkdtemp(join(tmpdir(), 'amend-test-'));
});
afterEach(async () => {
  // Every path removes its temporary directory.
  expect(await readdir(tmpRoot)).toEqual([]);
  await rm(tmpRoot, { recursive: true, force: true });
});

const depsOf = (forge: ForgePort): AmendDeps => ({ forge, prepareBranchChange, identity: BOT, tmpRoot });

describe('amend on GitLab (real git over smart HTTP)', () => {
  let repo: GitRepo;
  let fork: GitRepo;
  let gitlab: FakeGitlab;
  let forge: ForgePort;
  let n = 0;

  beforeAll(async () => {
    repo = await createBareRepo(FILES);
    fork = await createBareRepo(FILES);
    gitlab = await startFakeGitlab({
      projects: { 'infra/ansible': repo, 'carol/ansible': fork },
      tokens: { [TOKEN]: { access: 'write' } },
    });
    forge = createGitlabForge({ host: gitlab.host, token: TOKEN, timeoutMs: 10_000 });
  });
  afterAll(async () => {
    await gitlab.close();
    await repo.cleanup();
    await fork.cleanup();
  });

  /** A branch with one commit by Carol, and an open MR from it. */
  const openMr = async (
    r: GitRepo = repo,
    extra: { sourceProject?: string; allowCollaboration?: boolean } = {},
  ) => {
    n += 1;
    const branch = `feature-${n}`;
    await r.git(['branch', branch, 'main']);
    const head = await r.commitToBranch(branch, { 'app.txt': `app ${n}\n` }, `Add app ${n}`, CAROL);
    const mr = await gitlab.addMergeRequest('infra/ansible', { sourceBranch: branch, ...extra });
    return { branch, head, mr, ref: { forge: 'gitlab' as const, repo: 'infra/ansible', number: mr.iid } };
  };

  it('adds a commit: preview shows the diff and head, approval pushes it by the bot with trailers and notes the MR', async () => {
    const { branch, head, mr, ref } = await openMr();
    const preview = (await previewAmend(depsOf(forge), {
      ref,
      patch: PATCH,
      mode: 'add',
      message: 'Lock kibana too',
    })) as AmendPreview;
    expect(preview.kind).toBe('preview');
    expect(preview.headSha).toBe(head);
    expect(preview.target.branch).toBe(branch);
    expect(preview.diff).toContain('+0:kibana-7.10.1-1.*');
    expect(preview.files).toEqual(['inventory/versionlock.list']);
    // The preview pushed nothing.
    expect(await repo.revParse(`refs/heads/${branch}`)).toBe(head);

    const out = await applyAmend(depsOf(forge), {
      ref,
      patch: PATCH,
      mode: 'add',
      message: 'Lock kibana too',
      expectedHead: preview.headSha,
      requester: 'alice',
      approver: 'bob',
      reason: 'kibana must stay on 7.10',
      threadUrl: 'https://slack.example/archives/C1/p1',
    });
    expect(out.kind).toBe('pushed');
    const now = (await repo.revParse(`refs/heads/${branch}`)) as string;
    expect(now).not.toBe(head);
    const info = await repo.commitInfo(now);
    expect(info?.parents).toEqual([head]); // Carol's commit is kept underneath
    expect(info?.message).toBe('Lock kibana too\n\nRequested-by: alice\nApproved-by: bob\n');
    expect((await repo.git(['log', '-1', '--format=%an <%ae>|%cn', now])).trim()).toBe(
      'opsbot <opsbot@example.test>|opsbot',
    );
    expect(await repo.readFile(now, 'inventory/versionlock.list')).toContain('kibana');
    // The fake moved the MR's head on the push, as GitLab does, and the note says what, who, why, where.
    expect(mr.sha).toBe(now);
    const note = mr.notes.at(-1)?.body ?? '';
    expect(note).toContain(`added commit ${now.slice(0, 12)}`);
    expect(note).toContain('approved by bob');
    expect(note).toContain('kibana must stay on 7.10');
    expect(note).toContain('https://slack.example/archives/C1/p1');

    // Repeating the approval finds the change already there: nothing to do, nothing pushed.
    const again = await applyAmend(depsOf(forge), {
      ref,
      patch: PATCH,
      mode: 'add',
      message: 'Lock kibana too',
      expectedHead: now,
      requester: 'alice',
      approver: 'bob',
      reason: null,
      threadUrl: null,
    });
    expect(again.kind).toBe('nothing_to_do');
    expect(await repo.revParse(`refs/heads/${branch}`)).toBe(now);
  });

  it('prepareAmend (the CLI) pushes the very commit it previewed, made as applyAmend makes it, from one workspace', async () => {
    const { branch, head, mr, ref } = await openMr();
    const input = {
      ref,
      patch: PATCH,
      mode: 'add' as const,
      message: 'Lock kibana too',
      requester: 'cli:alice',
      approver: null,
      reason: 'kibana must stay on 7.10',
      threadUrl: null,
      changeId: 'chg-42',
    };
    const prepared = (await prepareAmend(depsOf(forge), input)) as PreparedAmend;
    expect(prepared.kind).toBe('preview');
    expect(prepared.headSha).toBe(head);
    expect(prepared.diff).toContain('+0:kibana-7.10.1-1.*');
    // Prepared, not pushed: the branch is where it was and the workspace is held.
    expect(await repo.revParse(`refs/heads/${branch}`)).toBe(head);
    expect(await readdir(tmpRoot)).toHaveLength(1);
    const out = await prepared.push();
    // The workspace is gone once pushed, before the caller's dispose.
    expect(await readdir(tmpRoot)).toEqual([]);
    expect(out).toMatchObject({ kind: 'pushed', oldSha: head, newSha: prepared.commitSha, earlier: false });
    expect(await repo.revParse(`refs/heads/${branch}`)).toBe(prepared.commitSha);
    expect((await repo.commitInfo(prepared.commitSha))?.message).toBe(
      'Lock kibana too\n\nRequested-by: cli:alice\nOpsbot-Change: chg-42\n',
    );
    expect(mr.notes.at(-1)?.body).toContain('<!-- opsbot-change: chg-42 -->');
    expect(mr.notes.at(-1)?.body).toContain('kibana must stay on 7.10');
    await expect(prepared.push()).rejects.toThrow();
    await prepared.dispose();
    await prepared.dispose();
    expect(mr.notes).toHaveLength(1);
  });

  it('prepareAmend disposed without a push (--dry-run) leaves the branch and no workspace', async () => {
    const { branch, head, mr, ref } = await openMr();
    const prepared = (await prepareAmend(depsOf(forge), {
      ref,
      patch: PATCH,
      mode: 'amend',
      message: null,
      requester: 'cli:alice',
      approver: null,
      reason: null,
      threadUrl: null,
    })) as PreparedAmend;
    expect(prepared.kind).toBe('preview');
    await prepared.dispose();
    await expect(prepared.push()).rejects.toThrow();
    expect(await repo.revParse(`refs/heads/${branch}`)).toBe(head);
    expect(await repo.readObject(prepared.commitSha)).toBeNull();
    expect(mr.notes).toHaveLength(0);
  });

  it('a push between preview and approval: nothing is pushed, the answer names who pushed what, both commits stay', async () => {
    const { branch, head, ref } = await openMr();
    const preview = (await previewAmend(depsOf(forge), {
      ref,
      patch: PATCH,
      mode: 'amend',
      message: null,
    })) as AmendPreview;
    const theirs = await repo.commitToBranch(branch, { 'other.txt': 'x\n' }, 'Fix typo', CAROL);
    const out = await applyAmend(depsOf(forge), {
      ref,
      patch: PATCH,
      mode: 'amend',
      message: null,
      expectedHead: preview.headSha,
      requester: 'alice',
      approver: 'bob',
      reason: null,
      threadUrl: null,
    });
    expect(out).toMatchObject({
      kind: 'head_moved',
      expected: head,
      actual: theirs,
      commits: [{ sha: theirs, author: 'Carol Author <carol@example.test>', subject: 'Fix typo' }],
    });
    expect(await repo.revParse(`refs/heads/${branch}`)).toBe(theirs);
    expect((await repo.commitInfo(theirs))?.parents).toEqual([head]);
  });

  it('amend mode: a push racing ours after the fetch is kept, the lease refuses ours', async () => {
    const { branch, head, ref } = await openMr();
    const preview = (await previewAmend(depsOf(forge), {
      ref,
      patch: PATCH,
      mode: 'amend',
      message: null,
    })) as AmendPreview;
    let theirs = '';
    gitlab.beforeNextPush(async () => {
      theirs = await repo.commitToBranch(branch, { 'race.txt': 'mine\n' }, 'Racing push', CAROL);
    });
    const out = await applyAmend(depsOf(forge), {
      ref,
      patch: PATCH,
      mode: 'amend',
      message: null,
      expectedHead: preview.headSha,
      requester: 'alice',
      approver: 'bob',
      reason: null,
      threadUrl: null,
    });
    expect(out.kind).toBe('head_moved');
    expect(theirs).not.toBe('');
    expect(await repo.revParse(`refs/heads/${branch}`)).toBe(theirs);
    expect((await repo.commitInfo(theirs))?.parents).toEqual([head]);
  });

  it('amend mode rewrites the last commit on the previewed head: author and message kept, trailers added', async () => {
    const { branch, head, ref } = await openMr();
    const parent = (await repo.commitInfo(head))?.parents[0];
    const preview = (await previewAmend(depsOf(forge), {
      ref,
      patch: PATCH,
      mode: 'amend',
      message: null,
    })) as AmendPreview;
    expect(preview.diff).toContain('+0:kibana-7.10.1-1.*');
    const out = await applyAmend(depsOf(forge), {
      ref,
      patch: PATCH,
      mode: 'amend',
      message: null,
      expectedHead: preview.headSha,
      requester: 'alice',
      approver: 'bob',
      reason: null,
      threadUrl: null,
    });
    expect(out.kind).toBe('pushed');
    const now = (await repo.revParse(`refs/heads/${branch}`)) as string;
    const info = await repo.commitInfo(now);
    expect(info?.parents).toEqual([parent]);
    expect(info?.message).toMatch(/^Add app \d+\n\nRequested-by: alice\nApproved-by: bob\n$/);
    expect((await repo.git(['log', '-1', '--format=%an|%cn', now])).trim()).toBe('Carol Author|opsbot');
    expect(await repo.readFile(now, 'app.txt')).not.toBeNull();
  });

  it('a fork MR that does not allow collaboration is refused with what the author can do; nothing pushed', async () => {
    const { branch, head, ref } = await openMr(fork, {
      sourceProject: 'carol/ansible',
      allowCollaboration: false,
    });
    const out = await previewAmend(depsOf(forge), { ref, patch: PATCH, mode: 'add', message: null });
    expect(out).toMatchObject({ kind: 'refused', reason: 'fork_not_allowed' });
    expect(out.kind === 'refused' && out.message).toContain('Allow commits from members who can merge');
    expect(await fork.revParse(`refs/heads/${branch}`)).toBe(head);
  });

  it('a fork MR that allows collaboration is changed in the fork', async () => {
    const { branch, head, ref } = await openMr(fork, {
      sourceProject: 'carol/ansible',
      allowCollaboration: true,
    });
    const preview = (await previewAmend(depsOf(forge), {
      ref,
      patch: PATCH,
      mode: 'add',
      message: 'x',
    })) as AmendPreview;
    expect(preview.target.sourceRepo).toBe('carol/ansible');
    const out = await applyAmend(depsOf(forge), {
      ref,
      patch: PATCH,
      mode: 'add',
      message: 'x',
      expectedHead: head,
      requester: 'alice',
      approver: 'bob',
      reason: null,
      threadUrl: null,
    });
    expect(out.kind).toBe('pushed');
    expect((await fork.commitInfo((await fork.revParse(`refs/heads/${branch}`)) as string))?.parents).toEqual(
      [head],
    );
  });

  it('a diff that does not apply is refused with the failing hunk', async () => {
    const { ref } = await openMr();
    const bad = PATCH.replace(' 0:elasticsearch-7.10.1-1.*', ' 0:elasticsearch-6.8.0-1.*');
    const out = await previewAmend(depsOf(forge), { ref, patch: bad, mode: 'add', message: null });
    expect(out).toMatchObject({ kind: 'refused', reason: 'patch_failed' });
    if (out.kind !== 'refused') throw new Error('expected a refusal');
    expect(out.message).toContain('inventory/versionlock.list');
    expect(out.hunk).toContain('@@ -1,2 +1,3 @@');
    expect(out.hunk).toContain(' 0:elasticsearch-6.8.0-1.*');
  });

  it('git failing (a token the forge refuses) throws a git error without the token; the temp dir is removed', async () => {
    const { branch, head } = await openMr();
    const wrong = 'glpat-WRONG-git-token-31337';
    const err = await prepareBranchChange({
      remote: { url: `${gitlab.host}/infra/ansible.git`, credential: new GitCredential('oauth2', wrong) },
      branch,
      expectedHead: head,
      patch: PATCH,
      mode: 'add',
      message: null,
      trailers: [],
      identity: BOT,
      tmpRoot,
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'IntegrationError', service: 'git' });
    const text = `${(err as Error).message} ${JSON.stringify(err)}`;
    expect(text).not.toContain(wrong);
    expect(text).not.toContain(Buffer.from(`oauth2:${wrong}`).toString('base64'));
    expect(gitlab.gitPasswords).toContain(wrong); // it did reach the server, and was refused there
    expect(await repo.revParse(`refs/heads/${branch}`)).toBe(head);
  });

  it('closed and merged MRs, protected branches, binary diffs and paths outside the repo are refused', async () => {
    const a = await openMr();
    gitlab.setMergeRequestState('infra/ansible', a.mr.iid, 'merged', 'dave');
    expect(
      await previewAmend(depsOf(forge), { ref: a.ref, patch: PATCH, mode: 'add', message: null }),
    ).toMatchObject({
      kind: 'refused',
      reason: 'not_open',
      message: expect.stringContaining('is merged'),
    });
    const b = await openMr();
    gitlab.setMergeRequestState('infra/ansible', b.mr.iid, 'closed', 'dave');
    expect(
      await previewAmend(depsOf(forge), { ref: b.ref, patch: PATCH, mode: 'add', message: null }),
    ).toMatchObject({
      kind: 'refused',
      reason: 'not_open',
    });
    const c = await openMr();
    gitlab.protectBranch('infra/ansible', c.branch);
    expect(
      await previewAmend(depsOf(forge), { ref: c.ref, patch: PATCH, mode: 'add', message: null }),
    ).toMatchObject({
      kind: 'refused',
      reason: 'protected_branch',
    });
    const d = await openMr();
    const binary =
      'diff --git a/x.bin b/x.bin\nnew file mode 100644\nindex 0000000..1111111\nGIT binary patch\nliteral 3\nKcmZ?wWc&aD0RR91\n\nliteral 0\nHcmV?d00001\n';
    expect(
      await previewAmend(depsOf(forge), { ref: d.ref, patch: binary, mode: 'add', message: null }),
    ).toMatchObject({
      kind: 'refused',
      reason: 'bad_patch',
      message: expect.stringContaining('binary'),
    });
    const outside = PATCH.replaceAll('inventory/versionlock.list', '../../etc/passwd');
    expect(
      await previewAmend(depsOf(forge), { ref: d.ref, patch: outside, mode: 'add', message: null }),
    ).toMatchObject({
      kind: 'refused',
      reason: 'bad_patch',
      message: expect.stringContaining('outside the repository'),
    });
    expect(await repo.revParse(`refs/heads/${d.branch}`)).toBe(d.head);
  });
});

describe('amend on GitHub (real git over smart HTTP)', () => {
  let repo: GitRepo;
  let fork: GitRepo;
  let github: FakeGithub;
  let forge: ForgePort;

  beforeAll(async () => {
    repo = await createBareRepo(FILES);
    fork = await createBareRepo(FILES);
    github = await startFakeGithub({
      repos: { 'acme/infra': repo, 'carol/infra': fork },
      tokens: { [GH_TOKEN]: { access: 'write' } },
    });
    forge = createGithubForge({ baseUrl: github.baseUrl, token: GH_TOKEN, timeoutMs: 10_000 });
  });
  afterAll(async () => {
    await github.close();
    await repo.cleanup();
    await fork.cleanup();
  });

  it('amends the PR head with --force-with-lease and comments on the PR', async () => {
    await repo.git(['branch', 'gh-1', 'main']);
    const head = await repo.commitToBranch('gh-1', { 'app.txt': 'v1\n' }, 'Add app', CAROL);
    const pr = github.addPull('acme/infra', { head: 'gh-1' });
    const ref = { forge: 'github' as const, repo: 'acme/infra', number: pr.number };
    const preview = (await previewAmend(depsOf(forge), {
      ref,
      patch: PATCH,
      mode: 'amend',
      message: 'Add app, lock kibana',
    })) as AmendPreview;
    expect(preview.headSha).toBe(head);
    const out = await applyAmend(depsOf(forge), {
      ref,
      patch: PATCH,
      mode: 'amend',
      message: 'Add app, lock kibana',
      expectedHead: head,
      requester: 'alice',
      approver: 'bob',
      reason: null,
      threadUrl: null,
    });
    expect(out.kind).toBe('pushed');
    const now = (await repo.revParse('refs/heads/gh-1')) as string;
    expect((await repo.commitInfo(now))?.parents).toEqual((await repo.commitInfo(head))?.parents);
    expect(pr.comments.at(-1)?.body).toContain('amended the last commit');
    // The token went to git as basic auth (x-access-token), never in a URL.
    expect(github.gitPasswords).toContain(GH_TOKEN);
  });

  it('a fork PR without "allow edits by maintainers" is refused; with it, the fork branch is changed', async () => {
    await fork.git(['branch', 'gh-fork', 'main']);
    const head = await fork.commitToBranch('gh-fork', { 'app.txt': 'v1\n' }, 'Add app', CAROL);
    const closed = github.addPull('acme/infra', {
      head: 'gh-fork',
      headRepo: 'carol/infra',
      maintainerCanModify: false,
    });
    const refused = await previewAmend(depsOf(forge), {
      ref: { forge: 'github', repo: 'acme/infra', number: closed.number },
      patch: PATCH,
      mode: 'add',
      message: null,
    });
    expect(refused).toMatchObject({
      kind: 'refused',
      reason: 'fork_not_allowed',
      message: expect.stringContaining('Allow edits by maintainers'),
    });
    const open = github.addPull('acme/infra', {
      head: 'gh-fork',
      headRepo: 'carol/infra',
      maintainerCanModify: true,
    });
    const out = await applyAmend(depsOf(forge), {
      ref: { forge: 'github', repo: 'acme/infra', number: open.number },
      patch: PATCH,
      mode: 'add',
      message: 'lock kibana',
      expectedHead: head,
      requester: 'alice',
      approver: 'bob',
      reason: null,
      threadUrl: null,
    });
    expect(out.kind).toBe('pushed');
    expect((await fork.commitInfo((await fork.revParse('refs/heads/gh-fork')) as string))?.parents).toEqual([
      head,
    ]);
  });
});
