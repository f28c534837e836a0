/**
 * A unified diff of two texts, line by line (Myers' O(ND) algorithm), with 3 lines of context and git-style
 * headers. Pure: the CLI prints it and the Slack preview renders it, so both show the same change.
 */

const CONTEXT = 3;

interface DiffLine {
  readonly text: string; // without the "\n" (a "\r" of a CRLF line is kept, so EOL changes show)
  readonly eol: boolean; // false only for a last line without a newline
}

type Op = { readonly kind: ' ' | '-' | '+'; readonly line: DiffLine };

const splitLines = (text: string): DiffLine[] => {
  if (text === '') return [];
  const parts = text.split('\n');
  const last = parts.pop() ?? '';
  const lines = parts.map((t) => ({ text: t, eol: true }));
  if (last !== '') lines.push({ text: last, eol: false });
  return lines;
};

const keyOf = (l: DiffLine): string => (l.eol ? `${l.text}\n` : l.text);

/** Myers' greedy shortest edit script; returns the edit operations in order. */
const myers = (a: readonly DiffLine[], b: readonly DiffLine[]): Op[] => {
  const ak = a.map(keyOf);
  const bk = b.map(keyOf);
  const n = ak.length;
  const m = bk.length;
  const max = n + m;
  const offset = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  let found = false;
  for (let d = 0; d <= max && !found; d++) {
    trace.push(v.slice());
    for (let k = -d; k <= d; k += 2) {
      let x: number;
      if (k === -d || (k !== d && (v[offset + k - 1] ?? 0) < (v[offset + k + 1] ?? 0))) {
        x = v[offset + k + 1] ?? 0;
      } else {
        x = (v[offset + k - 1] ?? 0) + 1;
      }
      let y = x - k;
      while (x < n && y < m && ak[x] === bk[y]) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) {
        found = true;
        break;
      }
    }
  }
  // Backtrack through the saved frontiers.
  const ops: Op[] = [];
  let x = n;
  let y = m;
  for (let d = trace.length - 1; d >= 0; d--) {
    const vd = trace[d] as Int32Array;
    const k = x - y;
    let prevK: number;
    if (k === -d || (k !== d && (vd[offset + k - 1] ?? 0) < (vd[offset + k + 1] ?? 0))) prevK = k + 1;
    else prevK = k - 1;
    const prevX = d === 0 ? 0 : (vd[offset + prevK] ?? 0);
    const prevY = d === 0 ? 0 : prevX - prevK;
    while (x > prevX && y > prevY) {
      ops.push({ kind: ' ', line: a[x - 1] as DiffLine });
      x--;
      y--;
    }
    if (d > 0) {
      if (x === prevX) ops.push({ kind: '+', line: b[y - 1] as DiffLine });
      else ops.push({ kind: '-', line: a[x - 1] as DiffLine });
    }
    x = prevX;
    y = prevY;
  }
  return ops.reverse();
};

const range = (start: number, count: number): string => {
  if (count === 1) return `${start}`;
  return `${count === 0 ? start - 1 : start},${count}`;
};

/**
 * `before` null means the file does not exist yet (`--- /dev/null`). Returns '' when nothing changes.
 * A last line without a newline is marked `\ No newline at end of file`, as diff(1) and git do.
 */
export const unifiedDiff = (path: string, before: string | null, after: string): string => {
  if (before !== null && before === after) return '';
  const a = splitLines(before ?? '');
  const b = splitLines(after);
  const ops = myers(a, b);
  if (ops.every((o) => o.kind === ' ') && before !== null) return '';

  const out: string[] = [before === null ? '--- /dev/null' : `--- a/${path}`, `+++ b/${path}`];
  // Group changes into hunks with CONTEXT lines around each change.
  const changeIdx = ops.flatMap((o, i) => (o.kind === ' ' ? [] : [i]));
  let i = 0;
  while (i < changeIdx.length) {
    const first = changeIdx[i] as number;
    let last = first;
    while (i + 1 < changeIdx.length && (changeIdx[i + 1] as number) - last <= 2 * CONTEXT) {
      i++;
      last = changeIdx[i] as number;
    }
    i++;
    const start = Math.max(0, first - CONTEXT);
    const end = Math.min(ops.length, last + CONTEXT + 1);
    let aLine = 1;
    let bLine = 1;
    for (let j = 0; j < start; j++) {
      const kind = (ops[j] as Op).kind;
      if (kind !== '+') aLine++;
      if (kind !== '-') bLine++;
    }
    let aCount = 0;
    let bCount = 0;
    const body: string[] = [];
    for (let j = start; j < end; j++) {
      const op = ops[j] as Op;
      if (op.kind !== '+') aCount++;
      if (op.kind !== '-') bCount++;
      body.push(`${op.kind}${op.line.text}`);
      if (!op.line.eol) body.push('\\ No newline at end of file');
    }
    out.push(`@@ -${range(aLine, aCount)} +${range(bLine, bCount)} @@`, ...body);
  }
  return `${out.join('\n')}\n`;
};
