import { causeLabel, formatDowntime, renderWhyRebootText } from '../../playbooks/why-reboot/render-text.js';
import type { Restart, WhyRebootReport } from '../../playbooks/why-reboot/types.js';
import { escapeText, SLACK_LIMITS, truncate } from './text.js';

/**
 * Block Kit for /why-reboot: pure builders. Slack limits (FACTS.md): 50 blocks, section text 3,000 chars,
 * header 150, button text 75, button URL 3,000, context 10 elements. Long evidence is summarised here; the
 * whole report is `fullReport`, for the handler to attach as a file.
 */

export const MAX_BLOCKS = 50;
export const MAX_SECTION_TEXT = 3000;
export const MAX_HEADER_TEXT = 150;
const MAX_BUTTON_TEXT = 75;
const MAX_URL = 3000;
const MAX_RESTARTS_SHOWN = 5;
const MAX_EVIDENCE_SHOWN = 6;
const MAX_TIMELINE_SHOWN = 15;
const MAX_LINE = 240;

type Block = Record<string, unknown>;

/** Joins lines without cutting one in half, within `max` characters, with a "more" marker. */
const fitLines = (lines: readonly string[], max: number, more: (n: number) => string): string => {
  const out: string[] = [];
  let used = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const tail = i < lines.length - 1 ? more(lines.length - i - 1).length + 1 : 0;
    if (used + line.length + 1 + tail > max) {
      out.push(more(lines.length - i));
      return out.join('\n');
    }
    out.push(line);
    used += line.length + 1;
  }
  return out.join('\n');
};

const section = (text: string): Block => ({
  type: 'section',
  text: { type: 'mrkdwn', text: truncate(text, MAX_SECTION_TEXT) },
});

const context = (text: string): Block => ({
  type: 'context',
  elements: [{ type: 'mrkdwn', text: truncate(text, SLACK_LIMITS.contextElementText) }],
});

const CONFIDENCE_EMOJI: Readonly<Record<string, string>> = {
  high: ':large_green_circle:',
  medium: ':large_yellow_circle:',
  low: ':red_circle:',
};

const shortIso = (iso: string): string => iso.replace(/\.\d{3}Z$/, 'Z').replace('T', ' ');

const restartSection = (r: Restart, index: number): Block => {
  const head = `*${index}. ${escapeText(shortIso(r.at))}* · \`${r.cause}\` · ${r.confidence} confidence${r.actor ? ` · by ${escapeText(r.actor)}` : ''}${r.downtimeSeconds !== null ? ` · down ${formatDowntime(r.downtimeSeconds)}` : ''}`;
  const summary = escapeText(r.summary);
  const quotes = r.evidence
    .slice(0, MAX_EVIDENCE_SHOWN)
    .map(
      (e) =>
        `> \`${e.source}\` ${e.at ? escapeText(shortIso(e.at)) : ''} ${escapeText(truncate(e.text, MAX_LINE))}`,
    );
  const hidden = r.evidence.length - Math.min(r.evidence.length, MAX_EVIDENCE_SHOWN);
  const header = `${head}\n${summary}\n`;
  const body = fitLines(
    hidden > 0 ? [...quotes, `_… ${hidden} more evidence line(s) in the full report_`] : quotes,
    MAX_SECTION_TEXT - header.length - 10,
    (n) => `_… ${n} more line(s) in the full report_`,
  );
  return section(`${header}${body}`);
};

export interface WhyRebootBlocks {
  /** Notification / fallback text. */
  readonly text: string;
  readonly blocks: Block[];
  /** The terminal rendering of the whole report, to attach as a file. */
  readonly fullReport: string;
}

/**
 * True when every evidence source that ran failed (or timed out): the verdict rests on nothing, so Slack says
 * that no evidence could be read instead of "No restart (low confidence)", and the command is audited failed
 * (the CLI exits 1 on the same rule).
 */
export const noWhyRebootEvidence = (report: Pick<WhyRebootReport, 'sources'>): boolean => {
  // A stand-in playbook (tests) may report no sources at all.
  const tried = (report.sources ?? []).filter((s) => s.status !== 'skipped');
  return tried.length > 0 && tried.every((s) => s.status === 'failed');
};

const sourcesLine = (report: WhyRebootReport): string =>
  report.sources
    .map(
      (s) =>
        `${s.status === 'ok' ? '✓' : s.status === 'failed' ? '✗' : '–'} ${s.name}: ${s.status}${s.reason ? ` (${escapeText(truncate(s.reason, 120))})` : ''}`,
    )
    .join(' · ');

/** Every source failed: no verdict, what was tried and why each failed. */
const buildNoEvidenceBlocks = (report: WhyRebootReport): WhyRebootBlocks => {
  const name = report.instance.name;
  const where = [report.instance.project, report.instance.zone].filter((x) => x).join(' / ');
  const blocks: Block[] = [
    {
      type: 'header',
      text: {
        type: 'plain_text',
        text: truncate(`why-reboot ${name}: no evidence could be read`, MAX_HEADER_TEXT),
      },
    },
    section(
      `:x: *No evidence could be read* for *${escapeText(name)}*${where ? ` in ${escapeText(where)}` : ''}: every source failed or timed out, so opsbot cannot say whether it restarted. Try again, or check opsbot's access to the project.`,
    ),
    context(`*Sources* ${sourcesLine(report)}`),
  ];
  return {
    text: escapeText(`${truncate(name, 200)}: no evidence could be read (every source failed)`),
    blocks,
    fullReport: renderWhyRebootText(report, { maxTimeline: Number.POSITIVE_INFINITY }),
  };
};

