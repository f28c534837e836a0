/**
 * The fleet view: one audit-log query per project (not one per VM), read page by page into the streaming
 * aggregator, next to one aggregated instance listing per project (labels for --label, upcoming maintenance).
 * A project that cannot be read is reported as a failed source; the others still answer.
 */
import { isAppError } from '../../core/errors.js';
import type { FleetInstance, FleetPort } from '../../integrations/gce/fleet-port.js';
import { createFleetAggregator, groupRestarts } from './aggregate.js';
import type {
  FleetCause,
  FleetFilters,
  FleetMaintenance,
  FleetReport,
  FleetRestart,
  FleetSource,
} from './types.js';

/** Activity methods that take a VM down or bring it back (system_event entries are all read). */
const ACTIVITY_METHODS = ['stop', 'start', 'reset', 'delete', 'insert', 'resume'].flatMap((m) => [
  `v1.compute.instances.${m}`,
  `beta.compute.instances.${m}`,
]);

/** The one Cloud Logging filter of a project's restarts in a window. */
export const fleetAuditFilter = (project: string, window: { from: Date; to: Date }): string => {
  const log = (id: string) => `"projects/${project}/logs/cloudaudit.googleapis.com%2F${id}"`;
  return [
    'resource.type="gce_instance"',
    `(logName=${log('system_event')} OR (logName=${log('activity')} AND protoPayload.methodName=(${ACTIVITY_METHODS.map((m) => `"${m}"`).join(' OR ')})))`,
    `timestamp>="${window.from.toISOString()}"`,
    `timestamp<="${window.to.toISOString()}"`,
  ].join(' AND ');
};

export interface FleetRequest {
  readonly projects: readonly string[];
  readonly window: { readonly from: Date; readonly to: Date };
  readonly labels?: Readonly<Record<string, string>>;
  readonly cause?: FleetCause | null;
  /** Restarts of one cause in one zone this close together form a group (default 5 min). */
  readonly groupGapMs?: number;
  readonly pageSize?: number;
}

const reasonOf = (err: unknown): string =>
  isAppError(err) ? err.userMessage : err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err);

export const matchesLabels = (
  labels: Readonly<Record<string, string>>,
  wanted: Readonly<Record<string, string>>,
): boolean => Object.entries(wanted).every(([k, v]) => labels[k] === v);

export const collectFleetReboots = async (
  port: FleetPort,
  request: FleetRequest,
  signal?: AbortSignal,
): Promise<FleetReport> => {
  const aggregator = createFleetAggregator();
  const sources: FleetSource[] = [];
  const instances: FleetInstance[] = [];
  const notes: string[] = [];
  const labels = request.labels ?? {};
  await Promise.all(
    request.projects.map(async (project) => {
      const audit = (async () => {
        let pages = 0;
        const before = aggregator.entries;
        let read = 0;
        try {
          for await (const page of port.pagesOfEntries(
            {
              project,
              filter: fleetAuditFilter(project, request.window),
              pageSize: request.pageSize ?? 1000,
            },
            signal,
          )) {
            pages++;
            read += page.length;
            aggregator.addPage(project, page);
          }
          sources.push({ project, what: 'audit-logs', status: 'ok', items: read, pages, reason: null });
        } catch (err) {
          sources.push({
            project,
            what: 'audit-logs',
            status: read > 0 ? 'partial' : 'failed',
            items: aggregator.entries - before,
            pages,
            reason: reasonOf(err),
          });
        }
      })();
      const listing = (async () => {
        try {
          const l = await port.listInstances(project, signal);
          instances.push(...l.instances);
          sources.push({
            project,
            what: 'instances',
            status: l.unreachable.length > 0 ? 'partial' : 'ok',
            items: l.instances.length,
            pages: 0,
            reason: l.unreachable.length > 0 ? `zones not answering: ${l.unreachable.join(', ')}` : null,
          });
        } catch (err) {
          sources.push({
            project,
            what: 'instances',
            status: 'failed',
            items: 0,
            pages: 0,
            reason: reasonOf(err),
          });
        }
      })();
      await Promise.all([audit, listing]);
    }),
  );

  const byVm = new Map(instances.map((i) => [`${i.project}/${i.zone}/${i.name}`, i]));
  const labelFilter = Object.keys(labels).length > 0;
  let unlabelled = 0;
  const restarts = aggregator.restarts().filter((r: FleetRestart) => {
    if (request.cause && r.cause !== request.cause) return false;
    if (!labelFilter) return true;
    const inst = byVm.get(`${r.project}/${r.zone}/${r.name}`);
    if (!inst) {
      unlabelled++;
      return false;
    }
    return matchesLabels(inst.labels, labels);
  });
  if (unlabelled > 0) {
    notes.push(
      `${unlabelled} restart(s) of VMs that no longer exist (or were not listed) are left out: their labels are unknown.`,
    );
  }
  for (const [method, n] of aggregator.otherPlatformEvents) {
    notes.push(`Other platform event ${method}: ${n} (not a restart opsbot knows; see /why-reboot).`);
  }
  const maintenance: FleetMaintenance[] = instances
    .filter((i) => i.upcomingMaintenance !== null && (!labelFilter || matchesLabels(i.labels, labels)))
    .map((i) => ({
      project: i.project,
      zone: i.zone,
      name: i.name,
      type: i.upcomingMaintenance?.type ?? null,
      windowStart: i.upcomingMaintenance?.windowStartTime ?? null,
      windowEnd: i.upcomingMaintenance?.windowEndTime ?? null,
      canReschedule: i.upcomingMaintenance?.canReschedule ?? null,
      canLiveMigrate: i.onHostMaintenance === null ? null : i.onHostMaintenance === 'MIGRATE',
      status: i.upcomingMaintenance?.maintenanceStatus ?? null,
    }))
    .sort((a, b) => (a.windowStart ?? '').localeCompare(b.windowStart ?? '') || a.name.localeCompare(b.name));
  sources.sort((a, b) => a.project.localeCompare(b.project) || a.what.localeCompare(b.what));
  return {
    window: { from: request.window.from.toISOString(), to: request.window.to.toISOString() },
    projects: [...request.projects],
    filters: { labels, cause: request.cause ?? null } satisfies FleetFilters,
    groups: groupRestarts(restarts, request.groupGapMs),
    restarts: restarts.length,
    maintenance,
    sources,
    notes,
  };
};

/** True when nothing could be read: every source failed. */
export const fleetBlind = (report: FleetReport): boolean =>
  report.sources.length > 0 && report.sources.every((s) => s.status === 'failed');
