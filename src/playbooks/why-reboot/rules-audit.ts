import type { LogEntry } from '../../integrations/gce/port.js';

/**
 * Platform audit entries (system_event + activity) normalised into signals the restart rules reason about.
 * One Compute operation is logged several times (first/last entries, v1/beta/alpha copies): one signal each.
 */

export type AuditLogKind = 'system_event' | 'activity' | 'other';

export interface AuditSignal {
  readonly at: Date; // first entry of the operation
  readonly endAt: Date; // last entry of the operation (same as at for one-shot system events)
  readonly log: AuditLogKind;
  readonly method: string; // without the v1./beta./alpha. prefix: "compute.instances.stop", "ScheduledVMs"
  readonly rawMethod: string;
  readonly principal: string | null; // null for the platform itself (system@google.com or absent)
  readonly operationId: string | null;
  readonly failed: boolean;
  readonly failure: string | null;
  readonly statusMessage: string | null;
  readonly instanceId: string | null;
  readonly resourceName: string | null;
  readonly scheduledOperation: string | null; // ScheduledVMs: "stop" | "start"
  readonly ref: string | null; // insertId
}

/** What a signal means for a restart. */
export type SignalRole =
  | { readonly kind: 'down'; readonly cause: DownCause }
  | { readonly kind: 'up'; readonly how: 'automatic-restart' | 'start' | 'resume' | 'insert' }
  | { readonly kind: 'reset' }
  | {
      readonly kind: 'info';
      readonly what: 'live-migration' | 'schedule' | 'suspend' | 'location' | 'other';
    };

export type DownCause =
  | 'host-error'
  | 'preemption'
  | 'guest-shutdown'
  | 'host-maintenance'
  | 'mig-recreate'
  | 'mig-halt'
  | 'system-reset'
  | 'stop'
  | 'delete';

const SYSTEM_PRINCIPALS = new Set(['system@google.com']);

const asRecord = (value: unknown): Record<string, unknown> | null =>
  value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : null;

const asString = (value: unknown): string | null =>
  typeof value === 'string' && value !== '' ? value : null;

export const logKindOf = (logName: string): AuditLogKind => {
  const decoded = logName.replace(/%2F/gi, '/');
  if (decoded.endsWith('cloudaudit.googleapis.com/system_event')) return 'system_event';
  if (decoded.endsWith('cloudaudit.googleapis.com/activity')) return 'activity';
  return 'other';
};

export const normalizeMethod = (method: string): string => method.replace(/^(v\d+|beta|alpha)\./, '');

export const isComputeSystemAgent = (principal: string | null): boolean =>
  principal !== null && /^service-\d+@compute-system\.iam\.gserviceaccount\.com$/.test(principal);

/** The MIG service agent (`<number>@cloudservices.gserviceaccount.com`). */
export const isManagedGroupAgent = (principal: string | null): boolean =>
  principal !== null && /^\d+@cloudservices\.gserviceaccount\.com$/.test(principal);

const failureOf = (entry: LogEntry, payload: Record<string, unknown>): string | null => {
  const status = asRecord(payload.status);
  const code = status && typeof status.code === 'number' ? status.code : 0;
  if (code !== 0) return asString(status?.message) ?? `error code ${code}`;
  if (entry.severity === 'ERROR' || entry.severity === 'CRITICAL') {
    return asString(status?.message) ?? 'the operation failed';
  }
  return null;
};

interface Draft {
  at: Date;
  endAt: Date;
  signal: Omit<AuditSignal, 'at' | 'endAt' | 'failed' | 'failure' | 'principal'>;
  principal: string | null;
  failed: boolean;
  failure: string | null;
}

/** Turns raw entries into one signal per operation, oldest first. Entries without a method are ignored. */
export const toAuditSignals = (entries: readonly LogEntry[]): AuditSignal[] => {
  const drafts = new Map<string, Draft>();
  for (const entry of entries) {
    const payload = asRecord(entry.protoPayload);
    if (!payload) continue;
    const rawMethod = asString(payload.methodName);
    const at = new Date(entry.timestamp);
    if (!rawMethod || Number.isNaN(at.getTime())) continue;
    const log = logKindOf(entry.logName ?? '');
    const method = normalizeMethod(rawMethod);
    const auth = asRecord(payload.authenticationInfo);
    const email = asString(auth?.principalEmail);
    const principal = email && !SYSTEM_PRINCIPALS.has(email) ? email : null;
    const operationId = asString(entry.operation?.id);
    const response = asRecord(payload.response);
    const failure = failureOf(entry, payload);
    const key = `${log}|${method}|${operationId ?? `${entry.insertId ?? ''}|${entry.timestamp}`}`;
    const existing = drafts.get(key);
    if (existing) {
      if (at < existing.at) existing.at = at;
      if (at > existing.endAt) existing.endAt = at;
      existing.principal ??= principal;
      if (failure) {
        existing.failed = true;
        existing.failure = failure;
      }
      continue;
    }
    drafts.set(key, {
      at,
      endAt: at,
      principal,
      failed: failure !== null,
      failure,
      signal: {
        log,
        method,
        rawMethod,
        operationId,
        statusMessage: asString(asRecord(payload.status)?.message),
        instanceId: asString(entry.resource?.labels?.instance_id),
        resourceName: asString(payload.resourceName),
        scheduledOperation: method === 'ScheduledVMs' ? asString(response?.operationType) : null,
        ref: asString(entry.insertId),
      },
    });
  }
  return [...drafts.values()]
    .map(
      (d): AuditSignal => ({
        ...d.signal,
        at: d.at,
        endAt: d.endAt,
        principal: d.principal,
        failed: d.failed,
        failure: d.failure,
      }),
    )
    .sort((a, b) => a.at.getTime() - b.at.getTime());
};

