/**
 * Forge webhooks under a realistic load, against a real `opsbot serve` process (bin/opsbot.js, SQLite store,
 * info-level logs): 50 followed GitLab MRs each run a pipeline (build -> 2 test jobs -> deploy; every 10th
 * fails a test job), and the Pipeline / Job Hooks the GitLab fake produces for them (its real payloads and
 * headers) are delivered over HTTP: 1,000 deliveries in 60 s (WEBHOOK_BENCH_SECONDS scales the schedule),
 * in bursts per pipeline phase, each burst shuffled, with redeliveries of earlier deliveries (duplicates,
 * some arriving phases late, i.e. out of order).
 *
 * Figures: p99 of the webhook answer time seen by the sender (target < 50 ms; baseline: a bare node:http
 * server that answers 202 at once, same deliveries); Slack chat.* calls opsbot made for the threads against
 * the minimum a thread needs (one status post, one update per later phase, one result: target <= 1.5 x;
 * baseline: one call per delivery); and whether all 50 threads end right (one status message showing every
 * job's final state, one result, failures broadcast with the failed job's log).
 *
 * Run alone: `npx tsx bench/webhooks.ts` (or `BENCH_ONLY=webhooks npm run bench`).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { signSlackRequest } from '../src/integrations/slack/verify.js';
import { spawnOpsbot } from '../test/e2e/process.js';
import { createBareRepo } from '../test/fakes/git-repo.js';
import { startFakeGitlab } from '../test/fakes/gitlab.js';
import { gitlabTrace } from '../test/fakes/gitlab-ci.js';
import { type PostedFakeMessage, startFakeSlack } from '../test/fakes/slack.js';
import type { SentWebhook } from '../test/fakes/webhook-sender.js';

const BOT_TOKEN = 'xoxb-bench-webhooks-919191';
const SIGNING_SECRET = 'bench-webhooks-signing-1a2b3c';
const GL_TOKEN = 'glpat-bench-webhooks-424242';
const HOOK_SECRET = 'bench-webhook-secret-5d6e7f';
const MRS = 50;
const DELIVERIES = 1_000;
const CHANNEL = 'C0BENCH';

export interface WebhookBenchResult {
  readonly deliveries: number;
  readonly duplicates: number;
  readonly seconds: number;
  readonly latency: {
    readonly p50: number;
    readonly p99: number;
    readonly max: number;
    readonly non2xx: number;
  };
  readonly baseline: { readonly p50: number; readonly p99: number; readonly max: number };
  /** opsbot's own answer times (its histogram): answered within 25 / 50 ms, of all. */
  readonly served: { readonly within25: number; readonly within50: number; readonly total: number };
  /** 1-minute load average when the run ended (the machine is shared). */
  readonly loadAverage: number;
  readonly chatCalls: number;
  readonly minimumCalls: number;
  readonly floorCalls: number;
  readonly ratio: number;
  readonly threadsRight: number;
  readonly wrong: readonly string[];
  readonly pass: boolean;
}

interface Delivery {
  readonly mr: number;
  readonly at: number; // ms from the start
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly duplicate: boolean;
}

const rng = (seed: number) => () => {
  seed = (seed * 16807) % 2147483647;
  return (seed - 1) / 2147483646;
};

const percentile = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

const post = (port: number, path: string, headers: Record<string, string>, body: string) =>
  new Promise<{ status: number; ms: number }>((resolve) => {
    const t0 = performance.now();
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        agent,
        headers: { ...headers, 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0 }));
      },
    );
    req.on('error', () => resolve({ status: 0, ms: performance.now() - t0 }));
    req.end(body);
  });

