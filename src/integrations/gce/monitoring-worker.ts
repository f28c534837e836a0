import module from 'node:module';
import { parentPort } from 'node:worker_threads';
import type { AppError, IntegrationError } from '../../core/errors.js';
import type { MonitoringAdapter } from './monitoring.js';
import type { ThreadReply, ThreadRequest } from './monitoring-thread.js';

// A thread has its own module loader: the compile cache that bin/opsbot.js turns on for the main thread is
// turned on here too (the library's modules then load from compiled code). Before any module below loads.
module.enableCompileCache?.();

/**
 * The Cloud Monitoring worker thread's entry (monitoring-thread.ts starts it). It loads the client library at
 * once (google-gax, protobufjs, the credentials library: about half a second of CPU, on its own core while the
 * command's main thread loads the rest and sends the other requests), then serves `list` requests with the
 * same adapter the server uses in process (monitoring.ts): paging, deadlines, retries and error mapping are
 * that adapter's; the answers (plain TimeSeries) and the errors (their user-facing fields) cross as messages.
 */

/** An error as a message: the fields a caller reads (code, userMessage, service, status...), not the cause. */
const errorReply = (id: number, err: unknown): ThreadReply => {
  const e = err as Partial<IntegrationError & AppError> & { message?: unknown; name?: unknown };
  let details: Record<string, unknown> = {};
  try {
    details = structuredClone({ ...(e?.details ?? {}) });
  } catch {
    // something not cloneable in the details: the user-facing message is what matters
  }
  return {
    type: 'error',
    id,
    error: {
      name: typeof e?.name === 'string' ? e.name : 'Error',
      message: typeof e?.message === 'string' ? e.message : String(err),
      code: typeof e?.code === 'string' ? e.code : null,
      userMessage: typeof e?.userMessage === 'string' ? e.userMessage : null,
      service: typeof e?.service === 'string' ? e.service : null,
      retryable: e?.retryable === true,
      status: typeof e?.status === 'number' ? e.status : null,
      details,
    },
  };
};

if (parentPort !== null) {
  const port = parentPort;
  // The library loads now, before anyone asks: that is what the thread is for.
  const loaded = (async () => {
    const { warmGoogleModules } = await import('./warm.js');
    await warmGoogleModules();
    const [{ createMonitoringAdapter }, { createStaticTokenAuthClient }] = await Promise.all([
      import('./monitoring.js'),
      import('./auth.js'),
    ]);
    return { createMonitoringAdapter, createStaticTokenAuthClient };
  })();
  loaded.catch(() => undefined); // a load failure is each request's answer
  let adapter: Promise<MonitoringAdapter> | null = null;
  const calls = new Map<number, AbortController>();
  port.on('message', (msg: ThreadRequest) => {
    switch (msg.type) {
      case 'init':
        adapter ??= loaded.then(({ createMonitoringAdapter, createStaticTokenAuthClient }) => {
          const a = createMonitoringAdapter({
            apiEndpoint: msg.apiEndpoint,
            ...(msg.accessToken ? { authClient: createStaticTokenAuthClient(msg.accessToken) } : {}),
            ...(msg.timeoutMs !== undefined ? { timeoutMs: msg.timeoutMs } : {}),
          });
          a.warm();
          return a;
        });
        adapter.catch(() => undefined);
        return;
      case 'list': {
        const stop = new AbortController();
        calls.set(msg.id, stop);
        const answer = adapter
          ? adapter.then((a) => a.listTimeSeries(msg.query, stop.signal))
          : Promise.reject(new Error('the Monitoring thread got a request before its settings'));
        answer.then(
          (series) => port.postMessage({ type: 'result', id: msg.id, series } satisfies ThreadReply),
          (err: unknown) => port.postMessage(errorReply(msg.id, err)),
        );
        void answer.finally(() => calls.delete(msg.id)).catch(() => undefined);
        return;
      }
      case 'abort':
        calls.get(msg.id)?.abort(new Error('aborted by the caller'));
        return;
    }
  });
}
