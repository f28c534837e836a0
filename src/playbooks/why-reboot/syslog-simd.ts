/**
 * The syslog scan's SIMD prefilter: a WebAssembly kernel that finds, 16 bytes at a time, the lines that may
 * hold one of the classifier's anchor literals, and counts newlines on the way. The caller then checks each
 * such line with the anchor regex (syslog-scan-core.ts), so the kernel may report too many lines but never
 * too few: results are exactly those of the regex over every line.
 *
 * Why: the regex over lowercased latin1 text runs at ~600 MB/s on one thread, ~85% of a whole-file scan
 * (issue 8). This kernel runs at several GB/s.
 *
 * How (the "Teddy" packed searcher of Hyperscan and of Rust's aho-corasick, in 128-bit WebAssembly SIMD):
 * - Fold ASCII case by OR-ing 0x20 into every text byte (and into the anchors). That maps 'A'..'Z' onto
 *   'a'..'z' (and latin1 0xC0..0xDE onto 0xE0..0xFE, as latin1 toLowerCase does) and merges a few
 *   non-letters ('@' with '`', CR with '-'): a superset of the lowercase match, never a subset.
 * - Put the anchors in 8 buckets. For each of the first 3 byte positions k of an anchor there are two 16-byte
 *   tables, indexed by the low and the high nibble of a byte: bit b is set in entry n when some anchor of bucket
 *   b has that nibble at position k (every entry when the anchor is shorter than k+1: a wildcard). For the text
 *   at p, p+1, p+2 the kernel looks both nibbles up with `i8x16.swizzle` and ANDs everything: a non-zero lane i
 *   says "an anchor of these buckets may start at p+i".
 * - Each such start is verified in the kernel against every anchor of its buckets (16 folded bytes compared at
 *   once under a mask; longer anchors by their first 16 bytes). A verified start is written out as (offset,
 *   newlines before it) and the rest of its line is skipped: the caller checks whole lines.
 * - Newlines: `i8x16.eq '\n'` -> `i8x16.bitmask` -> `i32.popcnt` per block; a start's line number is the count
 *   before the block plus the popcount of the newline bits below it.
 *
 * The module is emitted at load time by the small assembler below (no WAT compiler, no dependency); the anchor
 * tables are data written into the instance's memory, so any classifier's anchors work. The text is read straight
 * into that memory (`LineScanKernel.buffer`), so nothing is copied. Without WebAssembly SIMD (or with anchors the
 * kernel cannot fold: empty, non-ASCII, a newline) `createLineScanKernel` returns null and the caller keeps the
 * regex over every line.
 *
 * This module imports nothing: the scan workers load it by file URL, as `.ts` (type stripping) or `.js`.
 */

// ---------------------------------------------------------------------------------------------------------------
// A minimal WebAssembly binary writer: what the kernel needs, with the opcode names of the spec.

const OP = {
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  end: 0x0b,
  br: 0x0c,
  br_if: 0x0d,
  'local.get': 0x20,
  'local.set': 0x21,
  'local.tee': 0x22,
  'i32.load': 0x28,
  'i32.load8_u': 0x2d,
  'i32.store': 0x36,
  'i32.const': 0x41,
  'i32.eqz': 0x45,
  'i32.lt_u': 0x49,
  'i32.ge_u': 0x4f,
  'i32.ctz': 0x68,
  'i32.popcnt': 0x69,
  'i32.add': 0x6a,
  'i32.sub': 0x6b,
  'i32.and': 0x71,
  'i32.xor': 0x73,
  'i32.shl': 0x74,
} as const;

