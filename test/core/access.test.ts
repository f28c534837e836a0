import { describe, expect, it } from 'vitest';
import { checkAccess, describeRule } from '../../src/core/access.js';
import type { AccessRule } from '../../src/core/config.js';
import { createUserGroupResolver } from '../../src/integrations/slack/usergroups.js';

const rule = (r: Partial<AccessRule>): AccessRule => ({ users: [], groups: [], channels: [], ...r });
const noGroups = async () => false;

describe('checkAccess', () => {
  it('allows everyone everywhere when a command has no rule', async () => {
    expect(await checkAccess('versionlock', undefined, { userId: 'U1', channelId: 'C1' }, noGroups)).toEqual({
      allowed: true,
    });
  });

  it('allows a listed user, refuses others and says who may run it', async () => {
    const r = rule({ users: ['U1'] });
    expect((await checkAccess('versionlock', r, { userId: 'U1', channelId: 'C9' }, noGroups)).allowed).toBe(
      true,
    );
    const d = await checkAccess('versionlock', r, { userId: 'U2', channelId: 'C9' }, noGroups);
    expect(d).toEqual({ allowed: false, reason: 'user', message: '/versionlock is limited to <@U1>.' });
  });

  it('allows members of a listed user group', async () => {
    const r = rule({ groups: ['S1'] });
    const isMember = async (g: string, u: string) => g === 'S1' && u === 'U7';
    expect((await checkAccess('amend', r, { userId: 'U7', channelId: 'C1' }, isMember)).allowed).toBe(true);
    expect((await checkAccess('amend', r, { userId: 'U8', channelId: 'C1' }, isMember)).allowed).toBe(false);
  });

  it('refuses a listed user outside the allowed channels', async () => {
    const r = rule({ users: ['U1'], channels: ['C1', 'C2'] });
    const d = await checkAccess('tf-import', r, { userId: 'U1', channelId: 'C3' }, noGroups);
    expect(d).toMatchObject({ allowed: false, reason: 'channel' });
    expect(d.allowed ? '' : d.message).toBe('/tf-import is limited to <@U1> in <#C1> or <#C2>.');
    expect(
      (
        await checkAccess(
          'tf-import',
          rule({ channels: ['C1'] }),
          { userId: 'U5', channelId: 'C1' },
          noGroups,
        )
      ).allowed,
    ).toBe(true);
  });

  it('describes groups first, as Slack mentions', () => {
    expect(describeRule('versionlock', rule({ users: ['U123'], groups: ['S9'], channels: ['C7'] }))).toBe(
      '/versionlock is limited to <!subteam^S9> or <@U123> in <#C7>.',
    );
  });
});

describe('user group membership cache', () => {
  it('asks Slack once per group within the TTL, again after it, and not caching failures', async () => {
    let now = 0;
    let calls = 0;
    let fail = false;
    const resolver = createUserGroupResolver(
      {
        listUserGroupMembers: async () => {
          calls++;
          if (fail) throw new Error('down');
          return ['U1'];
        },
      },
      { ttlMs: 300_000, now: () => now },
    );
    expect(await Promise.all([resolver.isMember('S1', 'U1'), resolver.isMember('S1', 'U2')])).toEqual([
      true,
      false,
    ]);
    expect(calls).toBe(1);
    now = 299_000;
    await resolver.isMember('S1', 'U1');
    expect(calls).toBe(1);
    now = 301_000;
    fail = true;
    await expect(resolver.isMember('S1', 'U1')).rejects.toThrow();
    fail = false;
    expect(await resolver.isMember('S1', 'U1')).toBe(true);
    expect(calls).toBe(3);
  });
});
