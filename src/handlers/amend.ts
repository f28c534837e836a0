import type { App, BlockAction, ButtonAction, ViewSubmitAction } from '@slack/bolt';
import { checkAccess } from '../core/access.js';
import type { Logger } from '../core/logger.js';
import type { MergeRequestRef } from '../integrations/forge/events.js';
import type { ForgeKind } from '../integrations/forge/port.js';
import { isTriggerGone, slackErrorOf } from '../integrations/slack/errors.js';
import {
  type AmendDeps,
  type AmendPreviewOutcome,
  type AmendRequest,
  mrLabel,
  previewAmend,
} from '../playbooks/amend/amend.js';
import { AMEND_KIND, amendRequestOf, buildAmendPlan } from '../playbooks/amend/change.js';
import { checkPatch } from '../playbooks/amend/patch.js';
import { parseStoredPlan } from '../playbooks/change/plan-schema.js';
import type { PlanOutcome } from '../playbooks/change/types.js';
import { type ForgeHosts, parseMrRef } from '../playbooks/pipelines/mr-ref.js';
import type { ChangeRequest } from '../store/types.js';
import { parseChangeWords } from './args.js';
import {
  AMEND_BLOCKS,
  AMEND_MODAL_CALLBACK,
  buildAmendModal,
  readAmendSubmission,
} from './blocks/amend-modal.js';
import { AMEND_REPREVIEW_ACTION } from './blocks/change.js';
import { escapeText, truncate } from './blocks/text.js';
import { type ChangeHandlerDeps, type PresentContext, presentPlan } from './change-actions.js';
import { pendingCommand } from './pending.js';
import type { CommandContext, CommandResult, CommandSpec, ParseOutcome } from './pipeline.js';
import { formatUsage } from './usage.js';

/**
 * `/amend <mr> --diff [--amend] [--message M] [--reason R] [--dry-run]` with the unified diff on the lines
 * after it. The preview (exact diff, branch, head it was computed on) becomes a change of the shared lifecycle,
 * posted as the root of its thread with Approve / Cancel; approval, audit, apply and the pipeline that follows
 * are the lifecycle's. "Preview again" (offered when the branch moved before approval) previews the same
 * request on the new head as a new change.
 */

export interface AmendHandlerDeps {
  readonly changes: ChangeHandlerDeps;
  /** Git and the forge for an MR of this forge (throws config_invalid when that forge is not configured). */
  readonly amendFor: (kind: ForgeKind) => AmendDeps;
  readonly hosts: ForgeHosts;
  readonly getChange: (id: string) => Promise<ChangeRequest | null>;
}

export interface AmendArgs {
  readonly mr: string;
  /** null: no `--diff`, the change comes from the form (modal) the command opens. */
  readonly patch: string | null;
  readonly mode: AmendRequest['mode'];
  readonly message: string | null;
  readonly reason: string | null;
  readonly dryRun: boolean;
}

/** Slack sends `&`, `<` and `>` of a command's text as HTML entities: the diff needs them back. */
const unescapeSlack = (text: string): string =>
  text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** The diff as pasted: a surrounding ``` fence (Slack's code block) removed, ending with a newline. */
const cleanDiff = (body: string): string => {
  let lines = body.replace(/\r\n/g, '\n').split('\n');
  while (lines.length && lines[0]?.trim() === '') lines.shift();
  while (lines.length && lines[lines.length - 1]?.trim() === '') lines.pop();
  if (lines[0]?.trim().startsWith('```')) {
    const first = (lines[0] as string).trim().slice(3);
    lines = first ? [first, ...lines.slice(1)] : lines.slice(1);
  }
  const last = lines[lines.length - 1];
  if (last?.trim().endsWith('```')) {
    const rest = last.trimEnd().slice(0, -3);
    lines = rest ? [...lines.slice(0, -1), rest] : lines.slice(0, -1);
  }
  return lines.length ? `${lines.join('\n')}\n` : '';
};

