import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import { checkAccess, type GroupMembership } from '../core/access.js';
import type { Config } from '../core/config.js';
import { parseDuration } from '../core/duration.js';
import { AppError, IntegrationError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { SlackBlock, SlackPort } from '../integrations/slack/port.js';
import type { FleetRequest } from '../playbooks/fleet/collect.js';
import { renderFleetTsv } from '../playbooks/fleet/render-text.js';
import { FLEET_CAUSES, type FleetCause, type FleetReport } from '../playbooks/fleet/types.js';
import type { WhyRebootReport } from '../playbooks/why-reboot/types.js';
import { tokenize } from './args.js';
import {
  buildRebootsBlocks,
  buildRebootsProgress,
  decodeWhyValue,
  FLEET_WHY_ACTION,
} from './blocks/reboots.js';
import { escapeText, splitForCodeBlocks } from './blocks/text.js';
import type {
  CommandContext,
  CommandPipeline,
  CommandResult,
  CommandSpec,
  ParseOutcome,
} from './pipeline.js';
import { formatUsage } from './usage.js';
import type { WhyRebootDeps } from './why-reboot.js';

/**
 * /reboots: the fleet view in Slack. The summary (biggest groups, a /why-reboot button per VM shown, upcoming
 * maintenance) replaces a progress message; the full table is attached in its thread as a file. A button
 * runs the full /why-reboot of that VM in the same thread, authorized by the /why-reboot access rule and
 * audited like a command.
 */

export interface RebootsArgs {
  readonly projects: readonly string[];
  readonly since: string;
  readonly sinceMs: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly cause: FleetCause | null;
}

export interface RebootsDeps {
  collect(request: FleetRequest, signal?: AbortSignal): Promise<FleetReport>;
  /** Projects read without --project (google.defaultProject + google.projects). */
  readonly projects: readonly string[];
  readonly now: () => Date;
  readonly defaultWindow: string;
  readonly timeoutMs?: number;
}

const PROJECT_ID = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
const MAX_WINDOW_MS = 400 * 86_400_000;

export const parseRebootsArgs = (text: string, defaultWindow = '24h'): ParseOutcome<RebootsArgs> => {
  const words = tokenize(text.trim());
  const projects: string[] = [];
  const labels: Record<string, string> = {};
  let since: string | null = null;
  let cause: FleetCause | null = null;
  for (let i = 0; i < words.length; i++) {
    const w = words[i] as string;
    const m = /^(?:--|\u2014)([a-z]+)(?:=(.*))?$/.exec(w);
    if (!m) return { ok: false, problem: `unexpected "${w.slice(0, 40)}": /reboots takes options only` };
    const name = m[1] as string;
    const value = m[2] ?? words[++i];
    if (!['project', 'since', 'label', 'cause'].includes(name))
      return { ok: false, problem: `unknown option --${name}` };
    if (value === undefined || value === '' || value.startsWith('--'))
      return { ok: false, problem: `--${name} needs a value` };
    if (name === 'project') {
      if (!PROJECT_ID.test(value))
        return { ok: false, problem: `"${value.slice(0, 40)}" is not a Google Cloud project id` };
      if (!projects.includes(value)) projects.push(value);
    } else if (name === 'label') {
      const l = /^([a-z][a-z0-9_-]{0,62})=([a-z0-9_-]{0,63})$/.exec(value);
      if (!l)
        return {
          ok: false,
          problem: `--label takes key=value (a Compute Engine label), not "${value.slice(0, 40)}"`,
        };
      labels[l[1] as string] = l[2] as string;
    } else if (name === 'cause') {
      if (!(FLEET_CAUSES as readonly string[]).includes(value))
        return { ok: false, problem: `--cause is one of ${FLEET_CAUSES.join(', ')}` };
      cause = value as FleetCause;
    } else {
      if (since !== null) return { ok: false, problem: '--since given twice' };
      since = value;
    }
  }
  const window = since ?? defaultWindow;
  const sinceMs = parseDuration(window);
  if (sinceMs === null)
    return {
      ok: false,
      problem: `--since takes a duration such as 30m, 12h or 7d, not "${window.slice(0, 40)}"`,
    };
  if (sinceMs > MAX_WINDOW_MS) return { ok: false, problem: '--since can look back at most 400d' };
  return { ok: true, args: { projects, since: window, sinceMs, labels, cause } };
};

const isNotInChannel = (err: unknown): boolean =>
  err instanceof IntegrationError &&
  ['not_in_channel', 'channel_not_found', 'is_archived'].includes(String(err.details.slackError));

export const rebootsCommand = (deps: RebootsDeps | null): CommandSpec<RebootsArgs> => ({
  name: 'reboots',
  parse: (text) => parseRebootsArgs(text, deps?.defaultWindow ?? '24h'),
  usage: () => formatUsage('reboots'),
  async run(ctx, args): Promise<CommandResult> {
    if (!deps) {
      await ctx.reply({ text: '/reboots is not available in this opsbot build.' });
      return { outcome: 'nothing_to_do', target: null, detail: 'not configured' };
    }
    const projects = args.projects.length > 0 ? args.projects : deps.projects;
    if (projects.length === 0) {
      await ctx.reply({
        text: 'Which projects? Give `--project P`, or set `google.projects` in the config.',
      });
      return { outcome: 'bad_input', target: null, detail: 'no projects' };
    }
    return runReboots(ctx, deps, args, projects);
  },
});

const runReboots = async (
  ctx: CommandContext,
  deps: RebootsDeps,
  args: RebootsArgs,
  projects: readonly string[],
): Promise<CommandResult> => {
  const { invocation: inv, slack, logger } = ctx;
  let root: { channel: string; ts: string } | null = null;
  try {
    root = await slack.postMessage(inv.channelId, buildRebootsProgress(projects, args.since));
  } catch (err) {
    if (!isNotInChannel(err)) throw err;
    await ctx.reply({
      text: 'I cannot post in this channel (invite me with `/invite @opsbot`). Reading the audit logs for you only…',
    });
  }
  const to = deps.now();
  let report: FleetReport;
  try {
    report = await deps.collect(
      {
        projects,
        window: { from: new Date(to.getTime() - args.sinceMs), to },
        labels: args.labels,
        cause: args.cause,
      },
      AbortSignal.timeout(deps.timeoutMs ?? 120_000),
    );
  } catch (err) {
    if (root)
      await slack
        .updateMessage(root.channel, root.ts, {
          text: `Could not read the restarts (ref ${ctx.correlationId}).`,
        })
        .catch(() => undefined);
    throw err;
  }
  const message = buildRebootsBlocks(report, args.since);
  const blind = report.sources.length > 0 && report.sources.every((s) => s.status === 'failed');
  const result: CommandResult = blind
    ? { outcome: 'failed', target: projects.join(','), detail: 'every source failed' }
    : {
        outcome: 'ok',
        target: projects.join(','),
        detail: `${report.restarts} restart(s), ${report.groups.length} group(s)`,
      };
  if (!root) {
    await ctx.reply(message);
    return result;
  }
  await slack.updateMessage(root.channel, root.ts, message);
  if (report.restarts > 0) {
    try {
      await slack.uploadFile({
        channelId: root.channel,
        threadTs: root.ts,
        filename: `reboots-${to.toISOString().slice(0, 16).replace(/[:T]/g, '')}.tsv`,
        title: `VM restarts, last ${args.since} (${report.restarts})`,
        initialComment: `Every restart (${report.restarts}), one line each: group, time, project, zone, VM, cause, downtime, actor.`,
        bytes: new TextEncoder().encode(renderFleetTsv(report)),
      });
    } catch (err) {
      logger.warn({ err }, 'reboots table could not be attached');
      await slack
        .postMessage(root.channel, {
          text: `The full table could not be attached (ref ${ctx.correlationId}).`,
          threadTs: root.ts,
        })
        .catch(() => undefined);
    }
  }
  return result;
};

export interface RebootsClick {
  readonly value: string;
  readonly userId: string;
  readonly userName: string | null;
  readonly channelId: string;
  /** The thread to answer in: the clicked message's thread, or the message itself when it is a root. */
  readonly threadTs: string | null;
}

export interface RebootsActionDeps {
  readonly config: Pick<Config, 'access'>;
  readonly slack: SlackPort;
  readonly isMember: GroupMembership;
  readonly pipeline: Pick<CommandPipeline, 'run'>;
  readonly whyReboot: WhyRebootDeps | null;
}

/** A /why-reboot button of the fleet view: the full investigation of one VM, in the thread. */
export const createRebootsActionHandler = (deps: RebootsActionDeps) => ({
  async handle(click: RebootsClick): Promise<void> {
    const privately = (text: string) =>
      deps.slack.postEphemeral(click.channelId, click.userId, { text }).then(() => undefined);
    const vm = decodeWhyValue(click.value);
    await deps.pipeline.run(
      {
        source: 'slack',
        name: 'why-reboot',
        action: 'fleet-button',
        actorId: click.userId,
        actorName: click.userName,
        channelId: click.channelId,
        args: vm ? `${vm.project}/${vm.zone}/${vm.name} (from /reboots)` : 'bad button value',
      },
      async (ctx) => {
        if (!vm) return { outcome: 'bad_input', detail: 'the button value cannot be read' };
        const target = `${vm.project}/${vm.zone}/${vm.name}`;
        const decision = await checkAccess(
          'why-reboot',
          deps.config.access.commands['why-reboot'],
          { userId: click.userId, channelId: click.channelId },
          deps.isMember,
        );
        if (!decision.allowed) {
          await privately(`:no_entry: ${decision.message}`).catch(() => undefined);
          return { outcome: 'refused', target, detail: decision.reason };
        }
        if (!deps.whyReboot) {
          await privately('/why-reboot is not available in this opsbot build.').catch(() => undefined);
          return { outcome: 'nothing_to_do', target, detail: 'not configured' };
        }
        const w = deps.whyReboot;
        const request = {
          vm: vm.name,
          project: vm.project,
          zone: vm.zone,
          window: { from: new Date(vm.from), to: new Date(vm.to) },
        };
        const threadTs = click.threadTs;
        const progress = await deps.slack.postMessage(click.channelId, {
          ...w.buildProgress(request),
          ...(threadTs ? { threadTs } : {}),
        });
        let report: WhyRebootReport;
        try {
          report = await w.investigate(request);
        } catch (err) {
          const known = err instanceof AppError && (err.code === 'not_found' || err.code === 'ambiguous');
          await deps.slack
            .updateMessage(progress.channel, progress.ts, {
              text: known
                ? `:mag: ${escapeText((err as AppError).userMessage)}`
                : `Could not investigate ${escapeText(vm.name)} (ref ${ctx.correlationId}).`,
            })
            .catch(() => undefined);
          if (known) return { outcome: 'bad_input', target, detail: (err as AppError).code };
          throw err;
        }
        const rendered = w.buildReport(report);
        await deps.slack.updateMessage(progress.channel, progress.ts, {
          text: rendered.text,
          ...(rendered.blocks ? { blocks: rendered.blocks } : {}),
        });
        // The report quotes guest log lines: the splitter escapes them and fences each part.
        const { parts } = splitForCodeBlocks(rendered.fullReport, { maxParts: 8 });
        for (const [i, part] of parts.entries()) {
          const label =
            parts.length > 1
              ? `Full report of ${vm.name} (${i + 1}/${parts.length})`
              : `Full report of ${vm.name}`;
          const blocks: SlackBlock[] = [{ type: 'section', text: { type: 'mrkdwn', text: part } }];
          await deps.slack.postMessage(progress.channel, {
            text: label,
            blocks,
            ...(threadTs ? { threadTs } : {}),
          });
        }
        return { outcome: 'ok', target, detail: report.verdict.cause };
      },
      (text) => privately(text),
    );
  },
});

export type RebootsActionHandler = ReturnType<typeof createRebootsActionHandler>;

export const registerRebootsActions = (app: App, handler: RebootsActionHandler, logger: Logger): void => {
  app.action<BlockAction<ButtonAction>>(
    { type: 'block_actions', action_id: new RegExp(`^${FLEET_WHY_ACTION}:`) },
    async ({ ack, body, action }) => {
      await ack();
      const message = body.message as { ts?: string; thread_ts?: string } | undefined;
      const click: RebootsClick = {
        value: action.value ?? '',
        userId: body.user.id,
        userName: body.user.username ?? body.user.name ?? null,
        channelId: body.channel?.id ?? body.container?.channel_id ?? '',
        threadTs:
          message?.thread_ts ??
          message?.ts ??
          (body.container as { message_ts?: string } | undefined)?.message_ts ??
          null,
      };
      await handler
        .handle(click)
        .catch((err: unknown) => logger.error({ err }, 'unhandled error in a /reboots button'));
    },
  );
};
