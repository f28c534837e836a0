/**
 * An evaluator for the subset of the Cloud Logging query language opsbot uses, so the fake returns only the
 * entries the real API would: comparisons (`=`, `!=`, `<`, `<=`, `>`, `>=`, `:` has, `=~`/`!~` RE2 regex),
 * value lists (`logName=("a" OR "b")`), AND / OR / NOT / `-`, implicit AND, parentheses, quoted field
 * segments (`labels."compute.googleapis.com/resource_name"`). Timestamps compare as instants.
 * Anything outside the subset throws, which the fake reports as 400 INVALID_ARGUMENT like the real API.
 */

type Op = '=' | '!=' | '<' | '<=' | '>' | '>=' | ':' | '=~' | '!~';

type Node =
  | { kind: 'and'; parts: Node[] }
  | { kind: 'or'; parts: Node[] }
  | { kind: 'not'; part: Node }
  | { kind: 'cmp'; field: string[]; op: Op; values: string[] };

type Token =
  | { t: 'str'; v: string }
  | { t: 'word'; v: string }
  | { t: 'op'; v: Op }
  | { t: '(' }
  | { t: ')' }
  | { t: '-' };

const tokenize = (src: string): Token[] => {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i] as string;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '(' || c === ')') {
      out.push({ t: c });
      i++;
      continue;
    }
    if (c === '"') {
      let v = '';
      i++;
      while (i < src.length && src[i] !== '"') {
        if (src[i] === '\\' && i + 1 < src.length) {
          const n = src[i + 1] as string;
          // `\\` and `\"` are escapes; any other backslash sequence is kept for the regex engine.
          v += n === '\\' || n === '"' ? n : `\\${n}`;
          i += 2;
        } else {
          v += src[i];
          i++;
        }
      }
      if (src[i] !== '"') throw new Error('unterminated string');
      i++;
      out.push({ t: 'str', v });
      continue;
    }
    const two = src.slice(i, i + 2);
    if (two === '>=' || two === '<=' || two === '!=' || two === '=~' || two === '!~') {
      out.push({ t: 'op', v: two });
      i += 2;
      continue;
    }
    if (c === '=' || c === '<' || c === '>' || c === ':') {
      out.push({ t: 'op', v: c });
      i++;
      continue;
    }
    if (c === '-' && (out.length === 0 || out[out.length - 1]?.t !== 'op')) {
      out.push({ t: '-' });
      i++;
      continue;
    }
    const m = /^[^\s()"=<>!:]+/.exec(src.slice(i));
    if (!m) throw new Error(`unexpected character ${c}`);
    out.push({ t: 'word', v: m[0] });
    i += m[0].length;
  }
  return out;
};

class Parser {
  private pos = 0;
  constructor(private readonly toks: Token[]) {}

  parse(): Node {
    const node = this.or();
    if (this.pos < this.toks.length) throw new Error('trailing input in filter');
    return node;
  }

  private peek(): Token | undefined {
    return this.toks[this.pos];
  }

  private isWord(v: string): boolean {
    const t = this.peek();
    return t?.t === 'word' && t.v === v;
  }

  private or(): Node {
    const parts = [this.and()];
    while (this.isWord('OR')) {
      this.pos++;
      parts.push(this.and());
    }
    return parts.length === 1 ? (parts[0] as Node) : { kind: 'or', parts };
  }

  private and(): Node {
    const parts = [this.unary()];
    for (;;) {
      const t = this.peek();
      if (!t || t.t === ')' || (t.t === 'word' && t.v === 'OR')) break;
      if (t.t === 'word' && t.v === 'AND') this.pos++;
      parts.push(this.unary());
    }
    return parts.length === 1 ? (parts[0] as Node) : { kind: 'and', parts };
  }

  private unary(): Node {
    const t = this.peek();
    if (t?.t === '-' || (t?.t === 'word' && t.v === 'NOT')) {
      this.pos++;
      return { kind: 'not', part: this.unary() };
    }
    if (t?.t === '(') {
      this.pos++;
      const inner = this.or();
      if (this.peek()?.t !== ')') throw new Error('missing )');
      this.pos++;
      return inner;
    }
    return this.comparison();
  }

