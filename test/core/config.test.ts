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