export const parseAmendArgs = (raw: string): ParseOutcome<AmendArgs> => {
  const text = unescapeSlack(raw);
  const nl = text.indexOf('\n');
  let head = nl < 0 ? text : text.slice(0, nl);
  let body = nl < 0 ? '' : text.slice(nl + 1);
  // A code block opened on the command line: "```--- a/x" or a lone "```".
  const fence = head.indexOf('```');
  if (fence >= 0) {
    body = `${head.slice(fence)}\n${body}`;
    head = head.slice(0, fence);
  }
  const words = parseChangeWords(head, ['message', 'reason'], ['diff', 'amend', 'dry-run']);
  if (!words.ok) return words;
  const { positional, values, switches } = words.args;
  if (positional.length === 0 || positional[0] === 'help') return { ok: false, problem: 'which MR?' };
  if (positional.length > 1) return { ok: false, problem: 'give one merge / pull request' };
  const common = {
    mr: positional[0] as string,
    mode: switches.has('amend') ? ('amend' as const) : ('add' as const),
    message: values.message ?? null,
    reason: values.reason ?? null,
    dryRun: switches.has('dry-run'),
  };
  if (!switches.has('diff')) {
    if (cleanDiff(body) !== '')
      return {
        ok: false,
        problem: 'a diff after the command needs `--diff` (without it, /amend opens a form)',
      };
    return { ok: true, args: { ...common, patch: null } };
  }
  const patch = cleanDiff(body);
  if (patch === '')
    return { ok: false, problem: '--diff: the unified diff goes on the lines after the command' };
  return { ok: true, args: { ...common, patch } };
};

/** A preview that is not one, as a Slack answer and its audit result. */
const answerOf = (
  out: Exclude<AmendPreviewOutcome, { kind: 'preview' }>,
  label: string,
): { text: string; result: CommandResult } => {
  switch (out.kind) {
    case 'nothing_to_do':
      return {
        text: `Nothing to do: \`${escapeText(out.target.branch)}\` of ${escapeText(label)} already has this change (at \`${out.headSha.slice(0, 12)}\`).`,
        result: { outcome: 'nothing_to_do', target: label, detail: 'already applied' },
      };
    case 'head_moved':
      return {
        text: `\`${escapeText(out.target.branch)}\` moved while the preview was computed: run it again.`,
        result: { outcome: 'failed', target: label, detail: 'head moved during the preview' },
      };
    case 'refused': {
      const hunk = out.hunk
        ? `\nThe hunk that failed:\n\`\`\`${escapeText(truncate(out.hunk, 2000))}\`\`\``
        : '';
      return {
        text: `:no_entry: ${escapeText(truncate(out.message, 1500))}${hunk}`,
        result: {
          outcome: 'bad_input',
          target: label,
          detail: `${out.reason}: ${out.message}`.slice(0, 500),
        },
      };
    }
  }
};

type PresentRequest = Omit<AmendRequest, 'ref'> & {
  readonly reason: string | null;
  readonly dryRun: boolean;
};

/** Previews the request and presents it as a change (the slash command and "Preview again" both). */
const previewAndPresent = async (
  deps: AmendHandlerDeps,
  ctx: PresentContext,
  ref: MergeRequestRef,
  req: PresentRequest,
): Promise<CommandResult> => {
  const request: AmendRequest = { ref, patch: req.patch, mode: req.mode, message: req.message };
  const out = await previewAmend(deps.amendFor(ref.forge), request);
  return presentPreview(deps, ctx, request, out, req);
};

/** A computed preview shown as a change (or its refusal answered privately). */
const presentPreview = async (
  deps: AmendHandlerDeps,
  ctx: PresentContext,
  request: AmendRequest,
  out: AmendPreviewOutcome,
  req: PresentRequest,
): Promise<CommandResult> => {
  const label = mrLabel(request.ref);
  if (out.kind !== 'preview') {
    const answer = answerOf(out, label);
    await ctx.reply({ text: answer.text });
    return answer.result;
  }
  const plan = buildAmendPlan(request, out, req.reason);
  return presentPlan(deps.changes, ctx, plan, { dryRun: req.dryRun });
};

