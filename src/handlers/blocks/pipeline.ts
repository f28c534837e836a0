import type { CiStatus } from '../../core/ci.js';
import type { SlackBlock, SlackMessage } from '../../integrations/slack/port.js';
import { formatMrRef } from '../../playbooks/pipelines/mr-ref.js';
import type {
  EndedView,
  JobView,
  MrView,
  PipelineRenderers,
  PipelineView,
  ResultView,
} from '../../playbooks/pipelines/view.js';
import { escapeText, SLACK_LIMITS, splitForCodeBlocks, truncate } from './text.js';

/**
 * Block Kit for the pipeline follower (pure): the status message of a pipeline in the MR's thread, edited in
 * place; the result reply (broadcast to the channel on failure, with each failed job's log tail, "Retry
 * failed jobs" and "Open pipeline"); the "merged / closed by" reply. Every forge text is escaped; every block
 * stays inside Slack's limits whatever the number of jobs or the length of a log.
 */

export const RETRY_ACTION = 'pipeline_retry';
export const OPEN_ACTION = 'pipeline_open';

const STATUS_EMOJI: Readonly<Record<CiStatus, string>> = {
  created: ':white_circle:',
  pending: ':hourglass:',
  manual: ':raised_hand:',
  running: ':large_blue_circle:',
  success: ':white_check_mark:',
  failed: ':x:',
  canceled: ':no_entry_sign:',
  skipped: ':fast_forward:',
};

const STATUS_WORD: Readonly<Record<CiStatus, string>> = {
  created: 'created',
  pending: 'pending',
  manual: 'waiting for a manual action',
  running: 'running',
  success: 'passed',
  failed: 'failed',
  canceled: 'canceled',
  skipped: 'skipped',
};

/** "1m 02s", "45s", "2h 03m". */
export const formatDuration = (ms: number | null): string => {
  if (ms === null) return '';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
};

/** A Slack link to a forge URL (http(s) only), with an escaped label; the label alone otherwise. */
const link = (url: string | null, label: string): string =>
  url && /^https?:\/\//i.test(url)
    ? `<${escapeText(url).replace(/\|/g, '%7C')}|${escapeText(label)}>`
    : escapeText(label);

export const mrLabel = (mr: MrView): string => formatMrRef(mr);

const section = (text: string): SlackBlock => ({
  type: 'section',
  text: { type: 'mrkdwn', text: truncate(text, SLACK_LIMITS.sectionText) },
});
const context = (text: string): SlackBlock => ({
  type: 'context',
  elements: [{ type: 'mrkdwn', text: truncate(text, SLACK_LIMITS.contextElementText) }],
});

const headline = (v: PipelineView): string => {
  const parts = [`${STATUS_EMOJI[v.status]} *${link(v.url, v.label)}* ${STATUS_WORD[v.status]}`];
  if (v.mr.number > 0) parts.push(`MR ${link(v.mr.url, mrLabel(v.mr))}`);
  const where = v.ref && !v.ref.startsWith('refs/') ? `\`${escapeText(v.ref)}\` @ ` : '';
  parts.push(`${where}\`${escapeText(v.sha.slice(0, 8))}\``);
  if (v.durationMs !== null) parts.push(formatDuration(v.durationMs));
  return parts.join(' · ');
};

const jobLine = (j: JobView): string => {
  const extra = [
    j.durationMs !== null ? formatDuration(j.durationMs) : STATUS_WORD[j.status],
    j.allowFailure && j.status === 'failed' ? 'allowed to fail' : '',
  ].filter(Boolean);
  return `${STATUS_EMOJI[j.status]} ${link(j.url, j.name)} · ${extra.join(' · ')}`;
};

/** Room for stage sections: 50 blocks minus the head, superseded note and footer. */
const MAX_STAGE_BLOCKS = SLACK_LIMITS.blocksPerMessage - 4;

export const buildPipelineStatusMessage = (v: PipelineView): SlackMessage => {
  const blocks: SlackBlock[] = [section(headline(v))];
  if (v.supersededBy) {
    blocks.push(
      context(
        `:arrows_counterclockwise: Superseded by ${link(v.supersededBy.url, v.supersededBy.label)} (a newer push); this one is no longer followed.`,
      ),
    );
  }
  const stages = v.stages.slice(0, MAX_STAGE_BLOCKS);
  for (const stage of stages) {
    const head = `*${link(stage.url, stage.name || 'jobs')}* ${STATUS_EMOJI[stage.status]}`;
    const lines = stage.jobs.map(jobLine);
    let text = [head, ...lines].join('\n');
    if (text.length > SLACK_LIMITS.sectionText) {
      // Keep whole lines; say how many did not fit.
      const kept: string[] = [head];
      let size = head.length;
      for (const l of lines) {
        if (size + l.length + 40 > SLACK_LIMITS.sectionText) break;
        kept.push(l);
        size += l.length + 1;
      }
      kept.push(`_…and ${lines.length - (kept.length - 1)} more jobs_`);
      text = kept.join('\n');
    }
    blocks.push(section(text));
  }
  if (v.stages.length > stages.length) {
    blocks.push(
      context(`…and ${v.stages.length - stages.length} more stages: open the pipeline to see them.`),
    );
  }
  if (v.stages.length === 0) blocks.push(context('No jobs yet.'));
  blocks.push(
    context(
      `Updated <!date^${Math.floor(v.updatedAt.getTime() / 1000)}^{time_secs}|${v.updatedAt.toISOString()}>`,
    ),
  );
  const fallback = `${v.label} ${STATUS_WORD[v.status]}${v.mr.number > 0 ? ` for ${mrLabel(v.mr)}` : ''}${v.supersededBy ? ' (superseded)' : ''}`;
  return { text: truncate(escapeText(fallback), SLACK_LIMITS.messageText), blocks };
};

