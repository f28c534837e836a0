import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import type { Logger } from '../core/logger.js';
import { isNotInChannel } from '../integrations/slack/errors.js';
import type { SlackPort } from '../integrations/slack/port.js';
import {
  type ChangeCommand,
  type ChangeFlowDeps,
  commandOfKind,
  listApprovers,
  parseChangeButtonValue,
} from '../playbooks/change/flow.js';
import { type ChangeLifecycle, changeTarget } from '../playbooks/change/lifecycle.js';
import type { ChangePlan } from '../playbooks/change/types.js';
import type { ChangeRequest } from '../store/types.js';
import { APPROVE_ACTION, buildChangeMessage, CANCEL_ACTION } from './blocks/change.js';
import { buildChangeStateText } from './blocks/change-state.js';
import { describeApprovers, describeRefusal } from './change-approvers.js';
import type {
  CommandContext,
  CommandPipeline,
  CommandResult,
  RequestContext,
  RequestResult,
  SlashInvocation,
} from './pipeline.js';

/**
 * The Slack side of the change lifecycle, kept thin: a plan is posted as the root message of its thread and
 * handed to the lifecycle; Approve / Cancel clicks go through the shared request pipeline (correlation id,
 * audit, metrics, safe errors) into the lifecycle. What the thread shows after that is the Slack reconciler's
 * job (change-slack.ts), rendered from the stored state.
 */

export interface ChangeHandlerDeps {
  readonly flow: ChangeFlowDeps;
  readonly lifecycle: ChangeLifecycle;
  readonly slack: SlackPort;
  readonly pipeline: Pick<CommandPipeline, 'run'>;
  readonly logger: Logger;
  /** The workspace URL (auth.test `url`), used for a thread link if chat.getPermalink fails. */
  readonly workspaceUrl?: () => string | null;
}

export const commandOfPlan = (plan: Pick<ChangePlan, 'kind'>): ChangeCommand => commandOfKind(plan.kind);

const viewOf = (deps: ChangeHandlerDeps, plan: ChangePlan, requestedBy: string) => ({
  plan,
  requestedBy,
  buttonValue: null,
  approvers: describeApprovers(listApprovers(deps.flow, commandOfPlan(plan))),
});

/** A link to the change thread: chat.getPermalink, else built from the workspace URL, else null. */
export const threadLink = async (
  deps: Pick<ChangeHandlerDeps, 'slack' | 'workspaceUrl' | 'logger'>,
  channel: string | null,
  ts: string | null,
): Promise<string | null> => {
  if (!channel || !ts) return null;
  try {
    return await deps.slack.getPermalink(channel, ts);
  } catch (err) {
    deps.logger.warn({ err, channel, ts }, 'chat.getPermalink failed; building the thread link');
    const base = deps.workspaceUrl?.();
    return base ? `${base.replace(/\/$/, '')}/archives/${channel}/p${ts.replace('.', '')}` : null;
  }
};

/**
 * Shows a plan: `--dry-run` answers privately and stops; otherwise the root message is posted in the channel
 * first (no buttons), then the change is recorded against it; the reconciler then gives it its buttons. So a
 * stored change always points at a message, and no button ever carries an id with no row.
 */
/** What presenting a plan needs of its request: a slash command, or a click (/amend's "Preview again"). */
export type PresentContext = Pick<CommandContext, 'reply' | 'correlationId' | 'logger'> & {
  readonly invocation: Pick<SlashInvocation, 'userId' | 'userName' | 'channelId'>;
};

export const presentPlan = async (
  deps: ChangeHandlerDeps,
  ctx: PresentContext,
  plan: ChangePlan,
  options: { readonly dryRun: boolean },
): Promise<CommandResult> => {
  const inv = ctx.invocation;
  const target = `${plan.repo}@${plan.branch}`;
  if (options.dryRun) {
    await ctx.reply(buildChangeMessage(viewOf(deps, plan, inv.userId), { kind: 'dry-run' }));
    return { outcome: 'dry_run', target, detail: plan.summary };
  }
  const active = await deps.lifecycle.findInProgress(plan);
  if (active) {
    await ctx.reply({ text: buildChangeStateText(active) });
    return { outcome: 'nothing_to_do', target: changeTarget(active), detail: `already ${active.status}` };
  }

  let root: { channel: string; ts: string };
  try {
    root = await deps.slack.postMessage(
      inv.channelId,
      buildChangeMessage(viewOf(deps, plan, inv.userId), { kind: 'preparing' }),
    );
  } catch (err) {
    if (!isNotInChannel(err)) throw err;
    await ctx.reply({
      text: 'I cannot post in this channel, and a change needs a thread everyone can follow: invite me with `/invite @opsbot` and run the command again.',
    });
    return { outcome: 'failed', target, detail: 'not in channel' };
  }
  const threadUrl = await threadLink(deps, root.channel, root.ts);
  const status = async (text: string): Promise<void> => {
    await deps.slack
      .updateMessage(
        root.channel,
        root.ts,
        buildChangeMessage(viewOf(deps, plan, inv.userId), { kind: 'status', text }),
      )
      .catch((err: unknown) => ctx.logger.warn({ err }, 'could not update the root message'));
  };
  let recorded: Awaited<ReturnType<ChangeLifecycle['request']>>;
  try {
    recorded = await deps.lifecycle.request({
      plan,
      requestedBy: inv.userId,
      requestedByName: inv.userName,
      thread: root,
      threadUrl,
    });
  } catch (err) {
    await status(
      `:warning: Could not record this change request (ref \`${ctx.correlationId}\`); nothing was changed.`,
    );
    throw err;
  }
  if (recorded.kind === 'in-progress') {
    await status(buildChangeStateText(recorded.change));
    return {
      outcome: 'nothing_to_do',
      target: changeTarget(recorded.change),
      detail: `already ${recorded.change.status}`,
    };
  }
  const change = recorded.change;
  return { outcome: 'planned', target: changeTarget(change), detail: `change ${change.id}: ${plan.summary}` };
};

