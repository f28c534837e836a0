import { createReadStream } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { basename } from 'node:path';
import { createGunzip } from 'node:zlib';
import { AppError } from '../../core/errors.js';
import { classifyGuestLine, GUEST_LOG_ANCHORS, parseSyslogTimestamp } from './guest-log.js';
import { assertTimeZone } from './syslog-time.js';
import type { GuestEvent, TimeWindow } from './types.js';

/**
 * Finds the restart-relevant lines of a syslog file (`/var/log/messages`, `/var/log/syslog`, plain or gzip)
 * in constant memory.
 *
 * Hot path: each chunk is lowercased once and searched with one regex for the classifier's anchor literals
 * (`GUEST_LOG_ANCHORS`); only the lines around a hit are decoded, parsed and classified. With a time window on
 * a plain file the scan first binary-searches the byte offset of the window's start (timestamps are monotonic
 * in a syslog file, up to a little jitter), then reads only until a line is past the window's end.
 */

export interface ScanSyslogOptions {
  readonly window?: TimeWindow;
  /** The file's mtime or "now": classic timestamps (no year) take the latest year not after it. */
  readonly referenceDate: Date;
  /** IANA zone of timestamps without an offset (classic syslog, ISO without zone). Default UTC. */
  readonly timeZone?: string;
  /** Keep at most this many events: the most recent ones (default 10,000). */
  readonly maxEvents?: number;
  /** Tolerance for out-of-order timestamps around the window's edges (default 10 minutes). */
  readonly slackMs?: number;
  /** Read size (default 1 MiB). */
  readonly chunkBytes?: number;
}

export interface ScanSyslogResult {
  readonly events: GuestEvent[];
  readonly linesScanned: number;
  readonly bytesScanned: number;
  readonly notes: string[];
}

const DEFAULT_MAX_EVENTS = 10_000;
const DEFAULT_SLACK_MS = 10 * 60_000;
const DEFAULT_CHUNK = 1 << 20;
const PROBE_BYTES = 64 * 1024;
const MAX_TEXT = 500;
const NL = 10;

/** The anchors as one case-sensitive regex over lowercased text, grouped by first letter (faster in V8). */
const buildAnchorRegex = (anchors: readonly string[]): RegExp => {
  const groups = new Map<string, string[]>();
  for (const a of anchors) {
    const head = a.charAt(0);
    const list = groups.get(head) ?? [];
    list.push(a.slice(1));
    groups.set(head, list);
  }
  const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const parts = [...groups].map(([head, tails]) => `${esc(head)}(?:${tails.map(esc).join('|')})`);
  return new RegExp(parts.join('|'), 'g');
};

const ANCHOR_SCAN_RE = buildAnchorRegex(GUEST_LOG_ANCHORS);

const trimText = (line: string): string => {
  const t = line.trim();
  return t.length > MAX_TEXT ? `${t.slice(0, MAX_TEXT - 1)}…` : t;
};

interface ScanState {
  readonly name: string;
  readonly referenceMs: number;
  readonly timeZone: string;
  readonly fromMs: number;
  readonly toMs: number;
  readonly windowed: boolean;
  readonly slackMs: number;
  readonly byOffset: boolean; // refs are "<file>@<offset>" (line numbers unknown after a seek)
  readonly maxEvents: number;
  events: GuestEvent[];
  eventsSeen: number;
  lines: number;
  bytes: number;
  untimed: number;
  inferredYears: Set<number>;
}

const pushEvent = (st: ScanState, ev: GuestEvent): void => {
  st.eventsSeen++;
  st.events.push(ev);
  if (st.events.length >= st.maxEvents * 2) st.events = st.events.slice(st.events.length - st.maxEvents);
};

/**
 * Scans `len` bytes of `buf` that end on a line boundary (or at the end of the file). `base` is the file offset
 * of buf[0]. Counts lines, classifies lines holding an anchor, and returns nothing: results go to `st`.
 */
