import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DIAG_THRESHOLD_DEFAULTS } from '../src/core/config.js';
import { createGceAdapters } from '../src/integrations/gce/adapter.js';
import { createMonitoringAdapter } from '../src/integrations/gce/monitoring.js';
import { investigateDiag } from '../src/playbooks/diag/investigate.js';
import { buildMetricQuery, METRICS } from '../src/playbooks/diag/metrics.js';
import { renderDiagPng } from '../src/playbooks/diag/render-chart.js';
import { diagTitle } from '../src/playbooks/diag/render-text.js';
import { buildGuestQuery } from '../src/playbooks/why-reboot/collect.js';
import type { InstanceMemory } from '../src/playbooks/why-reboot/instance-memory.js';
import { buildAuditLogFilter } from '../src/playbooks/why-reboot/links.js';
import { openStore } from '../src/store/open.js';
import { SQLITE_FILE_NAME } from '../src/store/sqlite-file.js';
import { staticTokenClient, TEST_TOKEN } from '../test/fakes/gce-env.js';
import { DIAG_LATENCY, startDiagBenchFakes } from './lib/diag-fakes.js';
import { median, time } from './lib/stats.js';

/**
 * /diag end to end against the loopback fakes with upstream latency injected per source, next to each source
 * measured alone in the same run:
 *
 *   instance 300 ms, audit logs 1500 ms, guest logs 1000 ms, serial 800 ms, every Cloud Monitoring call 1000 ms
 *
 * Targets (issue 11): end to end <= 1.2 x the slowest single source, measured in process (collect, 20 metric
 * reads, analysis) and as a whole process the way a user meets it (`node bin/opsbot.js diag ... --json`, from
 * spawn to exit, module loading included); and the picture rendered in under 300 ms.
 *
 * Two paths, each measured and printed: cold (opsbot has never seen this VM: the audit query by instance id
 * and the guest logs wait for instances.get, so the critical path is instance + audit = 1800 ms = 1.2 x by
 * construction) and warm (the store remembers its id from an earlier lookup: those queries leave with the
 * lookup). The target is judged on the warm path, the one an incident's /diag meets once the VM is known
 * (see the README). Which path ran is checked on the fakes' request log, not assumed: warm means the audit
 * query by id reached the fake before instances.get could have been answered, cold means after.
 *
 * Run: `npm run build && npx tsx bench/diag.ts` (env DIAG_BENCH_RUNS, default 5; medians are reported,
 * with the spread of the whole-process runs).
 */

const LATENCY = DIAG_LATENCY;
const repo = fileURLToPath(new URL('../', import.meta.url));
const TARGET = 1.2;
/** Before the instance memory (every run took today's cold path), on the idle machine, 2026-12-02 02:39 UTC. */
const BASELINE = {
  inProcessMs: 1829,
  inProcessRatio: 1.22,
  wholeProcessMs: 2244,
  wholeProcessRatio: 1.49,
} as const;
const RENDER_TARGET_MS = 300;

/** Waits (up to 5 s) for a condition the run sets off without awaiting (the store write after a lookup). */
const expectPoll = async (ok: () => Promise<boolean>): Promise<void> => {
  const deadline = performance.now() + 5000;
  while (!(await ok())) {
    if (performance.now() > deadline) throw new Error('the lookup was not remembered');
    await new Promise((r) => setTimeout(r, 10));
  }
};

const runProcess = (
  args: string[],
  env: Record<string, string>,
): Promise<{ ms: number; code: number | null }> =>
  new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [`${repo}bin/opsbot.js`, ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    child.on('error', reject);
    child.on('exit', (code) => resolve({ ms: performance.now() - t0, code }));
  });

type Path = 'cold' | 'warm';

export interface DiagBenchResult {
  readonly runs: number;
  readonly alone: Record<keyof typeof LATENCY, number>;
  readonly slowestSingleMs: number;
  readonly inProcessMs: Record<Path, number>;
  readonly inProcessRatio: Record<Path, number>;
  readonly wholeProcessMs: Record<Path, number>;
  readonly wholeProcessRatio: Record<Path, number>;
  /** Every whole-process run, in ms, under the path it took. */
  readonly wholeProcessRuns: Record<Path, number[]>;
  /** Runs that took another path than the one they were set up for (counted under the one they took). */
  readonly crossed: readonly string[];
  readonly renderColdMs: number;
  readonly renderWarmMs: number;
  readonly target: number;
  readonly renderTargetMs: number;
  readonly pass: boolean;
}

