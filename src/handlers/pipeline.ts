import { randomBytes } from 'node:crypto';
import { type AccessDecision, checkAccess, checkAccessSync, type GroupMembership } from '../core/access.js';
import type { CommandName, Config } from '../core/config.js';
import { AppError, IntegrationError, isAppError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { SlackMessage, SlackPort } from '../integrations/slack/port.js';
import type { Metrics } from '../server/metrics.js';
import { isStoreUnavailable } from '../store/errors.js';
import type { AuditOutcome, AuditRecord, AuditRepository } from '../store/types.js';
import { escapeText, SLACK_LIMITS, splitForCodeBlocks, truncate } from './blocks/text.js';

/**
 * The pipeline every slash command goes through: ack at once -> authorize -> parse -> run -> answer ->
 * measure -> audit. A command module only supplies `parse` and `run`; refusals, usage answers, Slack-safe
 * errors with a correlation id, metrics and the audit row are handled here, the same way for all.
 */

/** A slash command as Slack sent it (field names mapped from the form payload). */
export interface SlashInvocation {
  readonly command: string; // "/why-reboot" as typed
  readonly text: string;
  readonly userId: string;
  readonly userName: string | null;
  readonly channelId: string;
  readonly channelName: string | null;
  readonly teamId: string | null;
  readonly responseUrl: string | null;
  readonly triggerId: string | null;
  /** performance.now() when the request arrived, for the ack latency metric. */
  readonly receivedAt?: number;
}

export type ParseOutcome<A> =
  | { readonly ok: true; readonly args: A }
  | { readonly ok: false; readonly problem: string };

export interface CommandResult {
  readonly outcome: AuditOutcome;
  readonly target?: string | null;
  readonly detail?: string | null;
}

export interface CommandContext {
  readonly invocation: SlashInvocation;
  readonly correlationId: string;
  readonly logger: Logger;
  readonly slack: SlackPort;
  /** An ephemeral answer to the user who ran the command (response_url, else chat.postEphemeral). */
  reply(message: SlackMessage): Promise<void>;
}

export interface CommandSpec<A = unknown> {
  readonly name: CommandName;
  parse(text: string): ParseOutcome<A>;
  /** The usage text answered with a bad-arguments problem. */
  usage(): string;
  /**
   * An answer computed without I/O (help text): sent in the ack body itself, so the user sees it with no
   * second round trip and the command costs no Web API call. null/absent: `run` does the work after the ack.
   */
  immediate?(args: A): { readonly message: SlackMessage; readonly result: CommandResult } | null;
  run(ctx: CommandContext, args: A): Promise<CommandResult>;
}

/** Acknowledges the slash command; a message given is shown to the user at once (ephemeral). */
export type Ack = (answer?: {
  readonly text: string;
  readonly blocks?: readonly unknown[];
  readonly response_type: 'ephemeral';
}) => Promise<void>;

export interface AuditSink {
  enqueue(record: AuditRecord): void;
  /** Waits until every queued row is written (shutdown, tests). */
  flush(): Promise<void>;
  /** Rows refused because the queue was full (each one logged and counted in onError). */
  readonly dropped: number;
  /** Rows the store refused even one at a time (each batch logged and counted in onError). */
  readonly failed: number;
}

/** A repository that can also insert many rows in one statement (much cheaper on SQLite under bursts). */
export type BatchingAuditRepository = Pick<AuditRepository, 'record'> &
  Partial<Pick<AuditRepository, 'recordMany'>>;

/**
 * Audit rows are written after the answer, off the request path, one writer at a time, so a burst of
 * commands never queues acks behind database writes. Rows are written in batches (`recordMany`, one
 * multi-row INSERT); a batch the store refuses is retried row by row, so one bad row or a passing hiccup
 * costs no other row. What still fails is logged and counted, not retried forever: the command's answer
 * must not depend on it. A store that does not answer at all (PostgreSQL away: `isStoreUnavailable`) is
 * different: the rows stay queued, in order, and are written once it answers again. A full queue (the store far slower than the commands) drops rows: never silently,
 * every drop is counted, and logged at most once per `dropLogIntervalMs` with the number since the last line.
 */
export const createAuditWriter = (
  audit: BatchingAuditRepository,
  options: {
    logger: Logger;
    /** Called once per row lost (queue full, or refused by the store). */
    onError?: () => void;
    maxQueue?: number;
    maxBatch?: number;
    dropLogIntervalMs?: number;
    /** The first pause before writing again while the store does not answer (doubling, at most maxRetryDelayMs). */
    retryDelayMs?: number;
    maxRetryDelayMs?: number;
    now?: () => number;
  },
): AuditSink => {
  const queue: AuditRecord[] = [];
  const maxQueue = options.maxQueue ?? 50_000;
  const maxBatch = options.maxBatch ?? 500;
  const dropLogIntervalMs = options.dropLogIntervalMs ?? 1_000;
  const now = options.now ?? Date.now;
  let running: Promise<void> | null = null;
  let dropped = 0;
  let failedRows = 0;
  let droppedUnlogged = 0;
  let lastDropLog = Number.NEGATIVE_INFINITY;
  const logDrops = (): void => {
    if (droppedUnlogged === 0) return;
    options.logger.error(
      { dropped: droppedUnlogged, droppedTotal: dropped, maxQueue },
      'audit queue full; rows dropped',
    );
    droppedUnlogged = 0;
    lastDropLog = now();
  };
  const failed = (err: unknown, rows: readonly AuditRecord[]): void => {
    failedRows += rows.length;
    for (let i = 0; i < rows.length; i++) options.onError?.();
    options.logger.error(
      { err, rows: rows.length, correlationIds: rows.slice(0, 5).map((r) => r.correlationId) },
      'audit rows could not be written',
    );
  };
  /** Writes a batch; returns the rows to write again later, when the store did not answer. */
  const writeBatch = async (batch: readonly AuditRecord[]): Promise<readonly AuditRecord[]> => {
    if (audit.recordMany && batch.length > 1) {
      try {
        await audit.recordMany(batch);
        return [];
      } catch (err) {
        if (isStoreUnavailable(err)) return batch;
        options.logger.warn({ err, rows: batch.length }, 'audit batch refused; writing its rows one by one');
      }
    }
    const lost: AuditRecord[] = [];
    let lastErr: unknown;
    for (let i = 0; i < batch.length; i++) {
      const row = batch[i] as AuditRecord;
      try {
        await audit.record(row);
      } catch (err) {
        if (isStoreUnavailable(err)) {
          if (lost.length > 0) failed(lastErr, lost);
          return batch.slice(i);
        }
        lost.push(row);
        lastErr = err;
      }
    }
    if (lost.length > 0) failed(lastErr, lost);
    return [];
  };
  // While the store does not answer (a failover, a network cut), rows wait in the queue and are tried again
  // after a pause that doubles up to maxRetryDelayMs; the queue's bound still holds.
  const retryDelayMs = options.retryDelayMs ?? 1_000;
  const maxRetryDelayMs = options.maxRetryDelayMs ?? 30_000;
  let pauseMs = 0;
  const loop = async (): Promise<void> => {
    // Let the current burst of acks go out before writing.
    await new Promise<void>((r) => setImmediate(r));
    while (queue.length > 0) {
      const again = await writeBatch(queue.splice(0, audit.recordMany ? maxBatch : 1));
      if (again.length > 0) {
        queue.unshift(...again);
        if (pauseMs === 0)
          options.logger.warn(
            { rows: queue.length },
            'the store does not answer; audit rows kept to write later',
          );
        pauseMs = pauseMs === 0 ? retryDelayMs : Math.min(maxRetryDelayMs, pauseMs * 2);
        await new Promise<void>((r) => setTimeout(r, pauseMs).unref());
        continue;
      }
      if (pauseMs > 0) {
        pauseMs = 0;
        options.logger.info('the store answers again; kept audit rows written');
      }
      if (droppedUnlogged > 0 && now() - lastDropLog >= dropLogIntervalMs) logDrops();
      // Yield to incoming requests between writes: acks come first.
      await new Promise<void>((r) => setImmediate(r));
    }
  };
  const start = (): void => {
    if (running) return;
    running = loop().finally(() => {
      running = null;
      if (queue.length > 0) start();
    });
  };
  return {
    enqueue(record) {
      if (queue.length >= maxQueue) {
        dropped += 1;
        droppedUnlogged += 1;
        options.onError?.();
        if (now() - lastDropLog >= dropLogIntervalMs) logDrops();
        return;
      }
      queue.push(record);
      start();
    },
    async flush() {
      while (running || queue.length > 0) {
        if (!running) start();
        await running;
      }
      logDrops();
    },
    get dropped() {
      return dropped;
    },
    get failed() {
      return failedRows;
    },
  };
};

export interface CommandPipelineDeps {
  readonly config: Pick<Config, 'access'>;
  readonly slack: SlackPort;
  readonly isMember: GroupMembership;
  readonly audit: AuditSink;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly now?: () => Date;
  readonly newCorrelationId?: () => string;
}

/**
 * Random bytes are drawn from the CSPRNG in blocks (one call per 1,024 ids, not one per command: a call per
 * id was a measurable share of the ack path under load); each id still gets 6 fresh bytes, never reused.
 */
const ID_BYTES = 6;
let idPool = Buffer.alloc(0);
let idOffset = 0;
export const newCorrelationId = (): string => {
  if (idOffset + ID_BYTES > idPool.length) {
    idPool = randomBytes(ID_BYTES * 1024);
    idOffset = 0;
  }
  const id = idPool.toString('hex', idOffset, idOffset + ID_BYTES);
  idOffset += ID_BYTES;
  return id;
};

/** Appends the correlation id so a user can quote it and an operator can grep the logs for it. */
const safeErrorText = (err: unknown, correlationId: string): string => {
  const base = isAppError(err)
    ? escapeText(truncate(err.userMessage, 2_000))
    : "Something went wrong on opsbot's side.";
  return `:warning: ${base} (ref \`${correlationId}\`)`;
};

/**
 * A request that is not a slash command (a button click, a forge webhook delivery): what the audit row and
 * the metrics name. The work may rename it once it knows more (a click on a versionlock change).
 */
export interface RequestInfo {
  readonly source: AuditRecord['source'];
  /** Audit `command` and metrics name until the work says better (e.g. "change"). */
  readonly name: string;
  /** Metrics suffix ("approve" -> `versionlock:approve`). */
  readonly action?: string;
  readonly actorId: string;
  readonly actorName: string | null;
  readonly channelId: string | null;
  readonly args: string;
}

export interface RequestResult extends CommandResult {
  /** The command the request turned out to be about (audit and metrics). */
  readonly name?: string;
  /** The work wrote its audit row itself, in the transaction of the decision it records. */
  readonly audited?: boolean;
}

export interface RequestContext {
  readonly correlationId: string;
  readonly logger: Logger;
  /** This request's audit row, for work that writes it in its own transaction (then `audited: true`). */
  auditRow(outcome: AuditOutcome, detail: string | null, target: string | null, name?: string): AuditRecord;
}

export interface CommandPipeline {
  handle<A>(spec: CommandSpec<A>, invocation: SlashInvocation, ack: Ack): Promise<void>;
  /**
   * Shutdown, after the drain deadline: every command, click or delivery still running is cut off. Each user
   * is told (ephemeral, with the correlation id) and each gets its audit row (outcome failed, "interrupted by
   * shutdown"), queued on the audit writer; whatever the work does later is neither answered nor audited.
   * Returns how many were cut off.
   */
  interruptAll(): Promise<number>;
  /**
   * Runs any other request (a click, a webhook) the way commands run: a correlation id and a child logger,
   * then `work`; an unexpected error is logged once with the id, counted, and told to the user (if `tell`
   * is given) as a Slack-safe line quoting the id; then metrics and the audit row (unless the work wrote it).
   */
  run(
    info: RequestInfo,
    work: (ctx: RequestContext) => Promise<RequestResult>,
    tell?: (text: string) => Promise<void>,
  ): Promise<RequestResult>;
}

/**
 * The context handed to a command. A class, not an object literal with a `get logger()` closure: V8 keeps an
 * accessor in the object's hidden class (map), so a literal whose getter is a fresh closure got a new map per
 * command; maps live in the old generation, so each one kept its request's whole graph (invocation, Bolt's
 * ack and context, through the closure's scope) alive across young-generation GCs until the next full GC.
 * Under load that promoted ~8 MB per scavenge (8-10 ms pauses) and cost the ack p99.
 */
class PipelineContext implements CommandContext {
  readonly invocation: SlashInvocation;
  readonly correlationId: string;
  readonly slack: SlackPort;
  readonly reply: (message: SlackMessage) => Promise<void>;
  readonly #logger: () => Logger;
  constructor(
    invocation: SlashInvocation,
    correlationId: string,
    logger: () => Logger,
    slack: SlackPort,
    reply: (message: SlackMessage) => Promise<void>,
  ) {
    this.invocation = invocation;
    this.correlationId = correlationId;
    this.#logger = logger;
    this.slack = slack;
    this.reply = reply;
  }
  /** The per-command child logger, built on first use. */
  get logger(): Logger {
    return this.#logger();
  }
}

/** Work still running, for the shutdown to cut off (`interruptAll`). */
interface RunningWork {
  interrupted: boolean;
  interrupt(): Promise<void>;
}

/** What a user cut off by a shutdown is told. */
export const interruptedText = (what: string, correlationId: string): string =>
  `:warning: ${what} was interrupted: opsbot is restarting and could not finish it. Nothing more will happen for it; run it again in a minute (ref \`${correlationId}\`).`;

export const INTERRUPTED_DETAIL = 'interrupted by shutdown';

export const createCommandPipeline = (deps: CommandPipelineDeps): CommandPipeline => {
  const now = deps.now ?? (() => new Date());
  const newId = deps.newCorrelationId ?? newCorrelationId;
  const { metrics, slack } = deps;
  const running = new Set<RunningWork>();
  const track = (interrupt: () => Promise<void>): RunningWork => {
    const entry: RunningWork = {
      interrupted: false,
      async interrupt() {
        if (entry.interrupted) return;
        entry.interrupted = true;
        running.delete(entry);
        await interrupt();
      },
    };
    running.add(entry);
    return entry;
  };

  /** The one error sink: every failure of a command, click or webhook is logged and counted here. */
  const sinkError = (logger: Logger, err: unknown, what: string): void => {
    logger.error({ err }, what);
    if (err instanceof IntegrationError && err.service !== 'slack')
      metrics.upstreamErrors.inc({ service: err.service });
  };

  const run: CommandPipeline['run'] = async (info, work, tell) => {
    const startedAt = now();
    const correlationId = newId();
    const logger = deps.logger.child({
      correlationId,
      request: info.name,
      ...(info.action ? { action: info.action } : {}),
      userId: info.actorId,
      ...(info.channelId ? { channelId: info.channelId } : {}),
    });
    const auditRow = (
      outcome: AuditOutcome,
      detail: string | null,
      target: string | null,
      name?: string,
    ): AuditRecord => ({
      at: startedAt,
      actorId: info.actorId,
      actorName: info.actorName,
      source: info.source,
      command: name ?? info.name,
      args: info.args.slice(0, 200),
      channelId: info.channelId,
      target,
      outcome,
      detail: detail?.slice(0, 1000) ?? null,
      correlationId,
      durationMs: now().getTime() - startedAt.getTime(),
    });
    const entry = track(async () => {
      logger.warn('request interrupted by shutdown');
      await tell?.(interruptedText(`Your ${info.action ?? info.name} request`, correlationId)).catch(
        (e: unknown) => logger.warn({ err: e }, 'could not tell the user about the interruption'),
      );
      metrics.commandsTotal.inc({
        command: info.action ? `${info.name}:${info.action}` : info.name,
        outcome: 'failed',
      });
      deps.audit.enqueue(auditRow('failed', INTERRUPTED_DETAIL, null));
    });
    let result: RequestResult;
    try {
      result = await work({ correlationId, logger, auditRow });
    } catch (err) {
      if (entry.interrupted) return { outcome: 'failed', detail: INTERRUPTED_DETAIL, audited: true };
      sinkError(logger, err, 'request failed');
      await tell?.(safeErrorText(err, correlationId)).catch((e: unknown) => {
        logger.warn({ err: e }, 'could not tell the user about the failure');
      });
      result = { outcome: 'failed', detail: isAppError(err) ? err.code : 'internal' };
    } finally {
      running.delete(entry);
    }
    // Cut off by the shutdown: the user was told and the row written then; the late result is dropped.
    if (entry.interrupted) return { ...result, audited: true };
    const name = result.name ?? info.name;
    const durationMs = now().getTime() - startedAt.getTime();
    metrics.commandsTotal.inc({
      command: info.action ? `${name}:${info.action}` : name,
      outcome: result.outcome,
    });
    logger.info({ outcome: result.outcome, durationMs }, 'request done');
    if (!result.audited) {
      deps.audit.enqueue(auditRow(result.outcome, result.detail ?? null, result.target ?? null, name));
    }
    return result;
  };

  return {
    run,
    async interruptAll() {
      const cut = [...running];
      await Promise.all(cut.map((w) => w.interrupt()));
      return cut.length;
    },
    async handle<A>(spec: CommandSpec<A>, inv: SlashInvocation, ack: Ack): Promise<void> {
      const startedAt = now();
      const t0 = inv.receivedAt ?? performance.now();
      const correlationId = newId();
      const bindings = { correlationId, command: spec.name, userId: inv.userId, channelId: inv.channelId };
      // The per-command child logger is built on first use: a command answered in the ack (help, usage,
      // refusals) logs one line, written with the same fields straight from the parent logger.
      const built: { child: Logger | null } = { child: null };
      const logger = (): Logger => {
        built.child ??= deps.logger.child(bindings);
        return built.child;
      };
      const acked = async (answer?: SlackMessage): Promise<void> => {
        await ack(
          answer ? { ...answer, blocks: answer.blocks ?? [], response_type: 'ephemeral' } : undefined,
        );
        if (inv.receivedAt === undefined) metrics.ackDuration.observe((performance.now() - t0) / 1000);
      };
      const reply = async (message: SlackMessage): Promise<void> => {
        if (inv.responseUrl) {
          try {
            await slack.respond(inv.responseUrl, { ...message, responseType: 'ephemeral' });
            return;
          } catch (err) {
            logger().warn({ err }, 'response_url reply failed; trying chat.postEphemeral');
          }
        }
        await slack.postEphemeral(inv.channelId, inv.userId, message);
      };
      const ctx: CommandContext = new PipelineContext(inv, correlationId, logger, slack, reply);

      // Decided without I/O (the common case): refusals, usage and immediate answers ride on the ack.
      // Otherwise (a user group must be looked up, or the command does real work): ack empty at once,
      // then answer through response_url.
      const rule = deps.config.access.commands[spec.name];
      const access = { userId: inv.userId, channelId: inv.channelId };
      const syncDecision = checkAccessSync(spec.name, rule, access);
      let result: CommandResult | undefined;
      let work: (() => Promise<CommandResult>) | null = null;
      let entry: RunningWork | undefined;
      /** Metrics, the log line and the audit row of the command, once. */
      const finish = (r: CommandResult): void => {
        const durationMs = now().getTime() - startedAt.getTime();
        metrics.commandsTotal.inc({ command: spec.name, outcome: r.outcome });
        metrics.commandDuration.observe({ command: spec.name }, durationMs / 1000);
        if (built.child) built.child.info({ outcome: r.outcome, durationMs }, 'command done');
        else deps.logger.info({ ...bindings, outcome: r.outcome, durationMs }, 'command done');
        deps.audit.enqueue({
          at: startedAt,
          actorId: inv.userId,
          actorName: inv.userName,
          source: 'slack',
          command: spec.name,
          args: inv.text,
          channelId: inv.channelId,
          target: r.target ?? null,
          outcome: r.outcome,
          detail: r.detail ?? null,
          correlationId,
          durationMs,
        });
      };
      try {
        const afterAccess = (
          decision: AccessDecision,
        ): { answer?: SlackMessage; result?: CommandResult; run?: () => Promise<CommandResult> } => {
          if (!decision.allowed) {
            logger().info({ reason: decision.reason }, 'command refused');
            return {
              answer: { text: `:no_entry: ${decision.message}` },
              result: { outcome: 'refused', detail: decision.reason },
            };
          }
          const parsed = spec.parse(inv.text);
          if (!parsed.ok) {
            return {
              answer: usageMessage(parsed.problem, spec.usage()),
              result: { outcome: 'bad_input', detail: parsed.problem },
            };
          }
          const immediate = spec.immediate?.(parsed.args);
          if (immediate) return { answer: immediate.message, result: immediate.result };
          return { run: () => spec.run(ctx, parsed.args) };
        };
        if (syncDecision) {
          const step = afterAccess(syncDecision);
          await acked(step.answer);
          if (step.run) work = step.run;
          else result = step.result;
        } else {
          await acked();
          const step = afterAccess(await checkAccess(spec.name, rule, access, deps.isMember));
          if (step.answer) await reply(step.answer);
          if (step.run) work = step.run;
          else result = step.result;
        }
        if (work) {
          entry = track(async () => {
            logger().warn('command interrupted by shutdown');
            await reply({ text: interruptedText(`\`/${spec.name}\``, correlationId) }).catch((e: unknown) =>
              logger().warn({ err: e }, 'could not tell the user about the interruption'),
            );
            finish({ outcome: 'failed', detail: INTERRUPTED_DETAIL });
          });
          result = await work();
        }
      } catch (err) {
        if (!entry?.interrupted) result = await answerFailure(ctx, spec, err);
      } finally {
        if (entry) running.delete(entry);
      }
      // Cut off by the shutdown: the user was told and the row written then; the late result is dropped.
      if (entry?.interrupted) return;
      finish(result ?? { outcome: 'failed', detail: 'no result' });
    },
  };

  async function answerFailure<A>(
    ctx: CommandContext,
    spec: CommandSpec<A>,
    err: unknown,
  ): Promise<CommandResult> {
    if (err instanceof AppError && err.code === 'bad_input') {
      await ctx.reply(usageMessage(err.userMessage, spec.usage())).catch((e: unknown) => {
        ctx.logger.warn({ err: e }, 'could not send the usage answer');
      });
      return { outcome: 'bad_input', detail: err.userMessage };
    }
    sinkError(ctx.logger, err, 'command failed');
    await ctx.reply({ text: safeErrorText(err, ctx.correlationId) }).catch((e: unknown) => {
      ctx.logger.warn({ err: e }, 'could not tell the user about the failure');
    });
    return { outcome: 'failed', detail: isAppError(err) ? err.code : 'internal' };
  }
};

/** The problem quotes what the user typed (any length, any characters): escaped and cut to fit. */
const usageMessage = (problem: string, usage: string): SlackMessage => ({
  text: truncate(`${escapeText(problem)}\n${escapeText(usage)}`, SLACK_LIMITS.sectionText),
  blocks: [
    {
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: truncate(`:grey_question: ${escapeText(problem)}`, SLACK_LIMITS.sectionText),
      },
    },
    ...splitForCodeBlocks(usage, { maxParts: 1 }).parts.map((part) => ({
      type: 'section',
      text: { type: 'mrkdwn', text: part },
    })),
  ],
});