export const buildWhyRebootBlocks = (report: WhyRebootReport): WhyRebootBlocks => {
  if (noWhyRebootEvidence(report)) return buildNoEvidenceBlocks(report);
  const v = report.verdict;
  const name = report.instance.name;
  const blocks: Block[] = [];
  const headline =
    v.cause === 'no-restart' ? `${name}: no restart in the window` : `${name}: ${causeLabel(v.cause)}`;
  blocks.push({
    type: 'header',
    text: { type: 'plain_text', text: truncate(`why-reboot ${headline}`, MAX_HEADER_TEXT), emoji: true },
  });
  const where = [report.instance.project, report.instance.zone].filter((x) => x).join(' / ');
  blocks.push(
    section(
      `${CONFIDENCE_EMOJI[v.confidence] ?? ''} *${v.cause === 'no-restart' ? 'No restart' : `\`${v.cause}\``}* (${v.confidence} confidence)\n${escapeText(v.summary)}`,
    ),
  );
  blocks.push(
    context(
      `*${escapeText(name)}*${where ? ` in ${escapeText(where)}` : ''} · window ${escapeText(shortIso(report.window.from))} → ${escapeText(shortIso(report.window.to))}${report.instance.status ? ` · now ${escapeText(report.instance.status)}` : ''}`,
    ),
  );

  // Fixed tail: next steps, timeline, sources, notes, links (+ dividers) reserve their room first.
  const tail: Block[] = [];
  if ('nextSteps' in v && v.nextSteps.length > 0) {
    tail.push(
      section(
        `*Next steps*\n${fitLines(
          v.nextSteps.map((s) => `• ${escapeText(s)}`),
          MAX_SECTION_TEXT - 20,
          (n) => `_… ${n} more in the full report_`,
        )}`,
      ),
    );
  }
  if (report.timeline.length > 0) {
    const lines = report.timeline
      .slice(0, MAX_TIMELINE_SHOWN)
      .map((i) =>
        escapeText(`${shortIso(i.at)}  ${i.kind.padEnd(8)} ${truncate(i.text, 160)}`).replace(
          /```/g,
          '`\u200b``',
        ),
      );
    const more = report.timeline.length - Math.min(report.timeline.length, MAX_TIMELINE_SHOWN);
    const body = fitLines(lines, MAX_SECTION_TEXT - 80, (n) => `… ${n} more`);
    tail.push(
      section(
        `*Timeline* (newest first)\n\`\`\`${body}\`\`\`${more > 0 ? `\n_… ${more} older item(s) in the full report_` : ''}`,
      ),
    );
  }
  const sourceLine = sourcesLine(report);
  if (sourceLine) tail.push(context(`*Sources* ${sourceLine}`));
  if (report.notes.length > 0) {
    tail.push(
      context(
        fitLines(
          report.notes.map((n) => `• ${escapeText(truncate(n, 400))}`),
          SLACK_LIMITS.contextElementText - 20,
          (n) => `… ${n} more note(s) in the full report`,
        ),
      ),
    );
  }
  const buttons = report.links
    .filter((l) => l.url.length <= MAX_URL)
    .slice(0, 5)
    .map((l, i) => ({
      type: 'button',
      text: { type: 'plain_text', text: truncate(l.label, MAX_BUTTON_TEXT) },
      url: l.url,
      action_id: `why_reboot_link_${i}`,
    }));
  if (buttons.length > 0) tail.push({ type: 'actions', elements: buttons });

  // Restarts fill what is left (each: divider + section), at most MAX_RESTARTS_SHOWN.
  const room = MAX_BLOCKS - blocks.length - tail.length - 2; // -2: a divider before the tail, a "more" context
  const shown = Math.max(0, Math.min(report.restarts.length, MAX_RESTARTS_SHOWN, Math.floor(room / 2)));
  report.restarts.slice(0, shown).forEach((r, i) => {
    blocks.push({ type: 'divider' });
    blocks.push(restartSection(r, i + 1));
  });
  if (report.restarts.length > shown) {
    blocks.push(context(`_… ${report.restarts.length - shown} older restart(s) in the full report_`));
  }
  if (tail.length > 0) blocks.push({ type: 'divider' });
  blocks.push(...tail);

  const text = escapeText(
    v.cause === 'no-restart'
      ? `${truncate(name, 200)}: no restart in the window (${v.confidence} confidence)`
      : `${truncate(name, 200)}: ${v.cause} — ${truncate(v.summary, 300)}`,
  );
  return {
    text,
    blocks: blocks.slice(0, MAX_BLOCKS),
    fullReport: renderWhyRebootText(report, { maxTimeline: Number.POSITIVE_INFINITY }),
  };
};

/** The message posted at once, replaced by the answer. */
export const buildWhyRebootProgressBlocks = (vm: string): { text: string; blocks: Block[] } => {
  const name = truncate(vm, 200);
  return {
    text: `Investigating ${escapeText(name)}…`,
    blocks: [
      section(`:mag: Investigating *${escapeText(name)}*…`),
      context(
        'Reading platform audit logs, guest logs and the serial console. This usually takes a few seconds.',
      ),
    ],
  };
};
