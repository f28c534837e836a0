/**
 * Live evidence for /why-reboot: the instance, platform audit logs, guest logs shipped to Cloud Logging, and
 * the serial console, each with its own timeout. A failed source is reported (and lowers confidence in the
 * analysis); it never fails the command.
 *
 * Critical path: when project and zone are known, the instance get, the audit-log query by resource name
 * (which needs no id) and the serial console start together; the audit query by instance id (entries such as
 * ScheduledVMs carry no resourceName, only the id: the id is part of the audit query on every path) and the
 * guest-log query need the id. When the instance memory (instance-memory.ts) remembers it, they start with
 * the lookup, and the collection costs about max(serial, instance, audit, guest); otherwise they wait for the
 * lookup, max(serial, instance + max(audit, guest)). The lookup decides either way: a remembered id it
 * contradicts (the VM was recreated) has the id-keyed queries run again with the id it found.
 * Without a zone, the name is resolved first (aggregatedList), then the three queries run together with the
 * FACTS.md audit filter (instance id OR resource name); with the one VM of that name remembered, they start
 * with the resolution instead, in the zone remembered.
 */
import { AppError, isAppError } from '../../core/errors.js';
import type {
  ComputePort,
  InstanceInfo,
  InstanceRef,
  LogEntry,
  LoggingPort,
  SerialPortChunk,
} from '../../integrations/gce/port.js';
import type { KnownInstance } from '../../store/instance-repository.js';
import { type GuestLineClassifier, guestFilterRegexOf, RESTART_LINES } from './guest-log.js';
import { type InstanceMemory, recallInstance } from './instance-memory.js';
import { buildAuditLogFilter, buildGuestLogFilter } from './links.js';
import {
  assertResolved,
  candidateProjects,
  formatRef,
  mergeSpec,
  parseInstanceSpec,
  resolveInstance,
} from './resolve-instance.js';
import { parseSerialOutput } from './serial.js';
import type { Evidence, GuestEvent, GuestSignal, SourceName, SourceReport, TimeWindow } from './types.js';

export interface CollectTimeouts {
  readonly instanceMs: number;
  readonly auditLogsMs: number;
  readonly guestLogsMs: number;
  readonly serialMs: number;
}

export interface CollectDeps<S extends string = GuestSignal> {
  readonly compute: ComputePort;
  /** Which guest lines matter (default /why-reboot's restart lines; /diag adds host health). */
  readonly classifier?: GuestLineClassifier<S>;
  readonly logging: LoggingPort;
  readonly now: () => Date;
  readonly timeouts: CollectTimeouts;
  /** Log id of the Ops Agent journald receiver (e.g. "systemd_journald"), if one is configured. */
  readonly journaldLog?: string | undefined;
  /**
   * What opsbot last saw of each VM (instance-memory.ts): with the id remembered, the queries keyed by it
   * start with the lookup instead of after it; every successful lookup is remembered here.
   */
  readonly memory?: InstanceMemory | undefined;
}

export interface CollectRequest {
  readonly vm: string;
  readonly project?: string | undefined;
  readonly zone?: string | undefined;
  readonly window: TimeWindow;
  readonly defaultProject?: string | undefined;
  readonly projects?: readonly string[] | undefined;
  /** Called once the instance is known and the queries needing its id have started, so a caller can start its own work. */
  readonly onInstance?: ((instance: InstanceInfo) => void) | undefined;
  /**
   * Called when a remembered instance id is used before the lookup answers, so a caller can start its own
   * id-keyed work too; onInstance then says which instance it really is (a different id: start again).
   */
  readonly onRecalled?: ((known: KnownInstance) => void) | undefined;
}

/** The serial console keeps 1 MB; read all of it. */
export const SERIAL_TAIL_BYTES = 1024 * 1024;
export const MAX_AUDIT_ENTRIES = 20_000;
export const MAX_GUEST_ENTRIES = 10_000;
const MAX_QUOTE = 300;

