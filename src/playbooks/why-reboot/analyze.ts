import type { InstanceInfo } from '../../integrations/gce/port.js';
import {
  buildAuditLogFilter,
  buildInstanceConsoleUrl,
  buildLogsExplorerUrl,
  buildSerialConsoleUrl,
} from './links.js';
import {
  type AuditSignal,
  type DownCause,
  describeSignal,
  isComputeSystemAgent,
  isManagedGroupAgent,
  roleOf,
  selectInstanceSignals,
  toAuditSignals,
} from './rules-audit.js';
import { formatDuration, formatRange, formatWhen, nextStepsFor } from './rules-text.js';
import type {
  Cause,
  Confidence,
  Evidence,
  EvidenceItem,
  GuestEvent,
  Restart,
  SourceName,
  SourceReport,
  TimelineItem,
  Verdict,
  WhyRebootReport,
} from './types.js';

/**
 * The reasoning of /why-reboot: a pure function of the evidence. It encodes the manual procedure an SRE
 * follows (read the platform log, find each boot, drop boot noise, look at what the guest printed just
 * before it) as rules over time-ordered signals.
 */

const MIN = 60_000;
/** Boot lines closer than this are one boot (kernel banner + command line, guest log + serial copy). */
const BOOT_MERGE_MS = 2 * MIN;
/** Shutdown-looking lines this soon after a boot are boot noise (shutdown-scripts unit, Power Button). */
const BOOT_NOISE_MS = 3 * MIN;
/** A boot within this delay after a platform event (or its restart) belongs to it. */
const BOOT_AFTER_EVENT_MS = 15 * MIN;
/** Platform down events this close together are one restart (hostError then a stop, preempted then stop). */
const DOWN_MERGE_MS = 6 * MIN;
/** automaticRestart follows a host error within ~3 min (at most 5.5 min per the docs). */
const AUTO_RESTART_MS = 15 * MIN;
/** An orderly shutdown or reboot sequence takes at most this long before the next boot. */
const ORDERLY_LOOKBACK_MS = 30 * MIN;
/** Panics, OOM kills and lockups this long before a boot (or reset) may explain it. */
const CRASH_LOOKBACK_MS = 60 * MIN;
/** Evidence of a platform restart's context in the guest. */
const CONTEXT_BEFORE_MS = 10 * MIN;
/** How far before the window we still read signals to pair them with restarts inside it. */
const PAIRING_SLACK_MS = 30 * MIN;
const MAX_EVIDENCE = 12;
const MAX_TIMELINE = 1000;

type EpisodeCause = DownCause | 'reset' | 'start-only' | 'auto-restart-only';

interface Episode {
  cause: EpisodeCause;
  main: AuditSignal;
  signals: AuditSignal[];
  downAt: Date;
  up: AuditSignal | null;
  boot: BootCluster | null;
}

interface BootCluster {
  at: Date;
  events: GuestEvent[];
  fromInstance: boolean; // lastStartTimestamp only, or confirmed by it
  creation: boolean;
}

const DOWN_PRIORITY: Readonly<Record<EpisodeCause, number>> = {
  'host-error': 9,
  preemption: 8,
  'host-maintenance': 7,
  'guest-shutdown': 6,
  'mig-recreate': 5,
  'mig-halt': 5,
  'system-reset': 4,
  reset: 4,
  delete: 3,
  stop: 2,
  'auto-restart-only': 1,
  'start-only': 0,
};

/** Episodes after which the VM stays down until someone (or something) starts it. */
const STAYS_DOWN = new Set<EpisodeCause>([
  'stop',
  'preemption',
  'guest-shutdown',
  'host-maintenance',
  'delete',
]);

const t = (d: Date): number => d.getTime();
const iso = (d: Date): string => d.toISOString();

const GUEST_SOURCES = new Set<SourceName>(['guest-logs', 'syslog-file', 'serial-console']);
const SHUTDOWNISH = new Set(['shutdown', 'reboot-request', 'poweroff-request']);
const CRASHISH = new Set(['kernel-panic', 'oom', 'lockup']);

