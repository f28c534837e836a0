/**
 * Loads the Google client libraries ahead of the first /why-reboot or /diag, a module at a time, yielding
 * to the event loop between modules. `@google-cloud/compute` alone is ~270 client modules and a 12 MB proto
 * JSON: loaded in one `require` on the first command, it held every other ack for seconds on a loaded
 * machine (Slack gives up at 3 s). Loaded here, in small steps right after the server listens, no single
 * step holds the loop for long, and the first command finds everything in the module cache.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

/** The generated Compute client modules the adapter loads (see `loadCompute` in adapter.ts). */
export const COMPUTE_CLIENTS = ['instances_client.js', 'disks_client.js'] as const;

/** The modules, in dependency order, that the Compute and Monitoring clients load. */
const listModules = (): string[] => {
  const out: string[] = [];
  // gax's own heavy dependencies first, each on its own step (resolved from gax, wherever npm put them).
  const gax = require.resolve('google-gax');
  const fromGax = createRequire(gax);
  for (const dep of ['@grpc/grpc-js', '@grpc/proto-loader', 'protobufjs', 'protobufjs/ext/descriptor']) {
    try {
      out.push(fromGax.resolve(dep));
    } catch {
      // not installed in this layout: gax loads it itself
    }
  }
  out.push(gax);
  // The Compute clients opsbot uses (never the package index: it also loads a 31 MB generated protos.js,
  // one multi-second step) after their proto JSON.
  const src = dirname(require.resolve('@google-cloud/compute'));
  out.push(join(src, '..', 'protos', 'protos.json'));
  for (const client of COMPUTE_CLIENTS) out.push(join(src, 'v1', client));
  out.push(require.resolve('@google-cloud/monitoring'));
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