/** SIMD opcodes: the 0xFD prefix, then this number as unsigned LEB128. */
const SIMD = {
  'v128.load': 0x00,
  'v128.store': 0x0b,
  'v128.const': 0x0c,
  'i8x16.swizzle': 0x0e,
  'i8x16.splat': 0x0f,
  'i8x16.eq': 0x23,
  'i8x16.ne': 0x24,
  'v128.and': 0x4e,
  'v128.or': 0x50,
  'v128.any_true': 0x53,
  'i8x16.all_true': 0x63,
  'i8x16.bitmask': 0x64,
  'i8x16.shr_u': 0x6d,
  /** Relaxed SIMD: indices 0..15 as i8x16.swizzle, others implementation-defined (one pshufb on x64). */
  'i8x16.relaxed_swizzle': 0x100,
} as const;

const T_I32 = 0x7f;
const T_V128 = 0x7b;
const BLOCK_VOID = 0x40;

const uleb = (n: number): number[] => {
  const out: number[] = [];
  let v = n >>> 0;
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
  return out;
};

const sleb = (n: number): number[] => {
  const out: number[] = [];
  let v = n | 0;
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    const done = (v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0);
    out.push(done ? b : b | 0x80);
    if (done) return out;
  }
};

const utf8 = (s: string): number[] => [...new TextEncoder().encode(s)];
const name = (s: string): number[] => [...uleb(utf8(s).length), ...utf8(s)];
const vec = (items: readonly number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];

