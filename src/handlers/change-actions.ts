import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import { IntegrationError, isAppError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { SlackMessage, SlackPort } from '../integrations/slack/port.js';
import {
  type ApproveClick,
  applyApproved,
  approveClick,
  buildChangeButtonValue,
  type CancelClick,
  type ChangeCommand,
  type ChangeFlowDeps,
  type ClickRefusal,
  cancelClick,
  describeApprovers,
  findActiveChange,
  parseChangeButtonValue,
  recordChange,
} from '../playbooks/change/flow.js';
import { planOf } from '../playbooks/change/runner.js';
import type { ApplyOutcome, ChangePlan } from '../playbooks/change/types.js';
import type { Metrics } from '../server/metrics.js';
import type { AuditOutcome, ChangeRequest } from '../store/types.js';
import {
  APPROVE_ACTION,
  buildChangeMessage,
  buildThreadNote,
  CANCEL_ACTION,
  escapeText,
  mrLink,
} from './blocks/change.js';
import { type AuditSink, type CommandContext, type CommandResult, newCorrelationId } from './pipeline.js';

/**
 * The Slack side of the change flow: posting a plan as the root message of its thread, and the Approve /
 * Cancel buttons on it. The decisions (who may click, compare-and-set, apply) are in playbooks/change/flow;
 * this file posts, updates, audits and measures.
 */

export interface ChangeHandlerDeps {
  readonly flow: ChangeFlowDeps;
  readonly slack: SlackPort;
  readonly audit: AuditSink;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** The workspace URL (auth.test `url`), used for a thread link if chat.getPermalink fails. */
  readonly workspaceUrl?: () => string | null;
  readonly newCorrelationId?: () => string;
}

const viewOf = (
  deps: ChangeHandlerDeps,
  plan: ChangePlan,
  requestedBy: string,
  buttonValue: string | null,
) => ({
  plan,
  requestedBy,
  buttonValue,
  approvers: describeApprovers(deps.flow, plan.kind === 'tf-import' ? 'tf-import' : 'versionlock'),
});

const isNotInChannel = (err: unknown): boolean =>
  err instanceof IntegrationError &&
  ['not_in_channel', 'channel_not_found', 'is_archived'].includes(String(err.details.slackError));

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

const activeChangeText = async (deps: ChangeHandlerDeps, change: ChangeRequest): Promise<string> => {
  const thread = await threadLink(deps, change.slackChannel, change.slackThreadTs);
  const where = thread ? ` (<${thread}|thread>)` : '';
  if (change.status === 'open' || change.status === 'merged') {
    return `This change is already open: ${mrLink(change.forge, change.mrUrl, change.mrNumber)}${where}.`;
  }
  return `This change is already approved by <@${change.approvedBy ?? '?'}> and being applied${where}.`;
};

/**
 * Shows a plan: `--dry-run` answers privately and stops; otherwise the root message is posted in the channel
 * first (no buttons), the change request is recorded against that message, and only then are the buttons
 * added. So a stored change always points at a message, and no button ever carries an id with no row.
 */
export const presentPlan = async (
  deps: ChangeHandlerDeps,
  ctx: CommandContext,
  plan: ChangePlan,
  options: { readonly dryRun: boolean },
): Promise<CommandResult> => {
  const inv = ctx.invocation;
  const target = `${plan.repo}@${plan.branch}`;
  if (options.dryRun) {
    await ctx.reply(buildChangeMessage(viewOf(deps, plan, inv.userId, null), { kind: 'dry-run' }));
    return { outcome: 'dry_run', target, detail: plan.summary };
  }
  const active = await findActiveChange(deps.flow, plan);
  if (active) {
    await ctx.reply({ text: await activeChangeText(deps, active) });
    return {
      outcome: 'nothing_to_do',
      target,
      detail: `already ${active.status}: ${active.mrUrl ?? active.id}`,
    };
  }

  let root: { channel: string; ts: string };
  try {
    root = await deps.slack.postMessage(
      inv.channelId,
      buildChangeMessage(viewOf(deps, plan, inv.userId, null), { kind: 'preparing' }),
    );
  } catch (err) {
    if (!isNotInChannel(err)) throw err;
    await ctx.reply({
      text: 'I cannot post in this channel, and a change needs a thread everyone can follow: invite me with `/invite @opsbot` and run the command again.',
    });
    return { outcome: 'failed', target, detail: 'not in channel' };
  }

  let recorded: Awaited<ReturnType<typeof recordChange>>;
  try {
    recorded = await recordChange(deps.flow, plan, inv.userId, root, inv.userName);
  } catch (err) {
    await deps.slack
      .updateMessage(
        root.channel,
        root.ts,
        buildChangeMessage(viewOf(deps, plan, inv.userId, null), {
          kind: 'status',
          text: `:warning: Could not record this change request (ref \`${ctx.correlationId}\`); nothing was changed.`,
        }),
      )
      .catch(() => undefined);
    throw err;
  }
  if (recorded.kind === 'already-open') {
    const text = await activeChangeText(deps, recorded.change);
    await deps.slack.updateMessage(
      root.channel,
      root.ts,
      buildChangeMessage(viewOf(deps, plan, inv.userId, null), { kind: 'status', text }),
    );
    return { outcome: 'nothing_to_do', target, detail: `already ${recorded.change.status}` };
  }
  const change = recorded.change;
  await deps.slack.updateMessage(
    root.channel,
    root.ts,
    buildChangeMessage(viewOf(deps, plan, inv.userId, buildChangeButtonValue(change.id, plan)), {
      kind: 'awaiting',
    }),
  );
  // The same request asked earlier and never approved: its old preview is superseded by this one.
  const prev = recorded.previous;
  if (
    prev?.slackChannel &&
    prev.slackThreadTs &&
    prev.slackThreadTs !== root.ts &&
    prev.status === 'planned'
  ) {
    const link = await threadLink(deps, root.channel, root.ts);
    await deps.slack
      .updateMessage(
        prev.slackChannel,
        prev.slackThreadTs,
        buildChangeMessage(viewOf(deps, planOf(prev), prev.requestedBy, null), {
          kind: 'status',
          text: `:arrows_counterclockwise: Superseded by a newer request of the same change${link ? `: <${link}|here>` : ''}.`,
        }),
      )
      .catch((err: unknown) => ctx.logger.warn({ err }, 'could not mark the older preview superseded'));
  }
  return { outcome: 'planned', target, detail: `change ${change.id}: ${plan.summary}` };
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
  /** ts of the message carrying the clicked button (the root, or a re-plan in the thread). */
  readonly messageTs: string | null;
}

export const toChangeClick = (body: BlockAction, action: ButtonAction): ChangeClick => ({
  action: action.action_id === APPROVE_ACTION ? 'approve' : 'cancel',
  value: action.value ?? '',
  userId: body.user.id,
  userName: body.user.username ?? body.user.name ?? null,
  channelId: body.channel?.id ?? body.container?.channel_id ?? '',
  messageTs: body.message?.ts ?? body.container?.message_ts ?? null,
});

interface ClickRun {
  readonly click: ChangeClick;
  readonly correlationId: string;
  readonly logger: Logger;
  readonly startedAt: Date;
  command: ChangeCommand | 'change';
  target: string | null;
}

export interface ChangeActionHandler {
  handle(click: ChangeClick): Promise<void>;
}

export const createChangeActionHandler = (deps: ChangeHandlerDeps): ChangeActionHandler => {
  const newId = deps.newCorrelationId ?? newCorrelationId;
  const { slack, flow } = deps;

  const audit = (
    run: ClickRun,
    outcome: AuditOutcome,
    detail: string | null,
    target?: string | null,
  ): void => {
    deps.audit.enqueue({
      at: flow.now(),
      actorId: run.click.userId,
      actorName: run.click.userName,
      source: 'slack',
      command: run.command,
      args: `${run.click.action} ${run.click.value}`.slice(0, 200),
      channelId: run.click.channelId,
      target: target ?? run.target,
      outcome,
      detail: detail?.slice(0, 1000) ?? null,
      correlationId: run.correlationId,
      durationMs: flow.now().getTime() - run.startedAt.getTime(),
    });
    deps.metrics.commandsTotal.inc({ command: `${run.command}:${run.click.action}`, outcome });
  };

  const ephemeral = async (run: ClickRun, text: string): Promise<void> => {
    await slack
      .postEphemeral(run.click.channelId, run.click.userId, { text })
      .catch((err: unknown) => run.logger.warn({ err }, 'could not answer the click privately'));
  };

  const inThread = async (change: ChangeRequest, message: SlackMessage): Promise<{ ts: string } | null> => {
    if (!change.slackChannel || !change.slackThreadTs) return null;
    return slack.postMessage(change.slackChannel, { ...message, threadTs: change.slackThreadTs });
  };

  /** Replaces the buttons of the root (and of the clicked message, if another) with a status line. */
  const settle = async (
    run: ClickRun,
    change: ChangeRequest,
    plan: ChangePlan,
    text: string,
  ): Promise<void> => {
    const message = buildChangeMessage(viewOf(deps, plan, change.requestedBy, null), {
      kind: 'status',
      text,
    });
    const targets = new Set<string>();
    if (change.slackThreadTs) targets.add(change.slackThreadTs);
    if (run.click.messageTs) targets.add(run.click.messageTs);
    if (change.slackStatusTs) targets.add(change.slackStatusTs);
    for (const ts of targets) {
      const channel = change.slackChannel ?? run.click.channelId;
      const body = ts === change.slackThreadTs ? message : buildThreadNote(text); // a re-plan preview in the thread: keep it short once settled
      await slack
        .updateMessage(channel, ts, body)
        .catch((err: unknown) => run.logger.warn({ err, ts }, 'could not update the change message'));
    }
  };

  const report = async (run: ClickRun, change: ChangeRequest, outcome: ApplyOutcome): Promise<void> => {
    const plan = planOf((await flow.store.changes.get(change.id)) ?? change);
    switch (outcome.kind) {
      case 'opened': {
        const link = mrLink(plan.forge, outcome.mrUrl, outcome.mrNumber);
        await inThread(
          change,
          buildThreadNote(`:white_check_mark: ${outcome.reused ? 'Reusing' : 'Opened'} ${link}.`),
        );
        await settle(
          run,
          change,
          plan,
          `:white_check_mark: Approved by <@${change.approvedBy ?? run.click.userId}>: ${link}`,
        );
        audit(run, 'ok', `opened ${outcome.mrUrl}${outcome.reused ? ' (reused)' : ''}`, outcome.mrUrl);
        return;
      }
      case 'already-open': {
        const link = mrLink(plan.forge, outcome.mrUrl, outcome.mrNumber);
        await inThread(change, buildThreadNote(`This change is already open: ${link}.`));
        audit(run, 'nothing_to_do', `already open ${outcome.mrUrl ?? ''}`, outcome.mrUrl);
        return;
      }
      case 'replanned': {
        const fresh = (await flow.store.changes.get(change.id)) ?? change;
        const posted = await inThread(
          fresh,
          buildChangeMessage(
            viewOf(deps, outcome.plan, fresh.requestedBy, buildChangeButtonValue(fresh.id, outcome.plan)),
            { kind: 'awaiting' },
            {
              intro:
                ':arrows_counterclockwise: The base branch moved since the plan and the change is different now: here is the updated change. Nothing was written; approve this one to apply it.',
            },
          ),
        );
        if (posted) await flow.store.changes.update(change.id, { slackStatusTs: posted.ts });
        const old = planOf(change);
        const rootText =
          ':arrows_counterclockwise: The base branch moved: an updated preview is in the thread.';
        if (change.slackChannel && change.slackThreadTs) {
          await slack
            .updateMessage(
              change.slackChannel,
              change.slackThreadTs,
              buildChangeMessage(viewOf(deps, old, change.requestedBy, null), {
                kind: 'status',
                text: rootText,
              }),
            )
            .catch((err: unknown) => run.logger.warn({ err }, 'could not update the root message'));
        }
        if (run.click.messageTs && run.click.messageTs !== change.slackThreadTs) {
          await slack
            .updateMessage(
              change.slackChannel ?? run.click.channelId,
              run.click.messageTs,
              buildThreadNote(rootText),
            )
            .catch(() => undefined);
        }
        audit(run, 'planned', 're-planned: the base branch moved');
        return;
      }
      case 'nothing-to-do': {
        const text = `Nothing to do any more: ${escapeText(outcome.reason)}. No merge request was opened.`;
        await inThread(change, buildThreadNote(text));
        await settle(run, change, plan, text);
        audit(run, 'nothing_to_do', outcome.reason);
        return;
      }
      case 'busy': {
        await inThread(
          change,
          buildThreadNote(`:hourglass: ${escapeText(outcome.reason)} Click Approve again then.`),
        );
        audit(run, 'failed', `busy: ${outcome.reason}`);
        return;
      }
      case 'branch-taken':
      case 'not-approvable': {
        const text = `:no_entry: ${escapeText(outcome.reason)}`;
        await inThread(change, buildThreadNote(text));
        await settle(run, change, plan, text);
        audit(run, 'failed', `${outcome.kind}: ${outcome.reason}`);
        return;
      }
    }
  };

  /** Both buttons: the audit row and metrics name the change the click is about, once it is known. */
  const noteChange = (run: ClickRun, click: ApproveClick | CancelClick): void => {
    if ('change' in click && click.change) {
      run.command = click.change.kind === 'tf-import' ? 'tf-import' : 'versionlock';
      run.target = `${click.change.project}@${click.change.branch}`;
    }
  };

  /** Both buttons: a click that does nothing is answered privately to the clicker and audited. */
  const answerRefusal = async (run: ClickRun, click: ClickRefusal): Promise<void> => {
    switch (click.kind) {
      case 'unknown':
      case 'stale':
      case 'already':
        await ephemeral(run, click.message);
        audit(run, 'nothing_to_do', click.message);
        return;
      case 'refused':
        await ephemeral(run, `:no_entry: ${click.decision.message}`);
        audit(run, 'refused', `${click.decision.reason}: ${click.decision.message}`);
        return;
    }
  };

  const approve = async (run: ClickRun, changeId: string, digest: string | null): Promise<void> => {
    const click = await approveClick(flow, {
      changeId,
      digest,
      userId: run.click.userId,
      userName: run.click.userName,
      channelId: run.click.channelId,
    });
    noteChange(run, click);
    if (click.kind !== 'approved') return answerRefusal(run, click);
    const change = click.change;
    audit(run, 'approved', click.retry ? 'approved again after a failed attempt' : null);
    await inThread(
      change,
      buildThreadNote(`Approved by <@${run.click.userId}>, applying…${click.retry ? ' (retrying)' : ''}`),
    );
    const threadUrl = await threadLink(deps, change.slackChannel, change.slackThreadTs);
    let outcome: ApplyOutcome;
    try {
      outcome = await applyApproved(flow, change.id, { threadUrl });
    } catch (err) {
      run.logger.error({ err }, 'applying the change failed');
      if (err instanceof IntegrationError && err.service !== 'slack')
        deps.metrics.upstreamErrors.inc({ service: err.service });
      const base = isAppError(err) ? err.userMessage : "Something went wrong on opsbot's side.";
      await inThread(
        change,
        buildThreadNote(
          `:warning: Could not apply the change: ${escapeText(base)} (ref \`${run.correlationId}\`). Approve again to retry; what was already made is reused.`,
        ),
      ).catch(() => undefined);
      audit(run, 'failed', isAppError(err) ? `${err.code}: ${err.userMessage}` : 'internal');
      return;
    }
    await report(run, change, outcome);
  };

  const cancel = async (run: ClickRun, changeId: string, digest: string | null): Promise<void> => {
    const click = await cancelClick(flow, {
      changeId,
      digest,
      userId: run.click.userId,
      channelId: run.click.channelId,
    });
    noteChange(run, click);
    if (click.kind !== 'cancelled') return answerRefusal(run, click);
    const text = `:x: Cancelled by <@${run.click.userId}>. Nothing was changed.`;
    await settle(run, click.change, planOf(click.change), text);
    await inThread(click.change, buildThreadNote(text)).catch(() => undefined);
    audit(run, 'cancelled', null);
  };

  return {
    async handle(click) {
      const correlationId = newId();
      const run: ClickRun = {
        click,
        correlationId,
        logger: deps.logger.child({
          correlationId,
          action: click.action,
          userId: click.userId,
          channelId: click.channelId,
        }),
        startedAt: flow.now(),
        command: 'change',
        target: null,
      };
      const parsed = parseChangeButtonValue(click.value);
      try {
        if (!parsed) {
          await ephemeral(run, 'This button does not belong to a change request opsbot knows.');
          audit(run, 'bad_input', 'unparseable button value');
          return;
        }
        if (click.action === 'approve') await approve(run, parsed.changeId, parsed.digest);
        else await cancel(run, parsed.changeId, parsed.digest);
      } catch (err) {
        run.logger.error({ err }, 'change action failed');
        const base = isAppError(err) ? err.userMessage : "Something went wrong on opsbot's side.";
        await ephemeral(run, `:warning: ${base} (ref \`${correlationId}\`)`);
        audit(run, 'failed', isAppError(err) ? err.code : 'internal');
      }
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
