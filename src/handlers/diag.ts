import { parseDuration } from '../core/duration.js';
import { type AppError, isAppError } from '../core/errors.js';
import type { InstanceRef } from '../integrations/gce/port.js';
import type { SlackMessage } from '../integrations/slack/port.js';
import { noDiagEvidence } from '../playbooks/diag/investigate.js';
import type { DiagReport } from '../playbooks/diag/types.js';
import { formatRef } from '../playbooks/why-reboot/resolve-instance.js';
import { parseWords } from './args.js';
import { buildDiagBlocks, buildDiagChartUpload, buildDiagProgressBlocks } from './blocks/diag.js';
import { escapeText, SLACK_LIMITS, truncate } from './blocks/text.js';
import {
  fullReportDetail,
  markEvidenceThreadFailed,
  openEvidenceThread,
  postFullReport,
  showEvidenceAnswer,
} from './evidence-thread.js';
import type { CommandContext, CommandResult, CommandSpec, ParseOutcome } from './pipeline.js';
import { formatUsage } from './usage.js';
import { parseWhyRebootArgs } from './why-reboot.js';

export interface DiagArgs {
  readonly vm: string;
  readonly project: string | null;
  readonly zone: string | null;
  /** The window as typed, for messages ("--since 1h", "--at ... --around 30m"). */
  readonly asked: string;
  /** Either a span ending now, or one around a moment. */
  readonly window: { readonly sinceMs: number } | { readonly at: Date; readonly aroundMs: number };
}

export interface DiagRequest {
  readonly vm: string;
  readonly project: string | null;
  readonly zone: string | null;
  readonly window: { readonly from: Date; readonly to: Date };
}

/** The /diag playbook and its picture, injected by main.ts (tests: the real ones over the fakes, or stand-ins). */
export interface DiagDeps {
  /** Bounded by each source's own deadline (google.timeouts, diag.metricsTimeoutMs), not by an overall one. */
  investigate(request: DiagRequest): Promise<DiagReport>;
  renderPng(report: DiagReport): Promise<Uint8Array>;
  readonly now: () => Date;
  readonly defaultWindow: string;
  readonly around: string;
}

/** Cloud Monitoring keeps Compute Engine and agent metrics for 6 weeks. */
const MAX_WINDOW_MS = 42 * 86_400_000;

export const parseDiagArgs = (
  text: string,
  defaults: { window: string; around: string },
): ParseOutcome<DiagArgs> => {
  const words = parseWords(text, ['project', 'zone', 'since', 'at', 'around']);
  if (!words.ok) return words;
  const { flags, positional } = words.args;
  if (flags.at !== undefined && flags.since !== undefined)
    return { ok: false, problem: '--at replaces --since: give one or the other' };
  if (flags.around !== undefined && flags.at === undefined)
    return { ok: false, problem: '--around goes with --at' };
  // The VM, project and zone follow /why-reboot's rules exactly.
  const base = parseWhyRebootArgs(
    [
      ...positional.map((p) => (/\s/.test(p) ? `"${p}"` : p)),
      ...(flags.project ? ['--project', flags.project] : []),
      ...(flags.zone ? ['--zone', flags.zone] : []),
    ].join(' '),
    '1h',
  );
  if (!base.ok) return base;
  const { vm, project, zone } = base.args;
  if (flags.at !== undefined) {
    const at = new Date(flags.at);
    if (!/^\d{4}-\d{2}-\d{2}T/.test(flags.at) || Number.isNaN(at.getTime()))
      return {
        ok: false,
        problem: `--at takes an ISO time such as 2026-11-20T10:03:00Z, not "${flags.at.slice(0, 40)}"`,
      };
    const around = flags.around ?? defaults.around;
    const aroundMs = parseDuration(around);
    if (aroundMs === null)
      return {
        ok: false,
        problem: `--around takes a duration such as 30m or 2h, not "${around.slice(0, 40)}"`,
      };
    if (aroundMs * 2 > MAX_WINDOW_MS) return { ok: false, problem: '--around can be at most 21d' };
    return {
      ok: true,
      args: { vm, project, zone, asked: `--at ${flags.at} --around ${around}`, window: { at, aroundMs } },
    };
  }
  const since = flags.since ?? defaults.window;
  const sinceMs = parseDuration(since);
  if (sinceMs === null)
    return {
      ok: false,
      problem: `--since takes a duration such as 30m, 6h or 2d, not "${since.slice(0, 40)}"`,
    };
  if (sinceMs > MAX_WINDOW_MS)
    return { ok: false, problem: '--since can look back at most 42d (Cloud Monitoring keeps 6 weeks)' };
  return { ok: true, args: { vm, project, zone, asked: `--since ${since}`, window: { sinceMs } } };
};

