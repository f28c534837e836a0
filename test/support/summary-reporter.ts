import type { Reporter, TestModule } from 'vitest/node';

/**
 * Ends every run with the tests that did not run and why (`ctx.skip(reason)`, `it.skip`, `it.todo`), then one
 * plain line `tests: N passed, N failed, N skipped`, so a skipped suite (a missing tool, a second store engine
 * that was not reachable) is visible in CI's output instead of hiding in a count.
 */
export class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    const skipped: string[] = [];
    for (const module of testModules) {
      if (module.state() === 'failed' && [...module.children.allTests()].length === 0) failed += 1; // failed to load
      for (const test of module.children.allTests()) {
        const result = test.result();
        if (result.state === 'passed') passed += 1;
        else if (result.state === 'failed') failed += 1;
        else if (result.state === 'skipped') {
          const why = result.note ?? (test.options.mode === 'todo' ? 'todo' : 'skipped');
          skipped.push(`  ${module.relativeModuleId} > ${test.fullName}: ${why}`);
        }
      }
    }
    const out: string[] = [''];
    if (skipped.length > 0) out.push(`skipped tests (${skipped.length}):`, ...skipped, '');
    out.push(`tests: ${passed} passed, ${failed} failed, ${skipped.length} skipped`, '');
    process.stdout.write(out.join('\n'));
  }
}
