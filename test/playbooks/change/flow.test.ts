import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type {
  AccessRule,
  ApprovalRule,
  TerraformTarget,
  VersionlockTarget,
} from '../../../src/core/config.js';
import { describeApprovers, describeRefusal } from '../../../src/handlers/change-approvers.js';
import type { ForgePort } from '../../../src/integrations/forge/port.js';
import {
  buildChangeButtonValue,
  type ChangeFlowDeps,
  decideApproval,
  decideCancel,
  listApprovers,
  listLocks,
  parseChangeButtonValue,
  planChange,
  planDigest,
  selectTarget,
} from '../../../src/playbooks/change/flow.js';
import type { ChangePlan } from '../../../src/playbooks/change/types.js';
import { openStore } from '../../../src/store/open.js';
import type { ChangeRequest, Store } from '../../../src/store/types.js';
import {
  type ForgeHarness,
  startGithubHarness,
  startGitlabHarness,
} from '../../integrations/forge/harness.js';

const el7 = (over: Partial<VersionlockTarget> = {}): VersionlockTarget => ({
  name: 'el7',
  forge: 'gitlab',
  repo: 'infra/ansible',
  baseBranch: 'main',
  path: 'inventory/versionlock.list',
  format: 'yum',
  releases: {},
  arch: '*',
  ...over,
});

const change = (over: Partial<ChangeRequest> = {}): ChangeRequest => ({
  id: '00000000-0000-4000-8000-000000000001',
  kind: 'versionlock',
  target: 'el7',
  forge: 'gitlab',
  project: 'infra/ansible',
  baseBranch: 'main',
  branch: 'opsbot/x',
  requestedByName: null,
  approvedByName: null,
  baseSha: null,
  headSha: null,
  mrNumber: null,
  mrUrl: null,
  requestedBy: 'U0ALICE',
  approvedBy: null,
  status: 'planned',
  plan: '{}',
  slackChannel: 'C1',
  slackThreadTs: '1.1',
  slackStatusTs: null,
  reason: null,
  actor: null,
  errorRef: null,
  supersededBy: null,
  threadUrl: null,
  mrStateAt: null,
  attempts: 0,
  nextAttemptAt: null,
  rev: 1,
  slackRev: 0,
  slackAttempts: 0,
  createdAt: new Date(),
  updatedAt: new Date(),
  ...over,
});

const rules = (
  approvals: Partial<Record<'versionlock' | 'tf-import', ApprovalRule>>,
  commands: Partial<Record<'versionlock' | 'tf-import', AccessRule>> = {},
  groups: Record<string, string[]> = {},
) => ({
  approvals,
  commandRules: commands,
  isMember: async (g: string, u: string) => (groups[g] ?? []).includes(u),
});

describe('target selection', () => {
  const a = el7({ name: 'a' });
  const b = el7({ name: 'b' });
  it('uses the only target by default, needs --target with several, and lists them on a wrong name', () => {
    expect(selectTarget('versionlock', [a], null)).toEqual({ kind: 'found', target: a });
    expect(selectTarget('versionlock', [a, b], null)).toMatchObject({ kind: 'choose', names: ['a', 'b'] });
    expect(selectTarget('versionlock', [a, b], 'b')).toEqual({ kind: 'found', target: b });
    const wrong = selectTarget('versionlock', [a, b], 'c');
    expect(wrong.kind).toBe('choose');
    if (wrong.kind === 'choose') expect(wrong.message).toContain('a, b');
    expect(selectTarget('tf-import', [] as TerraformTarget[], null).kind).toBe('none-configured');
  });
});