/**
 * The end of a job log (where the error is) as one code block within `max`: the last lines that fit, each cut
 * at 500 characters, through the one code-block splitter (escaped, fence-safe).
 */
const fenced = (lines: readonly string[], max: number): string => {
  const cut = lines.map((l) => truncate(l, 500));
  let first = cut.length;
  let size = 8;
  while (first > 0) {
    const next = escapeText(cut[first - 1] as string).length + 1;
    if (size + next > max) break;
    size += next;
    first -= 1;
  }
  for (;;) {
    const { parts, truncated } = splitForCodeBlocks(cut.slice(first).join('\n'), {
      max,
      maxParts: 1,
      longLines: 'cut',
    });
    if (!truncated || first >= cut.length - 1) return parts[0] ?? '``` ```';
    first += 1; // a ``` broken up made it longer than measured: drop one more line from the top
  }
};

export const buildPipelineResultMessage = (r: ResultView): SlackMessage => {
  const v = r.pipeline;
  const mr = v.mr.number > 0 ? ` for MR ${link(v.mr.url, mrLabel(v.mr))}` : '';
  const took = v.durationMs !== null ? ` in ${formatDuration(v.durationMs)}` : '';
  const head = `${STATUS_EMOJI[r.outcome]} *${link(v.url, v.label)} ${STATUS_WORD[r.outcome]}*${mr}${took}.`;
  const blocks: SlackBlock[] = [section(head)];
  for (const j of r.failedJobs) {
    const where = j.stage ? ` (${escapeText(j.stage)})` : '';
    const reason = j.failureReason ? ` · ${escapeText(j.failureReason.replace(/_/g, ' '))}` : '';
    blocks.push(section(`:x: *${link(j.url, j.name)}*${where}${reason}`));
    if (j.logTail === null) blocks.push(context('The job log could not be read: open the job to see it.'));
    else if (j.logTail.length > 0) blocks.push(section(fenced(j.logTail, SLACK_LIMITS.sectionText - 50)));
  }
  if (r.moreFailed > 0)
    blocks.push(context(`…and ${r.moreFailed} more failed jobs: open the pipeline to see them.`));
  const buttons: SlackBlock[] = [];
  if (r.retryValue) {
    buttons.push({
      type: 'button',
      action_id: RETRY_ACTION,
      text: { type: 'plain_text', text: 'Retry failed jobs' },
      value: truncate(r.retryValue, SLACK_LIMITS.buttonValue),
    });
  }
  if (v.url && /^https?:\/\//i.test(v.url) && v.url.length <= SLACK_LIMITS.buttonUrl) {
    buttons.push({
      type: 'button',
      action_id: OPEN_ACTION,
      text: { type: 'plain_text', text: 'Open pipeline' },
      url: v.url,
    });
  }
  if (buttons.length) blocks.push({ type: 'actions', block_id: 'pipeline_result', elements: buttons });
  const failedNames = r.failedJobs.map((j) => j.name).join(', ');
  const text = `${v.label} ${STATUS_WORD[r.outcome]}${v.mr.number > 0 ? ` for ${mrLabel(v.mr)}` : ''}${failedNames ? `: ${failedNames}` : ''}`;
  return {
    text: truncate(escapeText(text), SLACK_LIMITS.messageText),
    blocks: blocks.slice(0, SLACK_LIMITS.blocksPerMessage),
  };
};

export const buildMergeRequestEndedMessage = (e: EndedView): SlackMessage => {
  const who = e.actor ? ` by ${escapeText(e.actor)}` : '';
  const label = link(e.mr.url, mrLabel(e.mr));
  const text =
    e.state === 'merged'
      ? `:tada: ${label} was merged${who}. No longer following its CI.`
      : `:no_entry: ${label} was closed without merging${who}. No longer following its CI.`;
  return { text: truncate(text, SLACK_LIMITS.messageText), blocks: [section(text)] };
};

export const pipelineRenderers: PipelineRenderers = {
  status: buildPipelineStatusMessage,
  result: buildPipelineResultMessage,
  ended: buildMergeRequestEndedMessage,
};
