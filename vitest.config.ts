import { defineConfig } from 'vitest/config';
import { SummaryReporter } from './test/support/summary-reporter.js';

/**
 * Two projects in one run (`npm test` runs both, in parallel):
 * - unit: everything outside test/e2e/ (pure functions, adapters against fake servers, store contract);
 * - e2e: test/e2e/** (a whole opsbot, in process or as an `opsbot serve` child, against the fakes; the
 *   packed tarball installed in a clean directory). Add a suite by dropping a file there.
 * `npx vitest run --project unit` is the quick loop while editing.
 */
export const config = defineConfig({
  test: {
    environment: 'node',
    // Deadlines for a hang, not performance targets: loading the Google clients' protos alone can take tens of
    // seconds when the machine is shared.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // expect.poll waits on state with a deadline; 1 s (vitest's default) is a wall-clock threshold in disguise
    // on a busy 2-core machine. A poll that succeeds returns as soon as the state is there.
    expect: { poll: { timeout: 15_000, interval: 20 } },
    // Most of the time of the slow suites is waiting on sockets, child processes and timers, not CPU: two
    // files at a time on a 2-core machine (vitest's default there is one).
    maxWorkers: 2,
    reporters: ['default', new SummaryReporter()],
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/**/*.test.ts'], exclude: ['test/e2e/**'] },
      },
      {
        extends: true,
        test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'] },
      },
    ],
  },
});

// biome-ignore lint/style/noDefaultExport: vitest loads the default export
export default config;
