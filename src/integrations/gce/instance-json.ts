import type { InstanceDisk, InstanceInfo, InstanceNic, UpcomingMaintenance } from './port.js';

/**
 * The one mapping from a Compute Engine instance (REST JSON, an SDK object, or a file written by
 * `gcloud compute instances describe --format=json`) to InstanceInfo. No SDK import: the offline loaders use it too.
 */

export const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
export const bool = (v: unknown): boolean | null => (typeof v === 'boolean' ? v : null);
export const num = (v: unknown): number | null => {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v !== '' && Number.isFinite(Number(v))) return Number(v);
  if (v && typeof v === 'object' && 'toString' in v) {
    const n = Number(String(v));
    return Number.isFinite(n) ? n : null;
  }
  return null;
};
export const idString = (v: unknown): string | null => {
  if (typeof v === 'string' && /^\d+$/.test(v)) return v;
  if (typeof v === 'number' && Number.isSafeInteger(v)) return String(v);
  if (typeof v === 'bigint') return v.toString();
  if (v && typeof v === 'object') {
    const s = String(v); // protobuf Long
    if (/^\d+$/.test(s)) return s;
  }
  return null;
};
export const lastSegment = (url: string | null): string | null =>
  url ? (url.split('/').pop() ?? null) || null : null;
export const obj = (v: unknown): Record<string, unknown> =>
  v && typeof v === 'object' ? (v as Record<string, unknown>) : {};

/** An instances.get / aggregatedList instance (SDK object or REST JSON) -> InstanceInfo. */
export const toInstanceInfo = (raw: unknown, fallback: { project: string; zone?: string }): InstanceInfo => {
  const i = obj(raw);
  const scheduling = obj(i.scheduling);
  const upcoming = obj(obj(i.resourceStatus).upcomingMaintenance);
  const hasUpcoming = Object.keys(upcoming).some((k) => !k.startsWith('_'));
  const selfLink = str(i.selfLink);
  const projectFromLink = selfLink ? /\/projects\/([^/]+)\//.exec(selfLink)?.[1] : undefined;
  const zone = lastSegment(str(i.zone)) ?? fallback.zone ?? '';
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj(i.labels))) if (typeof v === 'string') labels[k] = v;
  const disks: InstanceDisk[] = (Array.isArray(i.disks) ? i.disks : []).map((d) => {
    const disk = obj(d);
    return {
      deviceName: str(disk.deviceName),
      boot: disk.boot === true,
      source: str(disk.source),
      diskSizeGb: num(disk.diskSizeGb),
    };
  });
  const nics: InstanceNic[] = (Array.isArray(i.networkInterfaces) ? i.networkInterfaces : []).map((n) => {
    const nic = obj(n);
    const access = Array.isArray(nic.accessConfigs) ? nic.accessConfigs : [];
    return {
      network: str(nic.network),
      subnetwork: str(nic.subnetwork),
      hasExternalIp: access.some((a) => str(obj(a).natIP) !== null),
    };
  });
  const upcomingMaintenance: UpcomingMaintenance | null = hasUpcoming
    ? {
        type: str(upcoming.type),
        windowStartTime: str(upcoming.windowStartTime ?? upcoming.startTimeWindow),
        windowEndTime: str(upcoming.windowEndTime),
        canReschedule: bool(upcoming.canReschedule),
      }
    : null;
  return {
    project: projectFromLink ?? fallback.project,
    zone,
    name: str(i.name) ?? '',
    id: idString(i.id) ?? '',
    status: str(i.status) ?? 'UNKNOWN',
    machineType: lastSegment(str(i.machineType)),
    creationTimestamp: str(i.creationTimestamp),
    lastStartTimestamp: str(i.lastStartTimestamp),
    lastStopTimestamp: str(i.lastStopTimestamp),
    lastSuspendedTimestamp: str(i.lastSuspendedTimestamp),
    scheduling: {
      automaticRestart: bool(scheduling.automaticRestart),
      onHostMaintenance: str(scheduling.onHostMaintenance),
      preemptible: bool(scheduling.preemptible),
      provisioningModel: str(scheduling.provisioningModel),
      instanceTerminationAction: str(scheduling.instanceTerminationAction),
    },
    upcomingMaintenance,
    labels,
    disks,
    networkInterfaces: nics,
    selfLink,
  };
};
