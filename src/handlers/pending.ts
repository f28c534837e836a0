import type { CommandName } from '../core/config.js';
import type { CommandSpec } from './pipeline.js';
import { formatUsage } from './usage.js';

/**
 * A command the Slack app declares (see config/slack-manifest.yaml) whose playbook is not wired in this
 * build. It answers with its usage, or says it is not available here, instead of leaving the user with
 * silence. Replace its registry entry with the real command.
 */
export const pendingCommand = (name: CommandName): CommandSpec<{ readonly text: string }> => ({
  name,
  parse: (text) => {
    const t = text.trim();
    if (t === '' || t === 'help' || t === '--help')
      return { ok: false, problem: `/${name} needs arguments.` };
    return { ok: true, args: { text: t } };
  },
  usage: () => formatUsage(name),
  immediate: () => ({
    message: notConfigured(name),
    result: { outcome: 'nothing_to_do', detail: 'not configured' },
  }),
  async run(ctx) {
    await ctx.reply(notConfigured(name));
    return { outcome: 'nothing_to_do', detail: 'not configured' };
  },
});

const notConfigured = (name: CommandName) => ({
  text: `/${name} is not configured in this opsbot yet: ask its operators to enable it.\n\n${formatUsage(name)}`,
});
