import { AppError } from '../../core/errors.js';
import { formatResourceAddress, parseResourceAddress, type ResourceAddress } from './address.js';
import { decodeHclString, escapeHclString } from './hcl.js';
import { findTopLevelBlocks, type Token } from './hcl-scan.js';

/** An `import` block found in a file. */
export interface ExistingImport {
  /** `to` in canonical form when it parses as an address, else its tokens joined as written. */
  readonly to: string;
  /** The id when it is a constant string, else null (an expression or template). */
  readonly id: string | null;
  readonly line: number;
  readonly forEach: boolean;
}

export type TfImportOutcome =
  | {
      readonly kind: 'changed';
      readonly address: string;
      readonly id: string;
      readonly before: string | null;
      readonly after: string;
      /** The block appended, exactly as written. */
      readonly block: string;
      readonly summary: string;
    }
  | {
      readonly kind: 'already-present';
      readonly address: string;
      readonly reason: string;
      readonly line: number;
      readonly existingId: string | null;
    };

const joinExpr = (expr: readonly Token[]): string =>
  expr.map((t) => (t.type === 'string' ? `"${t.value}"` : t.value)).join('');

/** Every top-level `import` block of a .tf file, with `to` normalised so formatting does not matter. */
export const listImportBlocks = (content: string): ExistingImport[] =>
  findTopLevelBlocks(content)
    .filter((b) => b.type === 'import' && b.labels.length === 0)
    .map((b) => {
      const toAttr = b.attributes.find((a) => a.name === 'to');
      const idAttr = b.attributes.find((a) => a.name === 'id');
      const raw = toAttr ? joinExpr(toAttr.expr) : '';
      let to = raw;
      try {
        to = formatResourceAddress(parseResourceAddress(raw));
      } catch {
        // keep as written (e.g. a for_each import to a `[each.key]` address)
      }
      const idTok = idAttr?.expr.length === 1 ? idAttr.expr[0] : undefined;
      const id = idTok?.type === 'string' ? decodeHclString(idTok.value) : null;
      return { to, id, line: b.line, forEach: b.attributes.some((a) => a.name === 'for_each') };
    });

const MAX_ID = 2048;

/** `import {\n  to = ADDRESS\n  id = "..."\n}\n`, the id escaped as an HCL string. */
export const buildImportBlock = (address: ResourceAddress, id: string): string => {
  if (id.length === 0) throw new AppError('bad_input', 'the import id is empty');
  if (id.length > MAX_ID)
    throw new AppError('bad_input', `the import id is longer than ${MAX_ID} characters`);
  return `import {\n  to = ${formatResourceAddress(address)}\n  id = ${escapeHclString(id, 'import id')}\n}\n`;
};

const eolOf = (content: string): '\n' | '\r\n' => {
  const crlf = content.split('\r\n').length - 1;
  const lf = content.split('\n').length - 1 - crlf;
  return crlf > lf ? '\r\n' : '\n';
};

/** Appends `block` (LF-terminated) to `content`, separated by one blank line, in the file's line endings. */
export const appendHclBlock = (content: string | null, block: string): string => {
  if (content === null || content.trim() === '') return `${content ?? ''}${block}`;
  const eol = eolOf(content);
  const text = eol === '\r\n' ? block.replaceAll('\n', '\r\n') : block;
  let sep: string;
  if (content.endsWith(`${eol}${eol}`) || content.endsWith('\n\n')) sep = '';
  else if (content.endsWith('\n')) sep = eol;
  else sep = `${eol}${eol}`;
  return content + sep + text;
};

/**
 * Adds `import { to = address  id = "id" }` to an imports file (`content` null: the file does not exist).
 * Invalid address or id -> AppError('bad_input'); an import for the same address already there ->
 * `already-present` (content untouched).
 */
export const addImportBlock = (content: string | null, address: string, id: string): TfImportOutcome => {
  const parsed = parseResourceAddress(address);
  const canonical = formatResourceAddress(parsed);
  const block = buildImportBlock(parsed, id);
  if (content?.includes('\0'))
    throw new AppError('bad_input', 'the file contains NUL bytes: not a Terraform file');
  const existing = content === null ? undefined : listImportBlocks(content).find((b) => b.to === canonical);
  if (existing) {
    return {
      kind: 'already-present',
      address: canonical,
      line: existing.line,
      existingId: existing.id,
      reason: `an import block for ${canonical} is already in the file (line ${existing.line}${
        existing.id === null ? '' : `, id ${JSON.stringify(existing.id)}`
      })`,
    };
  }
  const after = appendHclBlock(content, block);
  // Read the result back: the new block must parse to the same address and id.
  const check = listImportBlocks(after).filter((b) => b.to === canonical);
  if (check.length !== 1 || check[0]?.id !== id) {
    // Only a malformed file (an unclosed block or string before the end) can swallow the new block.
    throw new AppError(
      'bad_input',
      `the file does not parse as HCL (an unclosed block, bracket or string?): the import block for ${canonical} would not be read back`,
    );
  }
  return {
    kind: 'changed',
    address: canonical,
    id,
    before: content,
    after,
    block,
    summary: `import ${canonical} (id ${JSON.stringify(id)})`,
  };
};
