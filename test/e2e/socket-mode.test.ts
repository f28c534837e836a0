import { spawn } from 'node:child_process';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningOpsbot, startOpsbot } from '../../src/main.js';
import { type FakeSlack, startFakeSlack } from '../fakes/slack.js';
import { type FakeSocketMode, SLACK_ACK_DEADLINE_MS, startFakeSocketMode } from '../fakes/slack-socket.js';
import { BOT_TOKEN, captureLines, gate, standInWhyReboot, tempDir, writeConfig } from './helpers.js';
import { startOpsbotProcess, within } from './opsbot-process.js';

const APP_TOKEN = 'xapp-1-A0OPSBOT-7301234567890-9f3e2d1c0b4a59687766554433221100';

// versionlock names a user group (deciding needs a Slack lookup: empty ack, answer via response_url);
// tf-import names only users and channels (decided at once: the refusal rides on the ack).
const SOCKET_YAML = `
slack:
  mode: socket
access:
  commands:
    versionlock:
      users: [U0ALICE]
      groups: [S0SRE]
      channels: [C0OPS]
    tf-import:
      users: [U0ALICE]
      channels: [C0OPS]
`;

const COMMANDS = ['/why-reboot', '/versionlock', '/tf-import', '/amend', '/opsbot'];

/** A block_actions payload as Slack sends it in an `interactive` envelope for a button click. */
const buttonClick = (actionId: string, value: string, responseUrl: string) => ({
  type: 'block_actions',
  user: { id: 'U0ALICE', username: 'alice', name: 'alice', team_id: 'T0FAKE001' },
  api_app_id: 'A0OPSBOT',
  token: 'deprecated-verification-token',
  container: {
    type: 'message',
    message_ts: '1767225600.000100',
    channel_id: 'C0OPS',
    is_ephemeral: false,
  },
  trigger_id: '1767225601.1234.abcdef',
  team: { id: 'T0FAKE001', domain: 'fake' },
  enterprise: null,
  is_enterprise_install: false,
  channel: { id: 'C0OPS', name: 'ops' },
  message: { type: 'message', user: 'U0BOT0001', ts: '1767225600.000100', text: 'plan', blocks: [] },
  state: { values: {} },
  response_url: responseUrl,
  actions: [
    {
      action_id: actionId,
      block_id: 'change_buttons',
      text: { type: 'plain_text', text: 'Approve', emoji: true },
      value,
      style: 'primary',
      type: 'button',
      action_ts: '1767225601.500000',
    },
  ],
});

const waitFor = async <T>(probe: () => T | undefined | null | false, timeoutMs = 5000): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10)); // poll interval
  }
};

