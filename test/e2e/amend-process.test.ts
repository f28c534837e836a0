import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/open.js';
import { type FakeCompute, startFakeCompute } from '../fakes/gce-compute.js';
import { TEST_TOKEN } from '../fakes/gce-env.js';
import { createBareRepo, type GitRepo } from '../fakes/git-repo.js';
import type { FakeGithub } from '../fakes/github.js';
import type { FakeGitlab } from '../fakes/gitlab.js';
import { type FakeSlack, type PostedFakeMessage, startFakeSlack } from '../fakes/slack.js';
import {
  addTfImportVm,
  BOT_TOKEN,
  type Button,
  blockActionBody,
  blockText,
  buttonsOf,
  postSigned,
  slashBody,
  tempDir,
  viewSubmissionBody,
  writeConfig,
} from './helpers.js';
import { freePort, type OpsbotProcess, spawnOpsbot } from './process.js';
import {
  pipelinesYaml,
  slackServeEnv,
  startGithubWithRepo,
  startGitlabWithRepo,
  storeAndForgesYaml,
} from './serve-config.js';

/**
 * `/amend` as users run it: a real `opsbot serve` process (bin/opsbot.js) taking signed slash commands and
 * button clicks, the fake Slack for the thread, and the GitLab fake (the GitHub fake too, for the main path)
 * serving a real bare repository over git's smart HTTP, so the preview's fetch and the approval's push are real
 * git; the Compute fake for the VM /tf-import looks up. What is asserted is what people
 * see: the preview and its buttons, the commit on the MR branch, the note on the MR, the thread's notes, and,
 * when someone pushes between the preview and the approval, that nothing is pushed and nobody's commit is lost.
 */

const GL_TOKEN = 'glpat-amend-e2e-token-9091';
const HOOK_SECRET = 'amend-hook-secret-31';
const GH_TOKEN = 'ghp_amend_e2e_token_5150';
const GH_HOOK_SECRET = 'amend-gh-hook-secret-47';
const CHANNEL = 'C0OPS';
const ALICE = 'U0ALICE'; // requester
const BOB = 'U0BOB'; // approver
const CONF = 'name = app\nworkers = 2\n';
const LOCKS = 'inventory/versionlock.list';
const TF = 'terraform/prod';
const VM_ID = `projects/shop-prod/zones/europe-west1-b/instances/web-1`;
const DIFF = `--- a/app.conf
+++ b/app.conf
@@ -1,2 +1,2 @@
 name = app
-workers = 2
+workers = 4
`;

