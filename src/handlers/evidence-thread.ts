import { isNotInChannel } from '../integrations/slack/errors.js';
import type { SlackBlock, SlackMessage } from '../integrations/slack/port.js';
import { escapeText, splitForCodeBlocks } from './blocks/text.js';
import type { CommandContext } from './pipeline.js';

/**
 * The thread an evidence command (`/why-reboot`, `/diag`) answers in: a progress message owns it (slash
 * commands carry no ts), the verdict replaces that message, the full report follows in the thread. In a
 * channel the bot is not in there is no thread: the answer goes to the user alone.
 */

export interface ThreadRoot {
  readonly channel: string;
  readonly ts: string;
}

/** Posts the progress message; null (and the user told, privately) where the bot cannot post. */
export const openEvidenceThread = async (
  ctx: CommandContext,
  progress: SlackMessage,
  doing: string,
  vm: string,
): Promise<ThreadRoot | null> => {
  try {
    return await ctx.slack.postMessage(ctx.invocation.channelId, progress);
  } catch (err) {
    if (!isNotInChannel(err)) throw err;
    ctx.logger.info('bot cannot post in this channel; answering privately');
    await ctx.reply({
      text: `I cannot post in this channel (invite me with \`/invite @opsbot\`). ${doing} ${escapeText(vm)} for you only…`,
    });
    return null;
  }
};

/** The progress message says the work failed, with the correlation id; a Slack error here is not the news. */
export const markEvidenceThreadFailed = async (
  ctx: CommandContext,
  root: ThreadRoot | null,
  what: string,
  vm: string,
): Promise<void> => {
  if (!root) return;
  await ctx.slack
    .updateMessage(root.channel, root.ts, {
      text: `Could not ${what} ${escapeText(vm)} (ref ${ctx.correlationId}).`,
    })
    .catch(() => undefined);
};

/**
 * The answer in place of the progress message, or privately where there is no thread. When Slack will not
 * edit the progress message (chat.update failing after its retries), the answer goes into the thread as a
 * reply instead: the channel must not be left with "Checking…" while only the asker hears what went wrong.
 */
export const showEvidenceAnswer = async (
  ctx: CommandContext,
  root: ThreadRoot | null,
  message: SlackMessage,
): Promise<void> => {
  if (!root) {
    await ctx.reply({ text: message.text, blocks: message.blocks ?? [] });
    return;
  }
  const answer = { text: message.text, ...(message.blocks ? { blocks: message.blocks } : {}) };
  try {
    await ctx.slack.updateMessage(root.channel, root.ts, answer);
  } catch (err) {
    ctx.logger.warn({ err }, 'could not replace the progress message; posting the answer in the thread');
    await ctx.slack.postMessage(root.channel, { ...answer, threadTs: root.ts }).catch(() => {
      throw err; // neither worked: the pipeline tells the user, with the correlation id
    });
  }
};

/**
 * The full text report in the thread, in code blocks. It quotes guest log lines (anyone with a shell on
 * the VM writes them): the splitter escapes them as it cuts. Called once the verdict is shown: a report Slack
 * refuses (after the client's retries) does not make the run a failure. It is logged, the user is told
 * privately with the ref, no later part is tried, and the result says how many parts were posted, for the
 * audit row's detail (`fullReportDetail`).
 */
export const postFullReport = async (
  ctx: CommandContext,
  root: ThreadRoot,
  fullReport: string,
  options: { readonly maxParts?: number } = {},
): Promise<FullReportPosting> => {
  const { parts } = splitForCodeBlocks(fullReport, options);
  for (const [i, part] of parts.entries()) {
    const label = parts.length > 1 ? `Full report (${i + 1}/${parts.length})` : 'Full report';
    const blocks: SlackBlock[] = [{ type: 'section', text: { type: 'mrkdwn', text: part } }];
    try {
      await ctx.slack.postMessage(root.channel, { text: label, blocks, threadTs: root.ts });
    } catch (err) {
      ctx.logger.warn(
        { err, part: i + 1, parts: parts.length },
        'full report could not be posted in the thread',
      );
      const what =
        i === 0 ? 'the full report' : `the rest of the full report (from part ${i + 1} of ${parts.length})`;
      await ctx
        .reply({
          text: `:warning: The verdict is in the channel, but Slack refused ${what} in its thread (ref \`${ctx.correlationId}\`).`,
        })
        .catch((e: unknown) =>
          ctx.logger.warn({ err: e }, 'could not tell the user about the missing report'),
        );
      return { posted: i, parts: parts.length };
    }
  }
  return { posted: parts.length, parts: parts.length };
};

export interface FullReportPosting {
  readonly posted: number;
  readonly parts: number;
}

/** The audit detail with what is missing of the full report, if anything. */
export const fullReportDetail = (detail: string, posting: FullReportPosting | null): string =>
  !posting || posting.posted === posting.parts
    ? detail
    : `${detail}; full report not posted (${posting.posted} of ${posting.parts} parts)`;
