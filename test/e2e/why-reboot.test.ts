import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningOpsbot, startOpsbot } from '../../src/main.js';
import { type FakeCompute, startFakeCompute } from '../fakes/gce-compute.js';
import { TEST_TOKEN } from '../fakes/gce-env.js';
import { type HostErrorIncident, seedHostErrorIncident } from '../fakes/gce-incident.js';
import { type FakeLogging, startFakeLogging } from '../fakes/gce-logging.js';
import { type FakeCall, type FakeSlack, startFakeSlack } from '../fakes/slack.js';
import { SLACK_ACK_DEADLINE_MS } from '../fakes/slack-socket.js';
import {
  BOT_TOKEN,
  captureLines,
  postSigned,
  SIGNING_SECRET,
  slashBody,
  tempDir,
  writeConfig,
} from './helpers.js';

/**
 * /why-reboot end to end: a signed slash command into opsbot (HTTP mode), the REAL collector, analysis and
 * Block Kit renderer, the real GCE adapters talking to the Compute and Logging fakes with a static token
 * (GOOGLE_OAUTH_ACCESS_TOKEN), and the real Slack client talking to the fake Slack.
 */
const P = 'shop-prod';

/**
 * Sits between opsbot and the Logging fake: forwards every entries:list call, except those whose filter
 * matches `failWhen`, which get a Google 500 (the real API's INTERNAL error shape).
 */
const startLoggingProxy = async (upstream: string) => {
  const state: { failWhen: ((filter: string) => boolean) | null; failed: string[] } = {
    failWhen: null,
    failed: [],
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let filter = '';
      try {
        filter = String((JSON.parse(body) as { filter?: unknown }).filter ?? '');
      } catch {
        // forwarded as is: the fake answers 400
      }
      if (state.failWhen?.(filter)) {
        state.failed.push(filter);
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 500, message: 'Internal error.', status: 'INTERNAL' } }));
        return;
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) {
        if (typeof v === 'string' && !['host', 'content-length', 'connection'].includes(k)) headers[k] = v;
      }
      fetch(`${upstream}${req.url ?? '/'}`, { method: req.method ?? 'POST', headers, body })
        .then(async (up) => {
          res.writeHead(up.status, { 'content-type': up.headers.get('content-type') ?? 'application/json' });
          res.end(await up.text());
        })
        .catch(() => {
          res.writeHead(502);
          res.end();
        });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    state,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
};

type Proxy = Awaited<ReturnType<typeof startLoggingProxy>>;
type Block = { type: string; text?: { text: string }; elements?: Record<string, unknown>[] };

const blocksOf = (call: FakeCall | undefined): Block[] => {
  const raw = call?.args.blocks;
  if (raw === undefined) return [];
  return (typeof raw === 'string' ? JSON.parse(raw) : raw) as Block[];
};
const textOfBlocks = (blocks: readonly Block[]): string => JSON.stringify(blocks);
const buttons = (blocks: readonly Block[]): { text: { text: string }; url: string }[] =>
  blocks
    .filter((b) => b.type === 'actions')
    .flatMap((b) => (b.elements ?? []) as unknown as { text: { text: string }; url: string }[]);
const queryOfExplorerUrl = (url: string): string =>
  decodeURIComponent(/;query=([^;]+);/.exec(url)?.[1] ?? '');

