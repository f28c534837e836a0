import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createBareRepo } from '../fakes/git-repo.js';
import { githubLog } from '../fakes/github-actions.js';
import { gitlabTrace } from '../fakes/gitlab-ci.js';
import { type FakeSlack, type PostedFakeMessage, startFakeSlack } from '../fakes/slack.js';
import { engines, type StoreTarget } from '../store/harness.js';
import { BOT_TOKEN, postPipelineSlash, tempDir, writeConfig } from './helpers.js';
import { freePort, type OpsbotProcess, spawnOpsbot } from './process.js';
import {
  pipelinesYaml,
  slackServeEnv,
  startGithubWithRepo,
  startGitlabWithRepo,
  storeAndForgesYaml,
} from './serve-config.js';

/**
 * The pipeline follower as users run it: `opsbot serve` processes (bin/opsbot.js), killed with SIGKILL in the
 * middle of a pipeline, two replicas on one PostgreSQL database receiving the same deliveries, and a process
 * with no webhooks at all that polls. What is asserted is what the channel sees.
 */

const GL_TOKEN = 'glpat-process-e2e-token-5150';
const GH_TOKEN = 'ghp_process_e2e_token_5151';
const HOOK_SECRET = 'process-hook-secret-77aa';

const text = (m: PostedFakeMessage | undefined): string => JSON.stringify(m?.blocks ?? []) + (m?.text ?? '');

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => undefined);
});

const follow = async (bot: OpsbotProcess, slack: FakeSlack, mr: string, id: string) => {
  await postPipelineSlash(bot.port, slack, mr, id);
  return slack.waitFor(() => slack.messages.find((m) => m.threadTs === null && m.text.includes(mr)), 20_000);
};

