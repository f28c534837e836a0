import { defineConfig } from 'vitest/config';
import { LongestFirstSequencer } from './test/support/sequencer.js';
import { SummaryReporter } from './test/support/summary-reporter.js';

/**
 * Two projects in one run (`npm test` runs them both):
 * - suite: every test file: unit tests (pure functions, adapters against fake servers, store contract) and
 *   test/e2e/** (a whole opsbot, in process or as an `opsbot serve` child, against the fakes; the packed
 *   tarball installed in a clean directory). Add an end-to-end suite by dropping a file there. One project,
 *   so that a worker process runs end-to-end and unit files alike: vitest stops a worker when the next file
 *   belongs to another project, and the end-to-end files' waits would otherwise only overlap each other.
 * - isolated: the files that vi.mock a module (ISOLATED), each in a fresh process, first.
 * `OPSBOT_TESTS=unit npx vitest run` is the quick loop while editing (everything but test/e2e/).
 */
/** Files that vi.mock a module: they need a fresh module graph (project `isolated`). */
const ISOLATED = ['test/playbooks/why-reboot/syslog-workers.test.ts'];
/** `OPSBOT_TESTS=unit`: leave out the end-to-end suites (vitest's --exclude does not reach a project's files). */
const UNIT_ONLY = process.env.OPSBOT_TESTS === 'unit' ? ['test/e2e/**'] : [];

export const config = defineConfig({
  test: {
    environment: 'node',
    // Deadlines for a hang, not performance targets: loading the Google clients' protos alone can take tens of
    // seconds when the machine is shared.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // One worker process runs many files (vitest's default is a fresh process per file): node_modules and src
    // are loaded once per worker instead of once per file. The 54 light unit files: 55 -> 24 CPU-seconds,
    // 60 -> 27 s wall. Tests share no global state (no env or timer stubs); a suite's servers, child processes
    // and temp dirs are its own and closed in its afterAll/afterEach. A file that replaces a module with
    // vi.mock runs in its own process (ISOLATED below): in a shared worker the module may already be loaded.
    isolate: false,
    // expect.poll waits on state with a deadline; 1 s (vitest's default) is a wall-clock threshold in disguise
    // on a busy 2-core machine. A poll that succeeds returns as soon as the state is there.
    expect: { poll: { timeout: 15_000, interval: 20 } },
    // Most of the time of the slow suites is waiting on sockets, child processes and timers (leases,
    // Retry-After, coalescing windows, injected outages), not CPU: four files at a time on a 2-core machine
    // (vitest's default there is one), so those waits overlap with other files' work. The whole suite (888 tests,
    // idle machine, 2026-12-02): 3 workers 120 s, 4 workers 97 s, twice each; with the earlier, less
    // wait-heavy suite on a slower host 3 had beaten 4 (171 vs 193 s).
    maxWorkers: 4,
    // Compiles src/ into dist/ once when dist/ is not current (a clean clone), so the ~60 `opsbot` processes
    // the suites start run JavaScript through bin/opsbot.js instead of each loading tsx over src/.
    globalSetup: ['./test/support/build-dist.ts'],
    // Longest files first, across unit and end-to-end (test/support/sequencer.ts).
    sequence: { sequencer: LongestFirstSequencer },
    reporters: ['default', new SummaryReporter()],
    projects: [
      {
        extends: true,
        test: { name: 'suite', include: ['test/**/*.test.ts'], exclude: [...ISOLATED, ...UNIT_ONLY] },
      },
      {
        extends: true,
        test: { name: 'isolated', include: ISOLATED, isolate: true },
      },
    ],
  },
});

// biome-ignore lint/style/noDefaultExport: vitest loads the default export
export default config;
