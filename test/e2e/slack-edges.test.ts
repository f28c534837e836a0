import { createHmac } from 'node:crypto';
import { request } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/open.js';
import type { AuditRecord } from '../../src/store/types.js';
import { type FakeCompute, startFakeCompute } from '../fakes/gce-compute.js';
import { TEST_TOKEN } from '../fakes/gce-env.js';
import { type HostErrorIncident, seedHostErrorIncident, syslogEntry } from '../fakes/gce-incident.js';
import { type FakeLogging, startFakeLogging } from '../fakes/gce-logging.js';
import { type FakeSlack, startFakeSlack, validateBlocks } from '../fakes/slack.js';
import { SLACK_ACK_DEADLINE_MS } from '../fakes/slack-socket.js';
import { BOT_TOKEN, postSigned, SIGNING_SECRET, slashBody, tempDir, writeConfig } from './helpers.js';
import { type OpsbotProcess, spawnOpsbot } from './process.js';

/**
 * What reaches Slack from a real `opsbot serve` process (bin/opsbot.js, HTTP mode) when the text, the requests
 * or the timing are hostile or odd: guest log lines that try to ping the channel, arguments longer than a
 * Block Kit section, commands opsbot does not know, bodies too large or unreadable, Slack's unsigned SSL
 * probe, the first command while the Google libraries load, a Google that answers nothing, and a shutdown
 * that cuts work off. Everything is asserted on the fake Slack's recorded calls and on the audit log.
 */

const P = 'shop-prod';
/** Mentions and a link, as anyone with a shell on the VM can write them into syslog. */
const HOSTILE = '<!channel> <!here> <@U0BOSS> <!subteam^S0SRE> <http://evil.example/x|click here> & co';
const RAW_MENTION = /<!channel>|<!here>|<@U0BOSS>|<!subteam|<http:\/\/evil/;

const env = (slack: FakeSlack, extra: Record<string, string> = {}): Record<string, string> => ({
  SLACK_BOT_TOKEN: BOT_TOKEN,
  SLACK_SIGNING_SECRET: SIGNING_SECRET,
  SLACK_API_URL: slack.apiUrl,
  GOOGLE_OAUTH_ACCESS_TOKEN: TEST_TOKEN,
  PORT: '0',
  ...extra,
});

/** Everything opsbot sent to Slack: Web API arguments and response_url bodies. */
const everythingSent = (slack: FakeSlack): string =>
  JSON.stringify(slack.calls.map((c) => c.args)) + JSON.stringify(slack.responses.map((r) => r.body));

/** A TCP server that accepts connections and never answers (a Google that has gone silent). */
const startBlackHole = async (): Promise<{ url: string; close(): Promise<void> }> => {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.resume();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
};

const readAudit = async (dataDir: string, command: string): Promise<AuditRecord[]> => {
  const store = await openStore({ dataDir });
  try {
    return await store.audit.list({ command });
  } finally {
    await store.close();
  }
};

const waitReady = async (port: number, timeoutMs: number): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null);
    if (r?.status === 200) return;
    if (Date.now() > deadline) throw new Error(`/readyz not ready within ${timeoutMs} ms`);
    await new Promise((res) => setTimeout(res, 100)); // a probe interval, as a load balancer polls
  }
};

type Section = { type: string; text?: { type: string; text: string }; elements?: { text?: string }[] };
const expectWithinBlockKit = (message: { text?: unknown; blocks?: unknown }): void => {
  const blocks = (message.blocks ?? []) as Section[];
  expect(validateBlocks(blocks as unknown[])).toBeNull();
  for (const b of blocks) {
    if (b.type === 'section') expect(b.text?.text.length ?? 0).toBeLessThanOrEqual(3000);
    if (b.type === 'header') expect(b.text?.text.length ?? 0).toBeLessThanOrEqual(150);
    if (b.type === 'context')
      for (const e of b.elements ?? []) expect(e.text?.length ?? 0).toBeLessThanOrEqual(2000);
  }
};

