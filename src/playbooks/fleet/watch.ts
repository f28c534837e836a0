/**
 * The platform-event watch: one replica at a time (a lease in the store) polls the audit logs of the watched
 * projects from a stored cursor, groups restarts as the fleet view does, and keeps one channel message per
 * group, updated in place as more VMs join. Exactly once across replicas and crashes:
 *  - each poll re-reads `settleMs` before the cursor (late entries) and merges what it finds into the stored
 *    groups, so a re-read never posts twice;
 *  - a group row is stored before its message is posted and given the message ts after; the cursor moves
 *    only after every group of the poll is posted;
 *  - a row without a ts (a kill between the post and its commit) is resolved by looking the message up in
 *    the channel by its group key before posting: found, it is edited instead of posted again.
 */
import type { WatchEvent } from '../../core/config.js';
import type { Logger } from '../../core/logger.js';
import type { FleetPort } from '../../integrations/gce/fleet-port.js';
import type { WatchGroupRow, WatchState } from '../../store/watch-repository.js';
import { type InstanceMemory, rememberRestarts } from '../why-reboot/instance-memory.js';
import { createFleetAggregator, groupRestarts } from './aggregate.js';
import { fleetAuditFilter, matchesLabels } from './collect.js';
import type { FleetCause, FleetGroup, FleetRestart } from './types.js';

export const WATCH_LEASE = 'watch';

export interface WatchSettings {
  readonly channel: string;
  readonly projects: readonly string[];
  readonly events: readonly WatchEvent[];
  readonly labels: Readonly<Record<string, string>>;
  readonly namePattern?: string | undefined;
  readonly periodMs: number;
  readonly lookbackMs: number;
  readonly settleMs: number;
  readonly groupGapMs: number;
  readonly leaseMs: number;
}

/** The group as the channel shows it (data; the Slack rendering lives in the handlers). */
export interface WatchGroupView {
  readonly key: string;
  readonly group: FleetGroup;
}

/** Posting and finding group messages: implemented over Slack by the handlers. */
export interface WatchPoster {
  post(channel: string, view: WatchGroupView): Promise<string>;
  update(channel: string, ts: string, view: WatchGroupView): Promise<void>;
  /** The ts of a message of this group posted at or after `sinceMs`, or null. */
  find(channel: string, key: string, sinceMs: number): Promise<string | null>;
}

export interface WatchRepo {
  getState(): Promise<WatchState | null>;
  commitCursor(cursorMs: number): Promise<void>;
  recordError(message: string, initialCursorMs: number): Promise<void>;
  findOverlapping(cause: string, zone: string, fromMs: number, toMs: number): Promise<WatchGroupRow[]>;
  upsertGroup(g: Omit<WatchGroupRow, 'ts'>): Promise<void>;
  setGroupTs(key: string, ts: string): Promise<void>;
  countGroups(): Promise<number>;
}

export interface WatchDeps {
  readonly fleet: FleetPort;
  readonly repo: WatchRepo;
  readonly locks: {
    tryAcquire(name: string, holder: string, ttlMs: number): Promise<boolean>;
    release(name: string, holder: string): Promise<void>;
  };
  readonly poster: WatchPoster;
  readonly settings: WatchSettings;
  /** This replica's lease holder id. */
  readonly holder: string;
  readonly now: () => Date;
  readonly logger: Logger;
  /** Fed with the VMs whose restarts the watch reads, so a /diag or /why-reboot of them starts at once. */
  readonly memory?: InstanceMemory | undefined;
}

const EVENT_CAUSES: Readonly<Record<WatchEvent, readonly FleetCause[]>> = {
  'host-error': ['host-error'],
  preemption: ['preemption'],
  'host-maintenance': ['host-maintenance'],
  'automatic-restart': ['unknown', 'system-reset'],
  'guest-shutdown': ['guest-shutdown'],
  'mig-recreate': ['mig-recreate', 'mig-halt'],
};

const restartKey = (r: FleetRestart): string => `${r.project}/${r.zone}/${r.name}@${r.at}`;

export type WatchTick = 'standby' | 'ok' | 'failed' | 'lease-lost';

export interface Watcher {
  tick(): Promise<WatchTick>;
  start(): void;
  stop(): Promise<void>;
}

