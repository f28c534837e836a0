import { isAppError } from '../core/errors.js';
import { planChange, resolveVm, selectTarget } from '../playbooks/change/flow.js';
import type { TfImportRequest } from '../playbooks/change/plan-requests.js';
import { parseResourceAddress } from '../playbooks/tf-import/index.js';
import { formatRef } from '../playbooks/why-reboot/resolve-instance.js';
import { type AmendHandlerDeps, presentOnMergeRequest } from './amend.js';
import { parseChangeWords } from './args.js';
import { escapeText } from './blocks/text.js';
import { type ChangeHandlerDeps, presentPlan } from './change-actions.js';
import { pendingCommand } from './pending.js';
import type { CommandResult, CommandSpec, ParseOutcome } from './pipeline.js';
import { formatUsage } from './usage.js';

/**
 * `/tf-import <address> <id>` and `/tf-import vm <vm>` (resolved like /why-reboot: name, zone/name,
 * project/zone/name or a URL, `--project`, `--zone`), with `--target NAME` and `--dry-run`.
 */

export type TfImportArgs =
  | {
      readonly kind: 'address';
      readonly address: string;
      readonly id: string;
      readonly target: string | null;
      readonly dryRun: boolean;
      /** --mr: onto this open MR's branch instead of a new MR. */
      readonly mr?: string;
    }
  | {
      readonly kind: 'vm';
      readonly vm: string;
      readonly project: string | null;
      readonly zone: string | null;
      readonly target: string | null;
      readonly dryRun: boolean;
      /** --mr: onto this open MR's branch instead of a new MR. */
      readonly mr?: string;
    };

export const parseTfImportArgs = (text: string): ParseOutcome<TfImportArgs> => {
  const words = parseChangeWords(text, ['target', 'project', 'zone', 'mr'], ['dry-run']);
  if (!words.ok) return words;
  const { positional, values, switches } = words.args;
  const target = values.target ?? null;
  const dryRun = switches.has('dry-run');
  const onto = values.mr ? { mr: values.mr } : {};
  const [first] = positional;
  if (first === undefined || first === 'help') return { ok: false, problem: 'what should be imported?' };
  if (first.toLowerCase() === 'vm') {
    if (positional.length !== 2) return { ok: false, problem: '`vm` takes one VM name' };
    return {
      ok: true,
      args: {
        kind: 'vm',
        vm: positional[1] as string,
        project: values.project ?? null,
        zone: values.zone ?? null,
        target,
        dryRun,
        ...onto,
      },
    };
  }
  if (values.project !== undefined || values.zone !== undefined) {
    return { ok: false, problem: '--project and --zone go with `vm <name>`' };
  }
  if (positional.length !== 2) {
    return {
      ok: false,
      problem:
        'give the resource address and the import id, e.g. `google_compute_instance.web_1 projects/p/zones/z/instances/web-1`',
    };
  }
  const [address, id] = positional as [string, string];
  try {
    parseResourceAddress(address);
  } catch (err) {
    if (isAppError(err) && err.code === 'bad_input') return { ok: false, problem: err.userMessage };
    throw err;
  }
  return { ok: true, args: { kind: 'address', address, id, target, dryRun, ...onto } };
};

export const tfImportCommand = (
  deps: ChangeHandlerDeps | null,
  amend: AmendHandlerDeps | null = null,
): CommandSpec<TfImportArgs> => {
  if (!deps || deps.flow.targets.terraform.length === 0) {
    return pendingCommand('tf-import') as unknown as CommandSpec<TfImportArgs>;
  }
  const flow = deps.flow;
  return {
    name: 'tf-import',
    parse: parseTfImportArgs,
    usage: () => formatUsage('tf-import'),
    immediate(args) {
      const choice = selectTarget('tf-import', flow.targets.terraform, args.target);
      if (choice.kind === 'found') return null;
      return { message: { text: choice.message }, result: { outcome: 'bad_input', detail: choice.message } };
    },
    async run(ctx, args): Promise<CommandResult> {
      const choice = selectTarget('tf-import', flow.targets.terraform, args.target);
      if (choice.kind !== 'found') {
        await ctx.reply({ text: choice.message });
        return { outcome: 'bad_input', detail: choice.message };
      }
      const target = choice.target;
      let request: TfImportRequest;
      if (args.kind === 'vm') {
        const found = await resolveVm(flow, args.vm, {
          project: args.project ?? undefined,
          zone: args.zone ?? undefined,
        });
        if (found.kind === 'ambiguous') {
          const list = found.candidates.map((c) => `• \`${formatRef(c)}\``).join('\n');
          await ctx.reply({
            text: `${found.candidates.length} VMs are named ${escapeText(args.vm)}: say which one with project/zone/name or --zone.\n${list}`,
          });
          return { outcome: 'bad_input', target: args.vm, detail: 'ambiguous VM name' };
        }
        if (found.kind === 'not-found') {
          await ctx.reply({
            text: `No VM named ${escapeText(args.vm)} was found (searched ${escapeText(found.searched.join(', '))}).`,
          });
          return { outcome: 'bad_input', target: args.vm, detail: 'VM not found' };
        }
        request = { kind: 'vm', instance: found.instance };
      } else {
        request = { kind: 'address', address: args.address, id: args.id };
      }
      if (args.mr !== undefined) {
        if (!amend) {
          await ctx.reply({ text: '--mr needs /amend, which is not set up in this opsbot.' });
          return { outcome: 'bad_input', detail: '--mr without /amend' };
        }
        const onMr = request;
        return presentOnMergeRequest(
          amend,
          ctx,
          args.mr,
          target,
          (onBranch) =>
            planChange(flow, { command: 'tf-import', target: { ...target, ...onBranch }, request: onMr }),
          { dryRun: args.dryRun },
        );
      }
      const planned = await planChange(flow, { command: 'tf-import', target, request });
      if (planned.kind !== 'planned') {
        const text =
          planned.kind === 'nothing-to-do'
            ? `Nothing to do in \`${escapeText(target.dir)}\` (${escapeText(target.name)}): ${escapeText(planned.reason)}.`
            : `:no_entry: ${escapeText(planned.reason)}`;
        await ctx.reply({ text });
        return {
          outcome: planned.kind === 'nothing-to-do' ? 'nothing_to_do' : 'failed',
          target: `${target.repo}:${target.dir}`,
          detail: planned.reason,
        };
      }
      return presentPlan(deps, ctx, planned.plan, { dryRun: args.dryRun });
    },
  };
};
