import type {
  ChangeNoteRepository,
  ChangePatch,
  ChangeRequest,
  ChangeStatus,
  StoreTx,
} from '../../store/types.js';
import type { ChangeNoteData } from './notes.js';

/**
 * The change lifecycle as one table: from-status x event -> to-status. `applyTransition` is the only code
 * that changes a change's status (the repository's compare-and-set is called from here only), so what a
 * change can do next is read here, nowhere else.
 *
 *   planned --approve--> approved --start--> applying --opened--> open --mr-merged--> merged
 *      ^                     |                 |  |  |             |  \--mr-closed--> closed --mr-opened--> open
 *      '------replan---------+-----------------'  |  '--fail--> failed --approve--> approved
 *   planned|failed --cancel--> cancelled          '--obsolete--> cancelled (the base already has it)
 *   planned|failed --supersede--> superseded (a newer request of the same change)
 *   applying --head-moved--> superseded (an /amend whose MR branch moved since its preview: nothing was pushed,
 *                                        the preview is out of date; "Preview again" makes a new change)
 */

export const CHANGE_EVENTS = [
  'approve',
  'cancel',
  'supersede',
  'start',
  'opened',
  'replan',
  'obsolete',
  'head-moved',
  'fail',
  'mr-opened',
  'mr-merged',
  'mr-closed',
] as const;
export type ChangeEvent = (typeof CHANGE_EVENTS)[number];

export const CHANGE_STATUSES: readonly ChangeStatus[] = [
  'planned',
  'approved',
  'applying',
  'open',
  'merged',
  'closed',
  'cancelled',
  'failed',
  'superseded',
];

type Row = readonly [from: ChangeStatus, event: ChangeEvent, to: ChangeStatus];

export const TRANSITIONS: readonly Row[] = [
  ['planned', 'approve', 'approved'],
  ['failed', 'approve', 'approved'], // Approve again after a failed apply: what it made is reused
  ['planned', 'cancel', 'cancelled'],
  ['failed', 'cancel', 'cancelled'],
  ['planned', 'supersede', 'superseded'],
  ['failed', 'supersede', 'superseded'],
  ['approved', 'start', 'applying'],
  ['applying', 'opened', 'open'],
  ['applying', 'replan', 'planned'], // the base moved and the edit differs: approve the new one
  ['applying', 'obsolete', 'cancelled'], // the base moved and already holds the change
  // An /amend's branch moved since its preview: that preview can never be pushed, so it is not approvable
  // again (a failure would be); it is superseded by the branch's new head, and "Preview again" asks anew.
  ['applying', 'head-moved', 'superseded'],
  ['approved', 'fail', 'failed'],
  ['applying', 'fail', 'failed'],
  // The forge tells: an MR of ours (found by number, or by branch while it was being recorded).
  ['applying', 'mr-opened', 'open'],
  ['closed', 'mr-opened', 'open'], // reopened
  ['applying', 'mr-merged', 'merged'],
  ['open', 'mr-merged', 'merged'],
  ['closed', 'mr-merged', 'merged'], // reopened and merged, the reopen event lost or late
  ['applying', 'mr-closed', 'closed'],
  ['open', 'mr-closed', 'closed'],
];

/** The status `event` moves `from` to, or null when the table has no such move. */
export const nextStatus = (from: ChangeStatus, event: ChangeEvent): ChangeStatus | null =>
  TRANSITIONS.find(([f, e]) => f === from && e === event)?.[2] ?? null;

/** Statuses an event applies to. Each event has one target status (checked when this module loads). */
export const fromStatuses = (event: ChangeEvent): ChangeStatus[] =>
  TRANSITIONS.filter(([, e]) => e === event).map(([f]) => f);

const targetOf = new Map<ChangeEvent, ChangeStatus>();
for (const [, e, to] of TRANSITIONS) {
  const seen = targetOf.get(e);
  if (seen && seen !== to) throw new Error(`transitions table: event ${e} has two targets`);
  targetOf.set(e, to);
}

/** Statuses in which a change holds its branch (the partial unique index of the store). */
export const HOLDS_BRANCH: readonly ChangeStatus[] = ['planned', 'approved', 'applying', 'open', 'failed'];
/** A newer request of the same change is told to use the one in progress instead. */
export const IN_PROGRESS: readonly ChangeStatus[] = ['approved', 'applying', 'open'];
/** Statuses a change never leaves. */
export const FINAL: readonly ChangeStatus[] = CHANGE_STATUSES.filter(
  (s) => !TRANSITIONS.some(([f]) => f === s),
);

/** Notes seq: ten per rev, so the notes of one transition keep their order after the earlier ones. */
const noteSeq = (rev: number, i: number): number => rev * 10 + i;

export const addNotes = async (
  notes: ChangeNoteRepository,
  change: ChangeRequest,
  data: readonly ChangeNoteData[],
): Promise<void> => {
  let i = 0;
  for (const note of data) {
    const { kind, ...payload } = note;
    await notes.add({
      changeId: change.id,
      seq: noteSeq(change.rev, i++),
      kind,
      payload: JSON.stringify(payload),
    });
  }
};

/**
 * Moves a change by `event` if its status allows it (a compare-and-set: of two racing writers one wins),
 * with `patch`, and queues `notes` for its thread in the same transaction. Null when the change is not in a
 * status the event applies to (any more).
 */
export const applyTransition = async (
  tx: StoreTx,
  changeId: string,
  event: ChangeEvent,
  patch: ChangePatch = {},
  notes: readonly ChangeNoteData[] = [],
): Promise<ChangeRequest | null> => {
  const to = targetOf.get(event) as ChangeStatus;
  const moved = await tx.changes.transition(changeId, fromStatuses(event), { ...patch, status: to });
  if (moved && notes.length > 0) await addNotes(tx.notes, moved, notes);
  return moved;
};
