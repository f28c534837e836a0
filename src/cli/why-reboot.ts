import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { AppError, isAppError } from '../core/errors.js';
import type { InstanceInfo, LogEntry } from '../integrations/gce/port.js';
import { analyze } from '../playbooks/why-reboot/analyze.js';
import type { GuestLineClassifier } from '../playbooks/why-reboot/guest-log.js';
import { renderWhyRebootText } from '../playbooks/why-reboot/render-text.js';
import { buildWindow, parseVmReference } from '../playbooks/why-reboot/request.js';
import type {
  Evidence,
  GuestEvent,
  GuestSignal,
  SourceReport,
  WhyRebootReport,
} from '../playbooks/why-reboot/types.js';
import type { AuditOutcome } from '../store/types.js';
import { type CliAudit, startCliAudit } from './audit.js';
import { type CliCommand, type CliIo, EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './io.js';
import { WHY_REBOOT_OPTIONS } from './why-reboot-options.js';

export { buildWindow } from '../playbooks/why-reboot/request.js';

/**
 * `opsbot why-reboot <vm>`: live (Application Default Credentials) or offline from exported files.
 * Exit 0 with a verdict, 2 for bad flags or unreadable/malformed input, 1 for anything unexpected.
 */

export const WHY_REBOOT_USAGE = `Usage: opsbot why-reboot <vm> [options]

Explain why a Compute Engine VM restarted: platform audit logs, guest logs and the serial console.
<vm> is a name, zone/name, project/zone/name or an instance URL.

Live (Application Default Credentials, or a static token in GOOGLE_OAUTH_ACCESS_TOKEN[_FILE]):
  --project P        project of the VM (default: google.defaultProject of the config)
  --zone Z           zone of the VM (default: searched with aggregatedList)
  --since 7d|ISO     start of the window: a duration (90s, 30m, 12h, 7d, 2w) or a timestamp (default 7d)
  --until ISO        end of the window (default: now)
  --config FILE      config file (default: $OPSBOT_CONFIG)

Offline, from files (any of them; no cloud access):
  --logs FILE        Cloud Logging entries: gcloud logging read --format=json, an entries:list
                     response, or NDJSON (.gz ok); audit and syslog/journald entries are both used
  --syslog FILE      /var/log/syslog or /var/log/messages, or a \`journalctl -o json\` export
                     (images without rsyslog), plain or .gz (repeatable)
  --serial FILE      serial console output: text, or the serialPort API JSON
  --instance FILE    instances.get JSON (gcloud compute instances describe --format=json)
  --year YYYY        year of the newest classic syslog line (they carry none)
  --tz ZONE          time zone of syslog timestamps without one (default UTC)
  Without --since/--until, the window is the 7 days before the newest evidence in the files.

Output:
  --json             print { instance, window, restarts, verdict, sources, timeline, notes, links }
  -h, --help         this help
`;

export { WHY_REBOOT_OPTIONS } from './why-reboot-options.js';

type Flags = {
  project?: string | undefined;
  zone?: string | undefined;
  since?: string | undefined;
  until?: string | undefined;
  json: boolean;
  logs?: string[] | undefined;
  syslog?: string[] | undefined;
  serial?: string | undefined;
  instance?: string | undefined;
  year?: string | undefined;
  tz?: string | undefined;
  config?: string | undefined;
  help: boolean;
};

const DAY_MS = 86_400_000;

const usageError = (message: string): AppError => new AppError('bad_input', message);

const source = (
  name: SourceReport['name'],
  status: SourceReport['status'],
  items: number,
  reason: string | null,
  detail?: string,
): SourceReport => ({ name, status, items, reason, durationMs: null, ...(detail ? { detail } : {}) });

const fileStat = async (path: string): Promise<Date | null> => {
  try {
    return (await stat(path)).mtime;
  } catch {
    return null;
  }
};

/** The flags that describe offline evidence (shared with `opsbot diag`). */
export type OfflineFlags = Pick<
  Flags,
  'project' | 'zone' | 'since' | 'until' | 'logs' | 'syslog' | 'serial' | 'instance' | 'year' | 'tz'
>;

/**
 * Evidence from files only. `classifier` picks the guest lines that matter (default: restart lines; /diag
 * passes its host-health superset), so both commands read the same files the same way.
 */
export const buildOfflineEvidence = async <S extends string = GuestSignal>(
  vm: string,
  flags: OfflineFlags,
  io: CliIo,
  classifier?: GuestLineClassifier<S>,
): Promise<Evidence<S>> => {
  const spec = parseVmReference(vm);
  // The file readers load only for an offline run.
  const [{ isJournalExport, scanJournalFile }, files, { parseSerialOutput }, { scanSyslogFile }] =
    await Promise.all([
      import('../playbooks/why-reboot/journal.js'),
      import('../playbooks/why-reboot/load-files.js'),
      import('../playbooks/why-reboot/serial.js'),
      import('../playbooks/why-reboot/syslog-file.js'),
    ]);
  const { loadInstanceFile, loadLogEntriesFile, loadSerialFile } = files;
  // Flags first: a typo in --since should not wait for (or be hidden by) file errors.
  const explicitWindow = flags.since !== undefined || flags.until !== undefined;
  const preWindow = explicitWindow ? buildWindow(flags.since, flags.until, io.now()) : undefined;
  const path = (p: string): string => resolve(io.cwd, p);
  const timeZone = flags.tz ?? 'UTC';
  const notes: string[] = [];
  const sources: SourceReport[] = [];

  let instance: InstanceInfo | null = null;
  if (flags.instance) {
    instance = await loadInstanceFile(path(flags.instance), { name: spec.name });
    sources.push(source('instance', 'ok', 1, null, flags.instance));
  } else {
    sources.push(source('instance', 'skipped', 0, 'no --instance file'));
  }

  const auditEntries: LogEntry[] = [];
  const guestEvents: GuestEvent<S>[] = [];
  let guestEntries = 0;
  for (const file of flags.logs ?? []) {
    const loaded = await loadLogEntriesFile(path(file), {
      instanceId: instance?.id ?? null,
      ...(classifier ? { classifier } : {}),
    });
    auditEntries.push(...loaded.auditEntries);
    guestEvents.push(...loaded.guestEvents);
    guestEntries += loaded.guestEntries;
    notes.push(...loaded.notes);
  }
  const logsDetail = (flags.logs ?? []).join(', ');
  if (!flags.logs?.length) {
    sources.push(source('audit-logs', 'skipped', 0, 'no --logs file'));
    sources.push(source('guest-logs', 'skipped', 0, 'no --logs file'));
  } else {
    sources.push(
      auditEntries.length > 0
        ? source('audit-logs', 'ok', auditEntries.length, null, logsDetail)
        : source('audit-logs', 'empty', 0, 'no audit entries in the --logs file(s)', logsDetail),
    );
    sources.push(
      guestEntries > 0
        ? source('guest-logs', 'ok', guestEvents.length, null, logsDetail)
        : source('guest-logs', 'skipped', 0, 'no syslog/journald entries in the --logs file(s)', logsDetail),
    );
  }

  // Classic syslog lines carry no year: take it from --year, else from the platform evidence, else the file.
  const anchors = [
    ...auditEntries.map((e) => Date.parse(e.timestamp)),
    ...guestEvents.map((e) => e.at.getTime()),
    ...[instance?.lastStartTimestamp, instance?.lastStopTimestamp].map((v) =>
      v ? Date.parse(v) : Number.NaN,
    ),
  ].filter((n) => Number.isFinite(n));
  const newestPlatform = anchors.length > 0 ? Math.max(...anchors) : null;
  let yearReference: Date | null = null;
  if (flags.year) {
    if (!/^\d{4}$/.test(flags.year)) throw usageError(`--year "${flags.year}": expected a year like 2026`);
    yearReference = new Date(Date.UTC(Number(flags.year), 11, 31, 23, 59, 59));
  }
  const referenceFor = async (file: string): Promise<Date> => {
    if (yearReference) return yearReference;
    const mtime = (await fileStat(file)) ?? io.now();
    if (newestPlatform === null) return mtime;
    return new Date(Math.min(mtime.getTime(), newestPlatform + 180 * DAY_MS));
  };

  const syslogEvents: GuestEvent<S>[] = [];
  let syslogLines = 0;
  for (const file of flags.syslog ?? []) {
    const abs = path(file);
    // Images without rsyslog (Debian 12+) have only the journal: `journalctl -o json` exports read here too.
    const scan = (await isJournalExport(abs))
      ? scanJournalFile<S>(abs, {
          ...(classifier ? { classifier } : {}),
          ...(preWindow ? { window: preWindow } : {}),
        })
      : scanSyslogFile<S>(abs, {
          referenceDate: await referenceFor(abs),
          timeZone,
          ...(classifier ? { classifier } : {}),
          ...(preWindow ? { window: preWindow } : {}),
        });
    const result = await scan.catch((err: unknown) => {
      if (isAppError(err)) throw new AppError('bad_input', `${file}: ${err.userMessage}`, { cause: err });
      throw err;
    });
    syslogEvents.push(...result.events);
    syslogLines += result.linesScanned;
    notes.push(...result.notes);
  }
  if (flags.syslog?.length) {
    sources.push(
      source(
        'syslog-file',
        syslogLines > 0 ? 'ok' : 'empty',
        syslogEvents.length,
        syslogLines > 0 ? null : 'no lines in the window',
        flags.syslog.join(', '),
      ),
    );
  } else {
    sources.push(source('syslog-file', 'skipped', 0, 'no --syslog file'));
  }

  let serialEvents: GuestEvent<S>[] = [];
  if (flags.serial) {
    const abs = path(flags.serial);
    const serial = await loadSerialFile(abs);
    const parsed = parseSerialOutput<S>(serial.contents, {
      ...(classifier ? { classifier } : {}),
      lastStartTimestamp: instance?.lastStartTimestamp ?? null,
      referenceDate: await referenceFor(abs),
      timeZone,
      startOffset: serial.start,
    });
    serialEvents = parsed.events;
    notes.push(...parsed.notes);
    sources.push(
      source(
        'serial-console',
        serial.contents.trim() === '' ? 'empty' : 'ok',
        parsed.events.length,
        serial.contents.trim() === '' ? 'the serial output is empty' : null,
        flags.serial,
      ),
    );
  } else {
    sources.push(source('serial-console', 'skipped', 0, 'no --serial file'));
  }

  let window = preWindow;
  if (!window) {
    const times = [
      ...anchors,
      ...syslogEvents.map((e) => e.at.getTime()),
      ...serialEvents.map((e) => e.at.getTime()),
    ];
    const newest = times.length > 0 ? Math.max(...times) : io.now().getTime();
    const end = new Date(newest + 60_000);
    window = buildWindow(undefined, undefined, end);
    notes.push(
      `Offline: the window is the 7 days before the newest evidence in the files (${end.toISOString()}); use --since/--until to change it.`,
    );
  }

  // Project and zone: flags, the instance, the spec, or the audit entries about this VM.
  const fromEntries = auditEntries.find((e) => {
    const rn = e.protoPayload?.resourceName;
    return typeof rn === 'string' && rn.endsWith(`/instances/${spec.name}`);
  });
  const project =
    flags.project ?? instance?.project ?? spec.project ?? fromEntries?.resource?.labels?.project_id ?? null;
  const zone = flags.zone ?? instance?.zone ?? spec.zone ?? fromEntries?.resource?.labels?.zone ?? null;

  return {
    instance,
    instanceName: spec.name,
    project,
    zone,
    window,
    auditEntries,
    guestEvents: [...guestEvents, ...syslogEvents],
    serialEvents,
    sources,
    notes,
  };
};

/**
 * The live report: the same investigateWhyReboot as the Slack command, over the REST adapters. The requests
 * leave first; the audit store starts opening once they are all in flight, so its loading overlaps the wait.
 */
const buildLiveReport = async (
  vm: string,
  flags: Flags,
  io: CliIo,
  startAudit: () => CliAudit,
): Promise<WhyRebootReport> => {
  // The config (zod, yaml) loads only for a live run: an offline one reads files and needs none of it.
  const { loadConfig } = await import('../core/config.js');
  const configPath = flags.config ?? io.env.OPSBOT_CONFIG ?? null;
  const config = loadConfig(io.env, configPath ? resolve(io.cwd, configPath) : null, { requireSlack: false });
  const google = config.google;
  const window = buildWindow(flags.since, flags.until, io.now(), google.defaultWindow);
  const spec = parseVmReference(vm, { project: flags.project, zone: flags.zone });
  const [
    { investigateWhyReboot },
    { createGceAdapters },
    { gceAdapterAuth },
    { openCliInstanceMemory },
    sqlite,
  ] = await Promise.all([
    import('../playbooks/why-reboot/investigate.js'),
    import('../integrations/gce/adapter.js'),
    import('../integrations/gce/token.js'),
    import('./instance-memory.js'),
    import('../store/sqlite-file.js'),
    // Loaded before any request leaves, so the memory answers before the lookup can (a read is a millisecond).
    import('../store/instance-file.js'),
  ]);
  const adapters = createGceAdapters({
    logging: { apiEndpoint: google.endpoints.logging },
    compute: { apiEndpoint: google.endpoints.compute },
    ...gceAdapterAuth(config.secrets), // GOOGLE_OAUTH_ACCESS_TOKEN(_FILE), else ADC
  });
  // The instance ids opsbot has seen, in the audit log's store: a known VM's id-keyed queries start at once.
  const memory = openCliInstanceMemory({
    databaseUrl: config.secrets.DATABASE_URL,
    dataDir: resolve(io.cwd, config.store.dataDir),
    busyTimeoutMs: sqlite.DEFAULT_SQLITE_BUSY_TIMEOUT_MS,
    now: io.now,
  });
  try {
    // The audit store opens once the instance is known and every query has left: loading it is CPU work
    // that would otherwise delay handling the instance answer, which the id-based queries wait for.
    return await investigateWhyReboot(
      { compute: adapters.compute, logging: adapters.logging, memory },
      google,
      { vm: spec.name, project: spec.project, zone: spec.zone, window, onInstance: () => void startAudit() },
      io.now,
    );
  } finally {
    await Promise.all([adapters.close(), memory.flush()]);
  }
};

export const reportToJson = (report: WhyRebootReport): string =>
  `${JSON.stringify(
    {
      instance: report.instance,
      window: report.window,
      restarts: report.restarts,
      verdict: report.verdict,
      sources: report.sources,
      timeline: report.timeline,
      notes: report.notes,
      links: report.links,
    },
    null,
    2,
  )}\n`;

const USAGE_CODES = new Set(['bad_input', 'not_found', 'ambiguous', 'config_invalid']);

export const runWhyReboot: CliCommand = async (args, io) => {
  let flags: Flags;
  let positionals: string[];
  try {
    const parsed = parseArgs({
      args: [...args],
      options: WHY_REBOOT_OPTIONS,
      allowPositionals: true,
      strict: true,
    });
    flags = parsed.values as Flags;
    positionals = parsed.positionals;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    io.stderr.write(`opsbot why-reboot: ${message}\n\n${WHY_REBOOT_USAGE}`);
    return EXIT_USAGE;
  }
  if (flags.help) {
    io.stdout.write(WHY_REBOOT_USAGE);
    return EXIT_OK;
  }
  if (positionals.length !== 1 || !positionals[0]) {
    io.stderr.write(
      `opsbot why-reboot: ${positionals.length === 0 ? 'which VM? Give its name' : `one VM at a time (got ${positionals.join(', ')})`}\n\n${WHY_REBOOT_USAGE}`,
    );
    return EXIT_USAGE;
  }
  const vm = positionals[0];
  const offline = Boolean(flags.logs?.length || flags.syslog?.length || flags.serial || flags.instance);
  const startedAt = io.now();
  let auditor: CliAudit | null = null;
  const startAudit = (): CliAudit => {
    auditor ??= startCliAudit(io, flags.config);
    return auditor;
  };
  const audit = (outcome: AuditOutcome, detail: string | null) =>
    startAudit().record({ command: 'why-reboot', args, target: vm, outcome, detail, startedAt });
  try {
    if (!offline && (flags.year || flags.tz)) {
      throw usageError('--year and --tz only apply to files (--syslog, --serial)');
    }
    let report: WhyRebootReport;
    if (offline) {
      startAudit();
      report = analyze(await buildOfflineEvidence(vm, flags, io), { now: io.now() });
    } else {
      report = await buildLiveReport(vm, flags, io, startAudit);
    }
    io.stdout.write(flags.json ? reportToJson(report) : renderWhyRebootText(report));
    // A verdict built from nothing must not look like an answer to a script: every source failed -> exit 1.
    const tried = report.sources.filter((s) => s.status !== 'skipped');
    if (tried.length > 0 && tried.every((s) => s.status === 'failed')) {
      io.stderr.write(
        `opsbot why-reboot: no evidence could be read (${tried.map((s) => `${s.name}: ${s.reason ?? 'failed'}`).join('; ')}); the verdict above is not meaningful.\n`,
      );
      await audit('failed', 'every evidence source failed');
      return EXIT_FAILURE;
    }
    await audit('ok', `verdict ${report.verdict.cause}${offline ? ' (offline)' : ''}`);
    return EXIT_OK;
  } catch (err) {
    await audit(
      isAppError(err) && USAGE_CODES.has(err.code) ? 'bad_input' : 'failed',
      isAppError(err) ? err.code : 'internal',
    );
    if (isAppError(err)) {
      io.stderr.write(`opsbot why-reboot: ${err.userMessage}\n`);
      return USAGE_CODES.has(err.code) ? EXIT_USAGE : EXIT_FAILURE;
    }
    const message = err instanceof Error ? err.message : String(err);
    io.stderr.write(`opsbot why-reboot: unexpected error: ${message.split('\n')[0]}\n`);
    return EXIT_FAILURE;
  }
};
