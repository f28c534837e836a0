import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IntegrationError } from '../../../src/core/errors.js';
import { createForge } from '../../../src/integrations/forge/create.js';
import type { ForgePort } from '../../../src/integrations/forge/port.js';
import { createGitlabForge } from '../../../src/integrations/gitlab/adapter.js';
import { createBareRepo, type GitRepo } from '../../fakes/git-repo.js';
import { type FakeGitlab, startFakeGitlab } from '../../fakes/gitlab.js';

const TOKEN = 'glpat-write-0123456789abcdef';
const SCOPED = 'glpat-scoped-0123456789abcdef';

const catchErr = async (p: Promise<unknown>): Promise<IntegrationError> => {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(IntegrationError);
    return err as IntegrationError;
  }
  throw new Error('expected the call to fail');
};

describe('GitLab adapter', () => {
  let repo: GitRepo;
  let fake: FakeGitlab;
  let forge: ForgePort;
  let main: string;

  beforeEach(async () => {
    repo = await createBareRepo({
      'vars/versionlock.yml': 'versionlock_packages: []\n',
      'README.md': 'hi\n',
    });
    fake = await startFakeGitlab({
      projects: { 'infra/ansible': repo, 'infra/other': repo },
      tokens: {
        [TOKEN]: { access: 'write' },
        [SCOPED]: { access: 'write', projects: ['infra/other'] },
      },
    });
    forge = createGitlabForge({ host: `${fake.host}/`, token: TOKEN, timeoutMs: 5_000 });
    main = (await repo.revParse('refs/heads/main')) ?? '';
  });
  afterEach(async () => {
    await fake.close();
    await repo.cleanup();
  });

  it('creates the branch and its commit with ONE commits API call, as GitLab documents it', async () => {
    const res = await forge.createBranchWithCommit({
      repo: 'infra/ansible',
      branch: 'opsbot/versionlock-elasticsearch-7.10.2',
      startSha: main,
      message: 'versionlock elasticsearch',
      actions: [
        {
          action: 'update',
          path: 'vars/versionlock.yml',
          content: 'versionlock_packages:\n  - elasticsearch\n',
        },
        { action: 'delete', path: 'README.md' },
      ],
    });
    expect(res.webUrl).toBe(`${fake.host}/infra/ansible/-/commit/${res.sha}`);
    const writes = fake.requests.filter((r) => r.method !== 'GET');
    expect(writes).toHaveLength(1);
    const post = writes[0];
    expect(post?.path).toBe('/api/v4/projects/infra%2Fansible/repository/commits');
    expect(post?.headers['private-token']).toBe(TOKEN);
    expect(JSON.parse(post?.body ?? '{}')).toEqual({
      branch: 'opsbot/versionlock-elasticsearch-7.10.2',
      commit_message: 'versionlock elasticsearch',
      start_sha: main,
      actions: [
        {
          action: 'update',
          file_path: 'vars/versionlock.yml',
          content: 'versionlock_packages:\n  - elasticsearch\n',
          encoding: 'text',
        },
        { action: 'delete', file_path: 'README.md' },
      ],
    });
    expect(await repo.readTree(res.sha)).toEqual({
      'vars/versionlock.yml': 'versionlock_packages:\n  - elasticsearch\n',
    });
  });

  it('reads a file with its path URL-encoded as one segment', async () => {
    const f = await forge.getFile('infra/ansible', 'vars/versionlock.yml', main);
    expect(f?.content).toBe('versionlock_packages: []\n');
    expect(fake.requests.at(-1)?.path).toBe(
      '/api/v4/projects/infra%2Fansible/repository/files/vars%2Fversionlock.yml',
    );
    expect(fake.requests.at(-1)?.query.get('ref')).toBe(main);
  });

  it('opens an MR with comma-joined labels and remove_source_branch', async () => {
    await repo.commitToBranch('opsbot/a', { 'x.txt': 'x\n' }, 'x');
    const mr = await forge.openMergeRequest('infra/ansible', {
      sourceBranch: 'opsbot/a',
      targetBranch: 'main',
      title: 'T',
      description: 'D',
      labels: ['opsbot', 'versionlock'],
    });
    expect(mr.url).toBe(`${fake.host}/infra/ansible/-/merge_requests/${mr.number}`);
    const body = JSON.parse(fake.requestsTo('POST', /merge_requests$/)[0]?.body ?? '{}');
    expect(body).toMatchObject({
      source_branch: 'opsbot/a',
      target_branch: 'main',
      title: 'T',
      description: 'D',
      labels: 'opsbot,versionlock',
      remove_source_branch: true,
    });
  });

  it('tells a missing project from a missing branch or file', async () => {
    const scoped = createGitlabForge({ host: fake.host, token: SCOPED });
    expect(await scoped.getBranchHead('infra/other', 'nope')).toBeNull();
    expect(await scoped.getFile('infra/other', 'nope.txt', 'main')).toBeNull();
    const err = await catchErr(scoped.getBranchHead('infra/ansible', 'main'));
    expect(err.code).toBe('not_found');
    expect(err.userMessage).toBe('repository infra/ansible not found on GitLab (or the token cannot see it)');
    // "404 Commit Not Found" (the ref is missing) is not "the file does not exist".
    const ref = await catchErr(scoped.getFile('infra/other', 'README.md', 'no-such-branch'));
    expect(ref.code).toBe('not_found');
    expect(ref.userMessage).toBe('ref no-such-branch not found in infra/other on GitLab');
  });

  it('passes on why GitLab refused a write (protected branch), without the token', async () => {
    fake.inject(
      { method: 'POST', path: /repository\/commits$/ },
      {
        kind: 'respond',
        status: 403,
        json: { message: '403 Forbidden - You are not allowed to push into this branch' },
      },
    );
    const err = await catchErr(
      forge.createBranchWithCommit({
        repo: 'infra/ansible',
        branch: 'opsbot/p',
        startSha: main,
        message: 'm',
        actions: [{ action: 'create', path: 'n.txt', content: 'n\n' }],
      }),
    );
    expect(err.userMessage).toBe(
      'the GitLab token lacks write access to infra/ansible (GitLab said: "403 Forbidden - You are not allowed to push into this branch")',
    );
    expect(JSON.stringify(err.details)).not.toContain(TOKEN);
  });

  it('follows pagination when finding the open MR for a branch', async () => {
    await repo.commitToBranch('opsbot/a', { 'x.txt': 'x\n' }, 'x');
    // 25 target branches in one git process (branches pointing at main; what is paged is the MR list).
    const main = (await repo.revParse('refs/heads/main')) as string;
    const creates = Array.from({ length: 25 }, (_, i) => `create refs/heads/release-${i} ${main}\n`);
    await repo.git(['update-ref', '--stdin'], { input: creates.join('') });
    for (let i = 0; i < 25; i++) {
      await forge.openMergeRequest('infra/ansible', {
        sourceBranch: 'opsbot/a',
        targetBranch: `release-${i}`,
        title: `t${i}`,
        description: '',
        labels: [],
      });
    }
    fake.setMaxPerPage(10);
    const found = await forge.findOpenMergeRequest('infra/ansible', 'opsbot/a');
    expect(found?.title).toBe('t0');
    const lists = fake.requestsTo('GET', /merge_requests$/);
    expect(lists.map((r) => r.query.get('page'))).toEqual([null, '2', '3']);
    expect(lists[0]?.query.get('source_branch')).toBe('opsbot/a');
    expect(lists[0]?.query.get('state')).toBe('opened');
  });

  it('createForge needs GITLAB_TOKEN', () => {
    expect(() => createForge('gitlab', { gitlab: { host: fake.host }, timeoutMs: 1000 }, {})).toThrow(
      /GITLAB_TOKEN is not set/,
    );
    expect(
      createForge('gitlab', { gitlab: { host: fake.host }, timeoutMs: 1000 }, { GITLAB_TOKEN: TOKEN }).kind,
    ).toBe('gitlab');
  });
});