describe('opsbot serve in Socket Mode, over the wire', () => {
  let fake: FakeSlack;
  let socket: FakeSocketMode;
  let bot: RunningOpsbot;
  const tmp = tempDir();
  const logs = captureLines();
  const slowCollection = gate(); // /why-reboot's collection stays in flight until a test opens it

  beforeAll(async () => {
    fake = await startFakeSlack({ token: BOT_TOKEN });
    fake.setUserGroup('S0SRE', ['U0CAROL']);
    socket = await startFakeSocketMode({ appToken: APP_TOKEN, slack: fake });
    bot = await startOpsbot({
      env: {
        SLACK_BOT_TOKEN: BOT_TOKEN,
        SLACK_APP_TOKEN: APP_TOKEN,
        SLACK_API_URL: fake.apiUrl,
        PORT: '0',
        // The SDKs log frames and requests at debug: the tokens must still never reach a log line.
        OPSBOT_LOG_LEVEL: 'debug',
      },
      configPath: writeConfig(tmp.dir, `store:\n  dataDir: ${tmp.dir}/data\n${SOCKET_YAML}`),
      destination: logs,
      host: '127.0.0.1',
      whyReboot: standInWhyReboot({ hold: slowCollection.wait }),
    });
    await fake.waitFor(() => fake.callsOf('auth.test').length > 0);
  });

  afterAll(async () => {
    await bot?.stop();
    await socket?.close();
    await fake?.close();
    tmp.cleanup();
  });

  it('opens the socket with the app-level token (never the bot token) and is connected once started', async () => {
    expect(bot.config.slack.mode).toBe('socket');
    const opens = fake.callsOf('apps.connections.open');
    expect(opens).toHaveLength(1);
    expect(opens[0]?.headers.authorization).toBe(`Bearer ${APP_TOKEN}`);
    // The bot token is for the Web API only; the app token never goes anywhere else.
    for (const c of fake.calls.filter((x) => x.method !== 'apps.connections.open')) {
      expect(c.headers.authorization).toBe(`Bearer ${BOT_TOKEN}`);
    }
    // startOpsbot resolved only after Slack's hello: the connection is up and used the ticket it was given.
    expect(socket.connections).toHaveLength(1);
    expect(socket.open().map((c) => c.ticket)).toEqual([socket.tickets[0]]);
    expect(socket.refused).toEqual([]);
    // No HTTP event endpoint exists in Socket Mode: nothing can inject commands past the socket.
    const r = await fetch(`http://127.0.0.1:${bot.port}/slack/events`, { method: 'POST', body: 'x=1' });
    expect(r.status).toBe(405);
  });

  it('acks /opsbot help within 3 s with the help itself in the ack payload, and audits it', async () => {
    const callsBefore = fake.calls.length;
    const env = socket.pushSlashCommand({
      command: '/opsbot',
      text: 'help',
      response_url: fake.responseUrl('help-socket'),
    });
    const ack = await env.acked;
    expect(ack.ms).toBeLessThan(SLACK_ACK_DEADLINE_MS);
    expect(ack.payload.response_type).toBe('ephemeral');
    const rendered = JSON.stringify(ack.payload.blocks);
    for (const c of COMMANDS) expect(rendered).toContain(c);
    expect(rendered).toContain('/why-reboot web-1');
    // The ack frame is exactly Slack's shape: the envelope id and the response under "payload".
    const frame = socket.connections[0]?.received.find(
      (m) => (m as { envelope_id?: string }).envelope_id === env.envelopeId,
    );
    expect(Object.keys(frame as object).sort()).toEqual(['envelope_id', 'payload']);
    await expect
      .poll(async () => (await bot.store.audit.list({ command: 'opsbot' })).map((a) => a.outcome))
      .toEqual(['ok']);
    expect(fake.calls.length).toBe(callsBefore);
    expect(fake.responses.some((x) => x.id === 'help-socket')).toBe(false);
  });

  it('answers bad arguments with the usage in the ack, not a stack trace', async () => {
    const ack = await socket.pushSlashCommand({
      command: '/why-reboot',
      text: 'Web_1!!',
      response_url: fake.responseUrl('bad-socket'),
    }).acked;
    const text = String(ack.payload.text);
    expect(text).toContain('not a Compute Engine instance name');
    expect(text).toContain('/why-reboot &lt;vm&gt; [--project P]');
    expect(text).not.toMatch(/\bat .*\.(ts|js):\d+/);
  });

  it('refuses a command outside its access rule in the ack when users/channels decide it', async () => {
    const ack = await socket.pushSlashCommand({
      command: '/tf-import',
      text: 'vm web-1',
      user_id: 'U0BOB',
      response_url: fake.responseUrl('deny-ack'),
    }).acked;
    expect(ack.ms).toBeLessThan(SLACK_ACK_DEADLINE_MS);
    expect(ack.payload.response_type).toBe('ephemeral');
    expect(String(ack.payload.text)).toContain(':no_entry: /tf-import is limited to <@U0ALICE>');
    await expect
      .poll(async () => (await bot.store.audit.list({ actorId: 'U0BOB' })).map((a) => [a.command, a.outcome]))
      .toEqual([['tf-import', 'refused']]);
  });

  it('acks at once and sends the refusal through response_url when a user group must be looked up', async () => {
    const postsBefore = fake.callsOf('chat.postMessage').length;
    const ack = await socket.pushSlashCommand({
      command: '/versionlock',
      text: 'add es-7.1',
      user_id: 'U0DAVE',
      response_url: fake.responseUrl('deny-group'),
    }).acked;
    expect(ack.ms).toBeLessThan(SLACK_ACK_DEADLINE_MS);
    expect(ack.payload).toEqual({});
    const answer = await fake.waitFor(() => fake.responses.find((x) => x.id === 'deny-group'));
    expect(answer.body.response_type).toBe('ephemeral');
    expect(String(answer.body.text)).toContain(
      '/versionlock is limited to <!subteam^S0SRE> or <@U0ALICE> in <#C0OPS>',
    );
    expect(fake.callsOf('usergroups.users.list').map((c) => c.args.usergroup)).toContain('S0SRE');
    expect(fake.callsOf('chat.postMessage').length).toBe(postsBefore);
  });

  it('acks a slow command empty before its work, then posts progress and the verdict', async () => {
    const env = socket.pushSlashCommand({
      command: '/why-reboot',
      text: 'web-7 --project shop-prod',
      response_url: fake.responseUrl('wr-socket'),
    });
    // The collection is held open: an ack arriving now did not wait for the command's work.
    const ack = await env.acked;
    expect(ack.payload).toEqual({});
    const root = await fake.waitFor(() =>
      fake.messages.find((m) => m.text.startsWith('Investigating web-7')),
    );
    expect(root.updates).toBe(0);
    slowCollection.open();
    await fake.waitFor(() => root.updates > 0, 8000);
    expect(root.text).toContain('web-7 was restarted by Google after a host error');
  });

  it('acks a button click (interactive envelope) at once and answers an unknown change privately', async () => {
    const env = socket.pushInteractive(
      buttonClick('change_approve', 'not-a-change-value', fake.responseUrl('click')),
    );
    expect(env.frame.accepts_response_payload).toBe(false);
    const ack = await env.acked;
    expect(ack.ms).toBeLessThan(SLACK_ACK_DEADLINE_MS);
    expect(ack.payload).toEqual({});
    const eph = await fake.waitFor(() =>
      fake.callsOf('chat.postEphemeral').find((c) => String(c.args.text).includes('does not belong')),
    );
    expect(eph.args.user).toBe('U0ALICE');
    expect(eph.args.channel).toBe('C0OPS');
  });

  it('serves /healthz, /readyz and /metrics on the HTTP port in Socket Mode', async () => {
    const base = `http://127.0.0.1:${bot.port}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    const metric = async (pattern: string) =>
      Number(new RegExp(`${pattern} (\\d+)`).exec(await (await fetch(`${base}/metrics`)).text())?.[1] ?? 0);
    const help = 'opsbot_commands_total\\{command="opsbot",outcome="ok"\\}';
    const refused = 'opsbot_commands_total\\{command="tf-import",outcome="refused"\\}';
    const acks = 'opsbot_ack_duration_seconds_count';
    const before = { help: await metric(help), refused: await metric(refused), acks: await metric(acks) };
    await socket.pushSlashCommand({ command: '/opsbot', text: 'help', response_url: fake.responseUrl() })
      .acked;
    await socket.pushSlashCommand({
      command: '/tf-import',
      text: 'vm web-1',
      user_id: 'U0BOB',
      response_url: fake.responseUrl(),
    }).acked;
    await expect.poll(() => metric(help)).toBe(before.help + 1);
    await expect.poll(() => metric(refused)).toBe(before.refused + 1);
    // Acks over the socket are timed too (not only those through the HTTP receiver).
    expect(await metric(acks)).toBeGreaterThanOrEqual(before.acks + 2);
  });

  it('keeps the connection alive: answers the server ping and pings on its own', async () => {
    await socket.ping(); // rejects when no pong comes back
    // @slack/socket-mode pings every clientPingTimeout/3 (about 1.7 s) and expects pongs, which it gets.
    await waitFor(() => (socket.open()[0]?.pingsFromClient ?? 0) >= 1, 4000);
    expect(socket.open()).toHaveLength(1);
  });

  it('after a "refresh_requested" disconnect, reconnects through a fresh apps.connections.open and keeps answering', async () => {
    const first = socket.open()[0];
    if (!first) throw new Error('no open connection');
    const opensBefore = fake.callsOf('apps.connections.open').length;
    socket.requestDisconnect('refresh_requested');
    // The client closes the old socket itself with a normal closure...
    await waitFor(() => first.closedAt !== null, 3000);
    expect(first.closeCode).toBe(1000);
    expect(first.closedByClient).toBe(true);
    // ...then asks for a new URL with the app token and connects with the new ticket. @slack/socket-mode 3.1
    // waits clientPingTimeout (5 s) before reconnecting, so opsbot is deaf that long; the deadline is generous.
    const second = await socket.waitForConnections(2, 15_000);
    const opens = fake.callsOf('apps.connections.open');
    expect(opens.length).toBe(opensBefore + 1);
    expect(opens.at(-1)?.headers.authorization).toBe(`Bearer ${APP_TOKEN}`);
    expect(second.ticket).toBe(socket.tickets.at(-1));
    expect(socket.refused).toEqual([]);
    const ack = await socket.pushSlashCommand({
      command: '/opsbot',
      text: 'help',
      response_url: fake.responseUrl('help-after-refresh'),
    }).acked;
    expect(ack.connectionId).toBe(second.id);
    expect(ack.ms).toBeLessThan(SLACK_ACK_DEADLINE_MS);
    expect(JSON.stringify(ack.payload.blocks)).toContain('/versionlock');
  });

  it('reconnects after the connection drops without a close handshake', async () => {
    const before = socket.connections.length;
    socket.drop();
    const next = await socket.waitForConnections(before + 1, 12_000);
    const ack = await socket.pushSlashCommand({
      command: '/opsbot',
      text: 'help',
      response_url: fake.responseUrl('help-after-drop'),
    }).acked;
    expect(ack.connectionId).toBe(next.id);
  });

  it('never writes the app or bot token to the log, even at debug level', () => {
    const all = logs.lines.join('\n');
    expect(all).toContain('slack app configured');
    expect(all).toContain('apps.connections.open'); // the SDK's debug lines are there, scrubbed
    expect(all).not.toContain(APP_TOKEN);
    expect(all).not.toContain(BOT_TOKEN);
  });

  it('stop() sends a normal closure at once and ignores envelopes arriving meanwhile', async () => {
    const conn = socket.open()[0];
    if (!conn) throw new Error('no open connection');
    const opensBefore = fake.callsOf('apps.connections.open').length;
    const connectionsBefore = socket.connections.length;
    const helpBefore = await bot.metrics.registry.getSingleMetricAsString('opsbot_commands_total');
    const stopping = bot.stop();
    // Slack still thinks the socket is open until the close frame lands: a command sent now must not be
    // run against a store that is closing (the client is CLOSING and drops it; Slack retries elsewhere).
    const late = socket.pushSlashCommand({
      command: '/opsbot',
      text: 'help',
      response_url: fake.responseUrl('late'),
    });
    await stopping;
    await waitFor(() => conn.closedAt !== null, 2000);
    expect(conn.closeCode).toBe(1000);
    expect(conn.closedByClient).toBe(true);
    await expect(late.acked).rejects.toThrow(/not acked/);
    expect(await bot.metrics.registry.getSingleMetricAsString('opsbot_commands_total')).toBe(helpBefore);
    expect(fake.callsOf('apps.connections.open').length).toBe(opensBefore);
    expect(socket.connections.length).toBe(connectionsBefore);
    await expect(fetch(`http://127.0.0.1:${bot.port}/healthz`)).rejects.toThrow();
    // That nothing reconnects later is shown end to end below: `opsbot serve` exits on its own after SIGTERM.
  });
});

