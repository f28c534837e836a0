import type { DiagReport, Level, UseCell, UseRow } from './types.js';

/**
 * /diag as plain text: the terminal (`opsbot diag`) and the full report in the Slack thread (which escapes
 * it). The verdict first, then the findings with their evidence and next steps, the USE table, the events,
 * the sources, notes and links.
 */

const LEVEL_TEXT: Readonly<Record<Level, string>> = {
  ok: 'ok',
  warn: 'WARN',
  critical: 'CRIT',
  unknown: '-',
};

export const rowName = (row: UseRow): string =>
  `${row.resource === 'cpu' ? 'CPU' : row.resource}${row.device ? ` ${row.device.replace(/^\/dev\//, '')}` : ''}`;

const cellLine = (letter: string, c: UseCell): string =>
  `${letter} ${LEVEL_TEXT[c.level].padEnd(4)} ${c.summary}`;

const windowText = (from: string, to: string): string => {
  const sameDay = from.slice(0, 10) === to.slice(0, 10);
  return sameDay
    ? `${from.slice(0, 10)} ${from.slice(11, 16)}-${to.slice(11, 16)} UTC`
    : `${from.slice(0, 16).replace('T', ' ')} - ${to.slice(0, 16).replace('T', ' ')} UTC`;
};

export const diagTitle = (report: DiagReport): string => {
  const i = report.instance;
  const where = [i.project, i.zone].filter(Boolean).join('/');
  return `${i.name}${where ? ` (${where})` : ''}  ${windowText(report.window.from, report.window.to)}`;
};

export const renderDiagText = (report: DiagReport): string => {
  const i = report.instance;
  const out: string[] = [];
  const machine = [i.machineType, i.vcpus ? `${i.vcpus} vCPU` : null, i.status].filter(Boolean).join(', ');
  out.push(`${diagTitle(report)}${machine ? `  [${machine}]` : ''}`);
  out.push(`Verdict   ${report.verdict}`);
  if (report.findings.length) {
    out.push('Findings');
    for (const f of report.findings) {
      out.push(`  ${f.level === 'critical' ? 'CRIT' : 'WARN'} ${f.summary}`);
      for (const e of f.evidence.slice(0, 4)) out.push(`       evidence: ${e}`);
      for (const s of f.nextSteps.slice(0, 3)) out.push(`       next: ${s}`);
    }
  }
  out.push('USE (U utilization, S saturation, E errors; peak and mean over the window)');
  for (const row of report.use) {
    const name = rowName(row).padEnd(18);
    out.push(`  ${name}${cellLine('U', row.utilization)}`);
    out.push(`  ${''.padEnd(18)}${cellLine('S', row.saturation)}`);
    out.push(`  ${''.padEnd(18)}${cellLine('E', row.errors)}`);
  }
  if (report.events.length) {
    out.push('Events');
    for (const e of report.events.slice(0, 40))
      out.push(`  ${e.at.slice(11, 19)} ${e.kind.padEnd(15)} ${e.text}`);
    if (report.events.length > 40) out.push(`  ... and ${report.events.length - 40} more`);
  }
  out.push('Sources');
  for (const s of report.sources) {
    const took = s.durationMs !== null ? ` in ${s.durationMs} ms` : '';
    out.push(
      `  ${s.name.padEnd(15)} ${s.status}${s.status === 'ok' ? ` (${s.items})` : ''}${took}${s.reason ? `: ${s.reason}` : ''}`,
    );
  }
  if (report.notes.length) {
    out.push('Notes');
    for (const n of report.notes) out.push(`  ${n}`);
  }
  if (report.links.length) {
    out.push('Links');
    for (const l of report.links) out.push(`  ${l.label}: ${l.url}`);
  }
  return `${out.join('\n')}\n`;
};

export const diagToJson = (report: DiagReport): string =>
  `${JSON.stringify(
    {
      instance: report.instance,
      window: report.window,
      findings: report.findings,
      use: report.use,
      events: report.events,
      sources: report.sources,
      notes: report.notes,
      links: report.links,
    },
    null,
    2,
  )}\n`;
