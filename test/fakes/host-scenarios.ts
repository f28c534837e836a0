/**
 * Host scenarios for /diag, built from the documented shapes (FACTS.md "Cloud Monitoring"; the Ops Agent's
 * expected-metrics list: kinds, value types and labels): one hour of per-minute samples of every metric /diag
 * reads, the audit entries (real iap-desktop captures moved to this VM and time) and the syslog lines the Ops
 * Agent ships. Each scenario changes the baseline of a healthy 4-vCPU VM the way the incident would:
 *
 * - `healthy`: busy but fine, with one single-minute CPU spike to 97% (a spike is not a finding).
 * - `oom`: memory climbs to 98% used, the OOM killer kills java (pid 4242), memory falls back.
 * - `disk`: sdb 100% busy with 40 operations queued, iowait and blocked processes, an I/O error.
 * - `steal`: a live migration, then 35% CPU steal (a noisy host).
 * - `no-agent`: only the hypervisor metrics (no Ops Agent: no agent metrics, no guest logs).
 * - `restart`: a host error, 4 minutes without any point (the VM was down), an automatic restart and a boot.
 */
import { readFileSync } from 'node:fs';
import { syslogEntry } from './gce-incident.js';
import type { FakeLogEntry } from './gce-logging.js';
import type { FakeSeries } from './gce-monitoring.js';

export type ScenarioName = 'healthy' | 'oom' | 'disk' | 'steal' | 'no-agent' | 'restart';
export const SCENARIOS: readonly ScenarioName[] = ['healthy', 'oom', 'disk', 'steal', 'no-agent', 'restart'];

export interface HostTarget {
  readonly project: string;
  readonly zone: string;
  readonly name: string;
  readonly id: string;
}

export interface HostScenario {
  readonly target: HostTarget;
  /** The window the scenario fills: the hour before `end`. */
  readonly from: Date;
  readonly end: Date;
  readonly series: FakeSeries[];
  readonly audit: FakeLogEntry[];
  readonly guest: FakeLogEntry[];
  /** instances.get body for the Compute fake. */
  readonly instance: Record<string, unknown>;
  /** Moments the assertions need. */
  readonly at: Readonly<Record<string, Date>>;
}

const MIN = 60_000;
const MINUTES = 60;
const fixture = (name: string): Record<string, unknown> =>
  (
    JSON.parse(readFileSync(new URL(`../fixtures/why-reboot/${name}.json`, import.meta.url), 'utf8')) as {
      entries: Record<string, unknown>[];
    }
  ).entries[0] as Record<string, unknown>;

