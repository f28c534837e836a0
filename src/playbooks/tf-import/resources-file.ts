import { findTopLevelBlocks } from './hcl-scan.js';
import { appendHclBlock } from './imports-file.js';

export type ResourceBlockOutcome =
  | {
      readonly kind: 'changed';
      readonly address: string;
      readonly before: string | null;
      readonly after: string;
    }
  | {
      readonly kind: 'already-present';
      readonly address: string;
      readonly reason: string;
      readonly line: number;
    };

/** `TYPE.NAME` of every top-level `resource "TYPE" "NAME"` block. */
export const listResourceBlocks = (content: string): { address: string; line: number }[] =>
  findTopLevelBlocks(content)
    .filter((b) => b.type === 'resource' && b.labels.length === 2)
    .map((b) => ({ address: `${b.labels[0]}.${b.labels[1]}`, line: b.line }));

/** Appends a generated resource block unless a resource with the same TYPE.NAME is already in the file. */
export const addResourceBlock = (
  content: string | null,
  address: string,
  block: string,
): ResourceBlockOutcome => {
  const existing =
    content === null ? undefined : listResourceBlocks(content).find((r) => r.address === address);
  if (existing) {
    return {
      kind: 'already-present',
      address,
      line: existing.line,
      reason: `resource ${address} is already defined in the file (line ${existing.line})`,
    };
  }
  return { kind: 'changed', address, before: content, after: appendHclBlock(content, block) };
};