  private field(): string[] {
    const t = this.peek();
    if (t?.t !== 'word') throw new Error('expected a field name');
    this.pos++;
    let raw = t.v;
    const parts: string[] = [];
    // labels."compute.googleapis.com/resource_name": a word ending in '.' followed by a string.
    while (raw.endsWith('.') && this.peek()?.t === 'str') {
      parts.push(...raw.slice(0, -1).split('.').filter(Boolean));
      parts.push((this.peek() as { v: string }).v);
      this.pos++;
      const next = this.peek();
      if (next?.t === 'word' && next.v.startsWith('.')) {
        raw = next.v.slice(1);
        this.pos++;
      } else {
        raw = '';
      }
    }
    if (raw) parts.push(...raw.split('.').filter(Boolean));
    return parts;
  }

  private value(): string {
    const t = this.peek();
    if (t?.t === 'str' || t?.t === 'word') {
      this.pos++;
      return t.v;
    }
    throw new Error('expected a value');
  }

  private comparison(): Node {
    const field = this.field();
    const op = this.peek();
    if (op?.t !== 'op') throw new Error(`expected an operator after ${field.join('.')}`);
    this.pos++;
    if (this.peek()?.t === '(') {
      this.pos++;
      const values = [this.value()];
      while (this.isWord('OR')) {
        this.pos++;
        values.push(this.value());
      }
      if (this.peek()?.t !== ')') throw new Error('missing ) in value list');
      this.pos++;
      return { kind: 'cmp', field, op: op.v, values };
    }
    return { kind: 'cmp', field, op: op.v, values: [this.value()] };
  }
}

/** RE2 syntax -> JS RegExp for what log filters use (a leading `(?i)` flag group). */
export const re2ToRegExp = (pattern: string): RegExp => {
  let flags = '';
  let src = pattern;
  const lead = /^\(\?([ims]+)\)/.exec(src);
  if (lead?.[1]) {
    flags = [...new Set(lead[1])].join('');
    src = src.slice(lead[0].length);
  }
  return new RegExp(src, flags);
};

const toMillis = (v: string): number | null => {
  if (!/^\d{4}-\d{2}-\d{2}/.test(v)) return null;
  const normalized = v.replace(/(\.\d{3})\d+/, '$1');
  const ms = Date.parse(normalized);
  return Number.isNaN(ms) ? null : ms;
};

const lookup = (entry: unknown, path: string[]): unknown => {
  let cur: unknown = entry;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
};

const compare = (actual: unknown, op: Op, expected: string): boolean => {
  if (actual === undefined || actual === null) return op === '!=' || op === '!~';
  if (typeof actual === 'object') {
    // `jsonPayload:"x"` style has on an object: any leaf value matches.
    if (op === ':') return JSON.stringify(actual).toLowerCase().includes(expected.toLowerCase());
    return false;
  }
  const a = String(actual);
  switch (op) {
    case '=':
      return a === expected || (toMillis(a) !== null && toMillis(a) === toMillis(expected));
    case '!=':
      return !compare(actual, '=', expected);
    case ':':
      return a.toLowerCase().includes(expected.toLowerCase());
    case '=~':
      return re2ToRegExp(expected).test(a);
    case '!~':
      return !re2ToRegExp(expected).test(a);
    default: {
      const am = toMillis(a);
      const em = toMillis(expected);
      const [x, y] = am !== null && em !== null ? [am, em] : [a, expected];
      if (op === '<') return x < y;
      if (op === '<=') return x <= y;
      if (op === '>') return x > y;
      return x >= y;
    }
  }
};

const evaluate = (node: Node, entry: unknown): boolean => {
  switch (node.kind) {
    case 'and':
      return node.parts.every((p) => evaluate(p, entry));
    case 'or':
      return node.parts.some((p) => evaluate(p, entry));
    case 'not':
      return !evaluate(node.part, entry);
    case 'cmp': {
      const actual = lookup(entry, node.field);
      return node.values.some((v) => compare(actual, node.op, v));
    }
  }
};

export type LogFilter = (entry: unknown) => boolean;

/** Compiles a filter; throws Error on syntax outside the supported subset. */
export const compileLogFilter = (filter: string): LogFilter => {
  if (filter.trim() === '') return () => true;
  const ast = new Parser(tokenize(filter)).parse();
  return (entry) => evaluate(ast, entry);
};
