import type { SlackBlock, SlackMessage } from '../../integrations/slack/port.js';
import type { LockList } from '../../playbooks/change/flow.js';
import type { ChangePlan } from '../../playbooks/change/types.js';
import { type CodeBlocks, escapeText, splitForCodeBlocks, truncate } from './text.js';

/**
 * Block Kit for the change flow (pure): the plan preview with Approve / Cancel, its later states, and the
 * short answers. Every builder stays inside Slack's limits (50 blocks, 3,000 chars per section, 2,000 per
 * button value) whatever the diff size: a long diff is cut at a line boundary, with a note, and each part
 * is its own code block, so a ``` fence is never split.
 */

export const APPROVE_ACTION = 'change_approve';
export const CANCEL_ACTION = 'change_cancel';
/** /amend: preview a change again on the branch's new head after it moved (value: the change id). */
export const AMEND_REPREVIEW_ACTION = 'amend_repreview';

const SECTION_MAX = 3000;
/** Code-block parts of a diff preview; 4 x ~2,900 chars is a lot of diff to read in a channel. */
const DIFF_PARTS = 4;

const forgeName = (kind: ChangePlan['forge']): string => (kind === 'gitlab' ? 'GitLab' : 'GitHub');

/** "merge request !12" on GitLab, "pull request #12" on GitHub. */
export const mrLabel = (kind: ChangePlan['forge'], number: number | null): string =>
  kind === 'gitlab'
    ? `merge request${number !== null ? ` !${number}` : ''}`
    : `pull request${number !== null ? ` #${number}` : ''}`;

export const mrLink = (kind: ChangePlan['forge'], url: string | null, number: number | null): string =>
  url ? `<${url}|${mrLabel(kind, number)}>` : mrLabel(kind, number);

const section = (text: string): SlackBlock => ({ type: 'section', text: { type: 'mrkdwn', text } });
const context = (text: string): SlackBlock => ({ type: 'context', elements: [{ type: 'mrkdwn', text }] });

export type DiffParts = CodeBlocks;

/**
 * A unified diff as at most `maxParts` code blocks of at most `max` chars each (fences included), cut at line
 * boundaries; a single line longer than a block is cut. Whatever does not fit is counted, not shown.
 */
export const splitDiff = (diff: string, maxParts = DIFF_PARTS, max = SECTION_MAX - 100): DiffParts =>
  splitForCodeBlocks(diff, { maxParts, max, longLines: 'cut' });

/** What a preview of a change shows. */
export interface ChangeView {
  readonly plan: ChangePlan;
  readonly requestedBy: string;
  /** Button value (change id + plan digest); null for a dry run (nothing stored, no buttons). */
  readonly buttonValue: string | null;
  /** "who may approve", already Slack-formatted. */
  readonly approvers: string;
}

export type ChangeState =
  | { readonly kind: 'preparing' } // posted, not yet recorded: no buttons
  | { readonly kind: 'awaiting' } // Approve / Cancel
  | { readonly kind: 'dry-run' }
  | { readonly kind: 'status'; readonly text: string }; // a final or intermediate state, no buttons

const amendLines = (plan: ChangePlan): string => {
  const r = plan.request as {
    mode?: string;
    mrUrl?: string;
    sourceRepo?: string;
    files?: readonly string[];
  };
  const mr = r.mrUrl ? `<${r.mrUrl}|${escapeText(plan.target)}>` : `\`${escapeText(plan.target)}\``;
  const files = (r.files ?? []).map((f) => `\`${escapeText(f)}\``);
  const fork = r.sourceRepo && r.sourceRepo !== plan.repo ? ` (fork \`${escapeText(r.sourceRepo)}\`)` : '';
  return [
    `*MR:* ${mr} · ${forgeName(plan.forge)}`,
    `*Branch:* \`${escapeText(plan.baseBranch)}\`${fork} @ \`${plan.baseSha.slice(0, 12)}\` (the head this diff was computed on; nothing is pushed if it moves)`,
    `*Mode:* ${r.mode === 'amend' ? 'amend the last commit (force-push with a lease on that head)' : 'add a commit'} · *File${files.length > 1 ? 's' : ''}:* ${files.join(', ')}`,
  ].join('\n');
};

const targetLines = (plan: ChangePlan): string => {
  if (plan.kind === 'amend') return amendLines(plan);
  const files = plan.files.map((f) => `\`${escapeText(f.path)}\`${f.before === null ? ' (new file)' : ''}`);
  return [
    `*Target:* \`${escapeText(plan.target)}\` · ${forgeName(plan.forge)} \`${escapeText(plan.repo)}\` · base \`${escapeText(plan.baseBranch)}\` @ \`${plan.baseSha.slice(0, 8)}\``,
    `*File${files.length > 1 ? 's' : ''}:* ${files.join(', ')}`,
    `*Branch:* \`${escapeText(plan.branch)}\``,
  ].join('\n');
};