const scanLines = (st: ScanState, buf: Buffer, len: number, base: number, search: boolean): void => {
  const lower = buf.toString('latin1', 0, len).toLowerCase();
  let counted = 0; // lower[0, counted) newlines are in st.lines
  if (search) {
    const re = ANCHOR_SCAN_RE;
    re.lastIndex = 0;
    for (let m = re.exec(lower); m !== null; m = re.exec(lower)) {
      const hit = m.index;
      const start = hit === 0 ? 0 : lower.lastIndexOf('\n', hit - 1) + 1;
      let end = lower.indexOf('\n', hit);
      if (end < 0) end = len;
      for (let p = lower.indexOf('\n', counted); p >= 0 && p < start; p = lower.indexOf('\n', p + 1))
        st.lines++;
      counted = start;
      re.lastIndex = end + 1;
      let line = buf.toString('utf8', start, end);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      classifyInto(st, line, base + start, st.lines + 1);
      if (end >= len) break;
    }
  }
  for (let p = lower.indexOf('\n', counted); p >= 0; p = lower.indexOf('\n', p + 1)) st.lines++;
  if (len > 0 && buf[len - 1] !== NL) st.lines++; // last line of the file without a newline
  st.bytes += len;
};

const classifyInto = (st: ScanState, line: string, offset: number, lineNo: number): void => {
  const ts = parseSyslogTimestamp(line, st.referenceMs, st.timeZone);
  const signal = classifyGuestLine(ts === null ? line : line.slice(ts.end));
  if (signal === null) return;
  if (ts === null) {
    st.untimed++;
    return;
  }
  if (st.windowed && (ts.ms < st.fromMs || ts.ms > st.toMs)) return;
  if (ts.inferred) st.inferredYears.add(new Date(ts.ms).getUTCFullYear());
  pushEvent(st, {
    at: new Date(ts.ms),
    signal,
    text: trimText(line),
    source: 'syslog-file',
    ref: st.byOffset ? `${st.name}@${offset}` : `${st.name}:${lineNo}`,
    timeInferred: ts.inferred,
  });
};

/** Time of the last line (with a timestamp) of buf[0, len), looking back at most a few lines. */
const lastLineMs = (st: ScanState, buf: Buffer, len: number): number | null => {
  let end = len;
  while (end > 0 && buf[end - 1] === NL) end--;
  for (let tries = 0; tries < 8 && end > 0; tries++) {
    const start = buf.lastIndexOf(NL, end - 1) + 1;
    const ts = parseSyslogTimestamp(
      buf.toString('utf8', start, Math.min(end, start + 64)),
      st.referenceMs,
      st.timeZone,
    );
    if (ts !== null) return ts.ms;
    end = start - 1;
  }
  return null;
};

/** Time of the first line (with a timestamp) of buf[0, len), looking at most a few lines ahead. */
const firstLineMs = (st: ScanState, buf: Buffer, len: number): number | null => {
  let start = 0;
  for (let tries = 0; tries < 8 && start < len; tries++) {
    const ts = parseSyslogTimestamp(
      buf.toString('utf8', start, Math.min(len, start + 64)),
      st.referenceMs,
      st.timeZone,
    );
    if (ts !== null) return ts.ms;
    const nl = buf.indexOf(NL, start);
    if (nl < 0 || nl >= len) return null;
    start = nl + 1;
  }
  return null;
};

/**
 * Feeds arbitrary chunks, keeps the partial last line for the next one, scans whole lines. Returns false when
 * the window's end has been passed and reading can stop.
 */
class LineChunker {
  private carry: Buffer;
  private carryLen = 0;
  private base: number;
  done = false;

  constructor(
    private readonly st: ScanState,
    chunkBytes: number,
    startOffset: number,
  ) {
    this.carry = Buffer.allocUnsafe(chunkBytes * 2);
    this.base = startOffset;
  }

