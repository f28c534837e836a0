import { createHmac, randomUUID } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GitRepo } from '../fakes/git-repo.js';
import type { FakeGithub } from '../fakes/github.js';
import { githubLog } from '../fakes/github-actions.js';
import type { FakeGitlab } from '../fakes/gitlab.js';
import { gitlabTrace } from '../fakes/gitlab-ci.js';
import { type FakeSlack, type PostedFakeMessage, startFakeSlack } from '../fakes/slack.js';
import { BOT_TOKEN, postPipelineSlash, tempDir, writeConfig } from './helpers.js';
import { type OpsbotProcess, spawnOpsbot } from './process.js';
import { pipelinesYaml, slackServeEnv, startAppForges, storeAndForgesYaml } from './serve-config.js';

/**
 * One real `opsbot serve` process (bin/opsbot.js) attacked over the wire, and followed pipelines whose forge
 * misbehaves: deliveries with a wrong or foreign signature, the wrong content type, broken JSON, a body that
 * never finishes (slow loris) and a crowd of them, bodies over the cap refused before they are sent; forge
 * text made to ping the channel or fake links; job logs that 404, fail or are huge; a forge answering 429
 * and 5xx while it is polled. What is asserted is what the forge, the channel and the operator's logs see.
 *
 * GitLab delivers webhooks here. GitHub's endpoint has a secret too (to attack), but the hook is never set up on
 * the fake forge: its deliveries never arrive, as when a hook was mistyped, disabled, or a delivery was lost
 * while opsbot restarted (GitHub does not redeliver on its own). Polling is `auto`, the default.
 */

const GL_TOKEN = 'glpat-hostile-e2e-token-6161';
const GH_TOKEN = 'ghp_hostile_e2e_token_6262';
const GL_SECRET = 'gl-hostile-secret-3c4d5e';
const GH_SECRET = 'gh-hostile-secret-7a8b9c';
const MAX_BODY = 64 * 1024;
const BODY_TIMEOUT_MS = 1_000;

const text = (m: PostedFakeMessage | undefined): string => JSON.stringify(m?.blocks ?? []) + (m?.text ?? '');
const sign = (secret: string, raw: string | Buffer, algo: 'sha256' | 'sha1' = 'sha256') =>
  `${algo}=${createHmac(algo, secret).update(raw).digest('hex')}`;

interface RawAnswer {
  readonly status: number | null;
  /** The bytes opsbot answered with (status line, headers, body). */
  readonly raw: string;
  /** When the answer (or the close) came, ms after the request started. */
  readonly ms: number;
  /** When the answer's first byte came, ms after the request started. */
  readonly answeredMs: number | null;
  /** The body bytes actually written before the answer came. */
  readonly sentBytes: number;
  readonly closed: boolean;
}

/**
 * A request over a plain TCP socket: the head, then `body` in pieces (`stallAfter`: stop sending after that
 * many bytes and never finish). Resolves when opsbot answers or closes, or at `deadlineMs`.
 */
