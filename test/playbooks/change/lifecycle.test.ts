import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { VersionlockTarget } from '../../../src/core/config.js';
import type { ForgePort, MergeRequestSource } from '../../../src/integrations/forge/port.js';
import type { AmendDeps } from '../../../src/playbooks/amend/amend.js';
import { buildAmendPlan } from '../../../src/playbooks/amend/change.js';
import { planChange, planDigest } from '../../../src/playbooks/change/flow.js';
import {
  type AuditStamp,
  type ChangeLifecycle,
  createChangeLifecycle,
  type FollowRequest,
} from '../../../src/playbooks/change/lifecycle.js';
import { replanStoredPlan } from '../../../src/playbooks/change/plan-requests.js';
import type { ChangePlan } from '../../../src/playbooks/change/types.js';
import { openStore } from '../../../src/store/open.js';
import type { ChangeRequest, Store } from '../../../src/store/types.js';
import { type ForgeHarness, startGitlabHarness } from '../../integrations/forge/harness.js';

const logger = pino({ level: 'silent' });
const target: VersionlockTarget = {
  name: 'el7',
  forge: 'gitlab',
  repo: 'infra/ansible',
  baseBranch: 'main',
  path: 'inventory/versionlock.list',
  format: 'yum',
  releases: {},
  arch: '*',
};
const access = {
  approvals: { versionlock: { users: ['U0BOB', 'U0CAROL'], groups: [], requireSecondPerson: true } },
  commandRules: {},
  isMember: async () => false,
};
const stamp: AuditStamp = (outcome, detail, c) => ({
  at: new Date(),
  actorId: 'U0BOB',
  source: 'slack',
  command: c.kind,
  args: 'approve',
  target: c.branch,
  outcome,
  detail,
  correlationId: 'c0ffee000001',
});

