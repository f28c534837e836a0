import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { parseSerialOutput } from '../../../src/playbooks/why-reboot/serial.js';
import { fixturePath } from './helpers.js';

const corpus = (name: string): { contents: string; start: string } =>
  JSON.parse(gunzipSync(readFileSync(fixturePath(name))).toString('utf8'));

describe('parseSerialOutput on real Debian 11 boots (gcpdiag)', () => {
  it.each([
    ['gce2-serial-valid-linux-ssh.json.gz', '2023-11-17T04:03:43.108Z'],
    ['gce2-serial-faulty-linux-ssh.json.gz', '2023-11-17T04:03:44.139Z'],
  ])(
    '%s: one boot (the raw banner and its syslog copy are the same boot), dated from the kernel RTC line',
    (file, bootAt) => {
      const s = corpus(file);
      const r = parseSerialOutput(s.contents, {
        referenceDate: new Date('2026-11-01T00:00:00Z'),
        startOffset: Number(s.start),
      });
      expect(r.boots).toBe(1);
      const boots = r.events.filter((e) => e.signal === 'boot');
      expect(boots).toHaveLength(1);
      expect(boots[0]?.at.toISOString()).toBe(bootAt); // rtc_cmos "setting system clock to ..." minus its kernel offset
      expect(boots[0]?.timeInferred).toBe(false);
      expect(boots[0]?.ref).toMatch(/^serial@\d+$/);
      // boot noise ("Power Button", shutdown-scripts unit) is not a shutdown
      expect(r.events.filter((e) => e.signal !== 'boot')).toEqual([]);
    },
  );
});

describe('parseSerialOutput: time inference', () => {
  const previousBoot = [
    '[    0.000000] Linux version 5.10.0-28-cloud-amd64 (debian-kernel@lists.debian.org)',
    '[    1.200000] EXT4-fs (sda1): mounted filesystem',
    'May  3 09:00:05 web-1 kernel: [    0.000000] Linux version 5.10.0-28-cloud-amd64 (debian-kernel@lists.debian.org)',
    'May  3 09:00:06 web-1 systemd[1]: Started nginx.',
    '[36000.500000] Out of memory: Killed process 4242 (java) total-vm:9000000kB',
    '[36001.000000] Kernel panic - not syncing: Out of memory and no killable processes...',
  ];
  const lastBoot = [
    '\u001b[2J\u001b[01;01HBdsDxe: starting Boot0001 "UEFI Google PersistentDisk "',
    '[    0.000000] Linux version 5.10.0-28-cloud-amd64 (debian-kernel@lists.debian.org)',
    '[    0.000000] Command line: BOOT_IMAGE=/boot/vmlinuz-5.10.0-28-cloud-amd64 root=UUID=abc ro',
    '[\u001b[0;32m  OK  \u001b[0m] Reached target \u001b[0;1;39mEmergency Mode\u001b[0m.',
  ];

  it('dates an earlier boot from its year-less syslog copy and the last one from lastStartTimestamp, and says so', () => {
    const r = parseSerialOutput([...previousBoot, ...lastBoot].join('\n'), {
      referenceDate: new Date('2026-05-04T00:00:00Z'),
      lastStartTimestamp: '2026-05-03T19:05:00.000-07:00',
    });
    expect(r.boots).toBe(2);
    const summary = r.events.map((e) => `${e.at.toISOString()} ${e.signal} ${e.timeInferred}`);
    expect(summary).toEqual([
      '2026-05-03T09:00:05.000Z boot true',
      '2026-05-03T19:00:05.500Z oom true', // boot anchor + kernel offset
      '2026-05-03T19:00:06.000Z kernel-panic true',
      '2026-05-04T02:05:00.000Z boot true', // lastStartTimestamp
      '2026-05-04T02:05:00.000Z emergency-shell true', // no time of its own: dated from the boot
    ]);
    expect(r.notes.join(' ')).toMatch(/year-less syslog lines \(year 2026 and UTC assumed\)/);
    expect(r.notes.join(' ')).toMatch(/lastStartTimestamp 2026-05-03T19:05:00.000-07:00/);
    expect(r.events.every((e) => e.source === 'serial-console' && !e.text.includes('\u001b'))).toBe(true);
  });

  it('leaves lines it cannot date out, and counts them', () => {
    const r = parseSerialOutput(lastBoot.join('\n'), { referenceDate: new Date('2026-05-04T00:00:00Z') });
    expect(r.events).toEqual([]);
    expect(r.undated).toBe(2);
    expect(r.notes.join(' ')).toMatch(/no wall-clock time/);
  });
});
