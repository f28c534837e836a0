import { parentPort, workerData } from 'node:worker_threads';
import type * as ScanCore from './syslog-scan-core.js';
import type { KernelFactory } from './syslog-scan-core.js';
import type * as Simd from './syslog-simd.js';

/**
 * A syslog scan worker's entry point (syslog-workers.ts starts it). It loads the byte-level half of the scan
 * and the SIMD kernel by file URL with its own extension (`.ts` under tsx and vitest, Node stripping the types;
 * `.js` from dist/), compiles the kernel at once, then waits for its one job: segments to claim (see
 * `scanSegments`). Only `node:` builtins and erasable TypeScript here, for the same reason.
 */

const sibling = (name: string): string =>
  new URL(`./${name}${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url).href;

if (parentPort !== null) {
  const port = parentPort;
  const core: Promise<typeof ScanCore> = import(sibling('syslog-scan-core'));
  const kernel: Promise<KernelFactory | null> = import(sibling('syslog-simd')).then(
    (m: typeof Simd) => {
      m.compileLineScanKernel();
      return m.createLineScanKernel;
    },
    () => null,
  );
  void core.then((c) => {
    if (!c.isWorkerStart(workerData)) return; // not started as a scan worker
    port.once('message', (job: unknown) => {
      if (!c.isSegmentJob(job)) return;
      void kernel.then((createKernel) => {
        try {
          c.scanSegments(job, (msg) => port.postMessage(msg), createKernel);
        } catch (err) {
          port.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) });
        }
      });
    });
  });
}
