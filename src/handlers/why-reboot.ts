import { AppError, isAppError } from '../core/errors.js';
import type { InstanceRef } from '../integrations/gce/port.js';
import { isNotInChannel } from '../integrations/slack/errors.js';
import type { SlackBlock, SlackMessage } from '../integrations/slack/port.js';
import { formatRef, mergeSpec, parseInstanceSpec } from '../playbooks/why-reboot/resolve-instance.js';
import type { Evidence, WhyRebootReport } from '../playbooks/why-reboot/types.js';
import { parseWords } from './args.js';
import { escapeText, SLACK_LIMITS, splitForCodeBlocks, truncate } from './blocks/text.js';
import { noWhyRebootEvidence } from './blocks/why-reboot.js';
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
 * servers, or small stand-ins). `collectEvidence` reads the cloud, `analyze` is pure.
 */
export interface WhyRebootDeps {
  collectEvidence(request: WhyRebootRequest, signal?: AbortSignal): Promise<Evidence>;
  analyze(evidence: Evidence): WhyRebootReport;
  buildProgress(request: WhyRebootRequest): SlackMessage;
  buildReport(report: WhyRebootReport): SlackMessage & { readonly fullReport: string };
  readonly now: () => Date;
  readonly defaultWindow: string;
  /** Overall deadline of the investigation. */
  readonly timeoutMs?: number;
  /** Releases connections (shutdown). */
  close?(): Promise<void>;
}

const VM_NAME = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
const PROJECT_ID = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$|^[a-z0-9.-]+:[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
const ZONE = /^[a-z]+-[a-z]+[0-9]+-[a-z]$/;
const MAX_WINDOW_MS = 400 * 24 * 3600_000; // admin activity audit logs are kept 400 days

export const parseDuration = (text: string): number | null => {
  const m = /^(\d{1,5})(m|h|d|w)$/.exec(text.trim());
  if (!m) return null;
  const n = Number(m[1]);
  const unit = { m: 60_000, h: 3600_000, d: 86_400_000, w: 7 * 86_400_000 }[m[2] as 'm' | 'h' | 'd' | 'w'];
  return n > 0 ? n * unit : null;
};

export const parseWhyRebootArgs = (text: string, defaultWindow = '7d'): ParseOutcome<WhyRebootArgs> => {
  const words = parseWords(text, ['project', 'zone', 'since']);
  if (!words.ok) return words;
  const { positional, flags } = words.args;
  if (positional.length === 0) return { ok: false, problem: 'which VM? Give its name.' };
  if (positional.length > 1) return { ok: false, problem: `one VM at a time (got ${positional.join(', ')})` };
  // Slack may wrap a pasted link as <url> or <url|label>.
  const typed = (positional[0] as string).replace(/^<([^|>]+)(\|[^>]*)?>$/, '$1');
  let vm = typed.toLowerCase();
  let project = flags.project ?? null;
  if (project !== null && !PROJECT_ID.test(project)) {
    return { ok: false, problem: `"${project}" is not a Google Cloud project id` };
  }
  let zone = flags.zone ?? null;
  if (zone !== null && !ZONE.test(zone))
    return { ok: false, problem: `"${zone}" is not a zone (e.g. europe-west1-b)` };
  if (typed.includes('/')) {
    // zone/name, project/zone/name or an instance URL (as listed when a name is ambiguous).
    try {
      const spec = mergeSpec(parseInstanceSpec(/^https?:/i.test(typed) ? typed : vm), {
        project: project ?? undefined,
        zone: zone ?? undefined,
      });
      vm = spec.name;
      project = spec.project;
      zone = spec.zone;
    } catch (err) {
      return { ok: false, problem: isAppError(err) ? err.userMessage : 'that VM reference cannot be read' };
    }
  } else if (!VM_NAME.test(vm)) {
    return { ok: false, problem: `"${positional[0]}" is not a Compute Engine instance name` };
  }
  const since = flags.since ?? defaultWindow;
  const sinceMs = parseDuration(since);
  if (sinceMs === null)
    return { ok: false, problem: `--since takes a duration such as 30m, 12h or 7d, not "${since}"` };
  if (sinceMs > MAX_WINDOW_MS) return { ok: false, problem: '--since can look back at most 400d' };
  return { ok: true, args: { vm, project, zone, since, sinceMs } };
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
  const { invocation: inv, slack, logger } = ctx;
  // 1. The progress message owns the thread: slash commands carry no ts, so we post a root message.
  let root: { channel: string; ts: string } | null = null;
  try {
    root = await slack.postMessage(inv.channelId, deps.buildProgress(request));
  } catch (err) {
    if (!isNotInChannel(err)) throw err;
    logger.info('bot cannot post in this channel; answering privately');
    await ctx.reply({
      text: `I cannot post in this channel (invite me with \`/invite @opsbot\`). Investigating ${escapeText(request.vm)} for you only…`,
    });
  }

  // 2. Evidence and reasoning.
  const signal = AbortSignal.timeout(deps.timeoutMs ?? 120_000);
  let report: WhyRebootReport;
  try {
    const evidence = await deps.collectEvidence(request, signal);
    report = deps.analyze(evidence);
  } catch (err) {
    if (err instanceof AppError && (err.code === 'ambiguous' || err.code === 'not_found')) {
      const answer = unresolvedAnswer(err, args);
      if (root) await slack.updateMessage(root.channel, root.ts, answer);
      else await ctx.reply(answer);
      return { outcome: 'bad_input', target: request.vm, detail: err.userMessage.slice(0, 500) };
    }
    if (root) {
      await slack
        .updateMessage(root.channel, root.ts, {
          text: `Could not investigate ${escapeText(request.vm)} (ref ${ctx.correlationId}).`,
        })
        .catch(() => undefined);
    }
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
  if (!root) {
    await ctx.reply({ text: rendered.text, blocks: rendered.blocks ?? [] });
    return result;
  }
  await slack.updateMessage(root.channel, root.ts, {
    text: rendered.text,
    ...(rendered.blocks ? { blocks: rendered.blocks } : {}),
  });
  // The report quotes guest log lines (anyone with a shell on the VM writes them): the splitter escapes them.
  const { parts } = splitForCodeBlocks(rendered.fullReport);
  for (const [i, part] of parts.entries()) {
    const label = parts.length > 1 ? `Full report (${i + 1}/${parts.length})` : 'Full report';
    const blocks: SlackBlock[] = [{ type: 'section', text: { type: 'mrkdwn', text: part } }];
    await slack.postMessage(root.channel, { text: label, blocks, threadTs: root.ts });
  }
  return result;
};