/**
 * `--mr <mr>` on a change command: the change is planned against the MR's source branch (`plan`, given that
 * branch and its repository) and its diff goes onto the MR as an /amend (a commit; approved under /amend's
 * rules). The MR must be in the target's repository.
 */
export const presentOnMergeRequest = async (
  deps: AmendHandlerDeps,
  ctx: PresentContext,
  mrText: string,
  target: { readonly forge: ForgeKind; readonly repo: string; readonly name: string },
  plan: (onBranch: { readonly repo: string; readonly baseBranch: string }) => Promise<PlanOutcome>,
  options: { readonly dryRun: boolean },
): Promise<CommandResult> => {
  const parsed = parseMrRef(mrText, deps.hosts);
  if (!parsed.ok) {
    await ctx.reply({ text: `:no_entry: --mr: ${escapeText(parsed.problem)}` });
    return { outcome: 'bad_input', detail: parsed.problem };
  }
  const { ref } = parsed;
  const label = mrLabel(ref);
  if (ref.forge !== target.forge || ref.repo !== target.repo) {
    const text = `--mr: ${label} is not in ${target.repo}, the repository of target ${target.name}.`;
    await ctx.reply({ text: `:no_entry: ${escapeText(text)}` });
    return { outcome: 'bad_input', target: label, detail: text };
  }
  const mr = await deps.amendFor(ref.forge).forge.getMergeRequestSource(ref.repo, ref.number);
  if (!mr) {
    const text = `${label} does not exist (or opsbot's token cannot see it).`;
    await ctx.reply({ text: `:no_entry: ${escapeText(text)}` });
    return { outcome: 'bad_input', target: label, detail: text };
  }
  const planned = await plan({ repo: mr.sourceRepo, baseBranch: mr.sourceBranch });
  if (planned.kind !== 'planned') {
    const text =
      planned.kind === 'nothing-to-do'
        ? `Nothing to do on ${label}: ${planned.reason}.`
        : `:no_entry: ${planned.reason}`;
    await ctx.reply({ text: escapeText(text) });
    return {
      outcome: planned.kind === 'nothing-to-do' ? 'nothing_to_do' : 'failed',
      target: label,
      detail: planned.reason,
    };
  }
  return previewAndPresent(deps, ctx, ref, {
    patch: planned.plan.diff,
    mode: 'add',
    message: planned.plan.commitMessage,
    reason: planned.plan.summary,
    dryRun: options.dryRun,
  });
};

const TRIGGER_GONE_TEXT =
  'Slack took too long to open the /amend form (its 3-second window passed): run `/amend` again, or paste the change with `/amend <mr> --diff`.';

/** `/amend <mr>` without `--diff`: the form, opened with the command's trigger id (valid 3 s, once). */
const openAmendForm = async (
  ctx: CommandContext,
  ref: MergeRequestRef,
  mrText: string,
): Promise<CommandResult> => {
  const label = mrLabel(ref);
  const triggerId = ctx.invocation.triggerId;
  if (!triggerId) {
    await ctx.reply({ text: TRIGGER_GONE_TEXT });
    return { outcome: 'failed', target: label, detail: 'no trigger id to open the form with' };
  }
  try {
    await ctx.slack.openView(
      triggerId,
      buildAmendModal({ mrLabel: label, metadata: { mr: mrText, channelId: ctx.invocation.channelId } }),
    );
  } catch (err) {
    if (!isTriggerGone(err)) throw err;
    ctx.logger.warn({ slackError: slackErrorOf(err) }, 'the /amend form could not be opened in time');
    await ctx.reply({ text: TRIGGER_GONE_TEXT });
    return { outcome: 'failed', target: label, detail: `form not opened: ${slackErrorOf(err)}` };
  }
  return { outcome: 'ok', target: label, detail: 'form opened' };
};

