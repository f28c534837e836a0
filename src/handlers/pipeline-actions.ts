import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import { checkAccess, type GroupMembership } from '../core/access.js';
import type { AccessRule, Config } from '../core/config.js';
import { IntegrationError, isAppError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { SlackPort } from '../integrations/slack/port.js';
import type { PipelineFollower } from '../playbooks/pipelines/follower.js';
import type { Metrics } from '../server/metrics.js';
import type { AuditOutcome } from '../store/types.js';
import { OPEN_ACTION, RETRY_ACTION } from './blocks/pipeline.js';
import { escapeText } from './blocks/text.js';
import { type AuditSink, newCorrelationId } from './pipeline.js';

/**
 * The "Retry failed jobs" button of a failed pipeline's result: who may press it comes from
 * `access.actions.retry-pipeline` (else the /pipeline rule); each click is audited with a correlation id, and
 * answered in the thread (retried) or privately (refused, nothing to retry, failure).
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
  readonly audit: AuditSink;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly now?: () => Date;
  readonly newCorrelationId?: () => string;
}

export const createPipelineActionHandler = (deps: PipelineActionDeps) => {
  const now = deps.now ?? (() => new Date());
  const newId = deps.newCorrelationId ?? newCorrelationId;
  return {
    async handle(click: PipelineClick): Promise<void> {
      const correlationId = newId();
      const startedAt = now();
      const logger = deps.logger.child({ correlationId, action: 'pipeline-retry', userId: click.userId });
      let target: string | null = null;
      const audit = (outcome: AuditOutcome, detail: string | null): void => {
        deps.audit.enqueue({
          at: startedAt,
          actorId: click.userId,
          actorName: click.userName,
          source: 'slack',
          command: 'pipeline',
          args: `retry ${click.value}`.slice(0, 200),
          channelId: click.channelId,
          target,
          outcome,
          detail: detail?.slice(0, 1000) ?? null,
          correlationId,
          durationMs: now().getTime() - startedAt.getTime(),
        });
        deps.metrics.commandsTotal.inc({ command: 'pipeline:retry', outcome });
      };
      const privately = (text: string) =>
        deps.slack
          .postEphemeral(click.channelId, click.userId, { text })
          .catch((err: unknown) => logger.warn({ err }, 'could not answer the click privately'));
      try {
        const rule: AccessRule | undefined =
          deps.config.access.actions?.['retry-pipeline'] ?? deps.config.access.commands.pipeline;
        const decision = await checkAccess(
          'pipeline',
          rule,
          { userId: click.userId, channelId: click.channelId },
          deps.isMember,
        );
        if (!decision.allowed) {
          await privately(`:no_entry: Retrying failed jobs: ${decision.message}`);
          audit('refused', decision.reason);
          return;
        }
        const r = await deps.follower.retryFailedJobs(click.value);
        target = r.target;
        if (r.kind !== 'retried') {
          await privately(escapeText(r.reason));
          audit(r.kind === 'stale' ? 'nothing_to_do' : 'failed', r.reason);
          return;
        }
        if (click.threadTs) {
          await deps.slack
            .postMessage(click.channelId, {
              text: `:repeat: <@${click.userId}> asked to retry the failed jobs of ${escapeText(r.pipelineLabel)}.`,
              threadTs: click.threadTs,
            })
            .catch((err: unknown) => logger.warn({ err }, 'could not note the retry in the thread'));
        }
        audit('ok', `retried ${r.pipelineLabel}`);
      } catch (err) {
        logger.error({ err }, 'retrying failed jobs failed');
        if (err instanceof IntegrationError && err.service !== 'slack')
          deps.metrics.upstreamErrors.inc({ service: err.service });
        const base = isAppError(err) ? err.userMessage : "Something went wrong on opsbot's side.";
        await privately(`:warning: Could not retry: ${escapeText(base)} (ref \`${correlationId}\`)`);
        audit('failed', isAppError(err) ? `${err.code}: ${err.userMessage}` : 'internal');
      }
    },
  };
};

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
