import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import { pino } from 'pino';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../../src/core/errors.js';
import { STORE_USER_MESSAGE } from '../../src/store/errors.js';
import { openStore } from '../../src/store/open.js';
import type { AuditRecord, NewChangeRequest, Store } from '../../src/store/types.js';
import { engines, manualClock, type StoreTarget } from './harness.js';

const here = path.dirname(fileURLToPath(import.meta.url));

const change = (over: Partial<NewChangeRequest> = {}): NewChangeRequest => ({
  id: randomUUID(),
  kind: 'versionlock',
  target: 'es-prod',
  forge: 'gitlab',
  project: 'infra/ansible',
  baseBranch: 'main',
  branch: `opsbot/versionlock-${randomUUID().slice(0, 8)}`,
  baseSha: 'a'.repeat(40),
  headSha: null,
  mrNumber: null,
  mrUrl: null,
  requestedBy: 'U012AB3CD',
  requestedByName: 'alice',
  approvedByName: null,
  approvedBy: null,
  status: 'planned',
  plan: JSON.stringify({ files: [{ path: 'group_vars/es.yml', sha256: 'ab12' }] }),
  slackChannel: 'C0123',
  slackThreadTs: '1714771912.000100',
  slackStatusTs: null,
  ...over,
});

/** What a new change request holds besides what it was created with. */
const NEW_CHANGE_DEFAULTS = {
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
  requestedByName: 'alice',
  approvedByName: null,
};

const audit = (over: Partial<AuditRecord> = {}): AuditRecord => ({
  at: new Date('2024-05-03T23:31:52.123Z'),
  actorId: 'U012AB3CD',
  actorName: 'alice',
  source: 'slack',
  command: 'why-reboot',
  args: 'es-data-3',
  channelId: 'C0123',
  target: 'es-data-3',
  outcome: 'ok',
  detail: null,
  correlationId: randomUUID(),
  durationMs: 1234,
  ...over,
});

const expectStoreConflict = async (p: Promise<unknown>) => {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  expect((err as AppError).code).toBe('conflict');
};

