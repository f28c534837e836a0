import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBareRepo, type GitRepo } from '../fakes/git-repo.js';
import type { FakeGitlab } from '../fakes/gitlab.js';
import { type FakeSlack, type PostedFakeMessage, startFakeSlack } from '../fakes/slack.js';
import {
  BOT_TOKEN,
  type Button,
  blockActionBody,
  blockText,
  buttonsOf,
  postSigned,
  slashBody,
  tempDir,
  writeConfig,
} from './helpers.js';
import { type OpsbotProcess, spawnOpsbot } from './process.js';
import { slackServeEnv, startGitlabWithRepo, storeAndForgesYaml } from './serve-config.js';

/**
 * The shape of the shipped example config, run as `opsbot serve`: two versionlock targets in ONE GitLab
 * repository (a yum list and an Ansible vars file), GitHub configured too but used by no target and with no
 * GITHUB_TOKEN. The same package locked on both targets must give two changes, two branches and two MRs,
 * each touching only its own file; and the GitHub forge without a token must not stand in the way.
 */

const GITLAB_TOKEN = 'glpat-targets-e2e-token-4411';
const LIST = 'roles/base/files/versionlock.list';
const VARS = 'group_vars/all/versionlock.yml';
const INITIAL_LIST = '# managed by opsbot\n0:elasticsearch-7.10.1-1.*\n';
const INITIAL_VARS = '---\nversionlock_packages:\n  - elasticsearch-7.10.1-1\n';
const CHANNEL = 'C0OPS';
const ALICE = 'U0ALICE';
const BOB = 'U0BOB';

describe('two versionlock targets in one repository, a configured forge without a token (opsbot serve)', () => {
  let slack: FakeSlack;
  let gitlab: FakeGitlab;
  let repo: GitRepo;
  let bot: OpsbotProcess;
  const tmp = tempDir();
  let n = 0;

  beforeAll(async () => {
    slack = await startFakeSlack({ token: BOT_TOKEN });
    repo = await createBareRepo({ 'README.md': '# infra\n', [LIST]: INITIAL_LIST, [VARS]: INITIAL_VARS });
    gitlab = await startGitlabWithRepo('infra/ansible', repo, GITLAB_TOKEN);
    // GitHub: configured, used by no target, no GITHUB_TOKEN: never contacted.
    const config = `${storeAndForgesYaml(tmp.dir, { gitlab, github: { baseUrl: 'http://127.0.0.1:9/api/v3' } })}targets:
  versionlock:
    - name: el7-prod
      forge: gitlab
      repo: infra/ansible
      path: ${LIST}
      format: yum
    - name: ansible-vars
      forge: gitlab
      repo: infra/ansible
      path: ${VARS}
      format: ansible-vars
      key: versionlock_packages
access:
  approvals:
    versionlock:
      users: [${BOB}]
`;
    bot = await spawnOpsbot({
      configPath: writeConfig(tmp.dir, config),
      env: slackServeEnv(slack, {
        GITLAB_TOKEN, // and no GITHUB_TOKEN
        PORT: '0',
      }),
    });
  });

  afterAll(async () => {
    await bot?.kill('SIGTERM');
    await Promise.all([slack?.close(), gitlab?.close()]);
    await repo?.cleanup();
    tmp.cleanup();
  });

  const slash = async (text: string, user = ALICE) => {
    const id = `r${++n}`;
    const r = await postSigned(
      bot.port,
      slashBody({
        command: '/versionlock',
        text,
        user_id: user,
        channel_id: CHANNEL,
        response_url: slack.responseUrl(id),
      }),
    );
    expect(r.status).toBe(200);
    return id;
  };

  const answerTo = (id: string) => slack.waitFor(() => slack.responses.find((r) => r.id === id), 20_000);

  /** The root message of a change whose preview names `path`, once it carries its buttons. */
  const rootFor = (path: string, except: readonly PostedFakeMessage[] = []) =>
    slack.waitFor(
      () =>
        slack.messages.find(
          (m) =>
            m.threadTs === null &&
            !except.includes(m) &&
            blockText(m).includes(path) &&
            buttonsOf(m).length === 2,
        ),
      20_000,
    );

  const approve = async (root: PostedFakeMessage, user: string) => {
    const button = buttonsOf(root).find((b) => b.action_id === 'change_approve') as Button;
    const r = await postSigned(
      bot.port,
      blockActionBody({ user, message: root, button, responseUrl: slack.responseUrl(`click-${++n}`) }),
    );
    expect(r.status).toBe(200);
  };

  /** The files a branch changes against main, by path. */
  const changedFiles = async (branch: string): Promise<string[]> =>
    (await repo.git(['diff', '--name-only', 'main', `refs/heads/${branch}`])).split('\n').filter(Boolean);

  it('GitHub configured without GITHUB_TOKEN and used by no target: GitLab targets still work', async () => {
    const id = await slash('list --target el7-prod');
    const answer = await answerTo(id);
    const text = JSON.stringify(answer.body);
    expect(text).not.toContain('GITHUB_TOKEN');
    expect(text).toContain('0:elasticsearch-7.10.1-1.*');
    expect(text).toContain(LIST);
  });

  it('the same package locked on both targets: two previews, two branches, two MRs, each on its own file', async () => {
    await slash('elasticsearch 7.10.2-1 --target el7-prod');
    const first = await rootFor(LIST);
    const second = await slash('elasticsearch 7.10.2-1 --target ansible-vars');
    const root2 = await rootFor(VARS, [first]);
    // Not "already open" with a link to the other file's change: a preview of its own.
    expect(slack.responses.filter((r) => r.id === second).map((r) => JSON.stringify(r.body))).not.toEqual(
      expect.arrayContaining([expect.stringContaining('already')]),
    );
    expect(blockText(root2)).not.toContain(LIST);

    await approve(first, BOB);
    await approve(root2, BOB);
    const mrs = await slack.waitFor(
      () => (gitlab.mergeRequests.length === 2 ? gitlab.mergeRequests : null),
      20_000,
    );
    const [a, b] = mrs.map((m) => m.source_branch);
    expect(a).not.toBe(b);
    const byFile = new Map<string, string>();
    for (const branch of [a, b] as string[]) {
      const files = await changedFiles(branch);
      expect(files).toHaveLength(1);
      byFile.set(files[0] as string, branch);
    }
    expect([...byFile.keys()].sort()).toEqual([VARS, LIST].sort());
    expect(await repo.readFile(byFile.get(LIST) as string, LIST)).toBe(
      '# managed by opsbot\n0:elasticsearch-7.10.2-1.*\n',
    );
    expect(await repo.readFile(byFile.get(VARS) as string, VARS)).toContain('elasticsearch-7.10.2-1');
    // The branch names say which target they belong to.
    expect(byFile.get(LIST)).toContain('el7-prod');
    expect(byFile.get(VARS)).toContain('ansible-vars');
    // Each thread links its own MR.
    for (const [root, file] of [
      [first, LIST],
      [root2, VARS],
    ] as const) {
      const mr = mrs.find((m) => m.source_branch === byFile.get(file));
      const url = `${gitlab.host}/infra/ansible/-/merge_requests/${mr?.iid}`;
      await slack.waitFor(() => blockText(root).includes(url) && buttonsOf(root).length === 0, 20_000);
    }
  });
});