type Outcome<T> =
  | { readonly ok: true; readonly value: T; readonly durationMs: number }
  | { readonly ok: false; readonly error: unknown; readonly reason: string; readonly durationMs: number };

/** Runs one source under its own deadline; never throws. */
const timed = async <T>(
  name: SourceName,
  timeoutMs: number,
  run: (signal: AbortSignal) => Promise<T>,
  clock: () => number = performance.now.bind(performance),
): Promise<Outcome<T>> => {
  const started = clock();
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new AppError('timeout', `${labelOf(name)} did not answer within ${formatMs(timeoutMs)}`);
      controller.abort(err);
      reject(err);
    }, timeoutMs);
  });
  try {
    const value = await Promise.race([run(controller.signal), deadline]);
    return { ok: true, value, durationMs: Math.round(clock() - started) };
  } catch (error) {
    const reason =
      controller.signal.aborted && isAppError(controller.signal.reason)
        ? controller.signal.reason.userMessage
        : isAppError(error)
          ? error.userMessage
          : `${labelOf(name)} failed unexpectedly`;
    return { ok: false, error, reason, durationMs: Math.round(clock() - started) };
  } finally {
    clearTimeout(timer);
  }
};

/** A source started now and awaited later; `abort` ends it early (its outcome is then a failure nobody reads). */
interface Started<T> {
  readonly promise: Promise<Outcome<T>>;
  abort(): void;
}

const startTimed = <T>(
  name: SourceName,
  timeoutMs: number,
  run: (signal: AbortSignal) => Promise<T>,
): Started<T> => {
  const outer = new AbortController();
  const promise = timed(name, timeoutMs, (signal) => run(AbortSignal.any([signal, outer.signal])));
  return { promise, abort: () => outer.abort(new AppError('timeout', `${labelOf(name)}: no longer needed`)) };
};

const abortStarted = (s: { abort(): void } | null): void => s?.abort();

interface AuditPart extends Started<LogEntry[]> {
  /** The instance id the query asks for (null: by name only). */
  readonly id: string | null;
  /** Whether it asks by resource name too. */
  readonly byName: boolean;
}

const abortAll = (parts: readonly AuditPart[], ...others: readonly ({ abort(): void } | null)[]): void => {
  for (const p of parts) p.abort();
  for (const o of others) o?.abort();
};

/** The audit parts as one source: failed if any part failed, else their entries merged. */
const mergeAudit = async (
  parts: readonly AuditPart[],
  elapsed: () => number,
): Promise<Outcome<LogEntry[]>> => {
  const outcomes = await Promise.all(parts.map((p) => p.promise));
  const durationMs = elapsed();
  const failed = outcomes.find((o) => !o.ok);
  if (failed) return { ...failed, durationMs };
  let entries: LogEntry[] = [];
  for (const o of outcomes)
    if (o.ok) entries = outcomes.length === 1 ? o.value : mergeEntries(entries, o.value);
  return { ok: true, value: entries, durationMs };
};

const formatSeen = (at: Date): string => `${at.toISOString().slice(0, 16).replace('T', ' ')} UTC`;

const labelOf = (name: SourceName): string =>
  ({
    instance: 'Compute Engine (instance)',
    'audit-logs': 'Cloud Logging (audit logs)',
    'guest-logs': 'Cloud Logging (guest logs)',
    'serial-console': 'the serial console',
    'syslog-file': 'the syslog file',
  })[name];

