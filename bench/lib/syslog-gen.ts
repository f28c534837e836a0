import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  utimesSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A deterministic, realistic Debian `/var/log/syslog` of any size: classic timestamps (no year, UTC) spanning
 * `days` and crossing a new year, a mix of everyday programs, small timestamp jitter, daily log rotation
 * traps, boot-time traps ("Power Button", "Google Compute Engine Shutdown Scripts", "Boot/Shutdown"), and a
 * few rare incidents: guest reboots, a Compute Engine stop (power key), a kernel panic, a host error (log
 * just stops), OOM kills, lockups, a full disk, an emergency shell.
 */

export interface SyslogGenOptions {
  readonly bytes: number;
  readonly seed?: number;
  /** First line's time. Default 2025-12-20T00:00:00Z (so the span crosses a new year). */
  readonly start?: Date;
  readonly days?: number;
  readonly host?: string;
}

export interface SyslogGenResult {
  readonly path: string;
  readonly bytes: number;
  readonly lines: number;
  readonly firstAt: Date;
  readonly lastAt: Date;
  /** Times (UTC) at which a boot starts, to pick interesting windows. */
  readonly boots: readonly Date[];
  readonly generatedMs: number;
  readonly cached: boolean;
}

const GENERATOR_VERSION = 3;

export const mulberry32 = (seed: number): (() => number) => {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
};

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));

/** Classic syslog timestamp of a UTC instant: `Jan  3 04:05:06`. */
export const classicStamp = (ms: number): string => {
  const d = new Date(ms);
  const day = d.getUTCDate();
  return `${MONTHS[d.getUTCMonth()]} ${day < 10 ? ` ${day}` : day} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`;
};

