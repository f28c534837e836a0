import type { SlackBlock, SlackMessage } from '../../integrations/slack/port.js';
import type { ChangeNoteData } from '../../playbooks/change/notes.js';
import type { ChangePlan } from '../../playbooks/change/types.js';
import type { ChangeRequest } from '../../store/types.js';
import { AMEND_REPREVIEW_ACTION, buildChangeMessage, buildThreadNote, mrLink } from './change.js';
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

/**
 * An /amend preview superseded by its branch's new head (someone pushed between the preview and the approval),
 * with no newer request of it yet: it points the user at "Preview again".
 */
const isOutOfDate = (c: ChangeRequest): boolean => c.kind === 'amend' && c.supersededBy === null;

/** The root message's status line for a change past approval; null while it awaits a decision. */
export const buildChangeStatusLine = (c: ChangeRequest, successorUrl: string | null): string | null => {
  switch (c.status) {
    case 'planned':
      return null;
    case 'failed':
      if (c.kind === 'amend')
        return `:warning: Nothing was pushed: ${escapeText(truncate(c.reason ?? 'unknown error', 1500))}${c.errorRef ? ` (ref \`${escapeText(c.errorRef)}\`)` : ''}. See the thread; Approve again retries on the head that was previewed.`;
      return `:warning: Could not apply the change: ${escapeText(truncate(c.reason ?? 'unknown error', 1500))}${c.errorRef ? ` (ref \`${escapeText(c.errorRef)}\`)` : ''}. Approve again to retry; what was already made is reused.`;
    case 'approved':
    case 'applying':
      return `:hourglass_flowing_sand: Approved by <@${c.approvedBy ?? '?'}>, applying…`;
    case 'open':
      if (c.kind === 'amend')
        return `:white_check_mark: Approved by <@${c.approvedBy ?? '?'}> and pushed to ${link(c)}${c.headSha ? ` (now at \`${c.headSha.slice(0, 12)}\`)` : ''}`;
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
      if (isOutOfDate(c))
        return `:arrows_counterclockwise: Out of date, not approvable any more: ${escapeText(truncate(c.reason ?? 'the branch moved since the preview', 1500))}; nothing was pushed. Use *Preview again* in the thread to preview this change on the new head.`;
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
  changeId: string | null = null,
): SlackMessage => {
  let text: string;
  let button: SlackBlock | null = null;
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
    case 'amend_pushed': {
      const mr = mrLink(forge, note.mrUrl, note.mrNumber);
      const branch = `\`${escapeText(note.branch)}\``;
      if (note.already) {
        text = `:white_check_mark: The change is already on ${branch} (at \`${note.newSha.slice(0, 12)}\`) of ${mr}: nothing more to push. Following its pipeline here.`;
      } else {
        const what =
          note.mode === 'amend'
            ? `Amended the last commit of ${branch}: \`${(note.oldSha ?? '').slice(0, 12)}\` -> \`${note.newSha.slice(0, 12)}\` (force-pushed with a lease on the previewed head)`
            : `Pushed commit \`${note.newSha.slice(0, 12)}\` onto ${branch} (on \`${(note.oldSha ?? '').slice(0, 12)}\`)`;
        text = `:white_check_mark: ${what} of ${mr}. Following its pipeline here.`;
        if (note.noteProblem)
          text += ` The note on the MR could not be left: ${escapeText(truncate(note.noteProblem, 300))}.`;
      }
      break;
    }
    case 'amend_head_moved': {
      const pushed = note.commits.length
        ? note.commits
            .slice(0, 10)
            .map(
              (c) =>
                `• \`${c.sha.slice(0, 12)}\` ${escapeText(truncate(c.author, 80))}: ${escapeText(truncate(c.subject, 200))}`,
            )
            .join('\n')
        : `• the branch now points at ${note.actual ? `\`${note.actual.slice(0, 12)}\`` : 'nothing (it was deleted)'}`;
      text = `:no_entry: \`${escapeText(note.branch)}\` moved since the preview (computed on \`${note.expected.slice(0, 12)}\`): *nothing was pushed*, nobody's commits were touched. Pushed since:\n${pushed}`;
      if (note.actual && changeId) {
        button = {
          type: 'actions',
          block_id: `${blockId}-actions`,
          elements: [
            {
              type: 'button',
              action_id: AMEND_REPREVIEW_ACTION,
              text: { type: 'plain_text', text: `Preview again on ${note.actual.slice(0, 8)}` },
              value: changeId,
            },
          ],
        };
      }
      break;
    }
  }
  const message = buildThreadNote(text);
  const [first, ...rest] = message.blocks ?? [];
  return {
    ...message,
    blocks: first ? [{ ...first, block_id: blockId }, ...rest, ...(button ? [button] : [])] : [],
  };
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
      if (isOutOfDate(c))
        return `This preview is out of date: ${escapeText(truncate(c.reason ?? 'the branch moved since the preview', 500))}, and nothing was pushed. Use *Preview again* in its thread${thread(c.threadUrl)} to preview it on the new head.`;
      return 'This request was superseded by a newer request of the same change: use the latest preview.';
    case 'failed':
    case 'planned':
      return 'This change is still waiting for approval.';
  }
};