describe('opsbot serve facing hostile text and odd requests', () => {
  let slack: FakeSlack;
  let compute: FakeCompute;
  let logging: FakeLogging;
  let incident: HostErrorIncident;
  let bot: OpsbotProcess;
  const tmp = tempDir();

  beforeAll(async () => {
    slack = await startFakeSlack({ token: BOT_TOKEN });
    compute = await startFakeCompute({ accessToken: TEST_TOKEN });
    logging = await startFakeLogging({ accessToken: TEST_TOKEN });
    incident = seedHostErrorIncident({ compute, logging }, { project: P });
    const at = (s: number) => new Date(incident.hostErrorAt.getTime() + s * 1000);
    // The attacker's lines: in the boot the report quotes, and in a line before the crash.
    logging.addEntries([
      syslogEntry(incident, at(-20), `myapp[900]: ${HOSTILE}`, 'evil-1'),
      syslogEntry(
        incident,
        at(197),
        `kernel: [    0.000000] Linux version 5.10.0-28-cloud-amd64 ${HOSTILE} #1 SMP Debian 5.10.209-2 (2024-01-31)`,
        'evil-2',
      ),
    ]);
    const configPath = writeConfig(
      tmp.dir,
      [
        'store:',
        `  dataDir: ${tmp.dir}/data`,
        'google:',
        `  defaultProject: ${P}`,
        '  endpoints:',
        `    logging: ${logging.url}`,
        `    compute: ${compute.url}`,
        '',
      ].join('\n'),
    );
    bot = await spawnOpsbot({ configPath, env: env(slack) });
  }, 120_000);

  afterAll(async () => {
    await bot?.kill('SIGKILL');
    await Promise.all([slack?.close(), compute?.close(), logging?.close()]);
    tmp.cleanup();
  });

  it('/why-reboot: guest log lines quoted in the verdict and the full report in the thread cannot ping anyone', async () => {
    const r = await postSigned(
      bot.port,
      slashBody({
        command: '/why-reboot',
        text: `${P}/${incident.zone}/web-1`,
        response_url: slack.responseUrl('wr'),
      }),
    );
    expect(r.status).toBe(200);
    const root = await slack.waitFor(() => slack.messages.find((m) => m.threadTs === null), 30_000);
    await slack.waitFor(() => (root.updates > 0 ? root : null), 60_000);
    const thread = await slack.waitFor(() => {
      const replies = slack.messages.filter((m) => m.threadTs === root.ts);
      return replies.length > 0 &&
        replies.length === replies.filter((m) => m.text.startsWith('Full report')).length
        ? replies
        : null;
    }, 30_000);
    const report = JSON.stringify(thread.map((m) => m.blocks));
    // The hostile line is in the report (so the test sees the path), escaped: shown as text, pinging no one.
    expect(report).toContain('&lt;!channel&gt; &lt;!here&gt; &lt;@U0BOSS&gt;');
    expect(report).toContain('&amp; co');
    expect(everythingSent(slack)).not.toMatch(RAW_MENTION);
  });

  it('/why-reboot with a 3,500-character argument answers with a message Slack accepts', async () => {
    for (const text of [
      'a'.repeat(3500),
      `${'<!channel>&'.repeat(320)}`,
      `web-1 --since ${'9'.repeat(3490)}`,
    ]) {
      const r = await postSigned(
        bot.port,
        slashBody({ command: '/why-reboot', text, response_url: slack.responseUrl('long') }),
      );
      expect(r.status).toBe(200);
      const ack = JSON.parse(r.text) as { text: string; blocks: unknown[] };
      expectWithinBlockKit(ack);
      expect(ack.text.length).toBeLessThanOrEqual(3000);
      expect(r.text).not.toMatch(RAW_MENTION);
    }
  });

  it('answers a slash command it does not know at once, listing the ones it knows', async () => {
    const r = await postSigned(
      bot.port,
      slashBody({ command: '/reboot-everything', text: 'now', response_url: slack.responseUrl('unknown') }),
    );
    expect(r.status).toBe(200);
    // Slack's promise: an ack later than 3 s shows the user "operation_timeout" (and this one was empty).
    expect(r.ms).toBeLessThan(SLACK_ACK_DEADLINE_MS);
    const ack = JSON.parse(r.text) as { text: string; response_type: string };
    expect(ack.response_type).toBe('ephemeral');
    expect(ack.text).toContain('/reboot-everything');
    for (const c of ['/why-reboot', '/diag', '/versionlock', '/pipeline', '/opsbot'])
      expect(ack.text).toContain(c);
  });

  it('answers a body over the size limit with 413, received by a client still sending', async () => {
    const body = slashBody({
      command: '/opsbot',
      text: 'x'.repeat(2 * 1024 * 1024),
      response_url: slack.responseUrl('big'),
    });
    const r = await postSigned(bot.port, body);
    expect(r.status).toBe(413);
    expect(r.text).toContain('body_too_large');
    // The server is still there for the next request.
    const ok = await postSigned(
      bot.port,
      slashBody({ command: '/opsbot', text: 'help', response_url: slack.responseUrl('after') }),
    );
    expect(ok.status).toBe(200);
  });

  it('answers a signed form body that is not a Slack payload with 400 at once', async () => {
    for (const body of ['%%%=%E0%A4%A&&=', 'hello', 'text=help&user_id=U0ALICE']) {
      const r = await postSigned(bot.port, body);
      expect(r.status).toBe(400);
      expect(r.ms).toBeLessThan(SLACK_ACK_DEADLINE_MS);
    }
    // Not UTF-8 at all (signed over its raw bytes, as Slack would).
    const raw = Buffer.from([...Buffer.from('command=%2Fopsbot&text='), 0xff, 0xfe]);
    const ts = Math.floor(Date.now() / 1000);
    const sig = `v0=${createHmac('sha256', SIGNING_SECRET).update(`v0:${ts}:`).update(raw).digest('hex')}`;
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: bot.port,
          path: '/slack/events',
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            'x-slack-request-timestamp': String(ts),
            'x-slack-signature': sig,
          },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end(raw);
    });
    expect(status).toBe(400);
  });

  it("answers Slack's unsigned ssl_check probe with 200, and lets nothing ride on it", async () => {
    const probe = await postSigned(bot.port, 'ssl_check=1&token=deprecated-verification-token', {
      unsigned: true,
    });
    expect(probe.status).toBe(200);
    expect(probe.text).toBe('');
    const before = slack.calls.length;
    const smuggled = await postSigned(
      bot.port,
      `ssl_check=1&${slashBody({ command: '/opsbot', text: 'help', user_id: 'U0SMUGGLER', response_url: slack.responseUrl('smuggle') })}`,
      { unsigned: true },
    );
    expect(smuggled.status).toBe(200);
    expect(smuggled.text).toBe('');
    // A later command is audited; the smuggled one never is.
    await postSigned(
      bot.port,
      slashBody({
        command: '/opsbot',
        text: 'help',
        user_id: 'U0LATER',
        response_url: slack.responseUrl('later'),
      }),
    );
    await expect
      .poll(async () => (await readAudit(join(tmp.dir, 'data'), 'opsbot')).map((a) => a.actorId), {
        timeout: 10_000,
      })
      .toContain('U0LATER');
    expect((await readAudit(join(tmp.dir, 'data'), 'opsbot')).map((a) => a.actorId)).not.toContain(
      'U0SMUGGLER',
    );
    expect(slack.calls.length).toBe(before);
  });
});

