/**
 * A realistic host-error incident seeded into the GCE fakes, for end-to-end /why-reboot tests (Slack and CLI).
 *
 * The VM's host failed at 23:31:40.611 UTC on the most recent day that is at least an hour before `now` (so
 * a default 7-day window ending now contains it), Google restarted it automatically ~3 min later, and it
 * booted. Audit entries are the real captures (iap-desktop HostErrorEvent / AutomaticRestartEvent /
 * MigrateOnHostMaintenanceEvent, shape unchanged) moved to this VM and time; guest logs are what the Ops
 * Agent ships to `logs/syslog` (`jsonPayload.message` holding the whole syslog line), with the traps of
 * real GCE images: logrotate's rsyslogd HUP and "syslogd restart", the Shutdown Scripts and Power Button
 * lines printed at every boot. Decoys: a web-10 host error (the resourceName filter is a substring match) and
 * another VM's shutdown lines in the same project.
 */
import type { FakeCompute } from './gce-compute.js';
import { loadIapDesktopEntries } from './gce-corpus.js';
import type { FakeLogEntry, FakeLogging } from './gce-logging.js';

export interface HostErrorIncident {
  readonly project: string;
  readonly zone: string;
  readonly name: string;
  readonly id: string;
  readonly hostErrorAt: Date;
  readonly autoRestartAt: Date;
  /** Kernel boot of the new incarnation. */
  readonly bootAt: Date;
  readonly lastStartTimestamp: string;
}

const DAY = 86_400_000;
const HOST_ERROR_TIME_OF_DAY = (23 * 3600 + 31 * 60 + 40) * 1000 + 611; // 23:31:40.611 UTC

/** The most recent 23:31:40.611 UTC at least an hour before `now`. */
export const incidentHostErrorAt = (now: Date): Date => {
  const latest = now.getTime() - 3600_000;
  let day = Math.floor(latest / DAY) * DAY;
  if (day + HOST_ERROR_TIME_OF_DAY > latest) day -= DAY;
  return new Date(day + HOST_ERROR_TIME_OF_DAY);
};

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** `May  3 23:31:52`: a classic syslog timestamp (no year, no zone; the VM runs in UTC). */
const classic = (d: Date): string =>
  `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${d.toISOString().slice(11, 19)}`;

