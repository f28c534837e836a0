import type { CommandName } from '../core/config.js';
import { type AmendHandlerDeps, amendCommand } from './amend.js';
import type { ChangeHandlerDeps } from './change-actions.js';
import { type DiagDeps, diagCommand } from './diag.js';
import { createOpsbotCommand, type WatchStatusSource } from './opsbot.js';
import type { CommandSpec } from './pipeline.js';
import { type PipelineCommandDeps, pipelineCommand } from './pipeline-command.js';
import { type RebootsDeps, rebootsCommand } from './reboots.js';
import { tfImportCommand } from './tf-import.js';
import { versionlockCommand } from './versionlock.js';
import { type WhyRebootDeps, whyRebootCommand } from './why-reboot.js';

export interface HandlerDeps {
  /** null: /why-reboot answers that it is not available in this build. */
  readonly whyReboot: WhyRebootDeps | null;
  /** null or absent: /diag answers that it is not available in this build. */
  readonly diag?: DiagDeps | null;
  /** The change flow (/versionlock, /tf-import); null or no targets: they answer "not configured". */
  readonly changes?: ChangeHandlerDeps | null;
  /** /amend: the change flow plus git and the forges; null or absent: it answers "not configured". */
  readonly amend?: AmendHandlerDeps | null;
  /** /pipeline: the pipeline follower and the forges; null: it answers "not set up". */
  readonly pipelines?: PipelineCommandDeps | null;
  /** /reboots: the fleet view; null or absent: it answers that it is not available. */
  readonly reboots?: RebootsDeps | null;
  /** `/opsbot watch`: the watch's state as a message; null or absent: "not configured". */
  readonly watchStatus?: WatchStatusSource | null;
  /** Real implementations of commands that are pending here (versionlock, tf-import, amend). */
  // biome-ignore lint/suspicious/noExplicitAny: each command has its own argument type
  readonly commands?: Partial<Record<CommandName, CommandSpec<any>>>;
}

/**
 * Every slash command opsbot answers, one entry each. Adding a command = one entry here (plus its usage in
 * usage.ts and its line in config/slack-manifest.yaml).
 */
// biome-ignore lint/suspicious/noExplicitAny: each command has its own argument type
export const buildCommandRegistry = (deps: HandlerDeps): readonly CommandSpec<any>[] => [
  deps.commands?.opsbot ?? createOpsbotCommand(deps.watchStatus ?? null),
  deps.commands?.['why-reboot'] ?? whyRebootCommand(deps.whyReboot),
  deps.commands?.diag ?? diagCommand(deps.diag ?? null),
  deps.commands?.versionlock ?? versionlockCommand(deps.changes ?? null, deps.amend ?? null),
  deps.commands?.['tf-import'] ?? tfImportCommand(deps.changes ?? null, deps.amend ?? null),
  deps.commands?.amend ?? amendCommand(deps.amend ?? null),
  deps.commands?.pipeline ?? pipelineCommand(deps.pipelines ?? null),
  deps.commands?.reboots ?? rebootsCommand(deps.reboots ?? null),
];