/** Sends every delivery at its time; returns the answer times. */
const replay = async (port: number, deliveries: readonly Delivery[], scale: number) => {
  const start = performance.now();
  const results: Array<{ status: number; ms: number }> = [];
  await Promise.all(
    deliveries.map(
      (d) =>
        new Promise<void>((resolve) => {
          setTimeout(
            () => {
              void post(port, '/webhooks/gitlab', d.headers, d.body).then((r) => {
                results.push(r);
                resolve();
              });
            },
            Math.max(0, d.at * scale - (performance.now() - start)),
          );
        }),
    ),
  );
  return results;
};

/** A bare node:http server in a child process: reads the body, answers 202. */
const startBare = async (): Promise<{ port: number; stop: () => void }> => {
  const script = `
    const http = require('node:http');
    const s = http.createServer((req, res) => { req.resume(); req.on('end', () => { res.writeHead(202, {'content-type':'application/json'}); res.end('{"accepted":true}'); }); });
    s.listen(0, '127.0.0.1', () => process.stdout.write('PORT ' + s.address().port + '\\n'));
  `;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve) => {
    child.stdout?.on('data', (b: Buffer) => {
      const m = /PORT (\d+)/.exec(b.toString());
      if (m) resolve(Number(m[1]));
    });
  });
  return { port, stop: () => child.kill('SIGTERM') };
};

const text = (m: PostedFakeMessage | undefined): string => JSON.stringify(m?.blocks ?? []) + (m?.text ?? '');

