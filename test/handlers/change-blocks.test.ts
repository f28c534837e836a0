import { describe, expect, it } from 'vitest';
import {
  APPROVE_ACTION,
  buildChangeMessage,
  buildLockListMessage,
  CANCEL_ACTION,
  splitDiff,
} from '../../src/handlers/blocks/change.js';
import type { ChangePlan } from '../../src/playbooks/change/types.js';
import { unifiedDiff } from '../../src/playbooks/diff.js';
import { validateBlocks } from '../fakes/slack.js';

const plan = (diff: string, over: Partial<ChangePlan> = {}): ChangePlan => ({
  kind: 'versionlock',
  target: 'el7',
  forge: 'gitlab',
  repo: 'infra/ansible',
  baseBranch: 'main',
  baseSha: 'a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6a7b8c9d0',
  branch: 'opsbot/versionlock-elasticsearch-7.10.2-1',
  title: 'versionlock: lock elasticsearch',
  commitMessage: 'x',
  summary: 'lock elasticsearch to 0:elasticsearch-7.10.2-1.* in `inventory/versionlock.list` (yum).',
  files: [{ path: 'inventory/versionlock.list', before: 'a\n', after: 'b\n' }],
  diff,
  labels: [],
  request: {},
  ...over,
});

const view = (p: ChangePlan) => ({
  plan: p,
  requestedBy: 'U0ALICE',
  buttonValue: '0b4c1e6a-95b8-4c1e-9d0b-2b0c0f0e0a01:0123456789ab',
  approvers: '<@U0BOB>, other than the requester',
});

const sectionTexts = (blocks: readonly unknown[]) =>
  (blocks as Array<{ type: string; text?: { text: string } }>)
    .filter((b) => b.type === 'section')
    .map((b) => b.text?.text ?? '');

/** Every ``` opened in a section is closed in the same section. */
const fencesBalanced = (text: string) => (text.match(/```/g) ?? []).length % 2 === 0;

describe('the change preview', () => {
  const small = unifiedDiff(
    'inventory/versionlock.list',
    '0:elasticsearch-7.10.1-1.*\n',
    '0:elasticsearch-7.10.2-1.*\n',
  );

  it('shows requester, target, branch and the diff, with Approve / Cancel carrying the change id', () => {
    const msg = buildChangeMessage(view(plan(small)), { kind: 'awaiting' });
    expect(validateBlocks([...(msg.blocks ?? [])])).toBeNull();
    const all = JSON.stringify(msg.blocks);
    expect(all).toContain('<@U0ALICE>');
    expect(all).toContain('GitLab `infra/ansible`');
    expect(all).toContain('base `main` @ `a1b2c3d4`');
    expect(all).toContain('`opsbot/versionlock-elasticsearch-7.10.2-1`');
    expect(all).toContain('+0:elasticsearch-7.10.2-1.*');
    const actions = (
      msg.blocks as Array<{ type: string; elements?: Array<{ action_id: string; value: string }> }>
    ).find((b) => b.type === 'actions');
    expect(actions?.elements?.map((e) => e.action_id)).toEqual([APPROVE_ACTION, CANCEL_ACTION]);
    expect(actions?.elements?.every((e) => e.value === view(plan(small)).buttonValue)).toBe(true);
  });

  it.each([
    ['preparing', { kind: 'preparing' }],
    ['dry run', { kind: 'dry-run' }],
    ['settled', { kind: 'status', text: 'Approved by <@U0BOB>: <https://x/mr/1|merge request !1>' }],
  ] as const)('has no buttons while %s', (_label, state) => {
    const msg = buildChangeMessage(view(plan(small)), state);
    expect(JSON.stringify(msg.blocks)).not.toContain(APPROVE_ACTION);
    expect(validateBlocks([...(msg.blocks ?? [])])).toBeNull();
  });

  it('cuts a long diff at line boundaries, within Block Kit limits, with a note, never splitting a fence', () => {
    const before = Array.from({ length: 3000 }, (_, i) => `0:pkg${i}-1.0-1.*`).join('\n');
    const after = Array.from({ length: 3000 }, (_, i) => `0:pkg${i}-2.0-1.*`).join('\n');
    const diff = unifiedDiff('inventory/versionlock.list', `${before}\n`, `${after}\n`);
    const msg = buildChangeMessage(view(plan(diff)), { kind: 'awaiting' });
    expect(validateBlocks([...(msg.blocks ?? [])])).toBeNull();
    for (const t of sectionTexts(msg.blocks ?? [])) {
      expect(t.length).toBeLessThanOrEqual(3000);
      expect(fencesBalanced(t)).toBe(true);
    }
    expect(JSON.stringify(msg.blocks)).toMatch(/Diff truncated: \d+ of \d+ lines shown/);
    expect(JSON.stringify(msg.blocks)).toContain(APPROVE_ACTION); // the buttons survive the cut
  });

  it('keeps user-controlled text from closing the code block or injecting mentions', () => {
    const evil = unifiedDiff('terraform/imports.tf', null, 'id = "```<!channel> <@U0BOSS> & done```"\n`\n');
    const split = splitDiff(evil);
    for (const part of split.parts) {
      expect(part.startsWith('```')).toBe(true);
      expect(part.endsWith('```')).toBe(true);
      expect((part.slice(3, -3).match(/```/g) ?? []).length).toBe(0);
      expect(part).not.toContain('<!channel>');
      expect(part).toContain('&lt;!channel&gt;');
      expect(part).toContain('&amp;');
    }
  });

  it('cuts a single line longer than a section', () => {
    const split = splitDiff(`+${'x'.repeat(10_000)}\n`);
    expect(split.parts).toHaveLength(1);
    expect(split.parts[0]?.length).toBeLessThanOrEqual(3000);
  });

  it('renders the lock list, or says the file does not exist', () => {
    const target = {
      name: 'el7',
      forge: 'gitlab' as const,
      repo: 'infra/ansible',
      baseBranch: 'main',
      path: 'inventory/versionlock.list',
      format: 'yum' as const,
      releases: {},
      arch: '*',
    };
    const entry = (text: string, exclude = false) => ({
      name: 'x',
      epoch: '0',
      version: '1',
      release: '1',
      arch: '*',
      exclude,
      text,
      line: 1,
    });
    const msg = buildLockListMessage({
      target,
      ref: 'f'.repeat(40),
      exists: true,
      entries: [entry('0:elasticsearch-7.10.2-1.*'), entry('0:kernel-3.10.0-1.*', true)],
    });
    expect(validateBlocks([...(msg.blocks ?? [])])).toBeNull();
    const all = JSON.stringify(msg.blocks);
    expect(all).toContain('1 lock, 1 exclude');
    expect(all).toContain('0:elasticsearch-7.10.2-1.*');
    expect(all).toContain('! 0:kernel-3.10.0-1.*');
    const none = buildLockListMessage({ target, ref: 'f'.repeat(40), exists: false, entries: [] });
    expect(JSON.stringify(none.blocks)).toContain('does not exist yet');
  });
});