describe('the change lifecycle (GitLab fake, SQLite)', () => {
  let h: ForgeHarness;
  let store: Store;
  let dir: string;
  let forge: ForgePort;
  let followed: FollowRequest[];
  const lifecycles: ChangeLifecycle[] = [];

  const make = (replicaId: string, over: Partial<Parameters<typeof createChangeLifecycle>[0]> = {}) => {
    const lc = createChangeLifecycle({
      store,
      forgeFor: () => forge,
      replan: (plan) =>
        replanStoredPlan({ forgeFor: () => forge, versionlockTargets: [target], terraformTargets: [] }, plan),
      access,
      logger,
      replicaId,
      leaseMs: 600,
      retryBaseMs: 50,
      follow: async (f) => void followed.push(f),
      ...over,
    });
    lifecycles.push(lc);
    return lc;
  };

  beforeEach(async () => {
    h = await startGitlabHarness();
    dir = mkdtempSync(join(tmpdir(), 'opsbot-lifecycle-'));
    store = await openStore({ dataDir: dir });
    forge = h.forge({ maxRetries: 0 });
    followed = [];
  });
  afterEach(async () => {
    await Promise.all(lifecycles.splice(0).map((l) => l.stop()));
    await store.close();
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const plan = async (pkg: string): Promise<ChangePlan> => {
    const out = await planChange(
      { forgeFor: () => forge, targets: { versionlock: [target], terraform: [] }, ...access },
      { command: 'versionlock', target, request: { op: 'add', pkg, version: '7.10.2-1' } },
    );
    if (out.kind !== 'planned') throw new Error(out.kind);
    return out.plan;
  };

  /** Alice asks for `p` in a thread of C1 at `ts`: the recorded change. */
  const requestPlan = async (lc: ChangeLifecycle, p: ChangePlan, ts: string) => {
    const out = await lc.request({
      plan: p,
      requestedBy: 'U0ALICE',
      requestedByName: 'alice',
      thread: { channel: 'C1', ts },
      threadUrl: `https://x.slack.com/archives/C1/p${ts.replace('.', '')}`,
    });
    if (out.kind !== 'recorded') throw new Error(out.kind);
    return out.change;
  };

  const requested = async (lc: ChangeLifecycle, pkg: string, ts = '100.1') => {
    const p = await plan(pkg);
    return { plan: p, change: await requestPlan(lc, p, ts), digest: planDigest(p) };
  };

  const statusOf = async (id: string) => (await store.changes.get(id))?.status;
  const notesOf = async (id: string) => (await store.notes.list(id)).map((n) => n.kind);
  const approve = (lc: ChangeLifecycle, c: ChangeRequest, digest: string | null, userId = 'U0BOB') =>
    lc.approve({
      changeId: c.id,
      digest,
      userId,
      userName: userId.toLowerCase(),
      channelId: 'C1',
      audit: stamp,
    });

  it('approve records the approval with its audit row and queued note, applies, opens one MR and follows it', async () => {
    const lc = make('A');
    const { change, digest, plan: p } = await requested(lc, 'elasticsearch');
    const out = await approve(lc, change, digest);
    expect(out).toMatchObject({ kind: 'approved', retry: false });
    expect((await store.audit.list({ command: 'versionlock' })).map((a) => a.outcome)).toContain('approved');
    await expect.poll(() => statusOf(change.id), { timeout: 10_000 }).toBe('open');
    expect(await approve(lc, change, digest, 'U0CAROL')).toMatchObject({ kind: 'already' });
    expect(await h.repo.readFile(p.branch, target.path)).toBe(p.files[0]?.after);
    expect(h.requests('openMr')).toHaveLength(1);
    expect(await notesOf(change.id)).toEqual(['approved', 'opened']);
    const stored = await store.changes.get(change.id);
    expect(h.stored(stored?.mrNumber ?? 0)?.description).toContain('https://x.slack.com/archives/C1/p1001');
    expect(followed).toEqual([
      {
        ref: { forge: 'gitlab', repo: 'infra/ansible', number: stored?.mrNumber },
        url: stored?.mrUrl,
        channel: 'C1',
        threadTs: '100.1',
        changeId: change.id,
      },
    ]);
    await expect
      .poll(async () => (await store.audit.list({ command: 'versionlock' })).map((a) => a.outcome).sort())
      .toEqual(['approved', 'ok']);
  });

  it('refuses a click on an outdated preview, and the requester approving their own change', async () => {
    const lc = make('A');
    const { change, digest } = await requested(lc, 'kibana');
    expect((await approve(lc, change, '0123456789ab')).kind).toBe('stale');
    expect((await approve(lc, change, digest, 'U0ALICE')).kind).toBe('refused');
    expect(await statusOf(change.id)).toBe('planned');
    expect(await store.audit.list({})).toEqual([]); // refusals are audited by the request pipeline, batched
  });

  it('two approvals of changes to the same file at once: the second waits for the first, then is applied too', async () => {
    const lc = make('A');
    const other = make('B');
    const one = await requested(lc, 'logstash', '1.1');
    const two = await requested(lc, 'filebeat', '2.2');
    await Promise.all([approve(lc, one.change, one.digest), approve(other, two.change, two.digest)]);
    await expect.poll(() => statusOf(one.change.id), { timeout: 15_000 }).toBe('open');
    await expect.poll(() => statusOf(two.change.id), { timeout: 15_000 }).toBe('open');
    const waited = [...(await notesOf(one.change.id)), ...(await notesOf(two.change.id))];
    expect(waited.filter((k) => k === 'waiting').length).toBeLessThanOrEqual(1);
    expect(h.requests('openMr')).toHaveLength(2);
  });

  it('a change to two files waits for a change to one of them (one lease per file, not per set of files)', async () => {
    const lc = make('A');
    const other = make('B');
    // Two files, one of them the versionlock list (a /tf-import vm writes two files the same way).
    const p = await plan('packetbeat');
    const two: ChangePlan = {
      ...p,
      files: [
        ...p.files,
        { path: 'terraform/prod/imports.tf', before: '# imports\n', after: '# imports\n# x\n' },
      ],
    };
    const twoOut = await lc.request({
      plan: two,
      requestedBy: 'U0ALICE',
      requestedByName: 'alice',
      thread: { channel: 'C1', ts: '400.1' },
      threadUrl: null,
    });
    if (twoOut.kind !== 'recorded') throw new Error(twoOut.kind);
    const one = await requested(other, 'winlogbeat', '400.2');
    const held = h.hold?.('createBranch', 'before');
    if (!held) throw new Error('the GitLab harness holds requests');
    await approve(lc, twoOut.change, planDigest(two));
    await held.reached; // the two-file change holds its leases, its commit is on the wire
    await approve(other, one.change, one.digest);
    // The one-file change waits for the list's lease: it says so in its thread, and writes nothing meanwhile.
    await expect.poll(() => notesOf(one.change.id), { timeout: 10_000 }).toContain('waiting');
    expect(h.requests('createBranch')).toHaveLength(1);
    held.release();
    await expect.poll(() => statusOf(twoOut.change.id), { timeout: 15_000 }).toBe('open');
    await expect.poll(() => statusOf(one.change.id), { timeout: 15_000 }).toBe('open');
    expect(h.requests('createBranch')).toHaveLength(2);
  });

  it('a forge refusal fails the change with a reference; Approve again retries it and reuses the branch', async () => {
    const lc = make('A');
    const { change, digest } = await requested(lc, 'heartbeat');
    h.inject('openMr', { kind: 'respond', status: 403, json: { message: '403 Forbidden' } }, 1);
    await approve(lc, change, digest);
    await expect.poll(() => statusOf(change.id), { timeout: 10_000 }).toBe('failed');
    const failed = await store.changes.get(change.id);
    expect(failed?.errorRef).toMatch(/^[0-9a-f]{12}$/);
    expect(await notesOf(change.id)).toEqual(['approved', 'failed']);
    expect(await approve(lc, change, digest, 'U0CAROL')).toMatchObject({ kind: 'approved', retry: true });
    await expect.poll(() => statusOf(change.id), { timeout: 10_000 }).toBe('open');
    expect(h.requests('createBranch')).toHaveLength(1);
  });

  it('a planned file the forge says does not exist fails the change naming that file, not as a branch "created concurrently"', async () => {
    const lc = make('A');
    const p = await plan('packetbeat');
    // A plan that updates a file its start commit does not have (GitLab: 400 "A file with this name
    // doesn't exist"), as a stored plan of an older opsbot or a forge that lost the file could be.
    const stale: ChangePlan = {
      ...p,
      files: [{ path: 'inventory/gone.list', before: 'old\n', after: 'new\n' }],
    };
    const out = await lc.request({
      plan: stale,
      requestedBy: 'U0ALICE',
      requestedByName: 'alice',
      thread: { channel: 'C1', ts: '300.1' },
      threadUrl: null,
    });
    if (out.kind !== 'recorded') throw new Error(out.kind);
    await approve(lc, out.change, planDigest(stale));
    await expect.poll(() => statusOf(out.change.id), { timeout: 10_000 }).toBe('failed');
    const failed = await store.changes.get(out.change.id);
    expect(failed?.reason).toContain('inventory/gone.list does not exist');
    expect(failed?.reason).not.toContain('concurrently');
    expect(await h.repo.revParse(`refs/heads/${stale.branch}`)).toBeNull();
  });

  it('a retryable forge error is retried later by the resumer, without a click', async () => {
    const lc = make('A');
    const resumer = lc.startResumer({ intervalMs: 50 });
    const { change, digest } = await requested(lc, 'auditbeat');
    h.inject('openMr', { kind: 'respond', status: 503 }, 1);
    await approve(lc, change, digest);
    await expect.poll(() => statusOf(change.id), { timeout: 10_000 }).toBe('open');
    expect((await store.changes.get(change.id))?.attempts).toBe(1);
    await resumer.stop();
  });

  it('a change whose replica died (lease held, never renewed) is resumed by another replica once the lease expires', async () => {
    const dead = make('dead');
    const { change, digest } = await requested(dead, 'packetbeat');
    // The approval landed, then the replica died before its apply did anything.
    await store.transaction(async (tx) => {
      const { applyTransition } = await import('../../../src/playbooks/change/transitions.js');
      await applyTransition(tx, change.id, 'approve', { approvedBy: 'U0BOB' });
    });
    expect(await store.changes.claimLease(change.id, 'dead', 600)).not.toBeNull();
    void digest;
    const alive = make('alive');
    const t0 = Date.now();
    const resumer = alive.startResumer({ intervalMs: 50 });
    await expect.poll(() => statusOf(change.id), { timeout: 10_000 }).toBe('open');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(400); // not before the dead lease ran out
    await resumer.stop();
  });

  it('asking again: an unapproved request is superseded, a finished one frees the branch, a merged one gets the next branch', async () => {
    const lc = make('A');
    const first = await requested(lc, 'metricbeat', '1.1');
    const second = await requested(lc, 'metricbeat', '2.2');
    expect(second.change.id).not.toBe(first.change.id);
    expect(await store.changes.get(first.change.id)).toMatchObject({
      status: 'superseded',
      supersededBy: second.change.id,
    });
    expect((await approve(lc, first.change, first.digest)).kind).toBe('already');
    await approve(lc, second.change, second.digest);
    await expect.poll(() => statusOf(second.change.id), { timeout: 10_000 }).toBe('open');
    const p = await plan('metricbeat');
    const again = await lc.request({
      plan: p,
      requestedBy: 'U0DAVE',
      requestedByName: null,
      thread: { channel: 'C1', ts: '3.3' },
      threadUrl: null,
    });
    expect(again).toMatchObject({ kind: 'in-progress', change: { id: second.change.id } });
    const open = await store.changes.get(second.change.id);
    const merged = await lc.onForgeEvent({
      forge: 'gitlab',
      repo: 'infra/ansible',
      number: open?.mrNumber ?? 0,
      state: 'merged',
      url: open?.mrUrl ?? null,
      sourceBranch: open?.branch ?? null,
      headSha: null,
      actor: 'bob',
      at: new Date(Date.now() + 1000),
    });
    expect(merged).toMatchObject({ kind: 'updated', from: 'open', to: 'merged' });
    const third = await lc.request({
      plan: p,
      requestedBy: 'U0DAVE',
      requestedByName: null,
      thread: { channel: 'C1', ts: '4.4' },
      threadUrl: null,
    });
    expect(third.kind).toBe('recorded');
    expect(third.change.branch).toBe(`${p.branch}-2`);
    expect(await statusOf(second.change.id)).toBe('merged'); // history kept
  });

  it('forge events: merged and closed are final or reopenable, never moved backwards by late or duplicate events; unknown MRs are ignored', async () => {
    const lc = make('A');
    const { change, digest } = await requested(lc, 'journalbeat');
    await approve(lc, change, digest);
    await expect.poll(() => statusOf(change.id), { timeout: 10_000 }).toBe('open');
    const open = (await store.changes.get(change.id)) as ChangeRequest;
    const t = (open.mrStateAt as Date).getTime();
    const ev = (state: 'open' | 'merged' | 'closed', dt: number, number = open.mrNumber ?? 0) =>
      lc.onForgeEvent({
        forge: 'gitlab',
        repo: 'infra/ansible',
        number,
        state,
        url: open.mrUrl,
        sourceBranch: open.branch,
        headSha: null,
        actor: 'carol',
        at: new Date(t + dt),
      });
    expect(await ev('closed', 1000)).toMatchObject({ kind: 'updated', to: 'closed' });
    expect(await ev('closed', 1000)).toEqual({ kind: 'ignored', reason: 'unchanged' });
    expect(await ev('open', 500)).toEqual({ kind: 'ignored', reason: 'stale' }); // older than the close
    expect(await ev('open', 2000)).toMatchObject({ kind: 'updated', to: 'open' }); // reopened
    expect(followed.length).toBe(2); // opened, reopened
    expect(await ev('merged', 3000)).toMatchObject({ kind: 'updated', to: 'merged' });
    expect(await ev('closed', 4000)).toEqual({ kind: 'ignored', reason: 'unchanged' });
    expect(await ev('open', 5000)).toEqual({ kind: 'ignored', reason: 'unchanged' });
    expect(await store.changes.get(change.id)).toMatchObject({ status: 'merged', actor: 'carol' });
    expect(await ev('merged', 6000, 999)).toEqual({ kind: 'ignored', reason: 'unknown-mr' });
  });
  it('an /amend whose branch moved since its preview is superseded, not failed: no replica approves it again, and the same request made again links it', async () => {
    const expected = 'a'.repeat(40);
    const actual = 'b'.repeat(40);
    const mr: MergeRequestSource = {
      number: 7,
      url: 'https://gitlab.example/infra/ansible/-/merge_requests/7',
      title: 'More workers',
      state: 'open',
      sourceBranch: 'feat/x',
      targetBranch: 'main',
      headSha: actual,
      sourceRepo: 'infra/ansible',
      cloneUrl: 'https://gitlab.example/infra/ansible.git',
      fork: false,
      collaborationAllowed: true,
      branchProtected: false,
      author: 'carol',
    };
    let pushes = 0;
    const amendDeps: AmendDeps = {
      forge: {
        getMergeRequestSource: async () => mr,
        getGitCredential: async () => ({ username: 'oauth2', password: 'x' }),
      } as unknown as ForgePort,
      prepareBranchChange: async () => {
        pushes++;
        return {
          kind: 'head_moved',
          expected,
          actual,
          commits: [{ sha: actual, author: 'Dave <d@x>', subject: 'Dave was here', trailers: '' }],
        };
      },
      identity: { name: 'opsbot', email: 'opsbot@example.test' },
    };
    const amendAccess = {
      ...access,
      approvals: {
        ...access.approvals,
        amend: { users: ['U0BOB', 'U0CAROL'], groups: [], requireSecondPerson: true },
      },
    };
    const over = { amend: () => amendDeps, access: amendAccess };
    const a = make('A', over);
    const b = make('B', over); // another replica (or A after a restart): it knows only what the store says
    const patch = '--- a/app.conf\n+++ b/app.conf\n@@ -1 +1 @@\n-workers = 2\n+workers = 4\n';
    const amendPlan = buildAmendPlan(
      { ref: { forge: 'gitlab', repo: 'infra/ansible', number: 7 }, patch, mode: 'add', message: null },
      {
        kind: 'preview',
        target: {
          label: 'infra/ansible!7',
          url: mr.url,
          title: mr.title,
          sourceRepo: mr.sourceRepo,
          branch: mr.sourceBranch,
          fork: false,
          author: 'carol',
        },
        headSha: expected,
        mode: 'add',
        diff: patch,
        files: ['app.conf'],
      },
      null,
    );
    const ask = (lc: ChangeLifecycle, ts: string) => requestPlan(lc, amendPlan, ts);
    const first = await ask(a, '500.1');
    const digest = planDigest(amendPlan);
    expect(await approve(a, first, digest)).toMatchObject({ kind: 'approved' });
    await expect.poll(() => statusOf(first.id), { timeout: 10_000 }).toBe('superseded');
    expect(await store.changes.get(first.id)).toMatchObject({
      supersededBy: null,
      reason: expect.stringContaining('feat/x moved since the preview'),
    });
    expect(await notesOf(first.id)).toEqual(['approved', 'amend_head_moved']);
    // Approve again, on either replica: out of date, nothing tried again.
    for (const lc of [a, b]) {
      expect(await approve(lc, first, digest, 'U0CAROL')).toMatchObject({
        kind: 'already',
        change: { status: 'superseded' },
      });
    }
    expect(pushes).toBe(1);
    expect(await statusOf(first.id)).toBe('superseded');
    // "Preview again" asks for the same change anew: a new change to approve, which the old one points at.
    const second = await ask(b, '500.2');
    expect(second.status).toBe('planned');
    expect(await store.changes.get(first.id)).toMatchObject({
      status: 'superseded',
      supersededBy: second.id,
    });
  });
});
