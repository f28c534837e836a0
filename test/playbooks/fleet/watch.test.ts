import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFleetRestClient } from '../../../src/integrations/gce/fleet-rest.js';
import {
  createWatcher,
  type WatchGroupView,
  type WatchPoster,
  type WatchSettings,
} from '../../../src/playbooks/fleet/watch.js';
import { openStore } from '../../../src/store/open.js';
import type { Store } from '../../../src/store/types.js';
import { staticTokenClient, TEST_TOKEN } from '../../fakes/gce-env.js';
import { type FleetVm, systemEvent } from '../../fakes/gce-fleet.js';
import { type FakeLogging, startFakeLogging } from '../../fakes/gce-logging.js';

/**
 * The watcher over the real REST client, the Logging fake and a SQLite store, with a recording poster in
 * place of Slack: late entries, a restart that completes on a later poll, events not watched, standby.
 */
const NOW = new Date('2026-11-20T23:50:00Z');
const vm = (i: number, zone = 'us-central1-a'): FleetVm => ({
  project: 'watch-prod-a',
  zone,
  name: `app-${i}`,
  id: String(5000000000000000000n + BigInt(i)),
  labels: {},
});

let logging: FakeLogging;
let store: Store;
let dir: string;
let clock: Date;

const settings: WatchSettings = {
  channel: 'C0WATCH',
  projects: ['watch-prod-a'],
  events: ['host-error'],
  labels: {},
  periodMs: 1000,
  lookbackMs: 3600_000,
  settleMs: 600_000,
  groupGapMs: 300_000,
  leaseMs: 5000,
};

const recordingPoster = () => {
  const posts: { ts: string; view: WatchGroupView }[] = [];
  const updates: { ts: string; view: WatchGroupView }[] = [];
  const poster: WatchPoster = {
    async post(_channel, view) {
      const ts = `${posts.length + 1}.000`;
      posts.push({ ts, view });
      return ts;
    },
    async update(_channel, ts, view) {
      updates.push({ ts, view });
    },
    async find() {
      return null;
    },
  };
  return { poster, posts, updates };
};

const watcher = (poster: WatchPoster, holder = 'r1', s: WatchSettings = settings, withMemory = false) =>
  createWatcher({
    ...(withMemory ? { memory: store.instances } : {}),
    fleet: createFleetRestClient({ loggingEndpoint: logging.url, authClient: staticTokenClient() }),
    repo: store.watch,
    locks: store.locks,
    poster,
    settings: s,
    holder,
    now: () => clock,
    logger: pino({ level: 'silent' }),
  });

beforeEach(async () => {
  logging = await startFakeLogging({ accessToken: TEST_TOKEN, maxPageSize: 3, emptyPagesBefore: 1 });
  dir = mkdtempSync(join(tmpdir(), 'opsbot-watch-'));
  clock = NOW;
  store = await openStore({ databaseUrl: undefined, dataDir: dir, now: () => clock });
});

afterEach(async () => {
  await store.close();
  await logging.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the watch', () => {
  it('edits the message when the restart completes on a later poll, and not when nothing changed', async () => {
    const { poster, posts, updates } = recordingPoster();
    const w = watcher(poster);
    const down = new Date(NOW.getTime() - 120_000);
    logging.addEntries([systemEvent('HostErrorEvent', vm(1), down)]);
    expect(await w.tick()).toBe('ok');
    expect(posts).toHaveLength(1);
    expect(posts[0]?.view.group.restarts[0]).toMatchObject({ name: 'app-1', upAt: null });
    // Nothing new: no edit.
    clock = new Date(NOW.getTime() + 1000);
    expect(await w.tick()).toBe('ok');
    expect(updates).toHaveLength(0);
    // The automatic restart is logged 3 minutes later: the same message now says how long it was down.
    logging.addEntries([systemEvent('AutomaticRestartEvent', vm(1), new Date(down.getTime() + 187_000))]);
    clock = new Date(NOW.getTime() + 200_000);
    expect(await w.tick()).toBe('ok');
    expect(posts).toHaveLength(1);
    expect(updates.at(-1)?.view.group.restarts[0]).toMatchObject({ downtimeMs: 187_000 });
  });

  it('remembers the id of each VM whose restart it reads (a /diag of it then starts at once)', async () => {
    const { poster } = recordingPoster();
    const w = watcher(poster, 'r1', settings, true);
    const down = new Date(NOW.getTime() - 120_000);
    logging.addEntries([systemEvent('HostErrorEvent', vm(1), down)]);
    expect(await w.tick()).toBe('ok');
    await expect
      .poll(async () =>
        (await store.instances.find({ project: 'watch-prod-a', zone: 'us-central1-a', name: 'app-1' })).map(
          (k) => k.id,
        ),
      )
      .toEqual([vm(1).id]);
  });

  it('a late entry within the settle window joins its group; an unwatched event is not posted', async () => {
    const { poster, posts, updates } = recordingPoster();
    const w = watcher(poster);
    logging.addEntries([
      systemEvent('HostErrorEvent', vm(1), new Date(NOW.getTime() - 240_000)),
      systemEvent('InstancePreemptedEvent', vm(9), new Date(NOW.getTime() - 200_000)),
    ]);
    expect(await w.tick()).toBe('ok');
    // Logged late: it happened before the cursor, but within settleMs.
    logging.addEntries([systemEvent('HostErrorEvent', vm(2), new Date(NOW.getTime() - 180_000))]);
    clock = new Date(NOW.getTime() + 60_000);
    expect(await w.tick()).toBe('ok');
    expect(posts).toHaveLength(1);
    expect(updates.at(-1)?.view.group.restarts.map((r) => r.name)).toEqual(['app-1', 'app-2']);
    expect(JSON.stringify(posts)).not.toContain('app-9');
  });

  it('a second replica stands by while the lease is held, and takes over from the stored cursor after it', async () => {
    const a = recordingPoster();
    const b = recordingPoster();
    logging.addEntries([systemEvent('HostErrorEvent', vm(1), new Date(NOW.getTime() - 60_000))]);
    expect(await watcher(a.poster, 'A').tick()).toBe('ok');
    expect(await watcher(b.poster, 'B').tick()).toBe('standby');
    clock = new Date(NOW.getTime() + settings.leaseMs + 1);
    expect(await watcher(b.poster, 'B').tick()).toBe('ok');
    expect(b.posts).toHaveLength(0); // already posted by A, found in the store
    expect((await store.watch.getState())?.cursorMs).toBe(clock.getTime());
  });

  it('records a failed poll as the last error and keeps the cursor', async () => {
    const { poster } = recordingPoster();
    const w = watcher(poster);
    expect(await w.tick()).toBe('ok');
    const before = (await store.watch.getState())?.cursorMs;
    logging.failNext('entries.list', { status: 403, message: 'Permission denied', times: 5 });
    clock = new Date(NOW.getTime() + 1000);
    expect(await w.tick()).toBe('failed');
    const state = await store.watch.getState();
    expect(state?.cursorMs).toBe(before);
    expect(state?.lastError).toMatch(/permission|denied|403/i);
  });
});