describe('Socket Mode startup refusals', () => {
  const start = async (env: Record<string, string>, fake: FakeSlack) => {
    const tmp = tempDir();
    try {
      return await startOpsbot({
        env: { SLACK_BOT_TOKEN: BOT_TOKEN, SLACK_API_URL: fake.apiUrl, PORT: '0', ...env },
        configPath: writeConfig(tmp.dir, `slack:\n  mode: socket\nstore:\n  dataDir: ${tmp.dir}/data\n`),
        destination: captureLines(),
        host: '127.0.0.1',
        whyReboot: null,
      });
    } finally {
      tmp.cleanup();
    }
  };

  let fake: FakeSlack;
  let socket: FakeSocketMode;
  beforeAll(async () => {
    fake = await startFakeSlack({ token: BOT_TOKEN });
    socket = await startFakeSocketMode({ appToken: APP_TOKEN, slack: fake });
  });
  afterAll(async () => {
    await socket?.close();
    await fake?.close();
  });

  it.each([
    ['a missing SLACK_APP_TOKEN', {}],
    ['an empty SLACK_APP_TOKEN', { SLACK_APP_TOKEN: '' }],
    ['the bot token given as SLACK_APP_TOKEN', { SLACK_APP_TOKEN: BOT_TOKEN }],
  ])('refuses %s with one message naming the key, before touching Slack', async (_label, env) => {
    const callsBefore = fake.calls.length;
    const err = await start(env, fake).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'config_invalid' });
    expect((err as Error).message).toBe(
      'SLACK_APP_TOKEN is not set or not an app-level token (xapp-...): slack.mode is "socket", which needs one with connections:write.',
    );
    expect(fake.calls.length).toBe(callsBefore);
    expect(socket.connections).toHaveLength(0);
  });

  it('refuses a well-formed app token that Slack rejects, naming SLACK_APP_TOKEN, and leaves nothing running', async () => {
    // A start that kept retrying would never settle: the test's own timeout is the deadline.
    const err = await start({ SLACK_APP_TOKEN: 'xapp-1-A0OTHER-1-revokedrevokedrevoked' }, fake).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'config_invalid' });
    expect((err as Error).message).toContain('SLACK_APP_TOKEN');
    expect((err as Error).message).toContain('invalid_auth');
    expect((err as Error).message).not.toContain('xapp-1-A0OTHER');
    expect(socket.connections).toHaveLength(0);
  });

  it('refuses an app token without connections:write at startup instead of retrying forever', async () => {
    fake.failNext('apps.connections.open', { error: 'missing_scope' }, 1000);
    const err = await start({ SLACK_APP_TOKEN: APP_TOKEN }, fake).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'config_invalid' });
    expect((err as Error).message).toContain('SLACK_APP_TOKEN');
    expect((err as Error).message).toContain('missing_scope');
    expect((err as Error).message).toContain('connections:write');
    expect(socket.connections).toHaveLength(0);
  });
});

