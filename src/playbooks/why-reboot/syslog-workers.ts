import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { SCAN_WORKER_DATA } from './syslog-scan-core.js';

/**
 * The syslog scan's worker threads, startable ahead of the scan. A worker takes ~50 ms to boot (more on a busy
 * machine): the CLI starts them as soon as it sees a large `--syslog` file (`prestartScanWorkers`), so they
 * boot while the rest of the command loads, and the scan then takes them (`takeScanWorker`). A worker waits
 * for its job as a message; one that is never taken does not keep the process alive (unref'd).
 */

/**
 * One thread per this many bytes (up to the machine's parallelism and 8): a second thread from 512 MiB. A worker
 * costs ~50 ms of CPU to start on an idle core (three times that with every core busy: measured 2 threads
 * 620-710 ms against 1 thread 380-530 ms for the CLI on the 256 MiB bench file at load 5), while one thread
 * reading ahead scans ~2-4 GB/s: a worker pays off only for a range that takes one thread well over 100 ms.
 */
const BYTES_PER_THREAD = 256 << 20;
const MAX_THREADS = 8;

/** Threads a scan of `bytes` uses by default: one per 256 MiB, up to the machine's parallelism (and 8). */
export const defaultScanThreads = (bytes: number): number =>
  Math.max(1, Math.min(availableParallelism(), MAX_THREADS, Math.floor(bytes / BYTES_PER_THREAD)));

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
    import.meta.url.endsWith('.ts') ? './syslog-scan-core.ts' : './syslog-scan-core.js',
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
