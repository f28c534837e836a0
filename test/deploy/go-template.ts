import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';

/**
 * A small renderer for the subset of Helm's Go templates that deploy/helm/opsbot uses, so the chart can be
 * rendered and its YAML parsed on a machine without the helm binary. It follows Go's text/template and Sprig
 * where the chart relies on them, and refuses what it does not know (an unknown function, printing a map,
 * comparing an int with a float) instead of guessing, so a template outside the subset fails the test.
 *
 * Supported: text with `{{- -}}` trimming, comments, `if / else if / else / end`, `range` (with or without
 * `$i, $v :=`), `with`, `define` + `include`, `$var :=` and `$var =`, pipelines with `|`, parentheses, string,
 * int, float and bool literals, `.`, `$`, field chains. Numbers from values are float64 and ints come from
 * literals and int/add/mul/div (as in Helm, where `{{ 1000000 }}` from values prints 1e+06).
 */

type GoValue = unknown;
type Scope = { vars: Map<string, GoValue>; parent: Scope | null };

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'action'; pipe: Pipe }
  | { kind: 'if'; branches: { cond: Pipe; body: Node[] }[]; otherwise: Node[] | null }
  | {
      kind: 'range';
      pipe: Pipe;
      keyVar: string | null;
      valueVar: string | null;
      body: Node[];
      otherwise: Node[] | null;
    }
  | { kind: 'with'; pipe: Pipe; body: Node[]; otherwise: Node[] | null };

interface Pipe {
  readonly decl: { name: string; op: ':=' | '=' } | null;
  readonly commands: Operand[][];
}

type Operand =
  | { t: 'dot'; fields: string[] }
  | { t: 'var'; name: string; fields: string[] }
  | { t: 'lit'; value: GoValue }
  | { t: 'fn'; name: string }
  | { t: 'paren'; pipe: Pipe; fields: string[] };

// ---------- lexing the template text into text and actions ----------

interface Segment {
  readonly kind: 'text' | 'action';
  readonly text: string;
}

const segment = (src: string): Segment[] => {
  const out: Segment[] = [];
  let i = 0;
  let trimNext = false;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    let text = open === -1 ? src.slice(i) : src.slice(i, open);
    if (trimNext) text = text.replace(/^\s+/, '');
    trimNext = false;
    if (open === -1) {
      out.push({ kind: 'text', text });
      break;
    }
    const trimPrev = src[open + 2] === '-' && /\s/.test(src[open + 3] ?? '');
    if (trimPrev) text = text.replace(/\s+$/, '');
    out.push({ kind: 'text', text });
    let j = open + (trimPrev ? 3 : 2);
    let inString = false;
    for (; j < src.length; j++) {
      const c = src[j];
      if (inString) {
        if (c === '\\') j++;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (src.startsWith('}}', j)) break;
    }
    if (j >= src.length) throw new Error('unclosed action');
    let body = src.slice(open + (trimPrev ? 3 : 2), j);
    if (/\s-$/.test(body)) {
      body = body.slice(0, -1);
      trimNext = true;
    }
    i = j + 2;
    body = body.trim();
    if (body.startsWith('/*')) {
      if (!body.endsWith('*/')) throw new Error(`bad comment: ${body}`);
      continue;
    }
    out.push({ kind: 'action', text: body });
  }
  return out;
};

// ---------- parsing actions ----------

const TOKEN =
  /\s*(?:("(?:[^"\\]|\\.)*")|(\$[A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)|(\.(?:[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)?)|(-?\d+\.\d+|-?\d+)|(:=|=|\||\(|\)|,)|([A-Za-z_][A-Za-z0-9_]*))/y;

type Tok = { k: 'str' | 'var' | 'dot' | 'num' | 'punct' | 'ident' | 'fields'; v: string };

const tokenize = (text: string): Tok[] => {
  const toks: Tok[] = [];
  TOKEN.lastIndex = 0;
  let pos = 0;
  while (pos < text.length) {
    if (/^\s*$/.test(text.slice(pos))) break;
    TOKEN.lastIndex = pos;
    const m = TOKEN.exec(text);
    if (!m) throw new Error(`cannot parse "${text.slice(pos)}" in {{ ${text} }}`);
    pos = TOKEN.lastIndex;
    if (m[1]) toks.push({ k: 'str', v: JSON.parse(m[1]) as string });
    else if (m[2]) toks.push({ k: 'var', v: m[2] });
    else if (m[3]) {
      // ".x" right after ")" is a field of the parenthesised value
      const prev = toks.at(-1);
      const attached = prev?.k === 'punct' && prev.v === ')' && m[3] !== '.' && !/^\s/.test(m[0]);
      toks.push({ k: attached ? 'fields' : 'dot', v: m[3] });
    } else if (m[4]) toks.push({ k: 'num', v: m[4] });
    else if (m[5]) toks.push({ k: 'punct', v: m[5] });
    else if (m[6]) toks.push({ k: 'ident', v: m[6] });
  }
  return toks;
};

