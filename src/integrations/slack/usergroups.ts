import type { SlackPort } from './port.js';

export interface UserGroupResolver {
  /** True when `userId` is a member of user group `groupId`. Members are cached for `ttlMs`. */
  isMember(groupId: string, userId: string): Promise<boolean>;
}

/**
 * Caches each group's member list (usergroups.users.list) for ~5 min; concurrent lookups of the same group
 * share one call. A failed lookup is not cached, so the next command tries again.
 */
export const createUserGroupResolver = (
  slack: Pick<SlackPort, 'listUserGroupMembers'>,
  options: { ttlMs?: number; now?: () => number } = {},
): UserGroupResolver => {
  const ttlMs = options.ttlMs ?? 5 * 60_000;
  const now = options.now ?? Date.now;
  const cache = new Map<string, { at: number; members: Promise<ReadonlySet<string>> }>();
  const members = (groupId: string): Promise<ReadonlySet<string>> => {
    const hit = cache.get(groupId);
    if (hit && now() - hit.at < ttlMs) return hit.members;
    const p = slack.listUserGroupMembers(groupId).then((ids) => new Set(ids));
    cache.set(groupId, { at: now(), members: p });
    p.catch(() => {
      if (cache.get(groupId)?.members === p) cache.delete(groupId);
    });
    return p;
  };
  return {
    async isMember(groupId, userId) {
      return (await members(groupId)).has(userId);
    },
  };
};
