import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { isAppError } from '../core/errors.js';
import { prepareBranchChange } from '../integrations/git/workspace.js';
import {
  type AmendApplyOutcome,
  type AmendDeps,
  type AmendPrepareOutcome,
  mrLabel,
  prepareAmend,
} from '../playbooks/amend/amend.js';
import { cliActor, recordCliRun } from './audit.js';
import {
  commandSanitizer,
  failureMessage,
  loadCommandConfig,
  openCommandForge,
  parseCommandMr,
} from './forge-command.js';
import { type CliCommand, EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './io.js';

/**
 * `opsbot amend <mr> --patch FILE`: the /amend playbook from a terminal, against the forge with opsbot's
 * token. It previews (the exact diff, the branch, the head it was computed on, the commit), then pushes that
 * very commit onto that same head, from the same workspace (one fetch, one apply, one commit: `prepareAmend`);
 * `--dry-run` stops after the preview. Exit 0 pushed or nothing to do, 1 forge or git failure, 2 refused (bad
 * arguments, a closed MR, a fork that does not allow it, a diff that does not apply, or a branch that moved).
 */

export const AMEND_USAGE = `Usage: opsbot amend <mr> --patch FILE [--amend] [--message M] [--dry-run]

Apply a unified diff to an open merge / pull request's branch with git and push it: a new commit by opsbot
(the default), or the last commit amended (--amend, pushed with --force-with-lease on the head the preview
saw, so nobody's push is ever overwritten). <mr> is group/project!42 (GitLab), owner/repo#42 (GitHub), or
the MR / PR URL. Fork MRs are changed only when the fork allows maintainers to push.

Options:
  --patch FILE    the unified diff to apply ("-" reads standard input)
  --amend         amend the last commit instead of adding one
  --message M     commit message (default "Change by opsbot"; with --amend the commit's own message)
  --reason TEXT   why, for the note opsbot leaves on the MR
  --dry-run       show what would be pushed and stop
  --config FILE   config file (default: $OPSBOT_CONFIG); forges and tokens as for serve
  -h, --help      this help

Exit codes: 0 pushed (or already there), 1 forge or git failure, 2 refused or bad arguments.
Environment: GITLAB_TOKEN, GITHUB_TOKEN (or the GitHub App), OPSBOT_NO_AUDIT.
`;

const readStdin = async (): Promise<string> => {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
};

const describeRefusal = (
  out: Exclude<AmendPrepareOutcome | AmendApplyOutcome, { kind: 'preview' | 'pushed' | 'nothing_to_do' }>,
): string => {
  if (out.kind === 'head_moved') {
    const who = out.commits.length
      ? out.commits.map((c) => `  ${c.sha.slice(0, 12)} ${c.author}: ${c.subject}`).join('\n')
      : `  the branch now points at ${out.actual?.slice(0, 12) ?? 'nothing (deleted)'}`;
    return `${out.target.branch} moved since the preview (${out.expected.slice(0, 12)}); nothing was pushed. Pushed since:\n${who}\nRun it again to preview on the new head.`;
  }
  return out.hunk ? `${out.message}\nThe hunk that failed:\n${out.hunk}` : out.message;
};

export const runAmend: CliCommand = async (args, io) => {
  const startedAt = io.now();
  let values: {
    patch?: string;
    amend?: boolean;
    message?: string;
    reason?: string;
    'dry-run'?: boolean;
    config?: string;
    help?: boolean;
  };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: [...args],
      options: {
        patch: { type: 'string' },
        amend: { type: 'boolean' },
        message: { type: 'string' },
        reason: { type: 'string' },
        'dry-run': { type: 'boolean' },
        config: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
      strict: true,
    }));
  } catch (err) {
    io.stderr.write(`opsbot amend: ${err instanceof Error ? err.message : String(err)}\n\n${AMEND_USAGE}`);
    return EXIT_USAGE;
  }
  if (values.help) {
    io.stdout.write(AMEND_USAGE);
    return EXIT_OK;
  }
  const usage = (message: string): number => {
    io.stderr.write(`opsbot amend: ${message}\n`);
    return EXIT_USAGE;
  };
  if (positionals.length !== 1) return usage(`expected one merge request\n\n${AMEND_USAGE}`);
  if (!values.patch) return usage(`--patch FILE is required\n\n${AMEND_USAGE}`);
  if (values.message !== undefined && values.message.trim() === '') return usage('--message: empty');
  const config = loadCommandConfig(io, values.config);
  if ('problem' in config) return usage(config.problem);
  const parsed = parseCommandMr(positionals[0] as string, config);
  if (!parsed.ok) return usage(parsed.problem);
  const { ref } = parsed;
  const label = mrLabel(ref);
  let patch: string;
  try {
    patch = values.patch === '-' ? await readStdin() : await readFile(resolve(io.cwd, values.patch), 'utf8');
  } catch (err) {
    return usage(`--patch: cannot read ${values.patch} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const forge = openCommandForge(ref, config);
  if ('problem' in forge) return usage(forge.problem);
  const sanitizer = commandSanitizer(config);
  const audit = (outcome: 'ok' | 'failed' | 'bad_input', detail: string | null) =>
    recordCliRun(io, {
      command: 'amend',
      args,
      target: label,
      outcome,
      detail,
      startedAt,
      configPath: values.config,
    });
  const deps: AmendDeps = {
    forge,
    prepareBranchChange,
    identity: config.changes.gitAuthor,
  };
  const request = {
    ref,
    patch,
    mode: values.amend ? ('amend' as const) : ('add' as const),
    message: values.message ?? null,
    requester: cliActor(),
    approver: null,
    reason: values.reason ?? null,
    threadUrl: null,
  };

  // Ctrl-C (or SIGTERM) stops the git work and removes the workspace before exiting; a second one exits at once.
  const interrupt = new AbortController();
  const onSignal = () => interrupt.abort();
  io.signals?.once('SIGINT', onSignal);
  io.signals?.once('SIGTERM', onSignal);
  let pushing = false;
  try {
    const preview = await prepareAmend(deps, request, { signal: interrupt.signal });
    if (preview.kind === 'nothing_to_do') {
      io.stdout.write(
        `${label}: the change is already on ${preview.target.branch} at ${preview.headSha.slice(0, 12)}; nothing to do\n`,
      );
      await audit('ok', 'nothing to do');
      return EXIT_OK;
    }
    if (preview.kind !== 'preview') {
      io.stderr.write(`opsbot amend: ${sanitizer.scrub(describeRefusal(preview))}\n`);
      await audit('bad_input', preview.kind === 'refused' ? preview.reason : preview.kind);
      return EXIT_USAGE;
    }
    let out: AmendApplyOutcome | null = null;
    try {
      const how = preview.mode === 'amend' ? 'amend the last commit of' : 'add a commit to';
      io.stdout.write(
        `${label} ${preview.target.title}\nWill ${how} ${preview.target.sourceRepo}:${preview.target.branch} at ${preview.headSha}\nThe new commit: ${preview.commitSha}\n\n${preview.diff}`,
      );
      // The commit just shown, pushed from the workspace that made it; --dry-run only removes the workspace.
      if (!values['dry-run']) {
        pushing = true;
        out = await preview.push();
      }
    } finally {
      await preview.dispose();
    }
    if (out === null) {
      io.stdout.write('\n(dry run: nothing pushed)\n');
      await audit('ok', 'dry run');
      return EXIT_OK;
    }
    if (out.kind === 'pushed') {
      io.stdout.write(
        `\nPushed ${out.newSha} to ${out.target.sourceRepo}:${out.target.branch} (was ${out.oldSha.slice(0, 12)})\n`,
      );
      if (out.noteProblem) io.stderr.write(`opsbot amend: note on ${label} not posted: ${out.noteProblem}\n`);
      await audit('ok', `pushed ${out.newSha.slice(0, 12)}`);
      return EXIT_OK;
    }
    if (out.kind === 'nothing_to_do') {
      io.stdout.write(`\n${label}: the change is already on ${out.target.branch}; nothing to do\n`);
      await audit('ok', 'nothing to do');
      return EXIT_OK;
    }
    io.stderr.write(`opsbot amend: ${sanitizer.scrub(describeRefusal(out))}\n`);
    await audit('bad_input', out.kind === 'refused' ? out.reason : out.kind);
    return EXIT_USAGE;
  } catch (err) {
    if (interrupt.signal.aborted) {
      io.stderr.write(
        pushing
          ? `opsbot amend: interrupted during the push: ${label} may or may not have the commit; look at the branch before running it again\n`
          : 'opsbot amend: interrupted; nothing was pushed\n',
      );
      await audit('failed', 'interrupted');
      return EXIT_FAILURE;
    }
    io.stderr.write(`opsbot amend: ${sanitizer.scrub(failureMessage(err))}\n`);
    await audit('failed', isAppError(err) ? err.code : 'internal');
    return EXIT_FAILURE;
  } finally {
    io.signals?.off('SIGINT', onSignal);
    io.signals?.off('SIGTERM', onSignal);
  }
};
