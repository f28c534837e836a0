import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config.js';
import { buildLogger, SecretSanitizer } from '../../src/core/logger.js';
import { secretValues } from '../../src/core/secrets.js';
import { startOpsbot } from '../../src/main.js';
import { captureLines, postSigned, SIGNING_SECRET, slashBody, tempDir, writeConfig } from '../e2e/helpers.js';
import { startFakeSlack } from '../fakes/slack.js';

const TOKEN = 'xoxb-TEST-SECRET-123456';

const parseAll = (lines: readonly string[]) =>
  lines
    .flatMap((chunk) => chunk.split('\n').filter((l) => l.trim() !== ''))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('no secret reaches a log line', () => {
  it('scrubs a token fed through config from an SDK error and a logged request', () => {
    const config = loadConfig({ SLACK_BOT_TOKEN: TOKEN, SLACK_SIGNING_SECRET: SIGNING_SECRET }, null, {
      requireSlack: true,
    });
    const sanitizer = new SecretSanitizer();
    sanitizer.register(...secretValues(config.secrets));
    const out = captureLines();
    const logger = buildLogger({ level: 'debug', sanitizer, destination: out });

    // What @slack/web-api and fetch errors look like: the token in the message and in request headers.
    const sdkError = Object.assign(new Error(`An API error occurred: invalid_auth (token ${TOKEN})`), {
      code: 'slack_webapi_platform_error',
      data: { ok: false, error: 'invalid_auth', response_metadata: { token: TOKEN } },
      request: { headers: { Authorization: `Bearer ${TOKEN}`, 'X-Other': `t=${TOKEN}` } },
    });
    logger.error({ err: sdkError }, 'slack call failed');
    logger.info(
      {
        req: {
          method: 'POST',
          url: `/api/auth.test?token=${TOKEN}`,
          headers: { authorization: `Bearer ${TOKEN}` },
        },
      },
      'request',
    );
    logger
      .child({ correlationId: 'abc' })
      .warn({ note: `config said ${config.secrets.SLACK_BOT_TOKEN}` }, 'child');

    const records = parseAll(out.lines);
    expect(records).toHaveLength(3);
    for (const line of out.lines) expect(line).not.toContain(TOKEN);
    expect(out.lines.join('')).toContain('[REDACTED]');
    expect(out.lines.join('')).not.toContain(SIGNING_SECRET);
    // The error is still useful: its code and Slack's error survive.
    expect(JSON.stringify(records[0])).toContain('invalid_auth');
  });

  describe('end to end: a running opsbot whose token Slack rejects, at debug level', () => {
    const tmp = tempDir();
    const out = captureLines();
    let stop: (() => Promise<void>) | undefined;
    let closeFake: (() => Promise<void>) | undefined;
    afterAll(async () => {
      await stop?.();
      await closeFake?.();
      tmp.cleanup();
    });

    it('logs the SDK requests and failures without the token or the signing secret', async () => {
      const fake = await startFakeSlack({ token: 'xoxb-the-real-one-999999' });
      closeFake = fake.close;
      const bot = await startOpsbot({
        env: {
          SLACK_BOT_TOKEN: TOKEN,
          SLACK_SIGNING_SECRET: SIGNING_SECRET,
          SLACK_API_URL: fake.apiUrl,
          PORT: '0',
          OPSBOT_LOG_LEVEL: 'debug',
        },
        configPath: writeConfig(tmp.dir, `store:\n  dataDir: ${tmp.dir}/data\n`),
        destination: out,
        host: '127.0.0.1',
        whyReboot: null,
      });
      stop = bot.stop;
      // /why-reboot (not wired here) answers after the ack: response_url is unreachable, so the answer falls
      // back to chat.postEphemeral, which Slack refuses (invalid_auth); readiness calls auth.test too.
      const r = await postSigned(
        bot.port,
        slashBody({ command: '/why-reboot', text: 'web-1', response_url: 'http://127.0.0.1:9/unreachable' }),
      );
      expect(r.status).toBe(200);
      await fake.waitFor(() => fake.callsOf('chat.postEphemeral').length > 0, 15_000);
      await fetch(`http://127.0.0.1:${bot.port}/readyz`);
      await bot.stop();
      const all = out.lines.join('');
      // The bad token was really sent (so it could have leaked) ...
      expect(fake.callsOf('chat.postEphemeral')[0]?.headers.authorization).toBe(`Bearer ${TOKEN}`);
      // ... and the SDK's own debug lines and our failure lines were written ...
      expect(all).toContain('slack call failed');
      expect(all).toContain('slack sdk');
      // ... yet no line carries it, and every line is JSON.
      expect(() => parseAll(out.lines)).not.toThrow();
      for (const line of out.lines) {
        expect(line).not.toContain(TOKEN);
        expect(line).not.toContain(SIGNING_SECRET);
      }
    });
  });
});
