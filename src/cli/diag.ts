import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type Config, loadConfig } from '../core/config.js';
import { parseDuration } from '../core/duration.js';
import { AppError, isAppError } from '../core/errors.js';
import type { MonitoringAdapter } from '../integrations/gce/monitoring.js';
import type { MonitoringPort, TimeSeries } from '../integrations/gce/monitoring-port.js';
import type { DiagReport, DiagSourceReport } from '../playbooks/diag/types.js';
import { buildWindow } from '../playbooks/why-reboot/request.js';
import { DEFAULT_SQLITE_BUSY_TIMEOUT_MS } from '../store/sqlite-file.js';
import type { AuditOutcome } from '../store/types.js';
import { recordCliRun } from './audit.js';
import { type CliCommand, type CliIo, EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './io.js';
import type { OfflineFlags } from './why-reboot.js';
import { WHY_REBOOT_OPTIONS } from './why-reboot-options.js';

/**
 * `opsbot diag <vm>`: host diagnostics (USE) of a VM, live (Application Default Credentials) or offline from
 * exported files. Exit 0 with a result, 1 when every evidence source failed, 2 for bad flags or input.
 * A live run loads only what its requests need before they leave (the config, the REST adapters, the
 * collector, the instance memory); the analysis, the renderers and the Monitoring client load while they are
 * in flight.
 */

export const DIAG_USAGE = `Usage: opsbot diag <vm> [options]

Host diagnostics of a Compute Engine VM, the USE way: CPU, memory, disks, network and filesystems, each
checked for utilization, saturation and errors, from Cloud Monitoring, guest logs and platform events.
<vm> is a name, zone/name, project/zone/name or an instance URL.

Live (Application Default Credentials, or a static token in GOOGLE_OAUTH_ACCESS_TOKEN[_FILE]):
  --project P        project of the VM (default: google.defaultProject of the config)
  --zone Z           zone of the VM (default: searched with aggregatedList)
  --since 1h|ISO     start of the window: a duration (30m, 6h, 2d) or a timestamp (default diag.defaultWindow, 1h)
  --until ISO        end of the window (default: now)
  --at ISO           look around a moment instead: from --around before it to --around after it
  --around 30m       with --at (default diag.around, 30m)
  --config FILE      config file (default: $OPSBOT_CONFIG)

Offline, from files (any of them; no cloud access):
  --metrics FILE     a projects.timeSeries.list response body {"timeSeries": [...]}, or a JSON array of
                     such bodies (repeatable)
  --logs FILE        Cloud Logging entries (gcloud logging read --format=json, entries:list, NDJSON)
  --syslog FILE      /var/log/syslog or /var/log/messages, or a \`journalctl -o json\` export (repeatable)
  --serial FILE      serial console output: text, or the serialPort API JSON
  --instance FILE    instances.get JSON (machine type, id)
  --year YYYY        year of the newest classic syslog line
  --tz ZONE          time zone of syslog timestamps without one (default UTC)
  Without --since/--at, the window is the span of the --metrics points.

Output:
  --json             print { instance, window, findings, use, events, sources, notes, links }
  --png FILE         write the chart (CPU with steal, memory, disk I/O, network; events marked) as PNG
  -h, --help         this help
`;

/** The why-reboot flags (the same evidence files, window and config), and the window by --at/--around, the chart, the metrics. */
const OPTIONS = {
  ...WHY_REBOOT_OPTIONS,
  at: { type: 'string' },
  around: { type: 'string' },
  png: { type: 'string' },
  metrics: { type: 'string', multiple: true },
} as const;

type Flags = OfflineFlags & {
  at?: string | undefined;
  around?: string | undefined;
  json: boolean;
  png?: string | undefined;
  metrics?: string[] | undefined;
  config?: string | undefined;
  help: boolean;
};

const usageError = (message: string): AppError => new AppError('bad_input', message);

/** --at T --around D -> since/until as ISO; checks the flags go together. */
const resolveWindowFlags = (flags: Flags, defaultAround: string): Flags => {
  if (flags.at === undefined) {
    if (flags.around !== undefined) throw usageError('--around goes with --at');
    return flags;
  }
  if (flags.since !== undefined || flags.until !== undefined)
    throw usageError('--at replaces --since/--until: give one or the other');
  const at = new Date(flags.at);
  if (!/^\d{4}-\d{2}-\d{2}/.test(flags.at) || Number.isNaN(at.getTime()))
    throw usageError(`--at "${flags.at}": expected an ISO timestamp like 2026-11-20T10:03:00Z`);
  const around = parseDuration(flags.around ?? defaultAround);
  if (around === null) throw usageError(`--around "${flags.around}": expected a duration such as 30m or 2h`);
  return {
    ...flags,
    since: new Date(at.getTime() - around).toISOString(),
    until: new Date(at.getTime() + around).toISOString(),
  };
};

const configOf = (flags: Flags, io: CliIo) => {
  const configPath = flags.config ?? io.env.OPSBOT_CONFIG ?? null;
  return loadConfig(io.env, configPath ? resolve(io.cwd, configPath) : null, { requireSlack: false });
};

const offlineReport = async (vm: string, flags: Flags, io: CliIo, config: Config): Promise<DiagReport> => {
  const [{ analyzeDiag }, { HOST_LINES }, { loadMetricsFile, toMetricSet }, { buildOfflineEvidence }] =
    await Promise.all([
      import('../playbooks/diag/analyze.js'),
      import('../playbooks/diag/host-lines.js'),
      import('../playbooks/diag/metrics.js'),
      import('./why-reboot.js'),
    ]);
  const series: TimeSeries[] = [];
  for (const file of flags.metrics ?? []) series.push(...(await loadMetricsFile(resolve(io.cwd, file))));
  let windowFlags: OfflineFlags = flags;
  if (flags.since === undefined && flags.until === undefined && series.length > 0) {
    // The window the metrics cover (a point at T covers the minute before it).
    const times = series.flatMap((s) => s.points.map((p) => Date.parse(p.at)));
    windowFlags = {
      ...flags,
      since: new Date(Math.min(...times) - 60_000).toISOString(),
      until: new Date(Math.max(...times)).toISOString(),
    };
  }
  const evidence = await buildOfflineEvidence(vm, windowFlags, io, HOST_LINES);
  const metricsFiles = (flags.metrics ?? []).join(', ');
  const metricsReport: DiagSourceReport = !flags.metrics?.length
    ? { name: 'metrics', status: 'skipped', reason: 'no --metrics file', items: 0, durationMs: null }
    : series.length === 0
      ? {
          name: 'metrics',
          status: 'empty',
          reason: 'no time series in the --metrics file(s)',
          items: 0,
          durationMs: null,
          detail: metricsFiles,
        }
      : {
          name: 'metrics',
          status: 'ok',
          reason: null,
          items: series.length,
          durationMs: null,
          detail: metricsFiles,
        };
  return analyzeDiag(
    { evidence, metrics: toMetricSet(series), metricsReport },
    { now: io.now(), thresholds: config.diag.thresholds, sustainMinutes: config.diag.sustainMinutes },
  );
};

const liveReport = async (vm: string, flags: Flags, io: CliIo, config: Config): Promise<DiagReport> => {
  const window = buildWindow(flags.since, flags.until, io.now(), config.diag.defaultWindow);
  const [
    { investigateDiag },
    { createGceAdapters },
    { parseMonitoringEndpoint },
    token,
    { openCliInstanceMemory },
  ] = await Promise.all([
    import('../playbooks/diag/investigate.js'),
    import('../integrations/gce/adapter.js'),
    import('../integrations/gce/monitoring-endpoint.js'),
    import('../integrations/gce/token.js'),
    import('./instance-memory.js'),
    // Loaded before any request leaves, so the memory answers before the lookup can (a read is a millisecond).
    import('../store/instance-file.js'),
  ]);
  const google = config.google;
  const adapters = createGceAdapters({
    logging: { apiEndpoint: google.endpoints.logging },
    compute: { apiEndpoint: google.endpoints.compute },
    ...token.gceAdapterAuth(config.secrets),
  });
  parseMonitoringEndpoint(google.endpoints.monitoring); // a bad endpoint is a usage error before any request
  const memory = openCliInstanceMemory({
    databaseUrl: config.secrets.DATABASE_URL,
    dataDir: resolve(io.cwd, config.store.dataDir),
    busyTimeoutMs: DEFAULT_SQLITE_BUSY_TIMEOUT_MS,
    now: io.now,
  });
  // Cloud Monitoring's client (google-gax, protobufjs, the credentials library: about half a second of CPU,
  // the heaviest load of the command) loads once the evidence requests are in flight, a module at a time so
  // their answers are handled between steps; the metric reads wait for it.
  const stop = new AbortController();
  const monitoring = (async (): Promise<MonitoringAdapter | null> => {
    await new Promise((resolve) => setImmediate(resolve)); // the requests leave first
    const { warmGoogleModules } = await import('../integrations/gce/warm.js');
    await warmGoogleModules({ signal: stop.signal });
    if (stop.signal.aborted) return null;
    const [{ createMonitoringAdapter }, { gceAuthOptions }] = await Promise.all([
      import('../integrations/gce/monitoring.js'),
      import('../integrations/gce/auth.js'),
    ]);
    const adapter = createMonitoringAdapter({
      apiEndpoint: google.endpoints.monitoring,
      ...gceAuthOptions(config.secrets),
    });
    adapter.warm();
    return adapter;
  })();
  monitoring.catch(() => undefined); // a load failure is the metric reads' failure
  const lazyMonitoring: MonitoringPort = {
    async listTimeSeries(query, signal) {
      const adapter = await monitoring;
      if (!adapter) throw new AppError('internal', 'Cloud Monitoring was not loaded');
      return adapter.listTimeSeries(query, signal);
    },
  };
  try {
    return await investigateDiag(
      { compute: adapters.compute, logging: adapters.logging, monitoring: lazyMonitoring, memory },
      {
        defaultProject: google.defaultProject,
        projects: google.projects,
        timeouts: google.timeouts,
        journaldLog: google.journaldLog,
        metricsTimeoutMs: config.diag.metricsTimeoutMs,
        thresholds: config.diag.thresholds,
        sustainMinutes: config.diag.sustainMinutes,
      },
      { vm, project: flags.project, zone: flags.zone, window },
      io.now,
    );
  } finally {
    stop.abort(); // no metric read left to serve: a load still under way stops at its next step
    const loaded = await monitoring.catch(() => null);
    await Promise.all([adapters.close(), loaded?.close(), memory.flush()]);
  }
};

const USAGE_CODES = new Set(['bad_input', 'not_found', 'ambiguous', 'config_invalid']);

export const runDiag: CliCommand = async (args, io) => {
  let flags: Flags;
  let positionals: string[];
  try {
    const parsed = parseArgs({ args: [...args], options: OPTIONS, allowPositionals: true, strict: true });
    flags = parsed.values as Flags;
    positionals = parsed.positionals;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    io.stderr.write(`opsbot diag: ${message}\n\n${DIAG_USAGE}`);
    return EXIT_USAGE;
  }
  if (flags.help) {
    io.stdout.write(DIAG_USAGE);
    return EXIT_OK;
  }
  if (positionals.length !== 1 || !positionals[0]) {
    io.stderr.write(
      `opsbot diag: ${positionals.length === 0 ? 'which VM? Give its name' : `one VM at a time (got ${positionals.join(', ')})`}\n\n${DIAG_USAGE}`,
    );
    return EXIT_USAGE;
  }
  const vm = positionals[0];
  const offline = Boolean(
    flags.metrics?.length || flags.logs?.length || flags.syslog?.length || flags.serial || flags.instance,
  );
  const startedAt = io.now();
  const audit = (outcome: AuditOutcome, detail: string | null) =>
    recordCliRun(io, {
      command: 'diag',
      args,
      target: vm,
      outcome,
      detail,
      startedAt,
      configPath: flags.config,
    });
  try {
    if (!offline && (flags.year || flags.tz))
      throw usageError('--year and --tz only apply to files (--syslog, --serial)');
    const config = configOf(flags, io);
    flags = resolveWindowFlags(flags, config.diag.around);
    const report = offline
      ? await offlineReport(vm, flags, io, config)
      : await liveReport(vm, flags, io, config);
    const [{ diagTitle, diagToJson, renderDiagText }, { noDiagEvidence }] = await Promise.all([
      import('../playbooks/diag/render-text.js'),
      import('../playbooks/diag/investigate.js'),
    ]);
    io.stdout.write(flags.json ? diagToJson(report) : renderDiagText(report));
    if (flags.png) {
      const { renderDiagPng } = await import('../playbooks/diag/render-chart.js');
      const png = await renderDiagPng(report.chart, diagTitle(report));
      await writeFile(resolve(io.cwd, flags.png), png);
      if (!flags.json) io.stdout.write(`Chart written to ${flags.png}\n`);
    }
    if (noDiagEvidence(report.sources)) {
      const tried = report.sources.filter((s) => s.status !== 'skipped');
      io.stderr.write(
        `opsbot diag: no evidence could be read (${tried.map((s) => `${s.name}: ${s.reason ?? 'failed'}`).join('; ')}); the result above is not meaningful.\n`,
      );
      await audit('failed', 'every evidence source failed');
      return EXIT_FAILURE;
    }
    await audit('ok', `${report.findings.length} finding(s)${offline ? ' (offline)' : ''}`);
    return EXIT_OK;
  } catch (err) {
    await audit(
      isAppError(err) && USAGE_CODES.has(err.code) ? 'bad_input' : 'failed',
      isAppError(err) ? err.code : 'internal',
    );
    if (isAppError(err)) {
      io.stderr.write(`opsbot diag: ${err.userMessage}\n`);
      return USAGE_CODES.has(err.code) ? EXIT_USAGE : EXIT_FAILURE;
    }
    const message = err instanceof Error ? err.message : String(err);
    io.stderr.write(`opsbot diag: unexpected error: ${message.split('\n')[0]}\n`);
    return EXIT_FAILURE;
  }
};
