import type { MergeRequestRef } from '../integrations/forge/events.js';
import type { ForgeKind, ForgePort } from '../integrations/forge/port.js';
import { isNotInChannel } from '../integrations/slack/errors.js';
import type { SlackMessage } from '../integrations/slack/port.js';
import type { PipelineFollower } from '../playbooks/pipelines/follower.js';
import { type ForgeHosts, parseMrRef } from '../playbooks/pipelines/mr-ref.js';
import { parseWords } from './args.js';
import { mrLabel } from './blocks/pipeline.js';
import { escapeText } from './blocks/text.js';
import type { CommandContext, CommandResult, CommandSpec, ParseOutcome } from './pipeline.js';
import { formatUsage } from './usage.js';

/**
 * `/pipeline <mr>`: follow any MR's CI in the channel where it is asked (a root message there owns the
 * thread; status messages and the result go in it, like for a change's MR). `/pipeline --stop <mr>` ends it.
 */

export interface PipelineCommandDeps {
  readonly follower: Pick<PipelineFollower, 'ensureFollow' | 'stopFollows' | 'listFollows'>;
  readonly forgeFor: (kind: ForgeKind) => ForgePort | null;
  readonly hosts: ForgeHosts;
}

export interface PipelineArgs {
  readonly stop: boolean;
  readonly ref: MergeRequestRef;
  readonly url: string | null;
}

export const parsePipelineArgs = (text: string, hosts: ForgeHosts): ParseOutcome<PipelineArgs> => {
  const normalized = text.replace(/(^|\s)(--stop|\u2014stop)(?=\s|$)/, '$1--stop=yes');
  const words = parseWords(normalized, ['stop']);
  if (!words.ok) return words;
  const { positional, flags } = words.args;
  if (positional.length !== 1) {
    return {
      ok: false,
      problem: positional.length === 0 ? 'which merge request?' : 'one merge request at a time',
    };
  }
  const parsed = parseMrRef(positional[0] as string, hosts);
  if (!parsed.ok) return parsed;
  return { ok: true, args: { stop: flags.stop !== undefined, ref: parsed.ref, url: parsed.url } };
};

const permalinkOf = async (ctx: CommandContext, channel: string, ts: string): Promise<string | null> =>
  ctx.slack.getPermalink(channel, ts).catch(() => null);

export const pipelineCommand = (deps: PipelineCommandDeps | null): CommandSpec<PipelineArgs> => ({
  name: 'pipeline',
  parse: (text) => parsePipelineArgs(text, deps?.hosts ?? { gitlab: null, github: null }),
  usage: () => formatUsage('pipeline'),
  async run(ctx, args): Promise<CommandResult> {
    if (!deps) {
      await ctx.reply({ text: 'Following pipelines is not set up in this opsbot (no forge is configured).' });
      return { outcome: 'failed', detail: 'no forge configured' };
    }
    const label = mrLabel({ ...args.ref, url: null });
    const forge = deps.forgeFor(args.ref.forge);
    if (!forge) {
      await ctx.reply({
        text: `forges.${args.ref.forge} is not configured in this opsbot, so ${escapeText(label)} cannot be followed.`,
      });
      return { outcome: 'failed', target: label, detail: `forges.${args.ref.forge} not configured` };
    }
    const channel = ctx.invocation.channelId;
    if (args.stop) {
      const stopped = await deps.follower.listFollows(args.ref, channel);
      const n = await deps.follower.stopFollows(args.ref, channel, ctx.invocation.userId);
      if (n === 0) {
        await ctx.reply({ text: `${escapeText(label)} is not followed in this channel.` });
        return { outcome: 'nothing_to_do', target: label, detail: 'not followed here' };
      }
      for (const f of stopped) {
        await ctx.slack
          .postMessage(f.channel, {
            text: `:octagonal_sign: <@${ctx.invocation.userId}> stopped following ${escapeText(label)} here.`,
            threadTs: f.threadTs,
          })
          .catch((err: unknown) => ctx.logger.warn({ err }, 'could not say in the thread that it stopped'));
      }
      await ctx.reply({ text: `Stopped following ${escapeText(label)} in this channel.` });
      return { outcome: 'ok', target: label, detail: `stopped ${n}` };
    }

    const existing = await deps.follower.listFollows(args.ref, channel);
    if (existing[0]) {
      const link = await permalinkOf(ctx, existing[0].channel, existing[0].threadTs);
      await ctx.reply({
        text: `${escapeText(label)} is already followed in this channel${link ? `: <${link}|thread>` : ''}.`,
      });
      return { outcome: 'nothing_to_do', target: label, detail: 'already followed here' };
    }
    const mr = await forge.getMergeRequest(args.ref.repo, args.ref.number);
    if (!mr) {
      await ctx.reply({ text: `${escapeText(label)} was not found (or the token cannot see it).` });
      return { outcome: 'bad_input', target: label, detail: 'not found' };
    }
    if (mr.state !== 'open') {
      await ctx.reply({ text: `${escapeText(label)} is already ${mr.state}: its CI is not followed.` });
      return { outcome: 'nothing_to_do', target: label, detail: `already ${mr.state}` };
    }
    const intro: SlackMessage = {
      text: `:eyes: Following the CI of <${escapeText(mr.url)}|${escapeText(label)}> (${escapeText(mr.title)}) for <@${ctx.invocation.userId}>: status in this thread. \`/pipeline --stop ${escapeText(label)}\` ends it.`,
    };
    let root: { channel: string; ts: string };
    try {
      root = await ctx.slack.postMessage(channel, intro);
    } catch (err) {
      if (!isNotInChannel(err)) throw err;
      await ctx.reply({
        text: 'I cannot post in this channel, and the pipeline status needs a thread everyone can follow: invite me with `/invite @opsbot` and run the command again.',
      });
      return { outcome: 'failed', target: label, detail: 'not in channel' };
    }
    // The follow is keyed by the thread, so the root is posted first. If the store then refuses (the database
    // went away meanwhile), the root is corrected for everyone in the channel before the user is told
    // privately: the channel never keeps claiming a follow that is not stored. Running it again is safe.
    try {
      await deps.follower.ensureFollow({
        ref: args.ref,
        url: mr.url,
        channel: root.channel,
        threadTs: root.ts,
        changeId: null,
        followedBy: ctx.invocation.userId,
      });
    } catch (err) {
      await ctx.slack
        .updateMessage(root.channel, root.ts, {
          text: `:warning: Could not record following <${escapeText(mr.url)}|${escapeText(label)}> (ref \`${ctx.correlationId}\`): its CI is not followed. Run \`/pipeline ${escapeText(label)}\` again.`,
        })
        .catch((e: unknown) => ctx.logger.warn({ err: e }, 'could not correct the root message'));
      throw err;
    }
    return { outcome: 'ok', target: label, detail: `following in ${root.channel} ${root.ts}` };
  },
});
