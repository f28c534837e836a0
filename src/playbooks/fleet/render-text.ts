/** The fleet view as terminal text (the CLI and the table file attached in Slack show the same). */
import { CAUSE_LABEL, type FleetGroup, type FleetReport, type FleetRestart } from './types.js';

const hm = (iso: string): string => iso.slice(11, 16);
const day = (iso: string): string => iso.slice(0, 10);

/** "14 VMs in us-central1-a, host errors between 23:31 and 23:36 UTC" */
export const groupHeadline = (g: FleetGroup): string => {
  const n = g.restarts.length;
  const vms = `${n} VM${n === 1 ? '' : 's'} in ${g.zone}`;
  const when =
    g.from === g.to || hm(g.from) === hm(g.to) ? `at ${hm(g.from)}` : `between ${hm(g.from)} and ${hm(g.to)}`;
  return `${vms}, ${CAUSE_LABEL[g.cause]} ${when} UTC on ${day(g.from)}`;
};

export const formatDowntime = (r: FleetRestart): string => {
  if (r.downtimeMs === null) return r.upAt === null ? 'not back' : '?';
  const s = Math.round(r.downtimeMs / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  return m < 60
    ? `${m}m${String(s % 60).padStart(2, '0')}s`
    : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
};

const pad = (rows: string[][]): string[] => {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
};

export const restartRows = (restarts: readonly FleetRestart[]): string[] =>
  pad([
    ['TIME (UTC)', 'PROJECT', 'ZONE', 'VM', 'CAUSE', 'DOWNTIME', 'ACTOR'],
    ...restarts.map((r) => [
      r.at.replace('T', ' ').slice(0, 19),
      r.project,
      r.zone,
      r.name,
      r.cause,
      formatDowntime(r),
      r.actor,
    ]),
  ]);

export const fleetSummaryLine = (report: FleetReport): string => {
  const vms = new Set(
    report.groups.flatMap((g) => g.restarts.map((r) => `${r.project}/${r.zone}/${r.name}`)),
  );
  return `${report.restarts} restart(s) of ${vms.size} VM(s) in ${report.groups.length} group(s) across ${report.projects.length} project(s), ${report.window.from} to ${report.window.to}`;
};

export const renderFleetText = (report: FleetReport): string => {
  const out: string[] = [fleetSummaryLine(report)];
  const filters = [
    ...Object.entries(report.filters.labels).map(([k, v]) => `label ${k}=${v}`),
    ...(report.filters.cause ? [`cause ${report.filters.cause}`] : []),
  ];
  if (filters.length > 0) out.push(`Filters: ${filters.join(', ')}`);
  out.push('');
  if (report.groups.length === 0) out.push('No VM restarted in the window.');
  for (const g of report.groups) {
    out.push(`* ${groupHeadline(g)}`);
    for (const line of restartRows(g.restarts)) out.push(`    ${line}`);
    out.push('');
  }
  out.push('Upcoming maintenance:');
  if (report.maintenance.length === 0) out.push('  none scheduled');
  else
    for (const line of pad([
      ['VM', 'PROJECT', 'ZONE', 'TYPE', 'WINDOW (UTC)', 'LIVE-MIGRATES', 'CAN RESCHEDULE'],
      ...report.maintenance.map((m) => [
        m.name,
        m.project,
        m.zone,
        m.type ?? '?',
        `${m.windowStart ?? '?'} .. ${m.windowEnd ?? '?'}`,
        m.canLiveMigrate === null ? '?' : m.canLiveMigrate ? 'yes' : 'no (restarts)',
        m.canReschedule === null ? '?' : m.canReschedule ? 'yes' : 'no',
      ]),
    ]))
      out.push(`  ${line}`);
  out.push('');
  out.push('Sources:');
  for (const s of report.sources) {
    out.push(
      `  ${s.project} ${s.what}: ${s.status}${s.what === 'audit-logs' ? ` (${s.items} entries, ${s.pages} pages)` : ` (${s.items} instances)`}${s.reason ? `: ${s.reason}` : ''}`,
    );
  }
  for (const n of report.notes) out.push(`Note: ${n}`);
  return `${out.join('\n')}\n`;
};

/** The full table as a file: every restart, one line each (tab-separated for spreadsheets). */
export const renderFleetTsv = (report: FleetReport): string => {
  const lines = ['group\ttime\tproject\tzone\tvm\tinstance_id\tcause\tdowntime_s\tup_at\tactor\tmethod'];
  report.groups.forEach((g, i) => {
    for (const r of g.restarts) {
      lines.push(
        [
          String(i + 1),
          r.at,
          r.project,
          r.zone,
          r.name,
          r.instanceId ?? '',
          r.cause,
          r.downtimeMs === null ? '' : String(Math.round(r.downtimeMs / 1000)),
          r.upAt ?? '',
          r.actor,
          r.method,
        ].join('\t'),
      );
    }
  });
  return `${lines.join('\n')}\n`;
};
