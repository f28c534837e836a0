import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  applyTransition,
  CHANGE_EVENTS,
  CHANGE_STATUSES,
  type ChangeEvent,
  FINAL,
  nextStatus,
  TRANSITIONS,
} from '../../../src/playbooks/change/transitions.js';
import { openStore } from '../../../src/store/open.js';
import type { ChangeStatus, Store } from '../../../src/store/types.js';

/** The shortest way from `planned` to each status, through the table itself. */
const pathsFromPlanned = (): Map<ChangeStatus, ChangeEvent[]> => {
  const paths = new Map<ChangeStatus, ChangeEvent[]>([['planned', []]]);
  const queue: ChangeStatus[] = ['planned'];
  while (queue.length > 0) {
    const s = queue.shift() as ChangeStatus;
    for (const [from, event, to] of TRANSITIONS) {
      if (from !== s || paths.has(to)) continue;
      paths.set(to, [...(paths.get(s) ?? []), event]);
      queue.push(to);
    }
  }
  return paths;
};

describe('the change transitions table', () => {
  let dir: string;
  let store: Store;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'opsbot-transitions-'));
    store = await openStore({ dataDir: dir });
  });
  afterAll(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('has one row per (status, event), reaches every status from planned, and only merged, cancelled and superseded are final', () => {
    const keys = TRANSITIONS.map(([f, e]) => `${f}/${e}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect([...pathsFromPlanned().keys()].sort()).toEqual([...CHANGE_STATUSES].sort());
    expect([...FINAL].sort()).toEqual(['cancelled', 'merged', 'superseded']);
    // Nothing ever goes back to a status before approval except a re-plan (the base moved).
    for (const [from, event, to] of TRANSITIONS) {
      if (to === 'planned') expect([from, event]).toEqual(['applying', 'replan']);
    }
  });

  it('walks every (status, event) pair on a real store: the table says where it goes, or it stays', async () => {
    const paths = pathsFromPlanned();
    let checked = 0;
    for (const status of CHANGE_STATUSES) {
      for (const event of CHANGE_EVENTS) {
        const c = await store.changes.create({
          id: randomUUID(),
          kind: 'versionlock',
          target: 'el7',
          forge: 'gitlab',
          project: 'infra/ansible',
          baseBranch: 'main',
          branch: `opsbot/walk-${checked}`,
          baseSha: 'a'.repeat(40),
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
        });
        let at: ChangeStatus = 'planned';
        for (const step of paths.get(status) ?? []) {
          const moved = await store.transaction((tx) => applyTransition(tx, c.id, step));
          expect(moved?.status).toBe(nextStatus(at, step));
          at = moved?.status ?? at;
        }
        expect((await store.changes.get(c.id))?.status).toBe(status);
        const before = await store.changes.get(c.id);
        const moved = await store.transaction((tx) =>
          applyTransition(tx, c.id, event, {}, [{ kind: 'waiting' }]),
        );
        const after = await store.changes.get(c.id);
        const expected = nextStatus(status, event);
        if (expected === null) {
          expect(moved).toBeNull();
          expect(after).toEqual(before); // untouched: not even its rev
        } else {
          expect(moved?.status).toBe(expected);
          expect(after?.rev).toBe((before?.rev ?? 0) + 1); // Slack must show it
        }
        // A note is queued with its transition, never without one.
        expect((await store.notes.list(c.id)).length).toBe(expected === null ? 0 : 1);
        checked++;
      }
    }
    expect(checked).toBe(CHANGE_STATUSES.length * CHANGE_EVENTS.length);
  });
});
