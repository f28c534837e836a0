import { assertTimeZone, inferClassicUtcMs, monthIndex, wallTimeToUtcMs } from './syslog-time.js';
import type { GuestSignal } from './types.js';

/**
 * What a guest log line means for /why-reboot, and how to read a syslog line's time.
 *
 * The classifier is used on Cloud Logging `jsonPayload.message` values (which may or may not still carry the
 * `May  3 23:31:52 host prog[pid]:` prefix), on serial-console lines and on syslog files. Its rules are phrases,
 * not single words, because real GCE images print "shutdown" and "Power Button" at every boot (see FACTS.md).
 */

/**
 * Lowercase literals of which every classified line contains at least one: `classifyGuestLine` returns null
 * without one, so any prefilter built from them (a byte search over a file chunk, a Cloud Logging regex) can
 * never drop a line the classifier would keep. Plain letters, spaces, `-`, `_` and `=` only (RE2-, grep- and
 * filter-string-safe).
 */
export const GUEST_LOG_ANCHORS: readonly string[] = [
  'linux version',
  'boot_image=',
  'shutdown',
  'reboot',
  'power',
  'halt',
  'exiting on signal',
  'journal stopped',
  'panic',
  'out of memory',
  'oom-killer',
  'blocked for more than',
  'lockup',
  'no space left',
  'emergency',
  'rescue',
];

/**
 * RE2 regex for a server-side Cloud Logging prefilter, e.g. `jsonPayload.message=~"<this>"`. Case-insensitive via
 * the RE2 `(?i)` flag; no lookaround, no backreference, no backslash (so it needs no escaping inside a quoted
 * filter string). It matches a superset of the lines `classifyGuestLine` classifies (noise included: the
 * classifier drops that client-side).
 */
export const GUEST_LOG_FILTER_REGEX = `(?i)(${GUEST_LOG_ANCHORS.join('|')})`;

const ANCHOR_RE = new RegExp(GUEST_LOG_ANCHORS.join('|'));

/** Lines printed at every boot or by log rotation that mention a keyword but mean no restart. */
const NOISE: readonly RegExp[] = [
  // google-shutdown-scripts.service is started (a no-op) at every boot: "Started/Finished ... Shutdown Scripts".
  /google compute engine shutdown scripts/i,
  // Input device registration at every boot: "input: Power Button as /devices/...", "ACPI: Power Button [PWRF]".
  /\bpower button\b/i,
  // systemd-update-utmp.service at boot: "Finished Update UTMP about System Boot/Shutdown."
  /update utmp about system boot\/shutdown/i,
  // unattended-upgrades-shutdown.service is started at every boot on Debian/Ubuntu.
  /unattended[ -]upgrades[ -]shutdown/i,
  // logrotate: "syslogd 1.5.0: restart.", "rsyslogd: [origin software="rsyslogd" ...] rsyslogd was HUPed".
  /syslogd\b.*\brestart\b/i,
  /\bwas huped\b/i,
];

interface Rule {
  readonly signal: GuestSignal;
  readonly re: RegExp;
  /** A sudo(8) command rule: the only kind that may classify a sudo log line. */
  readonly command?: true;
}

