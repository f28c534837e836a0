/**
 * Just enough of an HCL native-syntax scanner to find top-level blocks (`import { ... }`,
 * `resource "T" "N" { ... }`) and their one-line attributes, across formatting: comments (`#`, `//`,
 * `/* *\/`), quoted templates with nested interpolations, heredocs, and any spacing are skipped correctly,
 * so a commented-out block or a `to =` inside a string is never mistaken for a real one.
 */

export type TokenType = 'ident' | 'string' | 'number' | 'punct' | 'newline' | 'heredoc' | 'comment';

export interface Token {
  readonly type: TokenType;
  /** ident/number/punct: the text; string: the raw inside of the quotes; heredoc: the raw text. */
  readonly value: string;
  readonly start: number;
  readonly end: number;
}

/** Index just past the closing quote of a quoted template starting at `start` (the `"`), or -1. */
const scanQuoted = (src: string, start: number): number => {
  let i = start + 1;
  while (i < src.length) {
    const c = src[i];
    if (c === '\\') {
      i += 2;
      continue;
    }
    if (c === '"') return i + 1;
    if (c === '\n') return -1;
    if ((c === '$' || c === '%') && src[i + 1] === c && src[i + 2] === '{') {
      i += 3;
      continue;
    }
    if ((c === '$' || c === '%') && src[i + 1] === '{') {
      const end = scanInterpolation(src, i + 2);
      if (end < 0) return -1;
      i = end;
      continue;
    }
    i++;
  }
  return -1;
};

/** Index just past the `}` closing an interpolation whose body starts at `start`, or -1. */
const scanInterpolation = (src: string, start: number): number => {
  let depth = 1;
  let i = start;
  while (i < src.length) {
    const c = src[i];
    if (c === '"') {
      const end = scanQuoted(src, i);
      if (end < 0) return -1;
      i = end;
      continue;
    }
    if (c === '{') depth++;
    else if (c === '}') {
      depth--;
      if (depth === 0) return i + 1;
    }
    i++;
  }
  return -1;
};

export const scanHcl = (src: string): Token[] => {
  const tokens: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i] as string;
    if (c === ' ' || c === '\t' || (c === '\r' && src[i + 1] !== '\n') || c === '\uFEFF') {
      i++;
      continue;
    }
    if (c === '\n' || (c === '\r' && src[i + 1] === '\n')) {
      const len = c === '\n' ? 1 : 2;
      tokens.push({ type: 'newline', value: '\n', start: i, end: i + len });
      i += len;
      continue;
    }
    if (c === '#' || (c === '/' && src[i + 1] === '/')) {
      let end = src.indexOf('\n', i);
      if (end < 0) end = src.length;
      tokens.push({ type: 'comment', value: src.slice(i, end), start: i, end });
      i = end;
      continue;
    }
    if (c === '/' && src[i + 1] === '*') {
      const close = src.indexOf('*/', i + 2);
      const end = close < 0 ? src.length : close + 2;
      tokens.push({ type: 'comment', value: src.slice(i, end), start: i, end });
      i = end;
      continue;
    }
    if (c === '"') {
      const end = scanQuoted(src, i);
      const stop = end < 0 ? (src.indexOf('\n', i) < 0 ? src.length : src.indexOf('\n', i)) : end;
      tokens.push({
        type: end < 0 ? 'punct' : 'string',
        value: src.slice(i + 1, end < 0 ? stop : end - 1),
        start: i,
        end: stop,
      });
      i = stop;
      continue;
    }
    const heredoc = /^<<-?([A-Za-z_][A-Za-z0-9_-]*)\r?\n/.exec(src.slice(i, i + 200));
    if (heredoc) {
      const marker = heredoc[1] as string;
      let j = i + heredoc[0].length;
      let end = src.length;
      while (j < src.length) {
        const nl = src.indexOf('\n', j);
        const lineEnd = nl < 0 ? src.length : nl;
        if (src.slice(j, lineEnd).trim() === marker) {
          end = lineEnd;
          break;
        }
        j = lineEnd + 1;
      }
      tokens.push({ type: 'heredoc', value: src.slice(i, end), start: i, end });
      i = end;
      continue;
    }
    const ident = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(src.slice(i, i + 300));
    if (ident) {
      tokens.push({ type: 'ident', value: ident[0], start: i, end: i + ident[0].length });
      i += ident[0].length;
      continue;
    }
    const num = /^[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/.exec(src.slice(i, i + 100));
    if (num) {
      tokens.push({ type: 'number', value: num[0], start: i, end: i + num[0].length });
      i += num[0].length;
      continue;
    }
    tokens.push({ type: 'punct', value: c, start: i, end: i + 1 });
    i++;
  }
  return tokens;
};

