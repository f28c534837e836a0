// biome-ignore-all lint/suspicious/noTemplateCurlyInString: HCL/shell template sequences are the test data here
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../../src/core/errors.js';
import {
  addImportBlock,
  decodeHclString,
  escapeHclString,
  formatResourceAddress,
  listImportBlocks,
  parseResourceAddress,
  type ResourceAddress,
} from '../../../src/playbooks/tf-import/index.js';

const RUNS = { numRuns: Number(process.env.FC_RUNS ?? 300) };

const ident = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_-]{0,8}$/);
const type = fc.stringMatching(/^[a-z][a-z0-9]{0,5}_[a-z0-9_]{1,10}$/);
const stringKey = fc
  .string({ unit: fc.constantFrom(...'ab- _.:/@${}%[]#=()'.split('')), maxLength: 8 })
  .filter((k) => !k.includes('${') && !k.includes('%{'));
const key = fc.oneof(fc.constant(null), fc.nat({ max: 99 }), stringKey);
const address: fc.Arbitrary<ResourceAddress> = fc.record({
  modules: fc.array(fc.record({ name: ident, key }), { maxLength: 3 }),
  type,
  name: ident,
  key,
});
// ids with everything HCL cares about: quotes, backslashes, template sequences, unicode
const id = fc
  .string({
    unit: fc.oneof(
      fc.constantFrom('"', '\\', '$', '%', '{', '}', '${', '%{', '$${', '/', ' ', 'é', '☃', '𝕏'),
      fc.constantFrom(...'abcxyz0123456789-_.:'.split('')),
    ),
    minLength: 1,
    maxLength: 20,
  })
  .filter((s) => s.length > 0);

const unrelated = fc.array(
  fc.constantFrom(
    '# imports\n',
    '\n',
    '// note\n',
    '/* import {\n  to = aws_x.commented\n} */\n',
    'import {\n  to = google_compute_disk.other\n  id = "projects/p/zones/z/disks/d"\n}\n',
    'resource "null_resource" "n" {\n  triggers = { to = "x" }\n}\n',
    'locals {\n  s = "${var.x} } {"\n}\n',
  ),
  { maxLength: 6 },
);

describe('import writer (properties)', () => {
  it('formats then parses addresses back to the same value', () => {
    fc.assert(
      fc.property(address, (a) => {
        expect(parseResourceAddress(formatResourceAddress(a))).toEqual(a);
      }),
      RUNS,
    );
  });

  it('escape/decode round-trips any id without control characters', () => {
    fc.assert(
      fc.property(id, (v) => decodeHclString(escapeHclString(v).slice(1, -1)) === v),
      RUNS,
    );
  });

  it('the written block reads back as the same address and id; existing content is untouched; twice -> already-present', () => {
    fc.assert(
      fc.property(unrelated, address, id, fc.boolean(), (parts, a, v, crlf) => {
        let content = parts.join('');
        if (crlf) content = content.replaceAll('\n', '\r\n');
        const addr = formatResourceAddress(a);
        const before = listImportBlocks(content);
        const out = addImportBlock(content, addr, v);
        if (before.some((b) => b.to === addr)) {
          expect(out.kind).toBe('already-present');
          return;
        }
        if (out.kind !== 'changed') throw new Error('expected a change');
        expect(out.after.startsWith(content)).toBe(true);
        const after = listImportBlocks(out.after);
        expect(after.slice(0, before.length)).toEqual(before);
        expect(after.slice(before.length).map((b) => [b.to, b.id])).toEqual([[addr, v]]);
        const again = addImportBlock(out.after, addr, 'something else');
        expect(again).toMatchObject({ kind: 'already-present', address: addr, existingId: v });
      }),
      RUNS,
    );
  });

  it('refuses broken or injected addresses', () => {
    const NASTY = ['\n', ' ', '"', '${x}', '%{x}', '/', '\0', '\u0435', ';', '{', '#', '=', '..', '*', '\\'];
    const plain = address.map((a) =>
      formatResourceAddress({
        ...a,
        key: typeof a.key === 'string' ? null : a.key,
        modules: a.modules.map((m) => ({ ...m, key: typeof m.key === 'string' ? null : m.key })),
      }),
    );
    fc.assert(
      fc.property(plain, fc.constantFrom(...NASTY), fc.nat(), (s, bad, at) => {
        const i = at % (s.length + 1);
        const broken = s.slice(0, i) + bad + s.slice(i);
        try {
          addImportBlock('', broken, 'x');
        } catch (err) {
          return err instanceof AppError && err.code === 'bad_input';
        }
        return false;
      }),
      RUNS,
    );
  });

  it('refuses ids with newlines or control characters', () => {
    fc.assert(
      fc.property(id, fc.constantFrom('\n', '\r', '\0', '\t', '\u001b', '\u2028'), fc.nat(), (v, bad, at) => {
        const i = at % (v.length + 1);
        expect(() =>
          addImportBlock('', 'google_compute_instance.web', v.slice(0, i) + bad + v.slice(i)),
        ).toThrow(AppError);
      }),
      RUNS,
    );
  });
});
