import { type GuestLineClassifier, parseSyslogTimestamp, RESTART_LINES } from './guest-log.js';
import type { GuestEvent, GuestSignal } from './types.js';

/**
 * Serial console (port 1) text -> GuestEvents. The console mixes raw kernel lines (`[    2.81] ...`, seconds
 * since boot), systemd status lines with no time at all, and syslog lines forwarded to the console
 * (`Nov 17 04:03:47 debian kernel: [    0.000000] Linux version ...`, year-less). Times are derived per boot
 * from the best anchor found, and every inference is reported in `notes`.
 */

export interface SerialParseOptions<S extends string = GuestSignal> {
  /** Which lines matter (default /why-reboot's restart lines); its signals must include `boot`. */
  readonly classifier?: GuestLineClassifier<S>;
  /** The instance's lastStartTimestamp: the time of the LAST boot in the buffer when nothing better exists. */
  readonly lastStartTimestamp?: string | null;
  /** "Now" for year inference of classic syslog lines (the clock, or the file's mtime). */
  readonly referenceDate: Date;
  /** Zone of classic syslog lines on the console (GCE images log in UTC). */
  readonly timeZone?: string;
  /** Byte offset of contents[0] in the port's output (the API's `start`), for references. */
  readonly startOffset?: number;
}

export interface SerialParseResult<S extends string = GuestSignal> {
  readonly events: GuestEvent<S>[];
  readonly boots: number;
  readonly undated: number;
  readonly notes: string[];
}

type AnchorKind = 'rtc' | 'epoch' | 'syslog' | 'iso' | 'last-start';

interface Anchor {
  readonly bootMs: number; // wall-clock time of kernel time 0
  readonly kind: AnchorKind;
  readonly inferred: boolean;
}

interface Line {
  readonly text: string;
  readonly byte: number;
  readonly kernelOffset: number | null; // seconds since boot
  readonly wallMs: number | null; // from a syslog prefix or an ISO stamp with zone
  readonly wallInferred: boolean;
  readonly forwarded: boolean; // has a syslog prefix
  readonly signal: string | null;
  boot: number; // index of the boot it belongs to, -1 before the first boot marker
}

const MAX_TEXT = 300;
// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escape sequences of the serial console
const ANSI_RE = /\u001b(?:\[[0-9;?=]*[a-zA-Z]|[()][A-Z0-9]|[=>])/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: other control characters
const CONTROL_RE = /[\u0000-\u0008\u000b-\u001f\u007f]/g;
const KERNEL_RE = /^\[\s*(\d+\.\d+)\]\s?/;
const FORWARDED_KERNEL_RE = /\bkernel: \[\s*(\d+\.\d+)\]\s?/;
const RTC_RE = /rtc_cmos \S+ setting system clock to (\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}) UTC/;
const AUDIT_EPOCH_RE = /\baudit\((\d{9,11})\.(\d{3}):\d+\)/;
const ISO_ZONED_RE = /\b(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))/;