describe.each(engines())('store contract on $engine', ({ create, migrated, release }) => {
  let target: StoreTarget;

  afterEach(async () => {
    await target.dispose();
  });
  afterAll(async () => {
    await release();
  });

  describe('on a database of its own, not yet opened', () => {
    beforeEach(async () => {
      target = await create();
    });

    it('migrates a fresh database, and reopening it keeps the data and migrates nothing twice', async () => {
      const first = await target.open();
      expect(first.engine).toBe(target.engine);
      await first.ping();
      const c = await first.changes.create(change());
      await first.audit.record(audit({ id: 'audit-1' }));
      await first.close();
      await first.close(); // idempotent

      const second = await target.open();
      const third = await target.open();
      expect((await third.changes.get(c.id))?.branch).toBe(c.branch);
      expect((await second.audit.list()).map((a) => a.id)).toEqual(['audit-1']);
    });

    it('lets several stores open a fresh database at the same moment', async () => {
      const stores = await Promise.all([target.open(), target.open(), target.open()]);
      await Promise.all(stores.map((s) => s.ping()));
      await stores[0]?.audit.record(audit());
      expect(await stores[2]?.audit.list()).toHaveLength(1);
    });

    it('three opsbot processes on one fresh database: all migrate, one approval each, 300 audit rows', async () => {
      const spawnWriter = (writer: string) =>
        spawn(
          process.execPath,
          [
            path.join(here, 'concurrent-writer.ts'),
            JSON.stringify({ ...target.openOptions, writer, rows: 100 }),
          ],
          { stdio: ['pipe', 'pipe', 'pipe'] },
        );
      const messages = (child: ChildProcessWithoutNullStreams) => {
        const rl = createInterface({ input: child.stdout });
        const queue: unknown[] = [];
        const waiters: ((v: unknown) => void)[] = [];
        rl.on('line', (line) => {
          const msg = JSON.parse(line) as unknown;
          const w = waiters.shift();
          if (w) w(msg);
          else queue.push(msg);
        });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
        });
        return {
          next: () =>
            queue.length > 0
              ? Promise.resolve(queue.shift())
              : new Promise<unknown>((resolve, reject) => {
                  waiters.push(resolve);
                  child.once('exit', (code) => reject(new Error(`writer exited ${code}: ${stderr}`)));
                }),
        };
      };
      const children = [spawnWriter('A'), spawnWriter('B'), spawnWriter('C')];
      try {
        const inboxes = children.map(messages);
        expect(await Promise.all(inboxes.map((m) => m.next()))).toEqual(
          children.map(() => ({ started: true })),
        );
        for (const c of children) c.stdin.write('open\n');
        expect(await Promise.all(inboxes.map((m) => m.next()))).toEqual(
          children.map(() => ({ ready: true })),
        );

        const store = await target.open();
        const changes = await Promise.all(Array.from({ length: 30 }, () => store.changes.create(change())));
        const go = `${JSON.stringify({ ids: changes.map((c) => c.id) })}\n`;
        for (const c of children) c.stdin.write(go);
        const reports = (await Promise.all(inboxes.map((m) => m.next()))) as {
          wins: string[];
          errors: string[];
        }[];

        expect(reports.flatMap((r) => r.errors)).toEqual([]);
        const wins = reports.flatMap((r) => r.wins);
        expect(wins.sort()).toEqual(changes.map((c) => c.id).sort());
        for (const c of changes) expect((await store.changes.get(c.id))?.status).toBe('approved');
        expect(await store.audit.list({ command: 'concurrency', limit: 1000 })).toHaveLength(300);
      } finally {
        for (const c of children) c.kill();
      }
    }, 60_000);
  });

  describe('on a migrated database emptied for the test', () => {
    beforeEach(async () => {
      target = await migrated();
    });

    it('remembers VMs by project, zone and name: the newest sighting wins, a name in two zones gives both', async () => {
      const store = await target.open();
      const seen = (id: string, zone: string, at: string) => ({
        project: 'p1',
        zone,
        name: 'web-1',
        id,
        creationTimestamp: '2026-11-01T00:00:00.000-07:00',
        seenAt: new Date(at),
      });
      expect(await store.instances.find({ project: 'p1', zone: null, name: 'web-1' })).toEqual([]);
      await store.instances.remember([seen('111', 'europe-west1-b', '2026-12-01T10:00:00Z')]);
      // Recreated: a newer sighting replaces the id; an older one arriving late (a slow writer) changes nothing.
      await store.instances.remember([seen('222', 'europe-west1-b', '2026-12-01T11:00:00Z')]);
      await store.instances.remember([seen('111', 'europe-west1-b', '2026-12-01T09:00:00Z')]);
      expect(await store.instances.find({ project: 'p1', zone: 'europe-west1-b', name: 'web-1' })).toEqual([
        seen('222', 'europe-west1-b', '2026-12-01T11:00:00Z'),
      ]);
      // One batch (the fleet listing) with the same key twice, and another zone.
      await store.instances.remember([
        seen('333', 'us-central1-a', '2026-12-01T12:00:00Z'),
        seen('334', 'us-central1-a', '2026-12-01T12:30:00Z'),
      ]);
      expect(
        (await store.instances.find({ project: 'p1', zone: null, name: 'web-1' })).map((k) => [k.zone, k.id]),
      ).toEqual([
        ['us-central1-a', '334'],
        ['europe-west1-b', '222'],
      ]);
      expect(await store.instances.find({ project: 'p2', zone: null, name: 'web-1' })).toEqual([]);
      expect(await store.instances.find({ project: 'p1', zone: null, name: 'web-10' })).toEqual([]);
    });

    it('lists audit entries newest first, filtered by command and actor, limited', async () => {
      const store = await target.open();
      const base = Date.parse('2024-05-03T10:00:00.000Z');
      const rows: [string, string, number][] = [
        ['why-reboot', 'U1', 3],
        ['versionlock', 'U1', 1],
        ['why-reboot', 'U2', 5],
        ['why-reboot', 'U1', 2],
        ['tf-import', 'U2', 4],
      ];
      for (const [command, actorId, minute] of rows) {
        await store.audit.record(
          audit({ command, actorId, at: new Date(base + minute * 60_000), args: `m${minute}` }),
        );
      }
      const minutes = (list: AuditRecord[]) => list.map((a) => a.args);

      expect(minutes(await store.audit.list())).toEqual(['m5', 'm4', 'm3', 'm2', 'm1']);
      expect(minutes(await store.audit.list({ command: 'why-reboot' }))).toEqual(['m5', 'm3', 'm2']);
      expect(minutes(await store.audit.list({ actorId: 'U1' }))).toEqual(['m3', 'm2', 'm1']);
      expect(minutes(await store.audit.list({ command: 'why-reboot', actorId: 'U1' }))).toEqual(['m3', 'm2']);
      expect(minutes(await store.audit.list({ limit: 2 }))).toEqual(['m5', 'm4']);
      expect(await store.audit.list({ command: 'amend' })).toEqual([]);
    });

    it('records every audit field and reads it back as written, generating an id when none is given', async () => {
      const store = await target.open();
      const full = audit({ detail: 'verdict: host error', outcome: 'refused' });
      await store.audit.record(full);
      await store.audit.record({
        at: new Date('2024-05-03T23:31:53.000Z'),
        actorId: 'cli:bob',
        source: 'cli',
        command: 'versionlock',
        args: 'es-prod elasticsearch 7.10.2',
        outcome: 'dry_run',
        correlationId: 'corr-2',
      });
      const [minimal, written] = await store.audit.list();
      expect(written).toEqual({ ...full, id: expect.any(String) });
      expect(written?.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(minimal).toEqual({
        id: expect.any(String),
        at: new Date('2024-05-03T23:31:53.000Z'),
        actorId: 'cli:bob',
        actorName: null,
        source: 'cli',
        command: 'versionlock',
        args: 'es-prod elasticsearch 7.10.2',
        channelId: null,
        target: null,
        outcome: 'dry_run',
        detail: null,
        correlationId: 'corr-2',
        durationMs: null,
      });
      await expect(store.audit.record(audit({ at: new Date('nope') }))).rejects.toMatchObject({
        code: 'bad_input',
      });
    });

    it('records 1,000 audit rows in one recordMany call and reads every one back as written', async () => {
      const store = await target.open();
      const base = Date.parse('2024-05-03T10:00:00.000Z');
      const rows: AuditRecord[] = Array.from({ length: 1000 }, (_, i) =>
        audit({
          id: `row-${String(i).padStart(4, '0')}`,
          at: new Date(base + i * 1000 + (i % 997)),
          args: `web-${i}`,
          actorId: i % 2 === 0 ? 'U1' : 'U2',
          // Optional fields left out or null on some rows: each must come back as null.
          ...(i % 3 === 0 ? { actorName: null, channelId: null, target: null, durationMs: null } : {}),
          ...(i % 5 === 0 ? { detail: `detail ${i} with 'quotes' and "double quotes"` } : {}),
        }),
      );
      await store.audit.recordMany(rows);
      const back = await store.audit.list({ limit: 1000 });
      expect(back).toHaveLength(1000);
      const byId = new Map(back.map((r) => [r.id, r]));
      for (const row of rows) {
        expect(byId.get(row.id)).toEqual({
          actorName: null,
          channelId: null,
          target: null,
          detail: null,
          durationMs: null,
          ...row,
        });
      }
      expect((await store.audit.list({ actorId: 'U2', limit: 1000 })).length).toBe(500);
      await store.audit.recordMany([]); // nothing to do, no error
      expect(await store.audit.list({ limit: 1000 })).toHaveLength(1000);
    });

    it('recordMany writes all rows or none: a bad row, or a duplicate id in a later statement, leaves nothing', async () => {
      const store = await target.open();
      const rows = Array.from({ length: 1200 }, (_, i) => audit({ id: `b-${i}`, args: `vm-${i}` }));
      const badTime = rows.map((r, i) => (i === 1100 ? { ...r, at: new Date('nope') } : r));
      await expect(store.audit.recordMany(badTime)).rejects.toMatchObject({ code: 'bad_input' });
      // Row 1,150 repeats row 3's id: the INSERT that fails is not the first one, so earlier ones must roll back.
      const duplicate = rows.map((r, i) => (i === 1150 ? { ...r, id: 'b-3' } : r));
      await expect(store.audit.recordMany(duplicate)).rejects.toBeInstanceOf(AppError);
      expect(await store.audit.list({ limit: 1000 })).toEqual([]);
      await store.audit.recordMany(rows.slice(0, 700));
      expect(await store.audit.list({ limit: 1000 })).toHaveLength(700);
    });

    it('creates, gets, finds by branch and updates a change request', async () => {
      const clock = manualClock('2024-05-03T12:00:00.000Z');
      const store = await target.open({ now: clock.now });
      const input = change();
      const created = await store.changes.create(input);
      expect(created).toEqual({
        ...input,
        ...NEW_CHANGE_DEFAULTS,
        createdAt: clock.now(),
        updatedAt: clock.now(),
      });
      expect(await store.changes.get(input.id)).toEqual(created);
      expect(await store.changes.findByBranch('gitlab', 'infra/ansible', input.branch)).toEqual(created);
      expect(await store.changes.findByBranch('github', 'infra/ansible', input.branch)).toBeNull();
      expect(await store.changes.get('no-such-id')).toBeNull();

      clock.advance(90_000);
      const updated = await store.changes.update(input.id, {
        headSha: 'b'.repeat(40),
        mrNumber: 42,
        mrUrl: 'https://gitlab.example.com/infra/ansible/-/merge_requests/42',
        slackThreadTs: null,
      });
      expect(updated).toEqual({
        ...created,
        headSha: 'b'.repeat(40),
        mrNumber: 42,
        mrUrl: 'https://gitlab.example.com/infra/ansible/-/merge_requests/42',
        slackThreadTs: null,
        updatedAt: new Date('2024-05-03T12:01:30.000Z'),
      });
      expect(await store.changes.get(input.id)).toEqual(updated);
      expect(await store.changes.update('no-such-id', { mrNumber: 1 })).toBeNull();
    });

    it('reports a second change request on the same branch (or id) as a conflict and keeps the first', async () => {
      const store = await target.open();
      const first = await store.changes.create(change({ branch: 'opsbot/versionlock-es-prod' }));
      await expectStoreConflict(store.changes.create(change({ branch: 'opsbot/versionlock-es-prod' })));
      await expectStoreConflict(store.changes.create(change({ id: first.id })));
      // Same branch name in another project or forge is a different branch.
      await store.changes.create(change({ branch: 'opsbot/versionlock-es-prod', project: 'infra/other' }));
      await store.changes.create(change({ branch: 'opsbot/versionlock-es-prod', forge: 'github' }));
      const other = await store.changes.create(change());
      await expectStoreConflict(store.changes.update(other.id, { branch: 'opsbot/versionlock-es-prod' }));
      expect(await store.changes.get(first.id)).toEqual(first);
    });

    it('lets a finished change give its branch to a new request, but never two unfinished ones', async () => {
      const store = await target.open();
      const first = await store.changes.create(change({ branch: 'opsbot/b' }));
      await expectStoreConflict(store.changes.create(change({ branch: 'opsbot/b' })));
      for (const status of ['open', 'merged'] as const) {
        await store.changes.transition(first.id, [first.status, 'open'], { status });
      }
      const second = await store.changes.create(change({ branch: 'opsbot/b' }));
      expect((await store.changes.findByBranch('gitlab', 'infra/ansible', 'opsbot/b'))?.id).toBe(second.id);
      expect((await store.changes.get(first.id))?.status).toBe('merged'); // history kept
    });

    it('runs a transaction all or nothing', async () => {
      const store = await target.open();
      const c = await store.changes.create(change());
      await expect(
        store.transaction(async (tx) => {
          await tx.changes.transition(c.id, ['planned'], { status: 'approved', approvedBy: 'U2' });
          await tx.audit.record(audit({ command: 'versionlock', outcome: 'approved' }));
          await tx.notes.add({ changeId: c.id, seq: 20, kind: 'approved', payload: '{}' });
          throw new Error('crash in the middle');
        }),
      ).rejects.toThrow('crash in the middle');
      expect((await store.changes.get(c.id))?.status).toBe('planned');
      expect(await store.audit.list({ command: 'versionlock' })).toEqual([]);
      expect(await store.notes.list(c.id)).toEqual([]);
      const moved = await store.transaction(async (tx) => {
        const m = await tx.changes.transition(c.id, ['planned'], { status: 'approved', approvedBy: 'U2' });
        await tx.audit.record(audit({ command: 'versionlock', outcome: 'approved' }));
        await tx.notes.add({ changeId: c.id, seq: 20, kind: 'approved', payload: '{}' });
        return m;
      });
      expect(moved?.status).toBe('approved');
      expect(await store.audit.list({ command: 'versionlock' })).toHaveLength(1);
      expect((await store.notes.list(c.id)).map((n) => [n.seq, n.postedTs, n.attempts])).toEqual([
        [20, null, 0],
      ]);
    });

    it('gives the apply lease of an approved change to one holder until it expires', async () => {
      const clock = manualClock('2024-05-03T12:00:00.000Z');
      const store = await target.open({ now: clock.now });
      const c = await store.changes.create(change());
      expect(await store.changes.claimLease(c.id, 'A', 10_000)).toBeNull(); // planned: nothing to apply
      await store.changes.transition(c.id, ['planned'], { status: 'approved' });
      expect((await store.changes.listResumable(10)).map((x) => x.id)).toEqual([c.id]);
      expect(await store.changes.claimLease(c.id, 'A', 10_000)).not.toBeNull();
      expect(await store.changes.claimLease(c.id, 'B', 10_000)).toBeNull();
      expect(await store.changes.listResumable(10)).toEqual([]);
      clock.advance(9_000);
      expect(await store.changes.renewLease(c.id, 'A', 10_000)).toBe(true);
      clock.advance(9_000);
      expect(await store.changes.claimLease(c.id, 'B', 10_000)).toBeNull();
      clock.advance(1_001); // A died: its lease ran out
      expect((await store.changes.listResumable(10)).map((x) => x.id)).toEqual([c.id]);
      expect(await store.changes.claimLease(c.id, 'B', 10_000)).not.toBeNull();
      expect(await store.changes.renewLease(c.id, 'A', 10_000)).toBe(false);
      await store.changes.releaseLease(c.id, 'B', {
        attempts: 1,
        nextAttemptAt: new Date(clock.now().getTime() + 5_000),
      });
      expect(await store.changes.listResumable(10)).toEqual([]); // not before its next attempt
      expect(await store.changes.claimLease(c.id, 'A', 10_000)).toBeNull();
      clock.advance(5_000);
      expect((await store.changes.claimLease(c.id, 'A', 10_000))?.attempts).toBe(1);
    });

    it('keeps a change due for Slack until the thread shows its latest rev', async () => {
      const clock = manualClock('2024-05-03T12:00:00.000Z');
      const store = await target.open({ now: clock.now });
      const c = await store.changes.create(change());
      expect(await store.changes.listSlackDue(10)).toEqual([c.id]);
      const claimed = await store.changes.claimSlack(c.id, 'A', 30_000);
      expect(claimed?.rev).toBe(1);
      expect(await store.changes.claimSlack(c.id, 'B', 30_000)).toBeNull();
      expect(await store.changes.listSlackDue(10)).toEqual([]); // leased
      // It moves while A renders rev 1: A's finish must leave it due.
      await store.changes.transition(c.id, ['planned'], { status: 'cancelled' });
      await store.changes.finishSlack(c.id, 'A', 1);
      expect(await store.changes.listSlackDue(10)).toEqual([c.id]);
      const again = await store.changes.claimSlack(c.id, 'B', 30_000);
      await store.changes.deferSlack(c.id, 'B', new Date(clock.now().getTime() + 40_000)); // Retry-After 40 s
      expect(await store.changes.listSlackDue(10)).toEqual([]);
      clock.advance(40_000);
      expect(await store.changes.listSlackDue(10)).toEqual([c.id]);
      expect((await store.changes.claimSlack(c.id, 'B', 30_000))?.slackAttempts).toBe(1);
      await store.changes.finishSlack(c.id, 'B', again?.rev ?? 0);
      expect(await store.changes.listSlackDue(10)).toEqual([]);
      expect((await store.changes.get(c.id))?.slackRev).toBe(2);
    });

    it('moves a change only from the expected status (compare-and-set)', async () => {
      const clock = manualClock('2024-05-03T12:00:00.000Z');
      const store = await target.open({ now: clock.now });
      const c = await store.changes.create(change());
      clock.advance(1000);
      const approved = await store.changes.transition(c.id, ['planned'], {
        status: 'approved',
        approvedBy: 'U2',
      });
      // A transition bumps rev: the Slack thread is behind until the reconciler catches up.
      expect(approved).toEqual({
        ...c,
        status: 'approved',
        approvedBy: 'U2',
        rev: 2,
        updatedAt: clock.now(),
      });
      expect(
        await store.changes.transition(c.id, ['planned'], { status: 'approved', approvedBy: 'U3' }),
      ).toBeNull();
      expect(await store.changes.transition(c.id, ['open', 'applying'], { status: 'merged' })).toBeNull();
      expect(await store.changes.transition(c.id, [], { status: 'cancelled' })).toBeNull();
      expect(await store.changes.transition('no-such-id', ['planned'], { status: 'approved' })).toBeNull();
      const applying = await store.changes.transition(c.id, ['approved', 'planned'], { status: 'applying' });
      expect(applying?.status).toBe('applying');
      expect((await store.changes.get(c.id))?.approvedBy).toBe('U2');
    });

    it('lets exactly one of two concurrent writers approve a change', async () => {
      const a = await target.open();
      const b = await target.open();
      const changes = await Promise.all(Array.from({ length: 20 }, () => a.changes.create(change())));
      const results = await Promise.all(
        changes.map(async (c) => {
          const [ra, rb] = await Promise.all([
            a.changes.transition(c.id, ['planned'], { status: 'approved', approvedBy: 'A' }),
            b.changes.transition(c.id, ['planned'], { status: 'approved', approvedBy: 'B' }),
          ]);
          return { c, ra, rb };
        }),
      );
      for (const { c, ra, rb } of results) {
        expect([ra, rb].filter((r) => r !== null)).toHaveLength(1);
        const winner = (ra ?? rb)?.approvedBy;
        expect(await b.changes.get(c.id)).toMatchObject({ status: 'approved', approvedBy: winner });
      }
    });

    it('refuses a held lock to another holder until its lease expires, and lets only the holder release it', async () => {
      const clock = manualClock('2024-05-03T12:00:00.000Z');
      const store = await target.open({ now: clock.now });
      const other = await target.open({ now: clock.now });
      expect(await store.locks.tryAcquire('target:es-prod', 'run-A', 60_000)).toBe(true);
      expect(await other.locks.tryAcquire('target:es-prod', 'run-B', 60_000)).toBe(false);
      expect(await other.locks.tryAcquire('target:es-other', 'run-B', 60_000)).toBe(true);
      clock.advance(30_000);
      expect(await store.locks.tryAcquire('target:es-prod', 'run-A', 60_000)).toBe(true); // renews to +90s
      clock.advance(59_999);
      expect(await other.locks.tryAcquire('target:es-prod', 'run-B', 60_000)).toBe(false);
      clock.advance(1);
      expect(await other.locks.tryAcquire('target:es-prod', 'run-B', 60_000)).toBe(true); // A's lease lapsed
      expect(await store.locks.tryAcquire('target:es-prod', 'run-A', 60_000)).toBe(false);

      await store.locks.release('target:es-prod', 'run-A'); // not the holder any more: no effect
      expect(await store.locks.tryAcquire('target:es-prod', 'run-C', 60_000)).toBe(false);
      await other.locks.release('target:es-prod', 'run-B');
      expect(await store.locks.tryAcquire('target:es-prod', 'run-C', 60_000)).toBe(true);
      await expect(store.locks.tryAcquire('x', 'y', 0)).rejects.toMatchObject({ code: 'bad_input' });
    });

    it('gives a free lock to exactly one of two concurrent takers', async () => {
      const a = await target.open();
      const b = await target.open();
      const names = Array.from({ length: 20 }, (_, i) => `lock-${i}`);
      const results = await Promise.all(
        names.map((n) =>
          Promise.all([a.locks.tryAcquire(n, 'A', 60_000), b.locks.tryAcquire(n, 'B', 60_000)]),
        ),
      );
      for (const pair of results) expect(pair.filter(Boolean)).toHaveLength(1);
    });

    it('round-trips timestamps to the millisecond, before 1970 and after 2038 too', async () => {
      const instants = ['1969-07-20T20:17:40.123Z', '2024-02-29T23:59:59.999Z', '2100-01-01T00:00:00.001Z'];
      for (const iso of instants) {
        const clock = manualClock(iso);
        const store = await target.open({ now: clock.now });
        const c = await store.changes.create(change());
        await store.audit.record(audit({ at: new Date(iso), command: `t-${iso}` }));
        const reader = await target.open();
        const back = await reader.changes.get(c.id);
        expect(back?.createdAt.toISOString()).toBe(iso);
        expect(back?.updatedAt.toISOString()).toBe(iso);
        expect(back?.createdAt).toBeInstanceOf(Date);
        const [entry] = await reader.audit.list({ command: `t-${iso}` });
        expect(entry?.at.toISOString()).toBe(iso);
      }
    });

    it('keeps every row when two writers each insert 100 audit rows at once', async () => {
      const a = await target.open();
      const b = await target.open();
      const write = (s: Store, who: string) =>
        Promise.all(
          Array.from({ length: 100 }, (_, i) =>
            s.audit.record(audit({ actorId: who, args: `${who}-${i}`, command: 'bulk' })),
          ),
        );
      await Promise.all([write(a, 'A'), write(b, 'B')]);
      const all = await a.audit.list({ command: 'bulk', limit: 1000 });
      expect(all).toHaveLength(200);
      expect(new Set(all.map((r) => r.args)).size).toBe(200);
    });

    it('reports a failure after close as AppError(store) with the user-safe message', async () => {
      const store = await target.open();
      await store.close();
      const err = await store.ping().then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(AppError);
      expect(err).toMatchObject({ code: 'store', userMessage: STORE_USER_MESSAGE });
    });
  });
});

