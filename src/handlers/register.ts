import type { App, SlashCommand } from '@slack/bolt';
import type { Logger } from '../core/logger.js';
import { escapeText, SLACK_LIMITS, truncate } from './blocks/text.js';
import type { CommandPipeline, CommandSpec, SlashInvocation } from './pipeline.js';

export const toInvocation = (c: SlashCommand, receivedAt: unknown): SlashInvocation => ({
  command: c.command,
  text: c.text ?? '',
  userId: c.user_id,
  userName: c.user_name ?? null,
  channelId: c.channel_id,
  channelName: c.channel_name ?? null,
  teamId: c.team_id ?? null,
  responseUrl: c.response_url || null,
  triggerId: c.trigger_id || null,
  ...(typeof receivedAt === 'number' ? { receivedAt } : {}),
});

/** The ephemeral answer to a slash command opsbot does not know: what it does know. */
export const unknownCommandAnswer = (
  typed: string,
  known: readonly string[],
): { text: string; response_type: 'ephemeral' } => ({
  response_type: 'ephemeral',
  text: truncate(
    `:grey_question: opsbot does not know the command ${escapeText(typed)} (this opsbot may be older than the Slack app). It answers ${known.map((c) => `\`${c}\``).join(', ')}; \`/opsbot help\` explains each.`,
    SLACK_LIMITS.sectionText,
  ),
});

/** Wires each command of the registry to Bolt through the shared pipeline. */
export const registerCommands = (
  app: App,
  // biome-ignore lint/suspicious/noExplicitAny: each command has its own argument type
  registry: readonly CommandSpec<any>[],
  pipeline: CommandPipeline,
  logger: Logger,
): void => {
  // One Bolt listener for all commands, not one per command: Bolt runs every listener's middleware chain
  // (array copies, argument spreads, promises) for every request, so each extra listener was paid by every
  // slash command, interaction and event.
  // biome-ignore lint/suspicious/noExplicitAny: each command has its own argument type
  const byCommand = new Map<string, CommandSpec<any>>(registry.map((spec) => [`/${spec.name}`, spec]));
  // Every slash command lands here, known or not: one the Slack app declares but this opsbot does not know
  // (an older build, a renamed command) is answered at once instead of timing out after 3 s.
  app.command(/^\//, async ({ command, ack, context }) => {
    const spec = byCommand.get(command.command);
    if (!spec) {
      logger.warn({ command: command.command, userId: command.user_id }, 'unknown slash command');
      await ack(unknownCommandAnswer(command.command, [...byCommand.keys()]));
      return;
    }
    await pipeline.handle(spec, toInvocation(command, context.receivedAt), (answer) =>
      ack(answer as Parameters<typeof ack>[0]),
    );
  });
  app.error(async (err) => {
    logger.error({ err }, 'unhandled error in a Slack listener');
  });
};
