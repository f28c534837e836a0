import {
  AUTO_RESTART_MS,
  auditItem,
  BOOT_AFTER_EVENT_MS,
  type BootCluster,
  between,
  bootItems,
  CONTEXT_BEFORE_MS,
  CRASH_LOOKBACK_MS,
  CRASHISH,
  type Ctx,
  capEvidence,
  crashDetail,
  crashPhrase,
  DOWN_MERGE_MS,
  dedupeItems,
  type Episode,
  type EpisodeCause,
  GUEST_SOURCES,
  guestItem,
  iso,
  lower,
  MIN,
  notingEmergencyShell,
  SHUTDOWNISH,
  t,
} from './analyze-shared.js';
import { type AuditSignal, isComputeSystemAgent, isManagedGroupAgent, roleOf } from './rules-audit.js';
import { formatDuration, formatWhen, nextStepsFor } from './rules-text.js';
import type { Cause, Confidence, EvidenceItem, Restart } from './types.js';

/**
 * Platform evidence (the audit log): signals grouped into episodes (down, then up), the boot that belongs to
 * each, and the explanation of an episode as a restart with a cause, a confidence and its evidence.
 */

export const DOWN_PRIORITY: Readonly<Record<EpisodeCause, number>> = {
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
export const STAYS_DOWN = new Set<EpisodeCause>([
  'stop',
  'preemption',
  'guest-shutdown',
  'host-maintenance',
  'delete',
]);

export const buildEpisodes = (
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

export const latestEpisodeBefore = (episodes: readonly Episode[], at: Date): Episode | null => {
  let found: Episode | null = null;
  for (const e of episodes) if (t(e.downAt) <= t(at) + 2 * MIN) found = e;
  return found;
};

export const bootBelongs = (e: Episode, b: BootCluster): boolean => {
  if (e.up) {
    const upAt = e.up.at;
    return t(b.at) >= t(upAt) - 2 * MIN && t(b.at) - t(e.up.endAt) <= BOOT_AFTER_EVENT_MS;
  }
  if (t(b.at) - t(e.downAt) <= BOOT_AFTER_EVENT_MS) return true;
  // The VM stayed down (stop, preemption...) and this is the next boot: it was started again.
  return STAYS_DOWN.has(e.cause) || e.cause === 'host-error';
};

export const explainEpisode = (e: Episode, ctx: Ctx): Restart => {
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