/** RFC 3339 with a -07:00 offset, as Compute Engine prints lastStartTimestamp. */
const pacific = (d: Date): string => {
  const shifted = new Date(d.getTime() - 7 * 3600_000);
  return `${shifted.toISOString().slice(0, 23)}-07:00`;
};

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/** A real corpus audit entry moved to another VM and time (same shape and fields otherwise). */
const moveEntry = (
  event: string,
  target: { project: string; zone: string; name: string; id: string },
  at: Date,
  insertId: string,
): FakeLogEntry => {
  const [raw] = loadIapDesktopEntries(event);
  if (!raw) throw new Error(`corpus event ${event} missing`);
  const e = clone(raw) as unknown as Record<string, unknown> & {
    protoPayload: Record<string, unknown>;
    resource: { labels: Record<string, string> };
    logName: string;
  };
  e.protoPayload.resourceName = `projects/${target.project}/zones/${target.zone}/instances/${target.name}`;
  e.resource.labels = { project_id: target.project, instance_id: target.id, zone: target.zone };
  e.logName = e.logName.replace(/^projects\/[^/]+\//, `projects/${target.project}/`);
  e.timestamp = at.toISOString();
  e.receiveTimestamp = new Date(at.getTime() + 1117).toISOString();
  e.insertId = insertId;
  return e as unknown as FakeLogEntry;
};

export const activity = (
  target: { project: string; zone: string; name: string; id: string },
  method: string,
  principal: string,
  at: Date,
  insertId: string,
): FakeLogEntry => ({
  insertId,
  logName: `projects/${target.project}/logs/cloudaudit.googleapis.com%2Factivity`,
  protoPayload: {
    '@type': 'type.googleapis.com/google.cloud.audit.AuditLog',
    authenticationInfo: { principalEmail: principal },
    requestMetadata: {
      callerIp: '203.0.113.24',
      callerSuppliedUserAgent:
        'google-cloud-sdk gcloud/480.0.0 command/gcloud.compute.instances.add-metadata',
    },
    serviceName: 'compute.googleapis.com',
    methodName: method,
    resourceName: `projects/${target.project}/zones/${target.zone}/instances/${target.name}`,
    request: { '@type': `type.googleapis.com/compute.instances.${method.split('.').pop()}` },
  },
  receiveTimestamp: new Date(at.getTime() + 850).toISOString(),
  resource: {
    type: 'gce_instance',
    labels: { project_id: target.project, instance_id: target.id, zone: target.zone },
  },
  severity: 'NOTICE',
  timestamp: at.toISOString(),
});

/** Syslog lines relative to the host error (seconds), as on a Debian 11 GCE image. */
const GUEST_LINES: readonly (readonly [number, string])[] = [
  // the day's logrotate (traps: a HUP and a "restart" that are not reboots)
  [-84_000, 'systemd[1]: Starting Rotate log files...'],
  [
    -83_999,
    'rsyslogd: [origin software="rsyslogd" swVersion="8.2102.0" x-pid="489" x-info="https://www.rsyslog.com"] rsyslogd was HUPed',
  ],
  [-83_999, 'syslogd 1.5.0: restart.'],
  [-83_998, 'systemd[1]: logrotate.service: Succeeded.'],
  [-3_000, 'CRON[16160]: (root) CMD (   cd / && run-parts --report /etc/cron.hourly)'],
  [-42, 'google_osconfig_agent[640]: OSConfig Agent Info: Beginning ReportInventory'],
  [-38, 'google_osconfig_agent[640]: OSConfig Agent Info: Finished task "ReportInventory".'],
  // the host failed: the log just stops (no shutdown lines), then the new boot
  [
    198,
    'kernel: [    0.000000] Linux version 5.10.0-28-cloud-amd64 (debian-kernel@lists.debian.org) (gcc-10 (Debian 10.2.1-6) 10.2.1 20210110, GNU ld (GNU Binutils for Debian) 2.35.2) #1 SMP Debian 5.10.209-2 (2024-01-31)',
  ],
  [
    198,
    'kernel: [    0.000000] Command line: BOOT_IMAGE=/boot/vmlinuz-5.10.0-28-cloud-amd64 root=UUID=3f9e1c52-7a0d-4b8e-9c61-2d5f0e8a4b17 ro console=ttyS0,115200',
  ],
  [198, 'kernel: [    2.817742] input: Power Button as /devices/LNXSYSTM:00/LNXPWRBN:00/input/input2'],
  [198, 'kernel: [    2.832340] ACPI: Power Button [PWRF]'],
  [198, 'kernel: [    3.104551] EXT4-fs (sdb): recovery complete'],
  [198, 'systemd[1]: Finished Update UTMP about System Boot/Shutdown.'],
  [199, 'systemd[1]: Starting Google Compute Engine Shutdown Scripts...'],
  [199, 'systemd[1]: Started Unattended Upgrades Shutdown.'],
  [199, 'systemd[1]: Finished Google Compute Engine Shutdown Scripts.'],
  [200, 'systemd-logind[501]: Watching system buttons on /dev/input/event0 (Power Button)'],
  [201, 'google_guest_agent[598]: GCE Agent Started (version 20260415.00)'],
  [202, 'systemd[1]: Startup finished in 1.877s (kernel) + 5.012s (userspace) = 6.889s.'],
];

export const syslogEntry = (
  target: { project: string; zone: string; name: string; id: string },
  at: Date,
  message: string,
  insertId: string,
): FakeLogEntry => ({
  insertId,
  logName: `projects/${target.project}/logs/syslog`,
  timestamp: at.toISOString(),
  receiveTimestamp: new Date(at.getTime() + 2_000).toISOString(),
  resource: {
    type: 'gce_instance',
    labels: { project_id: target.project, instance_id: target.id, zone: target.zone },
  },
  severity: 'DEFAULT',
  jsonPayload: { message: `${classic(at)} ${target.name} ${message}` },
});

const serialText = (name: string, bootAt: Date): string =>
  [
    'CSM BBS Table full.',
    'BdsDxe: starting Boot0001 "UEFI Google PersistentDisk " from PciRoot(0x0)/Pci(0x3,0x0)/Scsi(0x1,0x0)',
    '',
    'Welcome to GRUB!',
    '',
    'Loading Linux 5.10.0-28-cloud-amd64 ...',
    '[    0.000000] Linux version 5.10.0-28-cloud-amd64 (debian-kernel@lists.debian.org) (gcc-10 (Debian 10.2.1-6) 10.2.1 20210110, GNU ld (GNU Binutils for Debian) 2.35.2) #1 SMP Debian 5.10.209-2 (2024-01-31)',
    '[    0.000000] Command line: BOOT_IMAGE=/boot/vmlinuz-5.10.0-28-cloud-amd64 root=UUID=3f9e1c52-7a0d-4b8e-9c61-2d5f0e8a4b17 ro console=ttyS0,115200',
    '[    0.000000] Hypervisor detected: KVM',
    `[    0.861428] rtc_cmos 00:00: setting system clock to ${bootAt.toISOString().slice(0, 19)} UTC (${Math.floor(bootAt.getTime() / 1000)})`,
    '[    2.817742] input: Power Button as /devices/LNXSYSTM:00/LNXPWRBN:00/input/input2',
    '[\u001b[0;32m  OK  \u001b[0m] Finished \u001b[0;1;39mGoogle Compute Engine Shutdown Scripts\u001b[0m.',
    '[\u001b[0;32m  OK  \u001b[0m] Reached target \u001b[0;1;39mMulti-User System\u001b[0m.',
    '',
    `Debian GNU/Linux 11 ${name} ttyS0`,
    '',
    `${name} login: `,
  ].join('\r\n');

/** Seeds the incident; returns its facts for assertions. */
export const seedHostErrorIncident = (
  fakes: { readonly compute: FakeCompute; readonly logging: FakeLogging },
  options: { project: string; zone?: string; name?: string; id?: string; now?: Date },
): HostErrorIncident => {
  const target = {
    project: options.project,
    zone: options.zone ?? 'us-central1-a',
    name: options.name ?? 'web-1',
    id: options.id ?? '4736518221905826354',
  };
  const hostErrorAt = incidentHostErrorAt(options.now ?? new Date());
  const at = (seconds: number): Date => new Date(hostErrorAt.getTime() + seconds * 1000);
  const autoRestartAt = at(191.483);
  const bootAt = at(194);
  const lastStart = at(193.26);

  fakes.compute.addInstance(target.project, target.zone, {
    name: target.name,
    id: target.id,
    status: 'RUNNING',
    machineType: `https://www.googleapis.com/compute/v1/projects/${target.project}/zones/${target.zone}/machineTypes/e2-standard-4`,
    creationTimestamp: '2025-09-12T09:14:03.512-07:00',
    lastStartTimestamp: pacific(lastStart),
    scheduling: {
      automaticRestart: true,
      onHostMaintenance: 'MIGRATE',
      preemptible: false,
      provisioningModel: 'STANDARD',
    },
    labels: { env: 'prod', team: 'web' },
    disks: [
      {
        boot: true,
        deviceName: target.name,
        diskSizeGb: '20',
        source: `https://www.googleapis.com/compute/v1/projects/${target.project}/zones/${target.zone}/disks/${target.name}`,
      },
    ],
  });
  fakes.compute.appendSerial(target.project, target.zone, target.name, serialText(target.name, bootAt));

  const decoy = { ...target, name: `${target.name}0`, id: '5550001112223334445' }; // web-10
  const other = { ...target, name: 'db-2', id: '7770001112223334445' };
  fakes.logging.addEntries([
    moveEntry('MigrateOnHostMaintenanceEvent', target, at(-2.9 * 86_400), '-m1grat3on01'),
    activity(target, 'v1.compute.instances.setMetadata', 'alice@example.com', at(-120_000), '1xq7b4e9lk2c'),
    moveEntry('HostErrorEvent', target, hostErrorAt, '-x81jq6e2ntmb'),
    moveEntry('AutomaticRestartEvent', target, autoRestartAt, '-k2w9r3e5qpa1'),
    moveEntry('HostErrorEvent', decoy, at(-30_000), '-d3c0yh0st01'),
    ...GUEST_LINES.map(([s, line], i) => syslogEntry(target, at(s), line, `g${String(i).padStart(3, '0')}`)),
    syslogEntry(other, at(-600), 'systemd-shutdown[1]: Powering off.', 'other-1'),
    syslogEntry(other, at(-601), 'systemd[1]: Reached target Power-Off.', 'other-2'),
  ]);
  return {
    ...target,
    hostErrorAt,
    autoRestartAt,
    bootAt,
    lastStartTimestamp: pacific(lastStart),
  };
};