// ---------------------------------------------------------------------------------------------------------
// Button clicks

/** A click as opsbot needs it (mapped from Slack's block_actions payload). */
export interface ChangeClick {
  readonly action: 'approve' | 'cancel';
  readonly value: string;
  readonly userId: string;
  readonly userName: string | null;
  readonly channelId: string;
}

export const toChangeClick = (body: BlockAction, action: ButtonAction): ChangeClick => ({
  action: action.action_id === APPROVE_ACTION ? 'approve' : 'cancel',
  value: action.value ?? '',
  userId: body.user.id,
  userName: body.user.username ?? body.user.name ?? null,
  channelId: body.channel?.id ?? body.container?.channel_id ?? '',
});

export interface ChangeActionHandler {
  handle(click: ChangeClick): Promise<void>;
}

const commandOf = (c: ChangeRequest): ChangeCommand => commandOfKind(c.kind);

export const createChangeActionHandler = (deps: ChangeHandlerDeps): ChangeActionHandler => {
  const { slack, lifecycle } = deps;

  const clickWork =
    (click: ChangeClick, say: (text: string) => Promise<void>) =>
    async (ctx: RequestContext): Promise<RequestResult> => {
      const parsed = parseChangeButtonValue(click.value);
      if (!parsed) {
        await say('This button does not belong to a change request opsbot knows.');
        return { outcome: 'bad_input', detail: 'unparseable button value' };
      }
      const audit = (
        outcome: Parameters<RequestContext['auditRow']>[0],
        detail: string | null,
        c: ChangeRequest,
      ) => ctx.auditRow(outcome, detail, changeTarget(c), commandOf(c));
      const outcome =
        click.action === 'approve'
          ? await lifecycle.approve({
              changeId: parsed.changeId,
              digest: parsed.digest,
              userId: click.userId,
              userName: click.userName,
              channelId: click.channelId,
              audit,
            })
          : await lifecycle.cancel({
              changeId: parsed.changeId,
              userId: click.userId,
              channelId: click.channelId,
              audit,
            });
      const about =
        'change' in outcome ? { name: commandOf(outcome.change), target: changeTarget(outcome.change) } : {};
      switch (outcome.kind) {
        case 'approved':
          return {
            ...about,
            outcome: 'approved',
            detail: outcome.retry ? 'approved again after a failed attempt' : null,
            audited: true,
          };
        case 'cancelled':
          return { ...about, outcome: 'cancelled', audited: true };
        case 'unknown': {
          const text = 'This change request is unknown (it may have been cleaned up).';
          await say(text);
          return { outcome: 'nothing_to_do', detail: text };
        }
        case 'stale': {
          const text =
            'This preview is out of date: the change was planned again since. Use the latest preview in its thread.';
          await say(text);
          return { ...about, outcome: 'nothing_to_do', detail: text };
        }
        case 'already': {
          const text = buildChangeStateText(outcome.change);
          await say(text);
          return { ...about, outcome: 'nothing_to_do', detail: text };
        }
        case 'refused': {
          const text = describeRefusal(outcome.decision);
          await say(`:no_entry: ${text}`);
          return { ...about, outcome: 'refused', detail: `${outcome.decision.reason}: ${text}` };
        }
      }
    };

  return {
    async handle(click) {
      const say = async (text: string): Promise<void> => {
        await slack
          .postEphemeral(click.channelId, click.userId, { text })
          .catch((err: unknown) => deps.logger.warn({ err }, 'could not answer the click privately'));
      };
      await deps.pipeline.run(
        {
          source: 'slack',
          name: 'change',
          action: click.action,
          actorId: click.userId,
          actorName: click.userName,
          channelId: click.channelId,
          args: `${click.action} ${click.value}`,
        },
        clickWork(click, say),
        say,
      );
    },
  };
};

/** Wires the Approve / Cancel buttons: ack at once (Slack's 3 s), then the work. */
export const registerChangeActions = (app: App, handler: ChangeActionHandler, logger: Logger): void => {
  for (const actionId of [APPROVE_ACTION, CANCEL_ACTION]) {
    app.action<BlockAction<ButtonAction>>(
      { type: 'block_actions', action_id: actionId },
      async ({ ack, body, action }) => {
        await ack();
        await handler.handle(toChangeClick(body, action)).catch((err: unknown) => {
          logger.error({ err }, 'unhandled error in a change action');
        });
      },
    );
  }
};