  /** Append bytes; scans the complete lines gathered so far. */
  push(data: Buffer): boolean {
    let off = 0;
    while (off < data.length && !this.done) {
      const room = this.carry.length - this.carryLen;
      const n = Math.min(room, data.length - off);
      data.copy(this.carry, this.carryLen, off, off + n);
      this.carryLen += n;
      off += n;
      this.flushLines(false);
    }
    return !this.done;
  }

  end(): void {
    if (!this.done) this.flushLines(true);
  }

  private flushLines(final: boolean): void {
    const buf = this.carry;
    let len = this.carryLen;
    if (len === 0) return;
    if (!final) {
      const lastNl = buf.lastIndexOf(NL, len - 1);
      if (lastNl < 0) {
        if (len < buf.length) return; // wait for more
        // A line longer than the buffer: scan what we have as one (truncated) line, keep nothing.
      } else {
        len = lastNl + 1;
      }
    }
    this.scan(buf, len);
    const rest = this.carryLen - len;
    if (rest > 0) buf.copy(buf, 0, len, this.carryLen);
    this.carryLen = rest;
    this.base += len;
  }

  private scan(buf: Buffer, len: number): void {
    const st = this.st;
    let search = true;
    if (st.windowed) {
      const first = firstLineMs(st, buf, len);
      if (first !== null && first > st.toMs + st.slackMs) {
        this.done = true;
        return;
      }
      const last = lastLineMs(st, buf, len);
      if (last !== null && last < st.fromMs - st.slackMs) search = false; // wholly before the window
      scanLines(st, buf, len, this.base, search);
      if (last !== null && last > st.toMs + st.slackMs) this.done = true;
      return;
    }
    scanLines(st, buf, len, this.base, search);
  }
}

interface Probe {
  readonly lineStart: number;
  readonly ms: number;
}

/** The first line with a timestamp that starts after `pos` (or at 0), searching one probe block ahead. */
const probeAt = async (
  st: ScanState,
  fh: FileHandle,
  pos: number,
  size: number,
  block: Buffer,
): Promise<Probe | null> => {
  const { bytesRead } = await fh.read(block, 0, Math.min(block.length, size - pos), pos);
  let i = 0;
  if (pos > 0) {
    const nl = block.indexOf(NL, 0);
    if (nl < 0 || nl >= bytesRead) return null;
    i = nl + 1;
  }
  while (i < bytesRead) {
    const nl = block.indexOf(NL, i);
    const end = nl < 0 || nl >= bytesRead ? bytesRead : nl;
    const ts = parseSyslogTimestamp(
      block.toString('utf8', i, Math.min(end, i + 64)),
      st.referenceMs,
      st.timeZone,
    );
    if (ts !== null) return { lineStart: pos + i, ms: ts.ms };
    if (end === bytesRead) return null;
    i = end + 1;
  }
  return null;
};

/** Offset of a line start at or before the first line whose time is >= target (binary search). */
const seekTo = async (st: ScanState, fh: FileHandle, size: number, targetMs: number): Promise<number> => {
  const block = Buffer.allocUnsafe(PROBE_BYTES);
  let lo = 0; // a line start whose line is before the target (or the file's start)
  let hi = size; // the first line starting after hi is at/after the target (or there is none)
  while (hi - lo > PROBE_BYTES) {
    const mid = lo + Math.floor((hi - lo) / 2);
    const probe = await probeAt(st, fh, mid, size, block);
    if (probe === null || probe.lineStart >= hi || probe.ms >= targetMs) hi = mid;
    else lo = probe.lineStart;
  }
  return lo;
};

const isGzip = async (fh: FileHandle): Promise<boolean> => {
  const magic = Buffer.alloc(2);
  const { bytesRead } = await fh.read(magic, 0, 2, 0);
  return bytesRead === 2 && magic[0] === 0x1f && magic[1] === 0x8b;
};

