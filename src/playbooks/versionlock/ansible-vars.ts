import {
  isMap,
  isScalar,
  isSeq,
  type Node,
  parse,
  parseDocument,
  type Scalar,
  type YAMLMap,
  type YAMLSeq,
} from 'yaml';
import { AppError } from '../../core/errors.js';
import { type ParsedNevra, parseLooseSpec } from './nevra.js';
import type { LockEntry, VersionlockFileOptions, VersionlockOutcome, VersionlockRequest } from './types.js';
import { assertArch, assertPackageName, assertRelease, parseVersionSpec } from './validate.js';

/**
 * A versionlock list kept in Ansible vars (a YAML list under a dotted key path), either of strings
 * (`- elasticsearch-7.10.2-1`, rendered by a template) or of mappings as fed to
 * `community.general.yum_versionlock` (`- name: elasticsearch-7.10.2-1` / `state: present`).
 *
 * The `yaml` Document API locates the list and its items (with source ranges); the edit is then spliced
 * into the original text, so every byte outside the touched items (comments, quoting, indentation, other
 * keys, CRLF) stays as it was, which `Document#toString()` alone does not guarantee. The result is parsed
 * again and checked against the expected list before it is returned.
 */

type Range = readonly [number, number, number];

interface Item {
  readonly node: Node;
  readonly kind: 'string' | 'map' | 'other';
  /** The scalar holding the spec (the item itself, or its `name:` value). */
  readonly specNode: Scalar | null;
  readonly spec: string | null;
  readonly stateNode: Scalar | null;
  readonly parsed: ParsedNevra | null;
  readonly absent: boolean;
}

interface Located {
  readonly keyNode: Scalar;
  readonly value: YAMLSeq | Scalar | null;
  readonly items: Item[];
}

