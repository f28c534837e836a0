import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningOpsbot, startOpsbot } from '../../src/main.js';
import type { RecordedRequest } from '../fakes/forge-http.js';
import { type GceTestEnv, startGceEnv } from '../fakes/gce-env.js';
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
  captureLines,
  postSigned,
  slashBody,
  tempDir,
  writeConfig,
} from './helpers.js';
import {
  slackServeEnv,
  startGithubWithRepo,
  startGitlabWithRepo,
  storeAndForgesYaml,
} from './serve-config.js';

/**
 * The change flow end to end in Slack terms: signed slash commands and signed interactivity payloads into a
 * running opsbot, the real Slack Web API client against the fake Slack, the real GitLab / GitHub adapters
 * against the fake forges, backed by real bare git repositories; what a user would see is asserted on the
 * fakes (messages, ephemeral answers, merge requests, branch contents) and on the store's audit log.
 */

const GITLAB_TOKEN = 'glpat-e2e-write-token-77';
const GITHUB_TOKEN = 'ghp_e2e_write_token_88';
const LOCKS = 'inventory/versionlock.list';
const INITIAL_LOCKS = '# managed by opsbot\n0:elasticsearch-7.10.1-1.*\n0:nginx-1.20.1-1.*\n';
const CHANNEL = 'C0OPS';
const ALICE = 'U0ALICE'; // requester
const BOB = 'U0BOB'; // approver
const CAROL = 'U0CAROL'; // approver (through a user group)
const DAVE = 'U0DAVE'; // neither

const writes = (reqs: readonly RecordedRequest[]) =>
  reqs.filter((r) => r.method !== 'GET' && r.method !== 'HEAD');