describe('/why-reboot over Slack with the real collector and analysis', () => {
  let slack: FakeSlack;
  let compute: FakeCompute;
  let logging: FakeLogging;
  let proxy: Proxy;
  let bot: RunningOpsbot;
  let incident: HostErrorIncident;
  const tmp = tempDir();
  const logs = captureLines();

  beforeAll(async () => {
    slack = await startFakeSlack({ token: BOT_TOKEN });
    compute = await startFakeCompute({ accessToken: TEST_TOKEN });
    logging = await startFakeLogging({ accessToken: TEST_TOKEN, maxPageSize: 5, emptyPagesBefore: 1 });
    proxy = await startLoggingProxy(logging.url);
    incident = seedHostErrorIncident({ compute, logging }, { project: P });
    const configPath = writeConfig(
      tmp.dir,
      [
        'store:',
        `  dataDir: ${tmp.dir}/data`,
        'google:',
        `  defaultProject: ${P}`,
        '  endpoints:',
        `    logging: ${proxy.url}`,
        `    compute: ${compute.url}`,
        '',
      ].join('\n'),
    );
    bot = await startOpsbot({
      env: {
        SLACK_BOT_TOKEN: BOT_TOKEN,
        SLACK_SIGNING_SECRET: SIGNING_SECRET,
        SLACK_API_URL: slack.apiUrl,
        PORT: '0',
        GOOGLE_OAUTH_ACCESS_TOKEN: TEST_TOKEN,
      },
      configPath,
      destination: logs,
      host: '127.0.0.1',
    });
    await slack.waitFor(() => slack.callsOf('auth.test').length > 0);
  });

  afterAll(async () => {
    await bot?.stop();
    await Promise.all([slack?.close(), compute?.close(), logging?.close(), proxy?.close()]);
    tmp.cleanup();
  });

  /** Sends the command; resolves when the verdict replaced the progress message. */
  const ask = async (text: string, responseId: string) => {
    const postsBefore = slack.callsOf('chat.postMessage').length;
    const updatesBefore = slack.callsOf('chat.update').length;
    const filtersBefore = logging.filters().length;
    const sentAt = Date.now();
    const r = await postSigned(
      bot.port,
      slashBody({ command: '/why-reboot', text, response_url: slack.responseUrl(responseId) }),
    );
    const progress = await slack.waitFor(() => slack.callsOf('chat.postMessage')[postsBefore], 5000);
    const update = await slack.waitFor(() => slack.callsOf('chat.update')[updatesBefore], 15_000);
    return {
      ack: r,
      sentAt,
      progress,
      update,
      filters: () => logging.filters().slice(filtersBefore),
    };
  };

  it('acks at once, posts progress in the channel, replaces it with the host-error verdict and threads the full report', async () => {
    const { ack, sentAt, progress, update, filters } = await ask('web-1', 'wr-1');
    expect(ack.status).toBe(200);
    // Slack's promise: an ack later than 3 s shows the user "operation_timeout".
    expect(ack.ms).toBeLessThan(SLACK_ACK_DEADLINE_MS);
    expect(ack.text).toBe(''); // nothing private: the answer belongs to the channel

    // Progress: a real channel message (thread root), not ephemeral, posted right away.
    expect(progress.args.channel).toBe('C0OPS');
    expect(progress.args.thread_ts).toBeUndefined();
    expect(String(progress.args.text)).toMatch(/^Investigating web-1/);
    expect(progress.at).toBeLessThanOrEqual(update.at);
    expect(slack.callsOf('chat.postEphemeral')).toHaveLength(0);
    const root = slack.messages.find((m) => m.channel === 'C0OPS' && m.threadTs === null);
    expect(root).toBeDefined();

    // The verdict replaces the progress message.
    expect(update.args.channel).toBe('C0OPS');
    expect(update.args.ts).toBe(root?.ts);
    expect(update.at).toBeGreaterThanOrEqual(progress.at);
    const blocks = blocksOf(update);
    const shown = textOfBlocks(blocks);
    expect(shown).toContain('`host-error`');
    expect(shown).toContain('high confidence');
    expect(shown).toContain('23:31:40');
    expect(shown).toContain(incident.hostErrorAt.toISOString().slice(0, 10));
    expect(shown).toContain('compute.instances.hostError');
    expect(String(update.args.text)).toMatch(/^web-1: host-error/);

    // The Logs Explorer button opens exactly the audit query the Logging API received.
    const sent = filters();
    const audit = sent.find((f) => f.includes('cloudaudit'));
    expect(audit).toBeDefined();
    const explorer = buttons(blocks).find((b) => b.text.text.includes('Logs Explorer'));
    expect(explorer).toBeDefined();
    expect(queryOfExplorerUrl(explorer?.url ?? '')).toBe(audit);
    expect(
      buttons(blocks).some((b) => b.url.includes(`instancesDetail/zones/${incident.zone}/instances/web-1`)),
    ).toBe(true);

    // What Cloud Logging was asked: explicit bounds on every query, both audit logs, the id OR the name.
    expect(sent.length).toBeGreaterThanOrEqual(2);
    for (const f of sent) expect(f).toMatch(/timestamp>="\d{4}-[^"]+" AND timestamp<="\d{4}-[^"]+"/);
    expect(audit).toContain(`"projects/${P}/logs/cloudaudit.googleapis.com%2Fsystem_event"`);
    expect(audit).toContain(`"projects/${P}/logs/cloudaudit.googleapis.com%2Factivity"`);
    expect(audit).toContain(
      `resource.labels.instance_id="${incident.id}" OR protoPayload.resourceName:"/instances/web-1"`,
    );
    const from = Date.parse(/timestamp>="([^"]+)"/.exec(audit ?? '')?.[1] ?? '');
    const to = Date.parse(/timestamp<="([^"]+)"/.exec(audit ?? '')?.[1] ?? '');
    expect(to - from).toBe(7 * 86_400_000);
    expect(Math.abs(to - sentAt)).toBeLessThan(60_000);
    expect(sent.some((f) => f.includes(`"projects/${P}/logs/syslog"`))).toBe(true);

    // The full report in the thread.
    // The report may be split over several thread messages ("Full report (1/2)" ...): wait for the last part.
    const thread = await slack.waitFor(() => {
      const t = slack.messages.filter((m) => m.threadTs === root?.ts);
      const last = t.at(-1);
      const parts = /\((\d+)\/(\d+)\)$/.exec(String(last?.text ?? ''));
      return last && (!parts || parts[1] === parts[2]) ? t : null;
    }, 15_000);
    const report = thread.map((m) => JSON.stringify(m.blocks)).join('\n');
    expect(report).toContain('VERDICT: host-error');
    expect(report).toContain('compute.instances.automaticRestart');
    expect(report).toContain('syslog'); // the guest-log source is listed

    // Audited once, ok, with the resolved target.
    await expect
      .poll(async () =>
        (await bot.store.audit.list({ command: 'why-reboot' })).map((a) => [a.outcome, a.target, a.detail]),
      )
      .toEqual([['ok', `${P}/us-central1-a/web-1`, 'host-error']]);
    expect(slack.responses.filter((x) => x.id === 'wr-1')).toHaveLength(0);
  });

  it('a failing guest-log query (HTTP 500) still answers, shows that source as failed, and says evidence is missing', async () => {
    proxy.state.failWhen = (f) => f.includes('/logs/syslog');
    try {
      const { update } = await ask('web-1', 'wr-guest');
      expect(proxy.state.failed.length).toBeGreaterThanOrEqual(1); // retried, then given up
      const shown = textOfBlocks(blocksOf(update));
      expect(shown).toMatch(/✗ guest-logs: failed/);
      expect(shown).toContain('✓ audit-logs: ok');
      expect(shown).toContain('Some evidence could not be read');
      // The host error is the platform's own record: still the answer, without claiming the guest was fine.
      expect(shown).toContain('`host-error`');
      expect(shown).toContain('the guest logs could not be read');
      expect(shown).not.toContain('nothing wrong in the guest');
    } finally {
      proxy.state.failWhen = null;
    }
  });

  it('a failing audit-log query lowers the confidence of the answer and says why', async () => {
    proxy.state.failWhen = (f) => f.includes('cloudaudit');
    try {
      const { update } = await ask('web-1', 'wr-audit');
      const shown = textOfBlocks(blocksOf(update));
      expect(shown).toMatch(/✗ audit-logs: failed/);
      expect(shown).not.toContain('high confidence');
      expect(shown).toMatch(/(medium|low) confidence/);
      expect(shown).not.toContain('`host-error`'); // without the platform log, a host error cannot be claimed
    } finally {
      proxy.state.failWhen = null;
    }
  });

  it('asks which VM when the name exists in two zones, listing runnable commands, and the listed form works', async () => {
    compute.addInstance(P, 'europe-west1-b', { name: 'web-1', id: '9990001112223334445', status: 'RUNNING' });
    try {
      const { update } = await ask('web-1', 'wr-ambiguous');
      const shown = textOfBlocks(blocksOf(update));
      expect(String(update.args.text)).toContain('2 instances are named web-1');
      expect(shown).toContain(`${P}/europe-west1-b/web-1`);
      expect(shown).toContain(`${P}/us-central1-a/web-1`);
      expect(shown).toContain(`/why-reboot web-1 --project ${P} --zone us-central1-a`);
      await expect
        .poll(async () => (await bot.store.audit.list({ command: 'why-reboot', limit: 1 }))[0]?.outcome)
        .toBe('bad_input');

      const pinned = await ask(`${P}/us-central1-a/web-1`, 'wr-pinned');
      expect(textOfBlocks(blocksOf(pinned.update))).toContain('`host-error`');
    } finally {
      compute.removeInstance(P, 'europe-west1-b', 'web-1');
    }
  });

  it('answers bad arguments with the usage, privately in the ack, calling nothing', async () => {
    // A VM name no other test uses and a user of its own: whatever earlier tests still have landing cannot be
    // mistaken for this command's traces, so there is no "quiet state" to wait for.
    const r = await postSigned(
      bot.port,
      slashBody({
        command: '/why-reboot',
        text: 'web-77 --since forever',
        user_id: 'U0BADARGS',
        response_url: slack.responseUrl('bad-args'),
      }),
    );
    const body = JSON.parse(r.text) as { response_type: string; text: string };
    expect(body.response_type).toBe('ephemeral');
    expect(body.text).toContain('--since takes a duration');
    expect(body.text).toContain('/why-reboot &lt;vm&gt; [--project P]');
    // Barrier: the audit row is the pipeline's last step, so once it exists the command has done all it does.
    await expect
      .poll(async () => (await bot.store.audit.list({ actorId: 'U0BADARGS' })).map((a) => a.outcome))
      .toEqual(['bad_input']);
    expect(slack.calls.filter((c) => JSON.stringify(c.args).includes('web-77'))).toEqual([]);
    expect(slack.responses.filter((x) => x.id === 'bad-args')).toEqual([]);
    const gceTraces = [...logging.requests, ...compute.requests].filter((q) =>
      JSON.stringify(q).includes('web-77'),
    );
    expect(gceTraces).toEqual([]);
  });

  it('when the bot is not in the channel, answers privately with a hint to invite it', async () => {
    const updates = slack.callsOf('chat.update').length;
    // Only this channel refuses the bot: replies of earlier tests still landing elsewhere are unaffected.
    slack.leaveChannel('C0PRIVATE');
    const r = await postSigned(
      bot.port,
      slashBody({
        command: '/why-reboot',
        text: 'web-1',
        channel_id: 'C0PRIVATE',
        response_url: slack.responseUrl('wr-private'),
      }),
    );
    expect(r.status).toBe(200);
    const answers = await slack.waitFor(() => {
      const got = slack.responses.filter((x) => x.id === 'wr-private');
      return got.length >= 2 ? got : null;
    }, 15_000);
    for (const a of answers) expect(a.body.response_type).toBe('ephemeral');
    expect(String(answers[0]?.body.text)).toContain('/invite @opsbot');
    const verdict = JSON.stringify(answers[1]?.body);
    expect(verdict).toContain('host-error');
    expect(verdict).toContain('23:31:40');
    expect(slack.callsOf('chat.update').length).toBe(updates); // nothing to update in the channel
    expect(slack.messages.some((m) => m.channel === 'C0PRIVATE')).toBe(false);
  });

  it('never writes the Google token to the log', async () => {
    // Whatever opsbot logged (startup, and a whole investigation with a failing source, sent with the token on
    // every Google request) must not carry the token.
    proxy.state.failWhen = (f) => f.includes('/logs/syslog');
    try {
      await ask('web-1', 'wr-log');
    } finally {
      proxy.state.failWhen = null;
    }
    expect(logs.lines.length).toBeGreaterThan(0);
    for (const line of logs.lines) expect(line).not.toContain(TEST_TOKEN);
  });
});
