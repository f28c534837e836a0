import { describe, expect, it } from 'vitest';
import { signGithubPayload, verifyGithubSignature } from '../../../src/integrations/github/webhook.js';
import { verifyGitlabToken } from '../../../src/integrations/gitlab/webhook.js';
import { cleanLogTail } from '../../../src/playbooks/pipelines/log-text.js';
import { githubWebOf, parseMrRef } from '../../../src/playbooks/pipelines/mr-ref.js';
import { githubLog } from '../../fakes/github-actions.js';
import { gitlabTrace } from '../../fakes/gitlab-ci.js';

const hosts = { gitlab: 'https://gitlab.example.com', github: 'https://github.com' };

describe('job log tails', () => {
  it('GitLab: section markers, colours, erase-line codes and progress bars go; the last lines stay', () => {
    const raw = gitlabTrace(
      [
        '$ make',
        'Fetching 1%\rFetching 50%\rFetching 100%',
        '\u001b[1;31mboom\u001b[0m at \u001b]8;;https://x\u0007link\u001b]8;;\u0007',
      ],
      2,
    );
    const lines = cleanLogTail(raw, { lines: 30 });
    expect(lines).toContain('Fetching 100%');
    expect(lines).toContain('boom at link');
    expect(lines.at(-1)).toBe('ERROR: Job failed: exit code 2');
    const all = lines.join('\n');
    expect(all).not.toMatch(/section_(start|end)/);
    expect(all.includes('\u001b') || all.includes('\r')).toBe(false);
    expect(lines).toContain('Preparing the "docker" executor');
  });

  it('GitHub: per-line timestamps and ##[group]/##[error] commands become plain text', () => {
    const lines = cleanLogTail(githubLog(['npm test', 'not ok 1'], true), { lines: 30 });
    expect(lines).toContain('Run ./ci/test.sh');
    expect(lines).toContain('Error: Process completed with exit code 1.');
    expect(lines.join('\n')).not.toMatch(/^\d{4}-\d{2}-\d{2}T/m);
    expect(lines.join('\n')).not.toContain('##[');
  });

  it('keeps the last N non-empty lines and scrubs secrets after cleaning (a secret split by colour codes too)', () => {
    const raw = `${Array.from({ length: 100 }, (_, i) => `line ${i}`).join('\n')}\n\ntoken=s3cr\u001b[0met-value\n\n`;
    const lines = cleanLogTail(raw, { lines: 5, scrub: (t) => t.split('s3cret-value').join('[REDACTED]') });
    expect(lines).toEqual(['line 96', 'line 97', 'line 98', 'line 99', 'token=[REDACTED]']);
    expect(cleanLogTail(raw, { lines: 0 })).toEqual([]);
  });
});

describe('/pipeline merge request references', () => {
  it('reads group/project!N, owner/repo#N and MR / PR URLs of the configured forges', () => {
    expect(parseMrRef('infra/ansible!42', hosts)).toEqual({
      ok: true,
      ref: { forge: 'gitlab', repo: 'infra/ansible', number: 42 },
      url: null,
    });
    expect(parseMrRef('group/sub/project!7', hosts)).toMatchObject({ ref: { repo: 'group/sub/project' } });
    expect(parseMrRef('acme/infra#3', hosts)).toMatchObject({
      ref: { forge: 'github', repo: 'acme/infra', number: 3 },
    });
    expect(parseMrRef('https://gitlab.example.com/infra/ansible/-/merge_requests/42/diffs', hosts)).toEqual({
      ok: true,
      ref: { forge: 'gitlab', repo: 'infra/ansible', number: 42 },
      url: 'https://gitlab.example.com/infra/ansible/-/merge_requests/42',
    });
    expect(parseMrRef('<https://github.com/acme/infra/pull/9/files|acme/infra#9>', hosts)).toMatchObject({
      ok: true,
      ref: { forge: 'github', repo: 'acme/infra', number: 9 },
    });
    const sub = { gitlab: 'https://example.com/gitlab/', github: null };
    expect(parseMrRef('https://example.com/gitlab/a/b/-/merge_requests/1', sub)).toMatchObject({
      ref: { repo: 'a/b' },
    });
  });

  it('refuses other hosts, other pages and odd names, saying why', () => {
    expect(parseMrRef('https://evil.example.com/a/b/-/merge_requests/1', hosts)).toMatchObject({
      ok: false,
      problem: expect.stringContaining('evil.example.com is not a forge'),
    });
    expect(parseMrRef('https://github.com/acme/infra/issues/9', hosts)).toMatchObject({ ok: false });
    expect(parseMrRef('../etc!1', hosts)).toMatchObject({ ok: false });
    expect(parseMrRef('acme/infra#0', hosts)).toMatchObject({ ok: false });
    expect(parseMrRef('javascript:alert(1)', hosts)).toMatchObject({ ok: false });
    expect(parseMrRef('42', hosts)).toMatchObject({
      ok: false,
      problem: expect.stringContaining('group/project!42'),
    });
  });

  it('finds the web origin of a GitHub API URL', () => {
    expect(githubWebOf('https://api.github.com')).toBe('https://github.com');
    expect(githubWebOf('https://ghe.example.com/api/v3/')).toBe('https://ghe.example.com');
  });
});

describe('webhook authentication', () => {
  it('GitLab token: exact match with any accepted secret, nothing else', () => {
    expect(verifyGitlabToken('s3cret-one', ['s3cret-one', 'old-secret'])).toBe(true);
    expect(verifyGitlabToken('old-secret', ['s3cret-one', 'old-secret'])).toBe(true);
    for (const bad of [undefined, '', 's3cret-on', 's3cret-one ', 'S3CRET-ONE']) {
      expect(verifyGitlabToken(bad, ['s3cret-one'])).toBe(false);
    }
    expect(verifyGitlabToken('anything', [])).toBe(false);
  });

  it('GitHub signature: HMAC-SHA256 of the exact bytes, with any accepted secret', () => {
    const body = Buffer.from('{"action":"completed"}');
    expect(verifyGithubSignature(body, signGithubPayload('new', body), ['new', 'old'])).toBe(true);
    expect(verifyGithubSignature(body, signGithubPayload('old', body), ['new', 'old'])).toBe(true);
    expect(
      verifyGithubSignature(Buffer.from('{"action": "completed"}'), signGithubPayload('new', body), ['new']),
    ).toBe(false);
    expect(
      verifyGithubSignature(body, signGithubPayload('new', body).replace('sha256=', 'sha1='), ['new']),
    ).toBe(false);
    expect(verifyGithubSignature(body, 'sha256=zz', ['new'])).toBe(false);
    expect(verifyGithubSignature(body, undefined, ['new'])).toBe(false);
  });
});