/** Not found / ambiguous: where opsbot looked, or the candidates as ready-to-run commands. */
const unresolvedMessage = (err: AppError, args: DiagArgs): SlackMessage => {
  if (err.code === 'ambiguous') {
    const candidates = (Array.isArray(err.details.candidates) ? err.details.candidates : []) as InstanceRef[];
    const lines = candidates
      .slice(0, 20)
      .map(
        (c) =>
          `• \`/diag ${escapeText(c.name)} --project ${escapeText(c.project)} --zone ${escapeText(c.zone)} ${escapeText(args.asked)}\``,
      );
    const text = `:question: ${candidates.length} instances are named *${escapeText(args.vm)}*. Which one?\n${lines.join('\n')}`;
    return {
      text: `${candidates.length} instances are named ${escapeText(args.vm)}: ${escapeText(candidates.map(formatRef).join(', '))}`,
      blocks: [{ type: 'section', text: { type: 'mrkdwn', text: truncate(text, SLACK_LIMITS.sectionText) } }],
    };
  }
  const text = `:mag: ${escapeText(err.userMessage)}`;
  return {
    text,
    blocks: [{ type: 'section', text: { type: 'mrkdwn', text: truncate(text, SLACK_LIMITS.sectionText) } }],
  };
};

export const diagCommand = (deps: DiagDeps | null): CommandSpec<DiagArgs> => ({
  name: 'diag',
  parse: (text) =>
    parseDiagArgs(text, { window: deps?.defaultWindow ?? '1h', around: deps?.around ?? '30m' }),
  usage: () => formatUsage('diag'),
  async run(ctx, args): Promise<CommandResult> {
    if (!deps) {
      await ctx.reply({ text: '/diag is not available in this opsbot build.' });
      return { outcome: 'nothing_to_do', target: args.vm, detail: 'not configured' };
    }
    const now = deps.now();
    const window =
      'sinceMs' in args.window
        ? { from: new Date(now.getTime() - args.window.sinceMs), to: now }
        : {
            from: new Date(args.window.at.getTime() - args.window.aroundMs),
            to: new Date(Math.min(now.getTime(), args.window.at.getTime() + args.window.aroundMs)),
          };
    if (window.from.getTime() >= window.to.getTime()) {
      await ctx.reply({ text: 'That window is in the future: --at must be in the past.' });
      return { outcome: 'bad_input', target: args.vm, detail: 'window in the future' };
    }
    return runDiag(ctx, deps, { vm: args.vm, project: args.project, zone: args.zone, window }, args);
  },
});

const runDiag = async (
  ctx: CommandContext,
  deps: DiagDeps,
  request: DiagRequest,
  args: DiagArgs,
): Promise<CommandResult> => {
  const { slack, logger } = ctx;
  // 1. The progress message owns the thread (slash commands carry no ts).
  const root = await openEvidenceThread(
    ctx,
    buildDiagProgressBlocks(request.vm, request.window),
    'Checking',
    request.vm,
  );

  // 2. Evidence and reasoning.
  let report: DiagReport;
  try {
    report = await deps.investigate(request);
  } catch (err) {
    if (isAppError(err) && (err.code === 'ambiguous' || err.code === 'not_found')) {
      const answer = unresolvedMessage(err, args);
      if (root) await slack.updateMessage(root.channel, root.ts, answer);
      else await ctx.reply(answer);
      return { outcome: 'bad_input', target: request.vm, detail: err.userMessage.slice(0, 500) };
    }
    await markEvidenceThreadFailed(ctx, root, 'check', request.vm);
    throw err;
  }
  const rendered = buildDiagBlocks(report);
  const target = [report.instance.project, report.instance.zone, report.instance.name]
    .filter(Boolean)
    .join('/');
  const blind = noDiagEvidence(report.sources);
  const result: CommandResult = blind
    ? { outcome: 'failed', target, detail: 'no evidence could be read: every source failed' }
    : { outcome: 'ok', target, detail: `${report.findings.length} finding(s)` };
  // 3. The verdict replaces the progress message; the picture and the full report go in the thread.
  await showEvidenceAnswer(ctx, root, rendered);
  if (!root || blind) return result;
  try {
    const png = await deps.renderPng(report);
    const upload = buildDiagChartUpload(report);
    await slack.uploadFile({
      channelId: root.channel,
      threadTs: root.ts,
      filename: upload.filename,
      title: upload.title,
      initialComment: upload.initialComment,
      bytes: png,
    });
  } catch (err) {
    // The picture is a bonus: the answer stands without it.
    logger.warn({ err }, 'diag chart could not be attached');
    await slack
      .postMessage(root.channel, {
        text: `The chart could not be attached (ref ${ctx.correlationId}).`,
        threadTs: root.ts,
      })
      .catch(() => undefined);
  }
  const posting = await postFullReport(ctx, root, rendered.fullReport, { maxParts: 8 });
  return { ...result, detail: fullReportDetail(result.detail ?? '', posting) };
};
