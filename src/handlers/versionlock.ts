import { isAppError } from '../core/errors.js';
import { listLocks, planChange, selectTarget } from '../playbooks/change/flow.js';
import {
  assertPackageName,
  parseVersionSpec,
  type VersionlockRequest,
} from '../playbooks/versionlock/index.js';
import { type AmendHandlerDeps, presentOnMergeRequest } from './amend.js';
import { parseChangeWords } from './args.js';
import { buildLockListMessage } from './blocks/change.js';
import { escapeText } from './blocks/text.js';
import { type ChangeHandlerDeps, presentPlan } from './change-actions.js';
import { pendingCommand } from './pending.js';
import type { CommandResult, CommandSpec, ParseOutcome } from './pipeline.js';
import { formatUsage } from './usage.js';

/**
 * `/versionlock elasticsearch 7.10.2-1` (= add), `add <pkg> <version>[-<release>]`, `remove <pkg>`, `list`,
 * with `--target NAME` and `--dry-run`. The plan is posted in the channel as the root of the change's thread.
 */

export type VersionlockArgs =
  | { readonly op: 'list'; readonly target: string | null }
  | {
      readonly op: 'change';
      readonly request: VersionlockRequest;
      readonly target: string | null;
      readonly dryRun: boolean;
      /** --mr: onto this open MR's branch instead of a new MR. */
      readonly mr?: string;
    };

const ruleOf = (fn: () => unknown): string | null => {
  try {
    fn();
    return null;
  } catch (err) {
    if (isAppError(err) && err.code === 'bad_input') return err.userMessage;
    throw err;
  }
};

const SUBCOMMANDS = ['add', 'remove', 'list'];

export const parseVersionlockArgs = (text: string): ParseOutcome<VersionlockArgs> => {
  const words = parseChangeWords(text, ['target', 'mr'], ['dry-run']);
  if (!words.ok) return words;
  const { positional, values, switches } = words.args;
  const target = values.target ?? null;
  const dryRun = switches.has('dry-run');
  const onto = values.mr ? { mr: values.mr } : {};
  const [first, ...rest] = positional;
  if (first === undefined || first === 'help') return { ok: false, problem: 'what should be locked?' };
  const sub = first.toLowerCase();
  if (sub === 'list') {
    if (rest.length > 0) return { ok: false, problem: '`list` takes no arguments besides --target' };
    if (dryRun) return { ok: false, problem: '`list` changes nothing: --dry-run does not apply' };
    if (values.mr) return { ok: false, problem: '`list` changes nothing: --mr does not apply' };
    return { ok: true, args: { op: 'list', target } };
  }
  let pkg: string | undefined;
  let version: string | undefined;
  if (sub === 'remove') {
    if (rest.length !== 1) return { ok: false, problem: '`remove` takes one package name' };
    pkg = rest[0] as string;
  } else {
    const args = sub === 'add' ? rest : positional;
    if (args.length !== 2) {
      return {
        ok: false,
        problem:
          sub === 'add' || !SUBCOMMANDS.includes(sub)
            ? 'give the package and the version as two words, e.g. `elasticsearch 7.10.2-1`'
            : `unknown subcommand "${first.slice(0, 40)}"`,
      };
    }
    [pkg, version] = args as [string, string];
  }
  const badName = ruleOf(() => assertPackageName(pkg as string));
  if (badName) return { ok: false, problem: badName };
  if (version === undefined)
    return { ok: true, args: { op: 'change', request: { op: 'remove', pkg }, target, dryRun, ...onto } };
  // The strict, per-format check (yum needs an exact release) happens when the target's file is edited.
  const badVersion = ruleOf(() =>
    parseVersionSpec(version as string, { allowReleaseGlob: true, forYum: false }),
  );
  if (badVersion) return { ok: false, problem: badVersion };
  return { ok: true, args: { op: 'change', request: { op: 'add', pkg, version }, target, dryRun, ...onto } };
};

export const versionlockCommand = (
  deps: ChangeHandlerDeps | null,
  amend: AmendHandlerDeps | null = null,
): CommandSpec<VersionlockArgs> => {
  // Without targets the command has nothing to change: say so rather than plan against nothing.
  if (!deps || deps.flow.targets.versionlock.length === 0) {
    return pendingCommand('versionlock') as unknown as CommandSpec<VersionlockArgs>;
  }
  const flow = deps.flow;
  return {
    name: 'versionlock',
    parse: parseVersionlockArgs,
    usage: () => formatUsage('versionlock'),
    immediate(args) {
      const choice = selectTarget('versionlock', flow.targets.versionlock, args.target);
      if (choice.kind === 'found') return null;
      return { message: { text: choice.message }, result: { outcome: 'bad_input', detail: choice.message } };
    },
    async run(ctx, args): Promise<CommandResult> {
      const choice = selectTarget('versionlock', flow.targets.versionlock, args.target);
      if (choice.kind !== 'found') {
        await ctx.reply({ text: choice.message });
        return { outcome: 'bad_input', detail: choice.message };
      }
      const target = choice.target;
      if (args.op === 'list') {
        const list = await listLocks(flow, target);
        await ctx.reply(buildLockListMessage(list));
        return {
          outcome: 'ok',
          target: `${target.repo}:${target.path}`,
          detail: `${list.entries.length} entries`,
        };
      }
      if (args.mr !== undefined) {
        if (!amend) {
          await ctx.reply({ text: '--mr needs /amend, which is not set up in this opsbot.' });
          return { outcome: 'bad_input', detail: '--mr without /amend' };
        }
        const request = args.request;
        return presentOnMergeRequest(
          amend,
          ctx,
          args.mr,
          target,
          (onBranch) =>
            planChange(flow, { command: 'versionlock', target: { ...target, ...onBranch }, request }),
          { dryRun: args.dryRun },
        );
      }
      const planned = await planChange(flow, { command: 'versionlock', target, request: args.request });
      if (planned.kind !== 'planned') {
        const text =
          planned.kind === 'nothing-to-do'
            ? `Nothing to do in \`${escapeText(target.path)}\` (${escapeText(target.name)}): ${escapeText(planned.reason)}.`
            : `:no_entry: ${escapeText(planned.reason)}`;
        await ctx.reply({ text });
        return {
          outcome: planned.kind === 'nothing-to-do' ? 'nothing_to_do' : 'failed',
          target: `${target.repo}:${target.path}`,
          detail: planned.reason,
        };
      }
      return presentPlan(deps, ctx, planned.plan, { dryRun: args.dryRun });
    },
  };
};
