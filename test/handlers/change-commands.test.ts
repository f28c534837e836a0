import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { VersionlockTarget } from '../../src/core/config.js';
import type { ChangeHandlerDeps } from '../../src/handlers/change-actions.js';
import { tfImportCommand } from '../../src/handlers/tf-import.js';
import { versionlockCommand } from '../../src/handlers/versionlock.js';

const target = (name: string): VersionlockTarget => ({
  name,
  forge: 'gitlab',
  repo: 'infra/ansible',
  baseBranch: 'main',
  path: 'inventory/versionlock.list',
  format: 'dnf',
  releases: {},
  arch: '*',
});

const deps = (versionlock: VersionlockTarget[]): ChangeHandlerDeps =>
  ({
    flow: {
      targets: { versionlock, terraform: [] },
      approvals: {},
      commandRules: {},
      isMember: async () => false,
      now: () => new Date(),
      logger: pino({ level: 'silent' }),
      forgeFor: () => {
        throw new Error('no forge call expected');
      },
    },
    logger: pino({ level: 'silent' }),
  }) as unknown as ChangeHandlerDeps;

describe('change commands before any I/O', () => {
  it('with several targets and no --target, answers in the ack with the list of targets', () => {
    const cmd = versionlockCommand(deps([target('el8'), target('el9')]));
    const parsed = cmd.parse('elasticsearch 7.10.2');
    if (!parsed.ok) throw new Error(parsed.problem);
    const answer = cmd.immediate?.(parsed.args);
    expect(answer?.message.text).toContain('el8, el9');
    expect(answer?.result.outcome).toBe('bad_input');
    const named = cmd.parse('elasticsearch 7.10.2 --target el9');
    if (!named.ok) throw new Error(named.problem);
    expect(cmd.immediate?.(named.args)).toBeNull(); // goes on to plan
  });

  it('an unknown --target is answered with the targets that exist', () => {
    const cmd = versionlockCommand(deps([target('el8')]));
    const parsed = cmd.parse('list --target el7');
    if (!parsed.ok) throw new Error(parsed.problem);
    expect(cmd.immediate?.(parsed.args)?.message.text).toBe('No target named "el7". Targets: el8.');
  });

  it('without targets (or without the change flow) the commands say they are not configured', () => {
    for (const cmd of [versionlockCommand(deps([])), versionlockCommand(null), tfImportCommand(deps([]))]) {
      const parsed = cmd.parse('anything at all');
      if (!parsed.ok) throw new Error(parsed.problem);
      expect(cmd.immediate?.(parsed.args as never)?.message.text).toContain('not configured');
    }
  });
});
