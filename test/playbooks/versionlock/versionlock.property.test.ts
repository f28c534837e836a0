// biome-ignore-all lint/suspicious/noTemplateCurlyInString: HCL/shell template sequences are the test data here
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { AppError } from '../../../src/core/errors.js';
import {
  editVersionlock,
  listVersionlocks,
  type VersionlockFileOptions,
  type VersionlockRequest,
} from '../../../src/playbooks/versionlock/index.js';

const RUNS = { numRuns: Number(process.env.FC_RUNS ?? 300) };

// Names whose dash-separated segments start with a letter (as real packages mostly do), including
// prefixes of each other so that prefix matching would be caught.
const pkgName = fc.oneof(
  fc.constantFrom(
    'elasticsearch',
    'elasticsearch-oss',
    'kibana',
    'kernel',
    'kernel-devel',
    'python3-requests',
    'a.b_c+d',
  ),
  fc.stringMatching(/^[a-z][a-z0-9]{0,5}(-[a-z][a-z0-9]{0,3})?$/),
);
const version = fc.stringMatching(/^[0-9]{1,2}(\.[0-9]{1,2}){0,2}$/);
const release = fc.stringMatching(/^[0-9]{1,2}(\.el[789](_[0-9])?)?$/);
const epoch = fc.constantFrom('0', '1', '2');
const arch = fc.constantFrom('*', 'x86_64', 'noarch');

interface Lock {
  name: string;
  epoch: string;
  version: string;
  release: string;
  arch: string;
}
const lock: fc.Arbitrary<Lock> = fc.record({ name: pkgName, epoch, version, release, arch });

const lineSplit = (s: string) => {
  const parts = s.split(/(?<=\n)/);
  return parts.filter((p) => p !== '');
};
const textOf = (l: string) => l.replace(/\r?\n$/, '');

type FileLine = { kind: 'lock'; lock: Lock } | { kind: 'other'; text: string };

const listFile = (format: 'yum' | 'dnf') => {
  const fmt = (l: Lock) =>
    format === 'yum'
      ? `${l.epoch}:${l.name}-${l.version}-${l.release}.${l.arch}`
      : `${l.name}-${l.epoch}:${l.version}-${l.release}.${l.arch}`;
  const other = fc.oneof(
    fc.constantFrom(
      '',
      '# managed by ansible',
      '#0:elasticsearch-1.0-1.*',
      '   ',
      'garbage line here',
      '\t# indented',
    ),
    lock.map((l) => `!${fmt(l)}`),
    lock.map((l) => `  ${fmt(l)}  `),
  );
  const line: fc.Arbitrary<FileLine> = fc.oneof(
    lock.map((l) => ({ kind: 'lock' as const, lock: l })),
    other.map((text) => ({ kind: 'other' as const, text })),
  );
  return fc
    .record({ lines: fc.array(line, { maxLength: 14 }), crlf: fc.boolean(), finalNewline: fc.boolean() })
    .map(({ lines, crlf, finalNewline }) => {
      const eol = crlf ? '\r\n' : '\n';
      const texts = lines.map((l) => (l.kind === 'lock' ? fmt(l.lock) : l.text));
      const content = texts.length ? texts.join(eol) + (finalNewline ? eol : '') : '';
      return { content, fmt };
    });
};

const request: fc.Arbitrary<VersionlockRequest> = fc.oneof(
  fc
    .record({ pkg: pkgName, epoch: fc.option(epoch, { nil: undefined }), version, release })
    .map(({ pkg, epoch: e, version: v, release: r }) => ({
      op: 'add' as const,
      pkg,
      version: `${e === undefined ? '' : `${e}:`}${v}-${r}`,
    })),
  pkgName.map((pkg) => ({ op: 'remove' as const, pkg })),
);

/** Lines of `content` that are not a lock (non-exclude) entry of `pkg`, in order. */
const unrelated = (content: string, options: VersionlockFileOptions, pkg: string): string[] => {
  const about = new Set(
    listVersionlocks(content, options)
      .filter((e) => e.name === pkg && !e.exclude)
      .map((e) => e.line),
  );
  return lineSplit(content)
    .map((l, i) => ({ l, n: i + 1 }))
    .filter(({ n }) => !about.has(n))
    .map(({ l }) => l);
};

/** Same lines byte for byte, except the terminator of the very last line (final-newline bookkeeping). */
const sameLines = (a: string[], b: string[]) => {
  expect(b.length).toBe(a.length);
  a.forEach((l, i) => {
    if (i === a.length - 1) expect(textOf(b[i] as string)).toBe(textOf(l));
    else expect(b[i]).toBe(l);
  });
};