export const runDiagBench = async (
  runs = Number(process.env.DIAG_BENCH_RUNS ?? 5),
): Promise<DiagBenchResult> => {
  const { fakes, scenario, cliArgs } = await startDiagBenchFakes();

  const { project, zone, name, id } = scenario.target;
  const window = { from: scenario.from, to: scenario.end };
  const now = () => new Date(scenario.end.getTime() + 30_000);
  const authClient = staticTokenClient();
  const gce = createGceAdapters({
    compute: { apiEndpoint: fakes.compute.url },
    logging: { apiEndpoint: fakes.logging.url },
    authClient,
    timeoutMs: 10_000,
  });
  const monitoring = createMonitoringAdapter({
    apiEndpoint: fakes.monitoring.url,
    authClient,
    timeoutMs: 10_000,
  });
  const settings = {
    projects: [],
    timeouts: { instanceMs: 10_000, auditLogsMs: 10_000, guestLogsMs: 10_000, serialMs: 10_000 },
    metricsTimeoutMs: 10_000,
    thresholds: DIAG_THRESHOLD_DEFAULTS,
    sustainMinutes: 5,
  };
  // The Slack side's memory: the store's repository over a SQLite file. Cold: the same store, this VM unseen.
  const store = await openStore({ dataDir: join(fakes.dir, 'bench-store') });
  const unseen: InstanceMemory = { find: async () => [], remember: (l) => store.instances.remember(l) };
  const portsOf = (path: Path) => ({
    compute: gce.compute,
    logging: gce.logging,
    monitoring,
    memory: path === 'warm' ? store.instances : unseen,
  });
  const question = { vm: `${project}/${zone}/${name}`, window };
  /** Which path the last run took, from the fakes: when did the audit query by id arrive, relative to the get? */
  const pathTaken = (): Path | 'unclear' => {
    const get = fakes.compute.requests.findLast((r) => r.route === 'instances.get');
    const byId = fakes.logging.requests.findLast((r) => {
      const f = String((r.body as { filter?: string } | null)?.filter ?? '');
      return f.includes('cloudaudit') && f.includes(`instance_id="${id}"`);
    });
    if (!get || !byId) return 'unclear';
    // Cold: the query by id can only leave once the get's answer (LATENCY.instance ms after the get) is
    // in. Each fake counts from its own start (tens of ms apart), so the line is drawn at two thirds of it.
    const after = byId.at - get.at;
    return after >= (LATENCY.instance * 2) / 3 ? 'cold' : 'warm';
  };
  const clearRequests = () => {
    for (const f of [fakes.compute, fakes.logging, fakes.monitoring]) f.requests.length = 0;
  };
  /** The path the fakes saw (a run set up warm whose memory answered after the lookup went cold, say). */
  const seenPath = (where: string): Path => {
    const got = pathTaken();
    if (got === 'unclear') throw new Error(`${where}: the fakes cannot tell which path ran`);
    return got;
  };
  /** Runs set up for one path that took the other (each is counted under the path it took). */
  const crossed: string[] = [];
  try {
    const ref = { project, zone, name };
    const auditFilter = buildAuditLogFilter({ project, instanceId: null, instanceName: name, ...window });
    const guestFilter = buildGuestQuery({ project, instanceId: id, window });
    const cpuQuery = buildMetricQuery(METRICS.agentCpu, { project, instanceId: id, window });
    const samples: Record<keyof typeof LATENCY | 'cold' | 'warm' | 'render', number[]> = {
      instance: [],
      audit: [],
      guest: [],
      serial: [],
      metrics: [],
      cold: [],
      warm: [],
      render: [],
    };
    // Warm-up: connections, JIT, the clients' lazy loading; and the lookup the warm path remembers.
    const warm = await investigateDiag(portsOf('cold'), settings, question, now);
    await expectPoll(async () => (await store.instances.find({ project, zone, name })).length === 1);
    const title = diagTitle(warm);
    const renderColdMs = await time(() => renderDiagPng(warm.chart, title));
    for (let i = 0; i < runs; i++) {
      samples.instance.push(await time(() => gce.compute.getInstance(ref)));
      samples.audit.push(
        await time(() =>
          gce.logging.listEntries({ resourceNames: [`projects/${project}`], filter: auditFilter }),
        ),
      );
      samples.guest.push(
        await time(() =>
          gce.logging.listEntries({ resourceNames: [`projects/${project}`], filter: guestFilter }),
        ),
      );
      samples.serial.push(await time(() => gce.compute.getSerialPortOutput(ref, -1024 * 1024)));
      samples.metrics.push(await time(() => monitoring.listTimeSeries(cpuQuery)));
      for (const path of ['cold', 'warm'] as const) {
        clearRequests();
        const ms = await time(() => investigateDiag(portsOf(path), settings, question, now));
        const seen = seenPath(`in process, ${path}`);
        if (seen !== path) crossed.push(`in process: set up ${path}, took ${seen}`);
        samples[seen].push(ms);
      }
    }
    for (let i = 0; i < Math.max(10, runs); i++)
      samples.render.push(await time(() => renderDiagPng(warm.chart, title)));

    // The whole process, as a user runs it (module loading and all), against a store that exists (the CLI's
    // SQLite file under the config's dataDir): cold with this VM's row deleted before the run, warm with it.
    const processRuns: Record<Path, number[]> = { cold: [], warm: [] };
    const cliStore = join(fakes.dir, 'data', SQLITE_FILE_NAME);
    const args = cliArgs;
    const env = { GOOGLE_OAUTH_ACCESS_TOKEN: TEST_TOKEN, OPSBOT_NO_AUDIT: '1' };
    await (await openStore({ dataDir: join(fakes.dir, 'data') })).close(); // the user's store exists
    await runProcess(args, env); // remembers the VM (not timed)
    for (let i = 0; i < Math.max(3, runs); i++) {
      for (const path of ['cold', 'warm'] as const) {
        if (path === 'cold') {
          const db = new DatabaseSync(cliStore);
          db.prepare('DELETE FROM known_instances').run();
          db.close();
        }
        clearRequests();
        const r = await runProcess(args, env);
        if (r.code !== 0) throw new Error(`opsbot diag exited ${r.code}`);
        const seen = seenPath(`whole process, ${path}`);
        if (seen !== path) crossed.push(`whole process: set up ${path}, took ${seen}`);
        processRuns[seen].push(r.ms);
      }
    }
    const alone = {
      instance: median(samples.instance),
      audit: median(samples.audit),
      guest: median(samples.guest),
      serial: median(samples.serial),
      metrics: median(samples.metrics),
    };
    const slowestSingleMs = Math.max(...Object.values(alone));
    const inProcessMs = { cold: median(samples.cold), warm: median(samples.warm) };
    const wholeProcessMs = { cold: median(processRuns.cold), warm: median(processRuns.warm) };
    const renderWarmMs = median(samples.render);
    const ratio = (ms: Record<Path, number>) => ({
      cold: ms.cold / slowestSingleMs,
      warm: ms.warm / slowestSingleMs,
    });
    const inProcessRatio = ratio(inProcessMs);
    const wholeProcessRatio = ratio(wholeProcessMs);
    return {
      runs,
      alone,
      slowestSingleMs,
      inProcessMs,
      inProcessRatio,
      wholeProcessMs,
      wholeProcessRatio,
      wholeProcessRuns: processRuns,
      crossed,
      renderColdMs,
      renderWarmMs,
      target: TARGET,
      renderTargetMs: RENDER_TARGET_MS,
      pass:
        inProcessRatio.warm <= TARGET && wholeProcessRatio.warm <= TARGET && renderWarmMs < RENDER_TARGET_MS,
    };
  } finally {
    await Promise.all([gce.close(), monitoring.close(), store.close()]);
    await fakes.close();
  }
};

