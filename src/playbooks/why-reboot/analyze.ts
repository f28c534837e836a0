import type { InstanceInfo } from '../../integrations/gce/port.js';
import { clusterBoots, explainGuestBoot } from './analyze-guest.js';
import { bootBelongs, buildEpisodes, explainEpisode, latestEpisodeBefore } from './analyze-platform.js';
import {
  BOOT_AFTER_EVENT_MS,
  BOOT_MERGE_MS,
  BOOT_NOISE_MS,
  type BootCluster,
  type Ctx,
  clip,
  iso,
  lower,
  MIN,
  PAIRING_SLACK_MS,
  SHUTDOWNISH,
  t,
} from './analyze-shared.js';
import {
  buildAuditLogFilter,
  buildInstanceConsoleUrl,
  buildLogsExplorerUrl,
  buildSerialConsoleUrl,
} from './links.js';
import {
  type AuditSignal,
  describeSignal,
  roleOf,
  selectInstanceSignals,
  toAuditSignals,
} from './rules-audit.js';
import { formatRange, formatWhen } from './rules-text.js';
import type {
  Confidence,
  Evidence,
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
 * before it) as rules over time-ordered signals. This file gives the verdict (and the timeline and links);
 * the rules per kind of evidence are in analyze-platform.ts (audit log) and analyze-guest.ts (guest lines),
 * what they share in analyze-shared.ts.
 */

const MAX_TIMELINE = 1000;

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
