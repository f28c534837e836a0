import { generateKeyPairSync } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IntegrationError } from '../../../src/core/errors.js';
import { createForge } from '../../../src/integrations/forge/create.js';
import { createGithubForge } from '../../../src/integrations/github/adapter.js';
import { createBareRepo, type GitRepo } from '../../fakes/git-repo.js';
import { type FakeGithub, startFakeGithub } from '../../fakes/github.js';

const TOKEN = 'ghp_test_write_token_0123456789';

const keyPair = () =>
  generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });

const catchErr = async (p: Promise<unknown>): Promise<IntegrationError> => {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(IntegrationError);
    return err as IntegrationError;
  }
  throw new Error('expected the call to fail');
};

describe('GitHub adapter', () => {
  let repo: GitRepo;
  let fake: FakeGithub;
  const app = keyPair();
  const installationId = 4242;

  beforeEach(async () => {
    repo = await createBareRepo({
      'inventory/versionlock.list': 'elasticsearch-0:7.10.1-1.*\n',
      'big/blob.txt': `${'x'.repeat(2000)}\nend\n`,
    });
    fake = await startFakeGithub({
      repos: { 'infra/ansible': repo },
      tokens: { [TOKEN]: { access: 'write' } },
      apps: [{ appId: 1234, publicKey: app.publicKey, installationId }],
      contentsLimit: 1024, // stands in for GitHub's 1 MB limit on the contents API
    });
  });
  afterEach(async () => {
    await fake.close();
    await repo.cleanup();
  });

  it('authenticates as a GitHub App installation with an RS256 JWT, then reuses the installation token', async () => {
    const forge = createGithubForge({
      baseUrl: fake.baseUrl,
      app: { appId: 1234, privateKey: app.privateKey, installationId },
    });
    const f = await forge.getFile('infra/ansible', 'inventory/versionlock.list', 'main');
    expect(f?.content).toBe('elasticsearch-0:7.10.1-1.*\n');
    const head = await forge.getBranchHead('infra/ansible', 'main');
    expect(head).toBe(await repo.revParse('refs/heads/main'));

    const exchanges = fake.requestsTo('POST', /^\/app\/installations\/4242\/access_tokens$/);
    expect(exchanges).toHaveLength(1);
    expect(exchanges[0]?.headers.authorization).toMatch(/^bearer [\w-]+\.[\w-]+\.[\w-]+$/i);
    expect(fake.issuedTokens).toHaveLength(1);
    const used = fake.requests.filter((r) => r.path.includes('/repos/'));
    expect(used.length).toBeGreaterThanOrEqual(2);
    for (const r of used) expect(r.headers.authorization).toBe(`token ${fake.issuedTokens[0]}`);
  });

  it('a JWT signed by another key is refused with an actionable message, no key material in it', async () => {
    const other = keyPair();
    const forge = createGithubForge({
      baseUrl: fake.baseUrl,
      app: { appId: 1234, privateKey: other.privateKey, installationId },
    });
    const err = await catchErr(forge.getFile('infra/ansible', 'inventory/versionlock.list', 'main'));
    expect(err.status).toBe(401);
    expect(err.userMessage).toContain('GitHub token is invalid or expired');
    expect(err.userMessage).toContain('GITHUB_APP_PRIVATE_KEY');
    expect(JSON.stringify(err.details)).not.toContain('PRIVATE KEY');
    expect(fake.issuedTokens).toHaveLength(0);
  });

  it('createForge picks the App when appId + installationId + key are configured', async () => {
    const forge = createForge(
      'github',
      { github: { baseUrl: fake.baseUrl, appId: 1234, installationId }, timeoutMs: 5_000 },
      { GITHUB_APP_PRIVATE_KEY: app.privateKey, GITHUB_TOKEN: 'unused' },
    );
    expect(await forge.getBranchHead('infra/ansible', 'main')).toMatch(/^[0-9a-f]{40}$/);
    expect(fake.issuedTokens).toHaveLength(1);
  });

  it('reads files above the contents API limit through the blob API', async () => {
    const forge = createGithubForge({ baseUrl: fake.baseUrl, token: TOKEN });
    const f = await forge.getFile('infra/ansible', 'big/blob.txt', 'main');
    expect(f?.content).toBe(`${'x'.repeat(2000)}\nend\n`);
    expect(fake.requestsTo('GET', /\/git\/blobs\/[0-9a-f]{40}$/)).toHaveLength(1);
  });

  it('a directory is not a file', async () => {
    const forge = createGithubForge({ baseUrl: fake.baseUrl, token: TOKEN });
    const err = await catchErr(forge.getFile('infra/ansible', 'inventory', 'main'));
    expect(err.code).toBe('bad_input');
    expect(err.userMessage).toBe('inventory in infra/ansible at main is not a file');
  });

  it('honours a secondary rate limit (403 + Retry-After) and a primary one (x-ratelimit-reset)', async () => {
    const forge = createGithubForge({ baseUrl: fake.baseUrl, token: TOKEN });
    fake.inject(
      { method: 'GET', path: /\/contents\// },
      {
        kind: 'respond',
        status: 403,
        headers: { 'retry-after': '1' },
        json: {
          message:
            'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.',
        },
      },
    );
    let t0 = Date.now();
    await forge.getFile('infra/ansible', 'inventory/versionlock.list', 'main');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);

    const reset = Math.floor(Date.now() / 1000) + 2;
    fake.inject(
      { method: 'GET', path: /\/git\/ref\// },
      {
        kind: 'respond',
        status: 403,
        headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset) },
        json: { message: 'API rate limit exceeded for user ID 1.' },
      },
    );
    t0 = Date.now();
    expect(await forge.getBranchHead('infra/ansible', 'main')).toMatch(/^[0-9a-f]{40}$/);
    expect(Date.now()).toBeGreaterThanOrEqual(reset * 1000 - 5);
  });

  it('finds PRs with head=owner:branch, follows pagination, and labels new PRs', async () => {
    const forge = createGithubForge({ baseUrl: fake.baseUrl, token: TOKEN });
    const main = (await repo.revParse('refs/heads/main')) ?? '';
    const res = await forge.createBranchWithCommit({
      repo: 'infra/ansible',
      branch: 'opsbot/x',
      startSha: main,
      message: 'm',
      actions: [{ action: 'create', path: 'a.txt', content: 'a\n' }],
    });
    expect(res.webUrl).toBe(`${fake.baseUrl.replace('/api/v3', '')}/infra/ansible/commit/${res.sha}`);
    const mr = await forge.openMergeRequest('infra/ansible', {
      sourceBranch: 'opsbot/x',
      targetBranch: 'main',
      title: 't',
      description: 'd',
      labels: ['opsbot'],
    });
    expect(fake.pulls[0]?.labels).toEqual(['opsbot']);
    // 25 other open PRs from the same branch (to release branches) listed first: three pages of 10.
    const template = fake.pulls[0];
    if (!template) throw new Error('no PR stored');
    fake.pulls.length = 0;
    for (let i = 0; i < 25; i++)
      fake.pulls.push({ ...structuredClone(template), number: 100 + i, base: `release-${i}` });
    fake.pulls.push(template);
    fake.setMaxPerPage(10);
    const found = await forge.findOpenMergeRequest('infra/ansible', 'opsbot/x');
    expect(found?.sourceBranch).toBe('opsbot/x');
    expect(found?.number).toBe(100);
    expect(fake.requestsTo('GET', /\/pulls$/).map((r) => r.query.get('page'))).toEqual([null, '2', '3']);
    expect(mr.number).toBe(1);
    const list = fake.requestsTo('GET', /\/pulls$/);
    expect(list.at(-1)?.query.get('head')).toBe('infra:opsbot/x');
    expect(list.at(-1)?.query.get('state')).toBe('open');
  });

  it('refuses a repository name that is not owner/name', async () => {
    const forge = createGithubForge({ baseUrl: fake.baseUrl, token: TOKEN });
    await expect(forge.getFile('group/sub/repo', 'a', 'main')).rejects.toMatchObject({ code: 'bad_input' });
  });
});