interface Splice {
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

const rangeOf = (n: Node): Range => {
  const r = n.range;
  if (!r) throw new AppError('internal', 'YAML node without a source range');
  return r;
};

const parseYaml = (content: string) => {
  const doc = parseDocument(content, { keepSourceTokens: false, uniqueKeys: false });
  const err = doc.errors[0];
  if (err) {
    const where = err.linePos?.[0] ? ` (line ${err.linePos[0].line})` : '';
    throw new AppError('bad_input', `the file is not valid YAML${where}: ${err.message.split('\n')[0]}`);
  }
  return doc;
};

const toItem = (node: unknown): Item => {
  if (isScalar(node) && typeof node.value === 'string') {
    return {
      node,
      kind: 'string',
      specNode: node,
      spec: node.value,
      stateNode: null,
      parsed: parseLooseSpec(node.value),
      absent: false,
    };
  }
  if (isMap(node)) {
    const name = node.get('name', true);
    const state = node.get('state', true);
    const stateNode = isScalar(state) ? state : null;
    if (isScalar(name) && typeof name.value === 'string') {
      return {
        node,
        kind: 'map',
        specNode: name,
        spec: name.value,
        stateNode,
        parsed: parseLooseSpec(name.value),
        absent: stateNode?.value === 'absent',
      };
    }
  }
  return {
    node: node as Node,
    kind: 'other',
    specNode: null,
    spec: null,
    stateNode: null,
    parsed: null,
    absent: false,
  };
};

const locate = (content: string, key: string) => {
  const doc = parseYaml(content);
  const path = key.split('.');
  let map: unknown = doc.contents;
  for (const [i, seg] of path.entries()) {
    const here = path.slice(0, i).join('.') || '(top level)';
    if (!isMap(map))
      throw new AppError('bad_input', `${here} is not a mapping, so ${key} cannot be found in it`);
    const pair = (map as YAMLMap).items.find((p) => isScalar(p.key) && String(p.key.value) === seg);
    if (!pair) {
      throw new AppError(
        'bad_input',
        `key ${key} not found in the file: add "${path.slice(i).join('.')}: []" under ${here} first`,
      );
    }
    if (i === path.length - 1) {
      const value = pair.value;
      const keyNode = pair.key as Scalar;
      if (isSeq(value))
        return { doc, located: { keyNode, value, items: value.items.map(toItem) } as Located };
      if (value === null || (isScalar(value) && value.value === null)) {
        return { doc, located: { keyNode, value: (value as Scalar | null) ?? null, items: [] } as Located };
      }
      throw new AppError('bad_input', `${key} is not a list`);
    }
    map = pair.value;
  }
  throw new AppError('bad_input', `key ${key} not found`);
};

const entryOf = (content: string, item: Item): LockEntry | null => {
  if (!item.parsed || item.spec === null) return null;
  const start = rangeOf(item.node)[0];
  const line = content.slice(0, start).split('\n').length;
  return {
    name: item.parsed.name,
    epoch: item.parsed.epoch,
    version: item.parsed.version,
    release: item.parsed.release,
    arch: item.parsed.arch,
    exclude: item.absent,
    text: item.spec,
    line,
  };
};

/** The entries of the list (strings or `name:` items), in order. */
export const listAnsibleEntries = (content: string, key: string): LockEntry[] => {
  const { located } = locate(content, key);
  return located.items.flatMap((it) => {
    const e = entryOf(content, it);
    return e ? [e] : [];
  });
};

const lineStart = (s: string, offset: number): number => s.lastIndexOf('\n', offset - 1) + 1;
const lineEndIncl = (s: string, offset: number): number => {
  const nl = s.indexOf('\n', offset);
  return nl < 0 ? s.length : nl + 1;
};
const eolOf = (content: string): '\n' | '\r\n' => {
  const crlf = content.split('\r\n').length - 1;
  const lf = content.split('\n').length - 1 - crlf;
  return crlf > lf ? '\r\n' : '\n';
};

const PLAIN_SAFE = /^[A-Za-z0-9][A-Za-z0-9._+~^*?:-]*$/;
const renderScalar = (value: string, style: Scalar['type'] | undefined): string => {
  if (style === 'QUOTE_SINGLE') return `'${value.replaceAll("'", "''")}'`;
  if (style === 'PLAIN' && PLAIN_SAFE.test(value) && parse(`[${value}]`)?.[0] === value) return value;
  return JSON.stringify(value);
};

/** Span of a block sequence item: from its line (with the `-`) to the end of its last line. */
const blockItemSpan = (content: string, node: Node): { start: number; end: number; prefix: string } => {
  const [start, valueEnd] = rangeOf(node);
  let dash = start - 1;
  while (dash >= 0 && /[ \t\r\n]/.test(content[dash] ?? '')) dash--;
  const dashAt = content[dash] === '-' ? dash : start;
  const from = lineStart(content, dashAt);
  const to = lineEndIncl(content, Math.max(start, valueEnd - 1));
  const prefix =
    lineStart(content, start) === from ? content.slice(from, start) : `${content.slice(from, dashAt)}- `;
  return { start: from, end: to, prefix };
};

const applySplices = (content: string, splices: Splice[]): string => {
  let out = content;
  for (const s of [...splices].sort((a, b) => b.start - a.start)) {
    out = out.slice(0, s.start) + s.text + out.slice(s.end);
  }
  return out;
};

interface StringStyle {
  readonly epochStyle: 'none' | 'prefix' | 'infix';
  readonly hasRelease: boolean;
  readonly hasArch: boolean;
  readonly quote: Scalar['type'] | undefined;
}

const detectStyle = (items: readonly Item[]): StringStyle => {
  const versioned = items.filter((it) => it.parsed?.version != null);
  const last = versioned[versioned.length - 1] ?? items.filter((it) => it.specNode).at(-1);
  const p = last?.parsed;
  return {
    epochStyle: p?.version != null ? p.epochStyle : 'none',
    hasRelease: p?.version != null ? p.release !== null : true,
    hasArch: p?.version != null ? p.arch !== null : false,
    quote: last?.specNode?.type ?? 'PLAIN',
  };
};

const formatSpec = (
  style: StringStyle,
  e: { name: string; epoch: string | null; version: string; release: string | null; arch: string },
): string => {
  const epochStyle = style.epochStyle === 'none' && e.epoch !== null ? 'infix' : style.epochStyle;
  const epoch = e.epoch ?? '0';
  let vr = e.version;
  if (e.release !== null) vr += `-${e.release}${style.hasArch ? `.${e.arch}` : ''}`;
  if (epochStyle === 'prefix') return `${epoch}:${e.name}-${vr}`;
  if (epochStyle === 'infix') return `${e.name}-${epoch}:${vr}`;
  return `${e.name}-${vr}`;
};

const expectedTexts = (items: readonly Item[]): (string | null)[] => items.map((it) => it.spec);

export const editAnsibleVars = (
  content: string,
  request: VersionlockRequest,
  options: Omit<VersionlockFileOptions, 'format'>,
): VersionlockOutcome => {
  const key = options.key;
  if (!key || !/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(key)) {
    throw new AppError(
      'bad_input',
      'ansible-vars needs --key (the dotted key path of the list, e.g. versionlock_packages)',
    );
  }
  const pkg = assertPackageName(request.pkg);
  const { located } = locate(content, key);
  const { items, value } = located;
  const eol = eolOf(content);
  const matching = items.flatMap((it, i) => (it.parsed?.name === pkg ? [i] : []));
  const mapMode = items.some((it) => it.kind === 'map') || false;
  const flow = isSeq(value) && value.flow === true;
  if (flow && /#/.test(content.slice(rangeOf(value as Node)[0], rangeOf(value as Node)[1]))) {
    throw new AppError(
      'bad_input',
      `${key} is a flow list with comments inside; opsbot edits block lists or plain [a, b] lists`,
    );
  }

  const splices: Splice[] = [];
  // What the list must read after the edit, item by item (null: an item that is not a spec string).
  let expected = expectedTexts(items);
  const expectedState: (string | null)[] = items.map((it) =>
    it.stateNode ? String(it.stateNode.value) : null,
  );

  const removeItems = (indexes: readonly number[]): void => {
    if (indexes.length === 0) return;
    const drop = new Set(indexes);
    if (flow || !isSeq(value)) return; // flow lists are rebuilt below
    if (drop.size === items.length) {
      // Keep a list (not null) when the last item goes: `key: []`.
      const colon = content.indexOf(':', rangeOf(located.keyNode)[1]);
      splices.push({ start: colon + 1, end: colon + 1, text: ' []' });
    }
    // Merge the spans of adjacent items so no two splices overlap.
    const spans = [...drop]
      .map((i) => blockItemSpan(content, (items[i] as Item).node))
      .sort((a, b) => a.start - b.start);
    const merged: { start: number; end: number }[] = [];
    for (const sp of spans) {
      const prev = merged[merged.length - 1];
      if (prev && prev.end >= sp.start) prev.end = Math.max(prev.end, sp.end);
      else merged.push({ start: sp.start, end: sp.end });
    }
    for (const span of merged) {
      let { start } = span;
      const prevIsBlank = start >= 1 && /^\r?\n$/.test(content.slice(lineStart(content, start - 1), start));
      if (span.end === content.length && !content.endsWith('\n') && start > 0 && !prevIsBlank) {
        start -= content[start - 2] === '\r' ? 2 : 1; // keep "no newline at end of file"
      }
      splices.push({ start, end: span.end, text: '' });
    }
  };

  const rebuildFlow = (
    replacements: Map<number, string>,
    drop: ReadonlySet<number>,
    added: string | null,
  ): void => {
    const parts: string[] = [];
    items.forEach((it, i) => {
      if (drop.has(i)) return;
      const r = rangeOf(it.node);
      parts.push(replacements.get(i) ?? content.slice(r[0], r[1]));
    });
    if (added !== null) parts.push(added);
    const text = `[${parts.join(', ')}]`;
    if (isSeq(value)) {
      const r = rangeOf(value);
      splices.push({ start: r[0], end: r[1], text });
    } else if (value && rangeOf(value)[0] !== rangeOf(value)[1]) {
      const r = rangeOf(value);
      splices.push({ start: r[0], end: r[1], text });
    } else {
      const colon = content.indexOf(':', rangeOf(located.keyNode)[1]);
      splices.push({ start: colon + 1, end: colon + 1, text: ` ${text}` });
    }
  };

  let outcome: { summary: string; line: string; removed: string[] };

  if (request.op === 'remove') {
    const present = matching.filter((i) => !(items[i] as Item).absent);
    if (present.length === 0) {
      const reason = matching.length
        ? `not locked: ${pkg} is already state: absent in ${key}`
        : `not locked: no entry for ${pkg} in ${key}`;
      return { kind: 'nothing-to-do', op: 'remove', pkg, reason };
    }
    const removed = present.map((i) => (items[i] as Item).spec as string);
    // Items with a `state:` key are flipped to absent so yum_versionlock really unlocks; others are removed.
    const flip = present.filter((i) => (items[i] as Item).stateNode !== null);
    const drop = present.filter((i) => (items[i] as Item).stateNode === null);
    for (const i of flip) {
      const node = (items[i] as Item).stateNode as Scalar;
      const r = rangeOf(node);
      splices.push({ start: r[0], end: r[1], text: renderScalar('absent', node.type) });
      expectedState[i] = 'absent';
    }
    if (flow) rebuildFlow(new Map(), new Set(drop), null);
    else removeItems(drop);
    expected = expected.filter((_, i) => !drop.includes(i));
    const keptState = expectedState.filter((_, i) => !drop.includes(i));
    expectedState.length = 0;
    expectedState.push(...keptState);
    outcome = {
      summary: `unlock ${pkg} (${flip.length ? 'set state: absent on' : 'remove'} ${removed.join(', ')})`,
      line: removed[0] as string,
      removed,
    };
  } else {
    const spec = parseVersionSpec(request.version, { allowReleaseGlob: true, forYum: false });
    const arch = assertArch(options.arch ?? '*');
    let release = spec.release;
    const fallback = options.releases?.[pkg];
    if (release === null && fallback !== undefined) release = assertRelease(fallback, true, false);
    const style = detectStyle(items);
    const text = formatSpec(style, { name: pkg, epoch: spec.epoch, version: spec.version, release, arch });

    const firstIdx = matching[0];
    if (matching.length === 1 && firstIdx !== undefined) {
      const it = items[firstIdx] as Item;
      const p = it.parsed as ParsedNevra;
      const same =
        !it.absent &&
        p.version === spec.version &&
        (p.epoch ?? '0') === (spec.epoch ?? p.epoch ?? '0') &&
        // No release asked for: the version is what matters; an existing release is kept.
        (release === null || p.release === release);
      if (same || (!it.absent && it.spec === text)) {
        return { kind: 'nothing-to-do', op: 'add', pkg, reason: `already locked: ${it.spec}` };
      }
    }
    const removed = matching.map((i) => (items[i] as Item).spec as string);
    if (firstIdx !== undefined) {
      const first = items[firstIdx] as Item;
      const specNode = first.specNode as Scalar;
      const rendered = renderScalar(text, specNode.type);
      const rest = matching.slice(1);
      if (flow) {
        const r = rangeOf(first.node);
        let itemText = rendered;
        if (first.kind === 'map') {
          const sr = rangeOf(specNode);
          itemText = content.slice(r[0], sr[0]) + rendered + content.slice(sr[1], r[1]);
          if (first.stateNode && first.absent) {
            const st = rangeOf(first.stateNode);
            itemText =
              content.slice(r[0], sr[0]) +
              rendered +
              content.slice(sr[1], st[0]) +
              renderScalar('present', first.stateNode.type) +
              content.slice(st[1], r[1]);
          }
        }
        rebuildFlow(new Map([[firstIdx, itemText]]), new Set(rest), null);
      } else {
        const sr = rangeOf(specNode);
        splices.push({ start: sr[0], end: sr[1], text: rendered });
        if (first.stateNode && first.absent) {
          const st = rangeOf(first.stateNode);
          splices.push({ start: st[0], end: st[1], text: renderScalar('present', first.stateNode.type) });
        }
        removeItems(rest);
      }
      expected[firstIdx] = text;
      if (first.stateNode) expectedState[firstIdx] = 'present';
      expected = expected.filter((_, i) => !rest.includes(i));
      const keptState = expectedState.filter((_, i) => !rest.includes(i));
      expectedState.length = 0;
      expectedState.push(...keptState);
    } else {
      const withState = items.some((it) => it.stateNode !== null);
      const lastItem = items[items.length - 1];
      if (flow || !lastItem) {
        const entry = mapMode
          ? `{ name: ${renderScalar(text, style.quote)}${withState ? ', state: present' : ''} }`
          : renderScalar(text, style.quote);
        rebuildFlow(new Map(), new Set(), entry);
      } else {
        const span = blockItemSpan(content, lastItem.node);
        const needsEol = span.end === content.length && !content.endsWith('\n');
        let block: string;
        if (mapMode) {
          const innerIndent = ' '.repeat(
            rangeOf(lastItem.node)[0] - lineStart(content, rangeOf(lastItem.node)[0]),
          );
          const namePrefix = lastItem.kind === 'map' ? span.prefix : `${span.prefix}`;
          block = `${namePrefix}name: ${renderScalar(text, style.quote)}`;
          if (withState) block += `${eol}${innerIndent}state: present`;
        } else {
          block = `${span.prefix}${renderScalar(text, style.quote)}`;
        }
        splices.push({
          start: span.end,
          end: span.end,
          text: needsEol ? `${eol}${block}` : `${block}${eol}`,
        });
      }
      expected.push(text);
      if (mapMode) expectedState.push(withState ? 'present' : null);
      else expectedState.push(null);
    }
    outcome = {
      summary: removed.length
        ? `lock ${pkg} to ${text} (was ${removed.join(', ')})`
        : `lock ${pkg} to ${text}`,
      line: text,
      removed,
    };
  }

  const after = applySplices(content, splices);
  // Check the spliced text reads back as exactly the intended list.
  const { located: check } = locate(after, key);
  const got = check.items.map((it) => it.spec);
  const gotState = check.items.map((it) => (it.stateNode ? String(it.stateNode.value) : null));
  if (
    JSON.stringify(got) !== JSON.stringify(expected) ||
    JSON.stringify(gotState) !== JSON.stringify(expectedState)
  ) {
    throw new AppError('internal', `editing ${key} did not produce the expected list`, {
      details: { expected, got },
    });
  }
  return { kind: 'changed', op: request.op, pkg, before: content, after, ...outcome };
};
