import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../../src/core/errors.js';
import {
  classifyGuestLine,
  GUEST_LOG_ANCHORS,
  GUEST_LOG_FILTER_REGEX,
  parseSyslogLine,
  parseSyslogTimestamp,
} from '../../../src/playbooks/why-reboot/guest-log.js';
import type { GuestSignal } from '../../../src/playbooks/why-reboot/types.js';

const CORPUS = new URL('../../../../shared/corpus/gcpdiag/', import.meta.url);
const serial = (name: string): string =>
  (
    JSON.parse(
      readFileSync(new URL(`gce2-compute-serial-port-output-${name}-linux-ssh.json`, CORPUS), 'utf8'),
    ) as {
      contents: string;
    }
  ).contents;

/** Real-looking lines: Debian /var/log/syslog, RHEL /var/log/messages, RFC 3339 rsyslog, bare messages. */
const POSITIVES: readonly (readonly [GuestSignal, string])[] = [
  [
    'boot',
    'May  3 23:31:52 web-1 kernel: [    0.000000] Linux version 5.10.0-26-cloud-amd64 (debian-kernel@lists.debian.org) (gcc-10 (Debian 10.2.1-6) 10.2.1 20210110) #1 SMP Debian 5.10.197-1 (2023-09-29)',
  ],
  [
    'boot',
    'May  3 23:31:52 rhel-9 kernel: Command line: BOOT_IMAGE=(hd0,gpt2)/vmlinuz-5.14.0-362.8.1.el9_3.x86_64 root=UUID=5bd2 ro console=ttyS0,38400n8',
  ],
  [
    'boot',
    'Linux version 4.18.0-513.5.1.el8_9.x86_64 (mockbuild@x86-vm-07.build.eng.bos.redhat.com) (gcc version 8.5.0)',
  ],
  ['shutdown', 'May  3 23:31:52 web-1 systemd[1]: Reached target System Shutdown.'],
  ['shutdown', 'May  3 23:31:52 rhel-9 systemd[1]: Reached target Shutdown.'],
  ['shutdown', 'May  3 23:31:52 rhel-9 systemd[1]: Reached target Late Shutdown Services.'],
  ['shutdown', '[  123.456789] systemd-shutdown[1]: Syncing filesystems and block devices.'],
  [
    'shutdown',
    'May  3 23:31:52 web-1 rsyslogd: [origin software="rsyslogd" swVersion="8.2102.0" x-pid="398" x-info="https://www.rsyslog.com"] exiting on signal 15.',
  ],
  ['shutdown', '2026-05-03T23:31:52.123456+00:00 web-1 systemd-journald[180]: Journal stopped'],
  [
    'shutdown',
    'May  3 23:31:52 web-1 google_metadata_script_runner[3858]: Starting shutdown scripts (version 20231115.00).',
  ],
  ['reboot-request', 'May  3 23:31:52 web-1 systemd-logind[456]: System is rebooting.'],
  ['reboot-request', '[ 4567.123456] reboot: Restarting system'],
  ['reboot-request', 'May  3 23:31:52 rhel-9 systemd[1]: Reached target Reboot.'],
  ['reboot-request', '[  124.001] systemd-shutdown[1]: Rebooting.'],
  [
    'reboot-request',
    'May  3 23:31:52 web-1 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/sbin/reboot',
  ],
  [
    'reboot-request',
    'May  3 23:31:52 web-1 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/sbin/shutdown -r now',
  ],
  ['reboot-request', 'Broadcast message from root@web-1 on pts/0: The system is going down for reboot NOW!'],
  ['poweroff-request', 'May  3 23:31:52 web-1 systemd-logind[456]: Power key pressed.'],
  ['poweroff-request', 'May  3 23:31:52 web-1 systemd-logind[456]: System is powering down.'],
  ['poweroff-request', '[ 4567.123456] reboot: Power down'],
  ['poweroff-request', 'May  3 23:31:52 rhel-9 systemd[1]: Reached target Power-Off.'],
  ['poweroff-request', 'May  3 23:31:52 web-1 systemd-logind[456]: Powering Off...'],
  [
    'poweroff-request',
    'May  3 23:31:52 web-1 sudo:      bob : TTY=pts/1 ; PWD=/root ; USER=root ; COMMAND=/usr/sbin/poweroff',
  ],
  [
    'kernel-panic',
    'May  3 23:31:52 web-1 kernel: [373905.656536] Kernel panic - not syncing: Fatal exception in interrupt',
  ],
  [
    'kernel-panic',
    '[  12.345678] ---[ end Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0) ]---',
  ],
  [
    'oom',
    'May  3 23:31:52 rhel-9 kernel: Out of memory: Killed process 2541 (java) total-vm:3247890kB, anon-rss:1450000kB, file-rss:0kB',
  ],
  [
    'oom',
    'May  3 23:31:52 rhel-7 kernel: Out of memory: Kill process 2541 (java) score 912 or sacrifice child',
  ],
  [
    'oom',
    'May  3 23:31:52 web-1 kernel: [115172.902433] node invoked oom-killer: gfp_mask=0x100cca(GFP_HIGHUSER_MOVABLE), order=0, oom_score_adj=0',
  ],
  [
    'oom',
    'May  3 23:31:52 web-1 kernel: Memory cgroup out of memory: Killed process 31379 (worker) total-vm:812345kB',
  ],
  ['oom', 'May  3 23:31:52 web-1 kernel: [373905.656536] Out of memory and no killable processes...'],
  [
    'lockup',
    'May  3 23:31:52 web-1 kernel: [259574.070487] INFO: task jbd2/sda1-8:245 blocked for more than 120 seconds.',
  ],
  [
    'lockup',
    'May  3 23:31:52 web-1 kernel: watchdog: BUG: soft lockup - CPU#1 stuck for 23s! [kworker/1:2:179]',
  ],
  ['lockup', 'May  3 23:31:52 web-1 kernel: NMI watchdog: Watchdog detected hard LOCKUP on cpu 3'],
  [
    'disk-full',
    'May  3 23:31:52 web-1 app[1234]: level=error msg="write /var/lib/app/data.db: no space left on device"',
  ],
  [
    'disk-full',
    "May  3 23:31:52 rhel-9 rsyslogd[1021]: file '/var/log/messages': write error - see https://www.rsyslog.com/solving-problems/ : No space left on device",
  ],
  ['emergency-shell', 'May  3 23:31:52 web-1 systemd[1]: Started Emergency Shell.'],
  ['emergency-shell', 'May  3 23:31:52 rhel-9 systemd[1]: Reached target Emergency Mode.'],
  [
    'emergency-shell',
    'You are in emergency mode. After logging in, type "journalctl -xb" to view system logs',
  ],
  [
    'emergency-shell',
    '[   10.1] dracut-initqueue[345]: Entering emergency mode. Exit the shell to continue.',
  ],
  ['emergency-shell', 'May  3 23:31:52 rhel-9 systemd[1]: Started Rescue Shell.'],
];

