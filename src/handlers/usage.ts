import type { CommandName } from '../core/config.js';

/**
 * Usage of every command, in one place: `/opsbot help`, the usage answer to bad arguments, and the CLI's
 * `--help` all read this table, so they cannot drift apart.
 */
export interface CommandUsage {
  readonly name: CommandName;
  readonly slash: string;
  readonly summary: string;
  /** Synopsis lines, without the leading slash command. */
  readonly synopsis: readonly string[];
  readonly options: readonly { readonly flag: string; readonly text: string }[];
  readonly examples: readonly string[];
}

export const USAGE: Readonly<Record<CommandName, CommandUsage>> = {
  'why-reboot': {
    name: 'why-reboot',
    slash: '/why-reboot',
    summary:
      'Explain why a Compute Engine VM restarted, with the evidence (audit logs, guest logs, serial console).',
    synopsis: ['<vm> [--project P] [--zone Z] [--since 7d]'],
    options: [
      { flag: '--project P', text: 'Google Cloud project (default: the configured projects are searched)' },
      { flag: '--zone Z', text: 'zone of the VM (default: found by name)' },
      { flag: '--since 7d', text: 'how far back to look: 30m, 12h, 7d (default 7d)' },
    ],
    examples: ['/why-reboot web-1', '/why-reboot db-2 --project shop-prod --zone europe-west1-b --since 2d'],
  },
  diag: {
    name: 'diag',
    slash: '/diag',
    summary:
      'Host diagnostics of a Compute Engine VM, the USE way: CPU, memory, disks, network and filesystems (utilization, saturation, errors) from Cloud Monitoring, guest logs and platform events, with a chart.',
    synopsis: ['<vm> [--project P] [--zone Z] [--since 1h | --at ISO [--around 30m]]'],
    options: [
      { flag: '--project P', text: 'Google Cloud project (default: the configured projects are searched)' },
      { flag: '--zone Z', text: 'zone of the VM (default: found by name)' },
      { flag: '--since 1h', text: 'how far back to look: 30m, 6h, 2d (default 1h)' },
      { flag: '--at ISO', text: 'look around a moment instead, e.g. 2026-11-20T10:03:00Z' },
      { flag: '--around 30m', text: 'with --at: how far before and after it (default 30m)' },
    ],
    examples: [
      '/diag web-1',
      '/diag db-2 --project shop-prod --zone europe-west1-b --at 2026-11-20T10:03:00Z',
    ],
  },
  versionlock: {
    name: 'versionlock',
    slash: '/versionlock',
    summary:
      'Pin or unpin a package version in a yum/dnf versionlock list, previewed here and opened as a merge request once approved.',
    synopsis: [
      '<package> <version>[-<release>] [--target T] [--mr MR] [--dry-run]',
      'add <package> <version>[-<release>] [--target T] [--mr MR] [--dry-run]',
      'remove <package> [--target T] [--mr MR] [--dry-run]',
      'list [--target T]',
    ],
    options: [
      {
        flag: '--target T',
        text: 'which configured versionlock target (repository file) to change (default: the only one)',
      },
      {
        flag: '--mr MR',
        text: "put the change onto that open merge request's branch (a commit, as /amend does) instead of opening a new one",
      },
      { flag: '--dry-run', text: 'show the change and stop: no buttons, nothing stored or opened' },
    ],
    examples: [
      '/versionlock elasticsearch 7.10.2-1',
      '/versionlock add elasticsearch 7.10.2-1 --target es-prod',
      '/versionlock remove elasticsearch',
      '/versionlock list',
    ],
  },
  'tf-import': {
    name: 'tf-import',
    slash: '/tf-import',
    summary:
      'Add a Terraform import block for an existing resource, previewed here and opened as a merge request once approved.',
    synopsis: [
      '<address> <id> [--target T] [--mr MR] [--dry-run]',
      'vm <name> [--project P] [--zone Z] [--target T] [--mr MR] [--dry-run]',
    ],
    options: [
      { flag: '--target T', text: 'which configured Terraform stack to change (default: the only one)' },
      { flag: '--project P / --zone Z', text: 'where the VM is (vm only; default: found by name)' },
      {
        flag: '--mr MR',
        text: "put the change onto that open merge request's branch (a commit, as /amend does) instead of opening a new one",
      },
      { flag: '--dry-run', text: 'show the change and stop: no buttons, nothing stored or opened' },
    ],
    examples: [
      '/tf-import google_compute_instance.web_1 projects/shop-prod/zones/europe-west1-b/instances/web-1',
      '/tf-import vm web-1 --project shop-prod --target prod-stack',
    ],
  },
  amend: {
    name: 'amend',
    slash: '/amend',
    summary:
      "Change someone's open merge / pull request with a diff applied to its branch with git (a new commit, or the last one amended), never over a push made since the preview. The preview in a thread shows the exact diff, the branch and the head it was computed on; Approve pushes, leaves a note on the MR and follows its pipeline in the thread.",
    synopsis: [
      '<mr>   (opens a form: the diff, add a commit or amend the last one, the message, the reason)',
      '<mr> --diff [--amend] [--message M] [--reason R] [--dry-run]   (the unified diff on the following lines)',
    ],
    options: [
      {
        flag: '<mr>',
        text: 'group/project!42 (GitLab), owner/repo#42 (GitHub), or the merge / pull request URL',
      },
      { flag: '--diff', text: 'the unified diff follows the arguments, on the next lines' },
      {
        flag: '--amend',
        text: 'amend the last commit instead of adding one (pushed with --force-with-lease)',
      },
      {
        flag: '--message M',
        text: 'commit message (default: "Change by opsbot"; with --amend, the commit\'s own)',
      },
      { flag: '--reason R', text: 'why, for the note opsbot leaves on the merge request' },
      { flag: '--dry-run', text: 'show the preview only (nothing stored, no buttons)' },
    ],
    examples: [
      '/amend infra/ansible!42 --diff',
      '/amend acme/infra#7 --diff --amend --message "Lock kibana too"',
    ],
  },
  pipeline: {
    name: 'pipeline',
    slash: '/pipeline',
    summary:
      "Follow a merge request's CI in this channel: one live status message per pipeline, the result (with the failed jobs' logs) when it ends.",
    synopsis: ['<mr>', '--stop <mr>'],
    options: [
      {
        flag: '<mr>',
        text: 'group/project!42 (GitLab), owner/repo#42 (GitHub), or the merge / pull request URL',
      },
      { flag: '--stop', text: 'stop following it in this channel' },
    ],
    examples: [
      '/pipeline infra/ansible!42',
      '/pipeline acme/infra#7',
      '/pipeline https://gitlab.example.com/infra/ansible/-/merge_requests/42',
      '/pipeline --stop infra/ansible!42',
    ],
  },
  reboots: {
    name: 'reboots',
    slash: '/reboots',
    summary:
      'Every VM restart in a window across the configured projects, grouped by cause and time ("14 VMs in us-central1-a, host errors between 23:31 and 23:36"), each with its actor and downtime, a button to run /why-reboot on one, the full table as a file, and the VMs with upcoming maintenance.',
    synopsis: ['[--project P ...] [--since 24h] [--label k=v ...] [--cause C]'],
    options: [
      { flag: '--project P', text: 'a project to read (repeatable; default: the configured projects)' },
      { flag: '--since 24h', text: 'how far back to look: 30m, 12h, 7d (default 24h)' },
      { flag: '--label k=v', text: 'only VMs with this label (repeatable: all must match)' },
      {
        flag: '--cause C',
        text: 'only one cause: host-error, preemption, guest-shutdown, host-maintenance, mig-recreate, stop, reset, ...',
      },
    ],
    examples: ['/reboots', '/reboots --since 6h --label env=prod --cause host-error'],
  },
  opsbot: {
    name: 'opsbot',
    slash: '/opsbot',
    summary: 'Help on opsbot and its commands; the state of the platform-event watch.',
    synopsis: ['help [command]', 'watch'],
    options: [{ flag: 'watch', text: "what is watched, the cursor's age and the last error" }],
    examples: ['/opsbot help', '/opsbot help why-reboot', '/opsbot watch'],
  },
};

export const COMMAND_ORDER: readonly CommandName[] = [
  'why-reboot',
  'diag',
  'versionlock',
  'tf-import',
  'amend',
  'pipeline',
  'reboots',
  'opsbot',
];

/** Plain-text usage of one command (Slack mrkdwn-safe, also fine in a terminal). */
export const formatUsage = (name: CommandName): string => {
  const u = USAGE[name];
  const lines = [`${u.slash}: ${u.summary}`, 'Usage:'];
  for (const s of u.synopsis) lines.push(`  ${u.slash} ${s}`);
  if (u.options.length) {
    lines.push('Options:');
    for (const o of u.options) lines.push(`  ${o.flag}  ${o.text}`);
  }
  lines.push('Examples:');
  for (const e of u.examples) lines.push(`  ${e}`);
  return lines.join('\n');
};

export const findCommandName = (word: string): CommandName | null => {
  const w = word.replace(/^\//, '').toLowerCase();
  return COMMAND_ORDER.find((c) => c === w) ?? null;
};