const fieldsOf = (path: string): string[] => path.split('.').filter((s) => s !== '');

const parsePipe = (toks: Tok[], start: number, stopAtParen: boolean): { pipe: Pipe; next: number } => {
  let i = start;
  let decl: Pipe['decl'] = null;
  if (
    toks[i]?.k === 'var' &&
    toks[i + 1]?.k === 'punct' &&
    (toks[i + 1]?.v === ':=' || toks[i + 1]?.v === '=')
  ) {
    decl = { name: toks[i]?.v as string, op: toks[i + 1]?.v as ':=' | '=' };
    i += 2;
  }
  const commands: Operand[][] = [[]];
  for (; i < toks.length; i++) {
    const t = toks[i] as Tok;
    const cmd = commands.at(-1) as Operand[];
    if (t.k === 'punct' && t.v === ')') {
      if (!stopAtParen) throw new Error('unexpected )');
      return { pipe: { decl, commands }, next: i };
    }
    if (t.k === 'punct' && t.v === '|') {
      commands.push([]);
      continue;
    }
    if (t.k === 'punct' && t.v === '(') {
      const inner = parsePipe(toks, i + 1, true);
      i = inner.next;
      let fields: string[] = [];
      if (toks[i + 1]?.k === 'fields') {
        fields = fieldsOf(toks[i + 1]?.v as string);
        i++;
      }
      cmd.push({ t: 'paren', pipe: inner.pipe, fields });
      continue;
    }
    if (t.k === 'str') cmd.push({ t: 'lit', value: t.v });
    else if (t.k === 'num') cmd.push({ t: 'lit', value: t.v.includes('.') ? Number(t.v) : BigInt(t.v) });
    else if (t.k === 'dot') cmd.push({ t: 'dot', fields: fieldsOf(t.v) });
    else if (t.k === 'var') {
      const [name, ...rest] = t.v.split('.');
      cmd.push({ t: 'var', name: name as string, fields: rest });
    } else if (t.k === 'ident') {
      if (t.v === 'true' || t.v === 'false') cmd.push({ t: 'lit', value: t.v === 'true' });
      else if (t.v === 'nil') cmd.push({ t: 'lit', value: null });
      else cmd.push({ t: 'fn', name: t.v });
    } else throw new Error(`unexpected token ${t.v}`);
  }
  if (stopAtParen) throw new Error('missing )');
  return { pipe: { decl, commands }, next: i };
};

const parseAction = (text: string): Pipe => parsePipe(tokenize(text), 0, false).pipe;

const parseTemplate = (src: string, defines: Map<string, Node[]>): Node[] => {
  const segs = segment(src);
  let i = 0;
  const parseList = (terminators: readonly string[]): { nodes: Node[]; end: string } => {
    const nodes: Node[] = [];
    while (i < segs.length) {
      const s = segs[i++] as Segment;
      if (s.kind === 'text') {
        if (s.text) nodes.push({ kind: 'text', text: s.text });
        continue;
      }
      const word = s.text.split(/\s+/)[0] as string;
      const rest = s.text.slice(word.length).trim();
      if (word === 'end' || word === 'else') {
        if (!terminators.includes(word)) throw new Error(`unexpected {{ ${s.text} }}`);
        return { nodes, end: s.text };
      }
      if (word === 'if') {
        const branches = [{ cond: parseAction(rest), body: [] as Node[] }];
        let otherwise: Node[] | null = null;
        for (;;) {
          const r = parseList(['end', 'else']);
          if (otherwise) {
            otherwise = r.nodes;
          } else (branches.at(-1) as { body: Node[] }).body = r.nodes;
          if (r.end === 'end') break;
          const elseRest = r.end.slice(4).trim();
          if (elseRest.startsWith('if ')) branches.push({ cond: parseAction(elseRest.slice(3)), body: [] });
          else otherwise = [];
        }
        nodes.push({ kind: 'if', branches, otherwise });
      } else if (word === 'range' || word === 'with') {
        let keyVar: string | null = null;
        let valueVar: string | null = null;
        let expr = rest;
        const m = /^(\$\w+)\s*(?:,\s*(\$\w+)\s*)?:=\s*(.*)$/.exec(rest);
        if (word === 'range' && m) {
          if (m[2]) {
            keyVar = m[1] as string;
            valueVar = m[2];
          } else valueVar = m[1] as string;
          expr = m[3] as string;
        }
        const body = parseList(['end', 'else']);
        let otherwise: Node[] | null = null;
        if (body.end !== 'end') otherwise = parseList(['end']).nodes;
        const pipe = parseAction(expr);
        nodes.push(
          word === 'range'
            ? { kind: 'range', pipe, keyVar, valueVar, body: body.nodes, otherwise }
            : { kind: 'with', pipe, body: body.nodes, otherwise },
        );
      } else if (word === 'define') {
        const name = JSON.parse(rest) as string;
        defines.set(name, parseList(['end']).nodes);
      } else if (['template', 'block', 'break', 'continue'].includes(word)) {
        throw new Error(`{{ ${word} }} is outside the supported subset`);
      } else nodes.push({ kind: 'action', pipe: parseAction(s.text) });
    }
    if (terminators.length > 0) throw new Error('missing {{ end }}');
    return { nodes, end: '' };
  };
  return parseList([]).nodes;
};

