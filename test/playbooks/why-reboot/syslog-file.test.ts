import { mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSyslogFile, mulberry32, type SyslogGenResult } from '../../../bench/lib/syslog-gen.js';
import { AppError } from '../../../src/core/errors.js';
import { scanSyslogFile } from '../../../src/playbooks/why-reboot/syslog-file.js';
import type { GuestEvent } from '../../../src/playbooks/why-reboot/types.js';

const dir = mkdtempSync(join(tmpdir(), 'opsbot-syslog-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A RHEL 9 /var/log/messages around a `sudo reboot`, with the boot-time traps after it. */
const RHEL_MESSAGES = [
  'Jan  4 09:59:58 rhel-9 systemd[1]: Started Session 12 of User alice.',
  'Jan  4 10:00:01 rhel-9 sudo[2211]:   alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/sbin/reboot',
  'Jan  4 10:00:01 rhel-9 systemd-logind[812]: System is rebooting.',
  'Jan  4 10:00:01 rhel-9 systemd[1]: Stopping Google Compute Engine Shutdown Scripts...',
  'Jan  4 10:00:02 rhel-9 systemd[1]: Reached target Shutdown.',
  'Jan  4 10:00:02 rhel-9 rsyslogd[1021]: [origin software="rsyslogd" swVersion="8.2310.0-4.el9" x-pid="1021" x-info="https://www.rsyslog.com"] exiting on signal 15.',
  'Jan  4 10:01:30 rhel-9 kernel: Linux version 5.14.0-362.8.1.el9_3.x86_64 (mockbuild@x86-64-02.build.eng.rdu2.redhat.com) (gcc (GCC) 11.4.1 20230605 (Red Hat 11.4.1-2)) #1 SMP PREEMPT_DYNAMIC Tue Oct 3 11:12:36 EDT 2023',
  'Jan  4 10:01:30 rhel-9 kernel: Command line: BOOT_IMAGE=(hd0,gpt2)/boot/vmlinuz-5.14.0-362.8.1.el9_3.x86_64 root=UUID=2c3e ro console=ttyS0,38400n8',
  'Jan  4 10:01:30 rhel-9 kernel: input: Power Button as /devices/LNXSYSTM:00/LNXPWRBN:00/input/input0',
  'Jan  4 10:01:30 rhel-9 kernel: ACPI: Power Button [PWRF]',
  'Jan  4 10:01:35 rhel-9 systemd[1]: Finished Google Compute Engine Shutdown Scripts.',
  'Jan  4 10:01:35 rhel-9 systemd[1]: Finished Update UTMP about System Boot/Shutdown.',
  'Jan  5 03:12:01 rhel-9 rsyslogd[1021]: [origin software="rsyslogd" swVersion="8.2310.0-4.el9" x-pid="1021" x-info="https://www.rsyslog.com"] rsyslogd was HUPed',
  'Jan  5 03:12:01 rhel-9 syslogd 1.5.0: restart.',
];

/** A Debian /var/log/syslog with RFC 3339 timestamps (rsyslog high precision) around a Compute Engine stop. */
const DEBIAN_RFC3339 = [
  '2026-05-03T23:31:50.100000+00:00 web-1 systemd-logind[456]: Power key pressed.',
  '2026-05-03T23:31:50.200000+00:00 web-1 systemd-logind[456]: System is powering down.',
  '2026-05-03T23:31:51.000000+00:00 web-1 systemd[1]: Reached target System Shutdown.',
  '2026-05-03T23:35:02.000000+00:00 web-1 kernel: [    0.000000] Linux version 5.10.0-26-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP Debian 5.10.197-1',
  '2026-05-03T23:35:09.000000+00:00 web-1 systemd[1]: Started Unattended Upgrades Shutdown.',
];

const write = (name: string, lines: readonly string[], eol = '\n'): string => {
  const p = join(dir, name);
  writeFileSync(p, lines.join(eol) + eol);
  return p;
};

const brief = (es: readonly GuestEvent[]) => es.map((e) => `${e.at.toISOString()} ${e.signal} ${e.ref}`);

describe('scanSyslogFile on small real-looking files', () => {
  it('finds the reboot story in a RHEL /var/log/messages and ignores the traps', async () => {
    const path = write('messages', RHEL_MESSAGES);
    const r = await scanSyslogFile(path, { referenceDate: new Date('2026-01-06T00:00:00Z') });
    expect(brief(r.events)).toEqual([
      '2026-01-04T10:00:01.000Z reboot-request messages:2',
      '2026-01-04T10:00:01.000Z reboot-request messages:3',
      '2026-01-04T10:00:02.000Z shutdown messages:5',
      '2026-01-04T10:00:02.000Z shutdown messages:6',
      '2026-01-04T10:01:30.000Z boot messages:7',
      '2026-01-04T10:01:30.000Z boot messages:8',
    ]);
    expect(r.events.every((e) => e.source === 'syslog-file' && e.timeInferred)).toBe(true);
    expect(r.events[0]?.text).toBe(RHEL_MESSAGES[1]);
    expect(r.linesScanned).toBe(RHEL_MESSAGES.length);
    expect(r.bytesScanned).toBe(readFileSync(path).length);
    expect(r.notes.join(' ')).toMatch(/no year: assumed 2026 \(UTC\)/);
  });

  it('infers the previous year for December lines when the file was written in January', async () => {
    const lines = [
      'Dec 31 23:59:58 web-1 kernel: Kernel panic - not syncing: Fatal exception',
      ...RHEL_MESSAGES,
    ];
    const r = await scanSyslogFile(write('messages-rollover', lines), {
      referenceDate: new Date('2026-01-06T00:00:00Z'),
    });
    expect(r.events[0]?.at.toISOString()).toBe('2025-12-31T23:59:58.000Z');
    expect(r.events[0]?.signal).toBe('kernel-panic');
    expect(r.notes.join(' ')).toContain('assumed 2025, 2026');
  });

  it('reads RFC 3339 Debian syslog with exact times, CRLF line ends too', async () => {
    for (const eol of ['\n', '\r\n']) {
      const r = await scanSyslogFile(write(`syslog${eol.length}`, DEBIAN_RFC3339, eol), {
        referenceDate: new Date('2020-01-01T00:00:00Z'), // irrelevant: the lines carry their year and zone
      });
      expect(r.events.map((e) => e.signal)).toEqual([
        'poweroff-request',
        'poweroff-request',
        'shutdown',
        'boot',
      ]);
      expect(r.events.every((e) => !e.timeInferred)).toBe(true);
      expect(r.events[3]?.at.toISOString()).toBe('2026-05-03T23:35:02.000Z');
      expect(r.events[0]?.text).toBe(DEBIAN_RFC3339[0]);
    }
  });

  it('reads gzip by its magic bytes, whatever the name, with line-number refs', async () => {
    const plain = write('messages-plain', RHEL_MESSAGES);
    const gzPath = join(dir, 'messages-20260105'); // logrotate names rotated files without .gz until compressed
    writeFileSync(gzPath, gzipSync(readFileSync(plain)));
    const opts = { referenceDate: new Date('2026-01-06T00:00:00Z') };
    const a = await scanSyslogFile(plain, opts);
    const b = await scanSyslogFile(gzPath, opts);
    expect(b.events.map((e) => [e.at, e.signal, e.text])).toEqual(
      a.events.map((e) => [e.at, e.signal, e.text]),
    );
    expect(b.events[0]?.ref).toBe('messages-20260105:2');
    expect(b.linesScanned).toBe(RHEL_MESSAGES.length);
  });

  it('keeps the most recent events when there are more than maxEvents, and says so', async () => {
    const lines = Array.from(
      { length: 50 },
      (_, i) =>
        `Jan  4 10:${String(i).padStart(2, '0')}:00 web-1 kernel: Out of memory: Killed process ${1000 + i} (java)`,
    );
    const r = await scanSyslogFile(write('ooms', lines), {
      referenceDate: new Date('2026-01-06T00:00:00Z'),
      maxEvents: 7,
    });
    expect(r.events.map((e) => e.ref)).toEqual([
      'ooms:44',
      'ooms:45',
      'ooms:46',
      'ooms:47',
      'ooms:48',
      'ooms:49',
      'ooms:50',
    ]);
    expect(r.notes.join(' ')).toContain('50 matching lines; kept the last 7');
  });

  it('trims quoted text to 500 characters', async () => {
    const long = `Jan  4 10:00:00 web-1 app[1]: write failed: No space left on device ${'x'.repeat(2000)}`;
    const r = await scanSyslogFile(write('long', [long]), {
      referenceDate: new Date('2026-01-06T00:00:00Z'),
    });
    expect(r.events[0]?.signal).toBe('disk-full');
    expect(r.events[0]?.text.length).toBeLessThanOrEqual(500);
  });

  it('reports a missing file as not_found', async () => {
    await expect(scanSyslogFile(join(dir, 'nope'), { referenceDate: new Date() })).rejects.toBeInstanceOf(
      AppError,
    );
  });
});

describe('scanSyslogFile with a window on a multi-MB file', () => {
  let gen: SyslogGenResult;
  let all: GuestEvent[];
  let path: string;
  let gzPath: string;
  const opts = () => ({ referenceDate: gen.lastAt });

  beforeAll(async () => {
    path = join(dir, 'big-syslog');
    // ~8 MiB over 3 days across the new year (dense enough that a probe block or a chunk is ~20 minutes of log),
    // several reboots, traps, timestamp jitter.
    gen = generateSyslogFile(path, {
      bytes: 8 * 1024 * 1024,
      seed: 7,
      start: new Date('2025-12-30T12:00:00Z'),
      days: 3,
    });
    const sprinkled = readFileSync(path, 'utf8')
      .split('\n')
      .flatMap((l, i) => (i % 997 === 500 ? ['  (continuation line without a timestamp)', l] : [l]))
      .join('\n');
    writeFileSync(path, sprinkled);
    gzPath = join(dir, 'big-syslog.1.gz');
    writeFileSync(gzPath, gzipSync(Buffer.from(sprinkled)));
    all = (await scanSyslogFile(path, opts())).events;
  });

  it('finds every incident of the generated file (brute-force baseline sanity)', () => {
    const kinds = new Set(all.map((e) => e.signal));
    for (const k of [
      'boot',
      'shutdown',
      'reboot-request',
      'poweroff-request',
      'kernel-panic',
      'oom',
      'lockup',
      'disk-full',
      'emergency-shell',
    ])
      expect(kinds.has(k as GuestEvent['signal']), k).toBe(true);
    expect(all.filter((e) => e.text.includes('Linux version')).length).toBe(gen.boots.length);
    expect(new Set(all.map((e) => e.at.getUTCFullYear()))).toEqual(new Set([2025, 2026]));
  });

  it('returns exactly the brute-force events for random windows, reading a fraction of the file', async () => {
    const rand = mulberry32(42);
    const span = gen.lastAt.getTime() - gen.firstAt.getTime();
    const size = readFileSync(path).length;
    const fd = openSync(path, 'r');
    for (let i = 0; i < 64; i++) {
      // Windows centred on a boot, ending just after one, starting just before one, or anywhere (often empty).
      const boot = (gen.boots[Math.floor(rand() * gen.boots.length)] as Date).getTime();
      const width = 60_000 + rand() * 3_600_000;
      const edge = 1000 + rand() * 60_000;
      const kind = i % 4;
      const start =
        kind === 0
          ? boot - width / 2
          : kind === 1
            ? boot + edge - width
            : kind === 2
              ? gen.firstAt.getTime() + rand() * span
              : boot - edge;
      const from = new Date(start);
      const to = new Date(start + width);
      const want = all.filter((e) => e.at >= from && e.at <= to);
      // Small reads at the edges put chunk boundaries near the window's ends.
      const chunkBytes = kind % 2 === 1 ? 64 * 1024 : 1024 * 1024;
      const got = await scanSyslogFile(path, { ...opts(), window: { from, to }, chunkBytes });
      expect(
        got.events.map((e) => [e.at.toISOString(), e.signal, e.text]),
        `${from.toISOString()}..${to.toISOString()}`,
      ).toEqual(want.map((e) => [e.at.toISOString(), e.signal, e.text]));
      expect(got.bytesScanned).toBeLessThan(size / 4);
      // Refs after a seek are byte offsets of the quoted line.
      for (const e of got.events) {
        const m = /@(\d+)$/.exec(e.ref);
        expect(m, e.ref).not.toBeNull();
        const b = Buffer.alloc(Buffer.byteLength(e.text));
        readSync(fd, b, 0, b.length, Number(m?.[1]));
        expect(b.toString('utf8')).toBe(e.text);
      }
    }
  });

  it('windows a gzip file by streaming and gets the same events', async () => {
    const boot = gen.boots[2] as Date;
    const window = { from: new Date(boot.getTime() - 3_600_000), to: new Date(boot.getTime() + 3_600_000) };
    const plain = await scanSyslogFile(path, { ...opts(), window });
    const gz = await scanSyslogFile(gzPath, { ...opts(), window });
    expect(plain.events.length).toBeGreaterThan(0);
    expect(gz.events.map((e) => e.text)).toEqual(plain.events.map((e) => e.text));
    expect(gz.events[0]?.ref).toMatch(/^big-syslog\.1\.gz:\d+$/);
    expect(gz.notes.join(' ')).toContain('gzip');
  });

  it('gives the same events, refs and counts on several threads as on one (ranges cut mid-line)', async () => {
    const one = await scanSyslogFile(path, { ...opts(), threads: 1 });
    expect(one.events).toEqual(all);
    for (const threads of [2, 3, 5]) {
      // 64 KiB reads: range starts and read boundaries fall inside lines.
      const par = await scanSyslogFile(path, { ...opts(), threads, chunkBytes: 64 * 1024 });
      expect(par.events, `${threads} threads`).toEqual(one.events);
      expect(par.linesScanned).toBe(one.linesScanned);
      expect(par.bytesScanned).toBe(one.bytesScanned);
      expect(par.notes).toEqual(one.notes);
    }
    // `file:line` refs point at the quoted line.
    const lines = readFileSync(path, 'utf8').split('\n');
    for (const e of one.events) {
      const n = Number(/:(\d+)$/.exec(e.ref)?.[1]);
      expect(lines[n - 1], e.ref).toBe(e.text);
    }
  });

  it('merges workers in order when every line matches and the last has no newline', async () => {
    const n = 40_000; // ~3.5 MiB: each worker sends several batches and waits for the merge to take them
    const lines = Array.from(
      { length: n },
      (_, i) =>
        `Jan  4 ${String(10 + Math.floor(i / 3600)).padStart(2, '0')}:${String(Math.floor(i / 60) % 60).padStart(2, '0')}:${String(i % 60).padStart(2, '0')} web-1 systemd-logind[456]: Power key pressed (${i}).`,
    );
    const p = join(dir, 'all-match');
    writeFileSync(p, lines.join('\n')); // no final newline
    const base = { referenceDate: new Date('2026-01-06T00:00:00Z'), maxEvents: n };
    const one = await scanSyslogFile(p, { ...base, threads: 1 });
    const par = await scanSyslogFile(p, { ...base, threads: 3, chunkBytes: 64 * 1024 });
    expect(one.events).toHaveLength(n);
    expect(one.linesScanned).toBe(n);
    expect(par.events).toEqual(one.events);
    expect(par.linesScanned).toBe(n);
    expect(par.events[n - 1]?.ref).toBe(`all-match:${n}`);
    expect(par.events[n - 1]?.text).toBe(lines[n - 1]);
  });

  it('scans a long window between its two seek points on several threads, with the same events', async () => {
    const from = gen.boots[1] as Date;
    const to = new Date((gen.boots[gen.boots.length - 1] as Date).getTime() + 60_000);
    const window = { from, to };
    const one = await scanSyslogFile(path, { ...opts(), window, threads: 1 });
    const par = await scanSyslogFile(path, { ...opts(), window, threads: 3, scanOnThisThread: false });
    expect(one.events.length).toBeGreaterThan(10);
    expect(one.stats?.segments).toBe(0);
    expect(par.stats?.workerSegments).toBeGreaterThan(0);
    expect(par.stats?.workerSegments).toBe(par.stats?.segments);
    expect(par.events).toEqual(one.events);
    expect(par.notes).toEqual(one.notes);
    expect(one.events).toEqual(
      all
        .filter((e) => e.at >= from && e.at <= to)
        .map((e) => ({ ...e, ref: expect.stringMatching(/^big-syslog@\d+$/) })),
    );
    // Both read from a little before the window's start to a little after its end, not the whole file.
    const size = readFileSync(path).length;
    expect(par.bytesScanned).toBeLessThan(size);
    expect(Math.abs(par.bytesScanned - one.bytesScanned)).toBeLessThan(2 * 1024 * 1024);
    const fd = openSync(path, 'r');
    for (const e of par.events) {
      const b = Buffer.alloc(Buffer.byteLength(e.text));
      readSync(fd, b, 0, b.length, Number(/@(\d+)$/.exec(e.ref)?.[1]));
      expect(b.toString('utf8')).toBe(e.text);
    }
  });

  it('handles windows before, after and across the whole file', async () => {
    const before = { from: new Date('2025-01-01T00:00:00Z'), to: new Date('2025-01-02T00:00:00Z') };
    const after = { from: new Date('2026-06-01T00:00:00Z'), to: new Date('2026-06-02T00:00:00Z') };
    const whole = { from: new Date('2025-01-01T00:00:00Z'), to: new Date('2027-01-01T00:00:00Z') };
    expect((await scanSyslogFile(path, { ...opts(), window: before })).events).toEqual([]);
    const a = await scanSyslogFile(path, { ...opts(), window: after });
    expect(a.events).toEqual([]);
    expect(a.bytesScanned).toBeLessThan(256 * 1024);
    const w = await scanSyslogFile(path, { ...opts(), window: whole });
    expect(w.events.map((e) => e.text)).toEqual(all.map((e) => e.text));
  });

  it('seeks correctly in a non-UTC zone', async () => {
    const tz = 'Australia/Sydney';
    const full = (await scanSyslogFile(path, { ...opts(), timeZone: tz })).events;
    const boot = full.find((e, i) => i > 10 && e.signal === 'boot') as GuestEvent;
    const window = { from: new Date(boot.at.getTime() - 600_000), to: new Date(boot.at.getTime() + 600_000) };
    const got = await scanSyslogFile(path, { ...opts(), timeZone: tz, window });
    expect(got.events.map((e) => e.text)).toEqual(
      full.filter((e) => e.at >= window.from && e.at <= window.to).map((e) => e.text),
    );
    // Sydney is ahead of UTC: the same wall clock is an earlier instant.
    const utc = all.find((e) => e.text === boot.text) as GuestEvent;
    expect(utc.at.getTime() - boot.at.getTime()).toBeGreaterThanOrEqual(10 * 3_600_000);
  });
});
