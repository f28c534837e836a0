/**
 * `BENCH_ONLY=reboots npm run bench`: the fleet query (`opsbot reboots`: one audit-log query per project,
 * paged, aggregated as pages arrive) over 2,000 VMs in 3 projects and 50,000 audit entries, against the same
 * question answered one VM at a time (one query per VM, as running /why-reboot's audit query on each VM
 * would). The fakes run in their own process, so the memory figures are the client's. Time is wall time
 * against loopback fakes (no network latency): the request count is what grows with a real API's latency
 * and quotas.
 *
 * The per-VM baseline runs on a sample (BENCH_REBOOTS_SAMPLE, default 60 VMs) and is projected to the
 * fleet linearly; the printout says which figures are measured and which projected.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createFleetRestClient } from '../src/integrations/gce/fleet-rest.js';
import { createFleetAggregator } from '../src/playbooks/fleet/aggregate.js';
import { collectFleetReboots } from '../src/playbooks/fleet/collect.js';
import { staticTokenClient } from '../test/fakes/gce-env.js';

interface FakesInfo {
  logging: string;
  compute: string;
  projects: string[];
  vms: [string, string, string, string][];
  window: { from: string; to: string };
  entries: number;
}

const startFakes = async () => {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(new URL('./lib/fleet-fakes.ts', import.meta.url))],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const info = await new Promise<FakesInfo>((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve(JSON.parse(buf.slice(0, nl)) as FakesInfo);
    });
    child.once('exit', (code) => reject(new Error(`fleet fakes exited ${code}`)));
  });
  return { info, stop: () => child.stdin.end() };
};

/** Peak heap growth while `run` runs (sampled every 5 ms), after a GC when --expose-gc is on. */
const measure = async <T>(run: () => Promise<T>) => {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const base = process.memoryUsage().heapUsed;
  let peak = base;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().heapUsed);
  }, 5);
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const value = await run();
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(timer);
  peak = Math.max(peak, process.memoryUsage().heapUsed);
  return { value, ms, cpuMs: (cpu.user + cpu.system) / 1000, peakHeapMb: (peak - base) / 1024 / 1024 };
};

const countingFetch = () => {
  let calls = 0;
  const f: typeof fetch = (input, init) => {
    calls++;
    return fetch(input, init);
  };
  return { fetch: f, calls: () => calls };
};

export interface RebootsBenchResult {
  readonly entries: number;
  readonly vms: number;
  readonly fleet: { ms: number; cpuMs: number; peakHeapMb: number; requests: number; restarts: number };
  readonly perVm: {
    sample: number;
    ms: number;
    cpuMs: number;
    peakHeapMb: number;
    requests: number;
    msPerVm: number;
    projectedMs: number;
  };
  readonly pass: boolean;
}

export const runRebootsBench = async (): Promise<RebootsBenchResult> => {
  const { info, stop } = await startFakes();
  try {
    const window = { from: new Date(info.window.from), to: new Date(info.window.to) };
    const f1 = countingFetch();
    const port = createFleetRestClient({
      loggingEndpoint: info.logging,
      computeEndpoint: info.compute,
      authClient: staticTokenClient(),
      fetch: f1.fetch,
    });
    // Warm-up on a one-minute window (connections, JIT), not counted.
    await collectFleetReboots(port, {
      projects: info.projects,
      window: { from: window.from, to: new Date(window.from.getTime() + 60_000) },
    });
    const before = f1.calls();
    const fleet = await measure(() => collectFleetReboots(port, { projects: info.projects, window }));
    const fleetRequests = f1.calls() - before;

    const sample = Math.min(info.vms.length, Number(process.env.BENCH_REBOOTS_SAMPLE ?? 60));
    const f2 = countingFetch();
    const perVmPort = createFleetRestClient({
      loggingEndpoint: info.logging,
      computeEndpoint: info.compute,
      authClient: staticTokenClient(),
      fetch: f2.fetch,
    });
    const step = Math.max(1, Math.floor(info.vms.length / sample));
    const picked = info.vms.filter((_, i) => i % step === 0).slice(0, sample);
    const perVm = await measure(async () => {
      const agg = createFleetAggregator();
      for (const [project, zone, name, id] of picked) {
        const filter = [
          'resource.type="gce_instance"',
          `(resource.labels.instance_id="${id}" OR protoPayload.resourceName:"/instances/${name}")`,
          `logName=("projects/${project}/logs/cloudaudit.googleapis.com%2Fsystem_event" OR "projects/${project}/logs/cloudaudit.googleapis.com%2Factivity")`,
          `timestamp>="${window.from.toISOString()}"`,
          `timestamp<="${window.to.toISOString()}"`,
        ].join(' AND ');
        for await (const page of perVmPort.pagesOfEntries({ project, filter })) agg.addPage(project, page);
        void zone;
      }
      return agg.restarts().length;
    });
    const msPerVm = perVm.ms / picked.length;
    return {
      entries: info.entries,
      vms: info.vms.length,
      fleet: {
        ms: Math.round(fleet.ms),
        cpuMs: Math.round(fleet.cpuMs),
        peakHeapMb: Math.round(fleet.peakHeapMb * 10) / 10,
        requests: fleetRequests,
        restarts: fleet.value.restarts,
      },
      perVm: {
        sample: picked.length,
        ms: Math.round(perVm.ms),
        cpuMs: Math.round(perVm.cpuMs),
        peakHeapMb: Math.round(perVm.peakHeapMb * 10) / 10,
        requests: f2.calls(),
        msPerVm: Math.round(msPerVm),
        projectedMs: Math.round(msPerVm * info.vms.length),
      },
      pass: fleet.value.sources.every((s) => s.status === 'ok') && fleetRequests < info.vms.length,
    };
  } finally {
    stop();
  }
};

export const printRebootsBench = (r: RebootsBenchResult): void => {
  console.log(`fleet: ${r.vms} VMs, ${r.entries} audit entries in the window, 3 projects (loopback fakes)`);
  console.log(
    `  fleet query (one per project, paged): ${r.fleet.ms} ms wall (opsbot's CPU ${r.fleet.cpuMs} ms; the rest is the fake evaluating the filter), ${r.fleet.requests} HTTP requests (audit pages + instance listing), peak heap +${r.fleet.peakHeapMb} MB, ${r.fleet.restarts} restarts  [measured]`,
  );
  console.log(
    `  one VM at a time: ${r.perVm.sample} VMs in ${r.perVm.ms} ms wall (CPU ${r.perVm.cpuMs} ms) = ${r.perVm.msPerVm} ms per VM, ${r.perVm.requests} requests, peak heap +${r.perVm.peakHeapMb} MB  [measured on the sample]`,
  );
  console.log(
    `  one VM at a time, whole fleet: ~${Math.round(r.perVm.projectedMs / 1000)} s and >= ${r.vms} requests  [projected linearly from the sample]`,
  );
};
