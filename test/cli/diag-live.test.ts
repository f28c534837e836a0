import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDiag } from '../../src/cli/diag.js';
import type { CliIo } from '../../src/cli/io.js';
import { LINE_COLOURS, MARKER_COLOURS, pngLayout } from '../../src/playbooks/diag/render-chart.js';
import { openStore } from '../../src/store/open.js';
import { type DiagFakes, startDiagFakes } from '../fakes/diag-env.js';
import { TEST_TOKEN } from '../fakes/gce-env.js';
import {
  buildHostScenario,
  type HostScenario,
  SCENARIOS,
  type ScenarioName,
} from '../fakes/host-scenarios.js';
import { columnsWith, decodePng, inkShare, widestGap } from '../playbooks/diag/png-inspect.js';

/**
 * `opsbot diag` live, scenario by scenario: the real CLI, config, collectors and Google clients (Cloud
 * Monitoring through @google-cloud/monitoring in REST mode) over loopback against the Compute, Logging and
 * Monitoring fakes, with the picture decoded and inspected. Each scenario is its own VM in its own project.
 */
const END = new Date('2026-11-20T11:00:00Z');
const NOW = new Date('2026-11-20T11:00:30Z');

let fakes: DiagFakes;
const scenarios = new Map<ScenarioName, HostScenario>();

beforeAll(async () => {
  fakes = await startDiagFakes();
  SCENARIOS.forEach((name, i) => {
    const s = buildHostScenario(name, {
      end: END,
      target: { project: `diag-${name}`, name: `vm-${name}`, id: String(7000000000000000000n + BigInt(i)) },
    });
    scenarios.set(name, s);
    fakes.seed(s);
  });
}, 60_000);

afterAll(async () => {
  if (process.env.DIAG_KEEP_PNG) {
    const { cpSync } = await import('node:fs');
    cpSync(fakes.dir, process.env.DIAG_KEEP_PNG, { recursive: true });
  }
  await fakes?.close();
});

const runCli = async (args: string[], env: Record<string, string> = {}) => {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (c: string) => (stdout += c) },
    stderr: { write: (c: string) => (stderr += c) },
    env: { GOOGLE_OAUTH_ACCESS_TOKEN: TEST_TOKEN, OPSBOT_NO_AUDIT: '1', ...env },
    cwd: fakes.dir,
    now: () => NOW,
  };
  const code = await runDiag(args, io);
  return { code, stdout, stderr };
};

interface Json {
  findings: {
    resource: string;
    device?: string;
    kind: string;
    level: string;
    summary: string;
    evidence: string[];
  }[];
  use: {
    resource: string;
    device: string | null;
    utilization: { level: string; peak: number | null };
    saturation: { level: string };
    errors: { level: string };
  }[];
  events: { kind: string; at: string; text: string }[];
  sources: { name: string; status: string; reason: string | null }[];
  notes: string[];
  links: { label: string; url: string }[];
}

const ref = (s: HostScenario) => `${s.target.project}/${s.target.zone}/${s.target.name}`;