type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
const int = (r: Rand, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
const hex = (r: Rand, n: number): string => {
  let s = '';
  for (let i = 0; i < n; i++) s += '0123456789abcdef'[Math.floor(r() * 16)];
  return s;
};

const USERS = ['alice', 'bob', 'deploy', 'carol', 'svc-backup'];
const UNITS = [
  ['apt-daily.service', 'Daily apt download activities'],
  ['apt-daily-upgrade.service', 'Daily apt upgrade and clean activities'],
  ['logrotate.service', 'Rotate log files'],
  ['man-db.service', 'Daily man-db regeneration'],
  ['gce-workload-cert-refresh.service', 'GCE Workload Certificate refresh'],
  ['systemd-tmpfiles-clean.service', 'Cleanup of Temporary Directories'],
  ['google-oslogin-cache.service', 'NSS cache refresh'],
  ['fstrim.service', 'Discard unused blocks on filesystems from /etc/fstab'],
] as const;
const PATHS = ['/healthz', '/api/v1/orders', '/api/v1/users/42', '/static/app.js', '/metrics', '/login'];

/** One everyday line (no restart keyword in it). */
const everyday = (r: Rand, ts: string, host: string, uptime: number): string => {
  const k = r();
  if (k < 0.22) {
    const p = pick(r, PATHS);
    return `${ts} ${host} app[${int(r, 1200, 1300)}]: level=info msg="request completed" method=GET path=${p} status=${pick(r, [200, 200, 200, 204, 304, 404, 500])} duration_ms=${int(r, 1, 900)} trace_id=${hex(r, 32)}`;
  }
  if (k < 0.36) {
    return `${ts} ${host} containerd[${int(r, 700, 710)}]: time="2026-01-01T00:00:00.${hex(r, 6)}Z" level=info msg="loading plugin \\"io.containerd.grpc.v1.${pick(r, ['cri', 'tasks', 'images', 'leases'])}\\"..." type=io.containerd.grpc.v1`;
  }
  if (k < 0.46) {
    const pid = int(r, 10000, 60000);
    return `${ts} ${host} CRON[${pid}]: (root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)`;
  }
  if (k < 0.54) {
    const u = pick(r, UNITS);
    const v = r();
    if (v < 0.33) return `${ts} ${host} systemd[1]: Starting ${u[1]}...`;
    if (v < 0.66) return `${ts} ${host} systemd[1]: ${u[0]}: Succeeded.`;
    return `${ts} ${host} systemd[1]: Finished ${u[1]}.`;
  }
  if (k < 0.64) {
    const pid = int(r, 2000, 90000);
    const v = r();
    if (v < 0.3)
      return `${ts} ${host} sshd[${pid}]: Accepted publickey for ${pick(r, USERS)} from 35.235.${int(r, 240, 245)}.${int(r, 1, 254)} port ${int(r, 30000, 65000)} ssh2: RSA SHA256:${hex(r, 43)}`;
    if (v < 0.55)
      return `${ts} ${host} sshd[${pid}]: pam_unix(sshd:session): session opened for user ${pick(r, USERS)}(uid=${int(r, 1000, 1010)}) by (uid=0)`;
    if (v < 0.8)
      return `${ts} ${host} sshd[${pid}]: Connection closed by invalid user admin ${int(r, 1, 223)}.${int(r, 0, 255)}.${int(r, 0, 255)}.${int(r, 1, 254)} port ${int(r, 1024, 65000)} [preauth]`;
    return `${ts} ${host} sshd[${pid}]: Received disconnect from 10.128.0.${int(r, 2, 250)} port ${int(r, 30000, 65000)}:11: disconnected by user`;
  }
  if (k < 0.7) {
    const s = int(r, 1000, 99999);
    const u = pick(r, USERS);
    const v = r();
    if (v < 0.5) return `${ts} ${host} systemd-logind[456]: New session ${s} of user ${u}.`;
    return `${ts} ${host} systemd-logind[456]: Removed session ${s}.`;
  }
  if (k < 0.77) {
    const v = r();
    if (v < 0.4)
      return `${ts} ${host} dhclient[421]: DHCPREQUEST for 10.128.0.7 on ens4 to 169.254.169.254 port 67`;
    if (v < 0.7) return `${ts} ${host} dhclient[421]: DHCPACK of 10.128.0.7 from 169.254.169.254`;
    return `${ts} ${host} dhclient[421]: bound to 10.128.0.7 -- renewal in ${int(r, 1500, 1800)} seconds.`;
  }
  if (k < 0.82) {
    return `${ts} ${host} google_guest_agent[${int(r, 470, 480)}]: ${pick(r, ['Updating keys for user ', 'Creating user ', 'Removing user '])}${pick(r, USERS)}.`;
  }
  if (k < 0.86) {
    return `${ts} ${host} chronyd[484]: Selected source 169.254.169.254 (metadata.google.internal)`;
  }
  if (k < 0.92) {
    return `${ts} ${host} kernel: [${uptime.toFixed(6).padStart(12, ' ')}] audit: type=1400 audit(${Math.floor(uptime)}.${int(r, 100, 999)}:${int(r, 10, 9999)}): apparmor="DENIED" operation="open" profile="/usr/sbin/chronyd" name="/proc/${int(r, 100, 9999)}/status" pid=${int(r, 100, 9999)} comm="chronyd" requested_mask="r" denied_mask="r" fsuid=0 ouid=0`;
  }
  if (k < 0.97) {
    return `${ts} ${host} otelopscol[${int(r, 2100, 2110)}]: 2026-01-01T00:00:00.000Z#011info#011exporterhelper/queued_retry.go:${int(r, 100, 500)}#011Exporting finished.#011{"kind": "exporter", "data_type": "metrics", "name": "googlecloud", "points": ${int(r, 1, 5000)}}`;
  }
  return `${ts} ${host} nginx[${int(r, 900, 910)}]: 10.128.0.${int(r, 2, 250)} - - "GET ${pick(r, PATHS)} HTTP/1.1" ${pick(r, [200, 301, 404])} ${int(r, 0, 90000)} "-" "GoogleHC/1.0"`;
};

const bootLines = (ts: string, host: string, emergency: boolean): string[] => {
  const k = `${ts} ${host} kernel: `;
  const lines = [
    `${k}[    0.000000] Linux version 5.10.0-26-cloud-amd64 (debian-kernel@lists.debian.org) (gcc-10 (Debian 10.2.1-6) 10.2.1 20210110, GNU ld (GNU Binutils for Debian) 2.35.2) #1 SMP Debian 5.10.197-1 (2023-09-29)`,
    `${k}[    0.000000] Command line: BOOT_IMAGE=/boot/vmlinuz-5.10.0-26-cloud-amd64 root=UUID=e6fe3fcb-2478-4e7e-8072-4ced46dceac5 ro console=tty0 console=ttyS0,115200 earlyprintk=ttyS0,115200 consoleblank=0`,
    `${k}[    0.000000] BIOS-provided physical RAM map:`,
    `${k}[    0.075690] Kernel command line: BOOT_IMAGE=/boot/vmlinuz-5.10.0-26-cloud-amd64 root=UUID=e6fe3fcb-2478-4e7e-8072-4ced46dceac5 ro console=tty0 console=ttyS0,115200 earlyprintk=ttyS0,115200 consoleblank=0`,
    `${k}[    0.323166] thermal_sys: Registered thermal governor 'power_allocator'`,
    `${k}[    2.817742] input: Power Button as /devices/LNXSYSTM:00/LNXPWRBN:00/input/input2`,
    `${k}[    2.832340] ACPI: Power Button [PWRF]`,
    `${ts} ${host} systemd[1]: Starting Update UTMP about System Boot/Shutdown...`,
    `${ts} ${host} systemd[1]: Finished Update UTMP about System Boot/Shutdown.`,
    `${ts} ${host} rsyslogd: [origin software="rsyslogd" swVersion="8.2102.0" x-pid="398" x-info="https://www.rsyslog.com"] start`,
  ];
  if (emergency) {
    lines.push(
      `${ts} ${host} systemd[1]: Dependency failed for /mnt/data.`,
      `${ts} ${host} systemd[1]: Started Emergency Shell.`,
      `${ts} ${host} systemd[1]: Reached target Emergency Mode.`,
      `${ts} ${host} sulogin[412]: You are in emergency mode. After logging in, type "journalctl -xb" to view system logs`,
    );
  } else {
    lines.push(
      `${ts} ${host} systemd[1]: Starting Google Compute Engine Shutdown Scripts...`,
      `${ts} ${host} systemd[1]: Started Unattended Upgrades Shutdown.`,
      `${ts} ${host} systemd[1]: Finished Google Compute Engine Shutdown Scripts.`,
      `${ts} ${host} systemd[1]: Reached target Multi-User System.`,
    );
  }
  return lines;
};

type Incident =
  | 'sudo-reboot'
  | 'gce-stop'
  | 'kernel-panic'
  | 'host-error'
  | 'oom'
  | 'cgroup-oom'
  | 'hung-task'
  | 'soft-lockup'
  | 'disk-full'
  | 'emergency-boot';

/** Lines of an incident; `boot: true` means the next lines come after a boot (a new kernel). */
const incidentLines = (r: Rand, kind: Incident, ts: string, host: string, uptime: number): string[] => {
  const k = `${ts} ${host} kernel: [${uptime.toFixed(6).padStart(12, ' ')}] `;
  switch (kind) {
    case 'sudo-reboot':
      return [
        `${ts} ${host} sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/sbin/reboot`,
        `${ts} ${host} sudo: pam_unix(sudo:session): session opened for user root(uid=0) by alice(uid=1001)`,
        `${ts} ${host} systemd-logind[456]: System is rebooting.`,
        `${ts} ${host} systemd[1]: Stopping Google Compute Engine Shutdown Scripts...`,
        `${ts} ${host} systemd[1]: Stopping Update UTMP about System Boot/Shutdown...`,
        `${ts} ${host} systemd[1]: Stopping Regular background program processing daemon...`,
        `${ts} ${host} systemd[1]: Stopped target Multi-User System.`,
        `${ts} ${host} rsyslogd: [origin software="rsyslogd" swVersion="8.2102.0" x-pid="398" x-info="https://www.rsyslog.com"] exiting on signal 15.`,
      ];
    case 'gce-stop':
      return [
        `${ts} ${host} systemd-logind[456]: Power key pressed.`,
        `${ts} ${host} systemd-logind[456]: Powering Off...`,
        `${ts} ${host} systemd-logind[456]: System is powering down.`,
        `${ts} ${host} systemd[1]: Stopping Google Compute Engine Shutdown Scripts...`,
        `${ts} ${host} google_metadata_script_runner[${int(r, 3000, 4000)}]: Starting shutdown scripts (version 20231115.00).`,
        `${ts} ${host} systemd[1]: Stopping Unattended Upgrades Shutdown...`,
        `${ts} ${host} systemd[1]: Reached target System Shutdown.`,
        `${ts} ${host} rsyslogd: [origin software="rsyslogd" swVersion="8.2102.0" x-pid="398" x-info="https://www.rsyslog.com"] exiting on signal 15.`,
      ];
    case 'kernel-panic':
      return [
        `${k}java invoked oom-killer: gfp_mask=0x100cca(GFP_HIGHUSER_MOVABLE), order=0, oom_score_adj=0`,
        `${k}Out of memory and no killable processes...`,
        `${k}Kernel panic - not syncing: System is deadlocked on memory`,
        `${k}CPU: 1 PID: 1 Comm: systemd Not tainted 5.10.0-26-cloud-amd64 #1 Debian 5.10.197-1`,
        `${k}---[ end Kernel panic - not syncing: System is deadlocked on memory ]---`,
      ];
    case 'host-error':
      return [];
    case 'oom': {
      const pid = int(r, 2000, 60000);
      const prog = pick(r, ['java', 'python3', 'node', 'postgres']);
      return [
        `${k}${prog} invoked oom-killer: gfp_mask=0x100cca(GFP_HIGHUSER_MOVABLE), order=0, oom_score_adj=0`,
        `${k}Mem-Info:`,
        `${k}oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/system.slice/app.service,task=${prog},pid=${pid},uid=1001`,
        `${k}Out of memory: Killed process ${pid} (${prog}) total-vm:${int(r, 1e6, 9e6)}kB, anon-rss:${int(r, 1e6, 3e6)}kB, file-rss:0kB, shmem-rss:0kB, UID:1001 pgtables:${int(r, 1000, 9000)}kB oom_score_adj:0`,
        `${k}oom_reaper: reaped process ${pid} (${prog}), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB`,
      ];
    }
    case 'cgroup-oom': {
      const pid = int(r, 2000, 60000);
      return [
        `${k}Memory cgroup out of memory: Killed process ${pid} (worker) total-vm:812345kB, anon-rss:524288kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:1200kB oom_score_adj:0`,
      ];
    }
    case 'hung-task':
      return [
        `${k}INFO: task jbd2/sda1-8:245 blocked for more than 120 seconds.`,
        `${k}      Not tainted 5.10.0-26-cloud-amd64 #1 Debian 5.10.197-1`,
        `${k}"echo 0 > /proc/sys/kernel/hung_task_timeout_secs" disables this message.`,
      ];
    case 'soft-lockup':
      return [`${k}watchdog: BUG: soft lockup - CPU#1 stuck for 23s! [kworker/1:2:${int(r, 100, 9999)}]`];
    case 'disk-full':
      return [
        `${ts} ${host} app[1234]: level=error msg="write /var/lib/app/data.db: no space left on device"`,
        `${ts} ${host} rsyslogd: file '/var/log/syslog': write error - see https://www.rsyslog.com/solving-problems/ : No space left on device [v8.2102.0 try https://www.rsyslog.com/e/2027 ]`,
      ];
    case 'emergency-boot':
      return [];
  }
};

/** Incidents at fractions of the file, in order. */
const SCHEDULE: readonly (readonly [number, Incident])[] = [
  [0.04, 'oom'],
  [0.09, 'hung-task'],
  [0.12, 'sudo-reboot'],
  [0.18, 'disk-full'],
  [0.22, 'oom'],
  [0.27, 'soft-lockup'],
  [0.31, 'gce-stop'],
  [0.36, 'cgroup-oom'],
  [0.41, 'oom'],
  [0.44, 'kernel-panic'],
  [0.5, 'disk-full'],
  [0.55, 'hung-task'],
  [0.58, 'host-error'],
  [0.63, 'oom'],
  [0.68, 'emergency-boot'],
  [0.72, 'soft-lockup'],
  [0.77, 'sudo-reboot'],
  [0.83, 'cgroup-oom'],
  [0.88, 'oom'],
  [0.94, 'disk-full'],
];

const REBOOTING: ReadonlySet<Incident> = new Set([
  'sudo-reboot',
  'gce-stop',
  'kernel-panic',
  'host-error',
  'emergency-boot',
]);

/** Writes the file (overwriting), sets its mtime to the last line's time, and describes it. */
export const generateSyslogFile = (path: string, opts: SyslogGenOptions): SyslogGenResult => {
  const t0 = performance.now();
  const r = mulberry32(opts.seed ?? 20260503);
  const host = opts.host ?? 'web-1';
  const start = (opts.start ?? new Date('2025-12-20T00:00:00Z')).getTime();
  const days = opts.days ?? 30;
  const target = opts.bytes;
  const avgLine = 134; // measured average of `everyday`, close enough to spread `days` over the size
  const meanStepMs = (days * 86_400_000) / Math.max(1, target / avgLine);
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  let written = 0;
  let lines = 0;
  let now = start;
  let bootAt = start;
  let lastStampSec = -1;
  let stamp = '';
  let lastDay = new Date(start).getUTCDate();
  let next = 0;
  const boots: Date[] = [];
  let batch: string[] = [];
  let batchBytes = 0;
  const flush = (): void => {
    if (batch.length === 0) return;
    const buf = Buffer.from(`${batch.join('\n')}\n`, 'utf8');
    writeSync(fd, buf);
    written += buf.length;
    batch = [];
    batchBytes = 0;
  };
  const push = (line: string): void => {
    batch.push(line);
    batchBytes += line.length + 1;
    lines++;
    if (batchBytes >= 4 << 20) flush();
  };
  const stampOf = (ms: number): string => {
    const sec = Math.floor(ms / 1000);
    if (sec !== lastStampSec) {
      lastStampSec = sec;
      stamp = classicStamp(ms);
    }
    return stamp;
  };
  // The file starts with a boot.
  boots.push(new Date(now));
  for (const l of bootLines(stampOf(now), host, false)) push(l);
  while (written + batchBytes < target) {
    now += meanStepMs * 2 * r();
    const day = new Date(now).getUTCDate();
    const uptime = (now - bootAt) / 1000;
    if (day !== lastDay) {
      lastDay = day;
      // Daily log rotation: both rsyslog and sysklogd flavours of the "restart" trap.
      const ts = stampOf(now);
      push(
        `${ts} ${host} rsyslogd: [origin software="rsyslogd" swVersion="8.2102.0" x-pid="398" x-info="https://www.rsyslog.com"] rsyslogd was HUPed`,
      );
      push(`${ts} ${host} syslogd 1.5.0: restart.`);
      continue;
    }
    const progress = (written + batchBytes) / target;
    const due = SCHEDULE[next];
    if (due !== undefined && progress >= due[0]) {
      next++;
      const kind = due[1];
      const ts = stampOf(now);
      for (const l of incidentLines(r, kind, ts, host, uptime)) push(l);
      if (REBOOTING.has(kind)) {
        // Down for a few minutes, then a new boot.
        now += 60_000 + r() * 240_000;
        bootAt = now;
        boots.push(new Date(now));
        for (const l of bootLines(stampOf(now), host, kind === 'emergency-boot')) push(l);
      }
      continue;
    }
    // Small non-monotonic jitter, as rsyslog writes lines from several inputs.
    const jitter = r() < 0.003 ? 1000 + Math.floor(r() * 1000) : 0;
    push(everyday(r, jitter > 0 ? classicStamp(now - jitter) : stampOf(now), host, uptime));
  }
  flush();
  closeSync(fd);
  const lastAt = new Date(Math.floor(now / 1000) * 1000);
  utimesSync(tmp, lastAt, lastAt);
  renameSync(tmp, path);
  return {
    path,
    bytes: written,
    lines,
    firstAt: new Date(start),
    lastAt,
    boots,
    generatedMs: performance.now() - t0,
    cached: false,
  };
};

/** The benchmark's file for `bytes`, generated once per (size, seed, generator version) in the temp dir. */
export const ensureSyslogBenchFile = (bytes: number, seed = 20260503): SyslogGenResult => {
  const path = join(tmpdir(), `opsbot-syslog-bench-v${GENERATOR_VERSION}-${seed}-${bytes}.log`);
  const meta = `${path}.json`;
  if (existsSync(path) && existsSync(meta)) {
    const m = JSON.parse(readFileSync(meta, 'utf8')) as {
      bytes: number;
      lines: number;
      firstAt: string;
      lastAt: string;
      boots: string[];
    };
    if (statSync(path).size === m.bytes) {
      return {
        path,
        bytes: m.bytes,
        lines: m.lines,
        firstAt: new Date(m.firstAt),
        lastAt: new Date(m.lastAt),
        boots: m.boots.map((b) => new Date(b)),
        generatedMs: 0,
        cached: true,
      };
    }
  }
  const res = generateSyslogFile(path, { bytes, seed });
  const json = JSON.stringify({
    bytes: res.bytes,
    lines: res.lines,
    firstAt: res.firstAt.toISOString(),
    lastAt: res.lastAt.toISOString(),
    boots: res.boots.map((b) => b.toISOString()),
  });
  const fd = openSync(meta, 'w');
  writeSync(fd, json);
  closeSync(fd);
  return res;
};