describe('change flow over the wire (GitLab versionlock, GitHub tf-import)', () => {
  let slack: FakeSlack;
  let gitlab: FakeGitlab;
  let github: FakeGithub;
  let gce: GceTestEnv;
  let ansible: GitRepo;
  let terraform: GitRepo;
  let bot: RunningOpsbot;
  const tmp = tempDir();
  const logs = captureLines();
  let n = 0;

  beforeAll(async () => {
    slack = await startFakeSlack({ token: BOT_TOKEN });
    slack.setUserGroup('S0SRE', [CAROL]);
    ansible = await createBareRepo({ 'README.md': '# infra\n', [LOCKS]: INITIAL_LOCKS });
    terraform = await createBareRepo({
      'terraform/prod/main.tf': '# prod\n',
      'terraform/prod/imports.tf': '# imports\n',
    });
    gitlab = await startGitlabWithRepo('infra/ansible', ansible, GITLAB_TOKEN);
    github = await startGithubWithRepo('infra/terraform', terraform, GITHUB_TOKEN);
    gce = await startGceEnv();
    addTfImportVm(gce.compute, { team: 'search' });
    const config = `${storeAndForgesYaml(tmp.dir, { gitlab, github })}google:
  defaultProject: shop-prod
targets:
  versionlock:
    - name: el7
      forge: gitlab
      repo: infra/ansible
      path: ${LOCKS}
      format: yum
  terraform:
    - name: prod
      forge: github
      repo: infra/terraform
      dir: terraform/prod
access:
  approvals:
    versionlock:
      users: [${BOB}]
      groups: [S0SRE]
`;
    bot = await startOpsbot({
      env: slackServeEnv(slack, { GITLAB_TOKEN, GITHUB_TOKEN, PORT: '0' }),
      configPath: writeConfig(tmp.dir, config),
      destination: logs,
      host: '127.0.0.1',
      compute: gce.adapters.compute,
    });
    await slack.waitFor(() => slack.callsOf('auth.test').length > 0);
  });

  afterAll(async () => {
    await bot?.stop();
    await Promise.all([slack?.close(), gitlab?.close(), github?.close(), gce?.close()]);
    await Promise.all([ansible?.cleanup(), terraform?.cleanup()]);
    tmp.cleanup();
  });

  const slash = async (command: string, text: string, user = ALICE) => {
    const id = `r${++n}`;
    const r = await postSigned(
      bot.port,
      slashBody({ command, text, user_id: user, channel_id: CHANNEL, response_url: slack.responseUrl(id) }),
    );
    expect(r.status).toBe(200);
    return { id, ack: r.text ? (JSON.parse(r.text) as { text: string; blocks?: unknown[] }) : null };
  };

  /** The root message in the channel whose text mentions `needle`, once it carries its buttons. */
  const rootWithButtons = (needle: string) =>
    slack.waitFor(() =>
      slack.messages.find((m) => m.threadTs === null && m.text.includes(needle) && buttonsOf(m).length === 2),
    );

  const click = async (
    message: PostedFakeMessage,
    action: 'change_approve' | 'change_cancel',
    user: string,
    value?: string,
  ) => {
    const button = buttonsOf(message).find((b) => b.action_id === action) as Button;
    const r = await postSigned(
      bot.port,
      blockActionBody({
        user,
        message,
        button: value ? { ...button, value } : button,
        responseUrl: slack.responseUrl(`click-${++n}`),
      }),
    );
    expect(r.status).toBe(200);
    expect(r.text).toBe(''); // ack at once, empty: the answer comes separately
    return r;
  };

  const thread = (root: PostedFakeMessage) => slack.messages.filter((m) => m.threadTs === root.ts);
  const ephemeralTo = (user: string) =>
    slack
      .callsOf('chat.postEphemeral')
      .filter((c) => c.args.user === user)
      .map((c) => String(c.args.text));
  const mrsFor = (branch: string) => gitlab.mergeRequests.filter((m) => m.source_branch === branch);
  const audit = async (command: string) =>
    (await bot.store.audit.list({ command, limit: 500 })).map((a) => ({
      outcome: a.outcome,
      actor: a.actorId,
      detail: a.detail,
      target: a.target,
    }));

  it('/versionlock elasticsearch 7.10.2-1 -> preview in the channel -> Approve by a second person -> one MR with exactly that file, linked both ways', async () => {
    const postsBefore = slack.callsOf('chat.postMessage').length;
    const { ack } = await slash('/versionlock', 'elasticsearch 7.10.2-1');
    expect(ack).toBeNull(); // acked empty at once; the work follows
    const root = await rootWithButtons('elasticsearch');
    expect(root.channel).toBe(CHANNEL);
    const shown = blockText(root);
    expect(shown).toContain(`<@${ALICE}>`);
    expect(shown).toContain('infra/ansible');
    expect(shown).toContain('GitLab');
    expect(shown).toContain(LOCKS);
    expect(shown).toContain('opsbot/versionlock/el7/elasticsearch-7.10.2-1');
    expect(shown).toContain('-0:elasticsearch-7.10.1-1.*');
    expect(shown).toContain('+0:elasticsearch-7.10.2-1.*');
    expect(shown).toContain('```');
    expect(slack.callsOf('chat.postMessage').length).toBe(postsBefore + 1);
    const [approve] = buttonsOf(root);
    const changeId = approve?.value.split(':')[0] as string;
    const stored = await bot.store.changes.get(changeId);
    expect(stored).toMatchObject({
      status: 'planned',
      requestedBy: ALICE,
      slackChannel: CHANNEL,
      slackThreadTs: root.ts,
    });
    expect(writes(gitlab.requests)).toHaveLength(0); // a plan writes nothing

    await click(root, 'change_approve', BOB);
    const mr = await slack.waitFor(() => mrsFor('opsbot/versionlock/el7/elasticsearch-7.10.2-1')[0], 10_000);
    expect(mr.target_branch).toBe('main');
    expect(await ansible.readFile('opsbot/versionlock/el7/elasticsearch-7.10.2-1', LOCKS)).toBe(
      '# managed by opsbot\n0:elasticsearch-7.10.2-1.*\n0:nginx-1.20.1-1.*\n',
    );
    expect(await ansible.readFile('main', LOCKS)).toBe(INITIAL_LOCKS);
    const permalink = `https://fake.slack.com/archives/${CHANNEL}/p${root.ts.replace('.', '')}`;
    expect(mr.description).toContain(permalink);
    // people are named by their Slack handle: a user id means nothing to a reviewer on the forge
    expect(mr.description).toContain('Requested by @alice and approved by @u0bob');
    const mrUrl = `${gitlab.host}/infra/ansible/-/merge_requests/${mr.iid}`;
    const replies = await slack.waitFor(() => {
      const t = thread(root);
      return t.some((m) => m.text.includes(mrUrl) || blockText(m).includes(mrUrl)) ? t : null;
    });
    expect(replies[0]?.text).toContain(`Approved by <@${BOB}>, applying`);
    // The root shows the MR once the change is open; it may first show "applying" (another update).
    await slack.waitFor(() => blockText(root).includes(mrUrl) && buttonsOf(root).length === 0);
    expect(root.updates).toBeGreaterThanOrEqual(2);
    expect(await bot.store.changes.get(changeId)).toMatchObject({ status: 'open', approvedBy: BOB, mrUrl });
    await expect
      .poll(async () => (await audit('versionlock')).map((a) => a.outcome))
      .toEqual(expect.arrayContaining(['planned', 'approved', 'ok']));
    const ok = (await audit('versionlock')).find((a) => a.outcome === 'ok');
    expect(ok?.detail).toContain(mrUrl);
  });

  it('the same Approve click delivered twice, concurrently and then again later, opens exactly one MR', async () => {
    await slash('/versionlock', 'add kibana 7.10.2-1');
    const root = await rootWithButtons('kibana');
    const asDelivered = { ...root, blocks: root.blocks ? [...root.blocks] : null }; // the payload Slack retries
    const before = gitlab.requestsTo('POST', /\/merge_requests$/).length;
    await Promise.all([
      click(root, 'change_approve', BOB),
      click(root, 'change_approve', BOB),
      click(root, 'change_approve', CAROL),
    ]);
    await slack.waitFor(() => mrsFor('opsbot/versionlock/el7/kibana-7.10.2-1').length === 1, 10_000);
    await slack.waitFor(() => buttonsOf(root).length === 0);
    // A Slack retry of the same click, long after: nothing new.
    await click(asDelivered, 'change_approve', BOB);
    await slack.waitFor(() => ephemeralTo(BOB).some((t) => t.includes('already open')) || null);
    expect(mrsFor('opsbot/versionlock/el7/kibana-7.10.2-1')).toHaveLength(1);
    expect(gitlab.requestsTo('POST', /\/merge_requests$/).length - before).toBe(1);
    const losers = [...ephemeralTo(BOB), ...ephemeralTo(CAROL)].filter((t) => t.includes('already'));
    expect(losers.length).toBeGreaterThanOrEqual(3);
  });

  it('refuses an approver who is not listed (ephemeral, naming who may), and the requester approving their own change; nothing is written', async () => {
    await slash('/versionlock', 'add logstash 7.10.2-1');
    const root = await rootWithButtons('logstash');
    const writesBefore = writes(gitlab.requests).length;
    await click(root, 'change_approve', DAVE);
    const refusal = await slack.waitFor(() => ephemeralTo(DAVE).find((t) => t.includes('approve')));
    expect(refusal).toContain(`<@${BOB}>`);
    expect(refusal).toContain('<!subteam^S0SRE>');
    await click(root, 'change_approve', ALICE);
    const self = await slack.waitFor(() =>
      ephemeralTo(ALICE).find((t) => t.includes('You requested this change')),
    );
    expect(self).toContain('someone else must approve');
    expect(writes(gitlab.requests).length).toBe(writesBefore);
    expect(mrsFor('opsbot/versionlock/el7/logstash-7.10.2-1')).toHaveLength(0);
    expect(buttonsOf(root)).toHaveLength(2); // still awaiting a real approver
    expect(thread(root)).toHaveLength(0); // refusals are private
    await expect
      .poll(async () =>
        (await audit('versionlock'))
          .filter((a) => a.outcome === 'refused')
          .map((a) => a.actor)
          .sort(),
      )
      .toEqual([ALICE, DAVE]);
    // A member of the approver group may approve.
    await click(root, 'change_approve', CAROL);
    await slack.waitFor(() => mrsFor('opsbot/versionlock/el7/logstash-7.10.2-1').length === 1, 10_000);
  });

  it('Cancel by the requester closes the change: the root says so, no MR, a later Approve is refused', async () => {
    await slash('/versionlock', 'remove nginx');
    const root = await rootWithButtons('nginx');
    expect(blockText(root)).toContain('-0:nginx-1.20.1-1.*');
    const writesBefore = writes(gitlab.requests).length;
    const stale = { ...root, blocks: root.blocks ? [...root.blocks] : null };
    await click(root, 'change_cancel', ALICE);
    await slack.waitFor(() => buttonsOf(root).length === 0 && blockText(root).includes('Cancelled'));
    await click(stale, 'change_approve', BOB); // an old client still showing the buttons
    await slack.waitFor(() => ephemeralTo(BOB).find((t) => t.includes('cancelled')));
    expect(writes(gitlab.requests).length).toBe(writesBefore);
    expect(mrsFor('opsbot/versionlock/el7/remove-nginx')).toHaveLength(0);
    await expect
      .poll(async () => (await audit('versionlock')).some((a) => a.outcome === 'cancelled'))
      .toBe(true);
  });

  it('--dry-run shows the plan privately and stops: no channel message, no buttons, nothing stored', async () => {
    const postsBefore = slack.callsOf('chat.postMessage').length;
    const { id } = await slash('/versionlock', 'add filebeat 7.10.2-1 --dry-run');
    const answer = await slack.waitFor(() => slack.responses.find((r) => r.id === id));
    expect(answer.body.response_type).toBe('ephemeral');
    const text = JSON.stringify(answer.body.blocks);
    expect(text).toContain('+0:filebeat-7.10.2-1.*');
    expect(text).toContain('Dry run');
    expect(text).not.toContain('change_approve');
    expect(slack.callsOf('chat.postMessage').length).toBe(postsBefore);
    expect(
      await bot.store.changes.findByBranch(
        'gitlab',
        'infra/ansible',
        'opsbot/versionlock/el7/filebeat-7.10.2-1',
      ),
    ).toBeNull();
    await expect
      .poll(async () => (await audit('versionlock')).some((a) => a.outcome === 'dry_run'))
      .toBe(true);
  });

  it('re-plans when the base branch moved between plan and approval: the root shows the new change with new buttons, a thread note says why, no MR until approved again', async () => {
    await slash('/versionlock', 'add metricbeat 7.10.2-1');
    const root = await rootWithButtons('metricbeat');
    const firstValue = buttonsOf(root)[0]?.value;
    await ansible.commitToBranch(
      'main',
      { [LOCKS]: `${INITIAL_LOCKS}0:auditbeat-7.9.0-1.*\n` },
      'colleague pins auditbeat',
    );
    await click(root, 'change_approve', BOB);
    const note = await slack.waitFor(() =>
      thread(root).find((m) => blockText(m).includes('base branch moved')),
    );
    expect(blockText(note)).toContain('approve it again');
    await slack.waitFor(
      () => buttonsOf(root).length === 2 && buttonsOf(root)[0]?.value !== firstValue && root,
    );
    expect(blockText(root)).toContain(' 0:auditbeat-7.9.0-1.*'); // context line of the new base
    expect(mrsFor('opsbot/versionlock/el7/metricbeat-7.10.2-1')).toHaveLength(0);
    expect(await ansible.revParse('opsbot/versionlock/el7/metricbeat-7.10.2-1')).toBeNull();
    await click(root, 'change_approve', BOB);
    const mr = await slack.waitFor(() => mrsFor('opsbot/versionlock/el7/metricbeat-7.10.2-1')[0], 10_000);
    expect(await ansible.readFile(mr.source_branch, LOCKS)).toBe(
      `${INITIAL_LOCKS}0:auditbeat-7.9.0-1.*\n0:metricbeat-7.10.2-1.*\n`,
    );
    await slack.waitFor(() => buttonsOf(root).length === 0 && blockText(root).includes('/merge_requests/'));
  });

  it('an approval from an outdated preview is refused once the change was re-planned', async () => {
    await slash('/versionlock', 'add heartbeat 7.10.2-1');
    const root = await rootWithButtons('heartbeat');
    const oldValue = buttonsOf(root)[0]?.value as string;
    const copy = { ...root, blocks: root.blocks ? [...root.blocks] : null };
    await ansible.commitToBranch(
      'main',
      { [LOCKS]: `# moved again\n${(await ansible.readFile('main', LOCKS)) ?? ''}` },
      'comment',
    );
    await click(root, 'change_approve', BOB);
    await slack.waitFor(() => buttonsOf(root).length === 2 && buttonsOf(root)[0]?.value !== oldValue);
    await click(copy, 'change_approve', CAROL, oldValue);
    const answer = await slack.waitFor(() => ephemeralTo(CAROL).find((t) => t.includes('out of date')));
    expect(answer).toContain('latest preview');
    expect(mrsFor('opsbot/versionlock/el7/heartbeat-7.10.2-1')).toHaveLength(0);
  });

  it('/versionlock list answers privately with the locks at the base branch', async () => {
    // Whatever earlier tests left on main (opened MRs are not merged), plus a lock a colleague adds now.
    const onMain = (await ansible.readFile('main', LOCKS)) ?? '';
    await ansible.commitToBranch(
      'main',
      { [LOCKS]: `${onMain}0:winlogbeat-7.9.3-1.*\n` },
      'colleague pins winlogbeat',
    );
    const { id } = await slash('/versionlock', 'list');
    const answer = await slack.waitFor(() => slack.responses.find((r) => r.id === id));
    const text = JSON.stringify(answer.body.blocks);
    expect(answer.body.response_type).toBe('ephemeral');
    expect(text).toContain('0:elasticsearch-7.10.1-1.*'); // main still has the old lock: no MR is merged
    expect(text).toContain('0:winlogbeat-7.9.3-1.*');
    expect(text).toContain(LOCKS);
  });

  it('refuses bad input with the rule it broke, in the ack, posting nothing in the channel', async () => {
    const postsBefore = slack.callsOf('chat.postMessage').length;
    const readsBefore = gitlab.requests.length;
    const { ack } = await slash('/versionlock', 'add "a b" 1');
    expect(ack?.text).toContain('package name "a b" is refused');
    expect(ack?.text).toContain('^[A-Za-z0-9][A-Za-z0-9._+-]*$');
    expect(ack?.text).toContain('/versionlock add &lt;package&gt;');
    const { id } = await slash('/versionlock', 'add zookeeper 3.4.14'); // yum without a release: locks nothing
    const answer = await slack.waitFor(() => slack.responses.find((r) => r.id === id));
    expect(String(answer.body.text)).toContain('yum versionlock needs the release');
    expect(slack.callsOf('chat.postMessage').length).toBe(postsBefore);
    expect(writes(gitlab.requests.slice(readsBefore))).toHaveLength(0);
  });

  it('answers "already locked" without opening anything, and points to the open MR when asked again', async () => {
    // An open MR of this test's own (a package no other test touches), its thread settled.
    await slash('/versionlock', 'apm-server 7.10.2-1');
    const root = await rootWithButtons('apm-server');
    await click(root, 'change_approve', BOB);
    const mr = await slack.waitFor(() => mrsFor('opsbot/versionlock/el7/apm-server-7.10.2-1')[0], 10_000);
    const mrUrl = `${gitlab.host}/infra/ansible/-/merge_requests/${mr.iid}`;
    await slack.waitFor(() =>
      thread(root).some((m) => m.text.includes(mrUrl) || blockText(m).includes(mrUrl)),
    );
    await slack.waitFor(() => root.updates >= 2 && buttonsOf(root).length === 0);
    const postsBefore = slack.callsOf('chat.postMessage').length;
    const { id } = await slash('/versionlock', 'nginx 1.20.1-1');
    const a = await slack.waitFor(() => slack.responses.find((r) => r.id === id));
    expect(String(a.body.text)).toContain('Nothing to do');
    const again = await slash('/versionlock', 'apm-server 7.10.2-1', BOB);
    const b = await slack.waitFor(() => slack.responses.find((r) => r.id === again.id));
    expect(String(b.body.text)).toContain('already open');
    expect(String(b.body.text)).toContain('/merge_requests/');
    expect(slack.callsOf('chat.postMessage').length).toBe(postsBefore);
  });

  it('/tf-import vm web-1 resolves the VM through Compute and opens a GitHub PR with the import and a resource block', async () => {
    await slash('/tf-import', 'vm web-1');
    const root = await rootWithButtons('tf-import');
    const shown = blockText(root);
    expect(shown).toContain('GitHub');
    expect(shown).toContain('terraform/prod/imports.tf');
    expect(shown).toContain('terraform/prod/imported.tf');
    await click(root, 'change_approve', BOB);
    const pr = await slack.waitFor(() => github.pulls[0], 10_000);
    const imports = await terraform.readFile(pr.head, 'terraform/prod/imports.tf');
    expect(imports).toContain('# imports\n');
    expect(imports).toContain('to = google_compute_instance.web-1');
    expect(imports).toContain('id = "projects/shop-prod/zones/europe-west1-b/instances/web-1"');
    const resource = await terraform.readFile(pr.head, 'terraform/prod/imported.tf');
    expect(resource).toContain('resource "google_compute_instance" "web-1" {');
    expect(resource).toMatch(/machine_type += "e2-standard-4"/);
    expect(resource).toContain('debian-12-bookworm');
    expect(pr.body).toContain(`https://fake.slack.com/archives/${CHANNEL}/p${root.ts.replace('.', '')}`);
    await slack.waitFor(() => thread(root).find((m) => blockText(m).includes(`/pull/${pr.number}`)));
    expect(github.pulls).toHaveLength(1);
  });

  it('a forge failure while applying is told in the thread with a correlation id, and Approve again finishes it', async () => {
    await slash('/versionlock', 'add journalbeat 7.10.2-1');
    const root = await rootWithButtons('journalbeat');
    gitlab.inject(
      { method: 'POST', path: /^\/projects\/infra%2Fansible\/merge_requests$/ },
      { kind: 'respond', status: 403, json: { message: '403 Forbidden' } },
      1,
    );
    await click(root, 'change_approve', BOB);
    const failure = await slack.waitFor(() => thread(root).find((m) => m.text.includes('Could not apply')));
    expect(failure.text).toMatch(/\(ref `[0-9a-f]{12}`\)/);
    expect(failure.text).not.toMatch(/\bat .*\.(ts|js):\d+/);
    expect(mrsFor('opsbot/versionlock/el7/journalbeat-7.10.2-1')).toHaveLength(0);
    await slack.waitFor(() => buttonsOf(root).length === 2 && blockText(root).includes('Could not apply')); // still actionable
    await expect
      .poll(async () => (await audit('versionlock')).some((a) => a.outcome === 'failed' && a.actor === BOB))
      .toBe(true);
    const commitsBefore = gitlab.requestsTo('POST', /\/repository\/commits$/).length;
    await click(root, 'change_approve', CAROL);
    const mr = await slack.waitFor(() => mrsFor('opsbot/versionlock/el7/journalbeat-7.10.2-1')[0], 10_000);
    expect(mr.description).toContain(`approved by @${CAROL.toLowerCase()}`);
    expect(gitlab.requestsTo('POST', /\/repository\/commits$/).length).toBe(commitsBefore); // branch reused
  });

  it('in a channel the bot cannot post to, asks to be invited and records nothing', async () => {
    slack.hideChannel('C0SECRET');
    const id = `r${++n}`;
    await postSigned(
      bot.port,
      slashBody({
        command: '/versionlock',
        text: 'add packetbeat 7.10.2-1',
        user_id: ALICE,
        channel_id: 'C0SECRET',
        response_url: slack.responseUrl(id),
      }),
    );
    const a = await slack.waitFor(() => slack.responses.find((r) => r.id === id));
    expect(String(a.body.text)).toContain('/invite @opsbot');
    expect(
      await bot.store.changes.findByBranch(
        'gitlab',
        'infra/ansible',
        'opsbot/versionlock/el7/packetbeat-7.10.2-1',
      ),
    ).toBeNull();
  });

  it('/tf-import of a name shared by several VMs lists them instead of guessing', async () => {
    for (const zone of ['europe-west1-b', 'europe-west1-c']) {
      gce.compute.addInstance('shop-prod', zone, {
        name: 'db-1',
        id: zone.endsWith('b') ? '11' : '12',
        status: 'RUNNING',
      });
    }
    const postsBefore = slack.callsOf('chat.postMessage').length;
    const { id } = await slash('/tf-import', 'vm db-1');
    const a = await slack.waitFor(() => slack.responses.find((r) => r.id === id));
    expect(String(a.body.text)).toContain('shop-prod/europe-west1-b/db-1');
    expect(String(a.body.text)).toContain('shop-prod/europe-west1-c/db-1');
    expect(slack.callsOf('chat.postMessage').length).toBe(postsBefore);
  });

  it('/tf-import <address> <id> --dry-run previews the escaped import block and stores nothing', async () => {
    const pullsBefore = github.pulls.length;
    const { id } = await slash(
      '/tf-import',
      'module.net.google_compute_network.prod projects/shop-prod/global/networks/prod --dry-run',
    );
    const a = await slack.waitFor(() => slack.responses.find((r) => r.id === id));
    const text = JSON.stringify(a.body.blocks);
    expect(text).toContain('+  to = module.net.google_compute_network.prod');
    expect(text).toContain('projects/shop-prod/global/networks/prod');
    expect(text).not.toContain('change_approve');
    expect(github.pulls).toHaveLength(pullsBefore); // no PR of its own (earlier tests' may exist)
  });

  it('/tf-import of an unknown VM says so and posts nothing', async () => {
    const postsBefore = slack.callsOf('chat.postMessage').length;
    const { id } = await slash('/tf-import', 'vm nope-1 --zone europe-west1-b');
    const a = await slack.waitFor(() => slack.responses.find((r) => r.id === id));
    expect(String(a.body.text)).toContain('No VM named nope-1');
    expect(slack.callsOf('chat.postMessage').length).toBe(postsBefore);
  });
});
