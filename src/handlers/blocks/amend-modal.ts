import type { SlackView } from '../../integrations/slack/port.js';
import { truncate } from './text.js';

/**
 * The `/amend <mr>` form (a modal opened with views.open) and what its submission carries, as data. Block and
 * action ids are the keys of the `view_submission`'s `state.values`; `private_metadata` carries what Slack
 * does not give back (the MR as typed, the channel the command came from).
 */

export const AMEND_MODAL_CALLBACK = 'amend_modal';
export const AMEND_BLOCKS = {
  diff: 'amend_diff',
  typed: 'amend_typed',
  mode: 'amend_mode',
  message: 'amend_message',
  reason: 'amend_reason',
} as const;
const VALUE = 'value';
/** Slack's cap for a plain_text_input (multiline or not). */
const MAX_INPUT = 3000;
const MAX_TITLE = 24;

export interface AmendModalMetadata {
  readonly mr: string;
  readonly channelId: string;
}

const plain = (text: string) => ({ type: 'plain_text', text, emoji: false }) as const;

export const buildAmendModal = (o: {
  readonly mrLabel: string;
  readonly metadata: AmendModalMetadata;
}): SlackView => ({
  type: 'modal',
  callback_id: AMEND_MODAL_CALLBACK,
  title: plain(truncate('Amend a merge request', MAX_TITLE)),
  submit: plain('Preview'),
  close: plain('Cancel'),
  private_metadata: JSON.stringify(o.metadata),
  blocks: [
    {
      type: 'section',
      // plain_text: the MR label comes from the user and is shown as is.
      text: plain(
        truncate(`Change ${o.mrLabel}. The preview is posted in the channel, with Approve and Cancel.`, 3000),
      ),
    },
    {
      type: 'input',
      block_id: AMEND_BLOCKS.diff,
      optional: true,
      label: plain('Change (a unified diff)'),
      hint: plain('Applied with git apply on the branch head; paths relative to the repository root.'),
      element: {
        type: 'plain_text_input',
        action_id: VALUE,
        multiline: true,
        max_length: MAX_INPUT,
        placeholder: plain('--- a/file\n+++ b/file\n@@ ...'),
      },
    },
    {
      type: 'input',
      block_id: AMEND_BLOCKS.typed,
      optional: true,
      label: plain("Or one of opsbot's changes"),
      hint: plain(
        'Instead of a diff: "versionlock elasticsearch 7.10.2-1", "versionlock remove kibana", "tf-import <address> <id>" (always a new commit).',
      ),
      element: { type: 'plain_text_input', action_id: VALUE, max_length: 500 },
    },
    {
      type: 'input',
      block_id: AMEND_BLOCKS.mode,
      label: plain('Mode'),
      element: {
        type: 'radio_buttons',
        action_id: VALUE,
        initial_option: { text: plain('Add a commit'), value: 'add' },
        options: [
          { text: plain('Add a commit'), value: 'add' },
          {
            text: plain('Amend the last commit'),
            value: 'amend',
            description: plain('Pushed with --force-with-lease on the previewed head'),
          },
        ],
      },
    },
    {
      type: 'input',
      block_id: AMEND_BLOCKS.message,
      optional: true,
      label: plain('Commit message'),
      element: { type: 'plain_text_input', action_id: VALUE, max_length: 500 },
    },
    {
      type: 'input',
      block_id: AMEND_BLOCKS.reason,
      optional: true,
      label: plain('Reason (for the note on the MR)'),
      element: { type: 'plain_text_input', action_id: VALUE, multiline: true, max_length: 1000 },
    },
  ],
});

export interface AmendSubmission {
  readonly metadata: AmendModalMetadata;
  readonly patch: string;
  readonly mode: 'add' | 'amend';
  readonly message: string | null;
  readonly reason: string | null;
}

type StateValues = Readonly<
  Record<
    string,
    Readonly<Record<string, { value?: string | null; selected_option?: { value?: string } | null }>>
  >
>;

/** The submission's fields, or the per-block errors Slack shows under them (`response_action: 'errors'`). */
export const readAmendSubmission = (
  values: StateValues,
  privateMetadata: string,
):
  | {
      readonly ok: true;
      readonly submission: Omit<AmendSubmission, 'patch'> & {
        readonly diffText: string;
        /** "versionlock ..." / "tf-import ...": one of opsbot's typed changes instead of a diff. */
        readonly typed: string | null;
      };
    }
  | { readonly ok: false; readonly errors: Record<string, string> } => {
  let metadata: AmendModalMetadata;
  try {
    const m = JSON.parse(privateMetadata) as Partial<AmendModalMetadata>;
    if (typeof m.mr !== 'string' || typeof m.channelId !== 'string') throw new Error('shape');
    metadata = { mr: m.mr, channelId: m.channelId };
  } catch {
    return {
      ok: false,
      errors: { [AMEND_BLOCKS.diff]: 'This form is not one opsbot opened: run /amend again.' },
    };
  }
  const text = (block: string): string | null => {
    const v = values[block]?.[VALUE]?.value;
    return typeof v === 'string' && v.trim() !== '' ? v.trim() : null;
  };
  const diffText = values[AMEND_BLOCKS.diff]?.[VALUE]?.value ?? '';
  const typed = text(AMEND_BLOCKS.typed);
  if (diffText.trim() === '' && typed === null)
    return {
      ok: false,
      errors: {
        [AMEND_BLOCKS.diff]: "Paste the unified diff to apply (or give one of opsbot's changes below).",
      },
    };
  if (diffText.trim() !== '' && typed !== null)
    return { ok: false, errors: { [AMEND_BLOCKS.typed]: 'Give a diff or one of these, not both.' } };
  const mode = values[AMEND_BLOCKS.mode]?.[VALUE]?.selected_option?.value === 'amend' ? 'amend' : 'add';
  return {
    ok: true,
    submission: {
      metadata,
      diffText,
      typed,
      mode,
      message: text(AMEND_BLOCKS.message),
      reason: text(AMEND_BLOCKS.reason),
    },
  };
};