export const amendCommand = (deps: AmendHandlerDeps | null): CommandSpec<AmendArgs> => {
  if (!deps) return pendingCommand('amend') as unknown as CommandSpec<AmendArgs>;
  return {
    name: 'amend',
    parse: parseAmendArgs,
    usage: () => formatUsage('amend'),
    async run(ctx, args): Promise<CommandResult> {
      const parsed = parseMrRef(args.mr, deps.hosts);
      if (!parsed.ok) {
        await ctx.reply({ text: `:no_entry: ${escapeText(parsed.problem)}` });
        return { outcome: 'bad_input', detail: parsed.problem };
      }
      if (args.patch === null) return openAmendForm(ctx, parsed.ref, args.mr);
      return previewAndPresent(deps, ctx, parsed.ref, { ...args, patch: args.patch });
    },
  };
};

// ---------------------------------------------------------------------------------------------------------
// "Preview again on <new head>"

export interface AmendClick {
  readonly changeId: string;
  readonly userId: string;
  readonly userName: string | null;
  readonly channelId: string;
}

export const createAmendActionHandler = (deps: AmendHandlerDeps) => ({
  async handle(click: AmendClick): Promise<void> {
    const { slack, pipeline, logger } = deps.changes;
    const say = async (text: string): Promise<void> => {
      await slack
        .postEphemeral(click.channelId, click.userId, { text })
        .catch((err: unknown) => logger.warn({ err }, 'could not answer the click privately'));
    };
    await pipeline.run(
      {
        source: 'slack',
        name: 'amend',
        action: 'repreview',
        actorId: click.userId,
        actorName: click.userName,
        channelId: click.channelId,
        args: `repreview ${click.changeId}`,
      },
      async (rctx) => {
        const change = await deps.getChange(click.changeId);
        if (!change || change.kind !== AMEND_KIND) {
          await say('This button does not belong to an /amend request opsbot knows.');
          return { outcome: 'bad_input', detail: 'unknown change' };
        }
        // Previewing again is asking for the change again: the clicker must be allowed to run /amend.
        const access = await checkAccess(
          'amend',
          deps.changes.flow.commandRules.amend,
          { userId: click.userId, channelId: click.channelId },
          deps.changes.flow.isMember,
        );
        if (!access.allowed) {
          await say(`:no_entry: ${access.message}`);
          return { outcome: 'refused', detail: access.message };
        }
        const req = amendRequestOf(parseStoredPlan(change.plan, change.id));
        return previewAndPresent(
          deps,
          {
            invocation: { userId: click.userId, userName: click.userName, channelId: click.channelId },
            correlationId: rctx.correlationId,
            logger: rctx.logger,
            reply: (m) => say(m.text),
          },
          req.ref,
          { patch: req.patch, mode: req.mode, message: req.message, reason: req.reason, dryRun: false },
        );
      },
      say,
    );
  },
});

// ---------------------------------------------------------------------------------------------------------
// The form's submission

/**
 * How long a submission waits for its preview before acknowledging. Slack drops the form (and shows the user
 * an error) when the ack takes more than 3 s; within this budget a diff that does not apply is shown under the
 * diff field (`response_action: 'errors'`), after it the form closes and the outcome goes to the channel.
 */
const SUBMIT_PREVIEW_BUDGET_MS = 2000;

export type ViewAck = (answer?: {
  readonly response_action: 'errors';
  readonly errors: Record<string, string>;
}) => Promise<void>;

export interface AmendFormSubmission {
  readonly userId: string;
  readonly userName: string | null;
  readonly values: Parameters<typeof readAmendSubmission>[0];
  readonly privateMetadata: string;
}

/** The commands whose change the form can put onto the MR (as `<command> <words> --mr <mr>`). */
export type TypedChangeCommands = Partial<Record<'versionlock' | 'tf-import', CommandSpec<unknown>>>;

