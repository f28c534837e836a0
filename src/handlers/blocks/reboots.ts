/**
 * The /reboots answer in Block Kit: a summary within Slack's limits (the biggest groups with their first VMs,
 * a /why-reboot button per VM shown, upcoming maintenance), the full table going to a file. Every name from
 * outside (VM, project, zone, principal) is escaped.
 */
import type { SlackBlock, SlackMessage } from '../../integrations/slack/port.js';
import { fleetSummaryLine, formatDowntime, groupHeadline } from '../../playbooks/fleet/render-text.js';
import type { FleetGroup, FleetReport, FleetRestart } from '../../playbooks/fleet/types.js';
import { escapeText, SLACK_LIMITS, truncate } from './text.js';

/** Causes that are someone's own action, shown after the platform's. */
const USER_CAUSES: ReadonlySet<string> = new Set(['stop', 'reset', 'delete']);

export const FLEET_WHY_ACTION = 'fleet_why_reboot';
/** Groups shown in the message (2 blocks each); the rest are in the file. */
export const MAX_GROUPS = 10;
/** VMs listed (and given a button) per group shown. */
export const VMS_PER_GROUP = 5;

/** What a /why-reboot button carries: the VM and the window of the fleet view. */
export interface FleetWhyValue {
  readonly project: string;
  readonly zone: string;
  readonly name: string;
  readonly from: string;
  readonly to: string;
}

export const encodeWhyValue = (v: FleetWhyValue): string =>
  JSON.stringify([v.project, v.zone, v.name, v.from, v.to]);

export const decodeWhyValue = (raw: string): FleetWhyValue | null => {
  try {
    const a = JSON.parse(raw) as unknown;
    if (!Array.isArray(a) || a.length !== 5 || !a.every((x) => typeof x === 'string')) return null;
    const [project, zone, name, from, to] = a as string[];
    if (!/^[a-z][-a-z0-9:.]{4,62}$/.test(project as string)) return null;
    if (!/^[a-z]+-[a-z]+\d+-[a-z]$/.test(zone as string)) return null;
    if (!/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/.test(name as string)) return null;
    if (Number.isNaN(Date.parse(from as string)) || Number.isNaN(Date.parse(to as string))) return null;
    return { project, zone, name, from, to } as FleetWhyValue;
  } catch {
    return null;
  }
};

const hms = (iso: string): string => iso.slice(11, 19);

const vmLine = (r: FleetRestart): string =>
  `• \`${escapeText(r.name)}\` (${escapeText(r.project)}) ${hms(r.at)}, down ${formatDowntime(r)}, by ${escapeText(r.actor)}`;

const groupBlocks = (g: FleetGroup, index: number, report: FleetReport): SlackBlock[] => {
  const shown = g.restarts.slice(0, VMS_PER_GROUP);
  const more = g.restarts.length - shown.length;
  const text = [
    `*${escapeText(groupHeadline(g))}*${g.projects.length > 1 ? ` (${g.projects.map(escapeText).join(', ')})` : ''}`,
    ...shown.map(vmLine),
    ...(more > 0 ? [`_…and ${more} more in the file_`] : []),
  ].join('\n');
  return [
    { type: 'section', text: { type: 'mrkdwn', text: truncate(text, SLACK_LIMITS.sectionText) } },
    {
      type: 'actions',
      block_id: `fleet_group_${index}`,
      elements: shown.map((r, i) => ({
        type: 'button',
        action_id: `${FLEET_WHY_ACTION}:${index}:${i}`,
        text: { type: 'plain_text', text: truncate(`Why did ${r.name} restart?`, SLACK_LIMITS.buttonText) },
        value: encodeWhyValue({
          project: r.project,
          zone: r.zone,
          name: r.name,
          from: report.window.from,
          to: report.window.to,
        }),
      })),
    },
  ];
};

export const buildRebootsProgress = (projects: readonly string[], since: string): SlackMessage => ({
  text: `Reading the audit logs of ${projects.length} project(s) for the last ${since}…`,
  blocks: [
    {
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: truncate(
          `:hourglass_flowing_sand: Reading the audit logs of ${projects.map((p) => `\`${escapeText(p)}\``).join(', ')} for the last ${escapeText(since)}…`,
          SLACK_LIMITS.sectionText,
        ),
      },
    },
  ],
});

export const buildRebootsBlocks = (report: FleetReport, since: string): SlackMessage => {
  const blocks: SlackBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: truncate(`VM restarts, last ${since}`, 150) } },
    {
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: truncate(escapeText(fleetSummaryLine(report)), SLACK_LIMITS.sectionText),
      },
    },
  ];
  const filters = [
    ...Object.entries(report.filters.labels).map(([k, v]) => `label ${k}=${v}`),
    ...(report.filters.cause ? [`cause ${report.filters.cause}`] : []),
  ];
  if (filters.length > 0) {
    blocks.push({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: truncate(`Filters: ${escapeText(filters.join(', '))}`, 2000) }],
    });
  }
  if (report.groups.length === 0) {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: 'No VM restarted in the window.' } });
  }
  // Platform events first (what on-call asks about: the host, preemptions, maintenance), people's own stops
  // and resets after; within each, the biggest groups first, then the newest.
  const byPeople = (g: FleetGroup): number => (USER_CAUSES.has(g.cause) ? 1 : 0);
  const shown = [...report.groups]
    .map((g, i) => ({ g, i }))
    .sort((a, b) => byPeople(a.g) - byPeople(b.g) || b.g.restarts.length - a.g.restarts.length || a.i - b.i)
    .slice(0, MAX_GROUPS);
  for (const { g, i } of shown) blocks.push(...groupBlocks(g, i, report));
  const hidden = report.groups.length - shown.length;
  if (report.maintenance.length > 0) {
    const lines = report.maintenance
      .slice(0, 10)
      .map(
        (m) =>
          `• \`${escapeText(m.name)}\` (${escapeText(m.project)}/${escapeText(m.zone)}) ${escapeText(m.type ?? 'maintenance')} ${escapeText(m.windowStart ?? '?')} → ${escapeText(m.windowEnd ?? '?')}, ${m.canLiveMigrate === null ? 'live migration unknown' : m.canLiveMigrate ? 'live-migrates' : '*will restart* (onHostMaintenance=TERMINATE)'}`,
      );
    const more = report.maintenance.length - lines.length;
    blocks.push({
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: truncate(
          `*Upcoming maintenance (${report.maintenance.length} VM(s))*\n${lines.join('\n')}${more > 0 ? `\n_…and ${more} more in the file_` : ''}`,
          SLACK_LIMITS.sectionText,
        ),
      },
    });
  }
  const failed = report.sources.filter((s) => s.status !== 'ok');
  const context = [
    hidden > 0 ? `${hidden} smaller group(s) not shown.` : null,
    report.restarts > 0 ? 'Every restart is in the attached table.' : null,
    ...failed.map((s) => `${s.project} ${s.what}: ${s.status}${s.reason ? ` (${s.reason})` : ''}`),
  ].filter((x): x is string => x !== null);
  if (context.length > 0) {
    blocks.push({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: truncate(escapeText(context.join(' ')), 2000) }],
    });
  }
  return { text: truncate(escapeText(fleetSummaryLine(report)), 3000), blocks: blocks.slice(0, 50) };
};
