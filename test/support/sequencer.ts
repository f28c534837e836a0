import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Longest file first, end-to-end and unit files mixed. The suite is CPU-bound on two cores, but its longest
 * files mostly wait (timers, leases, child processes, Retry-After): started first, their waits overlap the
 * CPU-heavy files instead of leaving cores idle at the end. vitest orders by the durations of its last run
 * when it has them (a developer's checkout) and by file size otherwise (a clean clone, as CI runs it), which
 * starts the longest waiters last. These seconds are each file's time in a full `npm test` on the idle
 * 2-core machine (2026-12-02, `npx vitest run --reporter=json`); a file not listed keeps vitest's order after
 * them. A stale figure only costs the ordering, never a test.
 */
const SECONDS: Readonly<Record<string, number>> = {
  // Most of it in beforeAll (npm pack builds dist/ with tsc, then npm installs the tarball), which vitest's
  // report leaves out: ~30 s of CPU, measured alone.
  'test/e2e/pack.test.ts': 45,
  'test/e2e/change-replicas.test.ts': 44,
  'test/e2e/pipelines-process.test.ts': 42,
  'test/playbooks/amend/amend.test.ts': 39,
  'test/e2e/amend-process.test.ts': 38,
  'test/e2e/socket-mode.test.ts': 32,
  'test/e2e/webhooks-hostile.test.ts': 30,
  'test/e2e/store-outage.test.ts': 28,
  'test/cli/amend.test.ts': 31,
  'test/integrations/forge/contract.test.ts': 25,
  'test/store/store.contract.test.ts': 23,
  // Measured alone (2026-12-02, load ~2), not yet in a full run: mostly waits (a source hanging to its
  // deadline, Slack's retry backoff, Retry-After).
  'test/e2e/diag-failures.test.ts': 20,
  'test/e2e/change-replicas-slack.test.ts': 14,
  'test/e2e/why-reboot-failures.test.ts': 11,
  'test/e2e/slack-edges.test.ts': 13,
  'test/playbooks/change/lifecycle.test.ts': 12,
  'test/e2e/webhooks.test.ts': 12,
  'test/core/logging.test.ts': 9,
  'test/e2e/pipelines.test.ts': 8,
  'test/playbooks/why-reboot/syslog-file.test.ts': 8,
  'test/cli/diag-live.test.ts': 7,
  'test/store/postgres-neighbours.test.ts': 7,
  'test/playbooks/why-reboot/syslog-simd.test.ts': 7,
};

const secondsOf = (spec: TestSpecification): number => {
  const id = spec.moduleId.replaceAll('\\', '/');
  for (const [file, s] of Object.entries(SECONDS)) if (id.endsWith(`/${file}`)) return s;
  return 0;
};

export class LongestFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const base = await super.sort(files);
    // Stable: files not listed (0 s) keep vitest's order; a project's isolated files still come first.
    return base
      .map((spec, i) => ({
        spec,
        i,
        s: spec.project.config.isolate ? Number.POSITIVE_INFINITY : secondsOf(spec),
      }))
      .sort((a, b) => b.s - a.s || a.i - b.i)
      .map((x) => x.spec);
  }
}