describe('openStore failures', () => {
  const password = 'hunter2-S3cret';

  /** Everything a log line could show about an error: inspect (with causes) and pino's serializer. */
  const everything = (err: unknown) =>
    `${inspect(err, { depth: 8 })}\n${JSON.stringify(pino.stdSerializers.err(err as Error))}`;

  it.each([
    ['an unreachable server', `postgres://opsbot:${password}@127.0.0.1:1/opsbot`],
    ['a malformed URL', `postgres://opsbot:${password}@127.0.0.1:notaport/opsbot`],
    ['an escaped password', `postgres://opsbot:${encodeURIComponent(`${password}/#?`)}@127.0.0.1:1/opsbot`],
  ])('fails with AppError(store) and never shows the password for %s', async (_what, databaseUrl) => {
    const err = await openStore({ databaseUrl, dataDir: '/nonexistent' }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({
      code: 'store',
      message: STORE_USER_MESSAGE,
      details: { engine: 'postgres' },
    });
    const text = everything(err);
    expect(text).not.toContain(password);
    expect(text).not.toContain(encodeURIComponent(password));
  });

  it('fails with AppError(store) when the SQLite data directory cannot be created', async () => {
    const file = path.join(
      await import('node:os').then((os) => os.tmpdir()),
      `opsbot-not-a-dir-${randomUUID()}`,
    );
    await writeFile(file, 'x');
    await expect(openStore({ dataDir: file })).rejects.toMatchObject({
      code: 'store',
      details: { engine: 'sqlite' },
    });
  });
});
