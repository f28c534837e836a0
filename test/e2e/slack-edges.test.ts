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
