/**
 * Loads the Google client libraries ahead of the first /diag (and the credentials library ahead of the first
 * /why-reboot with Application Default Credentials), a module at a time, yielding to the event loop between
 * modules. `@google-cloud/monitoring` brings google-gax, gRPC and protobufjs: loaded in one `require` on the
 * first command, it held every other ack for seconds on a loaded machine (Slack gives up at 3 s). Loaded here,
 * in small steps right after the server listens, no single step holds the loop for long, and the first
 * command finds everything in the module cache. (Compute and Logging are plain REST: nothing to load.)
 */
import { createRequire } from 'node:module';
import { METRIC_SERVICE_CLIENT_MODULE } from './monitoring-endpoint.js';

const require = createRequire(import.meta.url);

/** The modules, in dependency order, that the Monitoring client and the credentials load. */
const listModules = (): string[] => {
  const out: string[] = [];
  const tryResolve = (from: NodeJS.Require, id: string): void => {
    try {
      out.push(from.resolve(id));
    } catch {
      // not installed in this layout: whoever needs it loads it itself
    }
  };
  tryResolve(require, 'google-auth-library');
  let gax: string | null = null;
  try {
    gax = require.resolve('google-gax');
  } catch {
    // no gax at top level: the Monitoring client loads its own
  }
  if (gax) {
    // gax's own heavy dependencies first, each on its own step (resolved from gax, wherever npm put them).
    const fromGax = createRequire(gax);
    for (const dep of ['@grpc/grpc-js', '@grpc/proto-loader', 'protobufjs', 'protobufjs/ext/descriptor']) {
      tryResolve(fromGax, dep);
    }
    out.push(gax);
  }
  // The one client monitoring.ts loads (not the package index, which loads every v3 client).
  const before = out.length;
  tryResolve(require, METRIC_SERVICE_CLIENT_MODULE);
  if (out.length === before) tryResolve(require, '@google-cloud/monitoring');
  return out;
};

/**
 * Requires each module with a macrotask turn in between (`setImmediate`: pending requests run first). Never
 * throws: a module that fails here fails again, with its real error, where it is used.
 */
export const warmGoogleModules = async (
  options: { readonly signal?: AbortSignal; readonly onError?: (err: unknown) => void } = {},
): Promise<void> => {
  const step = () => new Promise<void>((resolve) => setImmediate(resolve));
  let modules: string[];
  try {
    modules = listModules();
  } catch (err) {
    options.onError?.(err);
    return;
  }
  for (const m of modules) {
    if (options.signal?.aborted) return;
    await step();
    try {
      require(m);
    } catch (err) {
      options.onError?.(err);
    }
  }
};