/** Known system_event methods that are not restarts but are worth a line in the timeline. */
const SYSTEM_INFO: Readonly<Record<string, 'live-migration' | 'location'>> = {
  'compute.instances.migrateOnHostMaintenance': 'live-migration',
  NotifyInstanceLocation: 'location',
};

const SYSTEM_DOWN: Readonly<Record<string, DownCause>> = {
  'compute.instances.hostError': 'host-error',
  'compute.instances.preempted': 'preemption',
  'compute.instances.guestTerminate': 'guest-shutdown',
  'compute.instances.terminateOnHostMaintenance': 'host-maintenance',
  'compute.instances.repair.recreateInstance': 'mig-recreate',
  'compute.instances.instanceManagerHaltForRestart': 'mig-halt',
  'compute.instances.reset': 'system-reset',
};

export const roleOf = (signal: AuditSignal): SignalRole => {
  const m = signal.method;
  if (signal.log !== 'activity') {
    const down = SYSTEM_DOWN[m];
    if (down) return { kind: 'down', cause: down };
    if (m === 'compute.instances.automaticRestart') return { kind: 'up', how: 'automatic-restart' };
    // An instance schedule: a start is the VM coming back (the start call itself may not be logged).
    if (m === 'ScheduledVMs') {
      return signal.scheduledOperation === 'start'
        ? { kind: 'up', how: 'start' }
        : { kind: 'info', what: 'schedule' };
    }
    const info = SYSTEM_INFO[m];
    if (info) return { kind: 'info', what: info };
    if (signal.log === 'system_event') return { kind: 'info', what: 'other' };
  }
  switch (m) {
    case 'compute.instances.stop':
      return { kind: 'down', cause: 'stop' };
    case 'compute.instances.delete':
      return { kind: 'down', cause: 'delete' };
    case 'compute.instances.reset':
      return { kind: 'reset' };
    case 'compute.instances.start':
    case 'compute.instances.startWithEncryptionKey':
      return { kind: 'up', how: 'start' };
    case 'compute.instances.resume':
      return { kind: 'up', how: 'resume' };
    case 'compute.instances.insert':
      return { kind: 'up', how: 'insert' };
    case 'compute.instances.suspend':
      return { kind: 'info', what: 'suspend' };
    default:
      return { kind: 'info', what: 'other' };
  }
};

/** A short human label of a signal for the timeline and evidence quotes. */
export const describeSignal = (signal: AuditSignal): string => {
  const who = signal.principal
    ? ` by ${signal.principal}`
    : signal.log === 'system_event'
      ? ' by system'
      : '';
  const scheduled = signal.scheduledOperation ? ` (${signal.scheduledOperation})` : '';
  const status = signal.statusMessage && !signal.failed ? `: "${signal.statusMessage}"` : '';
  const failed = signal.failed ? ` FAILED (${signal.failure ?? 'error'})` : '';
  const role = roleOf(signal);
  const other =
    role.kind === 'info' && role.what === 'other' && signal.log === 'system_event'
      ? 'other platform event '
      : '';
  return `${other}${signal.rawMethod}${scheduled}${who}${status}${failed}`;
};

/**
 * Keeps the entries about this VM: its resource name ends with exactly `/instances/<name>` (the Logging
 * `:` operator is a substring match, so web-10 also matches "web-1"), or its instance id is the VM's id
 * or the id of a previous incarnation seen under the same name.
 */
export const selectInstanceSignals = (
  signals: readonly AuditSignal[],
  name: string,
  instanceId: string | null,
): { kept: AuditSignal[]; otherInstances: Set<string> } => {
  const suffix = `/instances/${name}`;
  const ids = new Set<string>();
  if (instanceId) ids.add(instanceId);
  for (const s of signals) {
    if (s.resourceName?.endsWith(suffix) && s.instanceId) ids.add(s.instanceId);
  }
  const kept: AuditSignal[] = [];
  const otherInstances = new Set<string>();
  for (const s of signals) {
    const byName = s.resourceName?.endsWith(suffix) ?? false;
    const byId = s.instanceId !== null && ids.has(s.instanceId);
    if (byName || byId) kept.push(s);
    else otherInstances.add(s.resourceName?.split('/').pop() ?? `id ${s.instanceId ?? '?'}`);
  }
  return { kept, otherInstances };
};
