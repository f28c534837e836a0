import type { SlackMessage } from '../../integrations/slack/port.js';
import type { ChangeNoteData } from '../../playbooks/change/notes.js';
import type { ChangePlan } from '../../playbooks/change/types.js';
import type { ChangeRequest } from '../../store/types.js';
import { buildChangeMessage, buildThreadNote, mrLink } from './change.js';
import { escapeText, truncate } from './text.js';

/**
 * What Slack shows of a change, as pure functions of its stored state: the root message (buttons while it
 * can be approved, its status line after), the thread notes, and the one-line "this change is already ..."
 * answer. The Slack reconciler renders these until the thread matches the store.
 */

const thread = (url: string | null): string => (url ? ` (<${url}|thread>)` : '');
const link = (c: ChangeRequest): string => mrLink(c.forge, c.mrUrl, c.mrNumber);
/** A forge user name (outside text): escaped, short. */
const forgeUser = (name: string | null): string => (name ? ` by ${escapeText(truncate(name, 80))}` : '');

/** The root message's status line for a change past approval; null while it awaits a decision. */
export const buildChangeStatusLine = (c: ChangeRequest, successorUrl: string | null): string | null => {
  switch (c.status) {
    case 'planned':
      return null;
    case 'failed':
      return `:warning: Could not apply the change: ${escapeText(truncate(c.reason ?? 'unknown error', 1500))}${c.errorRef ? ` (ref \`${escapeText(c.errorRef)}\`)` : ''}. Approve again to retry; what was already made is reused.`;
    case 'approved':
    case 'applying':
      return `:hourglass_flowing_sand: Approved by <@${c.approvedBy ?? '?'}>, applying…`;
    case 'open':
      return `:white_check_mark: Approved by <@${c.approvedBy ?? '?'}>: ${link(c)}`;
    case 'merged':
      return `:large_purple_circle: Merged${forgeUser(c.actor)}: ${link(c)}`;
    case 'closed':
      return `:no_entry_sign: Closed without merging${forgeUser(c.actor)}: ${link(c)}`;
    case 'cancelled':
      return c.actor
        ? `:x: Cancelled by <@${c.actor}>. Nothing was changed.`
        : `Nothing to do any more: ${escapeText(truncate(c.reason ?? 'the base branch already has it', 1500))}. No merge request was opened.`;
    case 'superseded':
      return `:arrows_counterclockwise: Superseded by a newer request of the same change${successorUrl ? `: <${successorUrl}|here>` : ''}.`;
  }
};

/** The root message of a change's thread, as its state says it must look. */
export const buildChangeRoot = (input: {
  readonly change: ChangeRequest;
  readonly plan: ChangePlan;
  /** "who may approve", Slack-formatted. */
  readonly approvers: string;
  readonly buttonValue: string;
  readonly successorUrl: string | null;
}): SlackMessage => {
  const { change, plan } = input;
  const line = buildChangeStatusLine(change, input.successorUrl);
  const awaiting = change.status === 'planned' || change.status === 'failed';
  const view = {
    plan,
    requestedBy: change.requestedBy,
    buttonValue: awaiting ? input.buttonValue : null,
    approvers: input.approvers,
  };
  if (awaiting) return buildChangeMessage(view, { kind: 'awaiting' }, line ? { intro: line } : {});
  return buildChangeMessage(view, { kind: 'status', text: line ?? '' });
};

/** A note in the change's thread. `blockId` marks it so a post that may have landed is found, not repeated. */
export const buildChangeNote = (
  note: ChangeNoteData,
  forge: ChangePlan['forge'],
  blockId: string,
): SlackMessage => {
  let text: string;
  switch (note.kind) {
    case 'approved':
      text = `Approved by <@${note.by}>, applying…${note.retry ? ' (retrying)' : ''}`;
      break;
    case 'opened':
      text = `:white_check_mark: ${note.reused ? 'Reusing' : 'Opened'} ${mrLink(forge, note.mrUrl, note.mrNumber)}.`;
      break;
    case 'replanned':
      text =
        ':arrows_counterclockwise: The base branch moved since the plan and the change is different now: the preview above shows the updated change. Nothing was written; approve it again to apply it.';
      break;
    case 'obsolete':
      text = `Nothing to do any more: ${escapeText(truncate(note.reason, 1500))}. No merge request was opened.`;
      break;
    case 'failed':
      text = `:warning: Could not apply the change: ${escapeText(truncate(note.reason, 1500))} (ref \`${escapeText(note.ref)}\`). Approve again to retry; what was already made is reused.`;
      break;
    case 'cancelled':
      text = `:x: Cancelled by <@${note.by}>. Nothing was changed.`;
      break;
    case 'waiting':
      text =
        ':hourglass: Another change to the same file is being applied; this one follows as soon as it is done.';
      break;
  }
  const message = buildThreadNote(text);
  const [first, ...rest] = message.blocks ?? [];
  return { ...message, blocks: first ? [{ ...first, block_id: blockId }, ...rest] : [] };
};

/** "This change is already ...": the answer to a click or a request that finds it past that point. */
export const buildChangeStateText = (c: ChangeRequest): string => {
  switch (c.status) {
    case 'approved':
    case 'applying':
      return `This change is already approved by <@${c.approvedBy ?? '?'}> and being applied${thread(c.threadUrl)}.`;
    case 'open':
      return `This change is already open: ${link(c)}${thread(c.threadUrl)}.`;
    case 'merged':
      return `This change is already merged: ${link(c)}.`;
    case 'closed':
      return `This change's ${link(c)} was closed without merging.`;
    case 'cancelled':
      return 'This change is already cancelled; nothing was changed.';
    case 'superseded':
      return 'This request was superseded by a newer request of the same change: use the latest preview.';
    case 'failed':
    case 'planned':
      return 'This change is still waiting for approval.';
  }
};
