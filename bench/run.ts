/**
 * `npm run bench`: every benchmark in sequence. `BENCH_ONLY=ack,syslog` picks some. A benchmark whose module
 * is not in this checkout yet is skipped with a message. Exit code 1 if any benchmark reports FAIL.
 */
interface BenchEntry {
  readonly name: string;
  readonly module: string;
  readonly exportName: string;
}

const BENCHES: readonly BenchEntry[] = [
  { name: 'ack', module: './ack.js', exportName: 'runAckBench' },
  { name: 'syslog', module: './syslog-scan.js', exportName: 'runSyslogBench' },
  { name: 'why-reboot', module: './why-reboot-e2e.js', exportName: 'runWhyRebootE2eBench' },
];

const only = (process.env.BENCH_ONLY ?? '')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const unknown = only.filter((o) => !BENCHES.some((b) => b.name === o));
if (unknown.length) {
  console.error(
    `BENCH_ONLY: unknown bench ${unknown.join(', ')} (known: ${BENCHES.map((b) => b.name).join(', ')})`,
  );
  process.exit(2);
}

let failed = false;
for (const bench of BENCHES) {
  if (only.length && !only.includes(bench.name)) continue;
  console.log(`\n=== bench ${bench.name} ===`);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(bench.module)) as Record<string, unknown>;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (
      code === 'ERR_MODULE_NOT_FOUND' &&
      String((err as Error).message).includes(bench.module.slice(2, -3))
    ) {
      console.log(`skipped: bench/${bench.module.slice(2, -3)}.ts is not in this checkout yet`);
      continue;
    }
    throw err;
  }
  const run = mod[bench.exportName];
  if (typeof run !== 'function') {
    console.log(`skipped: ${bench.module} does not export ${bench.exportName}`);
    continue;
  }
  const result = (await run()) as { pass?: boolean } | undefined;
  if (bench.name !== 'ack') console.log(`result: ${JSON.stringify(result)}`);
  if (result && result.pass === false) failed = true;
}
process.exitCode = failed ? 1 : 0;
