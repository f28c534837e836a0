/**
 * `npm run bench`: every benchmark in sequence. `BENCH_ONLY=ack,syslog` picks some. Exit code 1 if any
 * benchmark reports FAIL. Each module is imported only when its benchmark runs, so one bench's heap (the
 * GCE protos of why-reboot, say) does not skew another's figures.
 */
interface BenchEntry {
  readonly name: string;
  readonly load: () => Promise<() => Promise<{ readonly pass?: boolean } | undefined>>;
}

const BENCHES: readonly BenchEntry[] = [
  { name: 'ack', load: async () => (await import('./ack.js')).runAckBench },
  { name: 'syslog', load: async () => (await import('./syslog-scan.js')).runSyslogBench },
  { name: 'why-reboot', load: async () => (await import('./why-reboot-e2e.js')).runWhyRebootE2eBench },
  { name: 'diag', load: async () => (await import('./diag.js')).runDiagBench },
  {
    name: 'reboots',
    load: async () => {
      const m = await import('./reboots.js');
      return async () => {
        const r = await m.runRebootsBench();
        m.printRebootsBench(r);
        return r;
      };
    },
  },
  { name: 'amend-cli', load: async () => (await import('./amend-cli.js')).runAmendCliBench },
  {
    name: 'webhooks',
    load: async () => {
      const m = await import('./webhooks.js');
      return async () => {
        const r = await m.runWebhookBench();
        m.printWebhookBench(r);
        return r;
      };
    },
  },
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
  const run = await bench.load();
  const result = await run();
  if (bench.name !== 'ack') console.log(`result: ${JSON.stringify(result)}`);
  if (result && result.pass === false) failed = true;
}
process.exitCode = failed ? 1 : 0;
