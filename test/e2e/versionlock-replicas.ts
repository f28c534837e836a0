import { expect } from 'vitest';
import type { ChangeRequest, Store } from '../../src/store/types.js';
import { createBareRepo, type GitRepo } from '../fakes/git-repo.js';
import type { FakeGitlab } from '../fakes/gitlab.js';
import { type FakeSlack, type PostedFakeMessage, startFakeSlack } from '../fakes/slack.js';
import {
  BOT_TOKEN,
  blockActionBody,
  blockText,
  buttonsOf,
  postSigned,
  SIGNING_SECRET,
  slashBody,
  writeConfig,
} from './helpers.js';
import { startGitlabWithRepo } from './serve-config.js';

/**
 * What the suites that run `opsbot serve` replicas (real child processes, HTTP mode) on PostgreSQL share for a
 * /versionlock change on the fake GitLab's infra/ansible: the repository and forge, the serve config, the
 * replicas' environment, and the Slack steps of a change (request, approve, converged). Used by
 * replicas-fixture.ts and store-outage.test.ts.
 */

export const VERSIONLOCK_LOCKS = 'inventory/versionlock.list';
export const VERSIONLOCK_REQUESTER = 'U0ALICE';
export const VERSIONLOCK_APPROVER = 'U0BOB';
export const VERSIONLOCK_CHANNEL = 'C0OPS';

/** The fake Slack, and infra/ansible holding one elasticsearch lock on a fake GitLab where `token` may write. */
export const startVersionlockFakes = async (
  token: string,
): Promise<{ slack: FakeSlack; repo: GitRepo; gitlab: FakeGitlab }> => {
  const slack = await startFakeSlack({ token: BOT_TOKEN });
  const repo = await createBareRepo({
    [VERSIONLOCK_LOCKS]: '# managed by opsbot\n0:elasticsearch-7.10.1-1.*\n',
  });
  const gitlab = await startGitlabWithRepo('infra/ansible', repo, token);
  return { slack, repo, gitlab };
};

/**
 * Writes `<dir>/opsbot.yaml`, the replicas' config: the store under `<dir>/data`, the el7 versionlock target on
 * `gitlab`, approved by VERSIONLOCK_APPROVER, changes resumed and synced to Slack every 250 ms. `storeExtra` is
 * more of the `store:` section (indented two spaces), `extra` more top-level sections. Returns its path.
 */
export const writeVersionlockServeConfig = (
  dir: string,
  gitlab: { readonly host: string },
  o: { leaseMs: number; storeExtra?: string; extra?: string },
): string =>
  writeConfig(
    dir,
    `
store:
  dataDir: ${dir}/data
${o.storeExtra ?? ''}forges:
  gitlab:
    host: ${gitlab.host}
targets:
  versionlock:
    - name: el7
      forge: gitlab
      repo: infra/ansible
      path: ${VERSIONLOCK_LOCKS}
      format: yum
access:
  approvals:
    versionlock:
      users: [${VERSIONLOCK_APPROVER}]
changes:
  leaseMs: ${o.leaseMs}
  resumeIntervalMs: 250
  slackSyncIntervalMs: 250
${o.extra ?? ''}`,
  );

/** The environment of a replica: HOME, the Slack token, secret and API, the GitLab token, the database. */
export const replicaEnv = (o: {
  home: string;
  slack: FakeSlack;
  gitlabToken: string;
  databaseUrl: string;
  extra?: Record<string, string>;
}): Record<string, string> => ({
  HOME: o.home,
  SLACK_BOT_TOKEN: BOT_TOKEN,
  SLACK_SIGNING_SECRET: SIGNING_SECRET,
  SLACK_API_URL: o.slack.apiUrl,
  GITLAB_TOKEN: o.gitlabToken,
  ...o.extra,
  DATABASE_URL: o.databaseUrl,
});

