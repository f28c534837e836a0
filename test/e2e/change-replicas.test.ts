import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/open.js';
import type { ChangeRequest, Store } from '../../src/store/types.js';
import { createBareRepo, type GitRepo } from '../fakes/git-repo.js';
import { type FakeGitlab, startFakeGitlab } from '../fakes/gitlab.js';
import { type FakeSlack, type PostedFakeMessage, startFakeSlack } from '../fakes/slack.js';
import { createTestSchema, dropTestSchema } from '../store/harness.js';
import {
  BOT_TOKEN,
  blockActionBody,
  blockText,
  buttonsOf,
  postSigned,
  SIGNING_SECRET,
  slashBody,
  tempDir,
  writeConfig,
} from './helpers.js';
import { type Replica, signalReplica, startReplica } from './opsbot-process.js';

/**
 * Two real `opsbot serve` processes (HTTP mode) on one PostgreSQL schema, the fake Slack and the fake GitLab
 * in this process. A replica is killed with SIGKILL at chosen moments of an apply (the fake GitLab holds the
 * request there), Slack fails while a change is applied, two approvals race for one file: every change must
 * converge (one MR, linked in its thread, root buttons gone, status open) within the lease, with no thread
 * note posted twice.
 */

const DATABASE_URL = process.env.DATABASE_URL;
const GITLAB_TOKEN = 'glpat-replicas-write-token-31';
const LOCKS = 'inventory/versionlock.list';
const CHANNEL = 'C0OPS';
const ALICE = 'U0ALICE';
const BOB = 'U0BOB';
const LEASE_MS = 3_000;
/** Kill -> converged: the lease, the resumer's period, a process start and the forge and Slack calls. */
const CONVERGE_MS = 25_000;