const clean = (raw: string): string => raw.replace(ANSI_RE, '').replace(CONTROL_RE, '').trim();
const clip = (text: string): string => (text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT - 3)}...` : text);

/** The wall-clock anchor a kernel line gives its boot (rtc_cmos or an audit epoch), or null. */
const kernelAnchor = (text: string, offset: number): Anchor | null => {
  const rtc = RTC_RE.exec(text);
  if (rtc?.[1]) {
    const ms = Date.parse(`${rtc[1]}Z`);
    if (!Number.isNaN(ms)) return { bootMs: Math.round(ms - offset * 1000), kind: 'rtc', inferred: false };
  }
  const audit = AUDIT_EPOCH_RE.exec(text);
  if (audit?.[1] && audit[2]) {
    const ms = Number(audit[1]) * 1000 + Number(audit[2]);
    return { bootMs: Math.round(ms - offset * 1000), kind: 'epoch', inferred: false };
  }
  return null;
};

export const parseSerialOutput = <S extends string = GuestSignal>(
  contents: string,
  opts: SerialParseOptions<S>,
): SerialParseResult<S> => {
  const classify = (opts.classifier ?? RESTART_LINES).classify as (line: string) => string | null;
  const timeZone = opts.timeZone ?? 'UTC';
  const rawLines = contents.split('\n');
  // A year for year-less syslog lines: the newest absolute stamp in the buffer beats the caller's clock.
  let referenceMs = opts.referenceDate.getTime();
  let newestAbsolute: number | null = null;
  for (const raw of rawLines) {
    const rtc = RTC_RE.exec(raw);
    const iso = rtc ? Date.parse(`${rtc[1]}Z`) : null;
    const zoned = ISO_ZONED_RE.exec(raw);
    for (const ms of [iso, zoned?.[1] ? Date.parse(zoned[1]) : null]) {
      if (ms !== null && !Number.isNaN(ms) && (newestAbsolute === null || ms > newestAbsolute))
        newestAbsolute = ms;
    }
  }
  if (newestAbsolute !== null && newestAbsolute <= referenceMs + 86_400_000)
    referenceMs = newestAbsolute + 3_600_000;

  // Pass 1: parse lines and split them into boots.
  const lines: Line[] = [];
  const bootStarts: number[] = []; // index into lines of each boot's first marker
  const bootForwardedAt: (number | null)[] = [];
  const bootHasSyslog: (number | null)[] = []; // first syslog time seen in the boot
  let byte = opts.startOffset ?? 0;
  let boot = -1;
  let maxOffsetInBoot = 0;
  for (const raw of rawLines) {
    const lineByte = byte;
    byte += Buffer.byteLength(raw, 'utf8') + 1;
    const text = clean(raw);
    if (text === '') continue;
    const ts = parseSyslogTimestamp(text, referenceMs, timeZone);
    const forwarded = ts !== null;
    const body = ts ? text.slice(ts.end) : text;
    const kernelMatch = forwarded ? FORWARDED_KERNEL_RE.exec(body) : KERNEL_RE.exec(text);
    const kernelOffset = kernelMatch?.[1] ? Number(kernelMatch[1]) : null;
    let wallMs: number | null = ts ? ts.ms : null;
    let wallInferred = ts ? ts.inferred : false;
    if (!forwarded && kernelOffset === null) {
      const zoned = ISO_ZONED_RE.exec(text);
      const ms = zoned?.[1] ? Date.parse(zoned[1]) : Number.NaN;
      if (!Number.isNaN(ms)) {
        wallMs = ms;
        wallInferred = false;
      }
    }
    const signal = classify(text);
    if (signal === 'boot') {
      const early = kernelOffset === null || kernelOffset <= 1;
      if (!forwarded) {
        const sameBoot = boot >= 0 && early && maxOffsetInBoot <= 1 && bootHasSyslog[boot] === null;
        if (!sameBoot) {
          boot += 1;
          bootStarts.push(lines.length);
          bootForwardedAt.push(null);
          bootHasSyslog.push(null);
          maxOffsetInBoot = 0;
        }
      } else {
        // A syslog copy of a boot banner: the current boot's copy, or a boot whose raw banner scrolled out.
        const prevForwarded = boot >= 0 ? bootForwardedAt[boot] : null;
        const firstSyslog = boot >= 0 ? bootHasSyslog[boot] : null;
        const copyOfCurrent =
          boot >= 0 &&
          wallMs !== null &&
          (prevForwarded === null || prevForwarded === undefined
            ? firstSyslog === null || firstSyslog === undefined || Math.abs(wallMs - firstSyslog) <= 120_000
            : Math.abs(wallMs - prevForwarded) <= 120_000);
        if (!copyOfCurrent) {
          boot += 1;
          bootStarts.push(lines.length);
          bootForwardedAt.push(null);
          bootHasSyslog.push(null);
          maxOffsetInBoot = 0;
        }
        if (bootForwardedAt[boot] === null && wallMs !== null) bootForwardedAt[boot] = wallMs;
      }
    }
    if (!forwarded && kernelOffset !== null && kernelOffset > maxOffsetInBoot) maxOffsetInBoot = kernelOffset;
    if (forwarded && boot >= 0 && bootHasSyslog[boot] === null && wallMs !== null)
      bootHasSyslog[boot] = wallMs;
    lines.push({ text, byte: lineByte, kernelOffset, wallMs, wallInferred, forwarded, signal, boot });
  }

  // Pass 2: one anchor per boot.
  const boots = bootStarts.length;
  const anchors: (Anchor | null)[] = Array.from({ length: boots }, () => null);
  const rank: Readonly<Record<AnchorKind, number>> = { rtc: 5, epoch: 4, iso: 3, syslog: 2, 'last-start': 1 };
  const offer = (b: number, a: Anchor): void => {
    const cur = anchors[b];
    if (b < 0 || b >= boots) return;
    if (!cur || rank[a.kind] > rank[cur.kind]) anchors[b] = a;
  };
  for (const l of lines) {
    if (l.boot < 0 || l.kernelOffset === null) continue;
    const k = kernelAnchor(l.text, l.kernelOffset);
    if (k) offer(l.boot, k);
    else if (l.forwarded && l.wallMs !== null && l.signal === 'boot') {
      offer(l.boot, {
        bootMs: Math.round(l.wallMs - l.kernelOffset * 1000),
        kind: 'syslog',
        inferred: l.wallInferred,
      });
    }
  }
  const lastStartMs = opts.lastStartTimestamp ? Date.parse(opts.lastStartTimestamp) : Number.NaN;
  if (boots > 0 && !anchors[boots - 1] && !Number.isNaN(lastStartMs)) {
    offer(boots - 1, { bootMs: lastStartMs, kind: 'last-start', inferred: true });
  }

  // Pass 3: date every classified line.
  const events: GuestEvent<string>[] = [];
  const seen = new Set<string>();
  let undated = 0;
  let carried = 0;
  let lastMs: number | null = null;
  let currentBoot = -2;
  const bootEmitted = new Set<number>();
  for (const l of lines) {
    if (l.boot !== currentBoot) {
      currentBoot = l.boot;
      lastMs = null;
    }
    const anchor = l.boot >= 0 ? anchors[l.boot] : null;
    let ms: number | null = null;
    let inferred = true;
    if (l.wallMs !== null) {
      ms = l.wallMs;
      inferred = l.wallInferred;
    } else if (l.kernelOffset !== null && anchor) {
      ms = Math.round(anchor.bootMs + l.kernelOffset * 1000);
      inferred = anchor.inferred;
    } else if (lastMs !== null) {
      ms = lastMs;
      inferred = true;
      if (l.signal) carried += 1;
    } else if (anchor) {
      ms = anchor.bootMs;
      inferred = true;
      if (l.signal) carried += 1;
    }
    if (ms !== null) {
      lastMs = ms;
    }
    if (!l.signal) continue;
    if (l.signal === 'boot') {
      if (l.boot < 0 || bootEmitted.has(l.boot)) continue;
      bootEmitted.add(l.boot);
      const at = anchor ? anchor.bootMs : ms;
      if (at === null) {
        undated += 1;
        continue;
      }
      events.push({
        at: new Date(at),
        signal: 'boot',
        text: clip(l.text),
        source: 'serial-console',
        ref: `serial@${l.byte}`,
        timeInferred: anchor ? anchor.inferred : inferred,
      });
      continue;
    }
    // The same kernel message printed raw and forwarded by syslog: keep one.
    const key = l.kernelOffset !== null ? `${l.boot}|${l.kernelOffset}|${l.signal}` : null;
    if (key !== null) {
      if (seen.has(key)) continue;
      seen.add(key);
    }
    if (ms === null) {
      undated += 1;
      continue;
    }
    events.push({
      at: new Date(ms),
      signal: l.signal,
      text: clip(l.text),
      source: 'serial-console',
      ref: `serial@${l.byte}`,
      timeInferred: inferred,
    });
  }

  const notes: string[] = [];
  anchors.forEach((a, i) => {
    const which = boots > 1 ? `boot ${i + 1} of ${boots}` : 'the boot';
    if (!a)
      notes.push(
        `Serial console: ${which} in the buffer has no wall-clock time; its kernel lines were left undated.`,
      );
    else if (a.kind === 'last-start')
      notes.push(
        `Serial console: ${which} carries no wall-clock time; assumed it is the instance's last start (lastStartTimestamp ${opts.lastStartTimestamp}).`,
      );
    else if (a.kind === 'syslog' && a.inferred)
      notes.push(
        `Serial console: ${which} was dated from year-less syslog lines (year ${new Date(a.bootMs).getUTCFullYear()} and ${timeZone} assumed).`,
      );
  });
  if (carried > 0) {
    notes.push(
      `Serial console: ${carried} line(s) without a timestamp were dated from the nearest earlier line.`,
    );
  }
  if (undated > 0)
    notes.push(`Serial console: ${undated} relevant line(s) could not be dated and were left out.`);
  events.sort((a, b) => a.at.getTime() - b.at.getTime());
  return { events: events as GuestEvent<S>[], boots, undated, notes };
};