export const createAmendFormHandler = (deps: AmendHandlerDeps, typedCommands: TypedChangeCommands = {}) => ({
  async handle(sub: AmendFormSubmission, ack: ViewAck): Promise<void> {
    const { slack, pipeline, logger } = deps.changes;
    let acked = false;
    const ackOnce: ViewAck = async (answer) => {
      if (acked) return;
      acked = true;
      await ack(answer);
    };
    const read = readAmendSubmission(sub.values, sub.privateMetadata);
    if (!read.ok) {
      await ackOnce({ response_action: 'errors', errors: read.errors });
      return;
    }
    const { metadata } = read.submission;
    const say = async (text: string): Promise<void> => {
      await slack
        .postEphemeral(metadata.channelId, sub.userId, { text })
        .catch((err: unknown) => logger.warn({ err }, 'could not answer the form privately'));
    };
    const fieldError = async (text: string): Promise<void> =>
      ackOnce({ response_action: 'errors', errors: { [AMEND_BLOCKS.diff]: truncate(text, 1900) } });
    try {
      await pipeline.run(
        {
          source: 'slack',
          name: 'amend',
          action: 'form',
          actorId: sub.userId,
          actorName: sub.userName,
          channelId: metadata.channelId,
          args: `${metadata.mr} (form)`,
        },
        async (rctx) => {
          const parsed = parseMrRef(metadata.mr, deps.hosts);
          if (!parsed.ok) {
            await fieldError(parsed.problem);
            return { outcome: 'bad_input', detail: parsed.problem };
          }
          const label = mrLabel(parsed.ref);
          const presentCtx: PresentContext = {
            invocation: { userId: sub.userId, userName: sub.userName, channelId: metadata.channelId },
            correlationId: rctx.correlationId,
            logger: rctx.logger,
            reply: (m) => say(m.text),
          };
          if (read.submission.typed !== null) {
            return runTypedChange(deps, typedCommands, presentCtx, read.submission.typed, metadata.mr, {
              fieldError: (t) =>
                ackOnce({ response_action: 'errors', errors: { [AMEND_BLOCKS.typed]: truncate(t, 1900) } }),
              ack: () => ackOnce(),
            });
          }
          const patch = cleanDiff(read.submission.diffText);
          const check = checkPatch(patch);
          if (!check.ok) {
            await fieldError(check.problem);
            return { outcome: 'bad_input', target: label, detail: check.problem };
          }
          // The form was opened by someone allowed to run /amend; the submission is checked again (it is the
          // request).
          const access = await checkAccess(
            'amend',
            deps.changes.flow.commandRules.amend,
            { userId: sub.userId, channelId: metadata.channelId },
            deps.changes.flow.isMember,
          );
          if (!access.allowed) {
            await fieldError(access.message);
            return { outcome: 'refused', target: label, detail: access.message };
          }
          const request: AmendRequest = {
            ref: parsed.ref,
            patch,
            mode: read.submission.mode,
            message: read.submission.message,
          };
          const previewing = previewAmend(deps.amendFor(parsed.ref.forge), request);
          let timer: NodeJS.Timeout | undefined;
          const inTime = await Promise.race([
            previewing.then((out) => ({ out })),
            new Promise<null>((resolve) => {
              timer = setTimeout(() => resolve(null), SUBMIT_PREVIEW_BUDGET_MS);
            }),
          ]).finally(() => clearTimeout(timer));
          if (inTime?.out.kind === 'refused') {
            const hunk = inTime.out.hunk ? `\nThe hunk that failed:\n${inTime.out.hunk}` : '';
            await fieldError(`${inTime.out.message}${hunk}`);
            return {
              outcome: 'bad_input',
              target: label,
              detail: `${inTime.out.reason}: ${inTime.out.message}`.slice(0, 500),
            };
          }
          await ackOnce();
          const out = inTime ? inTime.out : await previewing;
          return presentPreview(deps, presentCtx, request, out, {
            ...request,
            reason: read.submission.reason,
            dryRun: false,
          });
        },
        say,
      );
    } finally {
      // Whatever happened (an unexpected error was told to the user in the channel), the form is answered.
      await ackOnce().catch((err: unknown) => logger.warn({ err }, 'could not acknowledge the form'));
    }
  },
});

