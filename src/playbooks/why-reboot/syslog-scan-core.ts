import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import type { LineScanKernel } from './syslog-simd.js';

/**
 * The byte-level half of the syslog scan, shared by the main thread and the scan workers: split a file into
 * whole lines, find the lines that hold one of the classifier's anchor literals, count lines. It decodes and
 * classifies nothing; the caller does that for the few lines found.
 *
 * This module is also the worker's entry point (`scanSyslogFile` starts it with `new Worker(thisFile)`), so it
 * imports only `node:` builtins (and types) and uses only erasable TypeScript: Node can then run it as `.ts`
 * (type stripping, in tests and under tsx) as well as compiled `.js`. The worker loads the SIMD kernel
 * (syslog-simd.ts) by file URL with its own extension.
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

/** Lines found in a byte range, as the worker sends them: parallel arrays. */
export interface RangeHits {
  readonly type: 'hits';
  /** File offset of each line. */
  readonly offsets: number[];
  /** 0-based line index of each line, counted from the range's start. */
  readonly lines: number[];
  /** The line, UTF-8 decoded, without its line end. */
  readonly texts: string[];
}

export interface RangeDone {
  readonly type: 'done';
  /** Lines in the range (a last line without `\n` counts). */
  readonly lines: number;
  readonly bytes: number;
}

export interface RangeJob {
  readonly kind: 'opsbot-syslog-range';
  readonly path: string;
  readonly start: number;
  readonly end: number;
  readonly anchors: readonly string[];
  readonly chunkBytes: number;
  /** Use the WebAssembly SIMD kernel when it can serve the anchors. */
  readonly simd: boolean;
  /** Int32 [0]: batches the consumer has taken; the worker keeps at most `maxAhead` batches unconsumed. */
  readonly credits: SharedArrayBuffer;
  readonly maxAhead: number;
}

const BATCH_CHARS = 256 * 1024;

/** Line text as the classifier gets it: UTF-8, without a trailing CR. */
export const decodeLine = (buf: Buffer, start: number, end: number): string => {
  const e = end > start && buf[end - 1] === 13 ? end - 1 : end;
  return buf.toString('utf8', start, e);
};

/**
 * Scans file bytes [start, end) (start on a line start, end on a line start or the file's end) and sends the
 * anchor lines in batches, waiting while `maxAhead` batches are unconsumed so memory stays bounded even when
 * every line matches.
 */
export type KernelFactory = (anchors: readonly string[], capacity: number) => LineScanKernel | null;

export const scanRange = (
  job: RangeJob,
  send: (msg: RangeHits | RangeDone) => void,
  createKernel: KernelFactory | null,
): void => {
  const re = buildAnchorRegex(job.anchors);
  const kernel = job.simd && createKernel ? createKernel(job.anchors, job.chunkBytes * 2) : null;
  const credits = new Int32Array(job.credits);
  let sent = 0;
  let lines = 0;
  let batch: { offsets: number[]; lines: number[]; texts: string[] } = { offsets: [], lines: [], texts: [] };
  let chars = 0;
  const flush = (): void => {
    if (batch.offsets.length === 0) return;
    while (sent - Atomics.load(credits, 0) >= job.maxAhead)
      Atomics.wait(credits, 0, Atomics.load(credits, 0), 1000);
    send({ type: 'hits', ...batch });
    sent++;
    batch = { offsets: [], lines: [], texts: [] };
    chars = 0;
  };
  const blocks = new LineBlocks(
    job.chunkBytes,
    job.start,
    (buf, len, base, final) => {
      const n = scanBlockLines(
        buf,
        len,
        re,
        (b, s, e, before) => {
          const text = decodeLine(b, s, e);
          batch.offsets.push(base + s);
          batch.lines.push(lines + before);
          batch.texts.push(text);
          chars += text.length;
        },
        kernel,
      );
      lines += n;
      if (final && buf[len - 1] !== NL) lines++;
      if (chars >= BATCH_CHARS) flush();
      return true;
    },
    kernel?.buffer,
  );
  const fd = openSync(job.path, 'r');
  try {
    let pos = job.start;
    while (pos < job.end) {
      let got = 0;
      const more = blocks.fill((b, off, max) => {
        got = readSync(fd, b, off, Math.min(max, job.end - pos), pos);
        return got;
      });
      pos += got;
      if (!more) break;
    }
    blocks.end();
  } finally {
    closeSync(fd);
  }
  flush();
  send({ type: 'done', lines, bytes: job.end - job.start });
};

const isRangeJob = (d: unknown): d is RangeJob =>
  typeof d === 'object' && d !== null && (d as { kind?: unknown }).kind === 'opsbot-syslog-range';

// Worker entry: only when started by scanSyslogFile with a range job (not when imported, nor in other workers).
if (parentPort !== null && isRangeJob(workerData)) {
  const port = parentPort;
  const job = workerData;
  const run = (createKernel: KernelFactory | null): void => {
    try {
      scanRange(job, (msg) => port.postMessage(msg), createKernel);
    } catch (err) {
      port.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) });
    }
  };
  if (!job.simd) run(null);
  else {
    // The kernel module beside this file, with this file's extension (.ts under tsx and vitest, .js from dist/).
    const url = new URL(
      import.meta.url.endsWith('.ts') ? './syslog-simd.ts' : './syslog-simd.js',
      import.meta.url,
    );
    import(url.href).then(
      (m: typeof import('./syslog-simd.js')) => run(m.createLineScanKernel),
      () => run(null),
    );
  }
}