export interface VersionlockSteps {
  /** /versionlock add <pkg> through the replica on `port`: the root message once it has its two buttons. */
  request(r: { readonly port: number }, pkg: string): Promise<PostedFakeMessage>;
  approve(r: { readonly port: number }, rootMsg: PostedFakeMessage): Promise<void>;
  changeOf(rootMsg: PostedFakeMessage): Promise<ChangeRequest>;
  thread(rootMsg: PostedFakeMessage): PostedFakeMessage[];
  /** What a user sees once it converged: one MR, linked in the thread once, root without buttons, open. */
  expectConverged(rootMsg: PostedFakeMessage, changeId: string, branch: string): Promise<void>;
}

/**
 * The Slack steps of a versionlock change. The fakes and store are read when a step runs (a suite sets them
 * in beforeAll); `next` numbers the response_urls, shared with the suite's own so that none is used twice.
 */
export const versionlockSteps = (o: {
  slack: () => FakeSlack;
  gitlab: () => FakeGitlab;
  store: () => Store;
  next: () => number;
  convergeMs: number;
}): VersionlockSteps => {
  const thread = (rootMsg: PostedFakeMessage) => o.slack().messages.filter((m) => m.threadTs === rootMsg.ts);
  return {
    thread,
    async request(r, pkg) {
      const slack = o.slack();
      const res = await postSigned(
        r.port,
        slashBody({
          command: '/versionlock',
          text: `add ${pkg} 7.10.2-1`,
          user_id: VERSIONLOCK_REQUESTER,
          channel_id: VERSIONLOCK_CHANNEL,
          response_url: slack.responseUrl(`r${o.next()}`),
        }),
      );
      expect(res.status).toBe(200);
      return slack.waitFor(
        () =>
          slack.messages.find(
            (m) => m.threadTs === null && m.text.includes(pkg) && buttonsOf(m).length === 2,
          ),
        15_000,
      );
    },
    async approve(r, rootMsg) {
      const button = buttonsOf(rootMsg).find((b) => b.action_id === 'change_approve');
      if (!button) throw new Error('no Approve button');
      const res = await postSigned(
        r.port,
        blockActionBody({
          user: VERSIONLOCK_APPROVER,
          message: rootMsg,
          button,
          responseUrl: o.slack().responseUrl(`c${o.next()}`),
        }),
      );
      expect(res.status).toBe(200);
    },
    async changeOf(rootMsg) {
      const id = (buttonsOf(rootMsg)[0]?.value ?? '').split(':')[0] as string;
      const c = await o.store().changes.get(id);
      if (!c) throw new Error('no change');
      return c;
    },
    async expectConverged(rootMsg, changeId, branch) {
      const { convergeMs } = o;
      const slack = o.slack();
      const gitlab = o.gitlab();
      const mr = await slack.waitFor(
        () => gitlab.mergeRequests.find((m) => m.source_branch === branch),
        convergeMs,
      );
      const mrUrl = `${gitlab.host}/infra/ansible/-/merge_requests/${mr.iid}`;
      await slack.waitFor(
        () =>
          thread(rootMsg).some((m) => blockText(m).includes(mrUrl)) &&
          buttonsOf(rootMsg).length === 0 &&
          blockText(rootMsg).includes(mrUrl),
        convergeMs,
      );
      await expect
        .poll(async () => (await o.store().changes.get(changeId))?.status, { timeout: convergeMs })
        .toBe('open');
      expect(gitlab.mergeRequests.filter((m) => m.source_branch === branch)).toHaveLength(1);
      // No note twice: each thread note carries its own block_id.
      const ids = thread(rootMsg).map((m) =>
        String((m.blocks?.[0] as { block_id?: string } | undefined)?.block_id),
      );
      expect(new Set(ids).size).toBe(ids.length);
      expect(thread(rootMsg).filter((m) => m.text.includes('Approved by'))).toHaveLength(1);
      expect(thread(rootMsg).filter((m) => blockText(m).includes(mrUrl))).toHaveLength(1);
    },
  };
};