const formatMs = (ms: number): string => (ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`);

const report = (
  name: SourceName,
  status: SourceReport['status'],
  reason: string | null,
  items: number,
  durationMs: number | null,
  detail?: string,
): SourceReport => ({ name, status, reason, items, durationMs, ...(detail !== undefined ? { detail } : {}) });

const quote = (text: string): string => {
  const t = text.replace(/\s+$/g, '').trim();
  return t.length > MAX_QUOTE ? `${t.slice(0, MAX_QUOTE - 1)}…` : t;
};

/** A Logging regex literal for the query language (backslashes and quotes escaped). */
const filterString = (value: string): string => `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/** "systemd_journald", "projects/P/logs/systemd_journald" or URL-encoded -> the bare log id. */
const logIdOf = (value: string): string => {
  const m = /\/logs\/(.+)$/.exec(value);
  return decodeURIComponent(m?.[1] ?? value);
};

export const buildGuestQuery = (input: {
  project: string;
  instanceId: string;
  window: TimeWindow;
  journaldLog?: string | undefined;
  /** RE2 prefilter of the lines (default: the restart lines' anchors). */
  regex?: string | undefined;
}): string =>
  `${buildGuestLogFilter({
    project: input.project,
    instanceId: input.instanceId,
    from: input.window.from,
    to: input.window.to,
    logIds: input.journaldLog ? ['syslog', logIdOf(input.journaldLog)] : ['syslog'],
  })} AND jsonPayload.message=~${filterString(input.regex ?? guestFilterRegexOf(RESTART_LINES.anchors))}`;

const messageOf = (entry: LogEntry): string | null => {
  const m = entry.jsonPayload?.message ?? entry.jsonPayload?.MESSAGE;
  if (typeof m === 'string') return m;
  return typeof entry.textPayload === 'string' ? entry.textPayload : null;
};

/** Guest log entries -> classified GuestEvents (unclassified and noise lines dropped). */
export const guestEventsOf = <S extends string = GuestSignal>(
  entries: readonly LogEntry[],
  classifier: GuestLineClassifier<S> = RESTART_LINES as unknown as GuestLineClassifier<S>,
): GuestEvent<S>[] => {
  const out: GuestEvent<S>[] = [];
  for (const entry of entries) {
    const message = messageOf(entry);
    if (message === null) continue;
    const signal = classifier.classify(message);
    if (!signal) continue;
    const at = new Date(entry.timestamp);
    if (Number.isNaN(at.getTime())) continue;
    out.push({
      at,
      signal,
      text: quote(message),
      source: 'guest-logs',
      ref: entry.insertId ?? `${entry.logName}@${entry.timestamp}`,
      timeInferred: false,
    });
  }
  return out;
};

/** The zone of an audit entry: its label, else from `.../zones/Z/instances/N`. */
const zoneOfEntry = (e: LogEntry): string | null => {
  const label = e.resource?.labels?.zone;
  if (label) return label;
  const rn = e.protoPayload?.resourceName;
  return typeof rn === 'string' ? (/\/zones\/([^/]+)\//.exec(rn)?.[1] ?? null) : null;
};

/**
 * The name filter is a substring match (web-1 also matches web-10) and spans zones: keep the entries of this
 * instance id, or whose resource name ends with exactly `/instances/<name>` in the instance's zone.
 */
export const keepEntriesOf = (
  entries: readonly LogEntry[],
  target: { name: string; zone: string | null; id: string | null },
): LogEntry[] =>
  entries.filter((e) => {
    if (target.id && e.resource?.labels?.instance_id === target.id) return true;
    const rn = e.protoPayload?.resourceName;
    if (typeof rn !== 'string' || !rn.endsWith(`/instances/${target.name}`)) return false;
    const zone = zoneOfEntry(e);
    return target.zone === null || zone === null || zone === target.zone;
  });

/** Entries of two overlapping queries, each once (same log, insertId and timestamp), oldest first. */
const mergeEntries = (a: readonly LogEntry[], b: readonly LogEntry[]): LogEntry[] => {
  const seen = new Set<string>();
  const out: LogEntry[] = [];
  for (const e of [...a, ...b]) {
    const key = `${e.logName}|${e.insertId ?? ''}|${e.timestamp}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(e);
  }
  return out.sort((x, y) => Date.parse(x.timestamp) - Date.parse(y.timestamp));
};

export const collectEvidence = async <S extends string = GuestSignal>(
  deps: CollectDeps<S>,
  req: CollectRequest,
): Promise<Evidence<S>> => {
  const classifier = deps.classifier ?? (RESTART_LINES as unknown as GuestLineClassifier<S>);
  const spec = mergeSpec(parseInstanceSpec(req.vm), { project: req.project, zone: req.zone });
  const resolveOptions = { defaultProject: req.defaultProject, projects: req.projects };
  const projects = candidateProjects(spec, resolveOptions);
  if (projects.length === 0) {
    throw new AppError(
      'bad_input',
      'which project? Pass --project (or project/zone/name), or set google.defaultProject in the config',
    );
  }
  const { window } = req;
  const notes: string[] = [];
  const sources: SourceReport[] = [];

  // --- instance: get (zone known) or resolve by name (aggregatedList) ---
  let instance: InstanceInfo | null = null;
  let ref: InstanceRef | null = null;
  let instanceOutcome: Outcome<InstanceInfo | null>;
  const project = projects.length === 1 ? (projects[0] ?? null) : null;
  const zoneKnown = spec.zone !== null && project !== null;

  // What a previous lookup (or the fleet listing) saw for this name: a hint that lets the queries keyed by
  // instance id start with the lookup instead of after it. The lookup still runs and decides: a remembered id
  // it contradicts (the VM was recreated, moved or deleted) is dropped, with what was read by it.
  const recalling: Promise<KnownInstance | null> =
    project && deps.memory
      ? recallInstance(deps.memory, { project, zone: spec.zone, name: spec.name })
      : Promise.resolve(null);
  let recalled: KnownInstance | null = null;

  // The audit log is read by name at once when the project (and zone) are known (a deleted VM has no id), and
  // by instance id as soon as an id is known, remembered or looked up: entries without a resourceName
  // (ScheduledVMs, the instance schedule's own record) carry only the id. Every part runs under one deadline
  // from the first one's start; the entries are those of the FACTS.md filter (id OR name).
  const auditParts: AuditPart[] = [];
  let auditStartedAt = performance.now();
  const listAudit = (p: string, filter: string, signal: AbortSignal): Promise<LogEntry[]> =>
    deps.logging.listEntries(
      {
        resourceNames: [`projects/${p}`],
        filter,
        orderBy: 'timestamp asc',
        pageSize: 1000,
        maxEntries: MAX_AUDIT_ENTRIES,
      },
      signal,
    );
  /** One audit query: by id OR name (both given), by name only, or by id only. */
  const addAudit = (p: string, instanceId: string | null, byName: boolean): void => {
    if (auditParts.length === 0) auditStartedAt = performance.now();
    const filter = buildAuditLogFilter({
      project: p,
      instanceId,
      instanceName: byName ? spec.name : null,
      from: window.from,
      to: window.to,
    });
    const remainingMs = Math.max(1, deps.timeouts.auditLogsMs - (performance.now() - auditStartedAt));
    auditParts.push({
      id: instanceId,
      byName,
      ...startTimed('audit-logs', remainingMs, (signal) => listAudit(p, filter, signal)),
    });
  };
  const hasAuditFor = (instanceId: string): boolean => auditParts.some((a) => a.id === instanceId);

  let serial: Started<SerialPortChunk> | null = null;
  let serialRef: InstanceRef | null = null;
  const startSerial = (r: InstanceRef): void => {
    serialRef = r;
    serial = startTimed('serial-console', deps.timeouts.serialMs, (signal) =>
      deps.compute.getSerialPortOutput(r, -SERIAL_TAIL_BYTES, signal),
    );
  };

  let guest: (Started<LogEntry[]> & { readonly id: string; readonly filter: string }) | null = null;
  const startGuest = (p: string, instanceId: string): void => {
    const filter = buildGuestQuery({
      project: p,
      instanceId,
      window,
      journaldLog: deps.journaldLog,
      regex: guestFilterRegexOf(classifier.anchors),
    });
    guest = {
      id: instanceId,
      filter,
      ...startTimed('guest-logs', deps.timeouts.guestLogsMs, (signal) =>
        deps.logging.listEntries(
          {
            resourceNames: [`projects/${p}`],
            filter,
            orderBy: 'timestamp asc',
            pageSize: 1000,
            maxEntries: MAX_GUEST_ENTRIES,
          },
          signal,
        ),
      ),
    };
  };

  /** The remembered instance is known before the lookup answers: start what needs its id (and zone) now. */
  const startRecalled = (known: KnownInstance): void => {
    recalled = known;
    if (!hasAuditFor(known.id)) addAudit(known.project, known.id, auditParts.length === 0);
    startGuest(known.project, known.id);
    if (!serial) startSerial({ project: known.project, zone: known.zone, name: known.name });
    req.onRecalled?.(known);
  };

  let lookup: Promise<Outcome<InstanceInfo | null>>;
  if (zoneKnown && project && spec.zone) {
    ref = { project, zone: spec.zone, name: spec.name };
    const r = ref;
    lookup = timed('instance', deps.timeouts.instanceMs, (signal) => deps.compute.getInstance(r, signal));
    addAudit(project, null, true);
    startSerial(r);
  } else {
    lookup = timed('instance', deps.timeouts.instanceMs, async (signal) => {
      const result = await resolveInstance(deps.compute, req.vm, {
        project: req.project,
        zone: req.zone,
        defaultProject: req.defaultProject,
        projects: req.projects,
        signal,
      });
      // Only "not found" falls through to a name-only audit search (a deleted or recreated VM).
      if (result.kind === 'not-found' && project) return null;
      return assertResolved(spec.name, result);
    });
  }
  // The memory answers in a millisecond or two; if the lookup answers first, the memory is not needed.
  const looked = lookup.then(() => null);
  const early = await Promise.race([recalling, looked]);
  if (early) startRecalled(early);
  instanceOutcome = await lookup;
  if (!instanceOutcome.ok && isAppError(instanceOutcome.error)) {
    const code = instanceOutcome.error.code;
    if (code === 'ambiguous' || code === 'not_found' || code === 'bad_input') {
      abortAll(auditParts, guest, serial);
      throw instanceOutcome.error;
    }
  }
  if (instanceOutcome.ok && instanceOutcome.value) {
    instance = instanceOutcome.value;
    ref = { project: instance.project, zone: instance.zone, name: instance.name };
    const fresh = instance;
    if (fresh.id && deps.memory) {
      deps.memory
        .remember([
          {
            project: fresh.project,
            zone: fresh.zone,
            name: fresh.name,
            id: fresh.id,
            creationTimestamp: fresh.creationTimestamp,
            seenAt: deps.now(),
          },
        ])
        .catch(() => undefined); // a hint for next time: never this answer's failure
    }
  }
  const known = recalled as KnownInstance | null;
  const confirmed =
    known !== null &&
    instance !== null &&
    known.id === instance.id &&
    known.project === instance.project &&
    known.zone === instance.zone;
  if (instance) {
    // Whatever the memory said, the queries are those of the instance that exists now.
    if (instance.id && !hasAuditFor(instance.id))
      addAudit(instance.project, instance.id, auditParts.length === 0);
    const g = guest as { id: string } | null;
    if (g && g.id !== instance.id) abortStarted(guest);
    if (instance.id && (!g || g.id !== instance.id)) startGuest(instance.project, instance.id);
    else if (!instance.id) guest = null;
    const sr = serialRef as InstanceRef | null;
    if (!serial || !sr || sr.zone !== instance.zone || sr.project !== instance.project) {
      abortStarted(serial);
      startSerial(ref as InstanceRef);
    }
    if (known && !confirmed) {
      notes.push(
        known.id !== instance.id
          ? `instance: ${spec.name} was recreated since opsbot last saw it (id ${known.id} on ${formatSeen(known.seenAt)}, now ${instance.id}); its queries by instance id were run with the new id`
          : `instance: ${spec.name} is now in ${instance.zone} (opsbot last saw it in ${known.zone} on ${formatSeen(known.seenAt)}); its serial console was read there`,
      );
    }
  } else {
    // No instance now (deleted, or the lookup failed): guest logs need the current instance (and so does the
    // serial console, unless the zone was given: it answers for itself). The audit log keeps what was asked
    // by name and by the id the VM last had, which the filter below keeps too (its ScheduledVMs entries carry
    // only that id).
    abortStarted(guest);
    guest = null;
    if (!zoneKnown) {
      // Read in the zone the memory gave: the console of a VM nobody can confirm is there.
      abortStarted(serial);
      serial = null;
    }
    if (project && auditParts.length === 0) addAudit(project, null, true);
  }
  const auditId = instance ? instance.id || null : (known?.id ?? null);
  // Parts asked by an id the lookup proved wrong add nothing the others do not: dropped, with their entries.
  const usedParts = auditParts.filter((a) => a.id === null || a.id === auditId || a.byName);
  for (const a of auditParts) if (!usedParts.includes(a)) a.abort();
  const auditFilter: string | null =
    usedParts.length > 0 && (instance?.project ?? project)
      ? buildAuditLogFilter({
          project: (instance?.project ?? project) as string,
          instanceId: auditId,
          instanceName: spec.name,
          from: window.from,
          to: window.to,
        })
      : null;

  const instanceReport = (): SourceReport => {
    if (!instanceOutcome.ok)
      return report('instance', 'failed', instanceOutcome.reason, 0, instanceOutcome.durationMs);
    if (!instanceOutcome.value) {
      return report(
        'instance',
        'empty',
        `no instance named ${spec.name}${ref ? ` in ${ref.project}/${ref.zone}` : project ? ` in ${project}` : ''} now (deleted or recreated?); searching the audit logs by name`,
        0,
        instanceOutcome.durationMs,
      );
    }
    return report('instance', 'ok', null, 1, instanceOutcome.durationMs, formatRef(instanceOutcome.value));
  };
  sources.push(instanceReport());
  if (!instance && known && usedParts.length > 0) {
    notes.push(
      `audit logs: ${!instanceOutcome.ok ? 'the instance lookup failed, so they were' : 'also'} searched by the instance id opsbot last saw for ${spec.name} (${known.id} on ${formatSeen(known.seenAt)})`,
    );
  } else if (!instanceOutcome.ok && usedParts.length > 0) {
    notes.push(
      'audit logs: the instance lookup failed, so they were searched by name only; entries that carry only the instance id (an instance schedule firing, ScheduledVMs) may be missing',
    );
  }

  const guestStarted = guest as (Started<LogEntry[]> & { id: string; filter: string }) | null;
  const guestFilter = guestStarted?.filter ?? null;
  if (instance) req.onInstance?.(instance);

  const [auditOutcome, guestOutcome, serialOutcome] = await Promise.all([
    usedParts.length > 0 ? mergeAudit(usedParts, () => Math.round(performance.now() - auditStartedAt)) : null,
    guestStarted?.promise ?? null,
    (serial as Started<SerialPortChunk> | null)?.promise ?? null,
  ]);

  // --- audit logs ---
  let auditEntries: LogEntry[] = [];
  if (!auditOutcome) {
    sources.push(report('audit-logs', 'skipped', 'no project to search', 0, null));
  } else if (!auditOutcome.ok) {
    sources.push(
      report(
        'audit-logs',
        'failed',
        auditOutcome.reason,
        0,
        auditOutcome.durationMs,
        auditFilter ?? undefined,
      ),
    );
  } else {
    auditEntries = keepEntriesOf(auditOutcome.value, {
      name: spec.name,
      zone: instance?.zone ?? spec.zone,
      id: auditId,
    });
    if (auditOutcome.value.length >= MAX_AUDIT_ENTRIES) {
      notes.push(`audit logs: stopped after ${MAX_AUDIT_ENTRIES} entries; narrow the window with --since`);
    }
    sources.push(
      auditEntries.length > 0
        ? report(
            'audit-logs',
            'ok',
            null,
            auditEntries.length,
            auditOutcome.durationMs,
            auditFilter ?? undefined,
          )
        : report(
            'audit-logs',
            'empty',
            'no platform or API events for this instance in the window',
            0,
            auditOutcome.durationMs,
            auditFilter ?? undefined,
          ),
    );
  }

  if (instanceOutcome.ok && !instanceOutcome.value && auditOutcome?.ok && auditEntries.length === 0) {
    // The VM does not exist and left no trace in the window: there is nothing to explain.
    const searched = ref ? formatRef(ref) : `${project ?? projects.join(', ')} (all zones)`;
    throw new AppError(
      'not_found',
      `instance not found: ${spec.name} (searched ${searched}, and the audit logs of the window by name)`,
      { details: { searched: [searched] } },
    );
  }

  /** Why a source that needed the instance did not run: the lookup failed, or there is no such instance. */
  const withoutInstance = (): string =>
    !instanceOutcome.ok
      ? `the instance lookup failed (${instanceOutcome.reason})`
      : instance
        ? 'the instance id is unknown'
        : 'the instance was not found';

  // --- guest logs ---
  let guestEvents: GuestEvent<S>[] = [];
  if (!guestOutcome) {
    sources.push(report('guest-logs', 'skipped', withoutInstance(), 0, null));
  } else if (!guestOutcome.ok) {
    sources.push(
      report(
        'guest-logs',
        'failed',
        guestOutcome.reason,
        0,
        guestOutcome.durationMs,
        guestFilter ?? undefined,
      ),
    );
  } else {
    guestEvents = guestEventsOf(guestOutcome.value, classifier);
    if (guestOutcome.value.length >= MAX_GUEST_ENTRIES) {
      notes.push(
        `guest logs: stopped after ${MAX_GUEST_ENTRIES} matching lines; narrow the window with --since`,
      );
    }
    sources.push(
      guestEvents.length > 0
        ? report(
            'guest-logs',
            'ok',
            null,
            guestEvents.length,
            guestOutcome.durationMs,
            guestFilter ?? undefined,
          )
        : report(
            'guest-logs',
            'empty',
            guestOutcome.value.length > 0
              ? 'guest log lines matched keywords but none about a restart'
              : 'no restart-related guest log lines in the window (is the Ops Agent installed and shipping syslog?)',
            0,
            guestOutcome.durationMs,
            guestFilter ?? undefined,
          ),
    );
  }

  // --- serial console ---
  let serialEvents: GuestEvent<S>[] = [];
  if (!serialOutcome) {
    sources.push(report('serial-console', 'skipped', withoutInstance(), 0, null));
  } else if (!serialOutcome.ok) {
    const gone = isAppError(serialOutcome.error) && serialOutcome.error.code === 'not_found';
    sources.push(
      gone
        ? report('serial-console', 'skipped', 'the instance no longer exists', 0, serialOutcome.durationMs)
        : report('serial-console', 'failed', serialOutcome.reason, 0, serialOutcome.durationMs),
    );
  } else {
    const chunk = serialOutcome.value;
    const parsed = parseSerialOutput(chunk.contents, {
      classifier,
      lastStartTimestamp: instance?.lastStartTimestamp ?? null,
      referenceDate: deps.now(),
      startOffset: chunk.start,
    });
    serialEvents = parsed.events;
    for (const note of parsed.notes) notes.push(`serial console: ${note}`);
    const bytes = Buffer.byteLength(chunk.contents, 'utf8');
    sources.push(
      serialEvents.length > 0
        ? report(
            'serial-console',
            'ok',
            null,
            serialEvents.length,
            serialOutcome.durationMs,
            `${bytes} bytes from offset ${chunk.start}`,
          )
        : report(
            'serial-console',
            'empty',
            bytes === 0
              ? 'the serial console buffer is empty'
              : `no restart-related lines in the last ${bytes} bytes`,
            0,
            serialOutcome.durationMs,
          ),
    );
  }

  return {
    instance,
    instanceName: spec.name,
    project: instance?.project ?? ref?.project ?? project,
    zone: instance?.zone ?? ref?.zone ?? null,
    window,
    auditEntries,
    guestEvents,
    serialEvents,
    sources,
    notes,
  };
};
