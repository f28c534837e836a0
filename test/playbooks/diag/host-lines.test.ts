import { describe, expect, it } from 'vitest';
import {
  classifyHostLine,
  deviceOfLine,
  HOST_LINES,
  interfaceOfLine,
  parseOomVictim,
} from '../../../src/playbooks/diag/host-lines.js';
import { guestFilterRegexOf } from '../../../src/playbooks/why-reboot/guest-log.js';

/** Kernel lines as real Debian/Ubuntu GCE guests print them (dmesg / syslog), and the noise around them. */
const LINES: readonly (readonly [string, string | null])[] = [
  [
    'kernel: [77112.450118] blk_update_request: I/O error, dev sdb, sector 83886080 op 0x1:(WRITE) flags 0x800 phys_seg 32 prio class 0',
    'io-error',
  ],
  [
    'kernel: [77112.450902] Buffer I/O error on dev sdb1, logical block 10485504, lost async page write',
    'io-error',
  ],
  [
    'kernel: [ 9001.2] EXT4-fs error (device sda1): ext4_find_entry:1455: inode #2: comm nginx: reading directory lblock 0',
    'fs-error',
  ],
  ['kernel: [ 9001.3] EXT4-fs (sda1): Remounting filesystem read-only', 'fs-error'],
  [
    'kernel: [ 9002.0] XFS (sdc1): Corruption of in-memory data detected.  Shutting down filesystem',
    'fs-error',
  ],
  ['kernel: [    3.1] XFS (sdc1): Mounting V5 Filesystem', null],
  ['kernel: [52001.1] virtio_net virtio1 ens4: Link is Down', 'link-down'],
  ['kernel: [52002.1] gve 0000:00:04.0 ens4: NIC Link is Up', 'link-up'],
  ['kernel: [ 8000.0] nf_conntrack: nf_conntrack: table full, dropping packet', 'conntrack-full'],
  [
    'kernel: [ 8000.1] TCP: request_sock_TCP: Possible SYN flooding on port 443. Sending cookies.  Check SNMP counters.',
    'syn-flood',
  ],
  ['kernel: [ 7000.0] mce: [Hardware Error]: Machine check events logged', 'hardware-error'],
  [
    'kernel: [86412.3] Out of memory: Killed process 4242 (java) total-vm:9437184kB, anon-rss:7340032kB, file-rss:2048kB',
    'oom',
  ],
  ['kernel: [77230.1] INFO: task postgres:3121 blocked for more than 120 seconds.', 'lockup'],
  [
    'nginx[811]: 2026/11/20 10:41:00 [crit] open() "/var/log/nginx/a.log" failed (28: No space left on device)',
    'disk-full',
  ],
  ['CRON[2231]: (root) CMD (   cd / && run-parts --report /etc/cron.hourly)', null],
  ['app[99]: GET /api/links?filter=table full text search 200', null],
];

describe('host-health guest lines', () => {
  it('classifies kernel host-health lines on top of the restart lines, and leaves noise alone', () => {
    for (const [line, signal] of LINES) expect(classifyHostLine(line), line).toBe(signal);
  });

  it('every classified line holds an anchor, so the Cloud Logging prefilter never drops one', () => {
    const re = new RegExp(guestFilterRegexOf(HOST_LINES.anchors).slice('(?i)'.length), 'i');
    for (const [line, signal] of LINES) if (signal) expect(re.test(line), line).toBe(true);
    expect(guestFilterRegexOf(HOST_LINES.anchors)).not.toMatch(/\\|"/);
  });

  it('reads the OOM victim, the device of an I/O error and the interface of a link change', () => {
    expect(parseOomVictim(LINES[11]?.[0] ?? '')).toEqual({
      pid: 4242,
      process: 'java',
      rssKb: 7342080,
      cgroup: false,
    });
    expect(parseOomVictim('Memory cgroup out of memory: Killed process 77 (node) total-vm:1kB')?.cgroup).toBe(
      true,
    );
    expect(parseOomVictim('java invoked oom-killer: gfp_mask=0x100cca')).toBeNull();
    expect(deviceOfLine(LINES[0]?.[0] ?? '')).toBe('sdb');
    expect(deviceOfLine(LINES[1]?.[0] ?? '')).toBe('sdb1');
    expect(interfaceOfLine(LINES[6]?.[0] ?? '')).toBe('ens4');
    expect(interfaceOfLine(LINES[7]?.[0] ?? '')).toBe('ens4');
  });
});