describe('/amend in Slack against an opsbot serve process', () => {
  let slack: FakeSlack;
  let gitlab: FakeGitlab;
  let repo: GitRepo;
  let github: FakeGithub;
  /** The same app on GitHub (acme/app): the main path runs on both forges. */
  let ghRepo: GitRepo;
  let compute: FakeCompute;
  let bot: OpsbotProcess;
  /** Starts opsbot serve on the same port, config and store (a restart after a kill). */
  let start: () => Promise<OpsbotProcess>;
  const tmp = tempDir();
  let n = 0;

  beforeAll(async () => {
    slack = await startFakeSlack({ token: BOT_TOKEN });
    repo = await createBareRepo({
      'app.conf': CONF,
      'README.md': '# app\n',
      [LOCKS]: '0:nginx-1.20.1-1.*\n',
      [`${TF}/main.tf`]: '# prod\n',
      [`${TF}/imports.tf`]: '# imports\n',
    });
    // The VM /tf-import vm looks up in Compute (instances.get, then its boot disk's image).
    compute = await startFakeCompute({ accessToken: TEST_TOKEN });
    addTfImportVm(compute);
    gitlab = await startGitlabWithRepo('ops/app', repo, GL_TOKEN);
    ghRepo = await createBareRepo({ 'app.conf': CONF, 'README.md': '# app\n' });
    github = await startGithubWithRepo('acme/app', ghRepo, GH_TOKEN, 'opsbot');
    const port = await freePort();
    const configPath = writeConfig(
      tmp.dir,
      `${storeAndForgesYaml(tmp.dir, { gitlab, github })}${pipelinesYaml({ polling: 'never' })}google:
  defaultProject: shop-prod
  endpoints:
    compute: ${compute.url}
targets:
  versionlock:
    - name: el7
      forge: gitlab
      repo: ops/app
      path: ${LOCKS}
      format: yum
  terraform:
    - name: prod
      forge: gitlab
      repo: ops/app
      dir: ${TF}
changes:
  gitAuthor:
    name: opsbot
    email: opsbot@example.test
  # Alice's forge identity: her amend commits credit her with a Co-authored-by trailer.
  coAuthors:
    ${ALICE}: Alice Example <alice@example.test>
  # A change whose process died is resumed 3 s after its last lease renewal (the crash test restarts one).
  leaseMs: 3000
  resumeIntervalMs: 250
access:
  approvals:
    amend:
      users: [${BOB}]
`,
    );
    start = () =>
      spawnOpsbot({
        configPath,
        env: slackServeEnv(slack, {
          GITLAB_TOKEN: GL_TOKEN,
          GITLAB_WEBHOOK_SECRET: HOOK_SECRET,
          GITHUB_TOKEN: GH_TOKEN,
          GITHUB_WEBHOOK_SECRET: GH_HOOK_SECRET,
          GOOGLE_OAUTH_ACCESS_TOKEN: TEST_TOKEN,
          PORT: String(port),
        }),
      });
    bot = await start();
    gitlab.setWebhook({ url: `http://127.0.0.1:${port}/webhooks/gitlab`, token: HOOK_SECRET });
    github.setWebhook({ url: `http://127.0.0.1:${port}/webhooks/github`, secret: GH_HOOK_SECRET });
  }, 60_000);

  afterAll(async () => {
    await bot?.kill();
    await Promise.all([gitlab?.close(), github?.close(), slack?.close(), compute?.close()]);
    await Promise.all([repo?.cleanup(), ghRepo?.cleanup()]);
    tmp.cleanup();
  });

  /** An MR someone opened from their own branch, with a commit of theirs on it. */
  const openMr = async (branch: string, files: Readonly<Record<string, string>> = {}) => {
    const main = (await repo.revParse(`refs/heads/${repo.defaultBranch}`)) as string;
    await repo.updateRef(`refs/heads/${branch}`, main, null);
    const wip = { [`${branch}.md`]: 'work in progress\n', ...files };
    await repo.commitToBranch(branch, wip, `WIP on ${branch}`, {
      name: 'Carol',
      email: 'carol@example.test',
    });
    return gitlab.addMergeRequest('ops/app', {
      sourceBranch: branch,
      title: `Work on ${branch}`,
      author: 'carol',
    });
  };

  /**
   * What the main path needs of a forge: its repository, an MR (PR) someone opened with a commit of theirs,
   * the notes (comments) on it, and a pipeline (workflow run) on a commit, with the label the thread shows.
   */
  interface ForgeCase {
    readonly repo: () => GitRepo;
    open(branch: string): Promise<{ ref: string; number: number; notes: () => string[] }>;
    pipeline(sha: string, branch: string, number: number): string;
  }
  const forges: Record<'GitLab' | 'GitHub', ForgeCase> = {
    GitLab: {
      repo: () => repo,
      async open(branch) {
        const mr = await openMr(branch);
        return { ref: `ops/app!${mr.iid}`, number: mr.iid, notes: () => mr.notes.map((x) => x.body) };
      },
      pipeline(sha, _branch, number) {
        const p = gitlab.ci.createPipeline('ops/app', {
          mrIid: number,
          sha,
          jobs: [{ name: 'test', stage: 'test' }],
        });
        return `Pipeline #${p.id}`;
      },
    },
    GitHub: {
      repo: () => ghRepo,
      async open(branch) {
        const main = (await ghRepo.revParse(`refs/heads/${ghRepo.defaultBranch}`)) as string;
        await ghRepo.updateRef(`refs/heads/${branch}`, main, null);
        await ghRepo.commitToBranch(branch, { [`${branch}.md`]: 'work in progress\n' }, `WIP on ${branch}`, {
          name: 'Carol',
          email: 'carol@example.test',
        });
        const pr = github.addPull('acme/app', { head: branch, title: `Work on ${branch}`, user: 'carol' });
        return {
          ref: `acme/app#${pr.number}`,
          number: pr.number,
          notes: () => pr.comments.map((c) => c.body),
        };
      },
      pipeline(sha, branch, number) {
        github.actions.createWorkflowRun('acme/app', {
          headSha: sha,
          headBranch: branch,
          prNumber: number,
          name: 'ci',
          jobs: [{ name: 'test' }],
        });
        return `Checks of ${sha.slice(0, 7)}`;
      },
    },
  };

  const amend = async (mr: string, extra = '') => {
    const id = `amend-${++n}`;
    const r = await postSigned(
      bot.port,
      slashBody({
        command: '/amend',
        // Slack sends the command's text with &, < and > as HTML entities.
        text: `${mr} --diff${extra}\n\`\`\`${DIFF}\`\`\``,
        channel_id: CHANNEL,
        user_id: ALICE,
        response_url: slack.responseUrl(id),
      }),
    );
    expect(r.status).toBe(200);
  };

  const previewOf = (mr: string, exclude: readonly PostedFakeMessage[] = []) =>
    slack.waitFor(() => {
      const refused = slack.responses.find((r) => JSON.stringify(r.body).includes(':no_entry:'));
      if (refused) throw new Error(`refused: ${JSON.stringify(refused.body)}`);
      return slack.messages.find(
        (m) =>
          m.threadTs === null &&
          !exclude.includes(m) &&
          m.text.includes(`/amend ${mr}`) &&
          buttonsOf(m).length === 2,
      );
    }, 60_000);

  const click = async (message: PostedFakeMessage, button: Button, user: string) => {
    const r = await postSigned(
      bot.port,
      blockActionBody({ user, message, button, responseUrl: slack.responseUrl(`click-${++n}`) }),
    );
    expect(r.status).toBe(200);
  };

  const thread = (root: PostedFakeMessage) => slack.messages.filter((m) => m.threadTs === root.ts);

  it.each(['GitLab', 'GitHub'] as const)(
    '%s: preview, Approve: the commit is on the MR branch with its trailer, the MR has one note, the thread says pushed and follows the pipeline',
    async (forgeName) => {
      const forge = forges[forgeName];
      const git = forge.repo();
      const branch = `feat/workers-${forgeName.toLowerCase()}`;
      const mr = await forge.open(branch);
      const head = (await git.revParse(`refs/heads/${branch}`)) as string;
      await amend(mr.ref, ' --reason "4 workers for the sale"');
      const root = await previewOf(mr.ref);
      const preview = blockText(root);
      // The exact diff that will be pushed, the branch and the head it was computed on.
      expect(preview).toContain('+workers = 4');
      expect(preview).toContain(branch);
      expect(preview).toContain(head.slice(0, 12));
      expect(await git.revParse(`refs/heads/${branch}`)).toBe(head); // a preview pushes nothing

      const approve = buttonsOf(root).find((b) => b.action_id === 'change_approve') as Button;
      await click(root, approve, BOB);
      const pushed = await slack.waitFor(
        () => thread(root).find((m) => blockText(m).includes('Pushed commit')),
        60_000,
      );
      const newHead = (await git.revParse(`refs/heads/${branch}`)) as string;
      expect(newHead).not.toBe(head);
      expect(blockText(pushed)).toContain(newHead.slice(0, 12));
      expect(await git.readFile(newHead, 'app.conf')).toBe('name = app\nworkers = 4\n');
      // Carol's commit is still there, under opsbot's.
      expect(await git.git(['rev-parse', `${newHead}^`])).toContain(head);
      const message = await git.git(['log', '-1', '--format=%an%n%B', newHead]);
      expect(message).toContain('opsbot');
      expect(message).toContain('Approved-by: @u0bob (Slack)');
      expect(message).toContain('Co-authored-by: Alice Example <alice@example.test>');
      // The trailer that lets a resumed apply recognise its own commit, and the same id in the MR note.
      const changeId = /^Opsbot-Change: (\S+)$/m.exec(message)?.[1];
      expect(changeId).toMatch(/^[0-9a-f-]{36}$/);
      await slack.waitFor(
        () => buttonsOf(root).length === 0 && blockText(root).includes('pushed to'),
        30_000,
      );
      const notes = mr.notes().filter((x) => x.includes('opsbot added commit'));
      expect(notes).toHaveLength(1);
      expect(notes[0]).toContain('4 workers for the sale');
      expect(notes[0]).toMatch(/Slack thread: \S+/);
      expect(notes[0]).toContain(`<!-- opsbot-change: ${changeId} -->`);

      // The MR's pipeline shows up in the same thread.
      const label = forge.pipeline(newHead, branch, mr.number);
      await slack.waitFor(() => thread(root).find((m) => blockText(m).includes(label)), 60_000);
      expect(mr.notes().filter((x) => x.includes('opsbot added commit'))).toHaveLength(1); // still one

      // The request, the approval and the push are in the audit log.
      const store = await openStore({ databaseUrl: undefined, dataDir: `${tmp.dir}/data` });
      try {
        await expect
          .poll(async () =>
            (await store.audit.list({ command: 'amend' }))
              .filter((r) => r.target?.startsWith(`${mr.ref.split(/[!#]/)[0]}@amend:${mr.number}:`))
              .map((r) => `${r.actorId}:${r.outcome}`),
          )
          .toEqual(expect.arrayContaining([`${ALICE}:planned`, `${BOB}:approved`, `${BOB}:ok`]));
      } finally {
        await store.close();
      }
    },
    180_000,
  );

  it('someone pushes between preview and approval: nothing pushed, both commits intact, the old preview out of date, Preview again on the new head', async () => {
    const mr = await openMr('feat/race');
    const head = (await repo.revParse('refs/heads/feat/race')) as string;
    await amend(`ops/app!${mr.iid}`);
    const root = await previewOf(`ops/app!${mr.iid}`);
    expect(blockText(root)).toContain(head.slice(0, 12));
    const theirs = await repo.commitToBranch('feat/race', { 'notes.txt': 'mine\n' }, 'Dave was here', {
      name: 'Dave',
      email: 'dave@example.test',
    });
    gitlab.pushToMergeRequest('ops/app', mr.iid, theirs); // GitLab sees the push (MR head, hook)

    const approve = buttonsOf(root).find((b) => b.action_id === 'change_approve') as Button;
    await click(root, approve, BOB);
    const moved = await slack.waitFor(
      () => thread(root).find((m) => blockText(m).includes('nothing was pushed')),
      60_000,
    );
    expect(blockText(moved)).toContain(theirs.slice(0, 12));
    expect(blockText(moved)).toContain('Dave');
    expect(blockText(moved)).toContain('Dave was here');
    // Nothing pushed: the branch is Dave's commit on top of Carol's.
    expect(await repo.revParse('refs/heads/feat/race')).toBe(theirs);
    expect(await repo.git(['rev-parse', `${theirs}^`])).toContain(head);
    expect(await repo.readFile(theirs, 'app.conf')).toBe(CONF);

    // The old preview says it is out of date and can no longer be approved (or cancelled): no buttons.
    await slack.waitFor(
      () => buttonsOf(root).length === 0 && /Out of date, not approvable/.test(blockText(root)),
      30_000,
    );
    expect(blockText(root)).toContain('Preview again');
    // An Approve click on it all the same (a Slack client showing the message as it was) is answered
    // privately, and nothing is tried again: no second approval, no second "moved" note.
    const movedNotes = () => thread(root).filter((m) => blockText(m).includes('nothing was pushed')).length;
    const ephemeralBefore = slack.callsOf('chat.postEphemeral').length;
    const threadBefore = thread(root).length;
    await click(root, approve, BOB);
    const answered = () =>
      slack
        .callsOf('chat.postEphemeral')
        .slice(ephemeralBefore)
        .find((c) => c.args.user === BOB);
    // Whichever comes first: the private answer, or (the defect) a new attempt in the thread.
    await slack.waitFor(() => answered() ?? (thread(root).length > threadBefore || undefined), 30_000);
    expect(thread(root).slice(threadBefore).map(blockText)).toEqual([]);
    expect(String(answered()?.args.text)).toContain('out of date');
    expect(String(answered()?.args.text)).toContain('Preview again');
    expect(movedNotes()).toBe(1);
    const store = await openStore({ databaseUrl: undefined, dataDir: `${tmp.dir}/data` });
    try {
      const rows = (await store.audit.list({ command: 'amend' })).filter((r) =>
        r.target?.startsWith(`ops/app@amend:${mr.iid}:`),
      );
      expect(rows.filter((r) => r.outcome === 'approved')).toHaveLength(1);
    } finally {
      await store.close();
    }
    expect(await repo.revParse('refs/heads/feat/race')).toBe(theirs);

    const again = buttonsOf(moved).find((b) => b.action_id === 'amend_repreview') as Button;
    expect(again).toBeDefined();
    await click(moved, again, ALICE);
    const second = await previewOf(`ops/app!${mr.iid}`, [root]);
    expect(blockText(second)).toContain(theirs.slice(0, 12));
    expect(blockText(second)).toContain('+workers = 4');
    expect(await repo.revParse('refs/heads/feat/race')).toBe(theirs); // still nothing pushed
    // The old preview now points at the new one.
    await slack.waitFor(() => blockText(root).includes('Superseded by a newer request'), 30_000);
    expect(buttonsOf(second).map((b) => b.action_id)).toEqual(['change_approve', 'change_cancel']);
  }, 180_000);

  it('the MR branch deleted between preview and approval: refused, nothing pushed, the branch not recreated', async () => {
    const mr = await openMr('feat/gone');
    const head = (await repo.revParse('refs/heads/feat/gone')) as string;
    await amend(`ops/app!${mr.iid}`);
    const root = await previewOf(`ops/app!${mr.iid}`);
    expect(blockText(root)).toContain(head.slice(0, 12));
    await repo.git(['update-ref', '-d', 'refs/heads/feat/gone']);

    await click(root, buttonsOf(root).find((b) => b.action_id === 'change_approve') as Button, BOB);
    await slack.waitFor(
      () => /Nothing was pushed: the branch feat\/gone no longer exists in ops\/app/.test(blockText(root)),
      60_000,
    );
    expect(thread(root).map(blockText).join('\n')).toContain('the branch feat/gone no longer exists');
    expect(await repo.git(['for-each-ref', 'refs/heads/feat/gone'])).toBe('');
    // Approve stays: the branch may come back (restored at the same head, the retry pushes).
    expect(buttonsOf(root).map((b) => b.action_id)).toEqual(['change_approve', 'change_cancel']);
  }, 120_000);

  it('/versionlock --mr puts the change onto that MR branch as a commit, previewed and approved like /amend', async () => {
    const mr = await openMr('feat/locks');
    const mrsBefore = gitlab.mergeRequests.length;
    const head = (await repo.revParse('refs/heads/feat/locks')) as string;
    const r = await postSigned(
      bot.port,
      slashBody({
        command: '/versionlock',
        text: `elasticsearch 7.10.2-1 --mr ops/app!${mr.iid}`,
        channel_id: CHANNEL,
        user_id: ALICE,
        response_url: slack.responseUrl(`vl-${++n}`),
      }),
    );
    expect(r.status).toBe(200);
    const root = await previewOf(`ops/app!${mr.iid}`);
    expect(blockText(root)).toContain('+0:elasticsearch-7.10.2-1');
    expect(blockText(root)).toContain(head.slice(0, 12));
    await click(root, buttonsOf(root).find((b) => b.action_id === 'change_approve') as Button, BOB);
    await slack.waitFor(() => thread(root).find((m) => blockText(m).includes('Pushed commit')), 60_000);
    const newHead = (await repo.revParse('refs/heads/feat/locks')) as string;
    expect(await repo.git(['rev-parse', `${newHead}^`])).toContain(head);
    expect(await repo.readFile(newHead, LOCKS)).toContain('0:elasticsearch-7.10.2-1.*');
    // No new MR: the change went onto the existing one.
    expect(gitlab.mergeRequests).toHaveLength(mrsBefore);
    expect(gitlab.mergeRequests.some((m) => m.source_branch.startsWith('opsbot/'))).toBe(false);
  }, 180_000);

  it('/tf-import vm --mr puts the import block and the resource block onto that MR branch as one commit, no new MR', async () => {
    // Carol's MR already imports another VM: the change is planned on her branch, not on main.
    const theirs = `# imports\n\nimport {\n  to = google_compute_instance.db-9\n  id = "db-9"\n}\n`;
    const mr = await openMr('feat/import', { [`${TF}/imports.tf`]: theirs });
    const mrsBefore = gitlab.mergeRequests.length;
    const head = (await repo.revParse('refs/heads/feat/import')) as string;
    const r = await postSigned(
      bot.port,
      slashBody({
        command: '/tf-import',
        text: `vm web-1 --mr ops/app!${mr.iid}`,
        channel_id: CHANNEL,
        user_id: ALICE,
        response_url: slack.responseUrl(`tf-${++n}`),
      }),
    );
    expect(r.status).toBe(200);
    const root = await previewOf(`ops/app!${mr.iid}`);
    const preview = blockText(root);
    expect(preview).toContain('+  to = google_compute_instance.web-1');
    expect(preview).toContain(head.slice(0, 12));
    expect(preview).toContain('feat/import');
    expect(await repo.revParse('refs/heads/feat/import')).toBe(head); // a preview pushes nothing
    await click(root, buttonsOf(root).find((b) => b.action_id === 'change_approve') as Button, BOB);
    await slack.waitFor(() => thread(root).find((m) => blockText(m).includes('Pushed commit')), 60_000);
    const newHead = (await repo.revParse('refs/heads/feat/import')) as string;
    // One commit of opsbot's on top of Carol's, whose file is still there.
    expect(await repo.git(['rev-parse', `${newHead}^`])).toContain(head);
    expect(await repo.readFile(newHead, 'feat/import.md')).toBe('work in progress\n');
    // The import block a user would write, appended to the MR branch's imports.tf (Carol's block kept).
    expect(await repo.readFile(newHead, `${TF}/imports.tf`)).toBe(
      `${theirs}\nimport {\n  to = google_compute_instance.web-1\n  id = "${VM_ID}"\n}\n`,
    );
    expect(await repo.readFile(repo.defaultBranch, `${TF}/imports.tf`)).toBe('# imports\n'); // main untouched
    // And the starting resource block from the VM's real fields, in a file of its own.
    const resource = (await repo.readFile(newHead, `${TF}/imported.tf`)) as string;
    expect(resource).toContain('resource "google_compute_instance" "web-1" {');
    expect(resource).toMatch(/machine_type += "e2-standard-4"/);
    expect(resource).toContain('debian-12-bookworm');
    expect(await repo.readFile(newHead, `${TF}/main.tf`)).toBe('# prod\n');
    const message = await repo.git(['log', '-1', '--format=%B', newHead]);
    expect(message).toContain('google_compute_instance.web-1');
    expect(message).toContain('Approved-by: @u0bob (Slack)');
    expect(mr.notes.find((x) => x.body.includes('opsbot added commit'))).toBeDefined();
    // No new MR and no opsbot branch: the change went onto the existing MR.
    expect(gitlab.mergeRequests).toHaveLength(mrsBefore);
    expect((await repo.listBranches()).filter((b) => b.startsWith('opsbot/'))).toEqual([]);
  }, 180_000);

  /** `/amend <mr>` without --diff, with a trigger id the fake Slack issued (`issuedAgoMs` back). */
  const amendForm = async (mr: string, issuedAgoMs = 0) => {
    const id = `form-${++n}`;
    const trigger = slack.issueTriggerId({ issuedAgoMs });
    const r = await postSigned(
      bot.port,
      slashBody({
        command: '/amend',
        text: mr,
        channel_id: CHANNEL,
        user_id: ALICE,
        response_url: slack.responseUrl(id),
        trigger_id: trigger,
      }),
    );
    expect(r.status).toBe(200);
    return { trigger, responseId: id };
  };

  const submit = async (
    view: { id: string; view: Record<string, unknown> },
    fields: { diff: string; typed?: string; mode?: 'add' | 'amend'; message?: string; reason?: string },
  ) => {
    const t0 = performance.now();
    const r = await postSigned(
      bot.port,
      viewSubmissionBody({
        user: ALICE,
        view,
        values: {
          amend_diff: { value: { type: 'plain_text_input', value: fields.diff || null } },
          amend_typed: { value: { type: 'plain_text_input', value: fields.typed ?? null } },
          amend_mode: {
            value: {
              type: 'radio_buttons',
              selected_option: { value: fields.mode ?? 'add', text: { type: 'plain_text', text: 'x' } },
            },
          },
          amend_message: { value: { type: 'plain_text_input', value: fields.message ?? null } },
          amend_reason: { value: { type: 'plain_text_input', value: fields.reason ?? null } },
        },
      }),
    );
    // Slack's promise: a view_submission not acknowledged within 3 s fails in front of the user.
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(r.status).toBe(200);
    return r.text === '' ? null : (JSON.parse(r.text) as Record<string, unknown>);
  };

  it("/amend <mr> opens the form with the command's trigger id; its submission previews in the channel; Approve commits", async () => {
    const mr = await openMr('feat/form');
    const head = (await repo.revParse('refs/heads/feat/form')) as string;
    const { trigger } = await amendForm(`ops/app!${mr.iid}`);
    const view = await slack.waitFor(() => slack.views.find((v) => v.triggerId === trigger), 30_000);
    expect(view.view.callback_id).toBe('amend_modal');
    expect(JSON.stringify(view.view.blocks)).toContain('Amend the last commit');

    // Field errors come back in the ack, under the field, and nothing is previewed.
    expect(await submit(view, { diff: '   ' })).toMatchObject({
      response_action: 'errors',
      errors: { amend_diff: expect.stringContaining('diff') },
    });
    const outside = '--- a/../etc/passwd\n+++ b/../etc/passwd\n@@ -1 +1 @@\n-a\n+b\n';
    expect(await submit(view, { diff: outside })).toMatchObject({
      response_action: 'errors',
      errors: { amend_diff: expect.stringContaining('outside the repository') },
    });

    expect(await submit(view, { diff: DIFF, message: 'More workers', reason: 'form reason' })).toBeNull();
    const root = await previewOf(`ops/app!${mr.iid}`);
    expect(root.channel).toBe(CHANNEL);
    expect(blockText(root)).toContain('+workers = 4');
    expect(blockText(root)).toContain(head.slice(0, 12));
    await click(root, buttonsOf(root).find((b) => b.action_id === 'change_approve') as Button, BOB);
    await slack.waitFor(() => thread(root).find((m) => blockText(m).includes('Pushed commit')), 60_000);
    const newHead = (await repo.revParse('refs/heads/feat/form')) as string;
    expect(await repo.git(['rev-parse', `${newHead}^`])).toContain(head);
    expect(await repo.readFile(newHead, 'app.conf')).toBe('name = app\nworkers = 4\n');
    expect(await repo.git(['log', '-1', '--format=%B', newHead])).toContain('More workers');
    expect(mr.notes.find((x) => x.body.includes('form reason'))).toBeDefined();
  }, 180_000);

  it('a diff from the form that does not apply: refused with the failing hunk (under the field, or privately once the form closed)', async () => {
    const mr = await openMr('feat/form-bad');
    const head = (await repo.revParse('refs/heads/feat/form-bad')) as string;
    const { trigger } = await amendForm(`ops/app!${mr.iid}`);
    const view = await slack.waitFor(() => slack.views.find((v) => v.triggerId === trigger), 30_000);
    const bad = '--- a/app.conf\n+++ b/app.conf\n@@ -1,2 +1,2 @@\n name = app\n-workers = 9\n+workers = 10\n';
    const ephemeralBefore = slack.callsOf('chat.postEphemeral').length;
    const answer = await submit(view, { diff: bad });
    // Within opsbot's 2 s budget git's answer is shown under the diff field; after it the form has closed and
    // the refusal is answered privately in the channel. Either way the user sees the hunk that failed.
    const refusal = answer
      ? String((answer.errors as Record<string, string>).amend_diff)
      : String(
          (
            await slack.waitFor(
              () =>
                slack
                  .callsOf('chat.postEphemeral')
                  .slice(ephemeralBefore)
                  .find((c) => c.args.user === ALICE),
              60_000,
            )
          ).args.text,
        );
    expect(refusal).toContain('does not apply');
    expect(refusal).toContain('workers = 9');
    expect(await repo.revParse('refs/heads/feat/form-bad')).toBe(head);
  }, 120_000);

  it("the form's typed change (versionlock) goes onto the MR as a commit, like /versionlock --mr", async () => {
    const mr = await openMr('feat/form-typed');
    const head = (await repo.revParse('refs/heads/feat/form-typed')) as string;
    const { trigger } = await amendForm(`ops/app!${mr.iid}`);
    const view = await slack.waitFor(() => slack.views.find((v) => v.triggerId === trigger), 30_000);
    expect(await submit(view, { diff: '', typed: 'versionlock' })).toMatchObject({
      response_action: 'errors',
      errors: { amend_typed: expect.stringContaining('versionlock') },
    });
    expect(await submit(view, { diff: DIFF, typed: 'versionlock kibana 7.10.2-1' })).toMatchObject({
      response_action: 'errors',
      errors: { amend_typed: expect.stringContaining('not both') },
    });
    expect(await submit(view, { diff: '', typed: 'versionlock kibana 7.10.2-1' })).toBeNull();
    const root = await previewOf(`ops/app!${mr.iid}`);
    expect(blockText(root)).toContain('+0:kibana-7.10.2-1');
    await click(root, buttonsOf(root).find((b) => b.action_id === 'change_approve') as Button, BOB);
    await slack.waitFor(() => thread(root).find((m) => blockText(m).includes('Pushed commit')), 60_000);
    const newHead = (await repo.revParse('refs/heads/feat/form-typed')) as string;
    expect(await repo.git(['rev-parse', `${newHead}^`])).toContain(head);
    expect(await repo.readFile(newHead, LOCKS)).toContain('0:kibana-7.10.2-1.*');
  }, 180_000);

  it('a trigger id Slack let expire: the user is told to run /amend again or use --diff, no form', async () => {
    const mr = await openMr('feat/slow');
    const opened = slack.views.length;
    const { responseId } = await amendForm(`ops/app!${mr.iid}`, 3500);
    const answer = await slack.waitFor(() => slack.responses.find((r) => r.id === responseId), 30_000);
    expect(String(answer.body.text)).toContain('Slack took too long');
    expect(String(answer.body.text)).toContain('--diff');
    expect(slack.views).toHaveLength(opened);
  }, 60_000);

  it('kill -9 after the push but before the note and the record: the restarted opsbot opens the change and leaves the note exactly once', async () => {
    const mr = await openMr('feat/crash');
    const head = (await repo.revParse('refs/heads/feat/crash')) as string;
    await amend(`ops/app!${mr.iid}`, ' --reason "crash test"');
    const root = await previewOf(`ops/app!${mr.iid}`);
    // The note step reads the MR's notes right after the push: hold it there and kill opsbot.
    const hold = gitlab.hold(
      { method: 'GET', path: new RegExp(`/merge_requests/${mr.iid}/notes$`) },
      'before',
    );
    await click(root, buttonsOf(root).find((b) => b.action_id === 'change_approve') as Button, BOB);
    await hold.reached;
    const pushed = (await repo.revParse('refs/heads/feat/crash')) as string;
    expect(pushed).not.toBe(head); // the push landed
    await bot.kill('SIGKILL');
    hold.release();
    expect(mr.notes).toHaveLength(0);

    bot = await start();
    // The resumer takes the change over once its lease ran out and finds its own commit on the branch.
    const done = await slack.waitFor(
      () => thread(root).find((m) => blockText(m).includes('Pushed commit')),
      60_000,
    );
    expect(blockText(done)).toContain(pushed.slice(0, 12));
    await slack.waitFor(() => blockText(root).includes('pushed to'), 30_000);
    // Nothing pushed twice: the branch is still the one opsbot commit on Carol's.
    expect(await repo.revParse('refs/heads/feat/crash')).toBe(pushed);
    expect(await repo.git(['rev-parse', `${pushed}^`])).toContain(head);
    const notes = mr.notes.filter((x) => x.body.includes('opsbot added commit'));
    expect(notes).toHaveLength(1);
    expect(notes[0]?.body).toContain('crash test');
    expect(notes[0]?.body).toContain(pushed.slice(0, 12));
  }, 180_000);

  it('kill -9 after the note but before the record: the restarted opsbot does not leave a second note', async () => {
    const mr = await openMr('feat/crash2');
    await amend(`ops/app!${mr.iid}`);
    const root = await previewOf(`ops/app!${mr.iid}`);
    const hold = gitlab.hold(
      { method: 'POST', path: new RegExp(`/merge_requests/${mr.iid}/notes$`) },
      'after',
    );
    await click(root, buttonsOf(root).find((b) => b.action_id === 'change_approve') as Button, BOB);
    await hold.reached;
    await bot.kill('SIGKILL');
    hold.release();
    expect(mr.notes).toHaveLength(1);
    bot = await start();
    await slack.waitFor(() => thread(root).find((m) => blockText(m).includes('Pushed commit')), 60_000);
    await slack.waitFor(() => blockText(root).includes('pushed to'), 30_000);
    expect(mr.notes.filter((x) => x.body.includes('opsbot added commit'))).toHaveLength(1);
  }, 180_000);

  it('the MR note failing at the push: the change is open, and the note is left later, once', async () => {
    const mr = await openMr('feat/note-later');
    await amend(`ops/app!${mr.iid}`);
    const root = await previewOf(`ops/app!${mr.iid}`);
    // GitLab refuses the note once (a 403 is not retried): the push stands, the thread says the note is missing.
    gitlab.inject(
      { method: 'POST', path: new RegExp(`/merge_requests/${mr.iid}/notes$`) },
      { kind: 'respond', status: 403, json: { message: '403 Forbidden' } },
    );
    await click(root, buttonsOf(root).find((b) => b.action_id === 'change_approve') as Button, BOB);
    const pushed = await slack.waitFor(
      () => thread(root).find((m) => blockText(m).includes('Pushed commit')),
      60_000,
    );
    expect(blockText(pushed)).toContain('could not be left');
    // The resumer leaves it on a later pass; exactly one.
    await slack.waitFor(() => mr.notes.some((x) => x.body.includes('opsbot added commit')), 30_000);
    const newHead = (await repo.revParse('refs/heads/feat/note-later')) as string;
    const notes = mr.notes.filter((x) => x.body.includes('opsbot added commit'));
    expect(notes).toHaveLength(1);
    expect(notes[0]?.body).toContain(newHead.slice(0, 12));
    // A later pass (a restart checks every open amend) does not add another: restart and wait for its pass.
    await bot.kill('SIGTERM');
    bot = await start();
    const gets = () =>
      gitlab.requests.filter((r) => r.method === 'GET' && r.path.endsWith(`/merge_requests/${mr.iid}/notes`))
        .length;
    const before = gets();
    await slack.waitFor(() => gets() > before, 30_000);
    expect(mr.notes.filter((x) => x.body.includes('opsbot added commit'))).toHaveLength(1);
  }, 180_000);
});