// ---------- values ----------

const isMap = (v: GoValue): v is Record<string, GoValue> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export const truthy = (v: GoValue): boolean => {
  if (v === null || v === undefined || v === false || v === 0 || v === 0n || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (isMap(v)) return Object.keys(v).length > 0;
  return true;
};

/** Go's %v of a float64: shortest representation, exponent form from 1e+06 / below 1e-4. */
const formatFloat = (n: number): string => {
  if (Number.isInteger(n) && Math.abs(n) < 1e6) return String(n);
  if (n !== 0 && (Math.abs(n) >= 1e6 || Math.abs(n) < 1e-4)) {
    const [mant, exp] = n.toExponential().split('e');
    const e = Number(exp);
    return `${mant}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  }
  return String(n);
};

const print = (v: GoValue): string => {
  if (v === null || v === undefined) return ''; // Helm turns <no value> into ""
  if (typeof v === 'string') return v;
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return formatFloat(v);
  if (typeof v === 'boolean') return String(v);
  throw new Error(`printing a ${Array.isArray(v) ? 'list' : 'map'} gives Go syntax, not YAML: use toYaml`);
};

const toPlain = (v: GoValue): GoValue => {
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(toPlain);
  if (isMap(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toPlain(x)]));
  return v;
};

const toInt = (v: GoValue): bigint => {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return BigInt(Math.trunc(v));
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v);
  if (typeof v === 'boolean') return v ? 1n : 0n;
  return 0n;
};

const compare = (a: GoValue, b: GoValue, fn: string): number => {
  const kind = (x: GoValue) => (typeof x === 'bigint' ? 'int' : typeof x === 'number' ? 'float' : typeof x);
  if (kind(a) !== kind(b))
    throw new Error(`${fn}: incompatible types for comparison (${kind(a)}, ${kind(b)})`);
  if (typeof a === 'string' || typeof a === 'bigint' || typeof a === 'number') {
    return a < (b as typeof a) ? -1 : a > (b as typeof a) ? 1 : 0;
  }
  throw new Error(`${fn}: cannot compare ${kind(a)}`);
};

const indent = (n: bigint, s: string): string => {
  const pad = ' '.repeat(Number(n));
  return pad + s.replaceAll('\n', `\n${pad}`);
};

const sprintf = (format: string, args: GoValue[]): string => {
  let k = 0;
  return format.replace(/%([sdvq%])/g, (_m, verb: string) => {
    if (verb === '%') return '%';
    const a = args[k++];
    if (verb === 'q') return JSON.stringify(print(a));
    if (verb === 'd') return toInt(a).toString();
    return print(a);
  });
};

// ---------- evaluation ----------

export interface ChartFiles {
  readonly chart: Record<string, GoValue>;
  readonly values: Record<string, GoValue>;
  /** template file name -> parsed nodes (helpers and NOTES.txt excluded from the manifests) */
  readonly templates: ReadonlyMap<string, Node[]>;
  readonly defines: ReadonlyMap<string, Node[]>;
}

export const loadChart = (dir: string): ChartFiles => {
  const chart = parseYaml(readFileSync(join(dir, 'Chart.yaml'), 'utf8')) as Record<string, GoValue>;
  const values = parseYaml(readFileSync(join(dir, 'values.yaml'), 'utf8')) as Record<string, GoValue>;
  const defines = new Map<string, Node[]>();
  const templates = new Map<string, Node[]>();
  const tdir = join(dir, 'templates');
  for (const name of readdirSync(tdir).sort()) {
    const nodes = parseTemplate(readFileSync(join(tdir, name), 'utf8'), defines);
    if (!name.startsWith('_')) templates.set(name, nodes);
  }
  return { chart, values, templates, defines };
};

/** Helm's value merge: maps merge key by key, anything else (lists included) is replaced. */
export const mergeValues = (base: GoValue, override: GoValue): GoValue => {
  if (isMap(base) && isMap(override)) {
    const out: Record<string, GoValue> = { ...base };
    for (const [k, v] of Object.entries(override)) out[k] = v === null ? null : mergeValues(base[k], v);
    return out;
  }
  return override === undefined ? base : structuredClone(override);
};

export interface RenderOptions {
  readonly releaseName?: string;
  readonly namespace?: string;
  readonly values?: Record<string, GoValue>;
}

/** Renders every template (as `helm template` would), keyed by file name; empty outputs are dropped. */
export const renderChart = (files: ChartFiles, options: RenderOptions = {}): Map<string, string> => {
  const c = files.chart;
  const root: Record<string, GoValue> = {
    Values: mergeValues(structuredClone(files.values), options.values ?? {}),
    Release: {
      Name: options.releaseName ?? 'opsbot',
      Namespace: options.namespace ?? 'default',
      Service: 'Helm',
      IsInstall: true,
    },
    Chart: { Name: c.name, Version: c.version, AppVersion: c.appVersion, ...c },
  };

  const lookup = (base: GoValue, fields: readonly string[]): GoValue => {
    let v = base;
    for (const f of fields) {
      if (v === null || v === undefined) return undefined; // Helm: nil pointer on a missing map gives <no value>
      if (!isMap(v))
        throw new Error(`can't evaluate field ${f} in type ${Array.isArray(v) ? 'list' : typeof v}`);
      v = v[f];
    }
    return v;
  };

  const getVar = (scope: Scope, name: string): GoValue => {
    for (let s: Scope | null = scope; s; s = s.parent) if (s.vars.has(name)) return s.vars.get(name);
    throw new Error(`undefined variable ${name}`);
  };
  const setVar = (scope: Scope, name: string, value: GoValue): void => {
    for (let s: Scope | null = scope; s; s = s.parent) {
      if (s.vars.has(name)) {
        s.vars.set(name, value);
        return;
      }
    }
    throw new Error(`undefined variable ${name}`);
  };

  const include = (name: string, dot: GoValue): string => {
    const body = files.defines.get(name);
    if (!body) throw new Error(`no template "${name}"`);
    return exec(body, dot, { vars: new Map([['$', dot]]), parent: null });
  };

  const FUNCS: Record<string, (...a: GoValue[]) => GoValue> = {
    include: (name, dot) => include(name as string, dot),
    default: (d, v) => (truthy(v) ? v : d),
    trunc: (n, s) => String(s).slice(0, Number(n)),
    trimSuffix: (suf, s) => (String(s).endsWith(String(suf)) ? String(s).slice(0, -String(suf).length) : s),
    contains: (sub, s) => String(s).includes(String(sub)),
    printf: (f, ...a) => sprintf(String(f), a),
    quote: (...a) => a.map((x) => JSON.stringify(print(x))).join(' '),
    nindent: (n, s) => `\n${indent(toInt(n), String(s))}`,
    indent: (n, s) => indent(toInt(n), String(s)),
    toYaml: (v) =>
      v === null || v === undefined ? 'null' : stringifyYaml(toPlain(v), { lineWidth: 0 }).replace(/\n$/, ''),
    toJson: (v) => JSON.stringify(toPlain(v)),
    sha256sum: (s) => createHash('sha256').update(String(s)).digest('hex'),
    deepCopy: (v) => structuredClone(v),
    dict: (...kv) => {
      const out: Record<string, GoValue> = {};
      for (let k = 0; k < kv.length; k += 2) out[String(kv[k])] = kv[k + 1];
      return out;
    },
    set: (d, k, v) => {
      if (!isMap(d)) throw new Error('set: not a dict');
      d[String(k)] = v;
      return d;
    },
    list: (...a) => a,
    has: (needle, list) => Array.isArray(list) && list.includes(needle),
    int: (v) => toInt(v),
    add: (...a) => a.reduce<bigint>((s, x) => s + toInt(x), 0n),
    mul: (...a) => a.reduce<bigint>((s, x) => s * toInt(x), 1n),
    div: (a, b) => toInt(a) / toInt(b),
    eq: (a, b) => compare(a, b, 'eq') === 0,
    ne: (a, b) => compare(a, b, 'ne') !== 0,
    lt: (a, b) => compare(a, b, 'lt') < 0,
    le: (a, b) => compare(a, b, 'le') <= 0,
    gt: (a, b) => compare(a, b, 'gt') > 0,
    ge: (a, b) => compare(a, b, 'ge') >= 0,
    not: (v) => !truthy(v),
    and: (...a) => a.find((x) => !truthy(x)) ?? a.at(-1),
    or: (...a) => a.find((x) => truthy(x)) ?? a.at(-1),
    fail: (msg) => {
      throw new HelmFail(String(msg));
    },
  };

  const evalOperand = (o: Operand, dot: GoValue, scope: Scope): GoValue => {
    switch (o.t) {
      case 'lit':
        return o.value;
      case 'dot':
        return lookup(dot, o.fields);
      case 'var':
        return lookup(getVar(scope, o.name), o.fields);
      case 'paren':
        return lookup(evalPipe(o.pipe, dot, scope), o.fields);
      case 'fn':
        throw new Error(`function ${o.name} used as a value`);
    }
  };

  const evalPipe = (pipe: Pipe, dot: GoValue, scope: Scope): GoValue => {
    let piped: { v: GoValue } | null = null;
    for (const cmd of pipe.commands) {
      const [head, ...args] = cmd;
      if (!head) throw new Error('empty command');
      let v: GoValue;
      if (head.t === 'fn') {
        const fn = FUNCS[head.name];
        if (!fn) throw new Error(`function "${head.name}" is outside the supported subset`);
        const argv = args.map((a) => evalOperand(a, dot, scope));
        if (piped) argv.push(piped.v);
        v = fn(...argv);
      } else {
        if (args.length > 0 || piped) throw new Error("can't give an argument to a non-function");
        v = evalOperand(head, dot, scope);
      }
      piped = { v };
    }
    const result = piped?.v;
    if (pipe.decl) {
      if (pipe.decl.op === ':=') scope.vars.set(pipe.decl.name, result);
      else setVar(scope, pipe.decl.name, result);
    }
    return result;
  };

  const exec = (nodes: readonly Node[], dot: GoValue, scope: Scope): string => {
    let out = '';
    for (const n of nodes) {
      if (n.kind === 'text') out += n.text;
      else if (n.kind === 'action') {
        const v = evalPipe(n.pipe, dot, scope);
        if (!n.pipe.decl) out += print(v);
      } else if (n.kind === 'if') {
        const inner: Scope = { vars: new Map(), parent: scope };
        const hit = n.branches.find((b) => truthy(evalPipe(b.cond, dot, inner)));
        if (hit) out += exec(hit.body, dot, inner);
        else if (n.otherwise) out += exec(n.otherwise, dot, inner);
      } else if (n.kind === 'with') {
        const inner: Scope = { vars: new Map(), parent: scope };
        const v = evalPipe(n.pipe, dot, inner);
        if (truthy(v)) out += exec(n.body, v, inner);
        else if (n.otherwise) out += exec(n.otherwise, dot, inner);
      } else {
        const v = evalPipe(n.pipe, dot, scope);
        const entries: [GoValue, GoValue][] = Array.isArray(v)
          ? v.map((x, k) => [BigInt(k), x])
          : isMap(v)
            ? Object.keys(v)
                .sort()
                .map((k) => [k, v[k]])
            : v === null || v === undefined
              ? []
              : (() => {
                  throw new Error(`range can't iterate over ${String(v)}`);
                })();
        if (entries.length === 0 && n.otherwise) out += exec(n.otherwise, dot, scope);
        for (const [k, x] of entries) {
          const inner: Scope = { vars: new Map(), parent: scope };
          if (n.keyVar) inner.vars.set(n.keyVar, k);
          if (n.valueVar) inner.vars.set(n.valueVar, x);
          out += exec(n.body, x, inner);
        }
      }
    }
    return out;
  };

  const rendered = new Map<string, string>();
  for (const [name, nodes] of files.templates) {
    const text = exec(nodes, root, { vars: new Map([['$', root]]), parent: null });
    if (text.trim() !== '') rendered.set(name, text);
  }
  return rendered;
};

/** A `fail` in a template: helm template/install stop with this message. */
export class HelmFail extends Error {}