/** The plan preview: root message of the change thread (or a dry-run answer, or a re-plan in the thread). */
export const buildChangeMessage = (
  view: ChangeView,
  state: ChangeState,
  options: { readonly intro?: string } = {},
): SlackMessage => {
  const { plan } = view;
  const command = plan.kind === 'tf-import' ? '/tf-import' : `/${plan.kind}`;
  const head =
    state.kind === 'dry-run'
      ? `*Dry run of ${command}* (nothing stored, nothing opened): ${escapeText(plan.summary)}`
      : `*${command}* requested by <@${view.requestedBy}>: ${escapeText(plan.summary)}`;
  const blocks: SlackBlock[] = [];
  if (options.intro) blocks.push(section(truncate(options.intro, SECTION_MAX)));
  blocks.push(section(truncate(head, SECTION_MAX)));
  blocks.push(section(truncate(targetLines(plan), SECTION_MAX)));
  const diff = splitDiff(plan.diff);
  for (const part of diff.parts) blocks.push(section(part));
  if (diff.truncated) {
    blocks.push(
      context(
        `:scissors: Diff truncated: ${diff.shownLines} of ${diff.totalLines} lines shown. The merge request holds the whole change.`,
      ),
    );
  }
  switch (state.kind) {
    case 'awaiting':
      if (view.buttonValue === null) break;
      blocks.push({
        type: 'actions',
        block_id: 'change_actions',
        elements: [
          {
            type: 'button',
            action_id: APPROVE_ACTION,
            style: 'primary',
            text: { type: 'plain_text', text: 'Approve' },
            value: view.buttonValue,
          },
          {
            type: 'button',
            action_id: CANCEL_ACTION,
            style: 'danger',
            text: { type: 'plain_text', text: 'Cancel' },
            value: view.buttonValue,
          },
        ],
      });
      blocks.push(context(`Approval: ${view.approvers}.`));
      break;
    case 'preparing':
      blocks.push(context(':hourglass_flowing_sand: Recording the change request…'));
      break;
    case 'dry-run':
      blocks.push(context('Dry run: run the command again without `--dry-run` to get Approve / Cancel.'));
      break;
    case 'status':
      blocks.push(section(truncate(state.text, SECTION_MAX)));
      break;
  }
  const text =
    state.kind === 'status'
      ? `${command} ${escapeText(plan.title)}: ${stripMrkdwn(state.text)}`
      : `${command} ${escapeText(plan.title)} (requested by <@${view.requestedBy}>)`;
  return { text: truncate(text, SECTION_MAX), blocks };
};

const stripMrkdwn = (text: string): string => truncate(text.replace(/<([^|>]+)\|([^>]+)>/g, '$2'), 500);

/** A one-line message in the change thread. */
export const buildThreadNote = (text: string): SlackMessage => ({
  text: stripMrkdwn(text),
  blocks: [section(truncate(text, SECTION_MAX))],
});

/** `/versionlock list`: the lock entries of the target's file at the base head. */
export const buildLockListMessage = (list: LockList): SlackMessage => {
  const t = list.target;
  const where = `\`${escapeText(t.path)}\` in ${forgeName(t.forge)} \`${escapeText(t.repo)}\` @ \`${escapeText(t.baseBranch)}\` (\`${list.ref.slice(0, 8)}\`, ${t.format})`;
  if (!list.exists) {
    return {
      text: `${t.path} does not exist yet`,
      blocks: [section(`${where}: the file does not exist yet, so nothing is locked.`)],
    };
  }
  const locks = list.entries.filter((e) => !e.exclude);
  const excludes = list.entries.filter((e) => e.exclude);
  const head = `*Target \`${escapeText(t.name)}\`*: ${where}: ${locks.length} lock${locks.length === 1 ? '' : 's'}${excludes.length ? `, ${excludes.length} exclude${excludes.length === 1 ? '' : 's'}` : ''}.`;
  const blocks: SlackBlock[] = [section(head)];
  if (list.entries.length > 0) {
    const lines = list.entries.map((e) => `${e.exclude ? '!' : ' '} ${e.text}`).join('\n');
    const diff = splitDiff(lines, 3);
    for (const part of diff.parts) blocks.push(section(part));
    if (diff.truncated) blocks.push(context(`${diff.shownLines} of ${diff.totalLines} entries shown.`));
  }
  return { text: `${locks.length} versionlock entries in ${t.path}`, blocks };
};
