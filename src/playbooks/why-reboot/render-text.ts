import type { Restart, WhyRebootReport } from './types.js';

/** The terminal rendering of a /why-reboot report (also attached to Slack as the full report). */

export interface RenderTextOptions {
  /** Timeline lines to print (newest first); the rest is counted. Default 40; Infinity for everything. */
  readonly maxTimeline?: number;
}

const CAUSE_LABEL: Readonly<Record<string, string>> = {
  'host-error': 'host error',
  'host-maintenance': 'host maintenance',
  preemption: 'preemption',
  'guest-shutdown': 'guest shutdown',
  'guest-reboot': 'reboot from inside the guest',
  'kernel-panic': 'kernel panic',
  'user-reset': 'reset through the API',
  'user-stop': 'stop/start through the API',
  'scheduled-stop': 'instance schedule',
  'mig-recreate': 'managed instance group',
  unknown: 'unknown',
  'no-restart': 'no restart',
};

export const causeLabel = (cause: string): string => CAUSE_LABEL[cause] ?? cause;

const shortIso = (iso: string): string => iso.replace(/\.\d{3}Z$/, 'Z');

export const formatDowntime = (seconds: number | null): string => {
  if (seconds === null) return 'unknown';
  if (seconds < 90) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 90) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return `${hours} h ${minutes % 60} min`;
};

const restartBlock = (r: Restart, index: number): string[] => {
  const lines = [
    `${index}. ${shortIso(r.at)}  ${r.cause}  (${r.confidence} confidence)`,
    `   ${r.summary}`,
    `   actor: ${r.actor ?? '-'}   back up: ${r.bootAt ? shortIso(r.bootAt) : 'not seen'}   downtime: ${formatDowntime(r.downtimeSeconds)}`,
  ];
  if (r.evidence.length > 0) {
    lines.push('   Evidence:');
    for (const e of r.evidence) {
      lines.push(`     [${e.source}] ${e.at ? shortIso(e.at) : ''}  ${e.text}`.replace(/ {2}$/, ''));
    }
  }
  if (r.nextSteps.length > 0) {
    lines.push('   Next steps:');
    for (const s of r.nextSteps) lines.push(`     - ${s}`);
  }
  return lines;
};

export const renderWhyRebootText = (report: WhyRebootReport, opts: RenderTextOptions = {}): string => {
  const maxTimeline = opts.maxTimeline ?? 40;
  const i = report.instance;
  const where = [i.project, i.zone].filter((x) => x).join('/');
  const out: string[] = [];
  out.push(`why-reboot ${i.name}${where ? ` (${where}${i.id ? `, id ${i.id}` : ''})` : ''}`);
  out.push(
    `window: ${shortIso(report.window.from)} .. ${shortIso(report.window.to)}${i.status ? `   status now: ${i.status}` : ''}${i.lastStartTimestamp ? `   last start: ${i.lastStartTimestamp}` : ''}`,
  );
  out.push('');
  const v = report.verdict;
  out.push(`VERDICT: ${v.cause} (${causeLabel(v.cause)}), ${v.confidence} confidence`);
  out.push(`  ${v.summary}`);
  if ('actor' in v && v.actor) out.push(`  actor: ${v.actor}`);
  out.push('');
  if (report.restarts.length > 0) {
    out.push(`Restarts in the window (${report.restarts.length}, newest first):`);
    report.restarts.forEach((r, n) => {
      out.push(...restartBlock(r, n + 1));
      out.push('');
    });
  }
  if (report.timeline.length > 0) {
    out.push('Timeline (newest first):');
    for (const item of report.timeline.slice(0, maxTimeline)) {
      out.push(`  ${shortIso(item.at)}  ${item.kind.padEnd(8)} ${item.text}`);
    }
    if (report.timeline.length > maxTimeline) {
      out.push(`  ... ${report.timeline.length - maxTimeline} older item(s) (use --json for all of them)`);
    }
    out.push('');
  }
  out.push('Sources:');
  for (const s of report.sources) {
    const reason = s.reason ? ` - ${s.reason}` : '';
    const detail = s.detail ? ` (${s.detail})` : '';
    const took = s.durationMs !== null ? `, ${s.durationMs} ms` : '';
    out.push(`  ${s.name.padEnd(15)} ${s.status.padEnd(8)} ${s.items} item(s)${took}${reason}${detail}`);
  }
  if (report.notes.length > 0) {
    out.push('');
    out.push('Notes:');
    for (const n of report.notes) out.push(`  - ${n}`);
  }
  if (report.links.length > 0) {
    out.push('');
    out.push('Links:');
    for (const l of report.links) out.push(`  ${l.label}: ${l.url}`);
  }
  return `${out.join('\n')}\n`;
};
