import type { CiStatus } from '../../core/ci.js';
import type { PipelineView, ResultView } from './view.js';

/**
 * The terminal rendering of a pipeline (`opsbot pipeline <mr>`): the same view the Slack messages show, as
 * plain text.
 */

const WORD: Readonly<Record<CiStatus, string>> = {
  created: 'created',
  pending: 'pending',
  manual: 'manual',
  running: 'running',
  success: 'passed',
  failed: 'FAILED',
  canceled: 'canceled',
  skipped: 'skipped',
};

const duration = (ms: number | null): string => {
  if (ms === null) return '';
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
};

export const renderPipelineText = (
  title: { readonly mr: string; readonly mrTitle: string; readonly state: string },
  view: PipelineView | null,
  result: ResultView | null,
): string => {
  const out = [`${title.mr}  ${title.mrTitle}  (${title.state})`];
  if (!view) {
    out.push('  no pipeline yet');
    return `${out.join('\n')}\n`;
  }
  out.push(
    `${view.label}  ${WORD[view.status]}  ${view.ref && !view.ref.startsWith('refs/') ? `${view.ref} @ ` : ''}${view.sha.slice(0, 8)}  ${duration(view.durationMs)}`.trimEnd(),
  );
  if (view.url) out.push(`  ${view.url}`);
  for (const stage of view.stages) {
    out.push(`  ${stage.name || 'jobs'}  ${WORD[stage.status]}`);
    const width = Math.max(0, ...stage.jobs.map((j) => j.name.length));
    for (const j of stage.jobs) {
      const extra = j.allowFailure && j.status === 'failed' ? ' (allowed to fail)' : '';
      out.push(
        `    ${j.name.padEnd(width)}  ${WORD[j.status].padEnd(8)} ${duration(j.durationMs)}${extra}`.trimEnd(),
      );
    }
  }
  for (const f of result?.failedJobs ?? []) {
    out.push('', `--- ${f.name}${f.stage ? ` (${f.stage})` : ''}${f.url ? `  ${f.url}` : ''}`);
    if (f.logTail === null) out.push('    (log not readable)');
    else for (const l of f.logTail) out.push(`    ${l}`);
  }
  if (result && result.moreFailed > 0) out.push(`(${result.moreFailed} more failed jobs)`);
  return `${out.join('\n')}\n`;
};