/** One function body, written as a stack machine: each call appends one instruction. */
class Asm {
  readonly bytes: number[] = [];
  op(name: keyof typeof OP, ...imm: number[]): this {
    this.bytes.push(OP[name], ...imm);
    return this;
  }
  simd(name: keyof typeof SIMD, ...imm: number[]): this {
    this.bytes.push(0xfd, ...uleb(SIMD[name]), ...imm);
    return this;
  }
  get(l: number): this {
    return this.op('local.get', ...uleb(l));
  }
  set(l: number): this {
    return this.op('local.set', ...uleb(l));
  }
  tee(l: number): this {
    return this.op('local.tee', ...uleb(l));
  }
  i32(n: number): this {
    return this.op('i32.const', ...sleb(n));
  }
  /** i32 memory access at [addr + offset] (alignment hint 0: any address). */
  mem(name: 'i32.load' | 'i32.load8_u' | 'i32.store', offset: number): this {
    return this.op(name, 0, ...uleb(offset));
  }
  vload(offset: number): this {
    return this.simd('v128.load', 0, ...uleb(offset));
  }
  vstore(offset: number): this {
    return this.simd('v128.store', 0, ...uleb(offset));
  }
  vzero(): this {
    return this.simd('v128.const', ...new Array<number>(16).fill(0));
  }
  block(): this {
    return this.op('block', BLOCK_VOID);
  }
  loop(): this {
    return this.op('loop', BLOCK_VOID);
  }
  if(): this {
    return this.op('if', BLOCK_VOID);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The kernel.

/**
 * Memory layout of a kernel instance (byte addresses). The state words at 0 are the kernel's resume point.
 */
const STATE = 0; // i32 [pos reached, newlines counted, inside a reported line (0/1)]
const TABLES = 64; // 6 x 16 bytes: positions 0..2, low-nibble then high-nibble table
const BUCKETS = TABLES + 96; // 9 i32: address of bucket b's first anchor record; [8] the end
const SCRATCH = TABLES + 144; // 16 bytes: the candidate lanes, to read one by index
const ANCHORS = 256; // 32 bytes per anchor: 16 folded pattern bytes, 16 mask bytes (0xFF where compared)
const RECORD_BYTES = 8; // output: i32 offset (absolute), i32 newlines before it
const OUT_RECORDS = 8192;
/** Bytes after the text the kernel may read (loads at p+2..p+17, verification at p+i..p+i+15). */
const TAIL_SLACK = 64;
const POSITIONS = 3;
const NBUCKETS = 8;

// Locals: parameters first.
const L = {
  p: 0, // absolute address of the current 16-byte block
  end: 1, // absolute end of the text
  nl: 2, // newlines before p
  skip: 3, // 1: p is inside a line already reported (skip its candidates up to its newline)
  out: 4, // absolute address of the next output record
  outEnd: 5, // stop (and save the state) when out reaches this (room for one block's 16 records)
  nlm: 6,
  allow: 7, // candidate lanes allowed in this block (inside the text, not in a reported line)
  cm: 8,
  i: 9,
  bits: 10,
  a: 11,
  aEnd: 12,
  tmp: 13,
  count: 14,
  found: 15,
  x: 16,
  c: 17,
  f: 18,
  fold: 19,
  lo: 20,
  nlv: 21,
  t: 22,
  tab: 23, // 23..28: position k low table = 23 + 2k, high table = 24 + 2k
} as const;
const I32_LOCALS = L.found + 1 - 6; // nlm..found
const V128_LOCALS = L.tab + 2 * POSITIONS - L.x;

/** scan(p, end, nl, skip, out, outEnd) -> records written; the resume state goes to STATE. */
const kernelBody = (relaxed: boolean): number[] => {
  const a = new Asm();
  // The table indices are nibbles (0..15), where both swizzles agree; the relaxed one skips the saturation
  // that maps indices above 15 to 0.
  const swizzle = relaxed ? 'i8x16.relaxed_swizzle' : 'i8x16.swizzle';
  // Constants and the tables into registers.
  a.i32(0x20).simd('i8x16.splat').set(L.fold);
  a.i32(0x0f).simd('i8x16.splat').set(L.lo);
  a.i32(10).simd('i8x16.splat').set(L.nlv);
  for (let k = 0; k < 2 * POSITIONS; k++)
    a.i32(0)
      .vload(TABLES + 16 * k)
      .set(L.tab + k);
  a.i32(0).set(L.count);

  a.block(); // $done
  a.loop(); // $blocks
  a.get(L.p).get(L.end).op('i32.ge_u').op('br_if', 1);
  a.get(L.out).get(L.outEnd).op('i32.ge_u').op('br_if', 1);
  // Newlines of the block; lanes past the end are not text.
  a.get(L.p).vload(0).tee(L.x).get(L.nlv).simd('i8x16.eq').simd('i8x16.bitmask').set(L.nlm);
  a.i32(0xffff).set(L.allow);
  a.get(L.end).get(L.p).op('i32.sub').tee(L.tmp).i32(16).op('i32.lt_u').if();
  a.i32(1).get(L.tmp).op('i32.shl').i32(1).op('i32.sub').set(L.allow);
  a.get(L.nlm).get(L.allow).op('i32.and').set(L.nlm);
  a.op('end');
  // Still inside a reported line: no candidates up to its newline.
  a.get(L.skip).if();
  a.get(L.nlm).if();
  // allow &= ~((2 << ctz(nlm)) - 1)
  a.get(L.allow).i32(2).get(L.nlm).op('i32.ctz').op('i32.shl').i32(1).op('i32.sub').i32(-1).op('i32.xor');
  a.op('i32.and').set(L.allow);
  a.i32(0).set(L.skip);
  a.op('else');
  a.i32(0).set(L.allow);
  a.op('end');
  a.op('end');
  // Teddy: c = AND over k of lowTable_k[byte(p+k) & 15] & highTable_k[byte(p+k) >> 4], bytes folded.
  for (let k = 0; k < POSITIONS; k++) {
    if (k === 0) a.get(L.x);
    else a.get(L.p).vload(k);
    a.get(L.fold).simd('v128.or').set(L.f);
    a.get(L.tab + 2 * k)
      .get(L.f)
      .get(L.lo)
      .simd('v128.and')
      .simd(swizzle);
    a.get(L.tab + 2 * k + 1)
      .get(L.f)
      .i32(4)
      .simd('i8x16.shr_u')
      .simd(swizzle);
    a.simd('v128.and');
    if (k > 0) a.simd('v128.and');
  }
  a.tee(L.c).simd('v128.any_true').if();
  a.get(L.c).vzero().simd('i8x16.ne').simd('i8x16.bitmask').get(L.allow).op('i32.and').set(L.cm);
  a.i32(0).get(L.c).vstore(SCRATCH);
  a.block(); // $cands
  a.loop(); // $cand
  a.get(L.cm).op('i32.eqz').op('br_if', 1);
  a.get(L.cm).op('i32.ctz').set(L.i);
  a.get(L.i).mem('i32.load8_u', SCRATCH).set(L.bits);
  // t = the folded 16 bytes at the candidate
  a.get(L.p).get(L.i).op('i32.add').vload(0).get(L.fold).simd('v128.or').set(L.t);
  a.i32(0).set(L.found);
  a.block(); // $verified
  a.loop(); // $bucket
  a.get(L.bits).op('i32.eqz').op('br_if', 1);
  a.get(L.bits).op('i32.ctz').i32(2).op('i32.shl').tee(L.tmp).mem('i32.load', BUCKETS).set(L.a);
  a.get(L.tmp)
    .mem('i32.load', BUCKETS + 4)
    .set(L.aEnd);
  a.get(L.bits).get(L.bits).i32(1).op('i32.sub').op('i32.and').set(L.bits);
  a.block(); // $anchors
  a.loop(); // $anchor
  a.get(L.a).get(L.aEnd).op('i32.ge_u').op('br_if', 1);
  a.get(L.t).get(L.a).vload(16).simd('v128.and').get(L.a).vload(0).simd('i8x16.eq').simd('i8x16.all_true');
  a.if();
  a.i32(1).set(L.found);
  a.op('br', 4); // out of if, $anchor, $anchors, $bucket, to the end of $verified
  a.op('end');
  a.get(L.a).i32(32).op('i32.add').set(L.a);
  a.op('br', 0);
  a.op('end'); // $anchor
  a.op('end'); // $anchors
  a.op('br', 0); // next bucket
  a.op('end'); // $bucket
  a.op('end'); // $verified
  a.get(L.found).if();
  // Record (offset, newlines before it).
  a.get(L.out).get(L.p).get(L.i).op('i32.add').mem('i32.store', 0);
  a.get(L.out)
    .get(L.nl)
    .get(L.nlm)
    .i32(1)
    .get(L.i)
    .op('i32.shl')
    .i32(1)
    .op('i32.sub')
    .op('i32.and')
    .op('i32.popcnt')
    .op('i32.add')
    .mem('i32.store', 4);
  a.get(L.out).i32(RECORD_BYTES).op('i32.add').set(L.out);
  a.get(L.count).i32(1).op('i32.add').set(L.count);
  // Skip the rest of its line: the first newline at or after the candidate ends it.
  a.get(L.nlm).i32(-1).get(L.i).op('i32.shl').op('i32.and').tee(L.tmp).if();
  a.get(L.cm).i32(2).get(L.tmp).op('i32.ctz').op('i32.shl').i32(1).op('i32.sub').i32(-1).op('i32.xor');
  a.op('i32.and').set(L.cm);
  a.op('else');
  a.i32(0).set(L.cm);
  a.i32(1).set(L.skip);
  a.op('end');
  a.op('else');
  a.get(L.cm).get(L.cm).i32(1).op('i32.sub').op('i32.and').set(L.cm);
  a.op('end');
  a.op('br', 0); // next candidate
  a.op('end'); // $cand
  a.op('end'); // $cands
  a.op('end'); // if any_true
  a.get(L.nl).get(L.nlm).op('i32.popcnt').op('i32.add').set(L.nl);
  a.get(L.p).i32(16).op('i32.add').set(L.p);
  a.op('br', 0);
  a.op('end'); // $blocks
  a.op('end'); // $done
  a.i32(STATE).get(L.p).mem('i32.store', 0);
  a.i32(STATE).get(L.nl).mem('i32.store', 4);
  a.i32(STATE).get(L.skip).mem('i32.store', 8);
  a.get(L.count);
  a.op('end');
  return a.bytes;
};

/** The kernel module: imports its memory as m.mem, exports scan. `relaxed`: with relaxed SIMD's swizzle. */
export const kernelModuleBytes = (relaxed = false): Uint8Array => {
  const params = 6;
  const type = [0x60, ...vec(Array.from({ length: params }, () => [T_I32])), ...vec([[T_I32]])];
  const body = [
    ...vec([uleb(I32_LOCALS).concat(T_I32), uleb(V128_LOCALS).concat(T_V128)]),
    ...kernelBody(relaxed),
  ];
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec([type])),
    // import "m" "mem": a memory (0x02) with limits flag 0 and at least 1 page
    ...section(2, vec([[...name('m'), ...name('mem'), 0x02, 0x00, 0x01]])),
    ...section(3, vec([uleb(0)])),
    ...section(7, vec([[...name('scan'), 0x00, 0x00]])), // export "scan": function 0
    ...section(10, vec([[...uleb(body.length), ...body]])),
  ]);
};

