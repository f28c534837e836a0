import {
  auditItem,
  BOOT_AFTER_EVENT_MS,
  BOOT_MERGE_MS,
  BOOT_NOISE_MS,
  type BootCluster,
  bootItems,
  CRASH_LOOKBACK_MS,
  CRASHISH,
  type Ctx,
  capEvidence,
  clip,
  crashDetail,
  crashPhrase,
  dedupeItems,
  guestItem,
  iso,
  lower,
  MIN,
  notingEmergencyShell,
  ORDERLY_LOOKBACK_MS,
  SHUTDOWNISH,
  t,
} from './analyze-shared.js';
import { formatWhen, nextStepsFor } from './rules-text.js';
import type { Cause, Confidence, EvidenceItem, GuestEvent, Restart } from './types.js';

/**
 * Guest evidence (guest logs, syslog files, the serial console): boots clustered from their lines, and the
 * explanation of a boot no platform event explains (a reboot inside the guest, a power-off, a crash).
 */

export const clusterBoots = (bootEvents: readonly GuestEvent[]): BootCluster[] => {
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

export const explainGuestBoot = (b: BootCluster, prev: BootCluster | null, ctx: Ctx): Restart => {
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