/** A port nothing listens on: bound once to learn a free number, then closed (connections are refused). */
const closedPort = async (): Promise<number> => {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
};

/** A TCP server that accepts every connection and never answers (a black-holing proxy or a hung Slack edge). */
const startSilentServer = async (): Promise<{
  port: number;
  accepted: Socket[];
  open: () => number;
  close: () => Promise<void>;
}> => {
  const accepted: Socket[] = [];
  const live = new Set<Socket>();
  const srv: Server = createServer((sock) => {
    accepted.push(sock);
    live.add(sock);
    sock.on('error', () => undefined);
    // Read (and ignore) what arrives so that the client's FIN is seen; it is answered by closing our side.
    sock.on('end', () => sock.destroy());
    sock.on('close', () => live.delete(sock));
    sock.resume();
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  return {
    port: (srv.address() as { port: number }).port,
    accepted,
    open: () => live.size,
    close: async () => {
      for (const x of accepted) x.destroy();
      await new Promise((r) => srv.close(r));
    },
  };
};

/** An HTTP server standing in for the Slack Web API: `answer` decides the status and JSON body per request. */
const startFakeWebApi = async (
  answer: (path: string) => { status: number; body: unknown },
): Promise<{ apiUrl: string; requests: string[]; close: () => Promise<void> }> => {
  const requests: string[] = [];
  const srv = createHttpServer((req, res) => {
    const path = req.url ?? '/';
    requests.push(path);
    req.resume();
    const a = answer(path);
    res.writeHead(a.status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(a.body));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const { port } = srv.address() as { port: number };
  return {
    apiUrl: `http://127.0.0.1:${port}/api/`,
    requests,
    close: async () => {
      srv.closeAllConnections();
      await new Promise((r) => srv.close(r));
    },
  };
};

/** Listening servers and client sockets of this process (what would keep `opsbot serve` from exiting). */
const netHandles = (): number =>
  process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap' || r === 'TCPSocketWrap').length;

const DEADLINE_MS = 1000;
/**
 * Startup must give up at the deadline, not after the SDK's ~100 retries (minutes). The margin covers
 * stopping the client, the HTTP listener and the store on a busy machine; it is wide on purpose: a start
 * that ignored the deadline would still be far outside it.
 */
const MARGIN_MS = 10_000;

describe('Socket Mode startup when the Slack Web API does not answer', () => {
  const tmp = tempDir();
  const dataDir = `${tmp.dir}/data`;
  const config = writeConfig(tmp.dir, `slack:\n  mode: socket\nstore:\n  dataDir: ${dataDir}\n`);

  const start = (apiUrl: string, extra: { slackConnectTimeoutMs?: number } = {}) => {
    const logs = captureLines();
    const t0 = performance.now();
    const result = startOpsbot({
      env: { SLACK_BOT_TOKEN: BOT_TOKEN, SLACK_APP_TOKEN: APP_TOKEN, SLACK_API_URL: apiUrl, PORT: '0' },
      configPath: config,
      destination: logs,
      host: '127.0.0.1',
      whyReboot: null,
      slackConnectTimeoutMs: DEADLINE_MS,
      ...extra,
    }).then(
      (bot) => ({ bot, err: null, ms: performance.now() - t0 }),
      (err: unknown) => ({ bot: null, err: err as Error & { code?: string }, ms: performance.now() - t0 }),
    );
    return { result, logs };
  };

  afterAll(() => tmp.cleanup());

  it('fails startup within the deadline when SLACK_API_URL points at a closed port, naming the URL and what to check', async () => {
    const before = netHandles();
    const port = await closedPort();
    const apiUrl = `http://127.0.0.1:${port}/api/`;
    const { result, logs } = start(apiUrl);
    const { bot, err, ms } = await result;
    await bot?.stop();
    expect(err).toMatchObject({ code: 'upstream' });
    expect(err?.message).toBe(
      `Could not open the Socket Mode connection: the Slack Web API at ${apiUrl} could not be reached (ECONNREFUSED) within 1 s (check SLACK_API_URL / slack.apiUrl, proxies and firewalls, and that Slack is up).`,
    );
    expect(ms).toBeGreaterThanOrEqual(DEADLINE_MS - 50);
    expect(ms).toBeLessThan(DEADLINE_MS + MARGIN_MS);
    // Neither the error nor the log carries a token.
    expect(err?.message).not.toContain(APP_TOKEN);
    expect(logs.lines.join('\n')).not.toContain(APP_TOKEN);
    expect(logs.lines.join('\n')).not.toContain(BOT_TOKEN);
    // Nothing is left listening or connecting (the HTTP listener, the Socket Mode client's sockets); the
    // child-process tests below check the same end to end.
    await expect.poll(netHandles).toBeLessThanOrEqual(before);
  });

  it('fails startup within the deadline when the API accepts connections and never answers, and cuts them', async () => {
    const silent = await startSilentServer();
    try {
      const apiUrl = `http://127.0.0.1:${silent.port}/`;
      const { result } = start(apiUrl);
      const { bot, err, ms } = await result;
      await bot?.stop();
      expect(err).toMatchObject({ code: 'upstream' });
      expect(err?.message).toBe(
        `Could not open the Socket Mode connection: the Slack Web API at ${apiUrl} did not answer within 1 s (check SLACK_API_URL / slack.apiUrl, proxies and firewalls, and that Slack is up).`,
      );
      expect(ms).toBeLessThan(DEADLINE_MS + MARGIN_MS);
      expect(silent.accepted.length).toBeGreaterThanOrEqual(1);
      // The hanging apps.connections.open request was aborted: its connection is closed by the client. That
      // no retry follows is shown by the child process exiting on its own (below).
      await waitFor(() => silent.open() === 0, 5000);
    } finally {
      await silent.close();
    }
  });

  it('reports a proxy answering HTTP 502 by its status and stops retrying once startup failed', async () => {
    const api = await startFakeWebApi(() => ({ status: 502, body: { error: 'bad gateway' } }));
    try {
      const { result } = start(api.apiUrl);
      const { bot, err, ms } = await result;
      await bot?.stop();
      expect(ms).toBeLessThan(DEADLINE_MS + MARGIN_MS);
      expect(err).toMatchObject({ code: 'upstream' });
      expect(err?.message).toContain(
        `the Slack Web API at ${api.apiUrl} answered apps.connections.open with HTTP 502`,
      );
      expect(err?.message).toContain('check SLACK_API_URL');
      expect(api.requests.length).toBeGreaterThanOrEqual(1);
      expect(new Set(api.requests)).toEqual(new Set(['/api/apps.connections.open']));
      // The SDK would retry ~100 times with a growing delay; that it stops is shown by the child process
      // exiting on its own (below).
    } finally {
      await api.close();
    }
  });

  it('says the WebSocket is blocked when the API issues a URL but the socket never says hello', async () => {
    const silent = await startSilentServer();
    const api = await startFakeWebApi((path) =>
      path.endsWith('/apps.connections.open')
        ? { status: 200, body: { ok: true, url: `ws://127.0.0.1:${silent.port}/link/?ticket=t1` } }
        : { status: 200, body: { ok: false, error: 'unknown_method' } },
    );
    try {
      const { result } = start(api.apiUrl);
      const { bot, err, ms } = await result;
      await bot?.stop();
      expect(ms).toBeLessThan(DEADLINE_MS + MARGIN_MS + 2000); // the SDK's close of a stalled socket is bounded at 2 s
      expect(err).toMatchObject({ code: 'upstream' });
      expect(err?.message).toContain('issued a Socket Mode URL, but the WebSocket did not connect');
      expect(err?.message).toContain('outbound WebSocket (wss://)');
      expect(silent.accepted.length).toBe(1);
      await waitFor(() => silent.open() === 0, 5000);
    } finally {
      await api.close();
      await silent.close();
    }
  });

  it('leaves the store closed after a failed start: the next start on the same data dir connects', async () => {
    const port = await closedPort();
    const failed = await start(`http://127.0.0.1:${port}/`).result;
    expect(failed.err).toMatchObject({ code: 'upstream' });
    const fake = await startFakeSlack({ token: BOT_TOKEN });
    const socket = await startFakeSocketMode({ appToken: APP_TOKEN, slack: fake });
    try {
      const ok = await start(fake.apiUrl).result;
      expect(ok.err).toBeNull();
      expect(socket.open()).toHaveLength(1);
      await ok.bot?.stop();
    } finally {
      await socket.close();
      await fake.close();
    }
  });

  it('lets the process exit on its own after failed starts (no retry, timer or socket left behind)', async () => {
    // Three failed starts in one process: against a closed port, a server that accepts and never answers,
    // and a proxy answering 502. A retry loop, a timer or a socket left behind by any of them would keep the
    // process alive; exit code 3 is the script's own, so the process ended by itself.
    const silent = await startSilentServer();
    const proxy = await startFakeWebApi(() => ({ status: 502, body: { error: 'bad gateway' } }));
    const cases = [
      { apiUrl: `http://127.0.0.1:${await closedPort()}/api/`, says: 'could not be reached (ECONNREFUSED)' },
      { apiUrl: `http://127.0.0.1:${silent.port}/api/`, says: 'did not answer within 1 s' },
      { apiUrl: proxy.apiUrl, says: 'answered apps.connections.open with HTTP 502' },
    ];
    const main = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
    const script = `
      const { startOpsbot } = await import(${JSON.stringify(main)});
      for (const apiUrl of ${JSON.stringify(cases.map((c) => c.apiUrl))}) {
        try {
          await startOpsbot({
            env: { SLACK_BOT_TOKEN: ${JSON.stringify(BOT_TOKEN)}, SLACK_APP_TOKEN: ${JSON.stringify(APP_TOKEN)},
                   SLACK_API_URL: apiUrl, PORT: '0' },
            configPath: ${JSON.stringify(config)}, host: '127.0.0.1', whyReboot: null,
            slackConnectTimeoutMs: ${DEADLINE_MS}, destination: { write() {} },
          });
          console.log('started');
        } catch (err) {
          console.error(err.message);
          process.exitCode = 3;
        }
      }
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let errText = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      errText += d.toString();
    });
    const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    try {
      const code = await within(exited, 40_000, 'the failed process exiting').catch((err: unknown) => {
        child.kill('SIGKILL');
        throw err;
      });
      expect(code).toBe(3);
      expect(out).toBe('');
      for (const c of cases) expect(errText).toContain(`the Slack Web API at ${c.apiUrl} ${c.says}`);
      expect(new Set(proxy.requests)).toEqual(new Set(['/api/apps.connections.open']));
      expect(silent.open()).toBe(0);
    } finally {
      await silent.close();
      await proxy.close();
    }
  }, 60_000);
});

describe('opsbot serve in Socket Mode as a process', () => {
  it('on SIGTERM closes the socket normally and exits by itself, never reconnecting', async () => {
    const fake = await startFakeSlack({ token: BOT_TOKEN });
    const socket = await startFakeSocketMode({ appToken: APP_TOKEN, slack: fake });
    const tmp = tempDir();
    const bot = startOpsbotProcess(
      [
        'serve',
        '--config',
        writeConfig(tmp.dir, `slack:\n  mode: socket\nstore:\n  dataDir: ${tmp.dir}/data\n`),
      ],
      {
        SLACK_BOT_TOKEN: BOT_TOKEN,
        SLACK_APP_TOKEN: APP_TOKEN,
        SLACK_API_URL: fake.apiUrl,
        PORT: '0',
      },
    );
    try {
      await bot.port();
      const conn = await socket.waitForConnections(1, 20_000);
      const ack = await socket.pushSlashCommand({
        command: '/opsbot',
        text: 'help',
        response_url: fake.responseUrl(),
      }).acked;
      expect(ack.connectionId).toBe(conn.id);
      bot.kill('SIGTERM');
      // @slack/socket-mode schedules a reconnect clientPingTimeout (5 s) after an unexpected close: a pending
      // reconnect (or any other timer or socket) would keep the process alive, so exiting is the proof.
      expect(await within(bot.exited, 30_000, 'exit after SIGTERM')).toBe(0);
      expect(conn.closeCode).toBe(1000);
      expect(conn.closedByClient).toBe(true);
      expect(fake.callsOf('apps.connections.open')).toHaveLength(1);
      expect(socket.connections).toHaveLength(1);
    } finally {
      bot.kill('SIGKILL');
      await bot.exited;
      await socket.close();
      await fake.close();
      tmp.cleanup();
    }
  }, 60_000);
});

describe('HTTP mode startup when the Slack Web API does not answer', () => {
  it('does not wait for Slack: started while the Web API still has not answered', async () => {
    const tmp = tempDir();
    const silent = await startSilentServer();
    try {
      const bot = await startOpsbot({
        env: {
          SLACK_BOT_TOKEN: BOT_TOKEN,
          SLACK_SIGNING_SECRET: 'e2e-signing-secret-5f1c9a',
          SLACK_API_URL: `http://127.0.0.1:${silent.port}/api/`,
          PORT: '0',
        },
        configPath: writeConfig(tmp.dir, `slack:\n  mode: http\nstore:\n  dataDir: ${tmp.dir}/data\n`),
        destination: captureLines(),
        host: '127.0.0.1',
        whyReboot: null,
      });
      try {
        // Slack calls in, so opsbot only needs its port: its own auth.test is still hanging.
        expect((await fetch(`http://127.0.0.1:${bot.port}/healthz`)).status).toBe(200);
        await waitFor(() => silent.accepted.length >= 1, 10_000);
        expect(silent.open()).toBeGreaterThanOrEqual(1);
      } finally {
        await bot.stop();
      }
    } finally {
      await silent.close();
      tmp.cleanup();
    }
  });

  it('starts anyway and reports Slack as not ready on /readyz', async () => {
    const tmp = tempDir();
    const port = await closedPort();
    const bot = await startOpsbot({
      env: {
        SLACK_BOT_TOKEN: BOT_TOKEN,
        SLACK_SIGNING_SECRET: 'e2e-signing-secret-5f1c9a',
        SLACK_API_URL: `http://127.0.0.1:${port}/api/`,
        PORT: '0',
      },
      configPath: writeConfig(tmp.dir, `slack:\n  mode: http\nstore:\n  dataDir: ${tmp.dir}/data\n`),
      destination: captureLines(),
      host: '127.0.0.1',
      whyReboot: null,
    });
    try {
      const base = `http://127.0.0.1:${bot.port}`;
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      const ready = await fetch(`${base}/readyz`);
      expect(ready.status).toBe(503);
      const body = (await ready.json()) as { checks: Record<string, { ok: boolean; error?: string }> };
      expect(body.checks.slack).toEqual({ ok: false, error: 'request_error' });
      expect(body.checks.store).toEqual({ ok: true });
    } finally {
      await bot.stop();
      tmp.cleanup();
    }
  });
});
