import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type Config, loadConfig } from '../core/config.js';
import { AppError, isAppError } from '../core/errors.js';
import { collectFleetReboots, fleetBlind } from '../playbooks/fleet/collect.js';
import { renderFleetText } from '../playbooks/fleet/render-text.js';
import { FLEET_CAUSES, type FleetCause, type FleetReport } from '../playbooks/fleet/types.js';
import { recordCliRun } from './audit.js';
import { type CliCommand, EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './io.js';
import { buildWindow } from './why-reboot.js';

/**
 * `opsbot reboots`: every VM restart in a window across projects, from one audit-log query per project,
 * grouped by cause, zone and time; upcoming maintenance. Exit 0 with an answer, 2 for bad flags or config,
 * 1 when nothing could be read.
 */
export const REBOOTS_USAGE = `Usage: opsbot reboots [options]

Every Compute Engine VM restart in a window, grouped by cause and time (restarts of one cause in one zone
within a few minutes of each other form one group), each with its time, actor and downtime; and the VMs
with upcoming maintenance. One audit-log query per project, never one per VM.

  --project P        a project to read (repeatable; default: google.projects and google.defaultProject)
  --since 24h|ISO    start of the window: a duration (30m, 12h, 7d) or a timestamp (default 24h)
  --until ISO        end of the window (default: now)
  --label k=v        only VMs with this label (repeatable: all must match)
  --cause C          only this cause: ${FLEET_CAUSES.join(', ')}
  --gap 5m           restarts this close together form a group (default 5m)
  --json             print the report as JSON
  --config FILE      config file (default: $OPSBOT_CONFIG)
  -h, --help         this help
`;

const OPTIONS = {
  project: { type: 'string', multiple: true },
  since: { type: 'string' },
  until: { type: 'string' },
  label: { type: 'string', multiple: true },
  cause: { type: 'string' },
  gap: { type: 'string' },
  json: { type: 'boolean', default: false },
  config: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

interface Flags {
  project?: string[];
  since?: string;
  until?: string;
  label?: string[];
  cause?: string;
  gap?: string;
  json: boolean;
  config?: string;
  help: boolean;
}

const usage = (message: string): AppError => new AppError('bad_input', message);

export const parseLabels = (values: readonly string[]): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const v of values) {
    const m = /^([a-z][a-z0-9_-]{0,62})=([a-z0-9_-]{0,63})$/.exec(v.trim());
    if (!m) throw usage(`--label "${v}": expected key=value with a Compute Engine label key and value`);
    out[m[1] as string] = m[2] as string;
  }
  return out;
};

export const parseCause = (value: string | undefined): FleetCause | null => {
  if (value === undefined) return null;
  if (!(FLEET_CAUSES as readonly string[]).includes(value)) {
    throw usage(`--cause "${value}": one of ${FLEET_CAUSES.join(', ')}`);
  }
  return value as FleetCause;
};

export const defaultProjects = (config: Pick<Config, 'google'>): string[] => [
  ...new Set([
    ...(config.google.defaultProject ? [config.google.defaultProject] : []),
    ...config.google.projects,
  ]),
];

export const runReboots: CliCommand = async (args, io) => {
  let flags: Flags;
  try {
    const parsed = parseArgs({ args: [...args], options: OPTIONS, allowPositionals: false, strict: true });
    flags = parsed.values as Flags;
  } catch (err) {
    io.stderr.write(
      `opsbot reboots: ${err instanceof Error ? err.message : String(err)}\n\n${REBOOTS_USAGE}`,
    );
    return EXIT_USAGE;
  }
  if (flags.help) {
    io.stdout.write(REBOOTS_USAGE);
    return EXIT_OK;
  }
  const startedAt = io.now();
  const audit = (outcome: 'ok' | 'failed' | 'bad_input', detail: string) =>
    recordCliRun(io, {
      command: 'reboots',
      args,
      target: null,
      outcome,
      detail,
      startedAt,
      configPath: flags.config,
    });
  let report: FleetReport;
  try {
    const configPath = flags.config ?? io.env.OPSBOT_CONFIG ?? null;
    const config = loadConfig(io.env, configPath ? resolve(io.cwd, configPath) : null, {
      requireSlack: false,
    });
    const window = buildWindow(flags.since, flags.until, io.now(), '24h');
    const labels = parseLabels(flags.label ?? []);
    const cause = parseCause(flags.cause);
    const { parseDuration } = await import('../core/duration.js');
    const gapMs = flags.gap === undefined ? 5 * 60_000 : parseDuration(flags.gap);
    if (gapMs === null) throw usage(`--gap "${flags.gap}": a duration such as 2m or 10m`);
    const projects = flags.project?.length ? [...new Set(flags.project)] : defaultProjects(config);
    if (projects.length === 0) {
      throw usage('which projects? Give --project P, or set google.projects in the config');
    }
    const { createFleetRestClient } = await import('../integrations/gce/fleet-rest.js');
    const { gceAdapterAuth } = await import('../integrations/gce/token.js');
    const port = createFleetRestClient({
      loggingEndpoint: config.google.endpoints.logging,
      computeEndpoint: config.google.endpoints.compute,
      timeoutMs: config.google.timeouts.auditLogsMs,
      ...gceAdapterAuth(config.secrets), // a static token without google-auth-library, else ADC on first call
    });
    report = await collectFleetReboots(port, { projects, window, labels, cause, groupGapMs: gapMs });
  } catch (err) {
    const bad = isAppError(err) && ['bad_input', 'config_invalid'].includes(err.code);
    await audit(bad ? 'bad_input' : 'failed', isAppError(err) ? err.code : 'internal');
    io.stderr.write(
      `opsbot reboots: ${isAppError(err) ? err.userMessage : `unexpected error: ${String(err instanceof Error ? err.message : err).split('\n')[0]}`}\n`,
    );
    return bad ? EXIT_USAGE : EXIT_FAILURE;
  }
  io.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : renderFleetText(report));
  if (fleetBlind(report)) {
    io.stderr.write('opsbot reboots: nothing could be read (every project failed); see Sources above.\n');
    await audit('failed', 'every source failed');
    return EXIT_FAILURE;
  }
  await audit('ok', `${report.restarts} restart(s) in ${report.groups.length} group(s)`);
  return EXIT_OK;
};
