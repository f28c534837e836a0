import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { openStore } from '../src/store/open.js';
import { TEST_TOKEN } from '../test/fakes/gce-env.js';
import { DIAG_LATENCY, startDiagBenchFakes } from './lib/diag-fakes.js';
import { median } from './lib/stats.js';

/**
 * The CPU a whole `opsbot diag <vm> --json` process spends, and where its critical path goes, measured in a way
 * that does not depend on how busy the machine is: the same fakes, scenario and injected latencies as
 * bench/diag.ts (warm path: the store remembers the VM), each run under `/usr/bin/time` (user + sys CPU of the
 * process), with the fakes' request logs giving, per run:
 *
 *   - first: spawn -> the first request reaching a fake (Node's start, the CLI's modules, the config)
 *   - lastMetric: spawn -> the last Monitoring request reaching the fake (the metric reads wait for the client)
 *   - tail: the last answer sent (request time + its injected latency) -> exit (decoding, analysis, output)
 *
 * The wall-clock parts are still wall clock (read them on an idle machine, or compare builds alternately); the
 * CPU figure is what grows on a slower host. Run: `npm run build && npx tsx bench/diag-cpu.ts` (env
 * DIAG_CPU_RUNS, default 5; DIAG_CPU_NODE_ARGS, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`; DIAG_CPU_BIN;
 * DIAG_CPU_STDERR=1 echoes the process's stderr; DIAG_CPU_WRAP, e.g. `valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.%p` for instruction counts).
 */

const LATENCY = DIAG_LATENCY;
/** The CLI to run: this checkout's, or another build's (`DIAG_CPU_BIN=/path/to/bin/opsbot.js`, to compare). */
const bin = process.env.DIAG_CPU_BIN ?? fileURLToPath(new URL('../bin/opsbot.js', import.meta.url));

interface Run {
  readonly cpuMs: number;
  readonly userMs: number;
  readonly sysMs: number;
  readonly wallMs: number;
  readonly firstMs: number;
  readonly lastMetricMs: number;
  readonly metricRequests: number;
  readonly tailMs: number;
}

export const runDiagCpu = async (runs = Number(process.env.DIAG_CPU_RUNS ?? 5)): Promise<Run[]> => {
  const { fakes, cliArgs: args } = await startDiagBenchFakes();
  const nodeArgs = (process.env.DIAG_CPU_NODE_ARGS ?? '').split(' ').filter(Boolean);
  /** A command the process runs under, e.g. `valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.%p`. */
  const wrap = (process.env.DIAG_CPU_WRAP ?? '').split(' ').filter(Boolean);
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    GOOGLE_OAUTH_ACCESS_TOKEN: TEST_TOKEN,
    OPSBOT_NO_AUDIT: '1',
    // Passed through to compare with Node's compile cache off (bin/opsbot.js turns it on).
    ...(process.env.NODE_DISABLE_COMPILE_CACHE
      ? { NODE_DISABLE_COMPILE_CACHE: process.env.NODE_DISABLE_COMPILE_CACHE }
      : {}),
  };
  const fakeList = [fakes.compute, fakes.logging, fakes.monitoring] as const;
  /** Each fake's clock (ms since it started) -> Date.now(): an unrouted probe is recorded with no latency. */
  const offsets = await Promise.all(
    fakeList.map(async (f) => {
      const before = Date.now();
      await fetch(`${f.url}/bench-probe`).then((r) => r.arrayBuffer());
      const after = Date.now();
      const probe = f.requests.findLast((r) => r.path === '/bench-probe');
      if (!probe) throw new Error('probe not recorded');
      return (before + after) / 2 - probe.at;
    }),
  );
  const latencyOf = (i: number, r: (typeof fakes.compute.requests)[number]): number => {
    if (i === 2) return LATENCY.metrics;
    if (i === 0) return r.route === 'instances.serialPort' ? LATENCY.serial : LATENCY.instance;
    const filter = String((r.body as { filter?: string } | null)?.filter ?? '');
    return filter.includes('cloudaudit')
      ? LATENCY.audit
      : filter.includes('/logs/syslog')
        ? LATENCY.guest
        : 0;
  };
  const once = (): Promise<Run> =>
    new Promise((resolve, reject) => {
      for (const f of fakeList) f.requests.length = 0;
      const t0 = Date.now();
      const child = spawn(
        '/usr/bin/time',
        ['-f', 'CPU %U %S', ...wrap, process.execPath, ...nodeArgs, bin, ...args],
        {
          env,
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      child.on('error', reject);
      child.on('exit', (code) => {
        const t1 = Date.now();
        if (process.env.DIAG_CPU_STDERR === '1') process.stderr.write(stderr); // e.g. a --import hook's report
        const m = /CPU ([\d.]+) ([\d.]+)/.exec(stderr);
        if (code !== 0 || !m) {
          reject(new Error(`opsbot diag exited ${code}: ${stderr}`));
          return;
        }
        const abs = fakeList.flatMap((f, i) =>
          f.requests
            .filter((r) => r.path !== '/bench-probe')
            .map((r) => ({ fake: i, at: (offsets[i] as number) + r.at, answered: 0, r })),
        );
        for (const a of abs) a.answered = a.at + latencyOf(a.fake, a.r);
        const metric = abs.filter((a) => a.fake === 2);
        const userMs = Number(m[1]) * 1000;
        const sysMs = Number(m[2]) * 1000;
        resolve({
          cpuMs: userMs + sysMs,
          userMs,
          sysMs,
          wallMs: t1 - t0,
          firstMs: Math.min(...abs.map((a) => a.at)) - t0,
          lastMetricMs: Math.max(...metric.map((a) => a.at)) - t0,
          metricRequests: metric.length,
          tailMs: t1 - Math.max(...abs.map((a) => a.answered)),
        });
      });
    });
  try {
    await (await openStore({ dataDir: join(fakes.dir, 'data') })).close();
    await once(); // remembers the VM, fills the compile cache (not counted)
    const out: Run[] = [];
    for (let i = 0; i < runs; i++) out.push(await once());
    return out;
  } finally {
    await fakes.close();
  }
};

const main = async (): Promise<void> => {
  const list = await runDiagCpu();
  const f = (k: keyof Run) =>
    `${median(list.map((r) => r[k])).toFixed(0)} (${list
      .map((r) => r[k])
      .sort((a, b) => a - b)
      .map((x) => x.toFixed(0))
      .join(' ')})`;
  console.log(`opsbot diag --json, warm path, ${list.length} runs: median (sorted runs)`);
  console.log(`  CPU user+sys ms:              ${f('cpuMs')}`);
  console.log(`    user ms:                    ${f('userMs')}`);
  console.log(`    sys ms:                     ${f('sysMs')}`);
  console.log(`  wall ms:                      ${f('wallMs')}`);
  console.log(`  spawn -> first request ms:    ${f('firstMs')}`);
  console.log(`  spawn -> last metric req ms:  ${f('lastMetricMs')}`);
  console.log(`  Monitoring requests:          ${f('metricRequests')}`);
  console.log(`  last answer -> exit ms:       ${f('tailMs')}`);
};

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
