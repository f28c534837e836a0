import { Worker } from 'node:worker_threads';
import { SCAN_WORKER_DATA } from './syslog-scan-core.js';

/**
 * The syslog scan's worker threads, startable ahead of the scan. A worker takes ~50 ms to boot (more on a busy
 * machine): the CLI starts them as soon as it sees a large `--syslog` file (`prestartScanWorkers`), so they
 * boot while the rest of the command loads, and the scan then takes them (`takeScanWorker`). A worker waits
 * for its job as a message; one that is never taken does not keep the process alive (unref'd).
 */

/** A scan worker and what happened to it before anyone listened. */
export interface ScanWorkerHandle {
  readonly worker: Worker;
  /** An error or an exit before the scan took it. */
  early: Error | null;
}

const idle: ScanWorkerHandle[] = [];

/** The worker entry: the compiled `.js` next to this file, or the `.ts` source (tests, tsx; Node strips types). */
const workerUrl = (): URL =>
  new URL(
    import.meta.url.endsWith('.ts') ? './syslog-scan-worker.ts' : './syslog-scan-worker.js',
    import.meta.url,
  );

const start = (): ScanWorkerHandle => {
  const h: ScanWorkerHandle = {
    worker: new Worker(workerUrl(), { workerData: SCAN_WORKER_DATA }),
    early: null,
  };
  // Until the scan attaches its own listeners: an 'error' event without a listener would throw.
  const onError = (err: Error): void => {
    h.early ??= err;
  };
  const onExit = (code: number): void => {
    h.early ??= new Error(`scan worker exited with code ${code}`);
  };
  h.worker.on('error', onError);
  h.worker.on('exit', onExit);
  return h;
};

/** Starts workers until `count` are idle, unref'd (they do not hold the process). */
export const prestartScanWorkers = (count: number): void => {
  while (idle.length < count) {
    const h = start();
    h.worker.unref();
    idle.push(h);
  }
};

/** A started worker (a pre-started one when there is one), ref'd: the scan waits on it. */
export const takeScanWorker = (): ScanWorkerHandle => {
  const h = idle.shift() ?? start();
  h.worker.ref();
  return h;
};

/** Pre-started workers not taken. */
export const idleScanWorkers = (): number => idle.length;

/** Stops the pre-started workers nobody took. */
export const stopIdleScanWorkers = async (): Promise<void> => {
  const all = idle.splice(0);
  await Promise.all(all.map((h) => h.worker.terminate().catch(() => 0)));
};