describe.skipIf(!DATABASE_URL)('two opsbot replicas on PostgreSQL, killed at chosen moments', () => {
  let slack: FakeSlack;
  let gitlab: FakeGitlab;
  let repo: GitRepo;
  let store: Store;
  let schema: string;
  let configPath: string;
  let databaseUrl: string;
  const tmp = tempDir();
  const replicas = new Map<string, Replica>();
  let n = 0;

  const start = async (name: string): Promise<Replica> => {
    const r = await startReplica(name, configPath, {
      HOME: tmp.dir,
      SLACK_BOT_TOKEN: BOT_TOKEN,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: slack.apiUrl,
      GITLAB_TOKEN,
      DATABASE_URL: databaseUrl,
    });
    replicas.set(name, r);
    return r;
  };

  const kill = async (r: Replica): Promise<void> => {
    await signalReplica(r, 'SIGKILL');
    replicas.delete(r.name);
  };

  const stop = async (r: Replica): Promise<void> => {
    await signalReplica(r, 'SIGTERM');
    replicas.delete(r.name);
  };

  const replica = (name: string): Replica => {
    const r = replicas.get(name);
    if (!r) throw new Error(`${name} is not running`);
    return r;
  };

  beforeAll(async () => {
    ({ schema, databaseUrl } = await createTestSchema(DATABASE_URL as string));
    slack = await startFakeSlack({ token: BOT_TOKEN });
    repo = await createBareRepo({ [LOCKS]: '# managed by opsbot\n0:elasticsearch-7.10.1-1.*\n' });
    gitlab = await startFakeGitlab({
      projects: { 'infra/ansible': repo },
      tokens: { [GITLAB_TOKEN]: { access: 'write' } },
    });
    configPath = writeConfig(
      tmp.dir,
      `
store:
  dataDir: ${tmp.dir}/data
forges:
  gitlab:
    host: ${gitlab.host}
targets:
  versionlock:
    - name: el7
      forge: gitlab
      repo: infra/ansible
      path: ${LOCKS}
      format: yum
access:
  approvals:
    versionlock:
      users: [${BOB}]
changes:
  leaseMs: ${LEASE_MS}
  resumeIntervalMs: 250
  slackSyncIntervalMs: 250
`,
    );
    store = await openStore({ databaseUrl, dataDir: tmp.dir });
    await Promise.all([start('A'), start('B')]);
  }, 90_000);

  afterAll(async () => {
    if (process.env.OPSBOT_E2E_LOGS)
      for (const r of replicas.values()) console.log(r.name, r.lines.join('\n'));
    for (const r of replicas.values()) r.child.kill('SIGKILL');
    await store?.close();
    await Promise.all([slack?.close(), gitlab?.close()]);
    await repo?.cleanup();
    if (schema) await dropTestSchema(DATABASE_URL as string, schema);
    tmp.cleanup();
  });

  const request = async (r: Replica, pkg: string): Promise<PostedFakeMessage> => {
    const res = await postSigned(
      r.port,
      slashBody({
        command: '/versionlock',
        text: `add ${pkg} 7.10.2-1`,
        user_id: ALICE,
        channel_id: CHANNEL,
        response_url: slack.responseUrl(`r${++n}`),
      }),
    );
    expect(res.status).toBe(200);
    return slack.waitFor(
      () =>
        slack.messages.find((m) => m.threadTs === null && m.text.includes(pkg) && buttonsOf(m).length === 2),
      15_000,
    );
  };

  const approve = async (r: Replica, rootMsg: PostedFakeMessage): Promise<void> => {
    const button = buttonsOf(rootMsg).find((b) => b.action_id === 'change_approve');
    if (!button) throw new Error('no Approve button');
    const res = await postSigned(
      r.port,
      blockActionBody({ user: BOB, message: rootMsg, button, responseUrl: slack.responseUrl(`c${++n}`) }),
    );
    expect(res.status).toBe(200);
  };

  const changeOf = async (rootMsg: PostedFakeMessage): Promise<ChangeRequest> => {
    const id = (buttonsOf(rootMsg)[0]?.value ?? '').split(':')[0] as string;
    const c = await store.changes.get(id);
    if (!c) throw new Error('no change');
    return c;
  };

  const thread = (rootMsg: PostedFakeMessage) => slack.messages.filter((m) => m.threadTs === rootMsg.ts);

  /** What a user sees once it converged: one MR, linked in the thread once, root without buttons, open. */
  const expectConverged = async (rootMsg: PostedFakeMessage, changeId: string, branch: string) => {
    const mr = await slack.waitFor(
      () => gitlab.mergeRequests.find((m) => m.source_branch === branch),
      CONVERGE_MS,
    );
    const mrUrl = `${gitlab.host}/infra/ansible/-/merge_requests/${mr.iid}`;
    await slack.waitFor(
      () =>
        thread(rootMsg).some((m) => blockText(m).includes(mrUrl)) &&
        buttonsOf(rootMsg).length === 0 &&
        blockText(rootMsg).includes(mrUrl),
      CONVERGE_MS,
    );
    await expect
      .poll(async () => (await store.changes.get(changeId))?.status, { timeout: CONVERGE_MS })
      .toBe('open');
    expect(gitlab.mergeRequests.filter((m) => m.source_branch === branch)).toHaveLength(1);
    // No note twice: each thread note carries its own block_id.
    const ids = thread(rootMsg).map((m) =>
      String((m.blocks?.[0] as { block_id?: string } | undefined)?.block_id),
    );
    expect(new Set(ids).size).toBe(ids.length);
    expect(thread(rootMsg).filter((m) => m.text.includes('Approved by'))).toHaveLength(1);
    expect(thread(rootMsg).filter((m) => blockText(m).includes(mrUrl))).toHaveLength(1);
  };

  const P = '/projects/infra%2Fansible';
  const moments = [
    [
      'after the approval',
      (b: string) => ({
        method: 'GET',
        path: new RegExp(`^${P}/repository/branches/${encodeURIComponent(b).replace(/[.]/g, '\\.')}$`),
      }),
      'before',
    ],
    [
      'after the commit request',
      () => ({ method: 'POST', path: new RegExp(`^${P}/repository/commits$`) }),
      'before',
    ],
    ['after the commit', () => ({ method: 'POST', path: new RegExp(`^${P}/repository/commits$`) }), 'after'],
  ] as const;

  for (const [label, matcher, when] of moments) {
    it(`kill -9 ${label}: the other replica resumes the change within the lease`, async () => {
      const pkg = `pkg${++n}`;
      const rootMsg = await request(replica('A'), pkg);
      const change = await changeOf(rootMsg);
      const hold = gitlab.hold(matcher(change.branch), when);
      await approve(replica('A'), rootMsg);
      await hold.reached;
      await kill(replica('A'));
      hold.release();
      const killedAt = Date.now();
      await expectConverged(rootMsg, change.id, change.branch);
      expect(Date.now() - killedAt).toBeLessThan(CONVERGE_MS);
      await start('A');
    }, 90_000);
  }

  it('kill -9 after the MR was created but before it was recorded: a restarted replica links that MR', async () => {
    await stop(replica('B')); // only A runs: the one killed is the one that finishes, after a restart
    const pkg = `pkg${++n}`;
    const rootMsg = await request(replica('A'), pkg);
    const change = await changeOf(rootMsg);
    const hold = gitlab.hold({ method: 'POST', path: new RegExp(`^${P}/merge_requests$`) }, 'after');
    await approve(replica('A'), rootMsg);
    await hold.reached;
    await kill(replica('A'));
    hold.release();
    expect(gitlab.mergeRequests.filter((m) => m.source_branch === change.branch)).toHaveLength(1);
    await start('A');
    await expectConverged(rootMsg, change.id, change.branch);
    await start('B');
  }, 90_000);

  it('a kill 10 ms after the Approve click never leaves an approval without its audit row', async () => {
    for (const delayMs of [5, 10, 20]) {
      const pkg = `pkg${++n}`;
      const rootMsg = await request(replica('A'), pkg);
      const change = await changeOf(rootMsg);
      await approve(replica('A'), rootMsg);
      await new Promise((r) => setTimeout(r, delayMs)); // the moment under test, not a wait for state
      await kill(replica('A'));
      const now = await store.changes.get(change.id);
      const approvals = (await store.audit.list({ command: 'versionlock', limit: 1000 })).filter(
        (a) => a.outcome === 'approved' && a.target === `infra/ansible@${change.branch}`,
      );
      expect(approvals).toHaveLength(now?.status === 'planned' ? 0 : 1);
      await start('A');
      if (now?.status !== 'planned') await expectConverged(rootMsg, change.id, change.branch);
    }
  }, 120_000);

  it('two approvals of changes to the same file at the same moment both end applied, no "busy"', async () => {
    const [x, y] = [`pkg${++n}`, `pkg${++n}`];
    const rootX = await request(replica('A'), x);
    const rootY = await request(replica('B'), y);
    const [cx, cy] = [await changeOf(rootX), await changeOf(rootY)];
    await Promise.all([approve(replica('A'), rootX), approve(replica('B'), rootY)]);
    await expectConverged(rootX, cx.id, cx.branch);
    await expectConverged(rootY, cy.id, cy.branch);
    const said = [...thread(rootX), ...thread(rootY)].map((m) => m.text).join('\n');
    const privately = slack
      .callsOf('chat.postEphemeral')
      .map((c) => String(c.args.text))
      .join('\n');
    expect(`${said}\n${privately}`).not.toMatch(/busy|click Approve again|try again in a minute/i);
  }, 90_000);

  it('Slack failing while applying (HTTP 500 x4, a 4 s outage, Retry-After 31 s): the MR opens anyway and the thread converges when Slack is back', async () => {
    // HTTP 500 four times: the client's retries give up, the reconciler tries again after a backoff.
    let pkg = `pkg${++n}`;
    let rootMsg = await request(replica('A'), pkg);
    let change = await changeOf(rootMsg);
    slack.failNext('chat.postMessage', { status: 500 }, 4);
    await approve(replica('A'), rootMsg);
    await expectConverged(rootMsg, change.id, change.branch);

    // Slack unreachable for 4 s right after the click.
    pkg = `pkg${++n}`;
    rootMsg = await request(replica('A'), pkg);
    change = await changeOf(rootMsg);
    await approve(replica('A'), rootMsg);
    slack.outage(4_000);
    await expect
      .poll(async () => (await store.changes.get(change.id))?.status, { timeout: 15_000 })
      .toBe('open');
    await expectConverged(rootMsg, change.id, change.branch);

    // 429 with Retry-After 31 s (over the client's 30 s bound, so it is the reconciler that waits): the MR opens
    // at once; nothing is posted to the thread before Retry-After.
    pkg = `pkg${++n}`;
    rootMsg = await request(replica('A'), pkg);
    change = await changeOf(rootMsg);
    slack.failNext('chat.postMessage', { status: 429, retryAfter: 31 }, 1);
    const limitedAt = Date.now();
    await approve(replica('A'), rootMsg);
    await expect
      .poll(async () => (await store.changes.get(change.id))?.status, { timeout: 15_000 })
      .toBe('open');
    expect(thread(rootMsg)).toHaveLength(0);
    await slack.waitFor(() => thread(rootMsg).length > 0, 60_000);
    expect(Date.now() - limitedAt).toBeGreaterThanOrEqual(30_000);
    await expectConverged(rootMsg, change.id, change.branch);
  }, 120_000);
});
