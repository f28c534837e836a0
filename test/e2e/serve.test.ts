import { EventEmitter } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningOpsbot, startOpsbot } from '../../src/main.js';
import { type FakeSlack, startFakeSlack } from '../fakes/slack.js';
import { SLACK_ACK_DEADLINE_MS } from '../fakes/slack-socket.js';
import {
  BOT_TOKEN,
  captureLines,
  gate,
  postSigned,
  SIGNING_SECRET,
  slashBody,
  standInWhyReboot,
  tempDir,
  writeConfig,
} from './helpers.js';

const ACCESS_YAML = `
access:
  commands:
    versionlock:
      users: [U0ALICE]
      groups: [S0SRE]
      channels: [C0OPS]
`;

/** A full report long enough to need several thread replies. */
const LONG_REPORT = `${'timeline line\n'.repeat(400)}end`;

describe('opsbot serve in HTTP mode, over the wire', () => {
  let fake: FakeSlack;
  let bot: RunningOpsbot;
  let clock = Date.now();
  const tmp = tempDir();
  const logs = captureLines();
  const whyReboot = standInWhyReboot({ fullReport: LONG_REPORT });

  beforeAll(async () => {
    fake = await startFakeSlack({ token: BOT_TOKEN });
    fake.setUserGroup('S0SRE', ['U0CAROL']);
    const configPath = writeConfig(tmp.dir, `store:\n  dataDir: ${tmp.dir}/data\n${ACCESS_YAML}`);
    bot = await startOpsbot({
      env: {
        SLACK_BOT_TOKEN: BOT_TOKEN,
        SLACK_SIGNING_SECRET: SIGNING_SECRET,
        SLACK_API_URL: fake.apiUrl,
        PORT: '0',
      },
      configPath,
      destination: logs,
      host: '127.0.0.1',
      now: () => clock,
      whyReboot,
    });
    // Startup checks Slack once (readiness warm-up); let it land so later call counts are exact.
    await fake.waitFor(() => fake.callsOf('auth.test').length > 0);
  });

  afterAll(async () => {
    await bot?.stop();
    await fake?.close();
    tmp.cleanup();
  });

  it('answers /opsbot help in the ack itself (ephemeral, every command listed), with no Slack call, and audits it', async () => {
    const callsBefore = fake.calls.length;
    const r = await postSigned(
      bot.port,
      slashBody({ command: '/opsbot', text: 'help', response_url: fake.responseUrl('help-1') }),
    );
    expect(r.status).toBe(200);
    // The promise is Slack's: an ack later than 3 s shows the user "operation_timeout".
    expect(r.ms).toBeLessThan(SLACK_ACK_DEADLINE_MS);
    const ack = JSON.parse(r.text) as { response_type: string; text: string; blocks: unknown[] };
    expect(ack.response_type).toBe('ephemeral');
    const rendered = JSON.stringify(ack.blocks);
    for (const c of ['/why-reboot', '/versionlock', '/tf-import', '/amend', '/opsbot'])
      expect(rendered).toContain(c);
    expect(rendered).toContain('/why-reboot web-1');
    await expect
      .poll(async () => (await bot.store.audit.list({ command: 'opsbot' })).map((a) => a.outcome))
      .toEqual(['ok']);
    expect(fake.calls.length).toBe(callsBefore);
    expect(fake.responses.some((x) => x.id === 'help-1')).toBe(false);
  });

  it('answers a command with bad arguments with its usage, not a stack trace', async () => {
    const r = await postSigned(
      bot.port,
      slashBody({ command: '/why-reboot', text: 'Web_1!!', response_url: fake.responseUrl('bad-1') }),
    );
    const text = String((JSON.parse(r.text) as { text: string }).text);
    expect(text).toContain('not a Compute Engine instance name');
    expect(text).toContain('/why-reboot &lt;vm&gt; [--project P]');
    expect(text).not.toMatch(/\bat .*\.(ts|js):\d+/);
    expect(fake.callsOf('chat.postMessage')).toHaveLength(0);
    await expect
      .poll(async () => (await bot.store.audit.list({ command: 'why-reboot' })).map((a) => a.outcome))
      .toEqual(['bad_input']);
  });

  it('refuses a command outside its access rule with an ephemeral answer naming who may run it, and audits it', async () => {
    const before = fake.callsOf('chat.postMessage').length;
    await postSigned(
      bot.port,
      slashBody({
        command: '/versionlock',
        text: 'add es-7.1',
        user_id: 'U0BOB',
        response_url: fake.responseUrl('deny-1'),
      }),
    );
    const answer = await fake.waitFor(() => fake.responses.find((x) => x.id === 'deny-1'));
    expect(answer.body.response_type).toBe('ephemeral');
    expect(String(answer.body.text)).toContain(
      '/versionlock is limited to <!subteam^S0SRE> or <@U0ALICE> in <#C0OPS>',
    );
    expect(fake.callsOf('usergroups.users.list').map((c) => c.args.usergroup)).toEqual(['S0SRE']);
    expect(fake.callsOf('chat.postMessage').length).toBe(before);
    await expect
      .poll(async () => (await bot.store.audit.list({ actorId: 'U0BOB' })).map((a) => [a.command, a.outcome]))
      .toEqual([['versionlock', 'refused']]);
  });

  it('lets a member of the allowed user group through (pending command answers "not configured")', async () => {
    await postSigned(
      bot.port,
      slashBody({
        command: '/versionlock',
        text: 'add es-7.1',
        user_id: 'U0CAROL',
        response_url: fake.responseUrl('carol'),
      }),
    );
    // Carol is only in the group: the lookup needs Slack, so the ack is empty and the answer follows.
    const answer = await fake.waitFor(() => fake.responses.find((x) => x.id === 'carol'));
    expect(String(answer.body.text)).toContain('not configured');
    await expect
      .poll(async () => (await bot.store.audit.list({ actorId: 'U0CAROL' })).map((a) => a.outcome))
      .toEqual(['nothing_to_do']);
  });

  it.each([
    ['a bad signature', { secret: 'not-the-secret' }],
    ['a stale timestamp', { timestampSeconds: Date.now() / 1000 - 6 * 60 }],
    ['missing headers', { unsigned: true }],
  ])('answers %s with 401 and acts on nothing (no answer, no audit row)', async (label, opts) => {
    const user = `U0${label.replaceAll(' ', '').toUpperCase().slice(0, 10)}`;
    const send = (responseId: string, signing: typeof opts | undefined) =>
      postSigned(
        bot.port,
        slashBody({
          command: '/versionlock',
          text: 'add es-7.1',
          user_id: user,
          response_url: fake.responseUrl(responseId),
        }),
        signing,
      );
    expect((await send(`forged-${label}`, opts)).status).toBe(401);
    // Barrier: the same command, signed, from the same user, sent after the forged one was answered. Both
    // would take the same path (authorize with a user-group lookup, refuse, answer, audit last), so once the
    // signed one's audit row exists anything the forged one had set off would have landed too.
    expect((await send(`signed-${label}`, undefined)).status).toBe(200);
    await expect
      .poll(async () => (await bot.store.audit.list({ actorId: user })).map((a) => a.outcome))
      .toEqual(['refused']);
    expect(fake.responses.filter((x) => x.id === `forged-${label}`)).toEqual([]);
  });

  it('posts /why-reboot progress in the channel (retrying a 429 after Retry-After), updates it, and threads the full report', async () => {
    fake.failNext('chat.postMessage', { status: 429, retryAfter: 1 }, 1);
    const r = await postSigned(
      bot.port,
      slashBody({
        command: '/why-reboot',
        text: 'web-1 --project shop-prod --since 2d',
        response_url: fake.responseUrl('wr'),
      }),
    );
    expect(r.status).toBe(200);
    // The progress message is the thread root; it may already carry the verdict when we look.
    const root = await fake.waitFor(
      () => fake.messages.find((m) => m.threadTs === null && m.channel === 'C0OPS'),
      8000,
    );
    const posts = fake.callsOf('chat.postMessage');
    expect(String(posts[0]?.args.text)).toBe('Investigating web-1 ...');
    expect(String(posts[1]?.args.text)).toBe('Investigating web-1 ...');
    expect(posts.length).toBeGreaterThanOrEqual(2); // the 429, then the retry after Retry-After
    expect((posts[1]?.at ?? 0) - (posts[0]?.at ?? 0)).toBeGreaterThanOrEqual(900);
    await fake.waitFor(() => root.updates > 0, 8000);
    expect(root.text).toContain('host error');
    const replies = await fake.waitFor(() => {
      const t = fake.messages.filter((m) => m.threadTs === root.ts);
      return t.length >= 2 ? t : null;
    }, 15_000);
    for (const m of replies) expect(JSON.stringify(m.blocks).length).toBeLessThan(3200);
    const req = whyReboot.requests[0] as { window: { from: Date; to: Date } };
    expect(req.window.to.getTime() - req.window.from.getTime()).toBe(2 * 86_400_000);
  });

  it('serves /healthz, /readyz (503 naming Slack when auth.test fails) and /metrics', async () => {
    const base = `http://127.0.0.1:${bot.port}`;
    const counter = async (labels: string) => {
      const m = new RegExp(`opsbot_commands_total\\{${labels}\\} (\\d+)`).exec(
        await (await fetch(`${base}/metrics`)).text(),
      );
      return Number(m?.[1] ?? 0);
    };
    const helpBefore = await counter('command="opsbot",outcome="ok"');
    const refusedBefore = await counter('command="versionlock",outcome="refused"');
    await postSigned(
      bot.port,
      slashBody({ command: '/opsbot', text: 'help', response_url: fake.responseUrl() }),
    );
    await postSigned(
      bot.port,
      slashBody({
        command: '/versionlock',
        text: 'add es-7.1',
        user_id: 'U0MALLORY',
        response_url: fake.responseUrl(),
      }),
    );
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    fake.setAuthTestError('invalid_auth');
    clock += 31_000;
    const notReady = await fetch(`${base}/readyz`);
    expect(notReady.status).toBe(503);
    const body = (await notReady.json()) as { checks: Record<string, { ok: boolean; error?: string }> };
    expect(body.checks.slack).toEqual({ ok: false, error: 'invalid_auth' });
    expect(body.checks.store).toEqual({ ok: true });
    fake.setAuthTestError(null);
    clock += 31_000;
    // Counted once each (the refusal needs a user-group lookup, so it lands after its ack).
    await expect.poll(() => counter('command="opsbot",outcome="ok"')).toBe(helpBefore + 1);
    await expect.poll(() => counter('command="versionlock",outcome="refused"')).toBe(refusedBefore + 1);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('opsbot_ack_duration_seconds_count');
    expect(metrics).toContain('process_cpu_user_seconds_total');
  });
});

