import { AppError, isAppError } from '../core/errors.js';
import type { InstanceRef } from '../integrations/gce/port.js';
import type { SlackMessage } from '../integrations/slack/port.js';
import { buildWindow, parseVmReference } from '../playbooks/why-reboot/request.js';
import { formatRef } from '../playbooks/why-reboot/resolve-instance.js';
import type { WhyRebootReport } from '../playbooks/why-reboot/types.js';
import { parseWords } from './args.js';
import { escapeText, SLACK_LIMITS, truncate } from './blocks/text.js';
import { noWhyRebootEvidence } from './blocks/why-reboot.js';
import {
  fullReportDetail,
  markEvidenceThreadFailed,
  openEvidenceThread,
  postFullReport,
  showEvidenceAnswer,
} from './evidence-thread.js';
import type { CommandContext, CommandResult, CommandSpec, ParseOutcome } from './pipeline.js';
import { formatUsage } from './usage.js';

export interface WhyRebootArgs {
  readonly vm: string;
  readonly project: string | null;
  readonly zone: string | null;
  readonly since: string; // as typed, e.g. "7d"
  readonly sinceMs: number;
}

/** What the collector is asked: the VM and an explicit time window (Cloud Logging needs explicit bounds). */
export interface WhyRebootRequest {
  readonly vm: string;
  readonly project: string | null;
  readonly zone: string | null;
  readonly window: { readonly from: Date; readonly to: Date };
}

/**
 * The /why-reboot playbook and its renderers, injected by main.ts (tests inject the real ones over fake GCE
 * servers, or small stand-ins). `investigate` is the playbook's investigateWhyReboot, the same as the CLI's.
 */
export interface WhyRebootDeps {
  /** Bounded by each source's own deadline (google.timeouts, diag.metricsTimeoutMs), not by an overall one. */
  investigate(request: WhyRebootRequest): Promise<WhyRebootReport>;
  buildProgress(request: WhyRebootRequest): SlackMessage;
  buildReport(report: WhyRebootReport): SlackMessage & { readonly fullReport: string };
  readonly now: () => Date;
  readonly defaultWindow: string;
  /** Releases connections (shutdown). */
  close?(): Promise<void>;
}

/**
 * `/why-reboot <vm> [--project P] [--zone Z] [--since 7d]`: the words are split here, the values read by
 * the playbook's request parser, exactly as the command line reads them (one grammar for both).
 */
export const parseWhyRebootArgs = (text: string, defaultWindow = '7d'): ParseOutcome<WhyRebootArgs> => {
  const words = parseWords(text, ['project', 'zone', 'since']);
  if (!words.ok) return words;
  const { positional, flags } = words.args;
  if (positional.length === 0) return { ok: false, problem: 'which VM? Give its name.' };
  if (positional.length > 1) return { ok: false, problem: `one VM at a time (got ${positional.join(', ')})` };
  const since = flags.since ?? defaultWindow;
  try {
    const spec = parseVmReference(positional[0] as string, { project: flags.project, zone: flags.zone });
    const now = new Date();
    const window = buildWindow(since, null, now);
    return {
      ok: true,
      args: {
        vm: spec.name,
        project: spec.project,
        zone: spec.zone,
        since,
        sinceMs: now.getTime() - window.from.getTime(),
      },
    };
  } catch (err) {
    return { ok: false, problem: isAppError(err) ? err.userMessage : 'those arguments cannot be read' };
  }
};

export const whyRebootCommand = (deps: WhyRebootDeps | null): CommandSpec<WhyRebootArgs> => ({
  name: 'why-reboot',
  parse: (text) => parseWhyRebootArgs(text, deps?.defaultWindow ?? '7d'),
  usage: () => formatUsage('why-reboot'),
  async run(ctx, args): Promise<CommandResult> {
    if (!deps) {
      await ctx.reply({ text: '/why-reboot is not available in this opsbot build yet.' });
      return { outcome: 'nothing_to_do', target: args.vm, detail: 'not configured' };
    }
    const to = deps.now();
    const request: WhyRebootRequest = {
      vm: args.vm,
      project: args.project,
      zone: args.zone,
      window: { from: new Date(to.getTime() - args.sinceMs), to },
    };
    return investigate(ctx, deps, request, args);
  },
});

