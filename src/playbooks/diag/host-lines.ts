import { classifyGuestLine, GUEST_LOG_ANCHORS, type GuestLineClassifier } from '../why-reboot/guest-log.js';
import type { GuestSignal } from '../why-reboot/types.js';

/**
 * The guest lines /diag reads: every line /why-reboot classifies (boots, shutdowns, OOM kills, lockups, full
 * disks...) plus the kernel's host-health messages an SRE greps dmesg for: I/O errors, filesystem errors,
 * NIC link changes, a full conntrack table, SYN floods, machine-check (hardware) errors. The same collectors
 * (Cloud Logging query, syslog and journal files, serial console) read them with this classifier.
 */

export type HostSignal =
  | GuestSignal
  | 'io-error'
  | 'fs-error'
  | 'link-down'
  | 'link-up'
  | 'conntrack-full'
  | 'syn-flood'
  | 'hardware-error';

/** Plain lowercase literals (see GUEST_LOG_ANCHORS): every line a HOST rule classifies holds one. */
const HOST_ANCHORS: readonly string[] = [
  'i/o error',
  'ext4-fs error',
  'ext4-fs warning',
  'xfs',
  'remounting filesystem read-only',
  'link is down',
  'link is up',
  'table full',
  'syn flooding',
  'hardware error',
  'machine check',
];

const HOST_RULES: readonly { readonly signal: HostSignal; readonly re: RegExp }[] = [
  { signal: 'io-error', re: /\bi\/o error\b/i },
  { signal: 'fs-error', re: /\bext4-fs error\b/i },
  { signal: 'fs-error', re: /\bremounting filesystem read-only\b/i },
  {
    signal: 'fs-error',
    re: /\bxfs \([^)]+\): (?:.*corruption|metadata i\/o error|.*shutting down filesystem)/i,
  },
  { signal: 'fs-error', re: /\bext4-fs warning\b.*\b(?:error count|remount)/i },
  { signal: 'link-down', re: /\blink is down\b/i },
  { signal: 'link-up', re: /\blink is up\b/i },
  { signal: 'conntrack-full', re: /\bnf_conntrack: (?:nf_conntrack: )?table full, dropping packet/i },
  { signal: 'syn-flood', re: /\bpossible syn flooding on port\b/i },
  { signal: 'hardware-error', re: /\[hardware error\]|\bmachine check (?:exception|events? logged)\b/i },
];

const HOST_ANCHOR_RE = new RegExp(HOST_ANCHORS.map((a) => a.replace(/[/]/g, '\\/')).join('|'));

export const classifyHostLine = (line: string): HostSignal | null => {
  const restart = classifyGuestLine(line);
  if (restart !== null) return restart;
  const lower = line.toLowerCase();
  if (!HOST_ANCHOR_RE.test(lower)) return null;
  for (const rule of HOST_RULES) if (rule.re.test(lower)) return rule.signal;
  return null;
};

export const HOST_LINES: GuestLineClassifier<HostSignal> = {
  anchors: [...GUEST_LOG_ANCHORS, ...HOST_ANCHORS],
  classify: classifyHostLine,
};

export interface OomVictim {
  readonly pid: number;
  readonly process: string;
  /** Resident memory of the victim when it was killed, in kB (anon-rss + file-rss + shmem-rss), if given. */
  readonly rssKb: number | null;
  readonly cgroup: boolean;
}

/**
 * The victim of an OOM kill line: "Out of memory: Killed process 4242 (java) total-vm:..., anon-rss:...kB",
 * "Memory cgroup out of memory: Killed process 4242 (java) ...", "Killed process 4242 (java) ..." (older
 * kernels say "Kill process"). Null for the other OOM lines ("invoked oom-killer", ...).
 */
export const parseOomVictim = (line: string): OomVictim | null => {
  const m = /\bkill(?:ed)? process (\d+) \(([^)]{1,64})\)/i.exec(line);
  if (!m?.[1] || !m[2]) return null;
  const kb = (name: string): number => Number(new RegExp(`${name}:(\\d+)kB`, 'i').exec(line)?.[1] ?? 0);
  const rss = kb('anon-rss') + kb('file-rss') + kb('shmem-rss');
  return {
    pid: Number(m[1]),
    process: m[2],
    rssKb: rss > 0 ? rss : null,
    cgroup: /memory cgroup out of memory/i.test(line),
  };
};

/** The block device a kernel I/O error names: "dev sdb, sector 123", "Buffer I/O error on dev sdb1". */
export const deviceOfLine = (line: string): string | null =>
  /\bdev(?:ice)? ([a-z]+[a-z0-9]*?)(?:,|\s|\)|:|$)/i.exec(line)?.[1] ??
  /\((sd[a-z]+\d*|nvme\d+n\d+(?:p\d+)?|vd[a-z]+\d*)\)/i.exec(line)?.[1] ??
  null;

/** The interface a link change names: "virtio_net virtio1 ens4: Link is Down", "gve ... eth0: NIC Link is Up". */
export const interfaceOfLine = (line: string): string | null =>
  /\b([a-z][a-z0-9]{1,14}): (?:nic )?link is (?:down|up)\b/i.exec(line)?.[1] ?? null;
