import { randomBytes } from 'node:crypto';
import { isTerminalCi } from '../../core/ci.js';
import { IntegrationError, isAppError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type {
  ForgeEvent,
  MergeRequestRef,
  MergeRequestStateEvent,
  ParsedDelivery,
} from '../../integrations/forge/events.js';
import type { ForgeKind, ForgePort } from '../../integrations/forge/port.js';
import type { SlackMessage, SlackPort } from '../../integrations/slack/port.js';
import type { Metrics } from '../../server/metrics.js';
import type {
  FollowedMr,
  FollowTiming,
  PipelineSnapshot,
  StoredDelivery,
} from '../../store/pipeline-types.js';
import type { Store } from '../../store/types.js';
import { cleanLogTail } from './log-text.js';
import { createWorkLoop, forEachLimit, type WorkLoop } from './loop.js';
import { mergeRequestEventOf, pipelineEventsOf } from './poll.js';
import {
  buildPipelineView,
  type FailedJobView,
  failedJobsOf,
  mrViewOf,
  type PipelineRenderers,
  parseRetryButtonValue,
  retryButtonValue,
} from './view.js';

/**
 * The pipeline follower: forge events in (webhook deliveries and polling, one code path), the latest known CI
 * state in the store, and reconcilers that make each following Slack thread match it. Level-triggered: an
 * event only moves stored state forward and marks the threads due; a reconciler (any replica, leasing the
 * thread in the store first) renders what is stored now. So a duplicate or late delivery changes nothing, a
 * burst becomes one update, and whatever was accepted before a crash or during a Slack outage reaches Slack
 * once the process or Slack is back.
 */

export interface FollowRequest {
  readonly ref: MergeRequestRef;
  readonly url: string | null;
  /** The Slack thread that shows the MR's CI: a change's thread, or the root /pipeline posted. */
  readonly channel: string;
  readonly threadTs: string;
  readonly changeId: string | null;
  readonly followedBy?: string | null;
}

export interface FollowResult {
  readonly followId: string;
  /** false: this thread already followed the MR (nothing changed). */
  readonly created: boolean;
  readonly active: boolean;
}

/** Idempotent: follow an MR in a thread. The change lifecycle calls it when a change's MR opens. */
export type EnsureFollow = (input: FollowRequest) => Promise<FollowResult>;

/** Called once per state change of a followed MR (opened, merged, closed), until it succeeds. */
export type OnMergeRequestState = (e: MergeRequestStateEvent) => Promise<void>;

export interface PipelineTimings {
  readonly coalesceMs: number;
  readonly minUpdateIntervalMs: number;
  readonly resultDelayMs: number;
  readonly pollIntervalMs: number;
  readonly maxPollIntervalMs: number;
}

/** See PipelineFollowerDeps.polls. */
export type PollMode = 'schedule' | 'safety-net' | 'never';

export interface PipelineFollowerDeps {
  readonly store: Pick<Store, 'pipelines' | 'deliveries'>;
  /** Slack for the thread messages; give it no retries of its own: 429 and failures are handled here. */
  readonly slack: SlackPort;
  readonly render: PipelineRenderers;
  /** The forge adapter for polling, logs and retries; null when that forge is not configured. */
  readonly forgeFor: (kind: ForgeKind) => ForgePort | null;
  /**
   * How followed MRs of this forge are polled besides the one sync when followed: `schedule` every
   * pollIntervalMs, doubling while nothing changes (no webhooks); `safety-net` every maxPollIntervalMs, for a
   * delivery that never came (webhooks set up); `never`.
   */
  readonly polls: (kind: ForgeKind) => PollMode;
  readonly parse: (source: ForgeKind, event: string, body: unknown) => ParsedDelivery;
  readonly timings: PipelineTimings;
  readonly logLines: number;
  readonly maxFailedJobs: number;
  /** Removes every registered secret from a text (job logs). */
  readonly scrub: (text: string) => string;
  readonly onMergeRequestState?: OnMergeRequestState | undefined;
  /**
   * Runs the work of one delivery as a request: a correlation id and child logger, the audit row (source
   * webhook), metrics, and the one error sink (src/handlers/webhooks.ts wires the shared request pipeline).
   */
  readonly runDelivery: (delivery: StoredDelivery, apply: () => Promise<DeliveryOutcome>) => Promise<void>;
  readonly metrics?: Metrics;
  readonly logger: Logger;
  readonly now?: () => number;
  /** This process's name in leases (default: random per process). */
  readonly owner?: string;
  /** How often the store is scanned for work another replica (or a crash) left (default 1 s). */
  readonly scanIntervalMs?: number;
  /** How long delivery ids are remembered (redeliveries within it are duplicates). */
  readonly keepDeliveriesMs?: number;
}

/** What applying one delivery did. */
export interface DeliveryOutcome {
  /** Some event was about a followed MR. */
  readonly matched: boolean;
  /** Stored state moved forward (else a duplicate or older news). */
  readonly changed: boolean;
  /** The followed MRs it was about ("gitlab:group/project!42"). */
  readonly targets: readonly string[];
}

export type RetryOutcome =
  | { readonly kind: 'retried'; readonly pipelineLabel: string; readonly url: string | null }
  | { readonly kind: 'stale'; readonly reason: string }
  | { readonly kind: 'unavailable'; readonly reason: string };

export interface PipelineFollower {
  readonly ensureFollow: EnsureFollow;
  /** Ends the active follows of the MR in a channel; how many there were. */
  stopFollows(ref: MergeRequestRef, channel: string, by: string): Promise<number>;
  listFollows(ref: MergeRequestRef, channel?: string): Promise<{ channel: string; threadTs: string }[]>;
  /** Whether a delivery's events concern a followed MR (answered from the store, cheaply). */
  isFollowed(events: readonly ForgeEvent[]): Promise<boolean>;
  /** A recorded delivery (already answered): applied now, in the background. */
  accept(delivery: StoredDelivery, events: readonly ForgeEvent[]): void;
  /**
   * A delivery could not be recorded (the store did not answer; the forge got a 503 and will not send it
   * again): once the store answers, every followed open MR is read from the forge.
   */
  missed(): void;
  /** "Retry failed jobs" for a pipeline, from its button's value. */
  retryFailedJobs(buttonValue: string): Promise<RetryOutcome & { readonly target: string | null }>;
  start(): void;
  /** Stops every background loop, waiting for the work in flight (before the store closes). */
  stop(): Promise<void>;
}

const REC_LEASE_MS = 30_000;
const MR_LEASE_MS = 60_000;
/** A delivery's lease: applying one takes milliseconds; a dead process's are taken over this soon. */
const DELIVERY_LEASE_MS = 5_000;
const LOG_TAIL_BYTES = 64 * 1024;

/** Slack errors after which the thread cannot be written any more: stop following there. */
const GONE = new Set([
  'channel_not_found',
  'not_in_channel',
  'is_archived',
  'thread_not_found',
  'channel_is_archived',
]);

/** Thrown instead of calling Slack while a 429's Retry-After has not passed. */
class SlackPaused extends Error {}

const slackErrorOf = (err: unknown): string | null =>
  err instanceof IntegrationError && err.service === 'slack' ? String(err.details.slackError ?? '') : null;

/** Accepted deliveries held in memory at most; more wait in the store for the recovery sweep. */
export const MAX_QUEUED_DELIVERIES = 64;

export const createPipelineFollower = (deps: PipelineFollowerDeps): PipelineFollower => {
  const now = deps.now ?? Date.now;
  const owner = deps.owner ?? `opsbot-${randomBytes(5).toString('hex')}`;
  const log = deps.logger.child({ component: 'pipelines' });
  const t = deps.timings;
  const storeTiming: FollowTiming = {
    coalesceMs: t.coalesceMs,
    minUpdateIntervalMs: t.minUpdateIntervalMs,
    pollIntervalMs: t.pollIntervalMs,
  };
  const scan = deps.scanIntervalMs ?? 1_000;
  const pending = new Set<Promise<void>>();
  let pausedUntil = 0;
  let stopped = false;

  // ------------------------------------------------------------------------------------------------------
  // Threads: make Slack match the store

  const reconcileFollow = async (followId: string): Promise<void> => {
    const view = await deps.store.pipelines.loadFollowView(followId);
    if (!view) return;
    const { follow, mr } = view;
    const at = now();
    const mrView = mrViewOf(mr);
    let posted = false;
    let nextAt: number | null = null;
    // Every call waits for a Retry-After another thread's call was given (Slack limits per workspace).
    const gate = (): void => {
      if (now() < pausedUntil) throw new SlackPaused();
    };
    const thread = (m: SlackMessage, broadcast = false) => {
      gate();
      return deps.slack.postMessage(follow.channel, {
        ...m,
        threadTs: follow.threadTs,
        ...(broadcast ? { replyBroadcast: true } : {}),
      });
    };
    const update = (ts: string, m: SlackMessage) => {
      gate();
      return deps.slack.updateMessage(follow.channel, ts, m);
    };

    try {
      if (!follow.active) {
        await deps.store.pipelines.finishFollowSync(followId, owner, view.dirtySeq, {
          nextAt: null,
          posted,
          dirtyNextAt: at,
        });
        return;
      }
      const [latest, ...older] = view.pipelines;
      let resultPending = false;
      if (latest) {
        const p = latest.pipeline;
        const status = deps.render.status(buildPipelineView(latest, mrView, new Date(at)));
        let message = latest.message;
        if (!message) {
          const r = await thread(status);
          await deps.store.pipelines.recordMessage(followId, p.id, {
            messageTs: r.ts,
            syncedVersion: p.version,
          });
          message = {
            followId,
            pipelineId: p.id,
            messageTs: r.ts,
            syncedVersion: p.version,
            superseded: false,
            resultPosted: 0,
          };
          posted = true;
        } else if (message.syncedVersion < p.version) {
          try {
            await update(message.messageTs, status);
          } catch (err) {
            if (slackErrorOf(err) !== 'message_not_found') throw err;
            // Someone deleted the status message: post it again.
            const r = await thread(status);
            await deps.store.pipelines.recordMessage(followId, p.id, { messageTs: r.ts });
          }
          await deps.store.pipelines.recordMessage(followId, p.id, { syncedVersion: p.version });
          posted = true;
        }
        if (isTerminalCi(p.status) && p.completion > message.resultPosted) {
          const due = (p.terminalAt?.getTime() ?? at) + t.resultDelayMs;
          if (at < due) {
            nextAt = due;
            resultPending = true;
          } else {
            const failed = p.status === 'failed';
            const result = await resultOf(latest, mrView, at);
            await thread(deps.render.result(result), failed);
            await deps.store.pipelines.recordMessage(followId, p.id, { resultPosted: p.completion });
            posted = true;
          }
        }
      }
      for (const old of older) {
        if (!old.message || old.message.superseded || !latest) continue;
        await update(
          old.message.messageTs,
          deps.render.status(buildPipelineView(old, mrView, new Date(at), latest)),
        );
        await deps.store.pipelines.recordMessage(followId, old.pipeline.id, { superseded: true });
        posted = true;
      }
      // Merged or closed: say so (after the pipeline's own result, if it is about to come), and stop.
      if (mr.state !== 'open' && !follow.endPosted && !resultPending) {
        await thread(deps.render.ended({ mr: mrView, state: mr.state, actor: mr.actor }));
        await deps.store.pipelines.endFollow(followId, 'ended');
        posted = true;
      }
      await deps.store.pipelines.finishFollowSync(followId, owner, view.dirtySeq, {
        nextAt,
        posted,
        dirtyNextAt: now() + Math.max(t.coalesceMs, posted ? t.minUpdateIntervalMs : 0),
      });
    } catch (err) {
      await failedSync(followId, follow, err);
    }
  };

  const failedSync = async (
    followId: string,
    follow: { channel: string; syncFailures: number },
    err: unknown,
  ): Promise<void> => {
    const slackError = slackErrorOf(err);
    try {
      if (err instanceof SlackPaused) {
        await deps.store.pipelines.deferFollow(followId, owner, pausedUntil, false);
        reconciler.kick(pausedUntil);
        return;
      }
      if (slackError === 'ratelimited') {
        const seconds = Number((err as IntegrationError).details.retryAfterSeconds ?? 1) || 1;
        pausedUntil = Math.max(pausedUntil, now() + seconds * 1000);
        log.warn({ followId, retryAfterSeconds: seconds }, 'slack rate limited; pipeline updates wait');
        await deps.store.pipelines.deferFollow(followId, owner, pausedUntil, false);
        reconciler.kick(pausedUntil);
        return;
      }
      if (slackError !== null && GONE.has(slackError)) {
        log.warn(
          { followId, channel: follow.channel, slackError },
          'cannot post in the thread any more; stop following there',
        );
        await deps.store.pipelines.endFollow(followId, 'gone');
        await deps.store.pipelines.deferFollow(followId, owner, now(), false);
        return;
      }
      const wait = Math.min(60_000, 1_000 * 2 ** Math.min(follow.syncFailures, 6));
      log.warn({ err, followId, retryInMs: wait }, 'pipeline thread update failed; retrying later');
      if (!(err instanceof IntegrationError)) deps.metrics?.upstreamErrors.inc({ service: 'store' });
      await deps.store.pipelines.deferFollow(followId, owner, now() + wait, true);
      reconciler.kick(now() + wait);
    } catch (e) {
      // The store itself failed: the lease runs out and any replica takes the thread over.
      log.error({ err: e, followId }, 'could not reschedule a pipeline thread');
    }
  };

  const resultOf = async (snap: PipelineSnapshot, mr: ReturnType<typeof mrViewOf>, at: number) => {
    const p = snap.pipeline;
    const failed = p.status === 'failed' ? failedJobsOf(snap) : [];
    const shown = failed.slice(0, deps.maxFailedJobs);
    const forge = deps.forgeFor(p.forge);
    const failedJobs: FailedJobView[] = await Promise.all(
      shown.map(async (j) => {
        let logTail: string[] | null = null;
        if (forge && deps.logLines > 0) {
          try {
            const raw = await forge.getJobLogTail(p.repo, j.jobId, LOG_TAIL_BYTES);
            logTail = raw === null ? null : cleanLogTail(raw, { lines: deps.logLines, scrub: deps.scrub });
          } catch (err) {
            log.warn({ err, job: j.jobId, repo: p.repo }, 'could not read a failed job log');
          }
        }
        return { name: j.name, stage: j.stage, url: j.url, failureReason: j.failureReason, logTail };
      }),
    );
    return {
      pipeline: buildPipelineView(snap, mr, new Date(at)),
      outcome: p.status,
      failedJobs,
      moreFailed: failed.length - shown.length,
      retryValue: failed.length > 0 && forge ? retryButtonValue(p.id, p.completion) : null,
    };
  };

  const reconcilePass = async (): Promise<void> => {
    for (;;) {
      if (stopped) return;
      if (now() < pausedUntil) {
        reconciler.kick(pausedUntil);
        return;
      }
      const ids = await deps.store.pipelines.claimDueFollows(owner, REC_LEASE_MS, 16);
      if (ids.length === 0) return;
      await forEachLimit(ids, 4, reconcileFollow);
      if (ids.length < 16) return;
    }
  };

  // ------------------------------------------------------------------------------------------------------
  // MRs: the lifecycle hook, and polling the forge

  const workMergeRequest = async (mr: FollowedMr): Promise<void> => {
    let pollNextAt: number | null = null;
    let stateNotified: FollowedMr['state'] | undefined;
    let pollIntervalMs = mr.pollIntervalMs;
    let pollFailures = mr.pollFailures;
    if (mr.stateNotified !== mr.state) {
      if (!deps.onMergeRequestState) stateNotified = mr.state;
      else {
        try {
          await deps.onMergeRequestState({
            forge: mr.forge,
            repo: mr.repo,
            number: mr.number,
            state: mr.state,
            url: mr.url,
            sourceBranch: mr.sourceBranch,
            headSha: mr.headSha,
            actor: mr.actor,
            at: mr.stateAt,
          });
          stateNotified = mr.state;
        } catch (err) {
          log.error({ err, mr: mr.id, state: mr.state }, 'onMergeRequestState failed; trying again');
          pollNextAt = now() + 5_000;
        }
      }
    }
    const forge = mr.active && mr.state === 'open' ? deps.forgeFor(mr.forge) : null;
    if (forge) {
      try {
        const changed = await pollOnce(forge, mr);
        pollFailures = 0;
        pollIntervalMs = changed ? t.pollIntervalMs : Math.min(t.maxPollIntervalMs, mr.pollIntervalMs * 2);
        const mode = deps.polls(mr.forge);
        if (mode !== 'never') {
          const wait = mode === 'schedule' ? pollIntervalMs : t.maxPollIntervalMs;
          pollNextAt = Math.min(pollNextAt ?? Number.POSITIVE_INFINITY, now() + wait);
        }
      } catch (err) {
        pollFailures += 1;
        const wait = Math.min(t.maxPollIntervalMs, t.pollIntervalMs * 2 ** Math.min(pollFailures, 8));
        log.warn({ err, mr: mr.id, retryInMs: wait }, 'polling the forge failed');
        if (err instanceof IntegrationError) deps.metrics?.upstreamErrors.inc({ service: err.service });
        if (deps.polls(mr.forge) !== 'never' || pollFailures <= 3)
          pollNextAt = Math.min(pollNextAt ?? Number.POSITIVE_INFINITY, now() + wait);
      }
    }
    await deps.store.pipelines.finishMergeRequest(mr.id, owner, {
      stateSeen: mr.state,
      pollNextAt,
      pollIntervalMs,
      pollFailures,
      ...(stateNotified !== undefined ? { stateNotified } : {}),
    });
  };

  /** Reads the MR and its newest pipeline from the forge and applies them like webhook events. */
  const pollOnce = async (forge: ForgePort, mr: FollowedMr): Promise<boolean> => {
    const details = await forge.getMergeRequest(mr.repo, mr.number);
    if (!details) {
      log.warn({ mr: mr.id }, 'followed merge request not found on the forge');
      return false;
    }
    const events: ForgeEvent[] = [mergeRequestEventOf(mr.forge, mr.repo, details)];
    const [newest] = await forge.listMergeRequestPipelines(
      mr.repo,
      { number: mr.number, headSha: details.headSha },
      1,
    );
    if (newest) {
      const detail = await forge.listPipelineJobs(mr.repo, newest);
      events.push(...pipelineEventsOf(mr.forge, mr.repo, details, detail, new Date(now())));
    }
    return (await applyAll(events, 'poll', null)).changed;
  };

  /**
   * Set while the store fails (this loop's own reads, or a webhook delivery it could not record): the forge
   * events of that time may be lost for good (neither forge sends a failed delivery again), so once the store
   * answers, every followed open MR is read from the forge, as a newly followed one is.
   */
  let syncOwed = false;
  const mrPass = async (): Promise<void> => {
    try {
      if (syncOwed) {
        const n = await deps.store.pipelines.syncOpenMergeRequests(owner);
        syncOwed = false;
        log.info({ mergeRequests: n }, 'the store answers again; reading the followed merge requests');
      }
      for (;;) {
        if (stopped) return;
        const due = await deps.store.pipelines.claimDueMergeRequests(owner, MR_LEASE_MS, 16);
        if (due.length === 0) return;
        await forEachLimit(due, 4, workMergeRequest);
        if (due.length < 16) return;
      }
    } catch (err) {
      if (isAppError(err) && err.code === 'store') syncOwed = true;
      throw err;
    }
  };

  // ------------------------------------------------------------------------------------------------------
  // Events in

  const applyAll = async (
    events: readonly ForgeEvent[],
    via: 'webhook' | 'poll',
    _correlationId: string | null,
  ): Promise<{ matched: boolean; changed: boolean; targets: string[] }> => {
    let matched = false;
    let changed = false;
    let mrChanged = false;
    const targets: string[] = [];
    for (const e of events) {
      const r = await deps.store.pipelines.applyEvent(e, storeTiming);
      deps.metrics?.forgeEvents.inc({
        via,
        result: r.kind === 'ignored' ? 'ignored' : r.changed ? 'changed' : 'unchanged',
      });
      if (r.kind === 'ignored') continue;
      matched = true;
      if (!targets.includes(r.mrId)) targets.push(r.mrId);
      if (r.changed) {
        changed = true;
        if (e.kind === 'merge_request') mrChanged = true;
      }
    }
    if (changed) reconciler.kick(now() + t.coalesceMs + 5);
    if (mrChanged) mrWorker.kick();
    return { matched, changed, targets };
  };

  const processDelivery = (d: StoredDelivery, given: readonly ForgeEvent[] | null): Promise<void> =>
    deps.runDelivery(d, async () => {
      try {
        let events = given;
        if (!events) {
          const parsed = deps.parse(d.source, d.event, JSON.parse(d.body));
          events = parsed.kind === 'events' ? parsed.events : [];
        }
        const r = await applyAll(events, 'webhook', d.correlationId);
        await deps.store.deliveries.finish(
          d.id,
          owner,
          r.matched ? 'done' : 'ignored',
          r.changed ? 'changed' : null,
        );
        return r;
      } catch (err) {
        // Given back, to be applied again (by any replica) after a pause; the request pipeline logs it.
        await deps.store.deliveries
          .release(
            d.id,
            owner,
            now() + Math.min(60_000, 2_000 * d.attempts),
            isAppError(err) ? err.code : 'internal',
          )
          .catch(() => undefined);
        recovery.kick(now() + 2_000);
        throw err;
      }
    });

  const recoveryPass = async (): Promise<void> => {
    for (;;) {
      if (stopped) return;
      const list = await deps.store.deliveries.claimPending(owner, DELIVERY_LEASE_MS, 50);
      for (const d of list) await processDelivery(d, null);
      if (list.length < 50) return;
    }
  };

  let lastPrune = 0;
  const prune = async (): Promise<void> => {
    if (now() - lastPrune < 3_600_000) return;
    lastPrune = now();
    const keepMs = deps.keepDeliveriesMs ?? 72 * 3_600_000;
    const n = await deps.store.deliveries.prune(new Date(now() - keepMs));
    if (n > 0) log.info({ pruned: n }, 'old webhook deliveries forgotten');
  };

  const reconciler: WorkLoop = createWorkLoop({
    name: 'reconcile',
    intervalMs: scan,
    pass: reconcilePass,
    logger: log,
  });
  const mrWorker: WorkLoop = createWorkLoop({
    name: 'merge-requests',
    intervalMs: scan,
    pass: mrPass,
    logger: log,
  });
  const recovery: WorkLoop = createWorkLoop({
    name: 'deliveries',
    intervalMs: Math.max(scan, 2_000),
    pass: async () => {
      await recoveryPass();
      await prune();
    },
    logger: log,
  });

  const track = (p: Promise<void>): void => {
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };

  // Accepted deliveries are applied one at a time, yielding in between: the webhook answers (which read and
  // write the store too) wait for at most one background transaction. A flood is answered faster than it is
  // applied, so the queue in memory is bounded: a delivery beyond it is already in the store, leased for a few
  // seconds, and the recovery sweep applies it when the lease runs out. Queued items keep their events, not
  // their bodies (up to maxBodyBytes each).
  const queue: Array<{ d: StoredDelivery; events: readonly ForgeEvent[] }> = [];
  let draining = false;
  const drain = (): void => {
    if (draining) return;
    draining = true;
    track(
      (async () => {
        try {
          for (let item = queue.shift(); item; item = queue.shift()) {
            deps.metrics?.webhookQueue.set(queue.length);
            await processDelivery(item.d, item.events);
            await new Promise<void>((r) => setImmediate(r));
          }
        } finally {
          draining = false;
          if (queue.length > 0 && !stopped) drain();
        }
      })(),
    );
  };

  return {
    ensureFollow: async (input) => {
      const r = await deps.store.pipelines.ensureFollow(
        {
          ref: input.ref,
          url: input.url,
          channel: input.channel,
          threadTs: input.threadTs,
          changeId: input.changeId,
          followedBy: input.followedBy ?? null,
        },
        storeTiming,
      );
      if (r.created) {
        mrWorker.kick();
        reconciler.kick(now() + t.coalesceMs + 5);
      }
      return { followId: r.follow.id, created: r.created, active: r.follow.active };
    },
    async stopFollows(ref, channel, by) {
      return (await deps.store.pipelines.stopFollows(ref, channel, by)).length;
    },
    async listFollows(ref, channel) {
      return (await deps.store.pipelines.listFollows(ref, channel)).map((f) => ({
        channel: f.channel,
        threadTs: f.threadTs,
      }));
    },
    async isFollowed(events) {
      for (const e of events) if ((await deps.store.pipelines.matchEvent(e)) !== null) return true;
      return false;
    },
    accept(delivery, events) {
      if (stopped) return; // recorded: the next start (or another replica) applies it
      if (queue.length >= MAX_QUEUED_DELIVERIES) {
        deps.metrics?.webhookDeferred.inc();
        return; // recorded and leased: the recovery sweep applies it once the lease runs out
      }
      queue.push({ d: { ...delivery, body: '' }, events });
      deps.metrics?.webhookQueue.set(queue.length);
      drain();
    },
    missed() {
      syncOwed = true;
    },
    async retryFailedJobs(value) {
      const parsed = parseRetryButtonValue(value);
      if (!parsed)
        return {
          kind: 'stale',
          reason: 'This button does not belong to a pipeline opsbot knows.',
          target: null,
        };
      const snap = await deps.store.pipelines.getPipeline(parsed.pipelineId);
      if (!snap) return { kind: 'stale', reason: 'opsbot no longer knows this pipeline.', target: null };
      const p = snap.pipeline;
      const target = `${p.repo}#${p.key}`;
      const label = buildPipelineView(
        snap,
        mrViewOf({ forge: p.forge, repo: p.repo, number: 0, url: null }),
        new Date(),
      ).label;
      if (p.completion !== parsed.completion || p.status !== 'failed') {
        return {
          kind: 'stale',
          reason: `${label} is ${p.status === 'failed' ? 'a newer attempt' : p.status} now: nothing to retry from this result.`,
          target,
        };
      }
      const forge = deps.forgeFor(p.forge);
      if (!forge)
        return { kind: 'unavailable', reason: `forges.${p.forge} is not configured in this opsbot.`, target };
      const runIds = snap.runs.filter((r) => r.status === 'failed').map((r) => r.runId);
      await forge.retryFailedJobs(p.repo, { key: p.key, runIds });
      return { kind: 'retried', pipelineLabel: label, url: p.url, target };
    },
    start() {
      stopped = false;
      reconciler.start();
      mrWorker.start();
      recovery.start();
    },
    async stop() {
      stopped = true;
      await Promise.all([reconciler.stop(), mrWorker.stop(), recovery.stop()]);
      await Promise.allSettled([...pending]);
    },
  };
};
