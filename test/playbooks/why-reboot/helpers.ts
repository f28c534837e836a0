import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { InstanceInfo, LogEntry } from '../../../src/integrations/gce/port.js';
import { classifyGuestLine } from '../../../src/playbooks/why-reboot/guest-log.js';
import type { Evidence, GuestEvent, SourceReport } from '../../../src/playbooks/why-reboot/types.js';

export const fixturePath = (name: string): string =>
  fileURLToPath(new URL(`../../fixtures/why-reboot/${name}`, import.meta.url));

/** Entries of a corpus fixture (`{source, entries}` or an entries:list response). */
export const corpusEntries = (name: string): LogEntry[] =>
  (JSON.parse(readFileSync(fixturePath(name), 'utf8')) as { entries: LogEntry[] }).entries;

/** A real corpus entry moved to another time (same shape, same ids). */
export const at = (entry: LogEntry, timestamp: string): LogEntry => ({ ...entry, timestamp });

/** A real corpus entry with another caller. */
export const by = (entry: LogEntry, principalEmail: string): LogEntry => ({
  ...entry,
  protoPayload: { ...entry.protoPayload, authenticationInfo: { principalEmail } },
});

/** Guest log lines (as shipped to Cloud Logging) classified by the real classifier; unclassified lines vanish. */
export const guestLines = (
  lines: readonly (readonly [string, string])[],
  source: GuestEvent['source'] = 'guest-logs',
  timeInferred = false,
): GuestEvent[] =>
  lines.flatMap(([ts, text], i) => {
    const signal = classifyGuestLine(text);
    return signal ? [{ at: new Date(ts), signal, text, source, ref: `test:${i + 1}`, timeInferred }] : [];
  });

export const ok = (name: SourceReport['name'], items = 1): SourceReport => ({
  name,
  status: 'ok',
  reason: null,
  items,
  durationMs: 10,
});

export const failed = (name: SourceReport['name'], reason: string): SourceReport => ({
  name,
  status: 'failed',
  reason,
  items: 0,
  durationMs: 20_000,
});

export const instanceInfo = (over: Partial<InstanceInfo> = {}): InstanceInfo => ({
  project: 'project-1',
  zone: 'us-central1-a',
  name: 'instance-1',
  id: '2162224123123123213',
  status: 'RUNNING',
  machineType: 'e2-medium',
  creationTimestamp: '2019-01-01T00:00:00.000-08:00',
  lastStartTimestamp: null,
  lastStopTimestamp: null,
  lastSuspendedTimestamp: null,
  scheduling: {
    automaticRestart: true,
    onHostMaintenance: 'MIGRATE',
    preemptible: false,
    provisioningModel: 'STANDARD',
    instanceTerminationAction: null,
  },
  upcomingMaintenance: null,
  labels: {},
  disks: [],
  networkInterfaces: [],
  selfLink: null,
  ...over,
});

/** Evidence around `center` (a 7-day window ending a day after it), audit + guest logs read fine by default. */
export const evidence = (center: string, over: Partial<Evidence> = {}): Evidence => {
  const c = new Date(center).getTime();
  return {
    instance: null,
    instanceName: 'instance-1',
    project: 'project-1',
    zone: 'us-central1-a',
    window: { from: new Date(c - 6 * 86_400_000), to: new Date(c + 86_400_000) },
    auditEntries: [],
    guestEvents: [],
    serialEvents: [],
    sources: [ok('audit-logs'), ok('guest-logs')],
    notes: [],
    ...over,
  };
};