/** Lines that mention a keyword but mean no restart (FACTS.md traps and lookalikes). */
const NEGATIVES: readonly string[] = [
  'May  3 23:31:52 web-1 systemd[1]: Starting Google Compute Engine Shutdown Scripts...',
  'May  3 23:31:52 web-1 systemd[1]: Started Google Compute Engine Shutdown Scripts.',
  'May  3 23:31:52 web-1 systemd[1]: Finished Google Compute Engine Shutdown Scripts.',
  '[[0;32m  OK  [0m] Finished [0;1;39mGoogle Compute Engine Shutdown Scripts[0m.',
  'May  3 23:31:52 web-1 kernel: [    2.817742] input: Power Button as /devices/LNXSYSTM:00/LNXPWRBN:00/input/input2',
  'May  3 23:31:52 web-1 kernel: [    2.832340] ACPI: Power Button [PWRF]',
  'May  3 23:31:52 web-1 systemd[1]: Finished Update UTMP about System Boot/Shutdown.',
  'May  3 23:31:52 web-1 systemd[1]: Started Unattended Upgrades Shutdown.',
  'May  3 23:31:52 web-1 syslogd 1.5.0: restart.',
  'May  3 23:31:52 web-1 rsyslogd: [origin software="rsyslogd" swVersion="8.2102.0" x-pid="398" x-info="https://www.rsyslog.com"] rsyslogd was HUPed',
  'May  3 23:31:52 web-1 rsyslogd: [origin software="rsyslogd" swVersion="8.2102.0" x-pid="398" x-info="https://www.rsyslog.com"] start',
  "May  3 23:31:52 web-1 kernel: [    0.323166] thermal_sys: Registered thermal governor 'power_allocator'",
  'May  3 23:31:52 web-1 systemd[1]: Stopping User Login Management...',
  'May  3 23:31:52 web-1 systemd[1]: Reached target Multi-User System.',
  'May  3 23:31:52 web-1 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/grep -i Kernel panic /var/log/syslog',
  'May  3 23:31:52 web-1 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/sbin/shutdown -c',
  'May  3 23:31:52 web-1 systemd[1]: nginx.service: Scheduled restart job, restart counter is at 3.',
  'May  3 23:31:52 web-1 kernel: [    0.000000] Kernel command line panic=10 (no boot image here)',
  'May  3 23:31:52 web-1 CRON[1234]: (root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)',
  '',
];