const rawPost = (
  port: number,
  o: {
    path: string;
    headers: Record<string, string>;
    body: Buffer;
    contentLength?: number;
    stallAfter?: number;
    deadlineMs: number;
    /** Resolve only when opsbot closes the connection (or at the deadline), not at its answer. */
    untilClosed?: boolean;
  },
): Promise<RawAnswer> =>
  new Promise((resolve) => {
    const t0 = performance.now();
    const sock: Socket = connect(port, '127.0.0.1');
    let raw = '';
    let sent = 0;
    let settled = false;
    let answeredMs: number | null = null;
    const finish = (closed: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const m = /^HTTP\/1\.1 (\d{3})/.exec(raw);
      resolve({
        status: m ? Number(m[1]) : null,
        raw,
        ms: performance.now() - t0,
        answeredMs,
        sentBytes: sent,
        closed,
      });
      sock.destroy();
    };
    const timer = setTimeout(() => finish(false), o.deadlineMs);
    sock.on('data', (d: Buffer) => {
      answeredMs ??= performance.now() - t0;
      raw += d.toString('utf8');
      // The whole answer is in once its body (content-length) is.
      const head = raw.indexOf('\r\n\r\n');
      const len = /content-length: (\d+)/i.exec(raw);
      if (o.untilClosed) return;
      if (head >= 0 && len && Buffer.byteLength(raw) >= head + 4 + Number(len[1])) finish(false);
    });
    sock.on('close', () => finish(true));
    sock.on('error', () => finish(true));
    sock.on('connect', () => {
      const head = [
        `POST ${o.path} HTTP/1.1`,
        'host: 127.0.0.1',
        `content-length: ${o.contentLength ?? o.body.length}`,
        ...Object.entries(o.headers).map(([k, v]) => `${k}: ${v}`),
        '',
        '',
      ].join('\r\n');
      sock.write(head);
      const limit = o.stallAfter ?? o.body.length;
      const pump = () => {
        while (!settled && sent < limit) {
          const piece = o.body.subarray(sent, Math.min(limit, sent + 16 * 1024));
          sent += piece.length;
          if (!sock.write(piece)) {
            sock.once('drain', pump);
            return;
          }
        }
      };
      pump();
    });
  });

