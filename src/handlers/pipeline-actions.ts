import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import { checkAccess, type GroupMembership } from '../core/access.js';
import type { AccessRule, Config } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import type { SlackPort } from '../integrations/slack/port.js';
import type { PipelineFollower } from '../playbooks/pipelines/follower.js';
import { OPEN_ACTION, RETRY_ACTION } from './blocks/pipeline.js';
import { escapeText } from './blocks/text.js';
import type { CommandPipeline } from './pipeline.js';

/**
 * The "Retry failed jobs" button of a failed pipeline's result: who may press it comes from
 * `access.actions.retry-pipeline` (else the /pipeline rule); each click runs through the shared request pipeline
 * (correlation id, audit row, metrics, one error sink) and is answered in the thread (retried) or privately
 * (refused, nothing to retry, failure).
 */

export interface PipelineClick {
  readonly value: string;
  readonly userId: string;
  readonly userName: string | null;
  readonly channelId: string;
  /** The thread the clicked message is in (the result is a thread reply). */
  readonly threadTs: string | null;
}

export interface PipelineActionDeps {
  readonly config: Pick<Config, 'access'>;
  readonly follower: Pick<PipelineFollower, 'retryFailedJobs'>;
  readonly slack: SlackPort;
  readonly isMember: GroupMembership;
  /** The shared request pipeline: correlation id, audit row, metrics, the one error sink. */
  readonly pipeline: Pick<CommandPipeline, 'run'>;
}

export const createPipelineActionHandler = (deps: PipelineActionDeps) => ({
  async handle(click: PipelineClick): Promise<void> {
    const privately = (text: string) =>
      deps.slack.postEphemeral(click.channelId, click.userId, { text }).then(() => undefined);
    await deps.pipeline.run(
      {
        source: 'slack',
        name: 'pipeline',
        action: 'retry',
        actorId: click.userId,
        actorName: click.userName,
        channelId: click.channelId,
        args: `retry ${click.value}`,
      },
      async (ctx) => {
        const tell = (text: string) =>
          privately(text).catch((err: unknown) =>
            ctx.logger.warn({ err }, 'could not answer the click privately'),
          );
        const rule: AccessRule | undefined =
          deps.config.access.actions?.['retry-pipeline'] ?? deps.config.access.commands.pipeline;
        const decision = await checkAccess(
          'pipeline',
          rule,
          { userId: click.userId, channelId: click.channelId },
          deps.isMember,
        );
        if (!decision.allowed) {
          await tell(`:no_entry: Retrying failed jobs: ${decision.message}`);
          return { outcome: 'refused', detail: decision.reason };
        }
        const r = await deps.follower.retryFailedJobs(click.value);
        if (r.kind !== 'retried') {
          await tell(escapeText(r.reason));
          return {
            outcome: r.kind === 'stale' ? 'nothing_to_do' : 'failed',
            target: r.target,
            detail: r.reason,
          };
        }
        if (click.threadTs) {
          await deps.slack
            .postMessage(click.channelId, {
              text: `:repeat: <@${click.userId}> asked to retry the failed jobs of ${escapeText(r.pipelineLabel)}.`,
              threadTs: click.threadTs,
            })
            .catch((err: unknown) => ctx.logger.warn({ err }, 'could not note the retry in the thread'));
        }
        return { outcome: 'ok', target: r.target, detail: `retried ${r.pipelineLabel}` };
      },
      (text) => privately(text),
    );
  },
});

export type PipelineActionHandler = ReturnType<typeof createPipelineActionHandler>;

/** Wires the result buttons: ack at once (Slack's 3 s), then the work. "Open pipeline" is a link: ack only. */
export const registerPipelineActions = (app: App, handler: PipelineActionHandler, logger: Logger): void => {
  app.action<BlockAction<ButtonAction>>(
    { type: 'block_actions', action_id: RETRY_ACTION },
    async ({ ack, body, action }) => {
      await ack();
      const click: PipelineClick = {
        value: action.value ?? '',
        userId: body.user.id,
        userName: body.user.username ?? body.user.name ?? null,
        channelId: body.channel?.id ?? body.container?.channel_id ?? '',
        threadTs:
          (body.message as { thread_ts?: string } | undefined)?.thread_ts ??
          (body.container as { thread_ts?: string } | undefined)?.thread_ts ??
          null,
      };
      await handler
        .handle(click)
        .catch((err: unknown) => logger.error({ err }, 'unhandled error in a pipeline action'));
    },
  );
  app.action({ type: 'block_actions', action_id: OPEN_ACTION }, async ({ ack }) => {
    await ack();
  });
};
