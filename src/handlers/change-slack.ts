import { IntegrationError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { slackErrorOf } from '../integrations/slack/errors.js';
import type { SlackPort } from '../integrations/slack/port.js';
import { buildChangeButtonValue, type ChangeCommand, commandOfKind } from '../playbooks/change/flow.js';
import { parseNote } from '../playbooks/change/notes.js';
import { parseStoredPlan } from '../playbooks/change/plan-schema.js';
import type { ChangeRequest, Store } from '../store/types.js';
import { buildChangeNote, buildChangeRoot } from './blocks/change-state.js';

/**
 * Brings each change's Slack thread to its stored state, level-triggered: the queued notes are posted in
 * order, then the root message is rendered from the change (buttons while it awaits a decision, its status
 * after). A change whose thread is behind (rev > slack_rev) is due; one replica at a time works on it (a
 * lease in the store). A failed call is retried later (Retry-After when Slack gives one, else backoff), so an
 * outage or a restart only delays the thread. A note post that may have landed before a crash is looked up
 * in the thread (by its block_id) before it is posted again: no note is posted twice.
 */

export interface ChangeSlackDeps {
  readonly store: Store;
  readonly slack: SlackPort;
  readonly logger: Logger;
  readonly replicaId: string;
  /** "who may approve" for a command, Slack-formatted. */
  readonly approvers: (command: ChangeCommand) => string;
  readonly now?: () => Date;
  /**
   * How long one replica owns a change's thread while syncing it (renewed before each Slack call): a killed
   * replica's thread is taken over this long after its last call.
   */
  readonly leaseMs?: number;
  /** First retry delay after a failure without Retry-After; doubled per failure, at most 5 minutes. */
  readonly retryBaseMs?: number;
}

export interface ChangeSlackReconciler {
  /** Something changed: sync soon (this replica), without waiting for the next period. */
  kick(): void;
  /** One pass over the due changes (tests; the loop calls it). */
  reconcileDue(): Promise<void>;
  start(options: { readonly intervalMs: number }): void;
  stop(): Promise<void>;
}

/** Slack answers that retrying cannot fix: the item is given up (logged) so the rest of the thread goes on. */
const PERMANENT = new Set([
  'channel_not_found',
  'not_in_channel',
  'is_archived',
  'message_not_found',
  'thread_not_found',
  'cant_update_message',
  'edit_window_closed',
  'invalid_blocks',
  'msg_too_long',
  'no_text',
  'restricted_action',
]);

const isPermanent = (err: unknown): boolean => PERMANENT.has(slackErrorOf(err) ?? '');

const retryAfterMs = (err: unknown): number | null => {
  if (!(err instanceof IntegrationError)) return null;
  const s = err.details.retryAfterSeconds;
  return typeof s === 'number' && Number.isFinite(s) ? s * 1000 : null;
};

export const noteBlockId = (noteId: string): string => `opsbot-note-${noteId}`;

const commandOf = (c: ChangeRequest): ChangeCommand => commandOfKind(c.kind);

export const createChangeSlackReconciler = (deps: ChangeSlackDeps): ChangeSlackReconciler => {
  const { store, slack } = deps;
  const now = deps.now ?? (() => new Date());
  const leaseMs = deps.leaseMs ?? 20_000;
  const retryBaseMs = deps.retryBaseMs ?? 1_000;
  const log = deps.logger.child({ component: 'change-slack' });
  let pausedUntil = 0; // a 429 holds every call of this replica until Retry-After
  let timer: NodeJS.Timeout | null = null;
  let intervalMs = 0;
  let pass: Promise<void> | null = null;
  let again = false;
  let stopped = false;

  /** Finds a note that an earlier attempt may have posted (the process died before recording it). */
  const findPosted = async (channel: string, threadTs: string, blockId: string): Promise<string | null> => {
    try {
      const replies = await slack.listThreadReplies(channel, threadTs);
      return replies.find((r) => r.blockIds.includes(blockId))?.ts ?? null;
    } catch (err) {
      if (!isPermanent(err) && slackErrorOf(err) !== 'missing_scope') throw err;
      log.warn(
        { err, channel },
        'cannot read the thread to check for an earlier post; posting the note again',
      );
      return null;
    }
  };

  const sync = async (id: string): Promise<void> => {
    const change = await store.changes.claimSlack(id, deps.replicaId, leaseMs);
    if (!change) return;
    // Renewed while we work: one Slack call (with the client's own retries) may outlast the lease, and
    // another replica must not take the thread over (and post a note twice) while we are alive.
    const heartbeat = setInterval(
      () => {
        store.changes
          .claimSlack(id, deps.replicaId, leaseMs)
          .catch((err: unknown) => log.warn({ err, changeId: id }, 'thread lease renewal failed'));
      },
      Math.max(100, Math.floor(leaseMs / 3)),
    );
    heartbeat.unref();
    try {
      const channel = change.slackChannel;
      const root = change.slackThreadTs;
      if (!channel || !root) {
        await store.changes.finishSlack(id, deps.replicaId, change.rev);
        return;
      }
      const plan = parseStoredPlan(change.plan, change.id);
      /** Renews our lease before a Slack call; false when another replica took the thread over. */
      const renew = async (): Promise<boolean> =>
        (await store.changes.claimSlack(id, deps.replicaId, leaseMs)) !== null;
      for (const note of await store.notes.list(id)) {
        if (!(await renew())) return;
        if (note.postedTs !== null) continue;
        const data = parseNote(note.kind, note.payload);
        if (!data) {
          await store.notes.markPosted(note.id, '');
          continue;
        }
        const blockId = noteBlockId(note.id);
        if (note.attempts > 0) {
          const ts = await findPosted(channel, root, blockId);
          if (ts) {
            await store.notes.markPosted(note.id, ts);
            continue;
          }
        }
        await store.notes.markAttempt(note.id);
        try {
          const posted = await slack.postMessage(channel, {
            ...buildChangeNote(data, plan.forge, blockId, change.id),
            threadTs: root,
          });
          await store.notes.markPosted(note.id, posted.ts);
        } catch (err) {
          if (!isPermanent(err)) throw err;
          log.error({ err, changeId: id, note: note.kind }, 'Slack refused a change note; giving it up');
          await store.notes.markPosted(note.id, '');
        }
      }
      const successor = change.supersededBy ? await store.changes.get(change.supersededBy) : null;
      const message = buildChangeRoot({
        change,
        plan,
        approvers: deps.approvers(commandOf(change)),
        buttonValue: buildChangeButtonValue(change.id, plan),
        successorUrl: successor?.threadUrl ?? null,
      });
      if (!(await renew())) return;
      try {
        await slack.updateMessage(channel, root, message);
      } catch (err) {
        if (!isPermanent(err)) throw err;
        log.error({ err, changeId: id }, 'Slack refused the root message update; giving it up');
      }
      await store.changes.finishSlack(id, deps.replicaId, change.rev);
    } catch (err) {
      const backoff = Math.min(300_000, retryBaseMs * 2 ** Math.min(10, change.slackAttempts));
      const wait = Math.max(retryAfterMs(err) ?? 0, backoff);
      const at = new Date(now().getTime() + wait);
      if (retryAfterMs(err) !== null) pausedUntil = Math.max(pausedUntil, at.getTime());
      log.warn(
        { err, changeId: id, retryAt: at },
        'could not bring the change thread up to date; retrying later',
      );
      await store.changes.deferSlack(id, deps.replicaId, at).catch(() => undefined);
    } finally {
      clearInterval(heartbeat);
    }
  };

  const reconcileDue = async (): Promise<void> => {
    for (let round = 0; round < 10; round++) {
      if (stopped || now().getTime() < pausedUntil) return;
      const due = await store.changes.listSlackDue(20);
      if (due.length === 0) return;
      for (const id of due) {
        if (stopped || now().getTime() < pausedUntil) return;
        await sync(id);
      }
      if (due.length < 20) return;
    }
  };

  const run = (): void => {
    if (stopped) return;
    if (pass) {
      again = true;
      return;
    }
    if (timer) clearTimeout(timer);
    timer = null;
    pass = reconcileDue()
      .catch((err: unknown) => log.warn({ err }, 'slack reconciler pass failed'))
      .finally(() => {
        pass = null;
        if (again) {
          again = false;
          run();
        } else schedule();
      });
  };

  const schedule = (): void => {
    if (stopped || intervalMs <= 0 || timer) return;
    timer = setTimeout(() => {
      timer = null;
      run();
    }, intervalMs);
    timer.unref();
  };

  return {
    kick: () => {
      if (!stopped) setImmediate(run);
    },
    reconcileDue,
    start(options) {
      intervalMs = options.intervalMs;
      stopped = false;
      schedule();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      await pass;
    },
  };
};
