import { parseArgs } from 'node:util';
import { isTerminalCi } from '../core/ci.js';
import { isAppError } from '../core/errors.js';
import { cleanLogTail } from '../playbooks/pipelines/log-text.js';
import { formatMrRef } from '../playbooks/pipelines/mr-ref.js';
import { snapshotOf } from '../playbooks/pipelines/poll.js';
import { renderPipelineText } from '../playbooks/pipelines/render-text.js';
import { buildPipelineView, failedJobsOf, type ResultView } from '../playbooks/pipelines/view.js';
import { recordCliRun } from './audit.js';
import {
  commandSanitizer,
  failureMessage,
  loadCommandConfig,
  openCommandForge,
  parseCommandMr,
} from './forge-command.js';
import { type CliCommand, EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './io.js';

/**
 * `opsbot pipeline <mr>`: the current state of an MR's newest pipeline, read live from the forge (what the
 * Slack status message shows, plus the failed jobs' log tails). Exit 0 when the state was read, 2 for bad
 * arguments or config, 1 when the forge could not be read.
 */

export const PIPELINE_USAGE = `Usage: opsbot pipeline <mr> [options]

Print the current state of a merge request's newest pipeline: stages, jobs, durations, and the end of each
failed job's log. <mr> is group/project!42 (GitLab), owner/repo#42 (GitHub), or the MR / PR URL.

Options:
  --json          print { mergeRequest, pipeline, failedJobs } as JSON
  --lines N       log lines per failed job (default: pipelines.logLines of the config, 30)
  --config FILE   config file (default: $OPSBOT_CONFIG); forges and tokens as for serve
  -h, --help      this help

Environment: GITLAB_TOKEN, GITHUB_TOKEN (or the GitHub App), OPSBOT_NO_AUDIT.
`;

const LOG_TAIL_BYTES = 64 * 1024;

export const runPipeline: CliCommand = async (args, io) => {
  const startedAt = io.now();
  let values: { json?: boolean; lines?: string; config?: string; help?: boolean };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: [...args],
      options: {
        json: { type: 'boolean' },
        lines: { type: 'string' },
        config: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
      strict: true,
    }));
  } catch (err) {
    io.stderr.write(
      `opsbot pipeline: ${err instanceof Error ? err.message : String(err)}\n\n${PIPELINE_USAGE}`,
    );
    return EXIT_USAGE;
  }
  if (values.help) {
    io.stdout.write(PIPELINE_USAGE);
    return EXIT_OK;
  }
  const usage = (message: string): number => {
    io.stderr.write(`opsbot pipeline: ${message}\n`);
    return EXIT_USAGE;
  };
  if (positionals.length !== 1) return usage(`expected one merge request\n\n${PIPELINE_USAGE}`);
  const config = loadCommandConfig(io, values.config);
  if ('problem' in config) return usage(config.problem);
  const lines = values.lines === undefined ? config.pipelines.logLines : Number(values.lines);
  if (!Number.isInteger(lines) || lines < 0 || lines > 1000)
    return usage('--lines: a number of lines, 0-1000');
  const parsed = parseCommandMr(positionals[0] as string, config);
  if (!parsed.ok) return usage(parsed.problem);
  const { ref } = parsed;
  const label = formatMrRef(ref);
  const forge = openCommandForge(ref, config);
  if ('problem' in forge) return usage(forge.problem);
  const sanitizer = commandSanitizer(config);
  const audit = (outcome: 'ok' | 'failed' | 'bad_input', detail: string | null) =>
    recordCliRun(io, {
      command: 'pipeline',
      args,
      target: label,
      outcome,
      detail,
      startedAt,
      configPath: values.config,
    });

  try {
    const mr = await forge.getMergeRequest(ref.repo, ref.number);
    if (!mr) {
      io.stderr.write(`opsbot pipeline: ${label} not found (or the token cannot see it)\n`);
      await audit('bad_input', 'not found');
      return EXIT_FAILURE;
    }
    const [newest] = await forge.listMergeRequestPipelines(
      ref.repo,
      { number: ref.number, headSha: mr.headSha },
      1,
    );
    const now = io.now();
    const mrView = { forge: ref.forge, repo: ref.repo, number: ref.number, url: mr.url };
    let view = null;
    let result: ResultView | null = null;
    if (newest) {
      const snap = snapshotOf(ref.forge, ref.repo, await forge.listPipelineJobs(ref.repo, newest), now);
      view = buildPipelineView(snap, mrView, now);
      if (isTerminalCi(snap.pipeline.status)) {
        const failed = failedJobsOf(snap).slice(0, config.pipelines.maxFailedJobs);
        result = {
          pipeline: view,
          outcome: snap.pipeline.status,
          failedJobs: await Promise.all(
            failed.map(async (j) => {
              const raw =
                lines > 0
                  ? await forge.getJobLogTail(ref.repo, j.jobId, LOG_TAIL_BYTES).catch(() => null)
                  : '';
              return {
                name: j.name,
                stage: j.stage,
                url: j.url,
                failureReason: j.failureReason,
                logTail: raw === null ? null : cleanLogTail(raw, { lines, scrub: (t) => sanitizer.scrub(t) }),
              };
            }),
          ),
          moreFailed: Math.max(0, failedJobsOf(snap).length - failed.length),
          retryValue: null,
        };
      }
    }
    if (values.json) {
      io.stdout.write(
        `${JSON.stringify(
          {
            mergeRequest: { ...ref, url: mr.url, title: mr.title, state: mr.state, headSha: mr.headSha },
            pipeline: view,
            failedJobs: result?.failedJobs ?? [],
          },
          null,
          2,
        )}\n`,
      );
    } else {
      io.stdout.write(renderPipelineText({ mr: label, mrTitle: mr.title, state: mr.state }, view, result));
    }
    await audit('ok', view ? `${view.label} ${view.status}` : 'no pipeline');
    return EXIT_OK;
  } catch (err) {
    io.stderr.write(`opsbot pipeline: ${sanitizer.scrub(failureMessage(err))}\n`);
    await audit('failed', isAppError(err) ? err.code : 'internal');
    return EXIT_FAILURE;
  }
};