/** First match wins: failures first, then the explicit reboot/poweroff requests, then shutdown, then boot. */
const RULES: readonly Rule[] = [
  { signal: 'kernel-panic', re: /\bkernel panic\b/i },
  { signal: 'oom', re: /\bout of memory: kill(?:ed)? process\b/i },
  { signal: 'oom', re: /\binvoked oom-killer\b/i },
  { signal: 'oom', re: /\bmemory cgroup out of memory\b/i },
  // The kernel's last OOM words before it panics ("Out of memory and no killable processes...").
  { signal: 'oom', re: /\bout of memory and no killable processes\b/i },
  { signal: 'lockup', re: /\bblocked for more than \d+ seconds\b/i },
  { signal: 'lockup', re: /\bsoft lockup\b/i },
  { signal: 'lockup', re: /\bhard lockup\b/i },
  { signal: 'disk-full', re: /\bno space left on device\b/i },
  { signal: 'emergency-shell', re: /\b(?:entering|you are in) (?:emergency|rescue) mode\b/i },
  { signal: 'emergency-shell', re: /\breached target (?:emergency|rescue) mode\b/i },
  { signal: 'emergency-shell', re: /\bstarted (?:emergency|rescue) shell\b/i },
  // Reboot requests: logind, the kernel's last words, systemd targets, shutdown(8) wall messages, sudo.
  { signal: 'reboot-request', re: /\bsystem is rebooting\b/i },
  { signal: 'reboot-request', re: /\breboot: restarting system\b/i },
  { signal: 'reboot-request', re: /\breached target (?:[\w-]+ )*reboot\b/i },
  { signal: 'reboot-request', re: /\bsystemd-shutdown\[\d+\]: rebooting\b/i },
  { signal: 'reboot-request', re: /\b(?:going down for|will) reboot\b/i },
  {
    signal: 'reboot-request',
    command: true,
    re: /\bcommand=\S*\/(?:reboot\b|shutdown (?:\S+ )*-[a-z]*r|systemctl (?:\S+ )*reboot\b|init 6\b|telinit 6\b)/i,
  },
  // Power-off requests: "Power key pressed" is what a Compute Engine stop (ACPI soft off) looks like inside.
  { signal: 'poweroff-request', re: /\bsystem is powering down\b/i },
  { signal: 'poweroff-request', re: /\bpower key pressed\b/i },
  { signal: 'poweroff-request', re: /\breboot: power down\b/i },
  { signal: 'poweroff-request', re: /\breached target (?:[\w-]+ )*power-?off\b/i },
  { signal: 'poweroff-request', re: /\bpowering off\b/i },
  { signal: 'poweroff-request', re: /\b(?:going down for|will) (?:power-?off|halt|system halt)\b/i },
  {
    signal: 'poweroff-request',
    command: true,
    re: /\bcommand=\S*\/(?:poweroff\b|halt\b|shutdown\b(?! (?:\S+ )*-[a-z]*[rc])|systemctl (?:\S+ )*(?:poweroff|halt)\b|init 0\b)/i,
  },
  // An orderly shutdown in progress.
  { signal: 'shutdown', re: /\breached target (?:[\w-]+ )*shutdown(?: services)?\b/i },
  { signal: 'shutdown', re: /\bsystemd-shutdown\b/i },
  { signal: 'shutdown', re: /syslogd\b.*\bexiting on signal \d+/i },
  { signal: 'shutdown', re: /\bjournal stopped\b/i },
  { signal: 'shutdown', re: /\bsystem is halting\b/i },
  // google_metadata_script_runner runs the shutdown scripts only when the guest is going down.
  { signal: 'shutdown', re: /\bstarting shutdown scripts\b/i },
  // A new boot: the kernel banner and its command line.
  { signal: 'boot', re: /\blinux version \d/i },
  { signal: 'boot', re: /\bcommand line: boot_image=/i },
];

// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes of the serial console
const ANSI_RE = /\u001b\[[0-9;?]*[a-zA-Z]/g;

/** The restart-relevant meaning of one guest log line (a message or a whole syslog line), or null. */
export const classifyGuestLine = (message: string): GuestSignal | null => {
  let text = message;
  if (text.includes('\u001b')) text = text.replace(ANSI_RE, '');
  const lower = text.toLowerCase();
  if (!ANCHOR_RE.test(lower)) return null;
  for (const noise of NOISE) if (noise.test(lower)) return null;
  // A sudo line quotes a command line: `sudo grep 'Kernel panic' ...` is no panic, `sudo reboot` is a request.
  const sudo = lower.includes('; command=');
  for (const rule of RULES) {
    if (sudo && rule.command !== true) continue;
    if (rule.re.test(lower)) return rule.signal;
  }
  return null;
};

/**
 * What a collector asks of a guest-line classifier: `anchors` (lowercase literals of which every classified
 * line holds one: the prefilter of the syslog scan and of the Cloud Logging query) and the rules. /why-reboot
 * uses RESTART_LINES; /diag a superset of it (src/playbooks/diag/host-lines.ts), through the same collectors.
 */
export interface GuestLineClassifier<S extends string = GuestSignal> {
  readonly anchors: readonly string[];
  classify(line: string): S | null;
}

export const RESTART_LINES: GuestLineClassifier<GuestSignal> = {
  anchors: GUEST_LOG_ANCHORS,
  classify: classifyGuestLine,
};

/** The RE2 prefilter of a classifier's lines for a Cloud Logging query (see GUEST_LOG_FILTER_REGEX). */
export const guestFilterRegexOf = (anchors: readonly string[]): string => `(?i)(${anchors.join('|')})`;

export interface SyslogParseContext {
  /** "Now" for the file: its mtime, or the clock. Classic timestamps take the latest year not after it. */
  readonly referenceDate: Date;
  /** IANA zone of timestamps that carry none (classic, ISO without offset). Default UTC. */
  readonly timeZone?: string;
}

export interface ParsedSyslogLine {
  readonly at: Date | null;
  /** True when the year and/or zone were not in the line but inferred from the context. */
  readonly timeInferred: boolean;
  readonly host: string | null;
  readonly program: string | null;
  /** The text after `prog[pid]: ` (or after the host, or the whole line when no timestamp was recognised). */
  readonly message: string;
}

export interface SyslogTimestamp {
  readonly ms: number;
  readonly inferred: boolean;
  /** Index in the line just after the timestamp. */
  readonly end: number;
}

const CLASSIC_RE = /^([A-Za-z]{3}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?= |$)/;
const ISO_RE =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?(Z|[+-]\d{2}(?::?\d{2})?)?(?= |$)/;

const fractionMs = (digits: string | undefined): number =>
  digits === undefined ? 0 : Math.floor(Number(`0.${digits}`) * 1000);

/**
 * The time at the start of a syslog line, as UTC epoch ms. Classic `May  3 23:31:52` (year inferred from the
 * reference, zone from `timeZone`), RFC 3339 `2026-05-03T23:31:52.123456+00:00`, ISO without offset (zone from
 * `timeZone`). Null when the line starts with none of these or names an impossible date.
 */
export const parseSyslogTimestamp = (
  line: string,
  referenceMs: number,
  timeZone = 'UTC',
): SyslogTimestamp | null => {
  const c0 = line.charCodeAt(0);
  if (c0 >= 48 && c0 <= 57) {
    const m = ISO_RE.exec(line);
    if (m === null) return null;
    const [, y, mo, d, h, mi, s, frac, zone] = m;
    const year = Number(y);
    const month = Number(mo) - 1;
    const day = Number(d);
    const hour = Number(h);
    const minute = Number(mi);
    const second = Number(s);
    if (month > 11 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return null;
    const ms = fractionMs(frac);
    if (new Date(Date.UTC(year, month, day)).getUTCDate() !== day) return null;
    if (zone === undefined) {
      return {
        ms: wallTimeToUtcMs(timeZone, year, month, day, hour, minute, second, ms),
        inferred: true,
        end: m[0].length,
      };
    }
    let offsetMin = 0;
    if (zone !== 'Z') {
      const sign = zone.startsWith('-') ? -1 : 1;
      const digits = zone.slice(1).replace(':', '');
      offsetMin = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || '0'));
    }
    const t = Date.UTC(year, month, day, hour, minute, second, ms) - offsetMin * 60_000;
    return { ms: t, inferred: false, end: m[0].length };
  }
  const m = CLASSIC_RE.exec(line);
  if (m === null) return null;
  const [, mon, d, h, mi, s, frac] = m;
  const month = monthIndex(mon ?? '');
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (month < 0 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return null;
  const t = inferClassicUtcMs(referenceMs, timeZone, month, day, hour, minute, second, fractionMs(frac));
  if (t === null) return null;
  return { ms: t, inferred: true, end: m[0].length };
};

const REST_RE = /^ +(\S+)(?: +([^\s:[\]]+)(?:\[(\d+)\])?:(?: |$))?/;

/** Splits a syslog line (classic or RFC 3339 timestamp) into time, host, program and message. */
export const parseSyslogLine = (line: string, ctx: SyslogParseContext): ParsedSyslogLine => {
  const timeZone = ctx.timeZone ?? 'UTC';
  assertTimeZone(timeZone);
  const ts = parseSyslogTimestamp(line, ctx.referenceDate.getTime(), timeZone);
  if (ts === null) return { at: null, timeInferred: false, host: null, program: null, message: line };
  const rest = line.slice(ts.end);
  const m = REST_RE.exec(rest);
  const at = new Date(ts.ms);
  if (m === null) return { at, timeInferred: ts.inferred, host: null, program: null, message: rest.trim() };
  const host = m[1] ?? null;
  const program = m[2] ?? null;
  return { at, timeInferred: ts.inferred, host, program, message: rest.slice(m[0].length) };
};