// ---------------------------------------------------------------------------------------------------------------
// Anchor tables and the instance.

/** An anchor the kernel can fold: non-empty, ASCII, no newline (lines are the unit). */
const foldable = (a: string): boolean =>
  a.length > 0 && [...a].every((ch) => ch.charCodeAt(0) <= 0x7f && ch !== '\n');

/** The anchors' bytes folded (| 0x20), without duplicates, in buckets (anchors sharing a first byte together). */
const bucketsOf = (anchors: readonly string[]): number[][][] => {
  const groups = new Map<number, number[][]>();
  for (const a of new Set(anchors)) {
    const bytes = [...a].map((ch) => ch.charCodeAt(0) | 0x20);
    const head = bytes[0] ?? 0;
    const g = groups.get(head) ?? [];
    g.push(bytes);
    groups.set(head, g);
  }
  const buckets: number[][][] = Array.from({ length: NBUCKETS }, () => []);
  for (const g of [...groups.values()].sort((x, y) => y.length - x.length)) {
    const target = buckets.reduce((best, b) => (b.length < best.length ? b : best));
    target.push(...g);
  }
  return buckets;
};

interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  readonly Module: new (bytes: Uint8Array) => object;
  readonly Instance: new (module: object, imports: object) => { readonly exports: Record<string, unknown> };
  readonly Memory: new (d: { initial: number; maximum: number }) => { readonly buffer: ArrayBuffer };
}
type ScanFn = (p: number, end: number, nl: number, skip: number, out: number, outEnd: number) => number;

