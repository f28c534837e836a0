import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { prestartSyslogScan } from '../../../src/cli/syslog-prestart.js';
import { HOST_LINES } from '../../../src/playbooks/diag/host-lines.js';
import { GUEST_LOG_ANCHORS } from '../../../src/playbooks/why-reboot/guest-log.js';
import { scanSyslogFile } from '../../../src/playbooks/why-reboot/syslog-file.js';
import { buildAnchorRegex, scanBlockLines } from '../../../src/playbooks/why-reboot/syslog-scan-core.js';
import { createLineScanKernel, type KernelVariant } from '../../../src/playbooks/why-reboot/syslog-simd.js';
import { idleScanWorkers, stopIdleScanWorkers } from '../../../src/playbooks/why-reboot/syslog-workers.js';

const dir = mkdtempSync(join(tmpdir(), 'opsbot-simd-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Restart and host anchors: short ones (xfs), long ones (more than 16 bytes), spaces, '=', '-', '/'. */
const ANCHORS = HOST_LINES.anchors;

type Hit = readonly [start: number, end: number, newlinesBefore: number];
interface Scan {
  readonly hits: Hit[];
  readonly newlines: number;
}

/** What the scan must find: every line whose latin1 lowercase holds an anchor (the regex on each line). */
const bruteForce = (text: Buffer, anchors: readonly string[]): Scan => {
  const re = new RegExp(anchors.map((a) => a.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'));
  const hits: Hit[] = [];
  let start = 0;
  let newlines = 0;
  while (start < text.length) {
    let end = text.indexOf(10, start);
    const last = end < 0;
    if (last) end = text.length;
    if (re.test(text.toString('latin1', start, end).toLowerCase())) hits.push([start, end, newlines]);
    if (last) break;
    newlines++;
    start = end + 1;
  }
  return { hits, newlines };
};

/** The regex path (a plain buffer). */
const regexScan = (text: Buffer, anchors: readonly string[]): Scan => {
  const hits: Hit[] = [];
  const newlines = scanBlockLines(Buffer.from(text), text.length, buildAnchorRegex(anchors), (_b, s, e, n) =>
    hits.push([s, e, n]),
  );
  return { hits, newlines };
};

/**
 * The kernel path. The bytes after the text are anchors and newlines: a kernel that reads candidates or
 * newlines past the end reports lines that are not there.
 */
const kernelScan = (text: Buffer, anchors: readonly string[], variant: KernelVariant = 'best'): Scan => {
  const k = createLineScanKernel(anchors, text.length + 256, variant);
  if (k === null) throw new Error('no WebAssembly SIMD kernel');
  k.buffer.fill('\nreboot panic xfs\n', text.length);
  text.copy(k.buffer);
  const hits: Hit[] = [];
  const newlines = scanBlockLines(
    k.buffer,
    text.length,
    buildAnchorRegex(anchors),
    (_b, s, e, n) => hits.push([s, e, n]),
    k,
  );
  return { hits, newlines };
};

/** Both kernels (relaxed SIMD's swizzle when available, and plain SIMD's) and the regex find what they must. */
const expectSame = (text: Buffer, anchors: readonly string[] = ANCHORS): Scan => {
  const want = bruteForce(text, anchors);
  const label = JSON.stringify(text.toString('latin1').slice(0, 200));
  expect(kernelScan(text, anchors), label).toEqual(want);
  expect(kernelScan(text, anchors, 'plain'), label).toEqual(want);
  expect(regexScan(text, anchors)).toEqual(want);
  return want;
};

/** The kernel's raw candidates: (offset, newlines before) per reported line. */
const candidates = (text: string, anchors: readonly string[] = ANCHORS): [number, number][] => {
  const k = createLineScanKernel(anchors, text.length + 64);
  if (k === null) throw new Error('no WebAssembly SIMD kernel');
  const n = k.buffer.write(text, 'latin1');
  const out: [number, number][] = [];
  k.scan(n, (o, b) => out.push([o, b]));
  return out;
};

describe('the SIMD line kernel against the regex', () => {
  it('is available on this Node (WebAssembly SIMD), for the restart and the host anchors', () => {
    expect(createLineScanKernel(GUEST_LOG_ANCHORS, 1024)).not.toBeNull();
    expect(createLineScanKernel(HOST_LINES.anchors, 1024)).not.toBeNull();
  });

  it('finds an anchor at every offset: across every 16-byte block edge, in any case', () => {
    for (const anchor of [
      'xfs',
      'halt',
      'reboot',
      'blocked for more than',
      'remounting filesystem read-only',
    ]) {
      for (const variant of [
        anchor,
        anchor.toUpperCase(),
        [...anchor].map((c, i) => (i % 2 ? c.toUpperCase() : c)).join(''),
      ]) {
        for (let off = 0; off < 40; off++) {
          const line = `${'.'.repeat(off)}${variant}${'-'.repeat(off % 7)}`;
          for (const text of [`a quiet line\n${line}\nanother\n`, line, `${'q'.repeat(off)}\n${line}`]) {
            const got = expectSame(Buffer.from(text));
            expect(got.hits).toHaveLength(1);
          }
        }
      }
    }
  });

  it('finds an anchor that ends the buffer, whatever the length modulo 16', () => {
    for (let len = 0; len < 50; len++) {
      const text = `${'z'.repeat(len)}panic`;
      expect(expectSame(Buffer.from(text)).hits).toEqual([[0, text.length, 0]]);
      // and cut one byte short: no anchor, and nothing read past the end
      expect(expectSame(Buffer.from(text.slice(0, -1))).hits).toEqual([]);
    }
  });

  it('scans an empty, a 1-byte and a newline-only buffer', () => {
    expect(expectSame(Buffer.alloc(0))).toEqual({ hits: [], newlines: 0 });
    expect(expectSame(Buffer.from('a'))).toEqual({ hits: [], newlines: 0 });
    expect(expectSame(Buffer.from('\n'))).toEqual({ hits: [], newlines: 1 });
    expect(expectSame(Buffer.from('\n'.repeat(33)))).toEqual({ hits: [], newlines: 33 });
    // one-letter anchors: shorter than the 3 bytes the tables look at
    expect(expectSame(Buffer.from('a'), ['a'])).toEqual({ hits: [[0, 1, 0]], newlines: 0 });
    expect(expectSame(Buffer.from('xA\nb\n'), ['a', 'zz'])).toEqual({ hits: [[0, 2, 0]], newlines: 2 });
  });

  it('counts lines with and without a final newline, and numbers the found ones', () => {
    const lines = Array.from({ length: 300 }, (_, i) =>
      i % 37 === 5 ? `l${i} Reboot now` : `l${i} nothing`,
    );
    const withNl = expectSame(Buffer.from(`${lines.join('\n')}\n`));
    const without = expectSame(Buffer.from(lines.join('\n')));
    expect(withNl.newlines).toBe(300);
    expect(without.newlines).toBe(299);
    expect(withNl.hits.map((h) => h[2])).toEqual([5, 42, 79, 116, 153, 190, 227, 264]);
    expect(without.hits).toEqual(withNl.hits);
  });

  it('reports each line once, and no line without an anchor (the kernel verifies its candidates)', () => {
    // Near misses of every anchor: its bytes with a '#' after the second, and its first two bytes.
    const near = ANCHORS.map((a) => `${a.slice(0, 2)}#${a.slice(2)} ${a.slice(0, 2)}`).join(' | ');
    expect(candidates(`${near}\n${near}\n`)).toEqual([]);
    // An anchor longer than 16 bytes is compared on its first 16: a candidate the regex then turns down.
    const long = 'INFO: task blocked for more thx 120 seconds';
    expect(candidates(long)).toEqual([[long.indexOf('blocked'), 0]]);
    expect(expectSame(Buffer.from(long)).hits).toEqual([]);
    // Many anchors on one long line, across blocks: one report, at the first.
    const many = `start ${ANCHORS.join(' ... ')} end`;
    const first = many.indexOf(ANCHORS[0] ?? '');
    const line3 = 'quiet\n'.length + many.length + 1 + 'quiet\n'.length;
    expect(first).toBe(6);
    expect(candidates(`quiet\n${many}\nquiet\n${many}`)).toEqual([
      ['quiet\n'.length + first, 1],
      [line3 + first, 3],
    ]);
  });

  it('resumes when more lines are found than its output holds at once', () => {
    const n = 20_000; // the kernel writes at most 8,192 records per call
    const text = Array.from({ length: n }, (_, i) => `${i} kernel PANIC`).join('\n');
    const got = expectSame(Buffer.from(text));
    expect(got.hits).toHaveLength(n);
    expect(got.hits[n - 1]?.[2]).toBe(n - 1);
  });

  it('refuses anchors it cannot fold (the regex path serves them)', () => {
    expect(createLineScanKernel([], 64)).toBeNull();
    expect(createLineScanKernel(['reboot', ''], 64)).toBeNull();
    expect(createLineScanKernel(['café'], 64)).toBeNull();
    expect(createLineScanKernel(['two\nlines'], 64)).toBeNull();
  });

  it('matches the regex on random lines: anchors in random case and place, UTF-8, CR, long lines', () => {
    const anchorCase = fc
      .tuple(fc.constantFrom(...ANCHORS), fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }))
      .map(([a, up]) => [...a].map((c, i) => (up[i] ? c.toUpperCase() : c)).join(''));
    const fragment = fc.oneof(
      { weight: 2, arbitrary: anchorCase },
      {
        weight: 5,
        arbitrary: fc.string({
          unit: fc.constantFrom(...'abcdefhiklmnoprstuxy _-=/:.[]0123456789@`'.split('')),
          maxLength: 40,
        }),
      },
      {
        weight: 1,
        arbitrary: fc.constantFrom('é', 'Ä', 'ÀÉÎ', '€', '日本語', '\u00ff', '\ud83d\ude00', '\t', '\r'),
      },
      // an anchor cut short, or with a byte that folds like the next one ('@' | 0x20 == '`')
      { weight: 1, arbitrary: fc.constantFrom(...ANCHORS).map((a) => a.slice(0, Math.max(1, a.length - 1))) },
      { weight: 1, arbitrary: fc.constantFrom('p@nic', 'reb`ot', 'x\rfs', 'out of memor\ry') },
    );
    const line = fc.oneof(
      { weight: 9, arbitrary: fc.array(fragment, { maxLength: 8 }).map((f) => f.join('')) },
      { weight: 1, arbitrary: fc.tuple(fc.nat(3000), anchorCase).map(([n, a]) => `${'w'.repeat(n)}${a}`) },
    );
    fc.assert(
      fc.property(
        fc.array(line, { maxLength: 40 }),
        fc.constantFrom('\n', '\r\n'),
        fc.boolean(),
        (ls, eol, final) => {
          expectSame(Buffer.from(ls.join(eol) + (final ? eol : ''), 'utf8'));
        },
      ),
      { numRuns: 400 },
    );
  });
});

/** Classic syslog lines with random content around anchors, one second apart. */
const randomSyslog = (lines: readonly string[]): string =>
  lines
    .map((l, i) => {
      const t = new Date(Date.UTC(2026, 0, 4, 10, 0, i));
      const stamp = `Jan  4 ${String(t.getUTCHours()).padStart(2, '0')}:${String(t.getUTCMinutes()).padStart(2, '0')}:${String(t.getUTCSeconds()).padStart(2, '0')}`;
      return `${stamp} web-1 kernel: ${l}`;
    })
    .join('\n');

describe('scanSyslogFile with and without the SIMD kernel', () => {
  afterEach(async () => {
    await stopIdleScanWorkers();
  });

  it('gives the same events, refs, counts and notes on random files, on one thread and on workers', async () => {
    const text = fc.oneof(
      fc.constantFrom(
        'System is rebooting.',
        'Kernel panic - not syncing: Fatal exception',
        'Out of memory: Killed process 123 (java)',
        'INFO: task jbd2 blocked for more than 120 seconds.',
        'EXT4-fs error (device sda1): bad block',
        'XFS (sdb): Corruption detected',
        'e1000: eth0 NIC Link is Down',
        'Power key pressed.',
        'ACPI: Power Button [PWRF]',
      ),
      fc.string({
        unit: fc.constantFrom(...'abcdefghijklmnoprstuvwxyz ABCXYZ:-=é€'.split('')),
        maxLength: 120,
      }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(text, { minLength: 1, maxLength: 3000 }),
        fc.boolean(),
        async (lines, final) => {
          const p = join(dir, 'random.log');
          writeFileSync(p, randomSyslog(lines) + (final ? '\n' : ''));
          const base = {
            referenceDate: new Date('2026-01-05T00:00:00Z'),
            classifier: HOST_LINES,
            chunkBytes: 64 * 1024,
          };
          const plain = await scanSyslogFile(p, { ...base, simd: false, threads: 1 });
          const simd = await scanSyslogFile(p, { ...base, threads: 1 });
          expect(plain.stats?.simd).toBe(false);
          expect(simd.stats?.simd).toBe(true);
          // workers only, so they surely scan (the main thread would otherwise take every segment of a small file)
          const workers = await scanSyslogFile(p, { ...base, threads: 3, scanOnThisThread: false });
          // (a file of one line is one segment: this thread scans it)
          expect(workers.stats?.workerSegments).toBe(lines.length > 1 ? workers.stats?.segments : 0);
          expect(workers.stats?.simd).toBe(true);
          for (const r of [simd, workers]) {
            expect(r.events).toEqual(plain.events);
            expect(r.linesScanned).toBe(plain.linesScanned);
            expect(r.bytesScanned).toBe(plain.bytesScanned);
            expect(r.notes).toEqual(plain.notes);
          }
          expect(plain.linesScanned).toBe(lines.length);
        },
      ),
      { numRuns: 4 },
    );
  });

  it('reads ahead across buffers: partial lines carried over, a line longer than a buffer, no final newline', async () => {
    const lines = Array.from({ length: 4000 }, (_, i) =>
      i === 1500
        ? `huge ${'x'.repeat(300 * 1024)} system is rebooting`
        : i % 97
          ? `noise ${i}`
          : 'Power key pressed.',
    );
    const p = join(dir, 'ahead.log');
    writeFileSync(p, randomSyslog(lines));
    const base = { referenceDate: new Date('2026-01-05T00:00:00Z'), chunkBytes: 64 * 1024, threads: 1 };
    const plain = await scanSyslogFile(p, { ...base, simd: false });
    const simd = await scanSyslogFile(p, base);
    expect(simd.events).toEqual(plain.events);
    expect(simd.linesScanned).toBe(4000);
    expect(plain.linesScanned).toBe(4000);
    expect(simd.bytesScanned).toBe(plain.bytesScanned);
    expect(simd.events.filter((e) => e.signal === 'poweroff-request').map((e) => e.ref)).toEqual(
      lines.flatMap((l, i) => (l === 'Power key pressed.' ? [`ahead.log:${i + 1}`] : [])),
    );
  });

  it('workers without the kernel (simd: false) give the same result and say so', async () => {
    const p = join(dir, 'workers.log');
    writeFileSync(
      p,
      randomSyslog(Array.from({ length: 5000 }, (_, i) => (i % 50 ? `noise ${i}` : 'System is rebooting.'))),
    );
    const base = {
      referenceDate: new Date('2026-01-05T00:00:00Z'),
      chunkBytes: 64 * 1024,
      threads: 2,
      scanOnThisThread: false,
    };
    const a = await scanSyslogFile(p, { ...base, simd: false });
    const b = await scanSyslogFile(p, base);
    expect(a.stats).toEqual({ segments: 4, workerSegments: 4, simd: false });
    expect(b.stats).toEqual({ segments: 4, workerSegments: 4, simd: true });
    expect(b.events).toEqual(a.events);
    expect(a.events).toHaveLength(100);
    expect(a.events[99]?.ref).toBe('workers.log:4951');
  });
});

describe('prestartSyslogScan', () => {
  afterEach(async () => {
    await stopIdleScanWorkers();
  });

  const io = {
    stdout: process.stdout,
    stderr: process.stderr,
    env: {},
    cwd: dir,
    now: () => new Date('2026-01-05T00:00:00Z'),
  };

  it('starts the workers for a large plain file with no window or a long one, not for a short window', async () => {
    const big = join(dir, 'big.log');
    writeFileSync(big, 'Jan  4 10:00:00 web-1 kernel: hello\n');
    truncateSync(big, 1024 << 20); // sparse; one thread per 256 MiB
    const mid = join(dir, 'mid.log');
    writeFileSync(mid, 'Jan  4 10:00:00 web-1 kernel: hello\n');
    truncateSync(mid, 300 << 20); // one thread reading ahead beats a worker's start
    const small = join(dir, 'small.log');
    writeFileSync(small, 'Jan  4 10:00:00 web-1 kernel: hello\n');
    const want = Math.min(availableParallelism(), 4) - 1;
    await prestartSyslogScan(['web-1', '--syslog', 'mid.log', '--json'], io);
    expect(idleScanWorkers()).toBe(0);
    await prestartSyslogScan(['web-1', '--syslog', 'small.log', '--json'], io);
    expect(idleScanWorkers()).toBe(0);
    await prestartSyslogScan(['web-1', '--syslog', 'big.log', '--since', '2h', '--json'], io);
    expect(idleScanWorkers()).toBe(0);
    await prestartSyslogScan(['web-1', '--syslog', 'big.log', '--since', 'not-a-time'], io);
    expect(idleScanWorkers()).toBe(0);
    await prestartSyslogScan(['web-1', '--syslog', 'big.log', '--since', '30d', '--json'], io);
    expect(idleScanWorkers()).toBe(want);
    await prestartSyslogScan(['web-1', `--syslog=${big}`], io); // no window: the whole file; no more than needed
    expect(idleScanWorkers()).toBe(want);
  });
});