/** Classified guest events of one syslog file, optionally limited to a time window. */
export const scanSyslogFile = async (path: string, opts: ScanSyslogOptions): Promise<ScanSyslogResult> => {
  const timeZone = opts.timeZone ?? 'UTC';
  assertTimeZone(timeZone);
  const chunkBytes = Math.max(64 * 1024, opts.chunkBytes ?? DEFAULT_CHUNK);
  const slack = opts.slackMs ?? DEFAULT_SLACK_MS;
  const notes: string[] = [];
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (cause) {
    throw new AppError('not_found', `Cannot open the log file ${basename(path)}.`, { cause });
  }
  try {
    const size = (await fh.stat()).size;
    const gz = await isGzip(fh);
    const windowed = opts.window !== undefined;
    const seek = windowed && !gz;
    const st: ScanState = {
      name: basename(path),
      referenceMs: opts.referenceDate.getTime(),
      timeZone,
      fromMs: opts.window?.from.getTime() ?? Number.NEGATIVE_INFINITY,
      toMs: opts.window?.to.getTime() ?? Number.POSITIVE_INFINITY,
      windowed,
      slackMs: slack,
      byOffset: seek,
      maxEvents: Math.max(1, opts.maxEvents ?? DEFAULT_MAX_EVENTS),
      events: [],
      eventsSeen: 0,
      lines: 0,
      bytes: 0,
      untimed: 0,
      inferredYears: new Set(),
    };
    if (gz) {
      await fh.close().catch(() => undefined);
      await scanGzip(st, path, chunkBytes);
      if (windowed) notes.push(`${st.name} is gzip-compressed: read from the start (no seeking).`);
    } else {
      const start = seek ? await seekTo(st, fh, size, st.fromMs - slack) : 0;
      const chunker = new LineChunker(st, chunkBytes, start);
      // Double buffering: the next read runs in the thread pool while this chunk is scanned.
      let cur = Buffer.allocUnsafe(chunkBytes);
      let next = Buffer.allocUnsafe(chunkBytes);
      let pos = start;
      const readAt = (b: Buffer, at: number) =>
        at < size ? fh.read(b, 0, Math.min(chunkBytes, size - at), at) : Promise.resolve({ bytesRead: 0 });
      let pending = readAt(cur, pos);
      for (;;) {
        const { bytesRead } = await pending;
        if (bytesRead === 0) break;
        pos += bytesRead;
        pending = readAt(next, pos);
        if (!chunker.push(cur.subarray(0, bytesRead))) break;
        [cur, next] = [next, cur];
      }
      await pending.catch(() => undefined);
      chunker.end();
      if (seek && start > 0)
        notes.push(`${st.name}: skipped to byte ${start} for the window; refs are byte offsets.`);
    }
    let events = st.events;
    if (events.length > st.maxEvents) events = events.slice(events.length - st.maxEvents);
    if (st.eventsSeen > events.length) {
      notes.push(`${st.name}: ${st.eventsSeen} matching lines; kept the last ${events.length}.`);
    }
    if (st.untimed > 0)
      notes.push(`${st.name}: ${st.untimed} matching lines had no timestamp and were skipped.`);
    if (st.inferredYears.size > 0) {
      const years = [...st.inferredYears].sort().join(', ');
      notes.push(`${st.name}: syslog timestamps carry no year: assumed ${years} (${timeZone}).`);
    }
    return { events, linesScanned: st.lines, bytesScanned: st.bytes, notes };
  } finally {
    await fh.close().catch(() => undefined);
  }
};

const scanGzip = async (st: ScanState, path: string, chunkBytes: number): Promise<void> => {
  const chunker = new LineChunker(st, chunkBytes, 0);
  const source = createReadStream(path, { highWaterMark: chunkBytes });
  const gunzip = createGunzip({ chunkSize: 256 * 1024 });
  source.pipe(gunzip);
  try {
    for await (const chunk of gunzip) {
      if (!chunker.push(chunk as Buffer)) break;
    }
    chunker.end();
  } catch (cause) {
    throw new AppError('bad_input', `${st.name} is not a readable gzip file.`, { cause });
  } finally {
    source.destroy();
    gunzip.destroy();
  }
};
