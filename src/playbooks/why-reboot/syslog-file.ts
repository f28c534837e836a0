import { createReadStream, read, readSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { basename } from 'node:path';
import { createGunzip } from 'node:zlib';
import { AppError } from '../../core/errors.js';
import { type GuestLineClassifier, parseSyslogTimestamp, RESTART_LINES } from './guest-log.js';
import {
  buildAnchorRegex,
  collectBlockHits,
  decodeLine,
  defaultScanThreads,
  emptyHitList,
  LineBlocks,
  type RangeDone,
  type RangeHitList,
  type SegmentJob,
  scanBlockLines,
  type WorkerOut,
} from './syslog-scan-core.js';
import type { LineScanKernel } from './syslog-simd.js';
import { assertTimeZone } from './syslog-time.js';
import type { ScanWorkerHandle } from './syslog-workers.js';
import type { GuestEvent, GuestSignal, TimeWindow } from './types.js';

/**
 * Finds the restart-relevant lines of a syslog file (`/var/log/messages`, `/var/log/syslog`, plain or gzip)
 * in constant memory.
 *
 * Hot path (syslog-scan-core.ts, syslog-simd.ts): a WebAssembly SIMD kernel finds the lines that may hold one of
 * the classifier's anchor literals (`GUEST_LOG_ANCHORS`) and counts newlines in the memory the file is read into;
 * the anchor regex checks those lines (without WebAssembly SIMD the regex searches 64 KiB windows of lowercased
 * lines); only the lines holding an anchor are decoded, parsed and classified. Two buffers take turns, so the
 * thread pool reads the next 2 MiB while this thread scans. A plain-file range of 512 MiB or more is cut at line
 * starts into 16 MiB segments that this thread and worker threads claim one at a time (the CLI starts the
 * workers early, syslog-workers.ts), merged in file order. With a time window on a plain file the scan first
 * binary-searches the byte offsets of the window's start and end (timestamps are monotonic in a syslog file, up
 * to a little jitter, hence the slack), scans the range between them (in parallel when it is large), then reads
 * on only until a line is past the window's end. The reads of the binary search and of the cuts are synchronous
 * (small, and each an async round trip otherwise): this function serves the CLI, not the bot's event loop.
 */

export interface ScanSyslogOptions<S extends string = GuestSignal> {
  readonly window?: TimeWindow;
  /** Which lines matter and what they mean (default: /why-reboot's restart lines). */
  readonly classifier?: GuestLineClassifier<S>;
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
  /**
   * Threads for a plain file (not gzip; with a window, for the bytes between its start and end): this one plus
   * `threads - 1` workers, each scanning a byte range. Default: one per 256 MiB, at most the machine's available
   * parallelism (and 8). 1: this thread only.
   */
  readonly threads?: number;
  /**
   * Use the WebAssembly SIMD prefilter when the runtime has it (default true; false: the regex alone). A window
   * whose range is under 16 MiB is scanned with the regex anyway (cheaper than the kernel's set-up).
   */
  readonly simd?: boolean;
  /**
   * In a parallel scan, this thread scans segments too (default true). false: the workers scan, this thread
   * only merges (its event loop stays free; tests use it to make the workers do the work).
   */
  readonly scanOnThisThread?: boolean;
}

/** How a scan ran. */
export interface ScanSyslogStats {
  /** Segments of a parallel scan (0: one thread read the file in order). */
  readonly segments: number;
  /** Of them, scanned by worker threads. */
  readonly workerSegments: number;
  /** Every byte went through the WebAssembly SIMD kernel (false: the regex alone, somewhere or everywhere). */
  readonly simd: boolean;
}

export interface ScanSyslogResult<S extends string = GuestSignal> {
  readonly events: GuestEvent<S>[];
  readonly linesScanned: number;
  readonly bytesScanned: number;
  readonly notes: string[];
  /** How a syslog scan ran (not for a journal export). */
  readonly stats?: ScanSyslogStats;
}

const DEFAULT_MAX_EVENTS = 10_000;
const DEFAULT_SLACK_MS = 10 * 60_000;
const DEFAULT_CHUNK = 1 << 20;
const PROBE_BYTES = 64 * 1024;
const MAX_TEXT = 500;
const NL = 10;
/** Unconsumed batches of found lines a worker may hold before it waits (bounds memory when every line hits). */
const WORKER_MAX_AHEAD = 4;
/** A window's range (between its seek points) shorter than this is scanned without the SIMD kernel. */
const KERNEL_MIN_BYTES = 16 << 20;
/** A parallel scan's segments are at most about this long (threads take them one at a time). */
const SEGMENT_BYTES = 16 << 20;

/** The anchor regex of each classifier, built once. */
const anchorRegexes = new WeakMap<GuestLineClassifier<string>, RegExp>();
const anchorRegexOf = (c: GuestLineClassifier<string>): RegExp => {
  let re = anchorRegexes.get(c);
  if (!re) {
    re = buildAnchorRegex(c.anchors);
    anchorRegexes.set(c, re);
  }
  return re;
};

const trimText = (line: string): string => {
  const t = line.trim();
  return t.length > MAX_TEXT ? `${t.slice(0, MAX_TEXT - 1)}…` : t;
};

interface ScanState {
  readonly name: string;
  readonly classifier: GuestLineClassifier<string>;
  readonly anchorRe: RegExp;
  readonly referenceMs: number;
  readonly timeZone: string;
  readonly fromMs: number;
  readonly toMs: number;
  readonly windowed: boolean;
  readonly slackMs: number;
  readonly byOffset: boolean; // refs are "<file>@<offset>" (line numbers unknown after a seek)
  readonly maxEvents: number;
  readonly simd: boolean;
  readonly scanOnThisThread: boolean;
  /** This thread's two read buffers (in SIMD kernels' memory when there are kernels), made on first use. */
  io?: ReadBuffers;
  events: GuestEvent<string>[];
  eventsSeen: number;
  lines: number;
  bytes: number;
  untimed: number;
  inferredYears: Set<number>;
  segments: number;
  workerSegments: number;
  /** A worker segment was scanned without the kernel. */
  workerWithoutKernel: boolean;
}

const pushEvent = (st: ScanState, ev: GuestEvent<string>): void => {
  st.eventsSeen++;
  st.events.push(ev);
  if (st.events.length >= st.maxEvents * 2) st.events = st.events.slice(st.events.length - st.maxEvents);
};

const classifyInto = (st: ScanState, line: string, offset: number, lineNo: number): void => {
  const ts = parseSyslogTimestamp(line, st.referenceMs, st.timeZone);
  const signal = st.classifier.classify(ts === null ? line : line.slice(ts.end));
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

/**
 * Scans whole lines buf[0, len) at file offset `base`: counts them and classifies the ones holding an anchor
 * (`search` false: counts only). Results go to `st`.
 */
const scanInto = (
  st: ScanState,
  buf: Buffer,
  len: number,
  base: number,
  final: boolean,
  search: boolean,
  kernel: LineScanKernel | null,
): void => {
  const linesBefore = st.lines;
  const n = scanBlockLines(
    buf,
    len,
    search ? st.anchorRe : null,
    (b, s, e, before) => classifyInto(st, decodeLine(b, s, e), base + s, linesBefore + before + 1),
    kernel,
  );
  st.lines += n;
  if (final && len > 0 && buf[len - 1] !== NL) st.lines++; // last line of the file without a newline
  st.bytes += len;
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
 * Two read buffers: one is scanned while the next read (thread pool) fills the other. Each is a SIMD kernel's
 * memory when the kernel can serve the anchors, so scanning copies nothing.
 */
interface ReadBuffers {
  readonly bufs: readonly [Buffer, Buffer];
  readonly kernels: readonly [LineScanKernel, LineScanKernel] | null;
}

/**
 * Makes the scan's read buffers, once per scan (its blocks are read one range after the other): in two SIMD
 * kernels' memory when `kernel` (the kernel module loads only then), else plain.
 */
const prepareReadBuffers = async (
  st: ScanState,
  chunkBytes: number,
  kernel: boolean,
): Promise<ReadBuffers> => {
  if (st.io === undefined) {
    const create = kernel ? (await import('./syslog-simd.js')).createLineScanKernel : null;
    const k0 = create?.(st.classifier.anchors, chunkBytes * 2) ?? null;
    const k1 = k0 && create?.(st.classifier.anchors, chunkBytes * 2);
    st.io =
      k0 && k1
        ? { bufs: [k0.buffer, k1.buffer], kernels: [k0, k1] }
        : { bufs: [Buffer.allocUnsafe(chunkBytes * 2), Buffer.allocUnsafe(chunkBytes * 2)], kernels: null };
  }
  return st.io;
};

/** The read buffers prepareReadBuffers made. */
const readBuffers = (st: ScanState): ReadBuffers => {
  if (st.io === undefined) throw new Error('read buffers not prepared');
  return st.io;
};

/** The kernel whose memory `buf` is (null: scan with the regex alone). */
const kernelFor = (io: ReadBuffers, buf: Buffer): LineScanKernel | null =>
  io.kernels === null
    ? null
    : buf === io.kernels[0].buffer
      ? io.kernels[0]
      : buf === io.kernels[1].buffer
        ? io.kernels[1]
        : null;

type BlockHandler = (buf: Buffer, len: number, base: number, final: boolean) => boolean;

/**
 * The block handler of a scan: everything (`whole`, or without a window), or with a window: skips blocks wholly
 * before it and stops after a block that ends past it (returns false).
 */
const blockScanner =
  (st: ScanState, io: ReadBuffers, whole = false): BlockHandler =>
  (buf, len, base, final) => {
    const kernel = kernelFor(io, buf);
    if (whole || !st.windowed) {
      scanInto(st, buf, len, base, final, true, kernel);
      return true;
    }
    const first = firstLineMs(st, buf, len);
    if (first !== null && first > st.toMs + st.slackMs) return false;
    const last = lastLineMs(st, buf, len);
    const search = !(last !== null && last < st.fromMs - st.slackMs); // wholly before the window
    scanInto(st, buf, len, base, final, search, kernel);
    return !(last !== null && last > st.toMs + st.slackMs);
  };

/**
 * Reads plain-file bytes [start, end) (`start` a line start) and hands `onBlock` blocks of whole lines, as
 * LineBlocks does (a line longer than a buffer in buffer-sized pieces; `final` on the last), until it returns
 * false. The two buffers take turns: while one is scanned, the thread pool reads the next bytes into the other,
 * after the partial line carried over; reading costs about half of scanning, so this thread mostly scans.
 */
const readAhead = async (
  fh: FileHandle,
  io: ReadBuffers,
  start: number,
  end: number,
  onBlock: BlockHandler,
): Promise<void> => {
  const cap = io.bufs[0].length;
  // fs.read on the descriptor: FileHandle.read's promise plumbing costs more per call on this thread.
  const readInto = (i: 0 | 1, from: number, at: number): Promise<number> =>
    at < end
      ? new Promise((resolve, reject) =>
          read(fh.fd, io.bufs[i], from, Math.min(cap - from, end - at), at, (err, n) =>
            err ? reject(err) : resolve(n),
          ),
        )
      : Promise.resolve(0);
  let cur: 0 | 1 = 0;
  let carry = 0; // bytes already at the start of bufs[cur]
  let base = start; // file offset of bufs[cur][0]
  let pos = start; // file offset of the next read
  let pending = readInto(cur, 0, pos);
  try {
    for (;;) {
      const got = await pending;
      pending = Promise.resolve(0);
      pos += got;
      const buf = io.bufs[cur];
      const len = carry + got;
      const eof = got === 0 || pos >= end;
      if (len === 0) return;
      let cut = len;
      if (!eof) {
        const nl = buf.lastIndexOf(NL, len - 1);
        if (nl >= 0) cut = nl + 1;
        else if (len < cap) {
          carry = len; // a partial line: read on into the same buffer
          pending = readInto(cur, len, pos);
          continue;
        } // else a line longer than the buffer: this piece as a block
      }
      const other: 0 | 1 = cur === 0 ? 1 : 0;
      const rest = len - cut;
      if (rest > 0) buf.copy(io.bufs[other], 0, cut, len);
      if (!eof) pending = readInto(other, rest, pos);
      if (!onBlock(buf, cut, base, eof) || eof) return;
      base += cut;
      carry = rest;
      cur = other;
    }
  } finally {
    await pending.catch(() => 0); // no read may land in a buffer the next range reuses
  }
};

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
  // Synchronous: a binary search is a chain of small reads, each an async round trip otherwise.
  const bytesRead = readSync(fh.fd, block, 0, Math.min(block.length, size - pos), pos);
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

export { defaultScanThreads } from './syslog-scan-core.js';

/**
 * Cuts [from, to) (`from` a line start) into at most `n` ranges: [from, c1, ..., to], each cut just after a
 * newline near from + (to - from) * i / n (fewer when lines are long).
 */
const splitAtLines = async (fh: FileHandle, from: number, to: number, n: number): Promise<number[]> => {
  const block = Buffer.allocUnsafe(PROBE_BYTES);
  const cuts: number[] = [from];
  for (let i = 1; i < n; i++) {
    let pos = Math.max(from + Math.floor(((to - from) * i) / n), cuts[cuts.length - 1] ?? from);
    let cut = to;
    while (pos < to) {
      const bytesRead = readSync(fh.fd, block, 0, Math.min(block.length, to - pos), pos);
      if (bytesRead === 0) break;
      const nl = block.indexOf(NL, 0);
      if (nl >= 0 && nl < bytesRead) {
        cut = pos + nl + 1;
        break;
      }
      pos += bytesRead;
    }
    if (cut >= to) break;
    if (cut > (cuts[cuts.length - 1] ?? from)) cuts.push(cut);
  }
  cuts.push(to);
  return cuts;
};

type WorkerMessage = WorkerOut | { readonly type: 'error'; readonly message: string };

/** A worker of a parallel scan: its job posted, its messages handed to the merge. */
class SegmentWorker {
  private readonly credits = new Int32Array(new SharedArrayBuffer(4));
  private readonly handle: ScanWorkerHandle;
  failure: Error | null = null;
  gone = false;

  constructor(
    handle: ScanWorkerHandle,
    job: Omit<SegmentJob, 'credits'>,
    onMessage: (w: SegmentWorker, m: WorkerMessage) => void,
    onGone: () => void,
  ) {
    this.handle = handle;
    if (handle.early) {
      // It failed while pre-started: the other threads take its share.
      this.failure = handle.early;
      this.gone = true;
      return;
    }
    const w = handle.worker;
    w.on('message', (m: WorkerMessage) => onMessage(this, m));
    w.on('error', (err) => {
      this.failure ??= err;
    });
    w.on('exit', (code) => {
      if (code !== 0) this.failure ??= new Error(`scan worker exited with code ${code}`);
      this.gone = true; // after its last messages (Node delivers them before 'exit')
      onGone();
    });
    w.postMessage({ ...job, credits: this.credits.buffer });
  }

  /** The merge took one of its batches: it may send another. */
  credit(): void {
    Atomics.add(this.credits, 0, 1);
    Atomics.notify(this.credits, 0);
  }

  /** Stops it (if still running) without holding the process. */
  stop(): void {
    const w = this.handle.worker;
    w.unref();
    w.terminate().catch(() => 0);
  }
}

/**
 * Plain-file bytes [from, to) (`from` a line start) on `threads` threads. The range is cut at line starts into
 * segments (at least two per thread, at most ~16 MiB each); this thread and the workers each take the next
 * segment until none is left, so a worker that starts late takes fewer. The segments are merged (classified)
 * in file order, so events, their order and `file:line` refs are the same as a single-thread scan. Every line
 * of the range is scanned (a window filters the events, not the lines).
 */
const scanParallel = async (
  st: ScanState,
  fh: FileHandle,
  path: string,
  from: number,
  to: number,
  threads: number,
  chunkBytes: number,
): Promise<void> => {
  const cuts = await splitAtLines(
    fh,
    from,
    to,
    Math.max(2 * threads, Math.ceil((to - from) / SEGMENT_BYTES)),
  );
  const segments = cuts.length - 1;
  const claims = new Int32Array(new SharedArrayBuffer(4));
  const owner: (SegmentWorker | null)[] = new Array(segments).fill(null);
  const mine: (RangeHitList | null)[] = new Array(segments).fill(null);
  const queues: WorkerMessage[][] = Array.from({ length: segments }, () => []);
  let wake: (() => void) | null = null;
  const notify = (): void => {
    const w = wake;
    wake = null;
    w?.();
  };
  const onMessage = (w: SegmentWorker, m: WorkerMessage): void => {
    if (m.type === 'claim') owner[m.seg] = w;
    else if (m.type === 'error') w.failure ??= new Error(m.message);
    else queues[m.seg]?.push(m);
    notify();
  };
  const job: Omit<SegmentJob, 'credits'> = {
    kind: 'opsbot-syslog-segments',
    path,
    cuts,
    claims: claims.buffer as SharedArrayBuffer,
    anchors: st.classifier.anchors,
    chunkBytes,
    simd: readBuffers(st).kernels !== null,
    maxAhead: WORKER_MAX_AHEAD,
  };
  const workers: SegmentWorker[] = [];
  // Loaded here: a scan on one thread (a short window) needs no node:worker_threads.
  const { takeScanWorker } = await import('./syslog-workers.js');
  st.segments += segments;
  for (let i = 1; i < threads && i < segments; i++)
    workers.push(new SegmentWorker(takeScanWorker(), job, onMessage, notify));

  const io = readBuffers(st);
  const scanHere = async (seg: number): Promise<RangeHitList> => {
    const h = emptyHitList();
    await readAhead(fh, io, cuts[seg] ?? to, cuts[seg + 1] ?? to, (buf, len, base, final) => {
      collectBlockHits(h, buf, len, base, final, st.anchorRe, kernelFor(io, buf));
      return true;
    });
    return h;
  };

  // The merge: segment `next` is the first not yet classified; `taken` of its batches are.
  let next = 0;
  let base = st.lines;
  let taken = 0;
  const classifyHits = (offsets: number[], lines: number[], texts: string[]): void => {
    for (let k = 0; k < offsets.length; k++)
      classifyInto(st, texts[k] ?? '', offsets[k] ?? 0, base + (lines[k] ?? 0) + 1);
  };
  const mergeReady = (): void => {
    while (next < segments) {
      const own = mine[next];
      if (own) {
        classifyHits(own.offsets, own.lines, own.texts);
        st.lines = base + own.lineCount;
        mine[next] = null;
      } else {
        const q = queues[next] ?? [];
        let done: RangeDone | null = null;
        while (done === null) {
          const m = q.shift();
          if (m === undefined) break;
          if (m.type === 'hits') {
            taken++;
            owner[next]?.credit();
            classifyHits(m.offsets, m.lines, m.texts);
          } else if (m.type === 'done') done = m;
        }
        if (done === null) return;
        st.lines = base + done.lines;
        st.workerSegments++;
        if (!done.kernel) st.workerWithoutKernel = true;
      }
      st.bytes += (cuts[next + 1] ?? to) - (cuts[next] ?? to);
      next++;
      base = st.lines;
      taken = 0;
    }
  };

  try {
    while (st.scanOnThisThread || workers.length === 0) {
      mergeReady();
      const seg = Atomics.add(claims, 0, 1);
      if (seg >= segments) break;
      mine[seg] = await scanHere(seg);
      await new Promise<void>((resolve) => setImmediate(resolve)); // take the workers' messages in
    }
    for (;;) {
      mergeReady();
      if (next >= segments) break;
      const w = owner[next];
      // Claimed by a worker that stopped (or, unknown, when every worker has stopped) before finishing it.
      if (w ? w.gone : workers.every((x) => x.gone)) {
        if (taken > 0) {
          throw new AppError('internal', `Scanning ${st.name} failed.`, {
            cause: w?.failure ?? new Error('a scan worker stopped'),
          });
        }
        queues[next] = [];
        owner[next] = null;
        mine[next] = await scanHere(next); // nothing of it merged yet: scan it here instead
        continue;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  } finally {
    // Not awaited: stopping a worker still booting takes as long as its boot, and the result is complete.
    for (const w of workers) w.stop();
  }
};

/** Classified guest events of one syslog file, optionally limited to a time window. */
export const scanSyslogFile = async <S extends string = GuestSignal>(
  path: string,
  opts: ScanSyslogOptions<S>,
): Promise<ScanSyslogResult<S>> => {
  const classifier = (opts.classifier ?? RESTART_LINES) as GuestLineClassifier<string>;
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
      classifier,
      anchorRe: anchorRegexOf(classifier),
      referenceMs: opts.referenceDate.getTime(),
      timeZone,
      fromMs: opts.window?.from.getTime() ?? Number.NEGATIVE_INFINITY,
      toMs: opts.window?.to.getTime() ?? Number.POSITIVE_INFINITY,
      windowed,
      slackMs: slack,
      byOffset: seek,
      maxEvents: Math.max(1, opts.maxEvents ?? DEFAULT_MAX_EVENTS),
      simd: opts.simd ?? true,
      scanOnThisThread: opts.scanOnThisThread ?? true,
      events: [],
      eventsSeen: 0,
      lines: 0,
      bytes: 0,
      untimed: 0,
      inferredYears: new Set(),
      segments: 0,
      workerSegments: 0,
      workerWithoutKernel: false,
    };
    if (gz) {
      await fh.close().catch(() => undefined);
      await scanGzip(st, path, chunkBytes);
      if (windowed) notes.push(`${st.name} is gzip-compressed: read from the start (no seeking).`);
    } else {
      // With a window: the lines from a little before its start to a little before its end are all scanned
      // (in parallel when there are many), then the blocks after them until one is past the window's end.
      const start = seek ? await seekTo(st, fh, size, st.fromMs - slack) : 0;
      const stop = seek ? Math.max(start, await seekTo(st, fh, size, st.toMs + slack)) : size;
      const threads = Math.max(1, Math.floor(opts.threads ?? defaultScanThreads(stop - start)));
      // A short window's few MiB: the regex costs less than the kernel's set-up (~10 ms: load, compile, memory).
      await prepareReadBuffers(st, chunkBytes, st.simd && (!seek || stop - start >= KERNEL_MIN_BYTES));
      let next = start;
      if (threads > 1 && stop > start) {
        await scanParallel(st, fh, path, start, stop, threads, chunkBytes);
        next = stop;
      }
      if (next < size) await readAhead(fh, readBuffers(st), next, size, blockScanner(st, readBuffers(st)));
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
    const stats: ScanSyslogStats = {
      segments: st.segments,
      workerSegments: st.workerSegments,
      // st.io is undefined when this thread scanned nothing.
      simd: st.io?.kernels !== null && !st.workerWithoutKernel,
    };
    return {
      events: events as GuestEvent<S>[],
      linesScanned: st.lines,
      bytesScanned: st.bytes,
      notes,
      stats,
    };
  } finally {
    await fh.close().catch(() => undefined);
  }
};

const scanGzip = async (st: ScanState, path: string, chunkBytes: number): Promise<void> => {
  const io = await prepareReadBuffers(st, chunkBytes, st.simd);
  const blocks = new LineBlocks(chunkBytes, 0, blockScanner(st, io), io.bufs[0]);
  const source = createReadStream(path, { highWaterMark: chunkBytes });
  const gunzip = createGunzip({ chunkSize: 256 * 1024 });
  source.pipe(gunzip);
  try {
    for await (const chunk of gunzip) {
      if (!blocks.push(chunk as Buffer)) break;
    }
    blocks.end();
  } catch (cause) {
    throw new AppError('bad_input', `${st.name} is not a readable gzip file.`, { cause });
  } finally {
    source.destroy();
    gunzip.destroy();
  }
};
