/**
 * Live evidence for /why-reboot: the instance, platform audit logs, guest logs shipped to Cloud Logging, and
 * the serial console, each with its own timeout. A failed source is reported (and lowers confidence in the
 * analysis); it never fails the command.
 *
 * Critical path: when project and zone are known, the instance get, the audit-log query by resource name
 * (which needs no id) and the serial console start together; the audit query by instance id (entries such as
 * ScheduledVMs carry no resourceName, only the id) and the guest-log query wait for the id. So the whole
 * collection costs about max(serial, instance + max(audit, guest)) rather than their sum.
 * Without a zone, the name is resolved first (aggregatedList), then the three queries run together with the
 * FACTS.md audit filter (instance id OR resource name).
 */
import { AppError, isAppError } from '../../core/errors.js';
import type {
  ComputePort,
  InstanceInfo,
  InstanceRef,
  LogEntry,
  LoggingPort,
} from '../../integrations/gce/port.js';
import { type GuestLineClassifier, guestFilterRegexOf, RESTART_LINES } from './guest-log.js';
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

  // Queries that need only project (+ zone) + name start now when that is known; the rest wait for the id.
  // The audit log is read by name early (a deleted VM has no id) and completed by id once it is known:
  // entries without a resourceName (ScheduledVMs, the instance schedule's own record) carry only the id.
  let auditPromise: Promise<Outcome<LogEntry[]>> | null = null;
  let auditStartedAt = performance.now();
  let auditFilter: string | null = null;
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
  const startAudit = (p: string, instanceId: string | null): void => {
    auditFilter = buildAuditLogFilter({
      project: p,
      instanceId,
      instanceName: spec.name,
      from: window.from,
      to: window.to,
    });
    const filter = auditFilter;
    auditPromise = timed('audit-logs', deps.timeouts.auditLogsMs, (signal) => listAudit(p, filter, signal));
  };
  /**
   * The name-only query is running (started before the id was known): add the id query under the same
   * deadline, so the entries are those of the FACTS.md filter (id OR name), which the link then shows.
   */
  const completeAuditWithId = (p: string, instanceId: string): void => {
    const byName = auditPromise;
    if (!byName) {
      startAudit(p, instanceId);
      return;
    }
    const idFilter = buildAuditLogFilter({
      project: p,
      instanceId,
      instanceName: null,
      from: window.from,
      to: window.to,
    });
    auditFilter = buildAuditLogFilter({
      project: p,
      instanceId,
      instanceName: spec.name,
      from: window.from,
      to: window.to,
    });
    const remainingMs = Math.max(1, deps.timeouts.auditLogsMs - (performance.now() - auditStartedAt));
    const byId = timed('audit-logs', remainingMs, (signal) => listAudit(p, idFilter, signal));
    auditPromise = Promise.all([byName, byId]).then(([a, b]): Outcome<LogEntry[]> => {
      const durationMs = Math.round(performance.now() - auditStartedAt);
      if (!a.ok) return { ...a, durationMs };
      if (!b.ok) return { ...b, durationMs };
      return { ok: true, value: mergeEntries(a.value, b.value), durationMs };
    });
  };
  let serialPromise: Promise<Outcome<{ contents: string; start: number; next: number }>> | null = null;
  const startSerial = (r: InstanceRef): void => {
    serialPromise = timed('serial-console', deps.timeouts.serialMs, (signal) =>
      deps.compute.getSerialPortOutput(r, -SERIAL_TAIL_BYTES, signal),
    );
  };

  if (zoneKnown && project && spec.zone) {
    ref = { project, zone: spec.zone, name: spec.name };
    const r = ref;
    auditStartedAt = performance.now();
    startAudit(project, null);
    startSerial(r);
    instanceOutcome = await timed('instance', deps.timeouts.instanceMs, (signal) =>
      deps.compute.getInstance(r, signal),
    );
    if (instanceOutcome.ok) instance = instanceOutcome.value;
    if (instance?.id) completeAuditWithId(instance.project, instance.id);
  } else {
    instanceOutcome = await timed('instance', deps.timeouts.instanceMs, async (signal) => {
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
    if (!instanceOutcome.ok && isAppError(instanceOutcome.error)) {
      const code = instanceOutcome.error.code;
      if (code === 'ambiguous' || code === 'not_found' || code === 'bad_input') throw instanceOutcome.error;
    }
    if (instanceOutcome.ok && instanceOutcome.value) {
      instance = instanceOutcome.value;
      ref = { project: instance.project, zone: instance.zone, name: instance.name };
      startAudit(instance.project, instance.id || null);
      startSerial(ref);
    } else if (project) {
      startAudit(project, null);
    }
  }

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
  if (!instanceOutcome.ok && auditPromise) {
    notes.push(
      'audit logs: the instance lookup failed, so they were searched by name only; entries that carry only the instance id (an instance schedule firing, ScheduledVMs) may be missing',
    );
  }

  // --- guest logs: need the instance id ---
  const guestProject = instance?.project ?? null;
  const guestFilter =
    instance?.id && guestProject
      ? buildGuestQuery({
          project: guestProject,
          instanceId: instance.id,
          window,
          journaldLog: deps.journaldLog,
          regex: guestFilterRegexOf(classifier.anchors),
        })
      : null;
  const guestPromise: Promise<Outcome<LogEntry[]>> | null =
    guestFilter && guestProject
      ? timed('guest-logs', deps.timeouts.guestLogsMs, (signal) =>
          deps.logging.listEntries(
            {
              resourceNames: [`projects/${guestProject}`],
              filter: guestFilter,
              orderBy: 'timestamp asc',
              pageSize: 1000,
              maxEntries: MAX_GUEST_ENTRIES,
            },
            signal,
          ),
        )
      : null;

  if (instance) req.onInstance?.(instance);

  const [auditOutcome, guestOutcome, serialOutcome] = await Promise.all([
    auditPromise as Promise<Outcome<LogEntry[]>> | null,
    guestPromise,
    serialPromise as Promise<Outcome<{ contents: string; start: number; next: number }>> | null,
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
      id: instance?.id ?? null,
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
