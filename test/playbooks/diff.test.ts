import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { unifiedDiff } from '../../src/playbooks/diff.js';

/** Applies a unified diff produced by unifiedDiff to `before` (a strict applier: context must match). */
const applyPatch = (before: string, patch: string): string => {
  const src = before === '' ? [] : before.split('\n');
  // represent lines as "text\n" or "text" (last without newline)
  const a: string[] = [];
  src.forEach((t, i) => {
    if (i < src.length - 1) a.push(`${t}\n`);
    else if (t !== '') a.push(t);
  });
  const lines = patch.split('\n');
  const out: string[] = [];
  let ai = 0;
  let i = 2;
  while (i < lines.length) {
    const h = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@$/.exec(lines[i] ?? '');
    if (!h) {
      i++;
      continue;
    }
    const aStart = Number(h[1]);
    const aCount = h[2] === undefined ? 1 : Number(h[2]);
    const from = aCount === 0 ? aStart : aStart - 1;
    while (ai < from) out.push(a[ai++] as string);
    i++;
    while (i < lines.length && /^[ +\-\\]/.test(lines[i] ?? '')) {
      const l = lines[i] as string;
      const noEol = lines[i + 1] === '\\ No newline at end of file';
      const text = l.slice(1) + (noEol ? '' : '\n');
      if (l[0] === ' ') {
        expect(a[ai]).toBe(text);
        out.push(text);
        ai++;
      } else if (l[0] === '-') {
        expect(a[ai]).toBe(text);
        ai++;
      } else if (l[0] === '+') out.push(text);
      i += noEol ? 2 : 1;
    }
  }
  while (ai < a.length) out.push(a[ai++] as string);
  return out.join('');
};

describe('unifiedDiff', () => {
  it('prints git-style headers, 3 lines of context and a hunk header per change', () => {
    const before = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', ''].join('\n');
    const after = before.replace('e\n', 'E\n');
    expect(unifiedDiff('etc/versionlock.list', before, after)).toBe(
      [
        '--- a/etc/versionlock.list',
        '+++ b/etc/versionlock.list',
        '@@ -2,7 +2,7 @@',
        ' b',
        ' c',
        ' d',
        '-e',
        '+E',
        ' f',
        ' g',
        ' h',
        '',
      ].join('\n'),
    );
  });

  it('shows a new file against /dev/null and returns "" when nothing changes', () => {
    expect(unifiedDiff('imports.tf', null, 'x\ny\n')).toBe(
      '--- /dev/null\n+++ b/imports.tf\n@@ -0,0 +1,2 @@\n+x\n+y\n',
    );
    expect(unifiedDiff('f', 'same\n', 'same\n')).toBe('');
  });

  it('marks a last line without newline, as diff(1) does', () => {
    const d = unifiedDiff('f', 'a\nb', 'a\nb\nc');
    expect(d).toBe(
      '--- a/f\n+++ b/f\n@@ -1,2 +1,3 @@\n a\n-b\n\\ No newline at end of file\n+b\n+c\n\\ No newline at end of file\n',
    );
  });

  it('agrees with GNU diff -u on a realistic edit', () => {
    const dir = mkdtempSync(join(tmpdir(), 'opsbot-diff-'));
    const before =
      '# header\n\n0:a-1-1.*\n0:b-1-1.*\n0:c-1-1.*\n0:d-1-1.*\n0:e-1-1.*\n0:f-1-1.*\n0:g-1-1.*\n0:h-1-1.*\n';
    const after = `${before.replace('0:b-1-1.*\n', '').replace('0:g-1-1.*', '0:g-2-1.*')}0:z-1-1.*\n`;
    writeFileSync(join(dir, 'a'), before);
    writeFileSync(join(dir, 'b'), after);
    let gnu = '';
    try {
      execFileSync('diff', ['-u', 'a', 'b'], { cwd: dir, encoding: 'utf8' });
    } catch (err) {
      gnu = (err as { stdout: string }).stdout;
    }
    const ours = unifiedDiff('x', before, after);
    expect(ours.split('\n').slice(2)).toEqual(gnu.split('\n').slice(2));
  });

  it('applying the diff to before gives after (CRLF, missing final newline, random edits)', () => {
    const line = fc.constantFrom('a', 'b', 'c', '', '# c', 'x\r', 'y');
    const text = fc
      .array(line, { maxLength: 30 })
      .chain((ls) => fc.boolean().map((eol) => (ls.length ? ls.join('\n') + (eol ? '\n' : '') : '')));
    fc.assert(
      fc.property(text, text, (before, after) => {
        const d = unifiedDiff('f', before, after);
        if (before === after) return d === '';
        return applyPatch(before, d) === after;
      }),
      { numRuns: 400 },
    );
  });
});
