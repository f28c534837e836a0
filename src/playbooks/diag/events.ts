import type { LogEntry } from '../../integrations/gce/port.js';
import { analyze as analyzeRestarts } from '../why-reboot/analyze.js';
import { roleOf, toAuditSignals } from '../why-reboot/rules-audit.js';
import type { Evidence, GuestEvent, GuestSignal } from '../why-reboot/types.js';
import { type HostSignal, parseOomVictim } from './host-lines.js';
import type { DiagEvent, DiagEventKind, DiagSourceName } from './types.js';

/**
 * The timeline markers of /diag: platform events from the audit logs (host errors, live migrations,
 * preemptions, stops), restarts as /why-reboot explains them (its analysis runs on the same evidence), the
 * guest's host-health lines (OOM kills with their victim, lockups, I/O and filesystem errors, link and
 * conntrack trouble), and restarts that only the uptime metric shows (a gap, or a minute with less uptime).
 */

const RESTART_SIGNALS: ReadonlySet<string> = new Set<GuestSignal>([
  'boot',
  'shutdown',
  'reboot-request',
  'poweroff-request',
  'kernel-panic',
  'oom',
  'lockup',
  'disk-full',
  'emergency-shell',
]);

const GUEST_KINDS: Partial<Record<HostSignal, DiagEventKind>> = {
  oom: 'oom-kill',
  lockup: 'lockup',
  'io-error': 'io-error',
  'fs-error': 'fs-error',
  'disk-full': 'disk-full',
  'link-down': 'link-down',
  'link-up': 'link-up',
  'conntrack-full': 'conntrack-full',
  'syn-flood': 'syn-flood',
  'hardware-error': 'hardware-error',
};

/** At most this many events of one kind are kept (a storm of I/O errors is one story). */
const MAX_PER_KIND = 50;

const iso = (d: Date): string => d.toISOString();

/** Restarts (by /why-reboot's rules) and platform events from the audit entries and the guest's boots. */
const platformEvents = (evidence: Evidence<HostSignal>, now: Date): DiagEvent[] => {
  const out: DiagEvent[] = [];
  for (const s of toAuditSignals(evidence.auditEntries as LogEntry[])) {
    if (s.failed) continue;
    const role = roleOf(s);
    const at = iso(s.at);
    if (role.kind === 'down' && role.cause === 'host-error')
      out.push({ at, kind: 'host-error', text: `host error (${s.rawMethod})`, source: 'audit-logs' });
    else if (role.kind === 'down' && role.cause === 'preemption')
      out.push({
        at,
        kind: 'preemption',
        text: 'preempted (Spot/preemptible VM reclaimed)',
        source: 'audit-logs',
      });
    else if (role.kind === 'down' && role.cause === 'stop')
      out.push({
        at,
        kind: 'stop',
        text: `stopped by ${s.principal ?? 'the platform'}`,
        source: 'audit-logs',
      });
    else if (role.kind === 'info' && role.what === 'live-migration')
      out.push({ at, kind: 'live-migration', text: `live migration (${s.rawMethod})`, source: 'audit-logs' });
  }
  const restartEvidence: Evidence = {
    ...evidence,
    guestEvents: evidence.guestEvents.filter((e) => RESTART_SIGNALS.has(e.signal)) as GuestEvent[],
    serialEvents: evidence.serialEvents.filter((e) => RESTART_SIGNALS.has(e.signal)) as GuestEvent[],
  };
  const report = analyzeRestarts(restartEvidence, { now });
  for (const r of report.restarts) {
    const at = r.bootAt ?? r.at;
    const source: DiagSourceName = r.evidence[0]?.source ?? 'audit-logs';
    out.push({ at, kind: 'restart', text: `restart: ${r.cause}${r.actor ? ` by ${r.actor}` : ''}`, source });
  }
  return out;
};