const main = async (): Promise<void> => {
  const r = await runDiagBench();
  const f = (ms: number): string => `${ms.toFixed(0)} ms`;
  const verdict = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
  console.log(`diag end to end vs slowest single source (median of ${r.runs} runs, loopback fakes)`);
  console.log(
    `  injected latency: instance ${LATENCY.instance} ms, audit ${LATENCY.audit} ms, guest ${LATENCY.guest} ms, serial ${LATENCY.serial} ms, each Monitoring call ${LATENCY.metrics} ms`,
  );
  console.log(
    `  alone: instance ${f(r.alone.instance)}, audit logs ${f(r.alone.audit)}, guest logs ${f(r.alone.guest)}, serial ${f(r.alone.serial)}, one metric ${f(r.alone.metrics)}`,
  );
  console.log(`  slowest single source:              ${f(r.slowestSingleMs)}  (the ratios' baseline)`);
  console.log(
    `  before this change (idle machine):  in process ${f(BASELINE.inProcessMs)} (${BASELINE.inProcessRatio} x), whole process ${f(BASELINE.wholeProcessMs)} (${BASELINE.wholeProcessRatio} x)`,
  );
  const spread = (xs: readonly number[]) =>
    `runs ${[...xs]
      .sort((a, b) => a - b)
      .map((x) => x.toFixed(0))
      .join(', ')} ms`;
  for (const path of ['warm', 'cold'] as const) {
    const judged = path === 'warm';
    const tag = (ok: boolean) => (judged ? verdict(ok) : '(not judged: see the README)');
    console.log(
      `  ${path}${judged ? ' (id remembered)   ' : ' (VM never seen)    '} in process (collect + ${Object.keys(METRICS).length} metrics + analysis): ${f(r.inProcessMs[path])}  ratio ${r.inProcessRatio[path].toFixed(3)}  target <= ${r.target}  ${tag(r.inProcessRatio[path] <= r.target)}`,
    );
    console.log(
      `  ${path}${judged ? ' (id remembered)   ' : ' (VM never seen)    '} whole process (node bin/opsbot.js diag --json): ${f(r.wholeProcessMs[path])}  ratio ${r.wholeProcessRatio[path].toFixed(3)}  target <= ${r.target}  ${tag(r.wholeProcessRatio[path] <= r.target)}  (${spread(r.wholeProcessRuns[path])})`,
    );
  }
  if (r.crossed.length > 0) console.log(`  runs that took the other path: ${r.crossed.join('; ')}`);
  console.log(
    `  chart PNG: warm ${f(r.renderWarmMs)} (first in the process ${f(r.renderColdMs)})  target < ${r.renderTargetMs} ms  ${verdict(r.renderWarmMs < r.renderTargetMs)}`,
  );
  if (!r.pass) process.exitCode = 1;
};

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
