import type { CommandName } from '../core/config.js';
import type { SlackBlock, SlackMessage } from '../integrations/slack/port.js';
import type { CommandSpec, ParseOutcome } from './pipeline.js';
import { COMMAND_ORDER, findCommandName, formatUsage, USAGE } from './usage.js';

export type OpsbotArgs =
  | { readonly topic: 'all' }
  | { readonly topic: 'watch' }
  | { readonly topic: 'command'; readonly command: CommandName };

export const parseOpsbotArgs = (text: string): ParseOutcome<OpsbotArgs> => {
  const words = text.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return { ok: true, args: { topic: 'all' } };
  if (words[0]?.toLowerCase() === 'watch' && words.length === 1)
    return { ok: true, args: { topic: 'watch' } };
  if (words[0]?.toLowerCase() !== 'help') return { ok: false, problem: `unknown subcommand "${words[0]}"` };
  if (words.length === 1) return { ok: true, args: { topic: 'all' } };
  if (words.length > 2) return { ok: false, problem: 'help takes at most one command name' };
  const command = findCommandName(words[1] as string);
  if (!command) {
    return {
      ok: false,
      problem: `no command "${words[1]}"; commands are ${COMMAND_ORDER.map((c) => `/${c}`).join(', ')}`,
    };
  }
  return { ok: true, args: { topic: 'command', command } };
};

/** The help message: one section per command with its usage and examples (well under Block Kit limits). */
export const buildHelpMessage = (): SlackMessage => {
  const blocks: SlackBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: 'opsbot commands' } },
    {
      type: 'context',
      elements: [{ type: 'mrkdwn', text: 'Run `/opsbot help <command>` for the options of one command.' }],
    },
  ];
  for (const name of COMMAND_ORDER) {
    const u = USAGE[name];
    const synopsis = u.synopsis.map((s) => `\`${u.slash} ${s}\``).join('\n');
    const examples = u.examples.map((e) => `\`${e}\``).join('   ');
    blocks.push({
      type: 'section',
      text: { type: 'mrkdwn', text: `*${u.slash}*: ${u.summary}\n${synopsis}\n_e.g._ ${examples}` },
    });
  }
  const text = `opsbot commands: ${COMMAND_ORDER.map((c) => `/${c}`).join(', ')}`;
  return { text, blocks };
};

export const buildCommandHelpMessage = (name: CommandName): SlackMessage => {
  const usage = formatUsage(name);
  return {
    text: usage,
    blocks: [{ type: 'section', text: { type: 'mrkdwn', text: `\`\`\`${usage}\`\`\`` } }],
  };
};

let helpMessage: SlackMessage | null = null;
const cachedHelp = (): SlackMessage => {
  helpMessage ??= buildHelpMessage();
  return helpMessage;
};

/** `/opsbot watch` reads the watch's stored state; null: it answers that there is no watch. */
export type WatchStatusSource = () => Promise<SlackMessage>;

export const createOpsbotCommand = (
  watchStatus: WatchStatusSource | null = null,
): CommandSpec<OpsbotArgs> => ({
  name: 'opsbot',
  parse: parseOpsbotArgs,
  usage: () => formatUsage('opsbot'),
  // Help is static: it rides on the ack, with no Web API call and no second round trip.
  immediate: (args) =>
    args.topic === 'watch'
      ? null
      : {
          message: args.topic === 'all' ? cachedHelp() : buildCommandHelpMessage(args.command),
          result: { outcome: 'ok', target: args.topic === 'command' ? args.command : null },
        },
  async run(ctx, args) {
    if (args.topic === 'watch') {
      await ctx.reply(
        watchStatus
          ? await watchStatus()
          : { text: 'The watch is not configured (add a `watch:` section to the config).' },
      );
      return { outcome: 'ok', target: 'watch' };
    }
    await ctx.reply(args.topic === 'all' ? cachedHelp() : buildCommandHelpMessage(args.command));
    return { outcome: 'ok', target: args.topic === 'command' ? args.command : null };
  },
});

export const opsbotCommand: CommandSpec<OpsbotArgs> = createOpsbotCommand();