const diag = async (name: ScenarioName, extra: string[] = []) => {
  const s = scenarios.get(name) as HostScenario;
  const png = join(fakes.dir, `${name}.png`);
  const r = await runCli([
    ref(s),
    '--since',
    s.from.toISOString(),
    '--until',
    s.end.toISOString(),
    '--config',
    fakes.configPath,
    '--json',
    '--png',
    png,
    ...extra,
  ]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return { json: JSON.parse(r.stdout) as Json, png: decodePng(readFileSync(png)), s };
};

const layout = pngLayout(4);
const [CPU, MEMORY, DISK, NETWORK] = layout.panels as [
  (typeof layout.panels)[number],
  (typeof layout.panels)[number],
  (typeof layout.panels)[number],
  (typeof layout.panels)[number],
];
const BUSY = LINE_COLOURS[0] as string;

describe('opsbot diag, live against the fakes', () => {
  it('memory exhaustion: the OOM kill with its victim, memory used 98% from when it was held, a marker on the chart', async () => {
    const { json, png } = await diag('oom');
    expect(json.findings).toHaveLength(1);
    expect(json.findings[0]).toMatchObject({ resource: 'memory', kind: 'saturation', level: 'critical' });
    expect(json.findings[0]?.summary).toBe(
      'memory exhausted: the OOM killer killed java (pid 4242) at 10:47:12; memory used 98% from 10:38',
    );
    expect(json.events.map((e) => [e.kind, e.at])).toEqual([['oom-kill', '2026-11-20T10:47:12.000Z']]);
    expect(json.use.find((r) => r.resource === 'memory')?.utilization.level).toBe('critical');
    expect(png.width).toBe(layout.width);
    expect(png.height).toBe(layout.height);
    for (const box of [CPU, MEMORY, DISK, NETWORK]) expect(inkShare(png, box)).toBeGreaterThan(0.02);
    expect(columnsWith(png, MEMORY, MARKER_COLOURS['oom-kill'] as string).length).toBeGreaterThan(0);
  });

  it('disk saturation: the busy device with its queue and since when, the I/O error, and the run queue it causes', async () => {
    const { json } = await diag('disk');
    expect(json.findings[0]).toMatchObject({ resource: 'disk', device: 'sdb', level: 'critical' });
    expect(json.findings[0]?.summary).toMatch(
      /^disk sdb 100% busy with (3\d|4\d) operations queued since 10:25; 1 I\/O error/,
    );
    expect(json.use.find((r) => r.resource === 'disk' && r.device === 'sda')?.utilization.level).toBe('ok');
    expect(json.findings.map((f) => f.resource)).toEqual(['disk', 'cpu']);
    expect(json.events.map((e) => e.kind)).toEqual(['io-error', 'lockup']);
  });

  it('CPU steal after a live migration: a noisy host; the link flap of the migration is no finding', async () => {
    const { json, png } = await diag('steal');
    expect(json.findings).toHaveLength(1);
    expect(json.findings[0]).toMatchObject({ resource: 'cpu', kind: 'saturation', level: 'critical' });
    expect(json.findings[0]?.summary).toMatch(
      /^CPU steal 3\d% from 10:21: the host is contended \(noisy neighbour\); a live migration at 10:20$/,
    );
    expect(json.events.map((e) => e.kind)).toEqual(['live-migration', 'link-down', 'link-up']);
    expect(json.use.find((r) => r.resource === 'network')?.errors.level).toBe('ok');
    expect(columnsWith(png, CPU, MARKER_COLOURS['live-migration'] as string).length).toBeGreaterThan(0);
  });

  it('a healthy VM: no finding invented, a one-minute spike shown but not called a problem', async () => {
    const { json, png } = await diag('healthy');
    expect(json.findings).toEqual([]);
    const cpu = json.use.find((r) => r.resource === 'cpu');
    expect(cpu?.utilization.peak).toBeGreaterThan(95);
    expect(cpu?.utilization.level).toBe('ok');
    expect(
      json.use.every((r) =>
        [r.utilization, r.saturation, r.errors].every((c) => c.level === 'ok' || c.level === 'unknown'),
      ),
    ).toBe(true);
    expect(json.events).toEqual([]);
    // The CPU line runs the whole window without a hole.
    expect(widestGap(columnsWith(png, CPU, BUSY))).toBeLessThan(8);
  });

  it('no Ops Agent: the hypervisor view only, and what cannot be seen is said, not guessed', async () => {
    const { json, png } = await diag('no-agent');
    expect(json.findings).toEqual([]);
    expect(json.notes.join('\n')).toMatch(/Ops Agent is not reporting.*Memory, swap, filesystems/);
    const memory = json.use.find((r) => r.resource === 'memory');
    expect(memory?.utilization.level).toBe('unknown');
    expect(json.use.find((r) => r.resource === 'cpu')?.utilization.level).toBe('ok');
    expect(json.use.filter((r) => r.resource === 'disk').map((r) => r.device)).toEqual([
      'data-1',
      'persistent-disk-0',
    ]);
    expect(inkShare(png, CPU)).toBeGreaterThan(0.02);
    expect(columnsWith(png, MEMORY, BUSY)).toEqual([]); // no memory line: the panel says why
    const text = await runCli([
      ref(scenarios.get('no-agent') as HostScenario),
      '--since',
      '1h',
      '--config',
      fakes.configPath,
    ]);
    expect(text.stdout).toContain('memory use needs the Ops Agent (not reporting on this VM)');
    // Without the agent nothing ships the guest logs (and the serial console is empty here): no "no errors" claim.
    expect(memory?.errors.level).toBe('unknown');
    expect(text.stdout).toContain('no guest logs to read');
  });

  it('a restart inside the window: the host error and the restart on the timeline, and a gap in the chart', async () => {
    const { json, png, s } = await diag('restart');
    expect(json.events.map((e) => [e.kind, e.at])).toEqual([
      ['host-error', (s.at.hostError as Date).toISOString()],
      ['restart', (s.at.boot as Date).toISOString()],
    ]);
    expect(json.findings).toEqual([]);
    const cpuColumns = columnsWith(png, CPU, BUSY);
    // 3 minutes without a point out of 60, across ~560 px of plot: a hole of 20+ px in the line.
    expect(widestGap(cpuColumns)).toBeGreaterThan(20);
    expect(columnsWith(png, CPU, MARKER_COLOURS.restart as string).length).toBeGreaterThan(0);
    const text = await runCli([
      ref(s),
      '--since',
      s.from.toISOString(),
      '--until',
      s.end.toISOString(),
      '--config',
      fakes.configPath,
    ]);
    expect(text.stdout).toMatch(
      /Verdict {3}The VM restarted at 10:33:15 \(host-error\)\. No resource problem/,
    );
  });

  it('a project without the Monitoring API: metrics fail with what to do, the logs still answer (exit 0)', async () => {
    const s = scenarios.get('oom') as HostScenario;
    fakes.monitoring.disabledProjects.add(s.target.project);
    try {
      const r = await runCli([
        ref(s),
        '--since',
        s.from.toISOString(),
        '--until',
        s.end.toISOString(),
        '--config',
        fakes.configPath,
        '--json',
      ]);
      expect(r.code).toBe(0);
      const json = JSON.parse(r.stdout) as Json;
      expect(json.sources[0]).toMatchObject({ name: 'metrics', status: 'failed' });
      expect(json.sources[0]?.reason).toContain(
        'the Cloud Monitoring API is not enabled in project diag-oom',
      );
      // The OOM kill is in the guest logs, so it is still found; utilization is not invented.
      expect(json.findings[0]?.summary).toBe(
        'memory exhausted: the OOM killer killed java (pid 4242) at 10:47:12',
      );
      expect(json.use.find((r) => r.resource === 'memory')?.utilization.level).toBe('unknown');
    } finally {
      fakes.monitoring.disabledProjects.delete(s.target.project);
    }
  });

  it('a VM asked about before: its id-keyed queries and metric reads leave with the lookup, and the answer is the same', async () => {
    const s = scenarios.get('steal') as HostScenario;
    const filterOf = (r: { body: unknown }) => String((r.body as { filter?: string } | null)?.filter ?? '');
    // The user's store exists (the audit log's: under the config's dataDir; OPSBOT_NO_AUDIT=1 here writes no row).
    await (await openStore({ dataDir: join(fakes.dir, 'data') })).close();
    const first = await diag('steal');
    // The first run remembered the VM. The second run's lookup is
    // answered only once the audit query by id, the guest logs and a metric read of that id have arrived: a
    // CLI that waited for the lookup first leaves the gate to its deadline, and the poll below fails.
    let arrivedFirst = false;
    fakes.compute.hold = (route) =>
      route !== 'instances.get'
        ? undefined
        : expect
            .poll(
              () =>
                fakes.logging.requests.some(
                  (r) =>
                    filterOf(r).includes('cloudaudit') &&
                    filterOf(r).includes(`instance_id="${s.target.id}"`),
                ) &&
                fakes.logging.requests.some(
                  (r) => filterOf(r).includes('/logs/syslog') && filterOf(r).includes(s.target.id),
                ) &&
                fakes.monitoring.requests.some((r) => JSON.stringify(r.query).includes(s.target.id)),
              { timeout: 5_000 },
            )
            .toBe(true)
            .then(
              () => {
                arrivedFirst = true;
              },
              () => undefined,
            );
    for (const f of [fakes.compute, fakes.logging, fakes.monitoring]) f.requests.length = 0;
    try {
      const second = await diag('steal');
      expect(arrivedFirst).toBe(true);
      // The same answer as the first (durations aside).
      const timeless = (j: Json) => ({
        ...j,
        sources: j.sources.map((src) => ({ ...src, durationMs: null })),
      });
      expect(timeless(second.json)).toEqual(timeless(first.json));
    } finally {
      fakes.compute.hold = null;
    }
  });

  it('exits 1 when every source fails, and 2 for bad flags', async () => {
    const s = scenarios.get('healthy') as HostScenario;
    fakes.compute.failNext('instances.get', { status: 503, times: 20 });
    fakes.logging.failNext('entries.list', { status: 503, times: 40 });
    fakes.compute.failNext('instances.serialPort', { status: 503, times: 20 });
    const r = await runCli([ref(s), '--since', '1h', '--config', fakes.configPath]);
    expect(r.stderr).toMatch(/no evidence could be read/);
    expect(r.code).toBe(1);
    expect((await runCli([ref(s), '--at', 'yesterday'])).code).toBe(2);
    expect((await runCli([ref(s), '--around', '10m'])).code).toBe(2);
    expect((await runCli([ref(s), '--at', '2026-11-20T10:00:00Z', '--since', '1h'])).code).toBe(2);
    expect((await runCli([])).code).toBe(2);
  });
});
