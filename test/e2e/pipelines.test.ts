import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MergeRequestStateEvent } from '../../src/integrations/forge/events.js';
import { type RunningOpsbot, startOpsbot } from '../../src/main.js';
import { createBareRepo, type GitRepo } from '../fakes/git-repo.js';
import type { FakeGitlab } from '../fakes/gitlab.js';
import { gitlabTrace } from '../fakes/gitlab-ci.js';
import { type FakeSlack, type PostedFakeMessage, startFakeSlack } from '../fakes/slack.js';
import {
  BOT_TOKEN,
  type Button,
  blockActionBody,
  buttonsOf,
  captureLines,
  postSigned,
  slashBody,
  tempDir,
  writeConfig,
} from './helpers.js';
import { pipelinesYaml, slackServeEnv, startGitlabWithRepo, storeAndForgesYaml } from './serve-config.js';

/**
 * The pipeline follower end to end, in Slack terms: `/pipeline` on a GitLab MR nobody made through opsbot,
 * the fake GitLab running its pipeline and delivering the real hooks (with the real headers) to opsbot's
 * webhook URL, and what the channel sees: one status message edited in place, the failed result broadcast
 * with the job's log tail (colours and secrets gone), Retry failed jobs, a second result, the merge.
 */

const GITLAB_TOKEN = 'glpat-e2e-pipelines-token-31337';
const HOOK_SECRET = 'gitlab-hook-secret-e2e-8f2a';
const CHANNEL = 'C0OPS';
const LOCKS = 'inventory/versionlock.list';
const ALICE = 'U0ALICE';
const BOB = 'U0BOB';

const text = (m: PostedFakeMessage | undefined): string => JSON.stringify(m?.blocks ?? []) + (m?.text ?? '');

