import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ForgePort } from '../../../src/integrations/forge/port.js';
import {
  applyChange,
  approveChange,
  cancelChange,
  recordPlan,
} from '../../../src/playbooks/change/runner.js';
import type { ChangePlan, PlanOutcome, Replanner } from '../../../src/playbooks/change/types.js';
import { unifiedDiff } from '../../../src/playbooks/diff.js';
import { openStore } from '../../../src/store/open.js';
import type { Store } from '../../../src/store/types.js';
import {
  type ForgeHarness,
  startGithubHarness,
  startGitlabHarness,
} from '../../integrations/forge/harness.js';

const FILE = 'inventory/versionlock.list';
const LINE = '0:nginx-1.20.1-1.el7.*';
const logger = pino({ level: 'silent' });

/** A tiny planner for the tests: append LINE to FILE at the base head, unless it is already there. */
const planAppend = async (forge: ForgePort, repo: string): Promise<PlanOutcome> => {
  const baseSha = await forge.getBranchHead(repo, 'main');
  if (!baseSha) return { kind: 'refused', reason: 'no base' };
  const before = (await forge.getFile(repo, FILE, baseSha))?.content ?? null;
  if (before?.split('\n').includes(LINE)) return { kind: 'nothing-to-do', reason: `already locked: ${LINE}` };
  const after = `${before ?? ''}${LINE}\n`;
  const plan: ChangePlan = {
    kind: 'versionlock',
    target: 'el7',
    forge: forge.kind,
    repo,
    baseBranch: 'main',
    baseSha,
    branch: 'opsbot/versionlock-nginx-1.20.1',
    title: 'versionlock: nginx 1.20.1',
    commitMessage: 'versionlock: lock nginx to 1.20.1-1.el7',
    summary: 'Lock nginx to 1.20.1-1.el7 on el7 hosts',
    files: [{ path: FILE, before, after }],
    diff: unifiedDiff(FILE, before, after),
    labels: ['opsbot', 'versionlock'],
    request: { op: 'add', pkg: 'nginx', version: '1.20.1-1.el7' },
  };
  return { kind: 'planned', plan };
};

