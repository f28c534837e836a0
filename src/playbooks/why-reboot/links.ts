/**
 * Cloud Logging filters and Cloud Console links for /why-reboot. The filter text is shared by the live
 * collector (entries:list) and the Logs Explorer link, so what the user opens is exactly what was read.
 */

export interface AuditLogFilterInput {
  readonly project: string;
  /** Numeric instance id; null when the instance no longer exists (only the name can be matched then). */
  readonly instanceId: string | null;
  /** Null: by id only (then instanceId is required). */
  readonly instanceName: string | null;
  readonly from: Date | string;
  readonly to: Date | string;
}

export interface GuestLogFilterInput {
  readonly project: string;
  readonly instanceId: string;
  readonly from: Date | string;
  readonly to: Date | string;
  /** Log ids, unencoded (e.g. "syslog", "systemd_journald"). Default: syslog. */
  readonly logIds?: readonly string[];
}

export const AUDIT_LOG_IDS = [
  'cloudaudit.googleapis.com/system_event',
  'cloudaudit.googleapis.com/activity',
] as const;

/** A string literal for the Logging query language. */
const quote = (value: string): string => `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

const iso = (value: Date | string): string => {
  const date = typeof value === 'string' ? new Date(value) : value;
  if (Number.isNaN(date.getTime())) throw new RangeError(`not a timestamp: ${String(value)}`);
  return date.toISOString();
};

/** `projects/P/logs/<id>` with the id URL-encoded as Cloud Logging stores it (`/` -> `%2F`). */
export const logNameOf = (project: string, logId: string): string =>
  `projects/${project}/logs/${encodeURIComponent(logId)}`;

/**
 * The platform audit filter from FACTS.md: gce_instance, the instance id OR the resource name (a recreated
 * VM has a new id, so the name catches its previous incarnation), both audit logs, explicit timestamp bounds
 * (the Logging client otherwise adds a silent "last 24 h" bound).
 *
 * `protoPayload.resourceName:"/instances/web-1"` is a substring match (it also matches web-10); the analysis
 * keeps only entries whose resource name ends with exactly `/instances/<name>`.
 */
export const buildAuditLogFilter = (input: AuditLogFilterInput): string => {
  const byName =
    input.instanceName === null
      ? null
      : `protoPayload.resourceName:${quote(`/instances/${input.instanceName}`)}`;
  const byId = input.instanceId === null ? null : `resource.labels.instance_id=${quote(input.instanceId)}`;
  if (byName === null && byId === null) throw new RangeError('an audit filter needs an instance id or name');
  const target = byName === null ? byId : byId === null ? byName : `(${byId} OR ${byName})`;
  const logNames = AUDIT_LOG_IDS.map((id) => quote(logNameOf(input.project, id))).join(' OR ');
  return [
    'resource.type="gce_instance"',
    target,
    `logName=(${logNames})`,
    `timestamp>=${quote(iso(input.from))}`,
    `timestamp<=${quote(iso(input.to))}`,
  ].join(' AND ');
};

/** Guest logs shipped by the Ops Agent (syslog, optionally journald) for one instance id. */
export const buildGuestLogFilter = (input: GuestLogFilterInput): string => {
  const ids = input.logIds && input.logIds.length > 0 ? input.logIds : ['syslog'];
  const logNames = ids.map((id) => quote(logNameOf(input.project, id))).join(' OR ');
  return [
    'resource.type="gce_instance"',
    `resource.labels.instance_id=${quote(input.instanceId)}`,
    `logName=(${logNames})`,
    `timestamp>=${quote(iso(input.from))}`,
    `timestamp<=${quote(iso(input.to))}`,
  ].join(' AND ');
};

/** Logs Explorer with the exact query and time range. */
export const buildLogsExplorerUrl = (input: {
  readonly project: string;
  readonly query: string;
  readonly from: Date | string;
  readonly to: Date | string;
}): string => {
  const range = `${iso(input.from)}/${iso(input.to)}`;
  return (
    'https://console.cloud.google.com/logs/query' +
    `;query=${encodeURIComponent(input.query)}` +
    `;timeRange=${encodeURIComponent(range)}` +
    `?project=${encodeURIComponent(input.project)}`
  );
};

/** The instance's details page in the Cloud Console. */
export const buildInstanceConsoleUrl = (input: {
  readonly project: string;
  readonly zone: string;
  readonly name: string;
}): string =>
  `https://console.cloud.google.com/compute/instancesDetail/zones/${encodeURIComponent(input.zone)}` +
  `/instances/${encodeURIComponent(input.name)}?project=${encodeURIComponent(input.project)}`;

/** The serial console page of the instance (port 1). */
export const buildSerialConsoleUrl = (input: {
  readonly project: string;
  readonly zone: string;
  readonly name: string;
}): string =>
  `https://console.cloud.google.com/compute/instancesDetail/zones/${encodeURIComponent(input.zone)}` +
  `/instances/${encodeURIComponent(input.name)}/console?port=1&project=${encodeURIComponent(input.project)}`;
