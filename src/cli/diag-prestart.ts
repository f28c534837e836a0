import { parseArgs } from 'node:util';
import { prestartMonitoringThread } from '../integrations/gce/monitoring-thread-start.js';

/** The flags that make `opsbot diag` read files instead of Google Cloud. */
const OFFLINE_FLAGS = ['metrics', 'logs', 'syslog', 'serial', 'instance'] as const;

/** True when these arguments ask for a live run (no file inputs, not --help); bad flags count as not live. */
export const isLiveDiag = (args: readonly string[]): boolean => {
  try {
    const { values } = parseArgs({
      args: [...args],
      options: {
        ...Object.fromEntries(OFFLINE_FLAGS.map((f) => [f, { type: 'string', multiple: true }])),
        help: { type: 'boolean', short: 'h' },
      },
      strict: false,
      allowPositionals: true,
    });
    return !values.help && OFFLINE_FLAGS.every((f) => values[f] === undefined);
  } catch {
    return false;
  }
};

/**
 * Starts Cloud Monitoring's worker thread before `diag` has loaded, for a live run: the client library loads
 * on the second core while the command reads its config and sends its first requests (monitoring-thread.ts).
 * Synchronous, and only `node:` modules behind it, so the thread starts first thing. Never throws: the command
 * reports bad flags itself, and reads in process if there is no thread.
 */
export const prestartDiagMetrics = (args: readonly string[]): void => {
  if (isLiveDiag(args)) prestartMonitoringThread();
};