describe('following a GitLab MR pipeline in Slack (webhooks)', () => {
  let slack: FakeSlack;
  let gitlab: FakeGitlab;
  let repo: GitRepo;
  let bot: RunningOpsbot;
  let sha: string;
  const tmp = tempDir();
  const logs = captureLines();
  const mrStates: MergeRequestStateEvent[] = [];

  beforeAll(async () => {
    slack = await startFakeSlack({ token: BOT_TOKEN });
    repo = await createBareRepo({ 'README.md': '# app\n', [LOCKS]: '0:elasticsearch-7.10.1-1.*\n' });
    sha = await repo.commitToBranch('feature/login', { 'login.rb': 'puts 1\n' }, 'login');
    gitlab = await startGitlabWithRepo('shop/app', repo, GITLAB_TOKEN);
    const config = `${storeAndForgesYaml(tmp.dir, { gitlab })}${pipelinesYaml({
      polling: 'never',
      slack: { coalesceMs: 150, minUpdateIntervalMs: 300, resultDelayMs: 150 },
    })}targets:
  versionlock:
    - name: el7
      forge: gitlab
      repo: shop/app
      path: ${LOCKS}
      format: yum
access:
  approvals:
    versionlock:
      users: [${BOB}]
  actions:
    retry-pipeline:
      users: [${BOB}]
`;
    bot = await startOpsbot({
      env: slackServeEnv(slack, { GITLAB_TOKEN, GITLAB_WEBHOOK_SECRET: HOOK_SECRET, PORT: '0' }),
      configPath: writeConfig(tmp.dir, config),
      destination: logs,
      host: '127.0.0.1',
      onMergeRequestState: async (e) => {
        mrStates.push(e);
      },
    });
    gitlab.setWebhook({
      url: `http://127.0.0.1:${bot.port}/webhooks/gitlab`,
      token: HOOK_SECRET,
      retryDelayMs: 50,
    });
    await slack.waitFor(() => slack.callsOf('auth.test').length > 0);
  });

  afterAll(async () => {
    await bot?.stop();
    await Promise.all([slack?.close(), gitlab?.close()]);
    await repo?.cleanup();
    tmp.cleanup();
  });

  const thread = (root: PostedFakeMessage) => slack.messages.filter((m) => m.threadTs === root.ts);

  it('/pipeline follows the MR in the channel; a failed pipeline is broadcast with its cleaned log; Retry; merged', async () => {
    const mr = await gitlab.addMergeRequest('shop/app', {
      sourceBranch: 'feature/login',
      title: 'Login <b>form</b>',
    });
    const r = await postSigned(
      bot.port,
      slashBody({
        command: '/pipeline',
        text: 'shop/app!1',
        channel_id: CHANNEL,
        user_id: ALICE,
        response_url: slack.responseUrl('p1'),
      }),
    );
    expect(r.status).toBe(200);
    const root = await slack.waitFor(() =>
      slack.messages.find((m) => m.threadTs === null && m.text.includes('shop/app!1')),
    );
    expect(root.text).toContain('Login &lt;b&gt;form&lt;/b&gt;'); // forge text is escaped

    const p = gitlab.ci.createPipeline('shop/app', {
      mrIid: mr.iid,
      sha,
      jobs: [
        { name: 'rubocop', stage: 'lint' },
        { name: 'rspec', stage: 'test' },
        { name: 'deploy-review', stage: 'deploy' },
      ],
    });
    const status = await slack.waitFor(
      () => thread(root).find((m) => text(m).includes(`Pipeline #${p.id}`)),
      10_000,
    );
    gitlab.ci.setJob(p.id, 'rubocop', 'running');
    gitlab.ci.setJob(p.id, 'rubocop', 'success');
    gitlab.ci.setJob(p.id, 'rspec', 'running');
    const log = gitlabTrace(
      [
        '$ bundle exec rspec',
        '\u001b[31mFailures:\u001b[0m',
        `  1) Login posts with token ${GITLAB_TOKEN} and fails`,
        '     expected 200, got 500',
        'Downloading artifacts 10%\rDownloading artifacts 100%',
      ],
      1,
    );
    gitlab.ci.setJob(p.id, 'rspec', 'failed', { log, failureReason: 'script_failure' });
    const result = await slack.waitFor(
      () =>
        thread(root).find(
          (m) => m !== status && text(m).includes('failed') && text(m).includes('pipeline_retry'),
        ),
      10_000,
    );
    expect(result.broadcast).toBe(true);
    const shown = text(result);
    expect(shown).toContain('rspec');
    expect(shown).toContain('expected 200, got 500');
    expect(shown).toContain('ERROR: Job failed: exit code 1');
    expect(shown).toContain('Downloading artifacts 100%');
    expect(shown).not.toContain('Downloading artifacts 10%');
    expect(shown).not.toContain(GITLAB_TOKEN);
    expect(shown).toContain('[REDACTED]');
    expect(shown).not.toMatch(/\\u001b|section_start|section_end/);
    expect(shown).toContain('Open pipeline');
    // The status message was edited in place to the final state: one status message for this pipeline.
    await slack.waitFor(
      () => (text(status).includes(':x:') && text(status).includes('deploy-review')) || null,
      10_000,
    );
    expect(thread(root).filter((m) => text(m).includes(`Pipeline #${p.id}`) && m !== result)).toHaveLength(1);
    expect(text(status)).toMatch(/rubocop.*passed|rubocop[^\n]*\d+s/);
    expect(text(status)).toContain('skipped'); // the deploy stage after the failure
    const order = (m: PostedFakeMessage) =>
      ((m.blocks ?? []) as Array<{ text?: { text: string } }>)
        .map((b) => /^\*(\w+)\*/.exec(b.text?.text ?? '')?.[1])
        .filter(Boolean);

    // Retry failed jobs: Alice may not (the rule names Bob), Bob may.
    const retry = buttonsOf(result).find((b) => b.action_id === 'pipeline_retry') as Button;
    expect(retry.value).toBeTruthy();
    const clickRetry = (user: string) =>
      postSigned(
        bot.port,
        blockActionBody({ user, message: result, button: retry, responseUrl: slack.responseUrl() }),
      );
    await clickRetry(ALICE);
    await slack.waitFor(() =>
      slack
        .callsOf('chat.postEphemeral')
        .find((c) => c.args.user === ALICE && String(c.args.text).includes('Retrying')),
    );
    expect(p.jobs.filter((j) => j.name === 'rspec')).toHaveLength(1);
    await clickRetry(BOB);
    await slack.waitFor(() => p.jobs.filter((j) => j.name === 'rspec').length === 2 || null, 10_000);
    await slack.waitFor(() => thread(root).find((m) => m.text.includes(`<@${BOB}> asked to retry`)));
    await slack.waitFor(
      () => text(status).includes(':large_blue_circle:') || text(status).includes(':hourglass:') || null,
      10_000,
    );
    gitlab.ci.setJob(p.id, 'rspec', 'running');
    gitlab.ci.setJob(p.id, 'rspec', 'success');
    gitlab.ci.setJob(p.id, 'deploy-review', 'running');
    gitlab.ci.setJob(p.id, 'deploy-review', 'success');
    const passed = await slack.waitFor(
      () => thread(root).find((m) => m !== status && m.text.includes(`Pipeline #${p.id} passed`)),
      10_000,
    );
    expect(passed.broadcast).toBe(false);
    await slack.waitFor(() => text(status).includes(':white_check_mark: *') || null, 10_000);
    expect(order(status)).toEqual(['lint', 'test', 'deploy']); // stages in pipeline order, also after a retry

    gitlab.setMergeRequestState('shop/app', mr.iid, 'merged', 'bob');
    const merged = await slack.waitFor(
      () => thread(root).find((m) => m.text.includes('was merged by bob')),
      10_000,
    );
    expect(merged.text).toContain('shop/app!1');
    await expect
      .poll(() => mrStates.map((e) => [e.number, e.state, e.actor]))
      .toContainEqual([1, 'merged', 'bob']);
    // Audited: the command, the refused and the accepted click, and the webhook deliveries acted on.
    await expect
      .poll(async () =>
        (await bot.store.audit.list({ command: 'pipeline', limit: 500 })).map(
          (a) => `${a.source}:${a.outcome}`,
        ),
      )
      .toEqual(expect.arrayContaining(['slack:ok', 'slack:refused', 'webhook:ok']));
    // Every delivery was answered 2xx, quickly.
    const answered = gitlab.webhooks.sent.flatMap((d) => d.attempts);
    expect(answered.every((a) => a.status !== null && a.status >= 200 && a.status < 300)).toBe(true);
  });

  it("a change's MR: its CI shows in the change's thread, and the merge reaches the change lifecycle", async () => {
    await postSigned(
      bot.port,
      slashBody({
        command: '/versionlock',
        text: 'add elasticsearch 7.10.2-1',
        channel_id: CHANNEL,
        user_id: ALICE,
        response_url: slack.responseUrl('v1'),
      }),
    );
    const root = await slack.waitFor(() =>
      slack.messages.find(
        (m) => m.threadTs === null && m.text.includes('elasticsearch') && buttonsOf(m).length === 2,
      ),
    );
    const approve = buttonsOf(root).find((b) => b.action_id === 'change_approve') as {
      action_id: string;
      value: string;
    };
    await postSigned(
      bot.port,
      blockActionBody({ user: BOB, message: root, button: approve, responseUrl: slack.responseUrl() }),
    );
    const mr = await slack.waitFor(
      () =>
        gitlab.mergeRequests.find((m) => m.source_branch === 'opsbot/versionlock/el7/elasticsearch-7.10.2-1'),
      15_000,
    );
    const changeId = approve.value.split(':')[0] as string;
    await expect
      .poll(async () => (await bot.store.changes.get(changeId))?.status, { timeout: 15_000 })
      .toBe('open');
    // The lifecycle asked the follower to follow the MR in the change's own thread.
    await expect
      .poll(
        async () =>
          (await bot.store.pipelines.listFollows({ forge: 'gitlab', repo: 'shop/app', number: mr.iid })).map(
            (f) => f.threadTs,
          ),
        { timeout: 15_000 },
      )
      .toEqual([root.ts]);
    const p = gitlab.ci.createPipeline('shop/app', {
      mrIid: mr.iid,
      sha: mr.sha as string,
      jobs: [{ name: 'molecule', stage: 'test' }],
    });
    gitlab.ci.setJob(p.id, 'molecule', 'running');
    gitlab.ci.setJob(p.id, 'molecule', 'success');
    const status = await slack.waitFor(
      () => thread(root).find((m) => m.text.startsWith(`Pipeline #${p.id} `)),
      15_000,
    );
    await slack.waitFor(
      () => thread(root).find((m) => m !== status && m.text.includes(`Pipeline #${p.id} passed`)),
      15_000,
    );
    gitlab.setMergeRequestState('shop/app', mr.iid, 'merged', 'bob');
    await slack.waitFor(() => thread(root).find((m) => m.text.includes('was merged by bob')), 15_000);
    await expect
      .poll(async () => (await bot.store.changes.get(changeId))?.status, { timeout: 15_000 })
      .toBe('merged');
  });
});