describe('opsbot serve under hostile webhooks and a misbehaving forge', () => {
  let slack: FakeSlack;
  let gitlab: FakeGitlab;
  let github: FakeGithub;
  let glRepo: GitRepo;
  let ghRepo: GitRepo;
  let bot: OpsbotProcess;
  let glSha: string;
  const tmp = tempDir();
  let followed = 0;

  beforeAll(async () => {
    slack = await startFakeSlack({ token: BOT_TOKEN });
    ({ glRepo, ghRepo, gitlab, github } = await startAppForges(GL_TOKEN, GH_TOKEN));
    glSha = await glRepo.commitToBranch('fix/<!channel>-<@U0EVIL>|x&y', { 'a.txt': 'b\n' }, 'fix');
    const configPath = writeConfig(
      tmp.dir,
      storeAndForgesYaml(tmp.dir, { gitlab, github }) +
        pipelinesYaml({
          webhooks: { maxBodyBytes: MAX_BODY, bodyTimeoutMs: BODY_TIMEOUT_MS },
          polling: { intervalMs: 1000, maxIntervalMs: 2000 },
          slack: { coalesceMs: 150, minUpdateIntervalMs: 200, resultDelayMs: 100 },
        }),
    );
    bot = await spawnOpsbot({
      configPath,
      env: slackServeEnv(slack, {
        GITLAB_TOKEN: GL_TOKEN,
        GITHUB_TOKEN: GH_TOKEN,
        GITLAB_WEBHOOK_SECRET: GL_SECRET,
        GITHUB_WEBHOOK_SECRET: GH_SECRET,
        PORT: '0',
      }),
    });
    gitlab.setWebhook({
      url: `http://127.0.0.1:${bot.port}/webhooks/gitlab`,
      token: GL_SECRET,
      retryDelayMs: 50,
    });
  }, 90_000);

  afterAll(async () => {
    await bot?.kill('SIGTERM');
    await Promise.all([slack?.close(), gitlab?.close(), github?.close()]);
    await Promise.all([glRepo?.cleanup(), ghRepo?.cleanup()]);
    tmp.cleanup();
  });

  /** `/pipeline <mr>` in #ops, as a user would; resolves with the thread's root message. */
  const follow = async (mr: string) => {
    followed += 1;
    await postPipelineSlash(bot.port, slack, mr, `h${followed}`);
    return slack.waitFor(
      () => slack.messages.find((m) => m.threadTs === null && m.text.includes(mr) && !m.broadcast),
      20_000,
    );
  };
  const threadOf = (root: PostedFakeMessage) => () => slack.messages.filter((m) => m.threadTs === root.ts);
  const chatCalls = () => slack.calls.filter((c) => c.method.startsWith('chat.')).length;
  const logText = () => bot.lines.join('\n');

  it('GitHub: no signature, sha1= only, a valid signature of another body, another secret: 401, logged without the secret, nothing in Slack', async () => {
    const body = JSON.stringify({
      action: 'completed',
      workflow_run: { id: 1 },
      repository: { full_name: 'acme/web' },
    });
    const other = JSON.stringify({
      action: 'completed',
      workflow_run: { id: 2 },
      repository: { full_name: 'acme/web' },
    });
    const before = chatCalls();
    const linesBefore = bot.lines.length;
    const h = (sig: Record<string, string>) => ({
      'content-type': 'application/json',
      'x-github-event': 'workflow_run',
      'x-github-delivery': randomUUID(),
      ...sig,
    });
    const attempts: Array<[string, Record<string, string>]> = [
      ['none', {}],
      ['sha1 only', { 'x-hub-signature': sign(GH_SECRET, body, 'sha1') }],
      ['sha1 in the sha256 header', { 'x-hub-signature-256': sign(GH_SECRET, body, 'sha1') }],
      ['signature of another body', { 'x-hub-signature-256': sign(GH_SECRET, other) }],
      ['another secret', { 'x-hub-signature-256': sign('not-the-secret', body) }],
      ['upper-case prefix', { 'x-hub-signature-256': sign(GH_SECRET, body).replace('sha256', 'SHA256') }],
    ];
    for (const [what, sig] of attempts) {
      const r = await fetch(`http://127.0.0.1:${bot.port}/webhooks/github`, {
        method: 'POST',
        headers: h(sig),
        body,
      });
      expect(r.status, what).toBe(401);
      expect(await r.text()).not.toContain(GH_SECRET);
    }
    await bot.waitForLine(
      (l) => bot.lines.indexOf(l) >= linesBefore && l.includes('webhook refused'),
      10_000,
    );
    expect(bot.lines.slice(linesBefore).some((l) => l.includes('webhook refused'))).toBe(true);
    expect(logText()).not.toContain(GH_SECRET);
    expect(logText()).not.toContain(sign(GH_SECRET, body).slice(7, 40)); // nor the signatures sent
    expect(chatCalls()).toBe(before);
  });

  it('GitLab: a missing, empty or near-miss token is 401 and logged without any token', async () => {
    const before = chatCalls();
    // (A trailing space is no near miss: HTTP header values are trimmed on both sides of the wire.)
    for (const token of [null, '', GL_SECRET.toUpperCase(), GL_SECRET.slice(1), `${GL_SECRET}\u00a0`]) {
      const r = await fetch(`http://127.0.0.1:${bot.port}/webhooks/gitlab`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-gitlab-event': 'Pipeline Hook',
          ...(token === null ? {} : { 'x-gitlab-token': token }),
        },
        body: '{}',
      });
      expect(r.status, String(token)).toBe(401);
    }
    expect(logText()).not.toContain(GL_SECRET);
    expect(logText()).not.toContain(GL_SECRET.toUpperCase());
    expect(chatCalls()).toBe(before);
  });

  it('a flood of unauthenticated requests is refused and counted, but does not flood the log', async () => {
    const metric = async () => {
      const t = await (await fetch(`http://127.0.0.1:${bot.port}/metrics`)).text();
      const m = /^opsbot_webhook_deliveries_total\{source="gitlab",outcome="unauthorized"\} (\d+)$/m.exec(t);
      return Number(m?.[1] ?? 0);
    };
    const counted = await metric();
    const linesBefore = bot.lines.length;
    const N = 300;
    const statuses = await Promise.all(
      Array.from({ length: N }, (_, i) =>
        fetch(`http://127.0.0.1:${bot.port}/webhooks/gitlab`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-gitlab-event': 'Pipeline Hook',
            'x-gitlab-token': `guess-${i}`,
          },
          body: '{}',
        }).then(async (r) => {
          await r.arrayBuffer();
          return r.status;
        }),
      ),
    );
    expect(statuses.every((s) => s === 401)).toBe(true);
    expect((await metric()) - counted).toBe(N); // the operator still sees every one of them
    // A line on stderr is written before the answer it belongs to: all of them are in by now.
    const logged = bot.lines.slice(linesBefore).filter((l) => l.includes('webhook refused'));
    expect(logged.length).toBeLessThanOrEqual(1);
  });

  it('GitHub with the form content type (its UI default) is 415 naming the fix, and the operator sees it in the log', async () => {
    const json = JSON.stringify({ zen: 'Keep it logically awesome.', hook_id: 1 });
    const form = `payload=${encodeURIComponent(json)}`;
    const r = await fetch(`http://127.0.0.1:${bot.port}/webhooks/github`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-github-event': 'ping',
        'x-github-delivery': randomUUID(),
        'x-hub-signature-256': sign(GH_SECRET, form),
      },
      body: form,
    });
    expect(r.status).toBe(415);
    expect(await r.text()).toContain('application/json');
    await bot.waitForLine((l) => l.includes('application/json') && l.includes('"level":40'), 10_000);
  });

  it('authentic but broken bodies: not JSON is 400, JSON of the wrong shape is ignored (2xx); never a 5xx the forge would retry', async () => {
    const post = (body: string, event = 'Pipeline Hook') =>
      fetch(`http://127.0.0.1:${bot.port}/webhooks/gitlab`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-gitlab-event': event,
          'x-gitlab-token': GL_SECRET,
          'idempotency-key': randomUUID(),
        },
        body,
      }).then((r) => r.status);
    expect(await post('{"object_attributes":')).toBe(400);
    expect(await post('\u0000\u0001binary')).toBe(400);
    for (const odd of [
      'null',
      '[]',
      '"x"',
      '42',
      '{"object_attributes":"x"}',
      '{"project":null}',
      '{"builds":[null]}',
    ]) {
      const status = await post(odd);
      expect(status, odd).toBeGreaterThanOrEqual(200);
      expect(status, odd).toBeLessThan(300);
    }
    expect(await post('{}', 'Tag Push Hook')).toBe(200);
    const missing = await fetch(`http://127.0.0.1:${bot.port}/webhooks/gitlab`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-gitlab-token': GL_SECRET },
      body: '{}',
    });
    expect(missing.status).toBe(400);
  });

  it('a body declared over the cap is refused with 413 before it is sent; one that grows over it too (no Content-Length lies)', async () => {
    const big = Buffer.alloc(8 * 1024 * 1024, 'x');
    const declared = await rawPost(bot.port, {
      path: '/webhooks/gitlab',
      headers: { 'x-gitlab-event': 'Pipeline Hook', 'x-gitlab-token': GL_SECRET },
      body: big,
      stallAfter: 0, // only the head: the answer must not wait for the body
      deadlineMs: 5_000,
    });
    expect(declared.status).toBe(413);
    expect(declared.sentBytes).toBe(0);
    // Content-Length says small, the body is larger: opsbot reads only what was declared; the rest is not a
    // second request that smuggles anything in.
    const lying = await rawPost(bot.port, {
      path: '/webhooks/github',
      headers: { 'x-github-event': 'ping', 'x-hub-signature-256': sign(GH_SECRET, '{}') },
      body: Buffer.from('{}POST /webhooks/github HTTP/1.1\r\n\r\n'),
      contentLength: 2,
      deadlineMs: 5_000,
    });
    expect(lying.status).toBe(200);
  });

  it('refusals that need no body come before it: a wrong GitLab token or a missing GitHub signature is 401 at once, and a stalled sender is cut off', async () => {
    const body = Buffer.alloc(MAX_BODY - 10, 'x');
    const stalled = (path: string, headers: Record<string, string>) =>
      rawPost(bot.port, {
        path,
        headers,
        body,
        stallAfter: 0,
        deadlineMs: BODY_TIMEOUT_MS + 5_000,
        untilClosed: true,
      });
    const [gl, gh, none, big] = await Promise.all([
      stalled('/webhooks/gitlab', { 'x-gitlab-event': 'Pipeline Hook', 'x-gitlab-token': 'wrong' }),
      stalled('/webhooks/github', { 'x-github-event': 'workflow_run', 'x-hub-signature-256': 'sha256=zz' }),
      stalled('/webhooks/github', { 'x-github-event': 'workflow_run' }),
      rawPost(bot.port, {
        path: '/webhooks/gitlab',
        headers: { 'x-gitlab-event': 'Pipeline Hook', 'x-gitlab-token': GL_SECRET },
        body: Buffer.alloc(MAX_BODY * 2, 'x'),
        stallAfter: 1_000,
        deadlineMs: BODY_TIMEOUT_MS + 5_000,
        untilClosed: true,
      }),
    ]);
    for (const [what, a, status] of [
      ['gitlab wrong token', gl, 401],
      ['github bad signature header', gh, 401],
      ['github no signature', none, 401],
      ['over the cap, then stalled', big, 413],
    ] as const) {
      expect(a.status, what).toBe(status);
      expect(a.sentBytes, what).toBeLessThanOrEqual(1_000);
      // Answered without waiting for the body...
      expect(a.answeredMs ?? Number.POSITIVE_INFINITY, what).toBeLessThan(BODY_TIMEOUT_MS * 0.8);
      // ...and the connection of a sender that then stalls is not held beyond the body deadline.
      expect(a.closed, what).toBe(true);
      expect(a.ms, what).toBeLessThan(BODY_TIMEOUT_MS + 4_000);
    }
  });

  it('slow loris: a body that stops half way is answered 408 and closed after bodyTimeoutMs; a crowd of them does not stop real deliveries', async () => {
    const body = Buffer.from(JSON.stringify({ object_kind: 'pipeline', padding: 'p'.repeat(2_000) }));
    const headers = { 'x-gitlab-event': 'Pipeline Hook', 'x-gitlab-token': GL_SECRET };
    const crowd = Array.from({ length: 40 }, () =>
      rawPost(bot.port, { path: '/webhooks/gitlab', headers, body, stallAfter: 100, deadlineMs: 10_000 }),
    );
    // While they hang, a real delivery and the health check are answered at once.
    const ok = await fetch(`http://127.0.0.1:${bot.port}/webhooks/gitlab`, {
      method: 'POST',
      headers: { ...headers, 'x-gitlab-event': 'Tag Push Hook', 'content-type': 'application/json' },
      body: '{}',
    });
    expect(ok.status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${bot.port}/healthz`)).status).toBe(200);
    const answers = await Promise.all(crowd);
    for (const a of answers) {
      expect(a.status).toBe(408);
      expect(a.closed || a.raw.toLowerCase().includes('connection: close')).toBe(true);
      expect(a.ms).toBeGreaterThanOrEqual(BODY_TIMEOUT_MS * 0.9);
      expect(a.ms).toBeLessThan(BODY_TIMEOUT_MS + 4_000);
    }
  });

  it('forged GitHub deliveries (their signature needs the whole body) share a byte budget: beyond it 503 at once, memory bounded; real ones pass again after', async () => {
    const size = MAX_BODY - 100;
    const crowd = await Promise.all(
      Array.from({ length: 24 }, () =>
        rawPost(bot.port, {
          path: '/webhooks/github',
          headers: {
            'x-github-event': 'workflow_run',
            'x-hub-signature-256': `sha256=${'ab'.repeat(32)}`,
            'content-type': 'application/json',
          },
          body: Buffer.alloc(size, 'x'),
          stallAfter: size - 10, // nearly all of it, then nothing: held until the body deadline
          deadlineMs: BODY_TIMEOUT_MS + 5_000,
        }),
      ),
    );
    const busy = crowd.filter((a) => a.status === 503);
    // 8 bodies of maxBodyBytes in all (512 kB here): at most 8 of these are read, the others refused at once.
    expect(busy.length).toBeGreaterThanOrEqual(24 - 8);
    for (const a of busy) {
      expect(a.raw.toLowerCase()).toContain('retry-after: 10');
      expect(a.answeredMs ?? Number.POSITIVE_INFINITY).toBeLessThan(BODY_TIMEOUT_MS * 0.8);
    }
    expect(crowd.filter((a) => a.status === 408).length).toBe(24 - busy.length);
    // The budget is given back: a real (signed) delivery is read and answered again.
    const ping = JSON.stringify({ zen: 'Design for failure.', hook_id: 7 });
    const r = await fetch(`http://127.0.0.1:${bot.port}/webhooks/github`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'ping',
        'x-github-delivery': randomUUID(),
        'x-hub-signature-256': sign(GH_SECRET, ping),
      },
      body: ping,
    });
    expect(r.status).toBe(200);
  });

  it('a flood of authentic deliveries (a forge retrying, a replay storm) is answered, each recorded once, and the thread ends right', async () => {
    const mr = await gitlab.addMergeRequest('ops/app', {
      sourceBranch: 'fix/<!channel>-<@U0EVIL>|x&y',
      title: 'flood',
    });
    const root = await follow(`ops/app!${mr.iid}`);
    const thread = threadOf(root);
    const p = gitlab.webhooks.withheld(() =>
      gitlab.ci.createPipeline('ops/app', {
        mrIid: mr.iid,
        sha: glSha,
        jobs: [{ name: 'unit', stage: 'test' }],
      }),
    );
    const body = JSON.stringify({ ...gitlab.ci.pipelineHookBody(p), padding: 'p'.repeat(MAX_BODY - 4_096) });
    // What an operator's Prometheus sees, sampled while the flood lasts.
    const metric = async (name: string) => {
      const t = await (await fetch(`http://127.0.0.1:${bot.port}/metrics`)).text();
      return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(t)?.[1] ?? Number.NaN);
    };
    let peakQueue = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peakQueue = Math.max(peakQueue, await metric('opsbot_webhook_queue_depth'));
        await new Promise((r) => setImmediate(r));
      }
    })();
    const N = 400;
    const keys = Array.from({ length: N }, (_, i) => (i % 4 === 0 ? 'replayed-key' : randomUUID()));
    const statuses = await Promise.all(
      keys.map((key) =>
        fetch(`http://127.0.0.1:${bot.port}/webhooks/gitlab`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-gitlab-event': 'Pipeline Hook',
            'x-gitlab-token': GL_SECRET,
            'idempotency-key': key,
          },
          body,
        }).then(async (r) => {
          await r.arrayBuffer();
          return r.status;
        }),
      ),
    );
    sampling = false;
    await sampler;
    expect(statuses.filter((s) => s === 202)).toHaveLength(N - N / 4 + 1);
    expect(statuses.filter((s) => s === 200)).toHaveLength(N / 4 - 1); // the replays: duplicates
    gitlab.ci.setJob(p.id, 'unit', 'running');
    gitlab.ci.setJob(p.id, 'unit', 'success');
    // One status message (edited to passed) and one result: nothing posted per delivery.
    const mine = () => thread().filter((m) => text(m).includes(`Pipeline #${p.id}`));
    await slack.waitFor(
      () => (mine().filter((m) => m.text.includes(`Pipeline #${p.id} passed`)).length === 2 ? true : null),
      30_000,
    );
    expect(mine()).toHaveLength(2);
    // Every accepted delivery was applied, those beyond the in-memory queue later from the store; the queue
    // stayed within its bound (it reached 171 of 301 accepted before it had one).
    const db = new DatabaseSync(`${tmp.dir}/data/opsbot.sqlite`);
    try {
      const ids = [...new Set(keys)].map((k) => `gitlab:${k}`);
      const unapplied = () =>
        ids.filter(
          (id) =>
            (db.prepare('select status from webhook_deliveries where id = ?').get(id) as { status: string })
              .status === 'pending',
        ).length;
      await slack.waitFor(() => (unapplied() === 0 ? true : null), 30_000);
    } finally {
      db.close();
    }
    expect(peakQueue).toBeGreaterThan(0);
    expect(peakQueue).toBeLessThanOrEqual(64);
    expect(await metric('opsbot_webhook_deferred_total')).toBeGreaterThan(0);
  });

  it('forge text aimed at Slack (branch, titles, job names, user names, job logs) is escaped, stripped of ANSI and cut to fit', async () => {
    const mr = await gitlab.addMergeRequest('ops/app', {
      sourceBranch: 'fix/<!channel>-<@U0EVIL>|x&y',
      title: '<!here> <https://evil.example|Open me> & <@U0BOSS>',
    });
    const root = await follow(`ops/app!${mr.iid}`);
    const thread = threadOf(root);
    const evilJob = '<!channel> deploy <https://evil.example|x>';
    const long = `E${'rror '.repeat(2_000)}`; // a 10 kB line
    const log = gitlabTrace(
      [
        ...Array.from({ length: 40 }, (_, i) => `line ${i} ${'z'.repeat(300)}`),
        '\u001b[31;1m<!channel> the build is on fire\u001b[0m',
        'see <https://evil.example/login|the docs> & <@U0BOSS>',
        '\u001b]8;;https://evil.example\u0007hyperlink\u001b]8;;\u0007 done',
        long,
        'FINAL: <script>&amp;</script>',
      ],
      1,
    );
    const p = gitlab.ci.createPipeline('ops/app', {
      mrIid: mr.iid,
      sha: glSha,
      jobs: [
        { name: evilJob, stage: '<!everyone>' },
        { name: 'unit', stage: 'test' },
      ],
    });
    gitlab.ci.setJob(p.id, 'unit', 'running');
    gitlab.ci.setJob(p.id, 'unit', 'success');
    gitlab.ci.setJob(p.id, evilJob, 'running');
    gitlab.ci.setJob(p.id, evilJob, 'failed', { log, failureReason: 'script_failure' });
    const result = await slack.waitFor(() => thread().find((m) => m.broadcast), 20_000);
    expect(text(result)).toContain('FINAL: &lt;script&gt;&amp;amp;&lt;/script&gt;');
    gitlab.setMergeRequestState('ops/app', mr.iid, 'merged', '<!here>');
    await slack.waitFor(() => thread().find((m) => m.text.includes('merged')), 20_000);

    // Everything opsbot sent to Slack for this MR, every post and every edit.
    const sent = slack.calls
      .filter((c) => c.method === 'chat.postMessage' || c.method === 'chat.update')
      .filter(
        (c) =>
          c.args.thread_ts === root.ts || c.args.ts === root.ts || thread().some((m) => m.ts === c.args.ts),
      )
      .map((c) => JSON.stringify({ text: c.args.text, blocks: c.args.blocks }));
    expect(sent.length).toBeGreaterThanOrEqual(3);
    for (const s of sent) {
      expect(s).not.toMatch(/<!(channel|here|everyone)>/);
      expect(s).not.toContain('<@U0EVIL>');
      expect(s).not.toContain('<@U0BOSS>');
      expect(s).not.toContain('|Open me>');
      expect(s).not.toContain('|the docs>');
      expect(s).not.toContain('<https://evil.example');
      expect(s).not.toContain('\\u001b'); // JSON.stringify writes ESC as \u001b
      expect(s).not.toContain(String.fromCharCode(27));
    }
    const all = sent.join('\n');
    expect(all).toContain('&lt;!channel&gt; deploy');
    expect(all).toContain('&lt;!here&gt;');
    expect(all).toContain('the build is on fire');
    expect(all).toContain('hyperlink done');
    // Every message fits Slack's limits (the fake refuses invalid blocks: the result would not be there).
    for (const m of [root, ...thread()]) {
      for (const b of (m.blocks ?? []) as Array<{ text?: { text?: string } }>) {
        expect((b.text?.text ?? '').length).toBeLessThanOrEqual(3_000);
      }
      expect(m.text.length).toBeLessThanOrEqual(4_000);
    }
  });

  it('failed job logs that 404, keep failing or are huge: the result still ends the thread, with what could be read', async () => {
    const mr = await gitlab.addMergeRequest('ops/app', {
      sourceBranch: 'fix/<!channel>-<@U0EVIL>|x&y',
      title: 'logs',
    });
    const root = await follow(`ops/app!${mr.iid}`);
    const thread = threadOf(root);
    const huge = gitlabTrace(
      [...Array.from({ length: 60_000 }, (_, i) => `noise ${i} ${'n'.repeat(60)}`), 'HUGE-LAST-LINE'],
      1,
    );
    expect(huge.length).toBeGreaterThan(4 * 1024 * 1024);
    const p = gitlab.ci.createPipeline('ops/app', {
      mrIid: mr.iid,
      sha: glSha,
      jobs: [
        { name: 'gone', stage: 'test' },
        { name: 'flaky-store', stage: 'test' },
        { name: 'huge', stage: 'test' },
      ],
    });
    for (const j of p.jobs) {
      const path = new RegExp(`/jobs/${j.id}/trace$`);
      if (j.name === 'gone')
        gitlab.inject(
          { method: 'GET', path },
          { kind: 'respond', status: 404, json: { message: '404 Not found' } },
          100,
        );
      if (j.name === 'flaky-store')
        gitlab.inject(
          { method: 'GET', path },
          { kind: 'respond', status: 502, json: { message: 'bad gateway' } },
          100,
        );
    }
    for (const [name, log] of [
      ['gone', undefined],
      ['flaky-store', undefined],
      ['huge', huge],
    ] as const) {
      gitlab.ci.setJob(p.id, name, 'running');
      gitlab.ci.setJob(p.id, name, 'failed', log ? { log } : {});
    }
    const result = await slack.waitFor(() => thread().find((m) => m.broadcast), 30_000);
    const t = text(result);
    expect(t).toContain(`Pipeline #${p.id} failed`);
    for (const name of ['gone', 'flaky-store', 'huge']) expect(t).toContain(`|${name}>`);
    expect(t).toContain('HUGE-LAST-LINE');
    expect(t).not.toContain('bad gateway');
    expect(t).not.toContain('404 Not found');
  });

  it('webhooks set up but never arriving (GitHub does not redeliver): the safety-net poll ends the thread with the result, through a 429 with Retry-After and 5xx', async () => {
    const sha = await ghRepo.commitToBranch('fix/poll', { 'b.txt': 'b\n' }, 'poll');
    const pr = github.addPull('acme/web', { head: 'fix/poll', title: 'poll <!channel>' });
    const root = await follow(`acme/web#${pr.number}`);
    const thread = threadOf(root);
    const run = github.actions.createWorkflowRun('acme/web', {
      headSha: sha,
      headBranch: 'fix/poll',
      prNumber: pr.number,
      name: 'ci',
      jobs: [{ name: 'unit' }],
    });
    await slack.waitFor(() => thread().find((m) => text(m).includes('unit')), 20_000);
    const t429 = Date.now();
    github.inject(
      { method: 'GET', path: /\/actions\/runs/ },
      {
        kind: 'respond',
        status: 429,
        headers: { 'retry-after': '2' },
        json: { message: 'API rate limit exceeded' },
      },
      1,
    );
    github.inject(
      { method: 'GET', path: /\/actions\// },
      { kind: 'respond', status: 503, json: { message: 'unavailable' } },
      3,
    );
    github.actions.setJob(run.id, 'unit', 'in_progress');
    github.actions.setJob(run.id, 'unit', 'completed', 'failure', {
      log: githubLog(['AssertionError: polled through the storm'], true),
    });
    const result = await slack.waitFor(() => thread().find((m) => m.broadcast), 30_000);
    expect(text(result)).toContain('AssertionError: polled through the storm');
    expect(github.webhooks.sent).toHaveLength(0);
    // The first runs read after the injection got the 429; the same read was not made again before its
    // Retry-After (2 s) had passed.
    const runs = github.requestsTo('GET', /\/actions\/runs$/).filter((r) => r.at >= t429);
    expect(runs.length).toBeGreaterThanOrEqual(2);
    expect((runs[1]?.at ?? 0) - (runs[0]?.at ?? 0)).toBeGreaterThanOrEqual(1_900);
  });
});