describe('shutdown', () => {
  it('on SIGTERM stops accepting, finishes the command in flight, closes the store and reports exit 0', async () => {
    const fake = await startFakeSlack({ token: BOT_TOKEN });
    const tmp = tempDir();
    const signals = new EventEmitter();
    let exitCode: number | null = null;
    const held = gate(); // the investigation stays in flight until the test opens it
    const bot = await startOpsbot({
      env: {
        SLACK_BOT_TOKEN: BOT_TOKEN,
        SLACK_SIGNING_SECRET: SIGNING_SECRET,
        SLACK_API_URL: fake.apiUrl,
        PORT: '0',
      },
      configPath: writeConfig(tmp.dir, `store:\n  dataDir: ${tmp.dir}/data\n`),
      destination: captureLines(),
      host: '127.0.0.1',
      signals,
      onShutdown: (code) => {
        exitCode = code;
      },
      whyReboot: standInWhyReboot({ hold: held.wait, fullReport: LONG_REPORT }),
    });
    try {
      const r = await postSigned(
        bot.port,
        slashBody({ command: '/why-reboot', text: 'web-2', response_url: fake.responseUrl() }),
      );
      expect(r.status).toBe(200);
      await fake.waitFor(() => fake.messages.find((m) => m.text.startsWith('Investigating web-2')));
      signals.emit('SIGTERM');
      // Draining: no longer ready, but not exited while the investigation is in flight.
      await expect
        .poll(async () => (await fetch(`http://127.0.0.1:${bot.port}/readyz`).catch(() => null))?.status ?? 0)
        .not.toBe(200);
      expect(exitCode).toBeNull();
      held.open();
      await fake.waitFor(() => exitCode !== null, 8000);
      expect(exitCode).toBe(0);
      // The investigation finished before the store closed: its verdict replaced the progress message.
      expect(fake.messages.find((m) => m.text.includes('web-2'))?.updates).toBe(1);
      // No longer listening.
      await expect(fetch(`http://127.0.0.1:${bot.port}/healthz`)).rejects.toThrow();
      await expect(bot.store.ping()).rejects.toThrow();
    } finally {
      await bot.stop();
      await fake.close();
      tmp.cleanup();
    }
  });
});
