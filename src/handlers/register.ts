import type { App, SlashCommand } from '@slack/bolt';
import type { Logger } from '../core/logger.js';
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
  if (byCommand.size > 0) {
    const names = [...byCommand.keys()].map((c) => c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    app.command(new RegExp(`^(?:${names.join('|')})$`), async ({ command, ack, context }) => {
      const spec = byCommand.get(command.command);
      if (!spec) return; // unreachable: the pattern matches registered commands only
      await pipeline.handle(spec, toInvocation(command, context.receivedAt), (answer) =>
        ack(answer as Parameters<typeof ack>[0]),
      );
    });
  }
  app.error(async (err) => {
    logger.error({ err }, 'unhandled error in a Slack listener');
  });
};