/** A real captured audit entry moved to this VM and time. */
const auditEntry = (name: string, target: HostTarget, at: Date, insertId: string): FakeLogEntry => {
  const e = JSON.parse(JSON.stringify(fixture(name))) as Record<string, unknown> & {
    protoPayload: Record<string, unknown>;
    resource: { labels: Record<string, string> };
    logName: string;
  };
  e.protoPayload.resourceName = `projects/${target.project}/zones/${target.zone}/instances/${target.name}`;
  e.resource.labels = { project_id: target.project, instance_id: target.id, zone: target.zone };
  e.logName = e.logName.replace(/^projects\/[^/]+\//, `projects/${target.project}/`);
  e.timestamp = at.toISOString();
  e.receiveTimestamp = new Date(at.getTime() + 1200).toISOString();
  e.insertId = insertId;
  return e as unknown as FakeLogEntry;
};

/** Deterministic jitter in [-0.5, 0.5). */
const jitter = (i: number, salt = 0): number => (((i + 1) * 7919 + salt * 104729) % 1000) / 1000 - 0.5;

interface Minute {
  up: boolean;
  cpu: Record<'user' | 'system' | 'wait' | 'steal' | 'nice' | 'interrupt' | 'softirq', number>;
  load: number;
  memUsed: number;
  blocked: number;
  busy: Record<string, number>; // device -> ms of io_time per second
  queue: Record<string, number>;
  readBps: number;
  writeBps: number;
  rxBps: number;
  txBps: number;
  fsUsed: Record<string, number>;
  tcp: number;
  ifErrors: number; // errors in the minute
  uptimeSeconds: number;
}

const baseline = (i: number): Minute => ({
  up: true,
  cpu: {
    user: 18 + 6 * jitter(i, 1),
    system: 4 + jitter(i, 2),
    wait: 0.4,
    steal: 0.3,
    nice: 0,
    interrupt: 0.1,
    softirq: 0.3,
  },
  load: 0.9 + 0.3 * jitter(i, 3),
  memUsed: 46 + 2 * jitter(i, 4),
  blocked: 0,
  busy: { sda: 40 + 10 * jitter(i, 5), sdb: 60 + 20 * jitter(i, 6) },
  queue: { sda: 0.1, sdb: 0.3 },
  readBps: 1.5e6 + 4e5 * jitter(i, 7),
  writeBps: 3e6 + 8e5 * jitter(i, 8),
  rxBps: 1.2e6 + 3e5 * jitter(i, 9),
  txBps: 2.4e6 + 5e5 * jitter(i, 10),
  fsUsed: { '/dev/sda1': 41, '/dev/sdb1': 63 },
  tcp: 140 + 20 * jitter(i, 11),
  ifErrors: 0,
  uptimeSeconds: 60,
});

const COMPUTE = 'compute.googleapis.com/instance/';
const AGENT = 'agent.googleapis.com/';

const toSeries = (
  target: HostTarget,
  minutes: readonly Minute[],
  from: number,
  agent: boolean,
): FakeSeries[] => {
  const res = { project_id: target.project, instance_id: target.id, zone: target.zone };
  const t = (i: number) => from + (i + 1) * MIN;
  const samples = (f: (m: Minute) => number | null) =>
    minutes.flatMap((m, i) => {
      const v = m.up ? f(m) : null;
      return v === null ? [] : [{ t: t(i), v }];
    });
  const s = (
    metricType: string,
    metricKind: FakeSeries['metricKind'],
    valueType: FakeSeries['valueType'],
    f: (m: Minute) => number | null,
    metricLabels?: Record<string, string>,
    unit?: string,
  ): FakeSeries => ({
    project: target.project,
    metricType,
    metricKind,
    valueType,
    resourceLabels: res,
    ...(metricLabels ? { metricLabels } : {}),
    ...(unit ? { unit } : {}),
    samples: samples(f),
  });
  const cpuTotal = (m: Minute) => Object.values(m.cpu).reduce((a, b) => a + b, 0);
  const out: FakeSeries[] = [
    s(
      `${COMPUTE}cpu/utilization`,
      'GAUGE',
      'DOUBLE',
      (m) => cpuTotal(m) / 100,
      { instance_name: target.name },
      '10^2.%',
    ),
    s(
      `${COMPUTE}uptime`,
      'DELTA',
      'DOUBLE',
      (m) => m.uptimeSeconds,
      { instance_name: target.name },
      's{uptime}',
    ),
  ];
  for (const [device, share] of [
    ['persistent-disk-0', 0.3],
    ['data-1', 0.7],
  ] as const) {
    const labels = {
      device_name: device,
      device_type: 'permanent',
      storage_type: 'pd-balanced',
      instance_name: target.name,
    };
    out.push(
      s(
        `${COMPUTE}disk/read_bytes_count`,
        'DELTA',
        'INT64',
        (m) => Math.round(m.readBps * share * 60),
        labels,
        'By',
      ),
      s(
        `${COMPUTE}disk/write_bytes_count`,
        'DELTA',
        'INT64',
        (m) => Math.round(m.writeBps * share * 60),
        labels,
        'By',
      ),
      s(
        `${COMPUTE}disk/read_ops_count`,
        'DELTA',
        'INT64',
        (m) => Math.round((m.readBps * share * 60) / 16384),
        labels,
        '1',
      ),
      s(
        `${COMPUTE}disk/write_ops_count`,
        'DELTA',
        'INT64',
        (m) => Math.round((m.writeBps * share * 60) / 16384),
        labels,
        '1',
      ),
    );
  }
  for (const lb of ['true', 'false']) {
    const share = lb === 'true' ? 0.8 : 0.2;
    out.push(
      s(
        `${COMPUTE}network/received_bytes_count`,
        'DELTA',
        'INT64',
        (m) => Math.round(m.rxBps * share * 60),
        { loadbalanced: lb, instance_name: target.name },
        'By',
      ),
      s(
        `${COMPUTE}network/sent_bytes_count`,
        'DELTA',
        'INT64',
        (m) => Math.round(m.txBps * share * 60),
        { loadbalanced: lb, instance_name: target.name },
        'By',
      ),
    );
  }
  if (!agent) return out;
  // Ops Agent: cpu/utilization per state (and per cpu_number, which may be empty: reduced server-side).
  for (const state of ['user', 'system', 'wait', 'steal', 'nice', 'interrupt', 'softirq', 'idle'] as const) {
    out.push(
      s(
        `${AGENT}cpu/utilization`,
        'GAUGE',
        'DOUBLE',
        (m) => (state === 'idle' ? Math.max(0, 100 - cpuTotal(m)) : m.cpu[state]),
        { cpu_state: state, cpu_number: '' },
        '%',
      ),
    );
  }
  out.push(
    s(`${AGENT}cpu/load_1m`, 'GAUGE', 'DOUBLE', (m) => m.load, undefined, '1'),
    s(`${AGENT}cpu/load_5m`, 'GAUGE', 'DOUBLE', (m) => m.load * 0.9, undefined, '1'),
    s(`${AGENT}cpu/load_15m`, 'GAUGE', 'DOUBLE', (m) => m.load * 0.8, undefined, '1'),
  );
  for (const state of ['used', 'free', 'buffered', 'cached', 'slab'] as const) {
    out.push(
      s(
        `${AGENT}memory/percent_used`,
        'GAUGE',
        'DOUBLE',
        (m) =>
          state === 'used'
            ? m.memUsed
            : state === 'free'
              ? Math.max(0, 100 - m.memUsed - 20)
              : state === 'cached'
                ? 15
                : 2.5,
        { state },
        '%',
      ),
    );
  }
  for (const device of ['/dev/sda1', '/dev/sdb1']) {
    for (const state of ['used', 'free', 'reserved'] as const) {
      out.push(
        s(
          `${AGENT}disk/percent_used`,
          'GAUGE',
          'DOUBLE',
          (m) => {
            const used = m.fsUsed[device] ?? 0;
            return state === 'used' ? used : state === 'reserved' ? 5 : 95 - used;
          },
          { device, state },
          '%',
        ),
      );
    }
  }
  for (const device of ['sda', 'sda1', 'sdb', 'sdb1']) {
    const disk = device.replace(/\d+$/, '');
    // disk/io_time: CUMULATIVE INT64 (ms); disk/pending_operations: GAUGE DOUBLE.
    let total = 7_200_000;
    out.push({
      ...s(`${AGENT}disk/io_time`, 'CUMULATIVE', 'INT64', () => 0, { device }, 'ms'),
      samples: [
        { t: from, v: total },
        ...minutes.flatMap((m, i) => {
          if (!m.up) {
            total = 0; // the agent restarted with the VM: the counter starts again
            return [];
          }
          total += Math.round((m.busy[disk] ?? 0) * (device === disk ? 1 : 0.98) * 60);
          return [{ t: t(i), v: total }];
        }),
      ],
    });
    out.push(
      s(
        `${AGENT}disk/pending_operations`,
        'GAUGE',
        'DOUBLE',
        (m) => m.queue[disk] ?? 0,
        { device },
        '{operation}',
      ),
    );
  }
  for (const state of ['running', 'sleeping', 'blocked', 'stopped', 'paging', 'zombies']) {
    out.push(
      s(
        `${AGENT}processes/count_by_state`,
        'GAUGE',
        'DOUBLE',
        (m) => (state === 'blocked' ? m.blocked : state === 'running' ? 2 : state === 'sleeping' ? 180 : 0),
        { state },
        '{processes}',
      ),
    );
  }
  for (const [device, direction] of [
    ['ens4', 'rx'],
    ['ens4', 'tx'],
    ['lo', 'rx'],
  ] as const) {
    let total = 0;
    out.push({
      ...s(`${AGENT}interface/errors`, 'CUMULATIVE', 'INT64', () => 0, { device, direction }, '{errors}'),
      samples: [
        { t: from, v: 0 },
        ...minutes.flatMap((m, i) => {
          if (!m.up) return [];
          if (device === 'ens4' && direction === 'rx') total += m.ifErrors;
          return [{ t: t(i), v: total }];
        }),
      ],
    });
  }
  for (const tcpState of ['ESTABLISHED', 'TIME_WAIT', 'LISTEN']) {
    const share = tcpState === 'ESTABLISHED' ? 0.7 : tcpState === 'TIME_WAIT' ? 0.25 : 0.05;
    out.push(
      s(
        `${AGENT}network/tcp_connections`,
        'GAUGE',
        'DOUBLE',
        (m) => m.tcp * share,
        { port: 'all', tcp_state: tcpState },
        '{connections}',
      ),
    );
  }
  return out;
};

export const buildHostScenario = (
  name: ScenarioName,
  options: {
    end: Date;
    target?: Partial<HostTarget> /** OOM victim's process name (hostile-input tests). */;
    victim?: string;
  },
): HostScenario => {
  const target: HostTarget = {
    project: options.target?.project ?? 'shop-prod',
    zone: options.target?.zone ?? 'europe-west1-b',
    name: options.target?.name ?? 'app-1',
    id: options.target?.id ?? '6148512337741098213',
  };
  const end = new Date(Math.floor(options.end.getTime() / MIN) * MIN);
  const from = new Date(end.getTime() - MINUTES * MIN);
  const minuteAt = (i: number) => new Date(from.getTime() + i * MIN);
  const minutes = Array.from({ length: MINUTES }, (_, i) => baseline(i));
  const audit: FakeLogEntry[] = [];
  const guest: FakeLogEntry[] = [];
  const at: Record<string, Date> = {};
  let n = 0;
  const line = (d: Date, text: string) =>
    guest.push(syslogEntry(target, d, text, `s${String(n++).padStart(4, '0')}`));
  // A quiet guest log: routine lines only (the guest-log query must find nothing alarming in them).
  line(minuteAt(5), 'CRON[2231]: (root) CMD (   cd / && run-parts --report /etc/cron.hourly)');
  let agent = true;

  if (name === 'healthy') {
    minutes[30] = {
      ...(minutes[30] as Minute),
      cpu: { ...(minutes[30] as Minute).cpu, user: 88, system: 7 },
    };
  } else if (name === 'oom') {
    // 09:58-style: memory used climbs from minute 30, is >= 97% from minute 38, the kill at minute 47.
    for (let i = 30; i < 48; i++) {
      const m = minutes[i] as Minute;
      m.memUsed = Math.min(98.4, 60 + (i - 30) * 4.8);
    }
    for (let i = 48; i < MINUTES; i++) (minutes[i] as Minute).memUsed = 31 + jitter(i);
    const kill = new Date(minuteAt(47).getTime() + 12_000);
    at.memoryHigh = minuteAt(38);
    at.oomKill = kill;
    line(
      kill,
      'kernel: [86412.331210] java invoked oom-killer: gfp_mask=0x100cca(GFP_HIGHUSER_MOVABLE), order=0, oom_score_adj=0',
    );
    line(kill, 'kernel: [86412.331402] Mem-Info:');
    line(
      kill,
      'kernel: [86412.332957] oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/system.slice/app.service,task=java,pid=4242,uid=1000',
    );
    line(
      kill,
      `kernel: [86412.332988] Out of memory: Killed process 4242 (${options.victim ?? 'java'}) total-vm:9437184kB, anon-rss:7340032kB, file-rss:2048kB, shmem-rss:0kB, UID:1000 pgtables:14600kB oom_score_adj:0`,
    );
    line(
      new Date(kill.getTime() + 1000),
      'systemd[1]: app.service: A process of this unit has been killed by the OOM killer.',
    );
  } else if (name === 'disk') {
    for (let i = 25; i < MINUTES; i++) {
      const m = minutes[i] as Minute;
      m.busy.sdb = 1000;
      m.queue.sdb = 38 + 4 * jitter(i);
      m.cpu.wait = 35;
      m.cpu.user = 8;
      m.blocked = 12;
      m.load = 13;
      m.writeBps = 190e6;
    }
    at.diskBusy = minuteAt(25);
    const err = minuteAt(41);
    at.ioError = err;
    line(
      err,
      'kernel: [77112.450118] blk_update_request: I/O error, dev sdb, sector 83886080 op 0x1:(WRITE) flags 0x800 phys_seg 32 prio class 0',
    );
    line(
      new Date(err.getTime() + 250),
      'kernel: [77112.450902] Buffer I/O error on dev sdb1, logical block 10485504, lost async page write',
    );
    line(minuteAt(43), 'kernel: [77230.100221] INFO: task postgres:3121 blocked for more than 120 seconds.');
  } else if (name === 'steal') {
    const migration = new Date(minuteAt(20).getTime() + 41_000);
    at.migration = migration;
    audit.push(auditEntry('MigrateOnHostMaintenanceEvent', target, migration, '-m1gr4t10n'));
    for (let i = 21; i < MINUTES; i++) {
      const m = minutes[i] as Minute;
      m.cpu.steal = 35 + 4 * jitter(i);
      m.load = 5.2;
    }
    at.steal = minuteAt(21);
    line(
      new Date(migration.getTime() + 2000),
      'kernel: [52001.100321] virtio_net virtio1 ens4: Link is Down',
    );
    line(new Date(migration.getTime() + 3000), 'kernel: [52002.118852] virtio_net virtio1 ens4: Link is Up');
  } else if (name === 'no-agent') {
    agent = false;
    guest.length = 0; // no agent: nothing ships the syslog
  } else if (name === 'restart') {
    const hostError = new Date(minuteAt(29).getTime() + 40_611);
    const autoRestart = new Date(hostError.getTime() + 191_483);
    const boot = new Date(hostError.getTime() + 215_000);
    at.hostError = hostError;
    at.autoRestart = autoRestart;
    at.boot = boot;
    (minutes[29] as Minute).uptimeSeconds = 40;
    for (let i = 30; i < 33; i++) (minutes[i] as Minute).up = false;
    (minutes[33] as Minute).uptimeSeconds = 25;
    for (let i = 33; i < 38; i++) {
      const m = minutes[i] as Minute;
      m.memUsed = 22;
      m.cpu.user = 45; // boot and cache warm-up
    }
    audit.push(auditEntry('HostErrorEvent', target, hostError, '-h0st3rr0r'));
    audit.push(auditEntry('AutomaticRestartEvent', target, autoRestart, '-4ut0r3st4rt'));
    line(
      boot,
      'kernel: [    0.000000] Linux version 6.1.0-27-cloud-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC Debian 6.1.115-1 (2024-11-01)',
    );
    line(
      boot,
      'kernel: [    0.000000] Command line: BOOT_IMAGE=/boot/vmlinuz-6.1.0-27-cloud-amd64 root=PARTUUID=1a2b ro console=ttyS0,115200',
    );
  }

  const zoneUrl = `https://www.googleapis.com/compute/v1/projects/${target.project}/zones/${target.zone}`;
  const lastStart =
    name === 'restart' ? (at.autoRestart as Date) : new Date(from.getTime() - 20 * 86_400_000);
  const instance: Record<string, unknown> = {
    kind: 'compute#instance',
    name: target.name,
    id: target.id,
    status: 'RUNNING',
    zone: zoneUrl,
    selfLink: `${zoneUrl}/instances/${target.name}`,
    machineType: `${zoneUrl}/machineTypes/n2-standard-4`,
    creationTimestamp: '2025-09-12T09:14:03.512-07:00',
    lastStartTimestamp: lastStart.toISOString().replace('Z', '+00:00'),
    scheduling: {
      automaticRestart: true,
      onHostMaintenance: 'MIGRATE',
      preemptible: false,
      provisioningModel: 'STANDARD',
    },
    labels: { env: 'prod' },
    disks: [
      {
        boot: true,
        deviceName: 'persistent-disk-0',
        diskSizeGb: '20',
        source: `${zoneUrl}/disks/${target.name}`,
      },
      {
        boot: false,
        deviceName: 'data-1',
        diskSizeGb: '500',
        source: `${zoneUrl}/disks/${target.name}-data`,
      },
    ],
    networkInterfaces: [
      { network: `https://www.googleapis.com/compute/v1/projects/${target.project}/global/networks/default` },
    ],
  };
  return {
    target,
    from,
    end,
    series: toSeries(target, minutes, from.getTime(), agent),
    audit,
    guest,
    instance,
    at,
  };
};
