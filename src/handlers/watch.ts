import { createHash } from 'node:crypto';
import type { SlackMessage, SlackPort } from '../integrations/slack/port.js';
import { formatDowntime, groupHeadline } from '../playbooks/fleet/render-text.js';
import type { WatchGroupView, WatchPoster, WatchSettings } from '../playbooks/fleet/watch.js';
import type { WatchState } from '../store/watch-repository.js';
import { escapeText, SLACK_LIMITS, truncate } from './blocks/text.js';

/**
 * The watch in Slack: one message per group (its first block's id carries the group key, so a message posted
 * by a replica that died before recording it is found again in the channel), and `/opsbot watch`.
 */

const MAX_LINES = 25;

/** `watch_<hash of the group key>`: a block_id (at most 255 chars) that names the group. */
export const watchBlockId = (key: string): string =>
  `watch_${createHash('sha256').update(key).digest('hex').slice(0, 32)}`;

export const buildWatchGroupMessage = (view: WatchGroupView): SlackMessage => {
  const g = view.group;
  const lines = g.restarts
    .slice(0, MAX_LINES)
    .map(
      (r) =>
        `• \`${escapeText(r.name)}\` (${escapeText(r.project)}) ${r.at.slice(11, 19)} UTC, ${r.upAt ? `back after ${formatDowntime(r)}` : 'not back yet'}`,
    );
  const more = g.restarts.length - lines.length;
  const headline = escapeText(groupHeadline(g));
  return {
    text: truncate(`:rotating_light: ${headline}`, 3000),
    blocks: [
      {
        type: 'section',
        block_id: watchBlockId(view.key),
        text: { type: 'mrkdwn', text: truncate(`:rotating_light: *${headline}*`, SLACK_LIMITS.sectionText) },
      },
      {
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: truncate(
            `${lines.join('\n')}${more > 0 ? `\n_…and ${more} more_` : ''}`,
            SLACK_LIMITS.sectionText,
          ),
        },
      },
      {
        type: 'context',
        elements: [
          {
            type: 'mrkdwn',
            text: 'Updated here as more VMs join this event. `/why-reboot <vm>` for the evidence of one VM, `/reboots` for the whole fleet.',
          },
        ],
      },
    ],
  };
};

export const createWatchPoster = (slack: SlackPort): WatchPoster => ({
  async post(channel, view) {
    const posted = await slack.postMessage(channel, buildWatchGroupMessage(view));
    return posted.ts;
  },
  async update(channel, ts, view) {
    await slack.updateMessage(channel, ts, buildWatchGroupMessage(view));
  },
  async find(channel, key, sinceMs) {
    if (!slack.listChannelMessages) return null;
    const id = watchBlockId(key);
    const messages = await slack.listChannelMessages(channel, (Math.floor(sinceMs / 1000) - 1).toFixed(6));
    return messages.find((m) => m.blockIds.includes(id))?.ts ?? null;
  },
});

const age = (ms: number): string => {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.round(s / 60);
  return m < 120 ? `${m} min` : `${Math.round(m / 60)} h`;
};

/** `/opsbot watch`: what is watched, the cursor's age and the last error. */
export const buildWatchStatusMessage = (
  settings: WatchSettings | null,
  state: WatchState | null,
  groups: number,
  now: Date,
): SlackMessage => {
  if (!settings) {
    const text = 'The watch is not configured (add a `watch:` section to the config).';
    return { text, blocks: [{ type: 'section', text: { type: 'mrkdwn', text } }] };
  }
  const filters = [
    ...Object.entries(settings.labels).map(([k, v]) => `label ${k}=${v}`),
    ...(settings.namePattern ? [`name ~ ${settings.namePattern}`] : []),
  ];
  const lines = [
    `*Watching* ${settings.projects.map((p) => `\`${escapeText(p)}\``).join(', ') || '_no projects_'} for ${escapeText(settings.events.join(', '))}, posting to <#${settings.channel}>, polling every ${age(settings.periodMs)}.`,
    filters.length ? `Filters: ${escapeText(filters.join(', '))}` : 'Filters: none',
    state
      ? `Cursor: ${new Date(state.cursorMs).toISOString()} (age ${age(now.getTime() - state.cursorMs)}), committed ${age(now.getTime() - state.committedAt)} ago.`
      : 'Cursor: none yet (the first poll has not finished).',
    state?.lastError
      ? `Last error (${age(now.getTime() - (state.lastErrorAt ?? now.getTime()))} ago): ${escapeText(state.lastError)}`
      : 'Last error: none',
    `Groups posted: ${groups}`,
  ];
  const text = truncate(lines.join('\n'), SLACK_LIMITS.sectionText);
  return { text, blocks: [{ type: 'section', text: { type: 'mrkdwn', text } }] };
};