/**
 * The answer when the VM cannot be pinned down: the candidates as ready-to-run commands (ambiguous), or
 * where opsbot looked (not found). This is an answer to the question asked, not a failure.
 */
const unresolvedAnswer = (err: AppError, args: WhyRebootArgs): SlackMessage => {
  const since = args.since !== '7d' ? ` --since ${escapeText(args.since)}` : '';
  if (err.code === 'ambiguous') {
    const candidates = (Array.isArray(err.details.candidates) ? err.details.candidates : []) as InstanceRef[];
    const lines = candidates
      .slice(0, 20)
      .map(
        (c) =>
          `• \`${escapeText(formatRef(c))}\`: \`/why-reboot ${escapeText(c.name)} --project ${escapeText(c.project)} --zone ${escapeText(c.zone)}${since}\``,
      );
    const more = candidates.length > 20 ? `\n_… and ${candidates.length - 20} more_` : '';
    const head = `:question: ${candidates.length} instances are named *${escapeText(args.vm)}*. Which one?`;
    return {
      text: truncate(
        escapeText(
          `${candidates.length} instances are named ${args.vm}: ${candidates.map(formatRef).join(', ')}. Which one?`,
        ),
        SLACK_LIMITS.sectionText,
      ),
      blocks: [
        {
          type: 'section',
          text: {
            type: 'mrkdwn',
            text: truncate(`${head}\n${lines.join('\n')}${more}`, SLACK_LIMITS.sectionText),
          },
        },
      ],
    };
  }
  const text = truncate(`:mag: ${escapeText(err.userMessage)}`, SLACK_LIMITS.sectionText);
  return {
    text,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text } },
      {
        type: 'context',
        elements: [{ type: 'mrkdwn', text: 'Check the name, or give `--project` and `--zone`.' }],
      },
    ],
  };
};

const investigate = async (
  ctx: CommandContext,
  deps: WhyRebootDeps,
  request: WhyRebootRequest,
  args: WhyRebootArgs,
): Promise<CommandResult> => {
  // 1. The progress message owns the thread: slash commands carry no ts, so we post a root message.
  const root = await openEvidenceThread(ctx, deps.buildProgress(request), 'Investigating', request.vm);

  // 2. Evidence and reasoning.
  let report: WhyRebootReport;
  try {
    report = await deps.investigate(request);
  } catch (err) {
    if (err instanceof AppError && (err.code === 'ambiguous' || err.code === 'not_found')) {
      const answer = unresolvedAnswer(err, args);
      if (root) await ctx.slack.updateMessage(root.channel, root.ts, answer);
      else await ctx.reply(answer);
      return { outcome: 'bad_input', target: request.vm, detail: err.userMessage.slice(0, 500) };
    }
    await markEvidenceThreadFailed(ctx, root, 'investigate', request.vm);
    throw err;
  }
  const rendered = deps.buildReport(report);
  const target = [
    request.project ?? report.instance.project,
    request.zone ?? report.instance.zone,
    request.vm,
  ]
    .filter(Boolean)
    .join('/');

  // Every source failed: the answer says so (the builder renders it), and the run is audited failed.
  const result: CommandResult = noWhyRebootEvidence(report)
    ? { outcome: 'failed', target, detail: 'no evidence could be read: every source failed' }
    : { outcome: 'ok', target, detail: report.verdict.cause };

  // 3. The verdict replaces the progress message; the full report goes in the thread.
  await showEvidenceAnswer(ctx, root, rendered);
  const posting = root ? await postFullReport(ctx, root, rendered.fullReport) : null;
  return { ...result, detail: fullReportDetail(result.detail ?? '', posting) };
};
