import { describeRule } from '../core/access.js';
import type { ActorRefusal, Approvers } from '../playbooks/change/flow.js';

/**
 * Who may approve or cancel a change, in Slack terms: the flow decides and returns data (flow.ts), these
 * render it with mentions (`<@U…>`, `<!subteam^S…>`), which Slack shows as names.
 */

const mentions = (a: Pick<Approvers, 'users' | 'groups'>): string[] => [
  ...a.groups.map((g) => `<!subteam^${g}>`),
  ...a.users.map((u) => `<@${u}>`),
];

/** "<!subteam^S1> or <@U1>, other than the requester", or "anyone who may run /versionlock". */
export const describeApprovers = (a: Approvers, options: { secondPerson?: boolean } = {}): string => {
  const base = a.anyone ? `anyone who may run /${a.command}` : mentions(a).join(' or ');
  return (options.secondPerson ?? a.secondPerson) ? `${base}, other than the requester` : base;
};

/** The private answer to a refused Approve or Cancel click. */
export const describeRefusal = (d: ActorRefusal): string => {
  const command = d.approvers.command;
  if (d.action === 'cancel') {
    const requester = d.requester ? `the requester <@${d.requester}>` : 'the requester';
    return `Only ${requester} or ${describeApprovers(d.approvers, { secondPerson: false })} can cancel this change.`;
  }
  if (d.reason === 'self') {
    return `You requested this change: someone else must approve it (${describeApprovers(d.approvers)}).`;
  }
  if (d.rule) return `${describeRule(command, d.rule)} Approving its changes is too.`;
  return `Only ${describeApprovers(d.approvers)} can approve /${command} changes.`;
};