/** The compiled kernel per variant ('best': relaxed SIMD when the runtime has it, else plain), once per thread. */
const compiled = new Map<KernelVariant, object | null>();

/** Which swizzle the kernel uses: the best the runtime validates, or plain SIMD only (to test the fallback). */
export type KernelVariant = 'best' | 'plain';

/** The kernel module; null without WebAssembly or its SIMD. */
const kernelModule = (variant: KernelVariant = 'best'): object | null => {
  const known = compiled.get(variant);
  if (known !== undefined) return known;
  let module: object | null = null;
  try {
    const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
    for (const relaxed of variant === 'best' ? [true, false] : [false]) {
      const bytes = kernelModuleBytes(relaxed);
      if (wasm?.validate(bytes)) {
        module = new wasm.Module(bytes);
        break;
      }
    }
  } catch {
    module = null;
  }
  compiled.set(variant, module);
  return module;
};

/** Compiles the kernel module now (a worker does it while it waits for its job); false without WebAssembly SIMD. */
export const compileLineScanKernel = (): boolean => kernelModule() !== null;

const align = (n: number, to: number): number => Math.ceil(n / to) * to;

/** A kernel instance with its own memory: fill `buffer`, then `scan` a prefix of it. */
export interface LineScanKernel {
  /** The text buffer (in the kernel's memory, so scanning it copies nothing). */
  readonly buffer: Buffer;
  /**
   * Scans buffer[0, len): calls `onStart(offset, newlinesBefore)` in order, at most once per line, for every line
   * that holds an anchor (ASCII case folded; and possibly some that do not: the caller checks each line).
   * Returns the number of `\n` in buffer[0, len).
   */
  scan(len: number, onStart: (offset: number, newlinesBefore: number) => void): number;
}