export interface HclAttribute {
  readonly name: string;
  /** The expression's tokens (comments dropped). */
  readonly expr: readonly Token[];
}

export interface HclBlock {
  readonly type: string;
  readonly labels: readonly string[];
  readonly attributes: readonly HclAttribute[];
  readonly start: number;
  readonly end: number;
  /** 1-based line of the block header. */
  readonly line: number;
}

const OPEN: Readonly<Record<string, string>> = { '{': '}', '[': ']', '(': ')' };

/** Top-level blocks with their direct attributes (nested blocks are skipped over). */
export const findTopLevelBlocks = (src: string): HclBlock[] => {
  const tokens = scanHcl(src).filter((t) => t.type !== 'comment');
  const blocks: HclBlock[] = [];
  let i = 0;
  const skipBalanced = (from: number): number => {
    // tokens[from] is an opener; returns the index just after its closer.
    const stack: string[] = [];
    let j = from;
    while (j < tokens.length) {
      const t = tokens[j] as Token;
      if (t.type === 'punct' && OPEN[t.value]) stack.push(OPEN[t.value] as string);
      else if (t.type === 'punct' && t.value === stack[stack.length - 1]) {
        stack.pop();
        if (stack.length === 0) return j + 1;
      }
      j++;
    }
    return tokens.length;
  };
  while (i < tokens.length) {
    const t = tokens[i] as Token;
    if (t.type === 'newline') {
      i++;
      continue;
    }
    if (t.type !== 'ident') {
      // Not a body item we understand: skip to the end of the line (balanced).
      while (i < tokens.length && (tokens[i] as Token).type !== 'newline') {
        const u = tokens[i] as Token;
        i = u.type === 'punct' && OPEN[u.value] ? skipBalanced(i) : i + 1;
      }
      continue;
    }
    const next = tokens[i + 1];
    if (next?.type === 'punct' && next.value === '=') {
      // Top-level attribute (not valid in .tf, but skip it cleanly).
      i += 2;
      while (i < tokens.length && (tokens[i] as Token).type !== 'newline') {
        const u = tokens[i] as Token;
        i = u.type === 'punct' && OPEN[u.value] ? skipBalanced(i) : i + 1;
      }
      continue;
    }
    const labels: string[] = [];
    let j = i + 1;
    while (
      j < tokens.length &&
      ((tokens[j] as Token).type === 'string' || (tokens[j] as Token).type === 'ident')
    ) {
      labels.push((tokens[j] as Token).value);
      j++;
    }
    const open = tokens[j];
    if (!(open?.type === 'punct' && open.value === '{')) {
      i = j + 1;
      continue;
    }
    const close = skipBalanced(j);
    const body = tokens.slice(j + 1, close - 1);
    const attributes: HclAttribute[] = [];
    let k = 0;
    while (k < body.length) {
      const a = body[k] as Token;
      if (
        a.type === 'ident' &&
        (body[k + 1] as Token | undefined)?.value === '=' &&
        body[k + 1]?.type === 'punct'
      ) {
        const expr: Token[] = [];
        k += 2;
        let depth = 0;
        while (k < body.length) {
          const u = body[k] as Token;
          if (u.type === 'newline' && depth === 0) break;
          if (u.type === 'punct' && OPEN[u.value]) depth++;
          else if (u.type === 'punct' && (u.value === '}' || u.value === ']' || u.value === ')')) depth--;
          if (u.type !== 'newline') expr.push(u);
          k++;
        }
        attributes.push({ name: a.value, expr });
        continue;
      }
      if (a.type === 'punct' && OPEN[a.value]) {
        // nested block body: skip it
        let depth = 0;
        while (k < body.length) {
          const u = body[k] as Token;
          if (u.type === 'punct' && OPEN[u.value]) depth++;
          else if (u.type === 'punct' && (u.value === '}' || u.value === ']' || u.value === ')')) {
            depth--;
            if (depth === 0) {
              k++;
              break;
            }
          }
          k++;
        }
        continue;
      }
      k++;
    }
    const start = t.start;
    const end = (tokens[close - 1] as Token | undefined)?.end ?? src.length;
    blocks.push({
      type: t.value,
      labels,
      attributes,
      start,
      end,
      line: src.slice(0, start).split('\n').length,
    });
    i = close;
  }
  return blocks;
};