describe('opsbot serve with a Google that answers nothing', () => {
  let slack: FakeSlack;
  let google: Awaited<ReturnType<typeof startBlackHole>>;
  let bot: OpsbotProcess;
  const tmp = tempDir();

  beforeAll(async () => {
    slack = await startFakeSlack({ token: BOT_TOKEN });
    google = await startBlackHole();
    const configPath = writeConfig(
      tmp.dir,
      [
        'store:',
        `  dataDir: ${tmp.dir}/data`,
        'google:',
        `  defaultProject: ${P}`,
        '  timeouts: { instanceMs: 1500, auditLogsMs: 1500, guestLogsMs: 1500, serialMs: 1500 }',
        '  endpoints:',
        `    logging: ${google.url}`,
        `    compute: ${google.url}`,
        `    monitoring: ${google.url}`,
        '',
      ].join('\n'),
    );
    bot = await spawnOpsbot({ configPath, env: env(slack) });
  }, 120_000);

  afterAll(async () => {
    await bot?.kill('SIGKILL');
    await Promise.all([slack?.close(), google?.close()]);
    tmp.cleanup();
  });

  it('the first /why-reboot after start does not hold the ack of /opsbot help', async () => {
    // Traffic arrives once /readyz says ready (a load balancer's rule); the first /why-reboot then starts.
    await waitReady(bot.port, 90_000);
    const first = await postSigned(
      bot.port,
      slashBody({ command: '/why-reboot', text: 'web-1', response_url: slack.responseUrl('first') }),
    );
    expect(first.status).toBe(200);
    // It posts its progress message, then reads Google: from then on, /opsbot help keeps being asked.
    await slack.waitFor(() => slack.callsOf('chat.postMessage').length > 0, 10_000);
    const acks: number[] = [];
    const until = performance.now() + 3_000;
    while (performance.now() < until) {
      const help = await postSigned(
        bot.port,
        slashBody({ command: '/opsbot', text: 'help', response_url: slack.responseUrl('help') }),
      );
      expect(help.status).toBe(200);
      expect(help.text).toContain('/why-reboot');
      acks.push(help.ms);
    }
    // The bound is the issue's promise (1 s, a third of Slack's 3 s): before, the first /why-reboot loaded
    // the Compute library on the event loop and held these acks for seconds.
    expect(Math.max(...acks)).toBeLessThan(1_000);
  });

  it('when every Google source times out, Slack says no evidence could be read and the run is audited failed', async () => {
    const before = slack.callsOf('chat.update').length;
    await postSigned(
      bot.port,
      slashBody({ command: '/why-reboot', text: 'web-2', response_url: slack.responseUrl('blind') }),
    );
    const update = await slack.waitFor(
      () =>
        slack
          .callsOf('chat.update')
          .slice(before)
          .find((c) => String(c.args.text).includes('web-2')),
      60_000,
    );
    const shown = `${String(update.args.text)} ${JSON.stringify(update.args.blocks)}`;
    expect(shown).toContain('No evidence could be read');
    expect(shown).not.toContain('No restart');
    expect(shown).toMatch(/audit-logs: failed/);
    await expect
      .poll(
        async () =>
          (await readAudit(join(tmp.dir, 'data'), 'why-reboot'))
            .filter((a) => a.args === 'web-2')
            .map((a) => [a.outcome, a.detail]),
        { timeout: 10_000 },
      )
      .toEqual([['failed', expect.stringContaining('no evidence could be read')]]);
  });
});

