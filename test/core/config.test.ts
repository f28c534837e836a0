import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config.js';
import { AppError } from '../../src/core/errors.js';

const files = (map: Record<string, string>) => (p: string) => {
  const v = map[p];
  if (v === undefined) throw new Error(`ENOENT ${p}`);
  return v;
};

describe('loadConfig', () => {
  it('defaults everything when there is no file', () => {
    const cfg = loadConfig({}, null);
    expect(cfg.slack.mode).toBe('http');
    expect(cfg.http.port).toBe(3000);
    expect(Object.isFrozen(cfg.slack)).toBe(true);
  });

  it('lets SLACK_API_URL and PORT override the file', () => {
    const cfg = loadConfig({ SLACK_API_URL: 'http://127.0.0.1:9999/api', PORT: '8080' }, 'c.yaml', {
      readFile: files({ 'c.yaml': 'slack:\n  apiUrl: https://slack-gov.com/api/\n' }),
    });
    expect(cfg.slack.apiUrl).toBe('http://127.0.0.1:9999/api/');
    expect(cfg.http.port).toBe(8080);
  });

  it('bounds the Retry-After a Slack call waits out: 30 s unless slack.maxRetryAfterMs says otherwise', () => {
    expect(loadConfig({}, null).slack.maxRetryAfterMs).toBe(30_000);
    const set = files({ 'c.yaml': 'slack:\n  maxRetryAfterMs: 2000\n' });
    expect(loadConfig({}, 'c.yaml', { readFile: set }).slack.maxRetryAfterMs).toBe(2_000);
    const negative = files({ 'c.yaml': 'slack:\n  maxRetryAfterMs: -1\n' });
    expect(() => loadConfig({}, 'c.yaml', { readFile: negative })).toThrow(/slack\.maxRetryAfterMs/);
  });

  it('names the wrong key and what is expected', () => {
    const read = files({ 'c.yaml': 'slack:\n  mode: carrier-pigeon\n' });
    expect(() => loadConfig({}, 'c.yaml', { readFile: read })).toThrow(/slack\.mode/);
  });

  it('refuses an unknown key instead of ignoring a typo', () => {
    const read = files({ 'c.yaml': 'slak:\n  mode: http\n' });
    expect(() => loadConfig({}, 'c.yaml', { readFile: read })).toThrow(/slak|Unrecognized/);
  });

  it('requires the signing secret in http mode and the app token in socket mode', () => {
    expect(() => loadConfig({ SLACK_BOT_TOKEN: 'xoxb-1-2-abc' }, null, { requireSlack: true })).toThrow(
      /SLACK_SIGNING_SECRET/,
    );
    const socket = files({ 'c.yaml': 'slack:\n  mode: socket\n' });
    expect(() =>
      loadConfig({ SLACK_BOT_TOKEN: 'xoxb-1-2-abc', SLACK_SIGNING_SECRET: 'abcdef123' }, 'c.yaml', {
        requireSlack: true,
        readFile: socket,
      }),
    ).toThrow(/SLACK_APP_TOKEN/);
  });

  it('needs a forge credential only for forges that targets use, and names the missing variable', () => {
    const slackEnv = { SLACK_BOT_TOKEN: 'xoxb-1-2-abc', SLACK_SIGNING_SECRET: 'abcdef123' };
    const forges =
      'forges:\n  gitlab:\n    host: https://gitlab.example.com\n  github:\n    baseUrl: https://api.github.com\n';
    const gitlabTarget = '  - { name: el7, forge: gitlab, repo: infra/ansible, path: v.list, format: yum }\n';
    const githubTarget = '  - { name: el9, forge: github, repo: acme/infra, path: v.list, format: dnf }\n';
    // GitHub configured, used by no target, no GITHUB_TOKEN: starts.
    const onlyGitlab = files({ 'c.yaml': `${forges}targets:\n  versionlock:\n${gitlabTarget}` });
    expect(
      loadConfig({ ...slackEnv, GITLAB_TOKEN: 'glpat-x' }, 'c.yaml', {
        requireSlack: true,
        readFile: onlyGitlab,
      }).forges.github,
    ).toBeDefined();
    const both = files({ 'c.yaml': `${forges}targets:\n  versionlock:\n${gitlabTarget}${githubTarget}` });
    expect(() =>
      loadConfig({ ...slackEnv, GITLAB_TOKEN: 'glpat-x' }, 'c.yaml', { requireSlack: true, readFile: both }),
    ).toThrow(/GITHUB_TOKEN is not set: target "el9" uses GitHub/);
    // A GitHub App key alone is not a credential: without appId/installationId the adapter would need the token.
    expect(() =>
      loadConfig({ ...slackEnv, GITLAB_TOKEN: 'glpat-x', GITHUB_APP_PRIVATE_KEY: 'pem' }, 'c.yaml', {
        requireSlack: true,
        readFile: both,
      }),
    ).toThrow(/GITHUB_TOKEN is not set/);
    expect(() =>
      loadConfig({ ...slackEnv, GITHUB_TOKEN: 'ghp_x' }, 'c.yaml', { requireSlack: true, readFile: both }),
    ).toThrow(/GITLAB_TOKEN is not set: target "el7" uses GitLab/);
  });

  it('reads a secret from NAME_FILE and refuses NAME and NAME_FILE together', () => {
    const read = files({ '/run/secrets/bot': 'xoxb-from-file\n' });
    const cfg = loadConfig({ SLACK_BOT_TOKEN_FILE: '/run/secrets/bot' }, null, { readFile: read });
    expect(cfg.secrets.SLACK_BOT_TOKEN).toBe('xoxb-from-file');
    expect(() =>
      loadConfig({ SLACK_BOT_TOKEN_FILE: '/run/secrets/bot', SLACK_BOT_TOKEN: 'xoxb-x' }, null, {
        readFile: read,
      }),
    ).toThrow(AppError);
  });

  it('requires a configured forge for every target that uses it', () => {
    const read = files({
      'c.yaml': [
        'targets:',
        '  versionlock:',
        '    - name: el7',
        '      forge: gitlab',
        '      repo: infra/ansible',
        '      path: files/versionlock.list',
        '      format: yum',
      ].join('\n'),
    });
    expect(() => loadConfig({}, 'c.yaml', { readFile: read })).toThrow(/forges\.gitlab is not configured/);
  });
});