/**
 * "versionlock elasticsearch 7.10.2-1" from the form: that command, run as `/versionlock ... --mr <mr>` by
 * the submitter (its own access rule), so its change goes onto the MR as an /amend commit.
 */
const runTypedChange = async (
  deps: AmendHandlerDeps,
  commands: TypedChangeCommands,
  ctx: PresentContext,
  typed: string,
  mr: string,
  answer: { fieldError(text: string): Promise<void>; ack(): Promise<void> },
): Promise<CommandResult> => {
  const [word = '', ...rest] = typed.trim().split(/\s+/);
  const name = word.replace(/^\//, '');
  const spec = name === 'versionlock' || name === 'tf-import' ? commands[name] : undefined;
  if (!spec) {
    const problem = 'start with versionlock or tf-import (e.g. "versionlock elasticsearch 7.10.2-1")';
    await answer.fieldError(problem);
    return { outcome: 'bad_input', detail: problem };
  }
  if (/(^|\s)--mr(\s|=|$)/.test(rest.join(' '))) {
    await answer.fieldError('--mr is this MR: leave it out');
    return { outcome: 'bad_input', detail: '--mr in the typed change' };
  }
  const text = `${rest.join(' ')} --mr ${mr}`;
  const parsed = spec.parse(text);
  if (!parsed.ok) {
    await answer.fieldError(`${name}: ${parsed.problem}`);
    return { outcome: 'bad_input', detail: parsed.problem };
  }
  const access = await checkAccess(
    spec.name,
    deps.changes.flow.commandRules[spec.name],
    { userId: ctx.invocation.userId, channelId: ctx.invocation.channelId },
    deps.changes.flow.isMember,
  );
  if (!access.allowed) {
    await answer.fieldError(access.message);
    return { outcome: 'refused', detail: access.message };
  }
  await answer.ack();
  return spec.run(
    {
      invocation: {
        command: `/${spec.name}`,
        text,
        userId: ctx.invocation.userId,
        userName: ctx.invocation.userName,
        channelId: ctx.invocation.channelId,
        channelName: null,
        teamId: null,
        responseUrl: null,
        triggerId: null,
      },
      correlationId: ctx.correlationId,
      logger: ctx.logger,
      slack: deps.changes.slack,
      reply: ctx.reply,
    },
    parsed.args,
  );
};

/** Wires the /amend form's submission (`view_submission` with the form's callback_id). */
export const registerAmendForm = (
  app: App,
  handler: ReturnType<typeof createAmendFormHandler>,
  logger: Logger,
): void => {
  app.view<ViewSubmitAction>(
    { callback_id: AMEND_MODAL_CALLBACK, type: 'view_submission' },
    async ({ ack, body, view }) => {
      await handler
        .handle(
          {
            userId: body.user.id,
            userName: body.user.name ?? null,
            values: view.state.values as AmendFormSubmission['values'],
            privateMetadata: view.private_metadata ?? '',
          },
          (answer) => (answer ? ack(answer) : ack()),
        )
        .catch((err: unknown) => logger.error({ err }, 'unhandled error in the amend form'));
    },
  );
};

/** Wires the "Preview again" button: ack at once (Slack's 3 s), then the work. */
export const registerAmendActions = (
  app: App,
  handler: ReturnType<typeof createAmendActionHandler>,
  logger: Logger,
): void => {
  app.action<BlockAction<ButtonAction>>(
    { type: 'block_actions', action_id: AMEND_REPREVIEW_ACTION },
    async ({ ack, body, action }) => {
      await ack();
      await handler
        .handle({
          changeId: action.value ?? '',
          userId: body.user.id,
          userName: body.user.username ?? body.user.name ?? null,
          channelId: body.channel?.id ?? body.container?.channel_id ?? '',
        })
        .catch((err: unknown) => logger.error({ err }, 'unhandled error in an amend action'));
    },
  );
};