describe('opsbot serve shutting down with work that outlasts the drain', () => {
  it('tells each cut-off user (with the ref), audits them, closes the store last and exits 0 within drainTimeoutMs + 5 s', async () => {
    const DRAIN_MS = 1_500;
    const slack = await startFakeSlack({ token: BOT_TOKEN });
    const google = await startBlackHole();
    const tmp = tempDir();
    try {
      const configPath = writeConfig(
        tmp.dir,
        [
          'store:',
          `  dataDir: ${tmp.dir}/data`,
          'http:',
          `  drainTimeoutMs: ${DRAIN_MS}`,
          'google:',
          `  defaultProject: ${P}`,
          '  endpoints:',
          `    logging: ${google.url}`,
          `    compute: ${google.url}`,
          `    monitoring: ${google.url}`,
          '',
        ].join('\n'),
      );
      const bot = await spawnOpsbot({ configPath, env: env(slack) });
      // Two users, each with a /why-reboot waiting on a Google that does not answer (20 s source deadlines).
      for (const [user, vm] of [
        ['U0ALICE', 'web-1'],
        ['U0BOB', 'web-2'],
      ] as const) {
        const r = await postSigned(
          bot.port,
          slashBody({
            command: '/why-reboot',
            text: vm,
            user_id: user,
            response_url: slack.responseUrl(user),
          }),
        );
        expect(r.status).toBe(200);
      }
      await slack.waitFor(() => slack.callsOf('chat.postMessage').length >= 2, 30_000);
      const t0 = performance.now();
      bot.child.kill('SIGTERM');
      const code = await bot.exited;
      const took = performance.now() - t0;
      expect(code).toBe(0);
      expect(
        took,
        bot.lines.filter((l) => /stopping|interrupt|shutdown|stopped|step/.test(l)).join('\n'),
      ).toBeLessThan(DRAIN_MS + 5_000);

      const rows = await readAudit(join(tmp.dir, 'data'), 'why-reboot');
      expect(rows.map((r) => [r.actorId, r.outcome, r.detail]).sort()).toEqual([
        ['U0ALICE', 'failed', 'interrupted by shutdown'],
        ['U0BOB', 'failed', 'interrupted by shutdown'],
      ]);
      for (const row of rows) {
        const told = slack.responses.find((x) => x.id === row.actorId);
        expect(told, `${row.actorId} was told`).toBeDefined();
        expect(String(told?.body.text)).toContain('interrupted');
        expect(String(told?.body.text)).toContain(row.correlationId);
      }
      expect(bot.lines.join('\n')).not.toContain('audit rows could not be written');
    } finally {
      await Promise.all([slack.close(), google.close()]);
      tmp.cleanup();
    }
  }, 120_000);
});
