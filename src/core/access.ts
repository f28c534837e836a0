import type { AccessRule, CommandName } from './config.js';

/**
 * Per-command access rules (config `access.commands`). No rule = anyone, anywhere. With a rule:
 * the channel must be listed (if any channels are), and the user must be listed or be in a listed
 * user group (if any users or groups are).
 */
export interface AccessRequest {
  readonly userId: string;
  readonly channelId: string;
}

export type AccessDecision =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly reason: 'channel' | 'user'; readonly message: string };

export type GroupMembership = (groupId: string, userId: string) => Promise<boolean>;

/** "/versionlock is limited to <!subteam^S1> or <@U1> in <#C1>": Slack renders the ids as @names / #names. */
export const describeRule = (command: string, rule: AccessRule): string => {
  const who = [...rule.groups.map((g) => `<!subteam^${g}>`), ...rule.users.map((u) => `<@${u}>`)];
  const where = rule.channels.map((c) => `<#${c}>`);
  const whoText = who.length ? ` to ${joinOr(who)}` : '';
  const whereText = where.length ? ` in ${joinOr(where)}` : '';
  return `/${command} is limited${whoText}${whereText}.`;
};

const joinOr = (items: readonly string[]): string =>
  items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;

export const checkAccess = async (
  command: CommandName,
  rule: AccessRule | undefined,
  request: AccessRequest,
  isMember: GroupMembership,
): Promise<AccessDecision> => {
  if (!rule) return { allowed: true };
  if (rule.channels.length > 0 && !rule.channels.includes(request.channelId)) {
    return { allowed: false, reason: 'channel', message: describeRule(command, rule) };
  }
  if (rule.users.length === 0 && rule.groups.length === 0) return { allowed: true };
  if (rule.users.includes(request.userId)) return { allowed: true };
  for (const g of rule.groups) {
    if (await isMember(g, request.userId)) return { allowed: true };
  }
  return { allowed: false, reason: 'user', message: describeRule(command, rule) };
};

/**
 * The decision when it needs no Slack call (no rule, channel refused, listed user, no groups), else null:
 * the caller then asks `checkAccess`, which may look up user group members.
 */
export const checkAccessSync = (
  command: CommandName,
  rule: AccessRule | undefined,
  request: AccessRequest,
): AccessDecision | null => {
  if (!rule) return { allowed: true };
  if (rule.channels.length > 0 && !rule.channels.includes(request.channelId)) {
    return { allowed: false, reason: 'channel', message: describeRule(command, rule) };
  }
  if (rule.users.length === 0 && rule.groups.length === 0) return { allowed: true };
  if (rule.users.includes(request.userId)) return { allowed: true };
  if (rule.groups.length === 0)
    return { allowed: false, reason: 'user', message: describeRule(command, rule) };
  return null;
};
