import type { DiagSourceReport } from './types.js';

/**
 * True when every evidence source that ran failed: the result rests on nothing (the verdict says so, the CLI
 * exits 1, Slack shows no table and audits the run failed). Its own module: the analysis needs it and is
 * loaded apart from the collector.
 */
export const noDiagEvidence = (sources: readonly DiagSourceReport[]): boolean => {
  const tried = sources.filter((s) => s.status !== 'skipped');
  return tried.length > 0 && tried.every((s) => s.status === 'failed');
};