class WasmLineScanKernel implements LineScanKernel {
  readonly buffer: Buffer;
  private readonly fn: ScanFn;
  private readonly words: Int32Array;
  private readonly textAt: number;
  private readonly outAt: number;

  constructor(wasm: WasmApi, module: object, buckets: readonly (readonly number[][])[], capacity: number) {
    const count = buckets.reduce((n, b) => n + b.length, 0);
    this.outAt = align(ANCHORS + 32 * count, 64);
    this.textAt = align(this.outAt + OUT_RECORDS * RECORD_BYTES, 64);
    const pages = Math.ceil((this.textAt + capacity + TAIL_SLACK) / 65536);
    const memory = new wasm.Memory({ initial: pages, maximum: pages });
    const bytes = new Uint8Array(memory.buffer);
    const words = new Int32Array(memory.buffer);
    let rec = ANCHORS;
    for (const [b, list] of buckets.entries()) {
      words[(BUCKETS >> 2) + b] = rec;
      for (const anchor of list) {
        for (const [j, byte] of anchor.slice(0, 16).entries()) {
          bytes[rec + j] = byte;
          bytes[rec + 16 + j] = 0xff;
        }
        for (let k = 0; k < POSITIONS; k++) {
          const byte = anchor[k];
          for (let n = 0; n < 16; n++) {
            // A position past the anchor's end matches any byte.
            const low = TABLES + 32 * k + n;
            const high = low + 16;
            if (byte === undefined || (byte & 15) === n) bytes[low] = (bytes[low] ?? 0) | (1 << b);
            if (byte === undefined || byte >> 4 === n) bytes[high] = (bytes[high] ?? 0) | (1 << b);
          }
        }
        rec += 32;
      }
    }
    words[(BUCKETS >> 2) + NBUCKETS] = rec;
    const instance = new wasm.Instance(module, { m: { mem: memory } });
    this.fn = instance.exports.scan as ScanFn;
    this.words = words;
    this.buffer = Buffer.from(memory.buffer, this.textAt, capacity);
  }

  scan(len: number, onStart: (offset: number, newlinesBefore: number) => void): number {
    const words = this.words;
    const base = this.textAt;
    const end = base + len;
    const outEnd = this.outAt + (OUT_RECORDS - 16) * RECORD_BYTES;
    let p = base;
    let nl = 0;
    let skip = 0;
    while (p < end) {
      const n = this.fn(p, end, nl, skip, this.outAt, outEnd);
      for (let k = 0, w = this.outAt >> 2; k < n; k++, w += 2)
        onStart((words[w] ?? 0) - base, words[w + 1] ?? 0);
      p = words[STATE >> 2] ?? end;
      nl = words[(STATE >> 2) + 1] ?? 0;
      skip = words[(STATE >> 2) + 2] ?? 0;
    }
    return nl;
  }
}

/**
 * A kernel for these anchors with a `capacity`-byte text buffer, or null when it cannot serve them (no
 * WebAssembly SIMD here, or an anchor it cannot fold: empty, non-ASCII, a newline).
 */
export const createLineScanKernel = (
  anchors: readonly string[],
  capacity: number,
  variant: KernelVariant = 'best',
): LineScanKernel | null => {
  if (anchors.length === 0 || !anchors.every(foldable)) return null;
  const module = kernelModule(variant);
  const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  if (module === null || wasm === undefined) return null;
  return new WasmLineScanKernel(wasm, module, bucketsOf(anchors), capacity);
};