export const runWebhookBench = async (opts: { seconds?: number } = {}): Promise<WebhookBenchResult> => {
  const seconds = opts.seconds ?? Number(process.env.WEBHOOK_BENCH_SECONDS ?? 60);
  const scale = seconds / 60;
  const random = rng(20261201);
  const slack = await startFakeSlack({ token: BOT_TOKEN, maxResponseUrlUses: Number.MAX_SAFE_INTEGER });
  const repo = await createBareRepo({ 'README.md': '# bench\n' });
  const shas: string[] = [];
  for (let i = 1; i <= MRS; i++)
    shas.push(await repo.commitToBranch(`bench/mr-${i}`, { [`f${i}.txt`]: `${i}\n` }, `mr ${i}`));
  const gitlab = await startFakeGitlab({
    projects: { 'bench/app': repo },
    tokens: { [GL_TOKEN]: { access: 'write' } },
  });
  const dir = mkdtempSync(join(tmpdir(), 'opsbot-bench-webhooks-'));
  const configPath = join(dir, 'opsbot.yaml');
  writeFileSync(
    configPath,
    `store:\n  dataDir: ${dir}/data\nforges:\n  gitlab:\n    host: ${gitlab.host}\npipelines:\n  polling:\n    mode: never\n`,
  );
  const bot = await spawnOpsbot({
    configPath,
    env: {
      SLACK_BOT_TOKEN: BOT_TOKEN,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: slack.apiUrl,
      GITLAB_TOKEN: GL_TOKEN,
      GITLAB_WEBHOOK_SECRET: HOOK_SECRET,
      PORT: '0',
      // WEBHOOK_BENCH_PROFILE=dir: a CPU profile of the opsbot process (bench/lib/cpuprofile-top.ts sums it up).
      ...(process.env.WEBHOOK_BENCH_PROFILE
        ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${process.env.WEBHOOK_BENCH_PROFILE}` }
        : {}),
    },
  });
  const bare = await startBare();
  try {
    // Follow the 50 MRs with /pipeline, as users would.
    const mrs: Awaited<ReturnType<typeof gitlab.addMergeRequest>>[] = [];
    for (let i = 1; i <= MRS; i++)
      mrs.push(await gitlab.addMergeRequest('bench/app', { sourceBranch: `bench/mr-${i}` }));
    for (const mr of mrs) {
      const body = new URLSearchParams({
        team_id: 'T0FAKE001',
        channel_id: CHANNEL,
        channel_name: 'bench',
        user_id: 'U0BENCH',
        user_name: 'bench',
        command: '/pipeline',
        text: `bench/app!${mr.iid}`,
        response_url: slack.responseUrl(`follow-${mr.iid}`),
        trigger_id: '1.2.3',
      }).toString();
      const sig = signSlackRequest(SIGNING_SECRET, body, Date.now() / 1000);
      await post(
        bot.port,
        '/slack/events',
        { 'content-type': 'application/x-www-form-urlencoded', ...sig },
        body,
      );
    }
    const roots = await slack.waitFor(() => {
      const r = slack.messages.filter((m) => m.threadTs === null && m.channel === CHANNEL);
      return r.length === MRS ? r : null;
    }, 60_000);
    // Each follow starts with one sync from the forge (GitLab's MR pipelines API): let it happen before the
    // pipelines run on the fake, or it would read their final state and the deliveries would all be old news.
    await slack.waitFor(
      () =>
        mrs.every(
          (mr) => gitlab.requestsTo('GET', new RegExp(`/merge_requests/${mr.iid}/pipelines$`)).length > 0,
        ) || null,
      60_000,
    );
    const rootOf = new Map(
      mrs.map((mr) => [
        mr.iid,
        roots.find((r) => r.text.includes(`bench/app!${mr.iid}>`)) as PostedFakeMessage,
      ]),
    );

    // Run every pipeline on the fake with its hooks held: they are the deliveries, grouped by phase.
    gitlab.setWebhook({ url: `http://127.0.0.1:${bot.port}/webhooks/gitlab`, token: HOOK_SECRET });
    gitlab.webhooks.hold();
    const phases: SentWebhook[][][] = []; // [mr][phase] -> deliveries
    const pipelines: Array<{ mr: (typeof mrs)[number]; p: { id: number }; fails: boolean }> = [];
    for (const [i, mr] of mrs.entries()) {
      const fails = (i + 1) % 10 === 0;
      const cut = () => gitlab.webhooks.sent.length;
      const groups: SentWebhook[][] = [];
      let from = cut();
      const p = gitlab.ci.createPipeline('bench/app', {
        mrIid: mr.iid,
        sha: shas[i] as string,
        jobs: [
          { name: 'build', stage: 'build' },
          { name: 'unit', stage: 'test' },
          { name: 'integration', stage: 'test' },
          { name: 'deploy-review', stage: 'deploy' },
        ],
      });
      gitlab.ci.setJob(p.id, 'build', 'running');
      groups.push(gitlab.webhooks.sent.slice(from, cut()));
      from = cut();
      gitlab.ci.setJob(p.id, 'build', 'success');
      for (const j of ['unit', 'integration']) gitlab.ci.setJob(p.id, j, 'running');
      groups.push(gitlab.webhooks.sent.slice(from, cut()));
      from = cut();
      for (const j of ['unit', 'integration']) {
        if (fails && j === 'integration') {
          gitlab.ci.setJob(p.id, j, 'failed', {
            log: gitlabTrace(['$ make integration', `FAILED: checkout flow for mr ${mr.iid}`], 2),
          });
        } else gitlab.ci.setJob(p.id, j, 'success');
      }
      if (!fails) gitlab.ci.setJob(p.id, 'deploy-review', 'running');
      groups.push(gitlab.webhooks.sent.slice(from, cut()));
      from = cut();
      if (!fails) gitlab.ci.setJob(p.id, 'deploy-review', 'success');
      groups.push(gitlab.webhooks.sent.slice(from, cut()));
      phases.push(groups.filter((g) => g.length > 0));
      pipelines.push({ mr, p, fails });
    }
    gitlab.webhooks.release(() => []); // nothing is sent by the fake itself: the schedule below sends them

    // The schedule: pipelines start over the first third; phases ~1/6 apart; bursts of 300 ms, shuffled.
    const span = 60_000;
    const deliveries: Delivery[] = [];
    for (const [i, groups] of phases.entries()) {
      const start = (i / MRS) * (span / 3);
      groups.forEach((g, k) => {
        const t = start + k * (span / 6);
        for (const d of g.map((x) => ({ x, r: random() })).sort((a, b) => a.r - b.r)) {
          deliveries.push({
            mr: i,
            at: t + d.r * 300,
            headers: { ...d.x.headers },
            body: d.x.body,
            duplicate: false,
          });
        }
      });
    }
    const unique = deliveries.length;
    const originals = [...deliveries];
    while (deliveries.length < DELIVERIES) {
      const o = originals[Math.floor(random() * originals.length)] as Delivery;
      // A redelivery (same Idempotency-Key), soon after or a phase later (out of order).
      deliveries.push({
        ...o,
        at: Math.min(span - 500, o.at + random() * (span / 6) * 1.5),
        duplicate: true,
      });
    }
    deliveries.sort((a, b) => a.at - b.at);

    const callsBefore = slack.calls.length;
    const measured = await replay(bot.port, deliveries, scale);

    // Wait for the threads to settle (every result out), then a little more for stragglers.
    const threadOf = (iid: number) => slack.messages.filter((m) => m.threadTs === rootOf.get(iid)?.ts);
    await slack
      .waitFor(() => pipelines.every(({ mr }) => threadOf(mr.iid).length >= 2) || null, 60_000)
      .catch(() => undefined);
    await new Promise((r) => setTimeout(r, 6_000));

    const chat = slack.calls
      .slice(callsBefore)
      .filter((c) => c.method === 'chat.update' || (c.method === 'chat.postMessage' && c.args.thread_ts));
    const minimumCalls = phases.reduce((n, g) => n + 1 + (g.length - 1) + 1, 0);
    if (process.env.WEBHOOK_BENCH_DEBUG) {
      for (const [i, { mr }] of pipelines.entries()) {
        const ts = new Set(threadOf(mr.iid).map((m) => m.ts));
        const mine = chat.filter(
          (c) => c.args.thread_ts === rootOf.get(mr.iid)?.ts || ts.has(String(c.args.ts)),
        );
        console.log(
          `!${mr.iid} phases ${phases[i]?.length} calls ${mine.map((c) => c.method.slice(5)).join(',')}`,
        );
      }
    }
    const floorCalls = MRS * 3;
    const wrong: string[] = [];
    for (const { mr, p, fails } of pipelines) {
      const thread = threadOf(mr.iid);
      const status = thread.filter(
        (m) => m.text.startsWith(`Pipeline #${p.id} `) && text(m).includes('Updated <!date'),
      );
      const results = thread.filter((m) => !text(m).includes('Updated <!date'));
      const s = text(status[0]);
      const problems = [
        status.length !== 1 && `${status.length} status messages`,
        results.length !== 1 && `${results.length} results`,
        fails && !s.includes(':x: *') && 'status not failed',
        !fails && !s.includes(':white_check_mark: *') && 'status not passed',
        !/:white_check_mark: <[^>]+\|build>/.test(s) && 'build not shown passed',
        fails && !/:x: <[^>]+\|integration>/.test(s) && 'integration not shown failed',
        !fails && !/:white_check_mark: <[^>]+\|deploy-review>/.test(s) && 'deploy not shown passed',
        fails && !results[0]?.broadcast && 'failure not broadcast',
        fails && !text(results[0]).includes(`FAILED: checkout flow for mr ${mr.iid}`) && 'no log tail',
        !fails && results[0]?.broadcast && 'success broadcast',
      ].filter((x): x is string => typeof x === 'string');
      if (problems.length) wrong.push(`!${mr.iid}: ${problems.join(', ')}`);
    }
    const lat = (xs: typeof measured) => ({
      p50: percentile(
        xs.map((x) => x.ms),
        50,
      ),
      p99: percentile(
        xs.map((x) => x.ms),
        99,
      ),
      max: Math.max(...xs.map((x) => x.ms)),
    });
    const metrics = await (await fetch(`http://127.0.0.1:${bot.port}/metrics`)).text();
    const bucket = (le: string) =>
      Number(
        new RegExp(
          `opsbot_webhook_response_seconds_bucket\\{le="${le.replace('+', '\\+')}",source="gitlab"\\} (\\d+)`,
        ).exec(metrics)?.[1] ?? 0,
      );
    const served = { within25: bucket('0.025'), within50: bucket('0.05'), total: bucket('+Inf') };
    if (process.env.WEBHOOK_BENCH_DEBUG) {
      console.log(
        metrics
          .split('\n')
          .filter((l) =>
            /eventloop_lag|webhook_response_seconds_bucket|gc_duration_seconds_(sum|count)/.test(l),
          )
          .join('\n'),
      );
      console.log(`log lines: ${bot.lines.length}`, bot.lines.slice(-5).join('\n'));
    }
    // The baseline after opsbot's threads settled, so the two runs do not share the machine.
    const baseline = await replay(bare.port, deliveries, scale);
    const ratio = chat.length / minimumCalls;
    const latency = {
      ...lat(measured),
      non2xx: measured.filter((r) => r.status < 200 || r.status >= 300).length,
    };
    return {
      deliveries: deliveries.length,
      duplicates: deliveries.length - unique,
      seconds,
      latency,
      baseline: lat(baseline),
      served,
      loadAverage: loadavg()[0] ?? 0,
      chatCalls: chat.length,
      minimumCalls,
      floorCalls,
      ratio,
      threadsRight: MRS - wrong.length,
      wrong,
      pass: latency.p99 < 50 && latency.non2xx === 0 && ratio <= 1.5 && wrong.length === 0,
    };
  } finally {
    bare.stop();
    await bot.kill('SIGTERM');
    await Promise.all([slack.close(), gitlab.close()]);
    await repo.cleanup();
    rmSync(dir, { recursive: true, force: true });
    agent.destroy();
  }
};

export const printWebhookBench = (r: WebhookBenchResult): void => {
  const ms = (x: number) => `${x.toFixed(1)} ms`;
  console.log(
    `webhooks: ${r.deliveries} GitLab deliveries (${r.duplicates} redeliveries, bursts shuffled) for ${MRS} followed MRs in ${r.seconds} s, opsbot serve process, SQLite`,
  );
  console.log(
    `  answer time     opsbot p50 ${ms(r.latency.p50)}  p99 ${ms(r.latency.p99)}  max ${ms(r.latency.max)}  (non-2xx: ${r.latency.non2xx})`,
  );
  console.log(
    `                  baseline (bare node:http, answers 202 at once) p50 ${ms(r.baseline.p50)}  p99 ${ms(r.baseline.p99)}  max ${ms(r.baseline.max)}`,
  );
  console.log(
    `                  opsbot's own histogram: ${r.served.within50} of ${r.served.total} answered within 50 ms (${r.served.within25} within 25 ms); load average ${r.loadAverage.toFixed(1)} on ${cpus().length} CPUs`,
  );
  console.log(`                  target p99 < 50 ms: ${r.latency.p99 < 50 ? 'PASS' : 'FAIL'}`);
  console.log(
    `  chat.* calls    ${r.chatCalls} for the threads; minimum ${r.minimumCalls} (a status post, one update per later phase, a result, per MR) -> ${r.ratio.toFixed(2)} x; floor ${r.floorCalls} (post + final update + result); baseline one call per delivery: ${r.deliveries}`,
  );
  console.log(`                  target <= 1.5 x: ${r.ratio <= 1.5 ? 'PASS' : 'FAIL'}`);
  console.log(
    `  final messages  ${r.threadsRight} of ${MRS} threads right${r.wrong.length ? `; wrong: ${r.wrong.slice(0, 5).join('; ')}` : ''}: ${r.wrong.length === 0 ? 'PASS' : 'FAIL'}`,
  );
};

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = await runWebhookBench();
  printWebhookBench(r);
  if (!r.pass) process.exitCode = 1;
}