describe('classifyGuestLine', () => {
  it.each(POSITIVES)('classifies %s: %s', (signal, line) => {
    expect(classifyGuestLine(line)).toBe(signal);
  });

  it('classifies the message part alone (Cloud Logging jsonPayload.message) the same as the whole line', () => {
    for (const [signal, line] of POSITIVES) {
      const parsed = parseSyslogLine(line, { referenceDate: new Date('2026-05-04T00:00:00Z') });
      expect(classifyGuestLine(parsed.message), line).toBe(signal);
    }
  });

  it.each(NEGATIVES.map((l) => [l]))('does not take a trap for a restart: %s', (line) => {
    expect(classifyGuestLine(line)).toBeNull();
  });

  it('finds only boot markers in the real Debian 11 serial console boots (no shutdown, no power-off)', () => {
    for (const name of ['valid', 'faulty']) {
      const contents = serial(name);
      expect(contents).toContain('Power Button');
      expect(contents).toContain('Google Compute Engine Shutdown Scripts');
      const signals = contents.split(/\r?\n/).map(classifyGuestLine);
      const kinds = new Set(signals.filter((s) => s !== null));
      expect([...kinds], name).toEqual(['boot']);
      // The kernel banner and command line, on the console and again as syslog lines.
      expect(signals.filter((s) => s === 'boot').length, name).toBeGreaterThanOrEqual(4);
    }
  });

  it('sees through ANSI colour codes of the serial console', () => {
    expect(
      classifyGuestLine('[\u001b[0;32m  OK  \u001b[0m] Reached target \u001b[0;1;39mSystem Reboot\u001b[0m.'),
    ).toBe('reboot-request');
  });
});

describe('GUEST_LOG_FILTER_REGEX', () => {
  it('is RE2-compatible and needs no escaping inside a quoted Logging filter', () => {
    expect(GUEST_LOG_FILTER_REGEX.startsWith('(?i)')).toBe(true);
    expect(GUEST_LOG_FILTER_REGEX).not.toMatch(/\(\?[=!<]|\\/);
    expect(GUEST_LOG_FILTER_REGEX).not.toContain('"');
    expect(GUEST_LOG_FILTER_REGEX.length).toBeLessThan(1000);
  });

  it('matches every line the classifier classifies (it is a superset prefilter)', () => {
    const re = new RegExp(GUEST_LOG_FILTER_REGEX.slice('(?i)'.length), 'i');
    for (const [, line] of POSITIVES) expect(re.test(line), line).toBe(true);
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom(...'abcdeghiklmnoprstuwy -_=:0123456789'.split('')) }),
        (s) => {
          if (classifyGuestLine(s) !== null) expect(re.test(s)).toBe(true);
        },
      ),
    );
  });

  it('has anchors in lowercase only (the file scanner lowercases before searching)', () => {
    for (const a of GUEST_LOG_ANCHORS) expect(a).toBe(a.toLowerCase());
  });
});

