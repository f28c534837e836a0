import { describe, expect, it } from 'vitest';
import { CONVERGE_MS, twoReplicas } from './replicas-fixture.js';

/**
 * Two real `opsbot serve` processes (HTTP mode) on one PostgreSQL schema, the fake Slack and the fake GitLab
 * in this process (replicas-fixture.ts). A replica is killed with SIGKILL at chosen moments of an apply (the
 * fake GitLab holds the request there), two approvals race for one file: every change must converge (one MR,
 * linked in its thread, root buttons gone, status open) within the lease, with no thread note posted twice.
 * Slack failing while a change is applied is change-replicas-slack.test.ts, a file of its own so that its
 * 31 s Retry-After overlaps with these tests instead of following them.
 */

const DATABASE_URL = process.env.DATABASE_URL;

describe.skipIf(!DATABASE_URL)('two opsbot replicas on PostgreSQL, killed at chosen moments', () => {
  const f = twoReplicas(DATABASE_URL as string);

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
      const pkg = f.nextPackage();
      const rootMsg = await f.request(f.replica('A'), pkg);
      const change = await f.changeOf(rootMsg);
      const hold = f.gitlab.hold(matcher(change.branch), when);
      await f.approve(f.replica('A'), rootMsg);
      await hold.reached;
      await f.kill(f.replica('A'));
      hold.release();
      const killedAt = Date.now();
      await f.expectConverged(rootMsg, change.id, change.branch);
      expect(Date.now() - killedAt).toBeLessThan(CONVERGE_MS);
      await f.start('A');
    }, 90_000);
  }

  it('kill -9 after the MR was created but before it was recorded: a restarted replica links that MR', async () => {
    await f.stop(f.replica('B')); // only A runs: the one killed is the one that finishes, after a restart
    const pkg = f.nextPackage();
    const rootMsg = await f.request(f.replica('A'), pkg);
    const change = await f.changeOf(rootMsg);
    const hold = f.gitlab.hold({ method: 'POST', path: new RegExp(`^${P}/merge_requests$`) }, 'after');
    await f.approve(f.replica('A'), rootMsg);
    await hold.reached;
    await f.kill(f.replica('A'));
    hold.release();
    expect(f.gitlab.mergeRequests.filter((m) => m.source_branch === change.branch)).toHaveLength(1);
    await f.start('A');
    await f.expectConverged(rootMsg, change.id, change.branch);
    await f.start('B');
  }, 90_000);

  it('a kill 10 ms after the Approve click never leaves an approval without its audit row', async () => {
    for (const delayMs of [5, 10, 20]) {
      const pkg = f.nextPackage();
      const rootMsg = await f.request(f.replica('A'), pkg);
      const change = await f.changeOf(rootMsg);
      await f.approve(f.replica('A'), rootMsg);
      await new Promise((r) => setTimeout(r, delayMs)); // the moment under test, not a wait for state
      await f.kill(f.replica('A'));
      const now = await f.store.changes.get(change.id);
      const approvals = (await f.store.audit.list({ command: 'versionlock', limit: 1000 })).filter(
        (a) => a.outcome === 'approved' && a.target === `infra/ansible@${change.branch}`,
      );
      expect(approvals).toHaveLength(now?.status === 'planned' ? 0 : 1);
      await f.start('A');
      if (now?.status !== 'planned') await f.expectConverged(rootMsg, change.id, change.branch);
    }
  }, 120_000);

  it('two approvals of changes to the same file at the same moment both end applied, no "busy"', async () => {
    const [x, y] = [f.nextPackage(), f.nextPackage()];
    const rootX = await f.request(f.replica('A'), x);
    const rootY = await f.request(f.replica('B'), y);
    const [cx, cy] = [await f.changeOf(rootX), await f.changeOf(rootY)];
    await Promise.all([f.approve(f.replica('A'), rootX), f.approve(f.replica('B'), rootY)]);
    await f.expectConverged(rootX, cx.id, cx.branch);
    await f.expectConverged(rootY, cy.id, cy.branch);
    const said = [...f.thread(rootX), ...f.thread(rootY)].map((m) => m.text).join('\n');
    const privately = f.slack
      .callsOf('chat.postEphemeral')
      .map((c) => String(c.args.text))
      .join('\n');
    expect(`${said}\n${privately}`).not.toMatch(/busy|click Approve again|try again in a minute/i);
  }, 90_000);
});