export const createWatcher = (deps: WatchDeps): Watcher => {
  const s = deps.settings;
  const causes = new Set(s.events.flatMap((e) => EVENT_CAUSES[e]));
  const namePattern = s.namePattern ? new RegExp(s.namePattern) : null;
  const log = deps.logger;

  const ensureGroup = async (g: FleetGroup): Promise<void> => {
    const fromMs = Date.parse(g.from);
    const toMs = Date.parse(g.to);
    const [row] = await deps.repo.findOverlapping(
      g.cause,
      g.zone,
      fromMs - s.groupGapMs,
      toMs + s.groupGapMs,
    );
    const merged = new Map<string, FleetRestart>();
    if (row) for (const r of JSON.parse(row.payload) as FleetRestart[]) merged.set(restartKey(r), r);
    for (const r of g.restarts) merged.set(restartKey(r), r);
    const restarts = [...merged.values()].sort((a, b) =>
      a.at < b.at ? -1 : a.at > b.at ? 1 : restartKey(a).localeCompare(restartKey(b)),
    );
    const payload = JSON.stringify(restarts);
    // Nothing new (no VM joined, none came back) for a message already posted: no edit.
    if (row?.ts && payload === row.payload) return;
    const first = restarts[0] as FleetRestart;
    const last = restarts[restarts.length - 1] as FleetRestart;
    const key = row?.key ?? g.key;
    const view: WatchGroupView = {
      key,
      group: {
        ...g,
        key,
        from: first.at,
        to: last.at,
        projects: [...new Set(restarts.map((r) => r.project))].sort(),
        restarts,
      },
    };
    await deps.repo.upsertGroup({
      key,
      cause: g.cause,
      zone: g.zone,
      fromMs: Date.parse(first.at),
      toMs: Date.parse(last.at),
      vms: restarts.length,
      payload,
      channel: s.channel,
    });
    if (row?.ts) {
      await deps.poster.update(s.channel, row.ts, view);
      log.info({ group: key, vms: restarts.length }, 'watch group updated');
      return;
    }
    if (row) {
      // Stored but no ts: a previous poll may have posted it and died before recording the ts.
      const found = await deps.poster.find(s.channel, key, Date.parse(first.at) - 60_000);
      if (found) {
        await deps.repo.setGroupTs(key, found);
        await deps.poster.update(s.channel, found, view);
        log.info(
          { group: key, ts: found },
          'watch group found already posted; edited instead of posted again',
        );
        return;
      }
    }
    const ts = await deps.poster.post(s.channel, view);
    await deps.repo.setGroupTs(key, ts);
    log.info({ group: key, vms: restarts.length, ts }, 'watch group posted');
  };

  const tick = async (): Promise<WatchTick> => {
    if (!(await deps.locks.tryAcquire(WATCH_LEASE, deps.holder, s.leaseMs))) return 'standby';
    const nowMs = deps.now().getTime();
    const state = await deps.repo.getState();
    const cursor = state?.cursorMs ?? nowMs - s.lookbackMs;
    const window = { from: new Date(cursor - s.settleMs - s.groupGapMs), to: new Date(nowMs) };
    try {
      const agg = createFleetAggregator();
      const labelled = Object.keys(s.labels).length > 0;
      const labelsOf = new Map<string, Readonly<Record<string, string>>>();
      for (const project of s.projects) {
        for await (const page of deps.fleet.pagesOfEntries({
          project,
          filter: fleetAuditFilter(project, window),
        })) {
          agg.addPage(project, page);
        }
        if (labelled) {
          const listing = await deps.fleet.listInstances(project);
          for (const i of listing.instances) labelsOf.set(`${i.project}/${i.zone}/${i.name}`, i.labels);
        }
      }
      const all = agg.restarts();
      if (deps.memory) rememberRestarts(deps.memory, all);
      const restarts = all.filter((r) => {
        if (!causes.has(r.cause)) return false;
        if (namePattern && !namePattern.test(r.name)) return false;
        if (labelled) {
          const l = labelsOf.get(`${r.project}/${r.zone}/${r.name}`);
          if (!l || !matchesLabels(l, s.labels)) return false;
        }
        return true;
      });
      const groups = groupRestarts(restarts, s.groupGapMs).reverse(); // oldest first
      for (const g of groups) {
        // Still ours? A replica that lost its lease (paused, partitioned) stops before posting more.
        if (!(await deps.locks.tryAcquire(WATCH_LEASE, deps.holder, s.leaseMs))) return 'lease-lost';
        await ensureGroup(g);
      }
      await deps.repo.commitCursor(nowMs);
      return 'ok';
    } catch (err) {
      const message = err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err);
      log.warn({ err }, 'watch poll failed');
      await deps.repo.recordError(message, cursor).catch(() => undefined);
      return 'failed';
    }
  };

  let timer: NodeJS.Timeout | null = null;
  let running: Promise<unknown> | null = null;
  let stopped = false;
  const loop = (): void => {
    if (stopped) return;
    running = tick()
      .catch((err: unknown) => log.error({ err }, 'watch tick failed'))
      .finally(() => {
        running = null;
        if (!stopped) timer = setTimeout(loop, s.periodMs);
      });
  };
  return {
    tick,
    start() {
      stopped = false;
      timer = setTimeout(loop, 0);
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
      await deps.locks.release(WATCH_LEASE, deps.holder).catch(() => undefined);
    },
  };
};