describe.each([
  ['gitlab', startGitlabHarness],
  ['github', startGithubHarness],
] as const)('change runner on %s', (_kind, startHarness) => {
  let h: ForgeHarness;
  let store: Store;
  let dir: string;
  let forge: ForgePort;
  let replan: Replanner;
  const deps = () => ({ store, forgeFor: () => forge, now: () => new Date(), logger });

  beforeEach(async () => {
    h = await startHarness();
    dir = mkdtempSync(join(tmpdir(), 'opsbot-runner-'));
    store = await openStore({ dataDir: dir });
    forge = h.forge();
    replan = () => planAppend(forge, h.repoName);
  });
  afterEach(async () => {
    await store.close();
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const planned = async () => {
    const outcome = await planAppend(forge, h.repoName);
    if (outcome.kind !== 'planned') throw new Error(outcome.kind);
    const rec = await recordPlan({ store }, outcome.plan, 'U_ALICE', { channel: 'C1', ts: '1.2' });
    if (rec.kind !== 'recorded') throw new Error(rec.kind);
    return { plan: outcome.plan, change: rec.change };
  };

  it('opens one MR whose branch holds exactly the planned file, and records it', async () => {
    const { plan, change } = await planned();
    expect((await approveChange(store, change.id, 'U_BOB')).kind).toBe('approved');
    const out = await applyChange(deps(), change.id, replan, {
      threadUrl: 'https://slack.example/archives/C1/p12',
    });
    expect(out.kind).toBe('opened');
    expect(await h.repo.readFile(plan.branch, FILE)).toBe(plan.files[0]?.after);
    expect(await h.repo.readFile('main', FILE)).toBe(plan.files[0]?.before); // base untouched
    const stored = await store.changes.get(change.id);
    expect(stored).toMatchObject({ status: 'open', approvedBy: 'U_BOB' });
    expect(stored?.mrUrl).toBeTruthy();
    if (out.kind === 'opened') {
      const mr = h.stored(out.mrNumber);
      expect(mr?.labels).toEqual(expect.arrayContaining(['opsbot', 'versionlock']));
      expect(mr?.description).toContain('https://slack.example/archives/C1/p12');
      expect(mr?.description).toContain(`+${LINE}`);
    }
  });

  it('a double-clicked Approve applies once: one approval wins, one MR exists', async () => {
    const { change } = await planned();
    const clicks = await Promise.all([
      approveChange(store, change.id, 'U_BOB'),
      approveChange(store, change.id, 'U_CAROL'),
    ]);
    expect(clicks.filter((c) => c.kind === 'approved')).toHaveLength(1);
    const applies = await Promise.all([
      applyChange(deps(), change.id, replan),
      applyChange(deps(), change.id, replan),
    ]);
    expect(applies.map((a) => a.kind).sort()).toEqual(expect.arrayContaining(['opened']));
    const again = await applyChange(deps(), change.id, replan);
    expect(again.kind).toBe('already-open');
    expect(h.requests('openMr')).toHaveLength(1);
  });

  it('after a crash between branch and MR, a retry reuses the branch and opens the MR once', async () => {
    const { plan, change } = await planned();
    await approveChange(store, change.id, 'U_BOB');
    h.inject('openMr', { kind: 'respond', status: 500 }, 1);
    forge = h.forge({ maxRetries: 0 }); // the first attempt dies at the MR step
    await expect(applyChange(deps(), change.id, replan)).rejects.toThrow();
    expect((await store.changes.get(change.id))?.status).toBe('failed');
    const headAfterCrash = await h.repo.revParse(plan.branch);
    expect(headAfterCrash).not.toBeNull();
    forge = h.forge();
    const retried = await applyChange(deps(), change.id, replan);
    expect(retried).toMatchObject({ kind: 'opened', reused: false, headSha: headAfterCrash });
    expect(h.requests('createBranch').length).toBeGreaterThanOrEqual(1);
    expect(await h.repo.revParse(plan.branch)).toBe(headAfterCrash); // no second commit
  });

  it('re-plans instead of applying blindly when the file changed on the base since the plan', async () => {
    const { change } = await planned();
    await approveChange(store, change.id, 'U_BOB');
    await h.repo.commitToBranch(
      'main',
      { [FILE]: '# managed by opsbot\n0:elasticsearch-7.10.2-1.*\n' },
      'colleague bump',
    );
    const out = await applyChange(deps(), change.id, replan);
    expect(out.kind).toBe('replanned');
    if (out.kind === 'replanned') expect(out.plan.diff).toContain('elasticsearch-7.10.2');
    expect(await store.changes.get(change.id)).toMatchObject({ status: 'planned', approvedBy: null });
    expect(await h.repo.listBranches()).toEqual(['main']); // nothing written
  });

  it('applies on the newer base when the base moved but the planned file did not change', async () => {
    const { plan, change } = await planned();
    await approveChange(store, change.id, 'U_BOB');
    const newBase = await h.repo.commitToBranch('main', { 'README.md': '# infra, moved\n' }, 'unrelated');
    const out = await applyChange(deps(), change.id, replan);
    expect(out.kind).toBe('opened');
    expect(await h.repo.readFile(plan.branch, 'README.md')).toBe('# infra, moved\n');
    expect((await h.repo.commitInfo((await h.repo.revParse(plan.branch)) as string))?.parents).toEqual([
      newBase,
    ]);
  });

  it("never overwrites a branch of the same name that carries someone else's commits", async () => {
    const { plan, change } = await planned();
    await approveChange(store, change.id, 'U_BOB');
    const theirs = await h.repo.commitToBranch(plan.branch, { [FILE]: 'their content\n' }, 'someone else');
    const out = await applyChange(deps(), change.id, replan);
    expect(out.kind).toBe('branch-taken');
    expect(await h.repo.revParse(plan.branch)).toBe(theirs);
    expect(h.requests('openMr')).toHaveLength(0);
  });

  it('asking for the same change while its MR is open reports the open one instead of planning again', async () => {
    const { plan, change } = await planned();
    await approveChange(store, change.id, 'U_BOB');
    await applyChange(deps(), change.id, replan);
    const again = await recordPlan({ store }, plan, 'U_DAVE', null);
    expect(again.kind).toBe('already-open');
    expect(again.change.mrUrl).toBeTruthy();
  });

  it('a cancelled change cannot be approved or applied', async () => {
    const { change } = await planned();
    expect(await cancelChange(store, change.id)).toBe(true);
    expect((await approveChange(store, change.id, 'U_BOB')).kind).toBe('not-approvable');
    expect((await applyChange(deps(), change.id, replan)).kind).toBe('not-approvable');
    expect(h.requests('createBranch')).toHaveLength(0);
  });
});