describe('opsbot serve processes', () => {
  it('kill -9 in the middle of a pipeline: after the restart the same status message catches up, nothing posted twice', async () => {
    const slack = await startFakeSlack({ token: BOT_TOKEN });
    const repo = await createBareRepo({ 'a.txt': 'a\n' });
    const sha = await repo.commitToBranch('fix/crash', { 'a.txt': 'b\n' }, 'fix');
    const gitlab = await startGitlabWithRepo('ops/app', repo, GL_TOKEN);
    const tmp = tempDir();
    cleanups.push(
      () => tmp.cleanup(),
      () => repo.cleanup(),
      () => gitlab.close(),
      () => slack.close(),
    );
    const port = await freePort();
    const configPath = writeConfig(
      tmp.dir,
      storeAndForgesYaml(tmp.dir, { gitlab }) +
        pipelinesYaml({
          polling: 'never',
          slack: { coalesceMs: 2500, minUpdateIntervalMs: 300, resultDelayMs: 200 },
        }),
    );
    const env = slackServeEnv(slack, {
      GITLAB_TOKEN: GL_TOKEN,
      GITLAB_WEBHOOK_SECRET: HOOK_SECRET,
      PORT: String(port),
    });
    let bot = await spawnOpsbot({ configPath, env });
    cleanups.push(() => bot.kill());
    gitlab.setWebhook({
      url: `http://127.0.0.1:${port}/webhooks/gitlab`,
      token: HOOK_SECRET,
      retries: 5,
      retryDelayMs: 500,
    });
    const mr = await gitlab.addMergeRequest('ops/app', { sourceBranch: 'fix/crash' });
    const root = await follow(bot, slack, 'ops/app!1', 'c1');
    const thread = () => slack.messages.filter((m) => m.threadTs === root.ts);

    const p = gitlab.ci.createPipeline('ops/app', {
      mrIid: mr.iid,
      sha,
      jobs: [
        { name: 'build', stage: 'build' },
        { name: 'test', stage: 'test' },
      ],
    });
    const status = await slack.waitFor(
      () => thread().find((m) => text(m).includes(`Pipeline #${p.id}`)),
      20_000,
    );
    await slack.waitFor(() => (text(status).includes(':hourglass:') ? status : null), 20_000);
    const updatesBefore = status.updates;
    gitlab.ci.setJob(p.id, 'build', 'running');
    gitlab.ci.setJob(p.id, 'build', 'success');
    gitlab.ci.setJob(p.id, 'test', 'running');
    await gitlab.webhooks.settled();
    // Every delivery was accepted (2xx): now the process dies before it showed them (2.5 s coalescing).
    expect(gitlab.webhooks.sent.every((d) => d.delivered)).toBe(true);
    await bot.kill('SIGKILL');
    expect(status.updates).toBe(updatesBefore);
    expect(text(status)).not.toContain(':large_blue_circle:');

    bot = await spawnOpsbot({ configPath, env });
    // Everything accepted before the kill shows up in the same message: build passed, test running.
    await slack.waitFor(
      () =>
        /:white_check_mark: <[^>]+\|build>/.test(text(status)) &&
        /:large_blue_circle: <[^>]+\|test>/.test(text(status))
          ? status
          : null,
      30_000,
    );
    gitlab.ci.setJob(p.id, 'test', 'failed', { log: gitlabTrace(['$ make test', 'FAIL: test_login'], 2) });
    const result = await slack.waitFor(() => thread().find((m) => m.broadcast), 30_000);
    expect(text(result)).toContain('FAIL: test_login');
    await slack.waitFor(() => (text(status).includes(':x: *') ? status : null), 20_000);
    // One status message and one result: nothing was posted twice across the crash.
    expect(thread().filter((m) => text(m).includes(`Pipeline #${p.id}`))).toHaveLength(2);
    expect(thread().filter((m) => m.broadcast)).toHaveLength(1);
  });

  const pg = engines().find((e) => e.engine === 'postgres');
  it.skipIf(!pg)(
    'two replicas on PostgreSQL receiving the same deliveries post every message once',
    async () => {
      const slack = await startFakeSlack({ token: BOT_TOKEN });
      const repo = await createBareRepo({ 'a.txt': 'a\n' });
      const sha1 = await repo.commitToBranch('fix/race', { 'a.txt': 'b\n' }, 'first');
      const gitlab = await startGitlabWithRepo('ops/app', repo, GL_TOKEN);
      const target = (await pg?.create()) as StoreTarget;
      const tmp = tempDir();
      cleanups.push(
        () => tmp.cleanup(),
        () => target.dispose(),
        () => repo.cleanup(),
        () => gitlab.close(),
        () => slack.close(),
      );
      // No store section: the replicas share the DATABASE_URL below.
      const configPath = writeConfig(
        tmp.dir,
        `
forges:
  gitlab:
    host: ${gitlab.host}
${pipelinesYaml({ polling: 'never', slack: { coalesceMs: 300, minUpdateIntervalMs: 300, resultDelayMs: 200 } })}`,
      );
      const env = slackServeEnv(slack, {
        GITLAB_TOKEN: GL_TOKEN,
        GITLAB_WEBHOOK_SECRET: HOOK_SECRET,
        DATABASE_URL: target.openOptions.databaseUrl as string,
        PORT: '0',
      });
      const [a, b] = await Promise.all([spawnOpsbot({ configPath, env }), spawnOpsbot({ configPath, env })]);
      cleanups.push(
        () => a?.kill(),
        () => b?.kill(),
      );
      // A load balancer that hands every delivery to both replicas at once (as a retry racing the original would).
      const fanout: Server = createServer((req: IncomingMessage, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', async () => {
          const headers = Object.fromEntries(
            Object.entries(req.headers).filter(
              ([k]) => !['host', 'content-length', 'connection'].includes(k),
            ),
          ) as Record<string, string>;
          const body = Buffer.concat(chunks);
          const answers = await Promise.all(
            [a, b].map((r) =>
              fetch(`http://127.0.0.1:${r?.port}${req.url}`, { method: 'POST', headers, body }).then(
                async (x) => {
                  await x.arrayBuffer();
                  return x.status;
                },
              ),
            ),
          );
          res.writeHead(Math.min(...answers));
          res.end();
        });
      });
      await new Promise<void>((r) => fanout.listen(0, '127.0.0.1', r));
      cleanups.push(() => new Promise((r) => fanout.close(r)));
      gitlab.setWebhook({
        url: `http://127.0.0.1:${(fanout.address() as AddressInfo).port}/webhooks/gitlab`,
        token: HOOK_SECRET,
      });
      const mr = await gitlab.addMergeRequest('ops/app', { sourceBranch: 'fix/race' });
      const root = await follow(a as OpsbotProcess, slack, 'ops/app!1', 'r1');
      const thread = () => slack.messages.filter((m) => m.threadTs === root.ts);

      const jobs = ['lint', 'unit', 'e2e', 'deploy'].map((name, i) => ({
        name,
        stage: i < 3 ? 'test' : 'deploy',
      }));
      const p1 = gitlab.ci.createPipeline('ops/app', { mrIid: mr.iid, sha: sha1, jobs });
      for (const j of ['lint', 'unit']) {
        gitlab.ci.setJob(p1.id, j, 'running');
        gitlab.ci.setJob(p1.id, j, 'success');
      }
      await slack.waitFor(() => thread().find((m) => text(m).includes(`Pipeline #${p1.id}`)), 20_000);
      // A new push: a new pipeline and message; the old one is marked superseded.
      const sha2 = await repo.commitToBranch('fix/race', { 'a.txt': 'c\n' }, 'second');
      gitlab.pushToMergeRequest('ops/app', mr.iid, sha2);
      const p2 = gitlab.ci.createPipeline('ops/app', { mrIid: mr.iid, sha: sha2, jobs });
      for (const j of ['lint', 'unit', 'e2e', 'deploy']) {
        gitlab.ci.setJob(p2.id, j, 'running');
        gitlab.ci.setJob(p2.id, j, 'success');
      }
      const result = await slack.waitFor(
        () =>
          thread().find(
            (m) => m.text.includes(`Pipeline #${p2.id} passed`) && !text(m).includes('Updated <!date'),
          ),
        30_000,
      );
      await gitlab.webhooks.settled();
      const old = thread().find((m) => text(m).includes(`Pipeline #${p1.id}`)) as PostedFakeMessage;
      await slack.waitFor(() => (text(old).includes('Superseded') ? old : null), 20_000);
      // Let both replicas settle, then count: each message exactly once (p1's status, p2's status, p2's result).
      await new Promise((r) => setTimeout(r, 2_000));
      expect(thread().map((m) => m.text.replace(' for ops/app!1', ''))).toEqual([
        `Pipeline #${p1.id} running (superseded)`,
        `Pipeline #${p2.id} passed`,
        `Pipeline #${p2.id} passed`,
      ]);
      expect(thread().filter((m) => m.ts === result.ts)).toHaveLength(1);
      expect(slack.callsOf('chat.postMessage').filter((c) => c.args.thread_ts === root.ts)).toHaveLength(3);
    },
  );

  it('polling only (no webhook secret): the status, the result with the job log and the merge reach the thread; polling stops after the merge', async () => {
    const slack = await startFakeSlack({ token: BOT_TOKEN });
    const repo = await createBareRepo({ 'a.txt': 'a\n' });
    const sha = await repo.commitToBranch('fix/poll', { 'a.txt': 'b\n' }, 'fix');
    const github = await startGithubWithRepo('acme/web', repo, GH_TOKEN);
    const tmp = tempDir();
    cleanups.push(
      () => tmp.cleanup(),
      () => repo.cleanup(),
      () => github.close(),
      () => slack.close(),
    );
    const configPath = writeConfig(
      tmp.dir,
      storeAndForgesYaml(tmp.dir, { github }) +
        pipelinesYaml({
          polling: { intervalMs: 1000, maxIntervalMs: 2000 },
          slack: { coalesceMs: 200, minUpdateIntervalMs: 300, resultDelayMs: 200 },
        }),
    );
    const bot = await spawnOpsbot({
      configPath,
      env: slackServeEnv(slack, { GITHUB_TOKEN: GH_TOKEN, PORT: '0' }),
    });
    cleanups.push(() => bot.kill());
    const pr = github.addPull('acme/web', { head: 'fix/poll', title: 'polling' });
    const root = await follow(bot, slack, `acme/web#${pr.number}`, 'p1');
    const thread = () => slack.messages.filter((m) => m.threadTs === root.ts);
    const run = github.actions.createWorkflowRun('acme/web', {
      headSha: sha,
      headBranch: 'fix/poll',
      prNumber: pr.number,
      name: 'ci',
      jobs: [{ name: 'unit' }, { name: 'lint' }],
    });
    const status = await slack.waitFor(() => thread().find((m) => text(m).includes('unit')), 20_000);
    github.actions.setJob(run.id, 'lint', 'in_progress');
    github.actions.setJob(run.id, 'lint', 'completed', 'success');
    github.actions.setJob(run.id, 'unit', 'in_progress');
    github.actions.setJob(run.id, 'unit', 'completed', 'failure', {
      log: githubLog(['npm test', 'AssertionError: expected 2 to equal 3'], true),
    });
    const result = await slack.waitFor(() => thread().find((m) => m.broadcast), 20_000);
    expect(text(result)).toContain('AssertionError: expected 2 to equal 3');
    expect(text(result)).toContain('Error: Process completed with exit code 1.');
    expect(text(result)).not.toMatch(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/); // GitHub's line timestamps are gone
    expect(github.actions.logDownloads.length).toBeGreaterThan(0);
    await slack.waitFor(() => (text(status).includes(':x: *') ? status : null), 20_000);
    expect(github.webhooks.sent).toHaveLength(0); // no webhook at all: all of it came from polling

    await github.setPullState('acme/web', pr.number, 'merged', 'octocat');
    await slack.waitFor(() => thread().find((m) => m.text.includes('was merged by octocat')), 20_000);
    const polls = () => github.requestsTo('GET', new RegExp(`/repos/acme/web/pulls/${pr.number}$`)).length;
    const after = polls();
    await new Promise((r) => setTimeout(r, 4_000));
    expect(polls()).toBe(after);
  });
});