describe('parseSyslogLine', () => {
  const ref = { referenceDate: new Date('2026-05-04T12:00:00Z') };

  it('reads a Debian classic line: time (year inferred), host, program, message', () => {
    const p = parseSyslogLine('May  3 23:31:52 web-1 systemd-logind[456]: System is rebooting.', ref);
    expect(p.at?.toISOString()).toBe('2026-05-03T23:31:52.000Z');
    expect(p.timeInferred).toBe(true);
    expect(p.host).toBe('web-1');
    expect(p.program).toBe('systemd-logind');
    expect(p.message).toBe('System is rebooting.');
  });

  it('reads a RHEL line without pid and a two-digit day', () => {
    const p = parseSyslogLine('Apr 28 09:05:01 rhel-9 kernel: Linux version 5.14.0-362.el9.x86_64', ref);
    expect(p.at?.toISOString()).toBe('2026-04-28T09:05:01.000Z');
    expect(p.program).toBe('kernel');
    expect(p.message).toBe('Linux version 5.14.0-362.el9.x86_64');
  });

  it('reads RFC 3339 with offset exactly (nothing inferred)', () => {
    const p = parseSyslogLine(
      '2026-05-03T23:31:52.123456+02:00 web-1 systemd[1]: Reached target Reboot.',
      ref,
    );
    expect(p.at?.toISOString()).toBe('2026-05-03T21:31:52.123Z');
    expect(p.timeInferred).toBe(false);
    expect(p.program).toBe('systemd');
    expect(p.message).toBe('Reached target Reboot.');
    expect(parseSyslogLine('2026-05-03T23:31:52Z h p: m', ref).at?.toISOString()).toBe(
      '2026-05-03T23:31:52.000Z',
    );
  });

  it('reads ISO without zone in the configured zone, and says it inferred', () => {
    const p = parseSyslogLine('2026-01-15T08:00:00.5 web-1 app[1]: hello', {
      ...ref,
      timeZone: 'Europe/Paris',
    });
    expect(p.at?.toISOString()).toBe('2026-01-15T07:00:00.500Z');
    expect(p.timeInferred).toBe(true);
  });

  it('puts December lines in the previous year when the reference is in January', () => {
    const jan = { referenceDate: new Date('2026-01-05T10:00:00Z') };
    expect(parseSyslogLine('Dec 31 23:59:59 h k: x', jan).at?.toISOString()).toBe('2025-12-31T23:59:59.000Z');
    expect(parseSyslogLine('Jan  1 00:00:01 h k: x', jan).at?.toISOString()).toBe('2026-01-01T00:00:01.000Z');
    // Same month but later than the reference (+1 day tolerance): last year.
    expect(parseSyslogLine('Jan 20 00:00:01 h k: x', jan).at?.toISOString()).toBe('2025-01-20T00:00:01.000Z');
  });

  it('applies a zone with DST to classic timestamps', () => {
    const ctx = { referenceDate: new Date('2026-08-01T00:00:00Z'), timeZone: 'America/New_York' };
    expect(parseSyslogLine('Jul  4 12:00:00 h k: x', ctx).at?.toISOString()).toBe('2026-07-04T16:00:00.000Z');
    expect(parseSyslogLine('Jan  4 12:00:00 h k: x', ctx).at?.toISOString()).toBe('2026-01-04T17:00:00.000Z');
  });

  it('finds a leap year for Feb 29', () => {
    const p = parseSyslogLine('Feb 29 10:00:00 h k: x', { referenceDate: new Date('2026-03-01T00:00:00Z') });
    expect(p.at?.toISOString()).toBe('2024-02-29T10:00:00.000Z');
  });

  it('returns the whole line as message when there is no timestamp', () => {
    const p = parseSyslogLine('[    0.000000] Linux version 5.10.0', ref);
    expect(p).toEqual({
      at: null,
      timeInferred: false,
      host: null,
      program: null,
      message: '[    0.000000] Linux version 5.10.0',
    });
    expect(parseSyslogLine('Foo  3 23:31:52 h k: x', ref).at).toBeNull();
    expect(parseSyslogLine('2026-02-30T10:00:00Z h k: x', ref).at).toBeNull();
  });

  it('rejects an unknown time zone with a clear error', () => {
    expect(() => parseSyslogLine('May  3 23:31:52 h k: x', { ...ref, timeZone: 'Mars/Olympus' })).toThrow(
      AppError,
    );
  });

  it('round-trips any instant of the year before the reference, in UTC and in a DST zone', () => {
    const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
    const refMs = Date.parse('2026-03-10T06:00:00Z');
    fc.assert(
      fc.property(
        fc.integer({ min: refMs - 360 * 86_400_000, max: refMs }),
        fc.constantFrom('UTC', 'Asia/Tokyo'),
        (ms, tz) => {
          const t = Math.floor(ms / 1000) * 1000;
          const f = new Intl.DateTimeFormat('en-US', {
            timeZone: tz,
            hourCycle: 'h23',
            month: 'numeric',
            day: 'numeric',
            hour: '2-digit',
            minute: '2-digit',
            second: '2-digit',
          }).formatToParts(new Date(t));
          const g = (k: string): string => f.find((p) => p.type === k)?.value ?? '';
          const day = g('day').padStart(2, ' ');
          const line = `${months[Number(g('month')) - 1]} ${day} ${g('hour')}:${g('minute')}:${g('second')} host prog[1]: msg`;
          expect(parseSyslogTimestamp(line, refMs, tz)?.ms).toBe(t);
        },
      ),
      { numRuns: 300 },
    );
  });
});
