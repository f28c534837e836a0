/**
 * Cloud Monitoring's client in a worker thread, for a CLI run. A live `opsbot diag` pays about half a second of
 * CPU to load the client library (google-gax, protobufjs, the credentials library) and a quarter of a second to
 * decode the 21 answers; on the main thread both sat on the metrics' critical path (the reads could not leave
 * before the load, the answer could not print before the decode). Here the thread is started with the process
 * (monitoring-thread-start.ts, from the CLI's argument check), loads the library on the second core while the
 * main thread loads the command, reads the config and sends the other requests, and decodes the answers there.
 * The thread runs the same adapter as the server (monitoring.ts): paging, deadlines, retries, error mapping.
 *
 * When the thread cannot start or dies, every read goes to the fallback (the in-process adapter): a worker is a
 * speed-up, never a new way to fail. The server does not use this: its library is loaded once, at start.
 */
import type { Worker } from 'node:worker_threads';
import { AppError, type AppErrorCode, IntegrationError, type IntegrationService } from '../../core/errors.js';
import { toIntegrationError } from './errors.js';
import type { MonitoringAdapter } from './monitoring.js';
import type { MonitoringPort, TimeSeries, TimeSeriesQuery } from './monitoring-port.js';
import { startMonitoringWorker, takePrestartedMonitoringWorker } from './monitoring-thread-start.js';

/** Main thread -> worker. */
export type ThreadRequest =
  | {
      readonly type: 'init';
      readonly apiEndpoint?: string | undefined;
      /** A checked static token (GOOGLE_OAUTH_ACCESS_TOKEN); without one, Application Default Credentials. */
      readonly accessToken?: string | undefined;
      readonly timeoutMs?: number | undefined;
    }
  | { readonly type: 'list'; readonly id: number; readonly query: TimeSeriesQuery }
  | { readonly type: 'abort'; readonly id: number };

/** An error's user-facing fields (the cause, with its stack and upstream objects, stays in the thread). */
export interface ThreadError {
  readonly name: string;
  readonly message: string;
  readonly code: string | null;
  readonly userMessage: string | null;
  readonly service: string | null;
  readonly retryable: boolean;
  readonly status: number | null;
  readonly details: Record<string, unknown>;
}

/** Worker -> main thread. */
export type ThreadReply =
  | { readonly type: 'result'; readonly id: number; readonly series: TimeSeries[] }
  | { readonly type: 'error'; readonly id: number; readonly error: ThreadError };

export interface MonitoringThreadOptions {
  readonly apiEndpoint?: string | undefined;
  readonly accessToken?: string | undefined;
  readonly timeoutMs?: number | undefined;
  /** Starts the thread (tests: one that fails); default the worker entry next to this file. */
  readonly startWorker?: (() => Worker) | undefined;
}

const revive = (e: ThreadError): Error => {
  if (e.userMessage !== null && e.code !== null) {
    const options = { details: e.details };
    return e.service !== null
      ? new IntegrationError(e.service as IntegrationService, e.userMessage, {
          ...options,
          code: e.code as AppErrorCode,
          retryable: e.retryable,
          status: e.status,
        })
      : new AppError(e.code as AppErrorCode, e.userMessage, options);
  }
  const err = new Error(e.message);
  err.name = e.name;
  return err;
};

/**
 * A MonitoringAdapter whose reads run in the worker thread (the prestarted one, or one started now).
 * `fallback` builds the in-process adapter, called at most once, only if the thread fails.
 */
export const createMonitoringThreadAdapter = (
  options: MonitoringThreadOptions,
  fallback: () => Promise<MonitoringPort>,
): MonitoringAdapter => {
  const started = options.startWorker
    ? startMonitoringWorker(options.startWorker)
    : (takePrestartedMonitoringWorker() ?? startMonitoringWorker());
  let inProcess: Promise<MonitoringPort> | null = null;
  const viaFallback = (query: TimeSeriesQuery, signal?: AbortSignal): Promise<TimeSeries[]> => {
    inProcess ??= fallback();
    return inProcess.then((port) => port.listTimeSeries(query, signal));
  };
  type Pending = {
    resolve: (s: TimeSeries[]) => void;
    reject: (e: unknown) => void;
    query: TimeSeriesQuery;
    signal: AbortSignal | undefined;
  };
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let closed = false;
  let broken: Error | null = started ? started.failed : new Error('no worker thread');
  const worker = started?.worker ?? null;
  const settle = (id: number): Pending | undefined => {
    const p = pending.get(id);
    pending.delete(id);
    if (pending.size === 0) worker?.unref();
    return p;
  };
  /** The thread failed: what it still owed goes to the fallback. */
  const fail = (err: Error): void => {
    if (closed || broken) return;
    broken = err;
    for (const id of [...pending.keys()]) {
      const p = settle(id);
      if (p) viaFallback(p.query, p.signal).then(p.resolve, p.reject);
    }
  };
  if (worker && !broken) {
    worker.on('message', (reply: ThreadReply) => {
      const p = settle(reply.id);
      if (!p) return; // aborted meanwhile
      if (reply.type === 'result') p.resolve(reply.series);
      else p.reject(revive(reply.error));
    });
    worker.on('error', (err) => fail(err));
    worker.on('exit', (code) => fail(new Error(`the Monitoring thread exited with code ${code}`)));
    worker.postMessage({
      type: 'init',
      apiEndpoint: options.apiEndpoint,
      accessToken: options.accessToken,
      timeoutMs: options.timeoutMs,
    } satisfies ThreadRequest);
  }

  return {
    warm() {
      // the thread loads the library as soon as it starts
    },
    listTimeSeries(query, signal) {
      if (broken || !worker || closed) return viaFallback(query, signal);
      const ctx = { service: 'monitoring' as const, operation: 'reading metrics', project: query.project };
      if (signal?.aborted) return Promise.reject(toIntegrationError(signal.reason, ctx));
      const id = nextId++;
      return new Promise<TimeSeries[]>((resolve, reject) => {
        const onAbort = (): void => {
          if (!settle(id)) return;
          worker.postMessage({ type: 'abort', id } satisfies ThreadRequest);
          reject(toIntegrationError(signal?.reason, ctx));
        };
        pending.set(id, {
          resolve: (s) => {
            signal?.removeEventListener('abort', onAbort);
            resolve(s);
          },
          reject: (e) => {
            signal?.removeEventListener('abort', onAbort);
            reject(e);
          },
          query,
          signal,
        });
        signal?.addEventListener('abort', onAbort, { once: true });
        if (pending.size === 1) worker.ref(); // an answer is owed: the process waits for it
        worker.postMessage({ type: 'list', id, query } satisfies ThreadRequest);
      });
    },
    async close() {
      closed = true;
      for (const id of [...pending.keys()])
        settle(id)?.reject(new AppError('internal', 'Cloud Monitoring reads were stopped'));
      await Promise.all([
        worker?.terminate().catch(() => 0),
        inProcess?.then((p) => (p as Partial<MonitoringAdapter>).close?.()).catch(() => undefined),
      ]);
    },
  };
};
