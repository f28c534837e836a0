import type { SlackBlock, SlackMessage } from '../../integrations/slack/port.js';
import { noDiagEvidence } from '../../playbooks/diag/no-evidence.js';
import { diagTitle, renderDiagText, rowName } from '../../playbooks/diag/render-text.js';
import type { DiagReport, Finding, Level } from '../../playbooks/diag/types.js';
import { escapeAndTruncate, escapeText, SLACK_LIMITS, truncate } from './text.js';

/**
 * Block Kit for /diag: pure builders. Everything that comes from the evidence (log lines in findings, names,
 * reasons) is escaped; every block keeps to Slack's limits. The whole text report is `fullReport`, for the
 * handler to post in the thread.
 */

const MAX_FINDINGS_SHOWN = 5;

const LEVEL_EMOJI: Readonly<Record<Level, string>> = {
  critical: ':red_circle:',
  warn: ':large_yellow_circle:',
  ok: ':large_green_circle:',
  unknown: ':white_circle:',
};

const LEVEL_WORD: Readonly<Record<Level, string>> = {
  ok: 'ok',
  warn: 'WARN',
  critical: 'CRIT',
  unknown: '-',
};

const section = (mrkdwn: string): SlackBlock => ({
  type: 'section',
  text: { type: 'mrkdwn', text: truncate(mrkdwn === '' ? ' ' : mrkdwn, SLACK_LIMITS.sectionText) },
});

const context = (...mrkdwn: string[]): SlackBlock => ({
  type: 'context',
  elements: mrkdwn.slice(0, SLACK_LIMITS.contextElements).map((text) => ({
    type: 'mrkdwn',
    text: truncate(text === '' ? ' ' : text, SLACK_LIMITS.contextElementText),
  })),
});

export const buildDiagProgressBlocks = (vm: string, window: { from: Date; to: Date }): SlackMessage => {
  const minutes = Math.round((window.to.getTime() - window.from.getTime()) / 60_000);
  const span = minutes % 60 === 0 ? `${minutes / 60} h` : `${minutes} min`;
  // The VM name is as typed (any length): cut, so the message's own text stays within Slack's limits too.
  const text = `:stethoscope: Checking ${escapeAndTruncate(vm, 200)}: CPU, memory, disks, network and filesystems over ${span} (Cloud Monitoring, guest logs, platform events)…`;
  return { text, blocks: [section(text)] };
};

const findingLine = (f: Finding): string =>
  `${LEVEL_EMOJI[f.level]} *${f.resource}${f.device ? ` ${escapeText(f.device.replace(/^\/dev\//, ''))}` : ''} ${f.kind}*: ${escapeText(f.summary)}`;

/** The USE table as a code block: one line per resource, a level per U/S/E column. */
const useTable = (report: DiagReport): string => {
  const lines = [
    'resource            util  sat   err',
    ...report.use.map(
      (r) =>
        `${truncate(rowName(r), 18).padEnd(20)}${LEVEL_WORD[r.utilization.level].padEnd(6)}${LEVEL_WORD[r.saturation.level].padEnd(6)}${LEVEL_WORD[r.errors.level]}`,
    ),
  ];
  return `\`\`\`${escapeText(lines.join('\n'))}\`\`\``;
};

/** Each source and how it went, failures with their reason. */
const sourcesLine = (report: DiagReport): string =>
  report.sources
    .map(
      (s) =>
        `${s.name} ${s.status === 'ok' ? ':white_check_mark:' : s.status === 'failed' ? `:x: ${escapeText(s.reason ?? '')}` : escapeText(s.status)}`,
    )
    .join(' · ');

/** Every source failed: no table of unknowns, no green light; what was tried and why each failed. */
const buildNoEvidenceBlocks = (report: DiagReport): SlackMessage & { readonly fullReport: string } => {
  const name = report.instance.name;
  const failed = report.sources.filter((s) => s.status === 'failed');
  const blocks: SlackBlock[] = [
    {
      type: 'header',
      text: {
        type: 'plain_text',
        text: truncate(`${name}: no evidence could be read`, SLACK_LIMITS.headerText),
      },
    },
    section(`:x: ${escapeText(report.verdict)}`),
    section(
      failed.map((s) => `• *${s.name}*: ${escapeText(truncate(s.reason ?? 'failed', 400))}`).join('\n'),
    ),
    context(escapeText(diagTitle(report)), sourcesLine(report)),
  ];
  return {
    text: escapeText(`${truncate(name, 200)}: no evidence could be read (every source failed)`),
    blocks,
    fullReport: renderDiagText(report),
  };
};

export const buildDiagBlocks = (report: DiagReport): SlackMessage & { readonly fullReport: string } => {
  if (noDiagEvidence(report.sources)) return buildNoEvidenceBlocks(report);
  // Nothing found is a green light only when the sources that find problems were read.
  const blindSpot = report.sources.some(
    (s) => (s.name === 'metrics' || s.name === 'guest-logs') && s.status === 'failed',
  );
  const worst: Level = report.findings[0]?.level ?? (blindSpot ? 'unknown' : 'ok');
  const head = escapeText(diagTitle(report));
  const blocks: SlackBlock[] = [
    {
      type: 'header',
      text: {
        type: 'plain_text',
        text: truncate(`${report.instance.name}: host diagnostics`, SLACK_LIMITS.headerText),
      },
    },
    section(`${LEVEL_EMOJI[worst]} ${escapeText(report.verdict)}`),
  ];
  for (const f of report.findings.slice(0, MAX_FINDINGS_SHOWN)) {
    blocks.push(section(findingLine(f)));
    const evidence = f.evidence.slice(0, 2).map((e) => `• ${escapeText(truncate(e, 300))}`);
    const next = f.nextSteps[0] ? [`*Next:* ${escapeText(f.nextSteps[0])}`] : [];
    if (evidence.length || next.length) blocks.push(context([...evidence, ...next].join('\n')));
  }
  if (report.findings.length > MAX_FINDINGS_SHOWN)
    blocks.push(
      context(`… and ${report.findings.length - MAX_FINDINGS_SHOWN} more finding(s) in the thread`),
    );
  blocks.push(section(useTable(report)));
  if (report.agent === false)
    blocks.push(
      context(
        ':information_source: No Ops Agent on this VM: hypervisor view only (no memory, filesystems, disk queues, load or steal).',
      ),
    );
  const sources = sourcesLine(report);
  const links = report.links.map((l) => `<${l.url}|${escapeText(l.label)}>`).join(' · ');
  blocks.push(context(head, sources, ...(links ? [links] : [])));
  const text = truncate(`${report.instance.name}: ${report.verdict}`, 3000);
  return { text: escapeText(text), blocks, fullReport: renderDiagText(report) };
};

/** The chart's title and the comment posted with it (escaped: the VM name came from a user). */
export const buildDiagChartUpload = (
  report: DiagReport,
): { title: string; initialComment: string; filename: string } => ({
  title: escapeText(truncate(diagTitle(report), 200)),
  initialComment: escapeText(
    `CPU (with steal), memory, disk I/O and network for ${report.instance.name}; dashed lines mark ${
      report.chart.markers.length
        ? report.chart.markers
            .map((m) => m.kind)
            .filter((k, i, a) => a.indexOf(k) === i)
            .join(', ')
        : 'events (none in the window)'
    }.`,
  ),
  filename: `diag-${report.instance.name.replace(/[^a-z0-9-]/gi, '_').slice(0, 60)}.png`,
});