interface Ctx {
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

export const analyze = (evidence: Evidence, opts: { now: Date }): WhyRebootReport => {
  const now = opts.now;
  const instance = evidence.instance;
  const name = instance?.name ?? evidence.instanceName;
  const notes: string[] = [...evidence.notes];
  const sources = evidence.sources;
  const failed = sources.filter((s) => s.status === 'failed');
  const statusOf = (n: SourceName): SourceReport['status'] | 'absent' =>
    sources.find((s) => s.name === n)?.status ?? 'absent';
  const auditStatus = statusOf('audit-logs');
  const auditUsable = auditStatus === 'ok' || auditStatus === 'empty';
  const guestUsable = (['guest-logs', 'syslog-file', 'serial-console'] as const).some((n) => {
    const st = statusOf(n);
    return st === 'ok' || st === 'empty';
  });
  const fromMs = t(evidence.window.from) - PAIRING_SLACK_MS;
  const toMs = t(evidence.window.to);

  // Platform signals about this VM, in the window (plus a little before, to pair them).
  const { kept, otherInstances } = selectInstanceSignals(
    toAuditSignals(evidence.auditEntries),
    name,
    instance?.id ?? null,
  );
  if (otherInstances.size > 0) {
    const list = [...otherInstances].slice(0, 5).join(', ');
    notes.push(
      `Ignored audit entries about other instances (${list}${otherInstances.size > 5 ? ', ...' : ''}); only ${name} was analysed.`,
    );
  }
  const signals = kept.filter((s) => t(s.at) >= fromMs && t(s.at) <= toMs);

  // Guest and serial events, oldest first, with boot noise removed.
  const allGuest = [...evidence.guestEvents, ...evidence.serialEvents]
    .filter((e) => t(e.at) >= fromMs && t(e.at) <= toMs)
    .sort((a, b) => t(a.at) - t(b.at));
  const boots = clusterBoots(allGuest.filter((e) => e.signal === 'boot'));
  const noise = new Set<GuestEvent>();
  for (const e of allGuest) {
    if (!SHUTDOWNISH.has(e.signal)) continue;
    if (boots.some((b) => t(e.at) >= t(b.at) && t(e.at) - t(b.at) <= BOOT_NOISE_MS)) noise.add(e);
  }
  if (noise.size > 0) {
    notes.push(
      `Ignored ${noise.size} shutdown-like line(s) printed within ${BOOT_NOISE_MS / MIN} min after a boot (boot noise such as the shutdown-scripts unit starting).`,
    );
  }
  const guest = allGuest.filter((e) => !noise.has(e));
  const inferred = allGuest.filter((e) => e.timeInferred).length;
  if (inferred > 0 && !notes.some((n) => /year|inferred/i.test(n))) {
    notes.push(
      `${inferred} guest/serial time(s) were inferred (classic syslog timestamps carry no year or zone; serial lines often carry none): compare them with the platform events.`,
    );
  }

  const ctx: Ctx = {
    evidence,
    now,
    instance,
    failed,
    auditUsable,
    auditStatus,
    guestUsable,
    guest,
    schedules: signals.filter((s) => s.method === 'ScheduledVMs'),
    otherPlatform: signals.filter((s) => {
      const role = roleOf(s);
      return s.log === 'system_event' && role.kind === 'info' && role.what === 'other';
    }),
  };

  // 1. Platform episodes.
  const { episodes, creations } = buildEpisodes(signals.filter((s) => !s.failed));

  // 2. lastStartTimestamp as a boot, merged with a boot seen in the logs.
  const lastStart = instance?.lastStartTimestamp ? new Date(instance.lastStartTimestamp) : null;
  if (lastStart && !Number.isNaN(t(lastStart)) && t(lastStart) >= fromMs && t(lastStart) <= toMs) {
    const near = boots.find((b) => t(b.at) >= t(lastStart) - 2 * MIN && t(b.at) - t(lastStart) <= 10 * MIN);
    if (near) near.fromInstance = true;
    else {
      boots.push({ at: lastStart, events: [], fromInstance: true, creation: false });
      boots.sort((a, b) => t(a.at) - t(b.at));
    }
  }

  // 3. A VM's first boot is not a restart.
  const created = instance?.creationTimestamp ? new Date(instance.creationTimestamp) : null;
  for (const b of boots) {
    const afterCreate = (at: Date): boolean =>
      t(b.at) >= t(at) - MIN && t(b.at) - t(at) <= BOOT_AFTER_EVENT_MS;
    if ((created && afterCreate(created)) || creations.some((c) => afterCreate(c.at))) b.creation = true;
  }

  // 4. Boots that follow a platform episode belong to it.
  const guestOnly: BootCluster[] = [];
  for (const b of boots) {
    if (b.creation) continue;
    const e = latestEpisodeBefore(episodes, b.at);
    if (e && !e.boot && bootBelongs(e, b)) e.boot = b;
    else guestOnly.push(b);
  }

  // 5. Explain each restart.
  const restarts: Restart[] = [];
  for (const e of episodes) restarts.push(explainEpisode(e, ctx));
  for (const b of guestOnly) {
    const prev = boots.filter((x) => t(x.at) < t(b.at)).pop() ?? null;
    restarts.push(explainGuestBoot(b, prev, ctx));
  }
  const inWindow = restarts
    .filter((r) => {
      const down = t(new Date(r.at));
      const up = r.bootAt ? t(new Date(r.bootAt)) : down;
      return (down >= t(evidence.window.from) || up >= t(evidence.window.from)) && down <= toMs;
    })
    .sort((a, b) => t(new Date(b.at)) - t(new Date(a.at)));

  if (failed.length > 0) {
    notes.push(
      `Some evidence could not be read (${failed.map((f) => `${f.name}: ${f.reason ?? 'failed'}`).join('; ')}): confidence was lowered where it matters.`,
    );
  }
  if (!auditUsable && auditStatus !== 'failed') {
    notes.push(
      'Platform audit logs were not read: host errors, preemptions and API stops/resets cannot be seen, and an API stop also produces an orderly shutdown in the guest.',
    );
  }

  const verdict: Verdict = inWindow[0] ?? noRestartVerdict(ctx, signals, lastStart);
  const timeline = buildTimeline(signals, allGuest, noise, instance, evidence);
  if (timeline.length > MAX_TIMELINE) {
    notes.push(`The timeline was cut to the newest ${MAX_TIMELINE} of ${timeline.length} items.`);
  }

  return {
    instance: {
      name,
      project: instance?.project ?? evidence.project,
      zone: instance?.zone ?? evidence.zone,
      id: instance?.id ?? null,
      status: instance?.status ?? null,
      lastStartTimestamp: instance?.lastStartTimestamp ?? null,
      lastStopTimestamp: instance?.lastStopTimestamp ?? null,
    },
    window: { from: iso(evidence.window.from), to: iso(evidence.window.to) },
    restarts: inWindow,
    verdict,
    timeline: timeline.slice(0, MAX_TIMELINE),
    sources,
    notes: [...new Set(notes)],
    links: buildLinks(evidence, name, instance),
  };
};

const clusterBoots = (bootEvents: readonly GuestEvent[]): BootCluster[] => {
  const clusters: BootCluster[] = [];
  for (const e of bootEvents) {
    const last = clusters[clusters.length - 1];
    const lastAt = last?.events[last.events.length - 1]?.at;
    if (last && lastAt && t(e.at) - t(lastAt) <= BOOT_MERGE_MS) {
      last.events.push(e);
      // Prefer a real (not inferred) time for the boot.
      if (last.events.every((x) => x === e || x.timeInferred) && !e.timeInferred) last.at = e.at;
    } else {
      clusters.push({ at: e.at, events: [e], fromInstance: false, creation: false });
    }
  }
  return clusters;
};

const buildEpisodes = (
  signals: readonly AuditSignal[],
): { episodes: Episode[]; creations: AuditSignal[] } => {
  const episodes: Episode[] = [];
  const creations: AuditSignal[] = [];
  let open: Episode | null = null;
  const start = (cause: EpisodeCause, s: AuditSignal): Episode => {
    const e: Episode = { cause, main: s, signals: [s], downAt: s.at, up: null, boot: null };
    episodes.push(e);
    return e;
  };
  for (const s of signals) {
    const role = roleOf(s);
    const lastAt = open ? (open.signals[open.signals.length - 1]?.endAt ?? open.downAt) : null;
    const close = lastAt !== null && t(s.at) - t(lastAt) <= DOWN_MERGE_MS;
    if (role.kind === 'down') {
      if (open && close) {
        open.signals.push(s);
        if (DOWN_PRIORITY[role.cause] > DOWN_PRIORITY[open.cause]) {
          open.cause = role.cause;
          open.main = s;
        }
      } else {
        open = start(role.cause, s);
      }
    } else if (role.kind === 'reset') {
      if (open && close) {
        open.signals.push(s);
        if (DOWN_PRIORITY.reset > DOWN_PRIORITY[open.cause]) {
          open.cause = 'reset';
          open.main = s;
        }
        open.up = s;
      } else {
        const e = start('reset', s);
        e.up = s;
      }
      open = null;
    } else if (role.kind === 'up') {
      if (role.how === 'resume') continue; // a suspended VM resumes without a boot
      if (role.how === 'insert') {
        if (open && (open.cause === 'delete' || open.cause === 'mig-recreate')) {
          open.signals.push(s);
          open.up = s;
          open = null;
        } else {
          creations.push(s);
        }
        continue;
      }
      const fits =
        open !== null &&
        (role.how === 'automatic-restart'
          ? lastAt !== null && t(s.at) - t(lastAt) <= AUTO_RESTART_MS
          : STAYS_DOWN.has(open.cause) || open.cause === 'host-error' || close);
      const previous = episodes[episodes.length - 1];
      if (open && fits) {
        open.signals.push(s);
        open.up = s;
        open = null;
      } else if (!open && previous?.up && Math.abs(t(s.at) - t(previous.up.at)) <= DOWN_MERGE_MS) {
        // Another record of the same start (a schedule's ScheduledVMs and its start call).
        previous.signals.push(s);
      } else {
        const e = start(role.how === 'automatic-restart' ? 'auto-restart-only' : 'start-only', s);
        e.up = s;
        open = null;
      }
    }
  }
  return { episodes, creations };
};

const latestEpisodeBefore = (episodes: readonly Episode[], at: Date): Episode | null => {
  let found: Episode | null = null;
  for (const e of episodes) if (t(e.downAt) <= t(at) + 2 * MIN) found = e;
  return found;
};

const bootBelongs = (e: Episode, b: BootCluster): boolean => {
  if (e.up) {
    const upAt = e.up.at;
    return t(b.at) >= t(upAt) - 2 * MIN && t(b.at) - t(e.up.endAt) <= BOOT_AFTER_EVENT_MS;
  }
  if (t(b.at) - t(e.downAt) <= BOOT_AFTER_EVENT_MS) return true;
  // The VM stayed down (stop, preemption...) and this is the next boot: it was started again.
  return STAYS_DOWN.has(e.cause) || e.cause === 'host-error';
};

const sourceOfGuest = (e: GuestEvent): SourceName => e.source;

const guestItem = (e: GuestEvent): EvidenceItem => ({
  source: sourceOfGuest(e),
  at: iso(e.at),
  text: e.timeInferred ? `${e.text} (time inferred)` : e.text,
  ref: e.ref,
});

const auditItem = (s: AuditSignal): EvidenceItem => ({
  source: 'audit-logs',
  at: iso(s.at),
  text: describeSignal(s),
  ref: s.ref,
});

/** A boot's evidence: its first two guest lines, and lastStartTimestamp when the instance dated or confirmed it. */
const bootItems = (boot: BootCluster | null, instance: InstanceInfo | null): EvidenceItem[] => {
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
const notingEmergencyShell = (summary: string, afterBoot: readonly GuestEvent[]): string =>
  afterBoot.some((g) => g.signal === 'emergency-shell')
    ? summary.replace(/\.$/, '; after boot the guest fell into emergency mode.')
    : summary;

const lower = (c: Confidence): Confidence => (c === 'high' ? 'medium' : 'low');

const crashDetail = (events: readonly GuestEvent[]) => ({
  oom: events.some((e) => e.signal === 'oom'),
  lockup: events.some((e) => e.signal === 'lockup'),
  panic: events.some((e) => e.signal === 'kernel-panic'),
  diskFull: events.some((e) => e.signal === 'disk-full'),
});

const crashPhrase = (d: { oom: boolean; lockup: boolean; panic: boolean }): string => {
  const what = d.panic ? 'kernel panic' : 'crash';
  if (d.oom) return `${what} after OOM`;
  if (d.lockup) return `${what} after lockup`;
  return what;
};

const between = (events: readonly GuestEvent[], from: number, to: number): GuestEvent[] =>
  events.filter((e) => t(e.at) >= from && t(e.at) < to);

const capEvidence = (items: EvidenceItem[]): EvidenceItem[] => {
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

const explainEpisode = (e: Episode, ctx: Ctx): Restart => {
  const { now, instance } = ctx;
  const bootAt = e.boot?.at ?? e.up?.at ?? null;
  const downAt = e.downAt;
  const guestBefore = between(ctx.guest, t(downAt) - CONTEXT_BEFORE_MS, t(downAt) + 5 * MIN).filter(
    (g) => g.signal !== 'boot',
  );
  const crashesBefore = between(ctx.guest, t(downAt) - CRASH_LOOKBACK_MS, t(downAt) + MIN).filter((g) =>
    CRASHISH.has(g.signal),
  );
  const afterBoot = bootAt
    ? between(ctx.guest, t(bootAt), t(bootAt) + 10 * MIN).filter(
        (g) => g.signal === 'emergency-shell' || g.signal === 'disk-full',
      )
    : [];
  const when = formatWhen(downAt, now);
  const later = bootAt ? formatDuration((t(bootAt) - t(downAt)) / 1000) : null;
  const stillDown = !bootAt && ['TERMINATED', 'STOPPED', 'SUSPENDED'].includes(instance?.status ?? '');
  let cause: Cause;
  let confidence: Confidence = 'high';
  let actor: string | null = null;
  let summary: string;
  const starter = e.up && e.up !== e.main ? e.up.principal : null;
  const startedBy = (): string =>
    e.boot || e.up
      ? starter
        ? `; started again by ${starter}${later ? ` ${later} later` : ''}`
        : later
          ? `; it came back ${later} later`
          : ''
      : stillDown
        ? '; the VM is still down'
        : '; no start was seen in the window';
  const guestTail = (): string => {
    const guestFailed = ctx.failed.some((f) => f.name === 'guest-logs' || f.name === 'syslog-file');
    if (!ctx.guestUsable) {
      return guestFailed
        ? 'the guest logs could not be read, so the guest side is unchecked'
        : 'guest logs were not available';
    }
    if (crashesBefore.length > 0)
      return `the guest logged ${crashPhrase(crashDetail(crashesBefore))} signs before it`;
    // The serial console alone rarely reaches back before a host move: do not vouch for the guest then.
    if (guestFailed) return 'the guest logs could not be read, so the guest side is unchecked';
    return 'nothing wrong in the guest';
  };
  switch (e.cause) {
    case 'host-error': {
      cause = 'host-error';
      const auto = e.up && roleOf(e.up).kind === 'up' && e.up.method === 'compute.instances.automaticRestart';
      const upLater = e.up ? formatDuration((t(e.up.at) - t(downAt)) / 1000) : null;
      const restarted = auto
        ? `Google restarted the VM automatically ${upLater} later`
        : e.up
          ? `the VM was started again by ${e.up.principal ?? 'the platform'} ${upLater} later`
          : bootAt
            ? `the VM booted again ${later} later`
            : 'no automatic restart was logged';
      summary = `Compute Engine host error at ${when}; ${restarted}; ${guestTail()}.`;
      break;
    }
    case 'auto-restart-only':
      cause = 'host-error';
      confidence = 'medium';
      summary = `Compute Engine restarted the VM automatically at ${when} (compute.instances.automaticRestart) with no host error logged in the window: most likely a host error just before it.`;
      break;
    case 'preemption':
      cause = 'preemption';
      summary = `Compute Engine preempted this Spot/preemptible VM at ${when}${startedBy()}.`;
      break;
    case 'host-maintenance':
      cause = 'host-maintenance';
      summary = `Host maintenance stopped the VM at ${when} (onHostMaintenance=TERMINATE)${startedBy()}.`;
      break;
    case 'guest-shutdown':
      cause = 'guest-shutdown';
      summary = `The guest OS powered itself off at ${when} (compute.instances.guestTerminate)${startedBy()}.`;
      break;
    case 'mig-recreate':
      cause = 'mig-recreate';
      summary = `A managed instance group recreated the VM at ${when} (repair.recreateInstance; the new VM has a new instance id).`;
      break;
    case 'mig-halt':
      cause = 'mig-recreate';
      summary = `A managed instance group halted the VM for a restart at ${when} (instanceManagerHaltForRestart)${startedBy()}.`;
      break;
    case 'system-reset':
    case 'reset': {
      const who = e.main.principal;
      const panics = crashesBefore.filter((g) => g.signal === 'kernel-panic' || g.signal === 'lockup');
      actor = who;
      if (panics.length > 0) {
        cause = 'kernel-panic';
        const d = crashDetail(crashesBefore);
        summary = `The guest hit a ${crashPhrase(d)} at ${formatWhen(panics[0]?.at ?? downAt, now)}; the VM was then reset at ${when}${who ? ` by ${who}` : ''}.`;
      } else {
        cause = 'user-reset';
        summary =
          e.cause === 'system-reset' && !who
            ? `Compute Engine reset the VM at ${when} (system event compute.instances.reset).`
            : `${who ?? 'Someone'} reset the VM through the API at ${when} (hard reset, no clean shutdown).`;
        if (e.cause === 'system-reset' && !who) actor = null;
      }
      if (bootAt && t(bootAt) > t(downAt)) summary = summary.replace(/\.$/, `; it booted ${later} later.`);
      break;
    }
    case 'delete': {
      const who = e.main.principal;
      actor = who;
      if (isManagedGroupAgent(who)) {
        cause = 'mig-recreate';
        summary = `A managed instance group deleted and recreated the VM at ${when}.`;
      } else {
        cause = 'user-stop';
        summary = `${who ?? 'Someone'} deleted the VM at ${when}${e.up ? ` and recreated it ${formatDuration((t(e.up.at) - t(downAt)) / 1000)} later` : ''} through the API.`;
      }
      break;
    }
    case 'stop':
    case 'start-only': {
      const stop = e.cause === 'stop' ? e.main : null;
      const schedule = ctx.schedules.find(
        (s) =>
          (s.operationId !== null &&
            (s.operationId === stop?.operationId || s.operationId === e.up?.operationId)) ||
          (stop && Math.abs(t(s.at) - t(stop.at)) <= 3 * MIN && s.scheduledOperation !== 'start'),
      );
      const principal = stop ? stop.principal : (e.up?.principal ?? null);
      actor = principal;
      const scheduled = schedule !== undefined || isComputeSystemAgent(principal);
      if (stop) {
        cause = scheduled ? 'scheduled-stop' : 'user-stop';
        if (scheduled && !schedule) confidence = 'medium';
        summary = scheduled
          ? `An instance schedule stopped the VM at ${when}${principal ? ` (as ${principal})` : ''}${startedBy()}.`
          : `${principal ?? 'Someone'} stopped the VM through the API at ${when}${startedBy()}.`;
      } else {
        cause = scheduled ? 'scheduled-stop' : 'user-stop';
        confidence = 'medium';
        summary = scheduled
          ? `An instance schedule started the VM at ${when}; the stop before it is outside the window or not logged.`
          : `${principal ?? 'Someone'} started the VM through the API at ${when}; the stop before it is outside the window or not logged.`;
      }
      break;
    }
  }
  const evidence: EvidenceItem[] = [
    ...e.signals.map(auditItem),
    ...ctx.schedules
      .filter((s) => s.operationId !== null && e.signals.some((x) => x.operationId === s.operationId))
      .map(auditItem),
    ...guestBefore.filter((g) => SHUTDOWNISH.has(g.signal)).map(guestItem),
    ...crashesBefore.map(guestItem),
    ...bootItems(e.boot, ctx.instance),
    ...afterBoot.map(guestItem),
  ];
  const detail = { ...crashDetail([...crashesBefore, ...afterBoot]), stillDown };
  summary = notingEmergencyShell(summary, afterBoot);
  // A failed source lowers the confidence when it could have changed the answer. The platform's own record
  // (a host error, a preemption, a stop by a named caller) stands without the guest; a reset does not: a
  // panic or hang inside the guest is often why someone reset the VM, and only the guest would show it.
  const guestFailed = ctx.failed.filter((f) => GUEST_SOURCES.has(f.name));
  if (ctx.failed.some((f) => f.name === 'audit-logs')) confidence = lower(confidence);
  else if (cause === 'user-reset' && guestFailed.length > 0) {
    confidence = lower(confidence);
    summary += ` (confidence lowered: ${guestFailed.map((f) => f.name).join(', ')} failed, and a crash inside the guest may have prompted the reset)`;
  }
  return {
    at: iso(downAt),
    bootAt: bootAt ? iso(bootAt) : null,
    cause,
    confidence,
    actor,
    downtimeSeconds: bootAt && t(bootAt) >= t(downAt) ? Math.round((t(bootAt) - t(downAt)) / 1000) : null,
    summary,
    evidence: capEvidence(dedupeItems(evidence)),
    nextSteps: nextStepsFor(cause, instance, detail),
  };
};

const dedupeItems = (items: readonly EvidenceItem[]): EvidenceItem[] => {
  const seen = new Set<string>();
  return items.filter((i) => {
    const key = `${i.source}|${i.at}|${i.text}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
};

const explainGuestBoot = (b: BootCluster, prev: BootCluster | null, ctx: Ctx): Restart => {
  const { now, instance } = ctx;
  const bootMs = t(b.at);
  const floor = prev ? t(prev.at) + BOOT_NOISE_MS : Number.NEGATIVE_INFINITY;
  const before = ctx.guest.filter((e) => t(e.at) < bootMs && t(e.at) >= floor && e.signal !== 'boot');
  const recent = (ms: number) => before.filter((e) => bootMs - t(e.at) <= ms);
  const reboots = recent(ORDERLY_LOOKBACK_MS).filter((e) => e.signal === 'reboot-request');
  const shutdowns = recent(ORDERLY_LOOKBACK_MS).filter((e) => e.signal === 'shutdown');
  const poweroffs = before.filter((e) => e.signal === 'poweroff-request');
  const crashes = recent(CRASH_LOOKBACK_MS).filter((e) => CRASHISH.has(e.signal));
  const diskFull = recent(CRASH_LOOKBACK_MS).filter((e) => e.signal === 'disk-full');
  const afterBoot = ctx.guest.filter(
    (e) =>
      t(e.at) >= bootMs &&
      t(e.at) - bootMs <= 10 * MIN &&
      (e.signal === 'emergency-shell' || e.signal === 'disk-full'),
  );
  const lastShutdown = shutdowns[shutdowns.length - 1];
  const orderly =
    reboots.length > 0 ||
    shutdowns.length >= 2 ||
    (lastShutdown !== undefined && bootMs - t(lastShutdown.at) <= 2 * MIN);
  const lastReboot = reboots[reboots.length - 1];
  const lastPoweroff = poweroffs[poweroffs.length - 1];
  const poweredOff = lastPoweroff !== undefined && (!lastReboot || t(lastPoweroff.at) > t(lastReboot.at));

  let cause: Cause;
  let confidence: Confidence;
  let sequence: GuestEvent[];
  let summary: string;
  const otherEvidence: EvidenceItem[] = [];
  const bootWhen = formatWhen(b.at, now);
  if (poweredOff) {
    cause = 'guest-shutdown';
    confidence = 'medium';
    sequence = before.filter(
      (e) => SHUTDOWNISH.has(e.signal) && t(e.at) >= t(lastPoweroff.at) - ORDERLY_LOOKBACK_MS,
    );
    summary = `The guest OS powered itself off at ${formatWhen(lastPoweroff.at, now)} ("${clip(lastPoweroff.text)}"); the VM booted again at ${bootWhen}.`;
  } else if (orderly) {
    cause = 'guest-reboot';
    confidence = 'medium';
    sequence = [...reboots, ...shutdowns].sort((x, y) => t(x.at) - t(y.at));
    const first = sequence[0] ?? lastShutdown;
    const after =
      crashes.length > 0
        ? ` after ${crashPhrase(crashDetail(crashes)).replace(/^crash after /, '')} signs`
        : '';
    summary = `Reboot from inside the guest at ${formatWhen(first?.at ?? b.at, now)}${after}: an orderly shutdown sequence, then a boot at ${bootWhen}; no platform event.`;
  } else if (crashes.length > 0) {
    cause = 'kernel-panic';
    const d = crashDetail(crashes);
    const last = crashes[crashes.length - 1];
    confidence = d.panic || (last && bootMs - t(last.at) <= 5 * MIN) ? 'medium' : 'low';
    sequence = crashes;
    summary = `The guest died with a ${crashPhrase(d)} at ${formatWhen(crashes[0]?.at ?? b.at, now)} (no orderly shutdown), then booted at ${bootWhen}.`;
  } else {
    cause = 'unknown';
    confidence = 'low';
    sequence = [];
    const why = !ctx.auditUsable
      ? ' Platform audit logs were not available: a host error or an API reset would look exactly like this.'
      : !ctx.guestUsable
        ? ''
        : ' The guest logs just stop before it, as after a host error or a hard reset, but no platform event explains it.';
    const other = ctx.otherPlatform.filter(
      (s) => t(s.at) <= bootMs && bootMs - t(s.at) <= BOOT_AFTER_EVENT_MS,
    );
    if (other.length > 0) {
      otherEvidence.push(...other.map(auditItem));
      summary = `The VM booted at ${bootWhen} shortly after an other platform event (${other.map((s) => s.rawMethod).join(', ')}) that opsbot does not know; read it in the audit log.`;
    } else {
      summary = `The VM booted at ${bootWhen} with no explaining evidence.${why}`;
    }
  }
  if (!ctx.auditUsable && cause !== 'unknown' && ctx.auditStatus === 'failed') confidence = 'low';
  if (ctx.failed.length > 0 && cause !== 'unknown') {
    const next = lower(confidence);
    if (next !== confidence) {
      confidence = next;
      summary += ` (confidence lowered: ${ctx.failed.map((f) => f.name).join(', ')} failed)`;
    }
  }
  const downAt = sequence[0]?.at ?? b.at;
  const lastLine = before[before.length - 1];
  const downtime = lastLine && cause !== 'unknown' ? Math.round((bootMs - t(lastLine.at)) / 1000) : null;
  const evidence: EvidenceItem[] = [
    ...otherEvidence,
    ...sequence.map(guestItem),
    ...(cause === 'guest-reboot' ? crashes.map(guestItem) : []),
    ...diskFull.map(guestItem),
    ...bootItems(b, ctx.instance),
    ...afterBoot.map(guestItem),
  ];
  summary = notingEmergencyShell(summary, afterBoot);
  return {
    at: iso(downAt),
    bootAt: iso(b.at),
    cause,
    confidence,
    actor: null,
    downtimeSeconds: downtime,
    summary,
    evidence: capEvidence(dedupeItems(evidence)),
    nextSteps: nextStepsFor(cause, instance, { ...crashDetail([...crashes, ...diskFull, ...afterBoot]) }),
  };
};

const clip = (text: string, max = 120): string => (text.length > max ? `${text.slice(0, max - 3)}...` : text);

const noRestartVerdict = (ctx: Ctx, signals: readonly AuditSignal[], lastStart: Date | null): Verdict => {
  const { evidence, now } = ctx;
  const migrations = signals.filter((s) => s.method === 'compute.instances.migrateOnHostMaintenance');
  const parts: string[] = [];
  if (ctx.auditUsable) parts.push('no platform restart event');
  if (ctx.guestUsable) parts.push('no boot in the guest logs');
  const upSince =
    lastStart && t(lastStart) < t(evidence.window.from)
      ? `; the VM has been up since ${formatWhen(lastStart, now)}`
      : '';
  const mig =
    migrations.length > 0
      ? ` ${migrations.length} live migration(s) (${migrations.map((m) => formatWhen(m.at, now)).join(', ')}) moved the VM without restarting it.`
      : '';
  let confidence: Confidence;
  if (ctx.auditUsable && (ctx.guestUsable || (lastStart !== null && t(lastStart) < t(evidence.window.from))))
    confidence = 'high';
  else if (ctx.auditUsable || ctx.guestUsable) confidence = 'medium';
  else confidence = 'low';
  if (ctx.failed.length > 0) confidence = lower(confidence);
  const checked = parts.length > 0 ? `: ${parts.join(', ')}` : ': no evidence source could be read';
  return {
    cause: 'no-restart',
    confidence,
    summary: `No restart of ${evidence.instance?.name ?? evidence.instanceName} between ${formatRange(evidence.window.from, evidence.window.to, now)}${checked}${upSince}.${mig}`,
  };
};

const buildTimeline = (
  signals: readonly AuditSignal[],
  guest: readonly GuestEvent[],
  noise: ReadonlySet<GuestEvent>,
  instance: InstanceInfo | null,
  evidence: Evidence,
): TimelineItem[] => {
  const items: TimelineItem[] = [];
  const fromMs = t(evidence.window.from);
  for (const s of signals) {
    if (t(s.at) < fromMs) continue;
    const role = roleOf(s);
    const migration =
      role.kind === 'info' && role.what === 'live-migration' ? ' (live migration: no restart)' : '';
    items.push({
      at: iso(s.at),
      source: 'audit-logs',
      text: `${describeSignal(s)}${migration}`,
      kind: s.log === 'activity' ? 'api' : 'platform',
    });
  }
  const lastBootAt = new Map<string, number>();
  for (const g of guest) {
    if (t(g.at) < fromMs) continue;
    if (g.signal === 'boot') {
      // One line per boot and source: the kernel banner, not its command line and syslog copies.
      const prev = lastBootAt.get(g.source);
      lastBootAt.set(g.source, t(g.at));
      if (prev !== undefined && t(g.at) - prev <= BOOT_MERGE_MS) continue;
    }
    items.push({
      at: iso(g.at),
      source: g.source,
      text: `${g.signal}: ${clip(g.text, 200)}${noise.has(g) ? ' (boot noise, ignored)' : ''}${g.timeInferred ? ' (time inferred)' : ''}`,
      kind: g.source === 'serial-console' ? 'serial' : 'guest',
    });
  }
  for (const [label, value] of [
    ['lastStartTimestamp', instance?.lastStartTimestamp],
    ['lastStopTimestamp', instance?.lastStopTimestamp],
  ] as const) {
    if (!value) continue;
    const at = new Date(value);
    if (Number.isNaN(t(at)) || t(at) < fromMs || t(at) > t(evidence.window.to)) continue;
    items.push({ at: iso(at), source: 'instance', text: `${label} ${value}`, kind: 'instance' });
  }
  return items.sort((a, b) => t(new Date(b.at)) - t(new Date(a.at)));
};

const buildLinks = (
  evidence: Evidence,
  name: string,
  instance: InstanceInfo | null,
): { label: string; url: string }[] => {
  const project = instance?.project ?? evidence.project;
  const zone = instance?.zone ?? evidence.zone;
  const links: { label: string; url: string }[] = [];
  if (project) {
    // The link opens the query that was run (the live collector records it as the source's detail; with a
    // zone given it ran by name only, before the id was known), else the FACTS.md filter for this instance.
    const ran = evidence.sources.find((s) => s.name === 'audit-logs')?.detail;
    const query = ran?.startsWith('resource.type=')
      ? ran
      : buildAuditLogFilter({
          project,
          instanceId: instance?.id ?? null,
          instanceName: name,
          from: evidence.window.from,
          to: evidence.window.to,
        });
    links.push({
      label: 'Platform events in Logs Explorer',
      url: buildLogsExplorerUrl({ project, query, from: evidence.window.from, to: evidence.window.to }),
    });
    if (zone) {
      links.push({
        label: 'Instance in the Cloud Console',
        url: buildInstanceConsoleUrl({ project, zone, name }),
      });
      links.push({ label: 'Serial console (port 1)', url: buildSerialConsoleUrl({ project, zone, name }) });
    }
  }
  return links;
};
