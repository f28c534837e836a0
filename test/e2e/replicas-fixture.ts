import { afterAll, beforeAll, expect } from 'vitest';
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
 * Two real `opsbot serve` processes (HTTP mode) on one PostgreSQL schema of their own, the fake Slack and the
 * fake GitLab in this process, for the replica suites (change-replicas*.test.ts): what a user sees once a
 * change converged, whatever happened to the replicas or to Slack on the way.
 */

export const GITLAB_TOKEN = 'glpat-replicas-write-token-31';
const LOCKS = 'inventory/versionlock.list';
const CHANNEL = 'C0OPS';
const ALICE = 'U0ALICE';
const BOB = 'U0BOB';
const LEASE_MS = 3_000;
/** Kill -> converged: the lease, the resumer's period, a process start and the forge and Slack calls. */
export const CONVERGE_MS = 25_000;
/**
 * The replicas' `slack.maxRetryAfterMs`: a 429 asking for a longer wait fails the Web API call at once, and the
 * change thread's reconciler waits out Retry-After instead (change-replicas-slack.test.ts). Small, so that
 * suite proves it in seconds rather than over the 30 s default.
 */
export const SLACK_MAX_RETRY_AFTER_MS = 2_000;

export interface ReplicasFixture {
  readonly slack: FakeSlack;
  readonly gitlab: FakeGitlab;
  readonly store: Store;
  /** A package name not used before in this suite. */
  nextPackage(): string;
  replica(name: string): Replica;
  start(name: string): Promise<Replica>;
  kill(r: Replica): Promise<void>;
  stop(r: Replica): Promise<void>;
  /** /versionlock add <pkg> through replica r: resolves with the root message once it has its two buttons. */
  request(r: Replica, pkg: string): Promise<PostedFakeMessage>;
  approve(r: Replica, rootMsg: PostedFakeMessage): Promise<void>;
  changeOf(rootMsg: PostedFakeMessage): Promise<ChangeRequest>;
  thread(rootMsg: PostedFakeMessage): PostedFakeMessage[];
  expectConverged(rootMsg: PostedFakeMessage, changeId: string, branch: string): Promise<void>;
}

/**
 * Registers beforeAll/afterAll in the calling describe (replicas A and B started before its first test, all
 * gone after its last) and returns the suite's handles. Needs DATABASE_URL.
 */
export const twoReplicas = (DATABASE_URL: string): ReplicasFixture => {
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
    ({ schema, databaseUrl } = await createTestSchema(DATABASE_URL));
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
slack:
  maxRetryAfterMs: ${SLACK_MAX_RETRY_AFTER_MS}
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
    if (schema) await dropTestSchema(DATABASE_URL, schema);
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

  return {
    get slack() {
      return slack;
    },
    get gitlab() {
      return gitlab;
    },
    get store() {
      return store;
    },
    nextPackage: () => `pkg${++n}`,
    replica,
    start,
    kill,
    stop,
    request,
    approve,
    changeOf,
    thread,
    expectConverged,
  };
};