describe('who may approve and cancel', () => {
  it('by default the requester cannot approve; anyone else allowed to run the command can', async () => {
    const d = rules({});
    expect(await decideApproval(d, change(), 'U0ALICE', 'C1')).toMatchObject({
      allowed: false,
      reason: 'self',
    });
    expect(await decideApproval(d, change(), 'U0BOB', 'C1')).toEqual({ allowed: true });
  });

  it('listed users and members of listed groups may approve; others are told who may', async () => {
    const d = rules(
      { versionlock: { users: ['U0BOB'], groups: ['S0SRE'], requireSecondPerson: true } },
      {},
      {
        S0SRE: ['U0CAROL'],
      },
    );
    expect(await decideApproval(d, change(), 'U0BOB', 'C1')).toEqual({ allowed: true });
    expect(await decideApproval(d, change(), 'U0CAROL', 'C1')).toEqual({ allowed: true });
    const dave = await decideApproval(d, change(), 'U0DAVE', 'C1');
    // The decision is data (who may approve); the Slack handler renders it with mentions.
    expect(dave).toMatchObject({
      allowed: false,
      reason: 'not-approver',
      approvers: { users: ['U0BOB'], groups: ['S0SRE'], anyone: false, secondPerson: true },
    });
    expect(JSON.stringify(dave)).not.toMatch(/<[@!#]/);
    if (!dave.allowed)
      expect(describeRefusal(dave)).toBe(
        'Only <!subteam^S0SRE> or <@U0BOB>, other than the requester can approve /versionlock changes.',
      );
    // A listed approver who asked for the change still needs a second person.
    expect(await decideApproval(d, change({ requestedBy: 'U0BOB' }), 'U0BOB', 'C1')).toMatchObject({
      reason: 'self',
    });
  });

  it('requireSecondPerson: false lets an approver approve their own change', async () => {
    const d = rules({ versionlock: { users: ['U0ALICE'], groups: [], requireSecondPerson: false } });
    expect(await decideApproval(d, change(), 'U0ALICE', 'C1')).toEqual({ allowed: true });
  });

  it('an empty approver list falls back to the command rule, channel included', async () => {
    const d = rules(
      { versionlock: { users: [], groups: [], requireSecondPerson: true } },
      { versionlock: { users: ['U0BOB'], groups: [], channels: ['C1'] } },
    );
    expect(await decideApproval(d, change(), 'U0BOB', 'C1')).toEqual({ allowed: true });
    expect(await decideApproval(d, change(), 'U0BOB', 'C2')).toMatchObject({
      allowed: false,
      reason: 'channel',
    });
    expect(await decideApproval(d, change(), 'U0DAVE', 'C1')).toMatchObject({ allowed: false });
    expect(describeApprovers(listApprovers(d, 'versionlock'))).toBe('<@U0BOB>, other than the requester');
    const elsewhere = await decideApproval(d, change(), 'U0BOB', 'C2');
    if (!elsewhere.allowed)
      expect(describeRefusal(elsewhere)).toBe(
        '/versionlock is limited to <@U0BOB> in <#C1>. Approving its changes is too.',
      );
    expect(describeApprovers(listApprovers(rules({}), 'versionlock'))).toBe(
      'anyone who may run /versionlock, other than the requester',
    );
  });

  it('the requester or an approver may cancel; a bystander may not', async () => {
    const d = rules({ versionlock: { users: ['U0BOB'], groups: [], requireSecondPerson: true } });
    expect(await decideCancel(d, change(), 'U0ALICE', 'C1')).toEqual({ allowed: true });
    expect(await decideCancel(d, change(), 'U0BOB', 'C1')).toEqual({ allowed: true });
    const dave = await decideCancel(d, change(), 'U0DAVE', 'C1');
    expect(dave.allowed).toBe(false);
    if (!dave.allowed)
      expect(describeRefusal(dave)).toBe('Only the requester <@U0ALICE> or <@U0BOB> can cancel this change.');
    const self = await decideApproval(d, change(), 'U0ALICE', 'C1');
    if (!self.allowed)
      expect(describeRefusal(self)).toBe(
        'You requested this change: someone else must approve it (<@U0BOB>, other than the requester).',
      );
  });
});

describe('button values', () => {
  it('carry the change id and the plan digest, and refuse anything else', () => {
    const plan = { baseSha: 'a'.repeat(40), diff: '+x\n' } as ChangePlan;
    const v = buildChangeButtonValue('0b4c1e6a-95b8-4c1e-9d0b-2b0c0f0e0a01', plan);
    expect(v.length).toBeLessThan(2000);
    expect(parseChangeButtonValue(v)).toEqual({
      changeId: '0b4c1e6a-95b8-4c1e-9d0b-2b0c0f0e0a01',
      digest: planDigest(plan),
    });
    expect(planDigest({ ...plan, diff: '+y\n' })).not.toBe(planDigest(plan));
    expect(parseChangeButtonValue('"; drop table')).toBeNull();
  });
});

describe.each([
  ['gitlab', startGitlabHarness],
  ['github', startGithubHarness],
] as const)('the flow on %s', (kind, startHarness) => {
  let h: ForgeHarness;
  let store: Store;
  let dir: string;
  let forge: ForgePort;
  let deps: ChangeFlowDeps;

  beforeEach(async () => {
    h = await startHarness();
    dir = mkdtempSync(join(tmpdir(), 'opsbot-flow-'));
    store = await openStore({ dataDir: dir });
    forge = h.forge();
    deps = {
      forgeFor: () => forge,
      targets: { versionlock: [el7({ forge: kind })], terraform: [] },
      ...rules({ versionlock: { users: ['U0BOB', 'U0CAROL'], groups: [], requireSecondPerson: true } }),
    };
  });
  afterEach(async () => {
    await store.close();
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists the locks of the target file at the base head', async () => {
    const list = await listLocks(deps, deps.targets.versionlock[0] as VersionlockTarget);
    expect(list.exists).toBe(true);
    expect(list.entries.map((e) => e.text)).toEqual(['0:elasticsearch-7.10.1-1.*']);
    expect(list.ref).toBe(await h.repo.revParse('main'));
  });

  it('refuses input the editor refuses, with the rule, before any write', async () => {
    await expect(
      planChange(deps, {
        command: 'versionlock',
        target: deps.targets.versionlock[0] as VersionlockTarget,
        request: { op: 'add', pkg: 'zookeeper', version: '3.4.14' },
      }),
    ).rejects.toThrow(/yum versionlock needs the release/);
    expect(h.allRequests().filter((r) => r.method !== 'GET')).toHaveLength(0);
  });
});
