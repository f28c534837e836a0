import { closeSync, openSync, readSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { LineScanKernel } from './syslog-simd.js';

/**
 * The byte-level half of the syslog scan, shared by the main thread and the scan workers: split a file into
 * whole lines, find the lines that hold one of the classifier's anchor literals, count lines. It decodes and
 * classifies nothing; the caller does that for the few lines found.
 *
 * The scan workers load it (syslog-scan-worker.ts) by file URL, so it imports only `node:` builtins (and types)
 * and uses only erasable TypeScript: Node can then run it as `.ts` (type stripping, in tests and under tsx) as
 * well as compiled `.js`. It does not load node:worker_threads (a scan of a short window needs no worker).
 *
 * With a `LineScanKernel` (syslog-simd.ts) whose buffer holds the block, the kernel finds the candidate lines and
 * counts newlines at several GB/s, and the regex below checks only those lines: the same lines as the regex over
 * everything. Without one (no WebAssembly SIMD, anchors it cannot fold, a buffer not in its memory) the regex
 * runs over every line:
 *
 * Why this shape (measured with `node --cpu-prof` on the 1 GiB bench file): one case-sensitive regex over a
 * lowercased latin1 copy beats a per-anchor `indexOf` pass (16 passes) and a JS byte loop; lowercasing and
 * searching 64 KiB windows keeps both strings in the young generation and in cache, where 1 MiB strings cost
 * page faults and old-generation GC (a third of the old scan's time).
 */

const NL = 10;
/** Lines are lowercased and searched in windows of about this many bytes (young-generation strings). */
const WINDOW_BYTES = 64 * 1024;

/** The anchors as one case-sensitive regex over lowercased text, grouped by first letter (faster in V8). */
export const buildAnchorRegex = (anchors: readonly string[]): RegExp => {
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

/** A line holding an anchor: buf[start, end) without its `\n`; `newlinesBefore` counts `\n` in buf[0, start). */
export type AnchorHitSink = (buf: Buffer, start: number, end: number, newlinesBefore: number) => void;

const countNewlines = (s: string, from: number): number => {
  let n = 0;
  for (let p = s.indexOf('\n', from); p >= 0; p = s.indexOf('\n', p + 1)) n++;
  return n;
};

/** The kernel's candidate lines of buf[0, len) (buf is its buffer), each checked with `re` (lowercased). */
const scanWithKernel = (
  kernel: LineScanKernel,
  buf: Buffer,
  len: number,
  re: RegExp,
  onHit: AnchorHitSink,
): number => {
  let lastStart = -1;
  return kernel.scan(len, (pos, newlinesBefore) => {
    const start = pos === 0 ? 0 : buf.lastIndexOf(NL, pos - 1) + 1;
    if (start === lastStart) return;
    lastStart = start;
    let end = buf.indexOf(NL, pos);
    if (end < 0 || end > len) end = len;
    re.lastIndex = 0;
    if (re.test(buf.toString('latin1', start, end).toLowerCase())) onHit(buf, start, end, newlinesBefore);
  });
};

/**
 * Scans buf[0, len), which ends on a line boundary (or at the end of the file): reports each line holding an
 * anchor (at most once per line) and returns the number of `\n` in it. `re` null: count lines only. `kernel`:
 * used when `buf` is its buffer.
 */
export const scanBlockLines = (
  buf: Buffer,
  len: number,
  re: RegExp | null,
  onHit: AnchorHitSink,
  kernel?: LineScanKernel | null,
): number => {
  if (re !== null && kernel && buf === kernel.buffer) return scanWithKernel(kernel, buf, len, re, onHit);
  let newlines = 0;
  let pos = 0;
  while (pos < len) {
    let wEnd = pos + WINDOW_BYTES;
    if (wEnd >= len) wEnd = len;
    else {
      const k = buf.lastIndexOf(NL, wEnd - 1);
      if (k >= pos) wEnd = k + 1;
      else {
        const k2 = buf.indexOf(NL, wEnd); // one line longer than a window
        wEnd = k2 < 0 || k2 >= len ? len : k2 + 1;
      }
    }
    if (re === null) {
      newlines += countNewlines(buf.toString('latin1', pos, wEnd), 0);
      pos = wEnd;
      continue;
    }
    // latin1 keeps one char per byte (offsets stay byte offsets) and toLowerCase keeps the length in latin1.
    const lower = buf.toString('latin1', pos, wEnd).toLowerCase();
    const wLen = wEnd - pos;
    let counted = 0; // newlines of lower[0, counted) are in `newlines`
    re.lastIndex = 0;
    for (let m = re.exec(lower); m !== null; m = re.exec(lower)) {
      const hit = m.index;
      const start = hit === 0 ? 0 : lower.lastIndexOf('\n', hit - 1) + 1;
      let end = lower.indexOf('\n', hit);
      if (end < 0) end = wLen;
      for (let p = lower.indexOf('\n', counted); p >= 0 && p < start; p = lower.indexOf('\n', p + 1))
        newlines++;
      counted = start;
      onHit(buf, pos + start, pos + end, newlines);
      if (end >= wLen) break;
      re.lastIndex = end + 1;
    }
    newlines += countNewlines(lower, counted);
    pos = wEnd;
  }
  return newlines;
};

/**
 * Cuts a byte stream into blocks of whole lines in one reused buffer of 2 x `chunkBytes`. `onBlock` gets
 * buf[0, len) (file offset `base`) and returns false to stop. A line longer than the buffer is handed over
 * in buffer-sized pieces.
 */
export class LineBlocks {
  private readonly buf: Buffer;
  private len = 0;
  private base: number;
  private readonly onBlock: (buf: Buffer, len: number, base: number, final: boolean) => boolean;
  stopped = false;

  /** `buffer`: 2 x `chunkBytes` to use (a kernel's), else one is allocated. */
  constructor(
    chunkBytes: number,
    startOffset: number,
    onBlock: (buf: Buffer, len: number, base: number, final: boolean) => boolean,
    buffer?: Buffer,
  ) {
    this.buf = buffer && buffer.length >= chunkBytes * 2 ? buffer : Buffer.allocUnsafe(chunkBytes * 2);
    this.base = startOffset;
    this.onBlock = onBlock;
  }

  /** Appends a copy of `data` and scans the whole lines gathered so far. */
  push(data: Buffer): boolean {
    let off = 0;
    while (off < data.length && !this.stopped) {
      const n = Math.min(this.buf.length - this.len, data.length - off);
      data.copy(this.buf, this.len, off, off + n);
      this.len += n;
      off += n;
      this.flush(false);
    }
    return !this.stopped;
  }

  /** Reads straight into the free tail with `read(buf, offset, max) -> bytes` (no copy); false at EOF/stop. */
  fill(read: (buf: Buffer, offset: number, max: number) => number): boolean {
    if (this.stopped) return false;
    const n = read(this.buf, this.len, this.buf.length - this.len);
    if (n <= 0) return false;
    this.len += n;
    this.flush(false);
    return !this.stopped;
  }

  end(): void {
    if (!this.stopped) this.flush(true);
  }

  private flush(final: boolean): void {
    const buf = this.buf;
    let len = this.len;
    if (len === 0) return;
    if (!final) {
      const lastNl = buf.lastIndexOf(NL, len - 1);
      if (lastNl >= 0) len = lastNl + 1;
      else if (len < buf.length) return; // wait for the rest of the line
    }
    if (!this.onBlock(buf, len, this.base, final)) this.stopped = true;
    const rest = this.len - len;
    if (rest > 0) buf.copy(buf, 0, len, this.len);
    this.len = rest;
    this.base += len;
  }
}

/**
 * Anchor lines found in a byte range, as parallel arrays, and the range's line count so far. A worker sends them
 * in batches; the main thread keeps its own segments' ones until the merge reaches them.
 */
export interface RangeHitList {
  /** File offset of each line. */
  offsets: number[];
  /** 0-based line index of each line, counted from the range's start. */
  lines: number[];
  /** The line, UTF-8 decoded, without its line end. */
  texts: string[];
  /** Characters in `texts`. */
  chars: number;
  /** Lines of the range scanned so far (a last line without `\n` counts). */
  lineCount: number;
}

export const emptyHitList = (): RangeHitList => ({
  offsets: [],
  lines: [],
  texts: [],
  chars: 0,
  lineCount: 0,
});

/** Line text as the classifier gets it: UTF-8, without a trailing CR. */
export const decodeLine = (buf: Buffer, start: number, end: number): string => {
  const e = end > start && buf[end - 1] === 13 ? end - 1 : end;
  return buf.toString('utf8', start, e);
};

/** Adds the anchor lines of the block buf[0, len) (file offset `base`) to `h` and counts its lines. */
export const collectBlockHits = (
  h: RangeHitList,
  buf: Buffer,
  len: number,
  base: number,
  final: boolean,
  re: RegExp,
  kernel: LineScanKernel | null,
): void => {
  const at = h.lineCount;
  h.lineCount += scanBlockLines(
    buf,
    len,
    re,
    (b, s, e, before) => {
      const text = decodeLine(b, s, e);
      h.offsets.push(base + s);
      h.lines.push(at + before);
      h.texts.push(text);
      h.chars += text.length;
    },
    kernel,
  );
  if (final && len > 0 && buf[len - 1] !== NL) h.lineCount++;
};

/**
 * Reads file bytes [start, end) straight into `blocks`' buffer (synchronous reads: a worker, or the CLI's
 * main thread, where nothing else waits; ~0.3 ms per MiB from the page cache), then ends it.
 */
export const readRangeSync = (fd: number, blocks: LineBlocks, start: number, end: number): void => {
  let pos = start;
  while (pos < end) {
    let got = 0;
    const more = blocks.fill((b, off, max) => {
      got = readSync(fd, b, off, Math.min(max, end - pos), pos);
      return got;
    });
    pos += got;
    if (!more || got === 0) break;
  }
  blocks.end();
};

/** A worker took segment `seg` (it scans it next). */
export interface SegmentClaim {
  readonly type: 'claim';
  readonly seg: number;
}

/** Anchor lines of segment `seg`, in order. */
export interface RangeHits {
  readonly type: 'hits';
  readonly seg: number;
  readonly offsets: number[];
  readonly lines: number[];
  readonly texts: string[];
}

export interface RangeDone {
  readonly type: 'done';
  readonly seg: number;
  /** Lines in the segment (a last line without `\n` counts). */
  readonly lines: number;
  readonly bytes: number;
  /** Scanned with the SIMD kernel (else the regex over every line). */
  readonly kernel: boolean;
}

/**
 * A parallel scan: the byte range cut at line starts into segments [cuts[i], cuts[i + 1]). The main thread and
 * the workers each take the next unclaimed segment until none is left, so a worker that starts late (a loaded
 * machine) simply takes fewer; the main thread merges the segments in file order.
 */
export interface SegmentJob {
  readonly kind: 'opsbot-syslog-segments';
  readonly path: string;
  readonly cuts: readonly number[];
  /** Int32 [0]: the next segment to claim (Atomics.add), shared by every thread of the scan. */
  readonly claims: SharedArrayBuffer;
  readonly anchors: readonly string[];
  readonly chunkBytes: number;
  /** Use the WebAssembly SIMD kernel when it can serve the anchors. */
  readonly simd: boolean;
  /** Int32 [0]: batches the consumer has taken; this worker keeps at most `maxAhead` batches unconsumed. */
  readonly credits: SharedArrayBuffer;
  readonly maxAhead: number;
}

/** What a worker is started with; its job comes later as a message, so it can be started early. */
export const SCAN_WORKER_DATA = { kind: 'opsbot-syslog-worker' } as const;

export type KernelFactory = (anchors: readonly string[], capacity: number) => LineScanKernel | null;

export type WorkerOut = SegmentClaim | RangeHits | RangeDone;

const BATCH_CHARS = 256 * 1024;

/**
 * Takes segments of `job` until none is left: scans each (synchronous reads) and sends its anchor lines in
 * batches, waiting while `maxAhead` batches are unconsumed so memory stays bounded even when every line matches.
 */
export const scanSegments = (
  job: SegmentJob,
  send: (msg: WorkerOut) => void,
  createKernel: KernelFactory | null,
): void => {
  const re = buildAnchorRegex(job.anchors);
  const kernel = job.simd && createKernel ? createKernel(job.anchors, job.chunkBytes * 2) : null;
  const claims = new Int32Array(job.claims);
  const credits = new Int32Array(job.credits);
  const segments = job.cuts.length - 1;
  let sent = 0;
  const fd = openSync(job.path, 'r');
  try {
    for (;;) {
      const seg = Atomics.add(claims, 0, 1);
      if (seg >= segments) break;
      send({ type: 'claim', seg });
      const start = job.cuts[seg] ?? 0;
      const end = job.cuts[seg + 1] ?? start;
      let h = emptyHitList();
      const flush = (): void => {
        if (h.offsets.length === 0) return;
        while (sent - Atomics.load(credits, 0) >= job.maxAhead)
          Atomics.wait(credits, 0, Atomics.load(credits, 0), 1000);
        send({ type: 'hits', seg, offsets: h.offsets, lines: h.lines, texts: h.texts });
        sent++;
        h = { ...emptyHitList(), lineCount: h.lineCount };
      };
      const blocks = new LineBlocks(
        job.chunkBytes,
        start,
        (buf, len, base, final) => {
          collectBlockHits(h, buf, len, base, final, re, kernel);
          if (h.chars >= BATCH_CHARS) flush();
          return true;
        },
        kernel?.buffer,
      );
      readRangeSync(fd, blocks, start, end);
      flush();
      send({ type: 'done', seg, lines: h.lineCount, bytes: end - start, kernel: kernel !== null });
    }
  } finally {
    closeSync(fd);
  }
};

export const isWorkerStart = (d: unknown): boolean =>
  typeof d === 'object' && d !== null && (d as { kind?: unknown }).kind === SCAN_WORKER_DATA.kind;
export const isSegmentJob = (d: unknown): d is SegmentJob =>
  typeof d === 'object' && d !== null && (d as { kind?: unknown }).kind === 'opsbot-syslog-segments';

/**
 * One thread per this many bytes (up to the machine's parallelism and 8): a second thread from 512 MiB. A worker
 * costs ~50 ms of CPU to start on an idle core (three times that with every core busy: measured 2 threads
 * 620-710 ms against 1 thread 380-530 ms for the CLI on the 256 MiB bench file at load 5), while one thread
 * reading ahead scans ~2-4 GB/s: a worker pays off only for a range that takes one thread well over 100 ms.
 */
const BYTES_PER_THREAD = 256 << 20;
const MAX_THREADS = 8;

/** Threads a scan of `bytes` uses by default: one per 256 MiB, up to the machine's parallelism (and 8). */
export const defaultScanThreads = (bytes: number): number =>
  Math.max(1, Math.min(availableParallelism(), MAX_THREADS, Math.floor(bytes / BYTES_PER_THREAD)));