describe.each(['yum', 'dnf'] as const)('%s versionlock.list editor (properties)', (format) => {
  const options = (a: string): VersionlockFileOptions => ({ format, arch: a });

  it('edit then parse round-trips; unrelated lines stay byte-identical and in order; re-applying is a no-op', () => {
    fc.assert(
      fc.property(listFile(format), request, arch, ({ content }, req, a) => {
        const opts = options(a);
        const before = listVersionlocks(content, opts);
        const out = editVersionlock(content, req, opts);
        const mine = before.filter((e) => e.name === req.pkg && !e.exclude);
        if (out.kind === 'nothing-to-do') {
          if (req.op === 'remove') expect(mine).toEqual([]);
          else expect(mine.length).toBe(1);
          return;
        }
        const after = listVersionlocks(out.after, opts);
        const others = (es: typeof before) =>
          es.filter((e) => !(e.name === req.pkg && !e.exclude)).map((e) => e.text);
        expect(others(after)).toEqual(others(before));
        const mineAfter = after.filter((e) => e.name === req.pkg && !e.exclude);
        if (req.op === 'remove') expect(mineAfter).toEqual([]);
        else {
          expect(mineAfter.map((e) => e.text)).toEqual([out.line]);
          const [e, rest] = req.version.includes(':') ? req.version.split(':') : ['0', req.version];
          const [v, r] = (rest as string).split('-');
          expect(mineAfter[0]).toMatchObject({ epoch: e, version: v, release: r });
        }
        sameLines(unrelated(content, opts, req.pkg), unrelated(out.after, opts, req.pkg));
        // line endings: CRLF files stay CRLF
        if (content.includes('\r\n') && !/(^|[^\r])\n/.test(content))
          expect(/(^|[^\r])\n/.test(out.after)).toBe(false);
        // idempotent
        expect(editVersionlock(out.after, req, opts).kind).toBe('nothing-to-do');
      }),
      RUNS,
    );
  });
});

// ---------------------------------------------------------------------------------------------------------
// ansible-vars

const ansibleName = fc.oneof(
  fc.constantFrom('elasticsearch', 'elasticsearch-oss', 'kibana', 'python3-requests'),
  fc.stringMatching(/^[a-z][a-z0-9]{0,5}(-[a-z][a-z0-9]{0,3})?$/),
);
const ansibleEntry = fc
  .record({ name: ansibleName, version, release: fc.option(release, { nil: null }) })
  .map((e) => (e.release === null ? `${e.name}-${e.version}` : `${e.name}-${e.version}-${e.release}`));

const ansibleFile = fc
  .record({
    mapping: fc.boolean(),
    nested: fc.boolean(),
    items: fc.array(
      fc.record({
        entry: ansibleEntry,
        quote: fc.constantFrom('', "'", '"'),
        comment: fc.constantFrom('', '  # pinned', ' # INFRA-1'),
      }),
      { minLength: 1, maxLength: 8 },
    ),
    between: fc.array(fc.constantFrom('', '  # note between items'), { maxLength: 8 }),
    crlf: fc.boolean(),
    finalNewline: fc.boolean(),
  })
  .map(({ mapping, nested, items, between, crlf, finalNewline }) => {
    const ind = nested ? '    ' : '  ';
    const lines: string[] = ['---', '# group_vars/all.yml', 'cluster: "logs"  # keep'];
    if (nested) lines.push('yum:', '  repos: [base, updates]', '  versionlock:');
    else lines.push('versionlock_packages:');
    items.forEach((it, i) => {
      const q = `${it.quote}${it.entry}${it.quote}`;
      if (mapping) lines.push(`${ind}- name: ${q}${it.comment}`, `${ind}  state: present`);
      else lines.push(`${ind}- ${q}${it.comment}`);
      const b = between[i];
      if (b) lines.push(b);
    });
    lines.push('heap: 16g', '# end');
    const eol = crlf ? '\r\n' : '\n';
    return {
      content: lines.join(eol) + (finalNewline ? eol : ''),
      key: nested ? 'yum.versionlock' : 'versionlock_packages',
      mapping,
    };
  });

const listAt = (content: string, key: string): unknown[] =>
  key
    .split('.')
    .reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], parse(content)) as unknown[];