const guestText = (e: GuestEvent<HostSignal>): string => {
  if (e.signal === 'oom') {
    const v = parseOomVictim(e.text);
    if (v)
      return `OOM killer killed ${v.process} (pid ${v.pid})${v.rssKb ? `, ${Math.round(v.rssKb / 1024)} MiB resident` : ''}${v.cgroup ? ' in a memory cgroup' : ''}`;
  }
  return e.text;
};

/** Guest host-health lines as events: one per kind and minute (OOM: one per victim), duplicates dropped. */
const guestEvents = (evidence: Evidence<HostSignal>): DiagEvent[] => {
  const all = [...evidence.guestEvents, ...evidence.serialEvents].sort(
    (a, b) => a.at.getTime() - b.at.getTime(),
  );
  const oomKills = new Set(
    all.filter((e) => e.signal === 'oom' && parseOomVictim(e.text)).map((e) => e.at.getTime()),
  );
  const seen = new Set<string>();
  const perKind = new Map<DiagEventKind, number>();
  const out: DiagEvent[] = [];
  for (const e of all) {
    const kind = GUEST_KINDS[e.signal];
    if (!kind) continue;
    let key: string;
    if (e.signal === 'oom') {
      const v = parseOomVictim(e.text);
      if (v) key = `oom|${v.pid}|${v.process}`;
      else {
        // "invoked oom-killer" and the rest of the report: only when no kill line is near (a kill without a victim).
        const t = e.at.getTime();
        if ([...oomKills].some((k) => Math.abs(k - t) < 120_000)) continue;
        key = `oom|${Math.floor(t / 60_000)}`;
      }
    } else key = `${kind}|${Math.floor(e.at.getTime() / 60_000)}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const n = (perKind.get(kind) ?? 0) + 1;
    perKind.set(kind, n);
    if (n > MAX_PER_KIND) continue;
    const text = guestText(e);
    out.push({ at: iso(e.at), kind, text, ...(text !== e.text ? { line: e.text } : {}), source: e.source });
  }
  return out;
};

/**
 * Restarts the uptime metric shows: a minute with clearly less than a minute of uptime after one with a full
 * minute, or a gap of 2+ minutes between points. `uptime` holds seconds of uptime per minute (null: no point).
 */
const uptimeRestarts = (times: readonly string[], uptime: readonly (number | null)[]): DiagEvent[] => {
  const out: DiagEvent[] = [];
  let lastUp = -1;
  for (let i = 0; i < uptime.length; i++) {
    const v = uptime[i];
    if (v === null || v === undefined) continue;
    const gap = lastUp >= 0 ? i - lastUp - 1 : 0;
    const partial = v < 50 && lastUp >= 0 && (uptime[lastUp] ?? 0) >= 50;
    if (gap >= 2 || partial) {
      out.push({
        at: times[i] as string,
        kind: 'restart',
        text:
          gap >= 2
            ? `no uptime for ${gap} min, then up again (the instance was down)`
            : `only ${Math.round(v)} s of uptime in this minute (restarted)`,
        source: 'metrics',
      });
    }
    lastUp = i;
  }
  return out;
};

export const buildEvents = (
  evidence: Evidence<HostSignal>,
  grid: { readonly times: readonly string[]; readonly uptime: readonly (number | null)[] | null },
  now: Date,
): DiagEvent[] => {
  const events = [...platformEvents(evidence, now), ...guestEvents(evidence)];
  if (grid.uptime) {
    for (const r of uptimeRestarts(grid.times, grid.uptime)) {
      const t = Date.parse(r.at);
      // The same restart seen by the audit log or the guest's boot: keep that one (it says why).
      if (events.some((e) => e.kind === 'restart' && Math.abs(Date.parse(e.at) - t) < 6 * 60_000)) continue;
      events.push(r);
    }
  }
  const fromMs = evidence.window.from.getTime();
  const toMs = evidence.window.to.getTime();
  // The collectors read a little around the window to pair events; only the window's belong on the timeline.
  const inWindow = events.filter((e) => {
    const t = Date.parse(e.at);
    return t >= fromMs && t <= toMs;
  });
  inWindow.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  return inWindow;
};
