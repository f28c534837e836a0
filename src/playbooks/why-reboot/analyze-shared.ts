import type { InstanceInfo } from '../../integrations/gce/port.js';
import { type AuditSignal, type DownCause, describeSignal } from './rules-audit.js';
import type { Confidence, Evidence, EvidenceItem, GuestEvent, SourceName, SourceReport } from './types.js';

/**
 * What the evidence rules of /why-reboot share: time constants, the episode and boot shapes, the context of
 * one analysis, and how evidence lines are quoted, capped and phrased.
 */

export const MIN = 60_000;
/** Boot lines closer than this are one boot (kernel banner + command line, guest log + serial copy). */
export const BOOT_MERGE_MS = 2 * MIN;
/** Shutdown-looking lines this soon after a boot are boot noise (shutdown-scripts unit, Power Button). */
export const BOOT_NOISE_MS = 3 * MIN;
/** A boot within this delay after a platform event (or its restart) belongs to it. */
export const BOOT_AFTER_EVENT_MS = 15 * MIN;
/** Platform down events this close together are one restart (hostError then a stop, preempted then stop). */
export const DOWN_MERGE_MS = 6 * MIN;
/** automaticRestart follows a host error within ~3 min (at most 5.5 min per the docs). */
export const AUTO_RESTART_MS = 15 * MIN;
/** An orderly shutdown or reboot sequence takes at most this long before the next boot. */
export const ORDERLY_LOOKBACK_MS = 30 * MIN;
/** Panics, OOM kills and lockups this long before a boot (or reset) may explain it. */
export const CRASH_LOOKBACK_MS = 60 * MIN;
/** Evidence of a platform restart's context in the guest. */
export const CONTEXT_BEFORE_MS = 10 * MIN;
/** How far before the window we still read signals to pair them with restarts inside it. */
export const PAIRING_SLACK_MS = 30 * MIN;

export const MAX_EVIDENCE = 12;

export type EpisodeCause = DownCause | 'reset' | 'start-only' | 'auto-restart-only';

export interface Episode {
  cause: EpisodeCause;
  main: AuditSignal;
  signals: AuditSignal[];
  downAt: Date;
  up: AuditSignal | null;
  boot: BootCluster | null;
}

export interface BootCluster {
  at: Date;
  events: GuestEvent[];
  fromInstance: boolean; // lastStartTimestamp only, or confirmed by it
  creation: boolean;
}

export const t = (d: Date): number => d.getTime();
export const iso = (d: Date): string => d.toISOString();

export const GUEST_SOURCES = new Set<SourceName>(['guest-logs', 'syslog-file', 'serial-console']);
export const SHUTDOWNISH = new Set(['shutdown', 'reboot-request', 'poweroff-request']);
export const CRASHISH = new Set(['kernel-panic', 'oom', 'lockup']);

export interface Ctx {
  readonly evidence: Evidence;
  readonly now: Date;
  readonly instance: InstanceInfo | null;
  readonly failed: readonly SourceReport[];
  readonly auditUsable: boolean; // audit logs were read (ok or empty)
  readonly auditStatus: SourceReport['status'] | 'absent';
  readonly guestUsable: boolean; // some guest source (logs, file, serial) was read
  readonly guest: readonly GuestEvent[]; // every guest/serial event, boot noise removed, oldest first
  readonly schedules: readonly AuditSignal[];
  readonly otherPlatform: readonly AuditSignal[]; // unknown system_event methods
}

export const sourceOfGuest = (e: GuestEvent): SourceName => e.source;

export const guestItem = (e: GuestEvent): EvidenceItem => ({
  source: sourceOfGuest(e),
  at: iso(e.at),
  text: e.timeInferred ? `${e.text} (time inferred)` : e.text,
  ref: e.ref,
});

export const auditItem = (s: AuditSignal): EvidenceItem => ({
  source: 'audit-logs',
  at: iso(s.at),
  text: describeSignal(s),
  ref: s.ref,
});

/** A boot's evidence: its first two guest lines, and lastStartTimestamp when the instance dated or confirmed it. */
export const bootItems = (boot: BootCluster | null, instance: InstanceInfo | null): EvidenceItem[] => {
  if (!boot) return [];
  const items = boot.events.slice(0, 2).map(guestItem);
  if (boot.fromInstance && instance?.lastStartTimestamp) {
    items.push({
      source: 'instance',
      at: iso(new Date(instance.lastStartTimestamp)),
      text: `lastStartTimestamp ${instance.lastStartTimestamp}`,
      ref: null,
    });
  }
  return items;
};

/** A guest that fell into emergency mode after the boot is worth a clause in any summary. */
export const notingEmergencyShell = (summary: string, afterBoot: readonly GuestEvent[]): string =>
  afterBoot.some((g) => g.signal === 'emergency-shell')
    ? summary.replace(/\.$/, '; after boot the guest fell into emergency mode.')
    : summary;

export const lower = (c: Confidence): Confidence => (c === 'high' ? 'medium' : 'low');

export const crashDetail = (events: readonly GuestEvent[]) => ({
  oom: events.some((e) => e.signal === 'oom'),
  lockup: events.some((e) => e.signal === 'lockup'),
  panic: events.some((e) => e.signal === 'kernel-panic'),
  diskFull: events.some((e) => e.signal === 'disk-full'),
});

export const crashPhrase = (d: { oom: boolean; lockup: boolean; panic: boolean }): string => {
  const what = d.panic ? 'kernel panic' : 'crash';
  if (d.oom) return `${what} after OOM`;
  if (d.lockup) return `${what} after lockup`;
  return what;
};

export const between = (events: readonly GuestEvent[], from: number, to: number): GuestEvent[] =>
  events.filter((e) => t(e.at) >= from && t(e.at) < to);

export const capEvidence = (items: EvidenceItem[]): EvidenceItem[] => {
  if (items.length <= MAX_EVIDENCE) return items;
  const head = items.slice(0, MAX_EVIDENCE - 1);
  head.push({
    source: items[items.length - 1]?.source ?? 'audit-logs',
    at: null,
    text: `... and ${items.length - head.length} more line(s)`,
    ref: null,
  });
  return head;
};

export const dedupeItems = (items: readonly EvidenceItem[]): EvidenceItem[] => {
  const seen = new Set<string>();
  return items.filter((i) => {
    const key = `${i.source}|${i.at}|${i.text}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
};

export const clip = (text: string, max = 120): string =>
  text.length > max ? `${text.slice(0, max - 3)}...` : text;