describe('ansible-vars editor (properties)', () => {
  it('edit then parse round-trips; other entries, keys and comments stay; re-applying is a no-op', () => {
    const req = fc.oneof(
      fc.record({ pkg: ansibleName, version, release }).map((r) => ({
        op: 'add' as const,
        pkg: r.pkg,
        version: `${r.version}-${r.release}`,
      })),
      ansibleName.map((pkg) => ({ op: 'remove' as const, pkg })),
    );
    fc.assert(
      fc.property(ansibleFile, req, ({ content, key, mapping }, r) => {
        const opts: VersionlockFileOptions = { format: 'ansible-vars', key };
        const before = listVersionlocks(content, opts);
        const out = editVersionlock(content, r, opts);
        const mine = (es: typeof before) => es.filter((e) => e.name === r.pkg && !e.exclude);
        if (out.kind === 'nothing-to-do') {
          if (r.op === 'remove') expect(mine(before)).toEqual([]);
          else expect(mine(before).length).toBe(1);
          return;
        }
        const after = listVersionlocks(out.after, opts);
        const others = (es: typeof before) => es.filter((e) => e.name !== r.pkg).map((e) => e.text);
        expect(others(after)).toEqual(others(before));
        if (r.op === 'add') expect(mine(after).map((e) => e.text)).toEqual([out.line]);
        else expect(mine(after)).toEqual([]);
        // The YAML still parses to the same document apart from the list.
        const docBefore = parse(content) as Record<string, unknown>;
        const docAfter = parse(out.after) as Record<string, unknown>;
        expect(docAfter.cluster).toBe(docBefore.cluster);
        expect(docAfter.heap).toBe(docBefore.heap);
        expect(Array.isArray(listAt(out.after, key))).toBe(true);
        // Lines that do not mention the package are byte-identical and in order.
        const mentions = (l: string) =>
          mine(before)
            .concat(mine(after))
            .some((e) => l.includes(e.text)) ||
          (mapping && /^\s*state: (present|absent)/.test(l)) ||
          // an emptied list stays a list: the key line becomes `key: []`
          (listAt(out.after, key).length === 0 && /^\s*(versionlock_packages|versionlock):/.test(l));
        const keep = (s: string) => lineSplit(s).filter((l) => !mentions(l));
        sameLines(keep(content), keep(out.after));
        expect(editVersionlock(out.after, r, opts).kind).toBe('nothing-to-do');
      }),
      RUNS,
    );
  });
});

// ---------------------------------------------------------------------------------------------------------
// injection attempts

const NASTY = [
  '\n',
  '\r',
  '\r\n',
  '"',
  "'",
  '${x}',
  '%{x}',
  ' ',
  '\t',
  '../',
  '/',
  '\0',
  '\u0435', // Cyrillic e
  '\u2010', // Unicode hyphen
  '\u2028',
  '`id`',
  '$(id)',
  ';',
  '#',
  '[',
  '{',
];

const injected = (base: fc.Arbitrary<string>) =>
  fc.tuple(base, fc.constantFrom(...NASTY), fc.nat()).map(([s, bad, at]) => {
    const i = at % (s.length + 1);
    return s.slice(0, i) + bad + s.slice(i);
  });

describe.each(['yum', 'dnf', 'ansible-vars'] as const)('%s: injection attempts are refused', (format) => {
  const content =
    format === 'ansible-vars'
      ? 'versionlock_packages:\n  - elasticsearch-7.10.2-1\n'
      : '0:elasticsearch-7.10.2-1.*\n';
  const options: VersionlockFileOptions = { format, key: 'versionlock_packages' };
  const refused = (req: VersionlockRequest) => {
    try {
      editVersionlock(content, req, options);
    } catch (err) {
      return err instanceof AppError && err.code === 'bad_input' && err.userMessage.includes('refused');
    }
    return false;
  };

  it('in the package name', () => {
    fc.assert(
      fc.property(injected(pkgName), fc.boolean(), (pkg, add) =>
        refused(add ? { op: 'add', pkg, version: '7.10.2-1' } : { op: 'remove', pkg }),
      ),
      RUNS,
    );
  });

  it('in the version (and globs in the version)', () => {
    fc.assert(
      fc.property(
        injected(version).filter((v) => !/^[0-9]+:/.test(v)),
        release,
        (v, r) => refused({ op: 'add', pkg: 'elasticsearch', version: `${v.replace(/-/g, '')}-${r}` }),
      ),
      RUNS,
    );
    expect(refused({ op: 'add', pkg: 'elasticsearch', version: '7.*-1' })).toBe(true);
  });

  it('in the release', () => {
    fc.assert(
      fc.property(injected(release), (r) =>
        refused({ op: 'add', pkg: 'elasticsearch', version: `7.10.2-${r}` }),
      ),
      RUNS,
    );
  });
});

it('yum: a glob release is refused (it would lock to nothing), dnf accepts it', () => {
  fc.assert(
    fc.property(fc.constantFrom('*', '1*', '1.el7*', '?', '1.*'), (r) => {
      expect(() =>
        editVersionlock('', { op: 'add', pkg: 'elasticsearch', version: `7.10.2-${r}` }, { format: 'yum' }),
      ).toThrow(AppError);
      expect(
        editVersionlock('', { op: 'add', pkg: 'elasticsearch', version: `7.10.2-${r}` }, { format: 'dnf' })
          .kind,
      ).toBe('changed');
    }),
  );
});
