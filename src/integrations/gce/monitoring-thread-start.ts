import { Worker } from 'node:worker_threads';

/**
 * Starting Cloud Monitoring's worker thread (monitoring-thread.ts uses it), on its own so that the CLI can
 * start it first thing, before the command's modules load: only `node:worker_threads` is needed for that. The
 * thread then loads the client library on the second core while the main thread loads everything else.
 */

/** The worker entry: the compiled `.js` next to this file, or the `.ts` source under tsx (tests, a checkout). */
const startWorker = (): Worker =>
  import.meta.url.endsWith('.ts')
    ? new Worker(new URL('./monitoring-worker.ts', import.meta.url), { execArgv: ['--import', 'tsx'] })
    : new Worker(new URL('./monitoring-worker.js', import.meta.url));

export interface StartedMonitoringWorker {
  readonly worker: Worker;
  /** Set when it failed (an error or an exit) before anyone used it. */
  failed: Error | null;
}

let prestarted: StartedMonitoringWorker | null = null;

/** Starts a thread, unref'd (an idle thread never holds the process); null where threads cannot start. */
export const startMonitoringWorker = (spawn: () => Worker = startWorker): StartedMonitoringWorker | null => {
  try {
    const s: StartedMonitoringWorker = { worker: spawn(), failed: null };
    s.worker.on('error', (err) => {
      s.failed ??= err;
    });
    s.worker.on('exit', (code) => {
      s.failed ??= new Error(`the Monitoring thread exited with code ${code}`);
    });
    s.worker.unref();
    return s;
  } catch {
    return null;
  }
};

/** Starts the thread now, so the library loads while the command does. Never throws. */
export const prestartMonitoringThread = (): void => {
  prestarted ??= startMonitoringWorker();
};

/** The thread started ahead, handed over once. */
export const takePrestartedMonitoringWorker = (): StartedMonitoringWorker | null => {
  const s = prestarted;
  prestarted = null;
  return s;
};

/** Stops a thread started ahead that nobody took (the command ended early: bad flags, no config...). */
export const discardPrestartedMonitoringThread = async (): Promise<void> => {
  await takePrestartedMonitoringWorker()
    ?.worker.terminate()
    .catch(() => 0);
};
