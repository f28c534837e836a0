import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliIo } from '../../src/cli/io.js';
import { runReboots } from '../../src/cli/reboots.js';
import type { FleetReport } from '../../src/playbooks/fleet/types.js';
import { type FakeCompute, startFakeCompute } from '../fakes/gce-compute.js';
import { TEST_TOKEN } from '../fakes/gce-env.js';
import { buildFleet, type Fleet, seedFleet } from '../fakes/gce-fleet.js';
import { type FakeLogging, startFakeLogging } from '../fakes/gce-logging.js';

/** `opsbot reboots` as users run it (bin/opsbot.js, a config, a static token) against the Google fakes. */
const root = fileURLToPath(new URL('../../', import.meta.url));
const END = new Date('2026-11-21T02:00:00Z');
let logging: FakeLogging;
let compute: FakeCompute;
let fleet: Fleet;
let dir: string;
let cfg: string;

beforeAll(async () => {
  logging = await startFakeLogging({ accessToken: TEST_TOKEN, maxPageSize: 300, emptyPagesBefore: 1 });
  compute = await startFakeCompute({ accessToken: TEST_TOKEN });
  fleet = buildFleet({ end: END, vms: 300, entries: 6_000 });
  seedFleet(fleet, { compute, logging });
  dir = mkdtempSync(join(tmpdir(), 'opsbot-reboots-'));
  cfg = join(dir, 'opsbot.yaml');
  writeFileSync(
    cfg,
    [
      'google:',
      `  projects: [${fleet.projects.join(', ')}]`,
      '  endpoints:',
      `    logging: ${logging.url}`,
      `    compute: ${compute.url}`,
      'store:',
      `  dataDir: ${join(dir, 'data')}`,
      '',
    ].join('\n'),
  );
}, 60_000);

afterAll(async () => {
  await Promise.all([logging?.close(), compute?.close()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const runBin = (args: string[]) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((res) => {
    execFile(
      process.execPath,
      [join(root, 'bin/opsbot.js'), 'reboots', ...args, '--config', cfg],
      {
        env: { PATH: process.env.PATH ?? '', GOOGLE_OAUTH_ACCESS_TOKEN: TEST_TOKEN, HOME: dir },
        cwd: dir,
        maxBuffer: 64 * 1024 * 1024,
      },
      (err, stdout, stderr) =>
        res({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });

const runIn = async (args: string[]) => {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (c: string) => (stdout += c) },
    stderr: { write: (c: string) => (stderr += c) },
    env: { GOOGLE_OAUTH_ACCESS_TOKEN: TEST_TOKEN, OPSBOT_NO_AUDIT: '1' },
    cwd: dir,
    now: () => END,
  };
  const code = await runReboots([...args, '--config', cfg], io);
  return { code, stdout, stderr };
};

describe('opsbot reboots', () => {
  it('runs as bin/opsbot.js: groups in text, the JSON report, the run in the audit log', async () => {
    const window = ['--since', fleet.window.from.toISOString(), '--until', END.toISOString()];
    const text = await runBin([...window, '--cause', 'host-error']);
    expect(text.stderr).toBe('');
    expect(text.code).toBe(0);
    const zoneA = fleet.incidents[0];
    if (!zoneA) throw new Error('no incident');
    expect(text.stdout).toContain(
      `${zoneA.vms.length} VMs in us-central1-a, host errors between 23:31 and 23:36 UTC on 2026-11-20`,
    );
    expect(text.stdout).toContain('6 VMs in us-central1-b, host errors between 23:33 and 23:35');
    expect(text.stdout).toMatch(/vm-\d{4}\s+host-error\s+3m07s\s+system/);
    expect(text.stdout).not.toContain('preemption');
    const json = await runBin([...window, '--json', '--label', 'env=prod']);
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout) as FleetReport;
    expect(report.filters.labels).toEqual({ env: 'prod' });
    expect(report.sources.filter((s) => s.what === 'audit-logs').map((s) => s.status)).toEqual([
      'ok',
      'ok',
      'ok',
    ]);
    const names = report.groups.flatMap((g) => g.restarts.map((r) => r.name));
    const byName = new Map(fleet.vms.map((v) => [v.name, v]));
    expect(names.length).toBeGreaterThan(0);
    expect(names.every((n) => byName.get(n)?.labels.env === 'prod')).toBe(true);
    // One query per project per run, whatever the number of VMs.
    expect(new Set(logging.filters()).size).toBe(3);
    // The runs were audited like Slack commands (SQLite under store.dataDir).
    const { openStore } = await import('../../src/store/open.js');
    const store = await openStore({ databaseUrl: undefined, dataDir: join(dir, 'data') });
    try {
      const rows = await store.audit.list({ command: 'reboots' });
      expect(rows.filter((r) => r.command === 'reboots' && r.outcome === 'ok')).toHaveLength(2);
    } finally {
      await store.close();
    }
  }, 120_000);

  it('exit 2 for bad flags, 1 when no project can be read', async () => {
    expect((await runIn(['--cause', 'gremlins'])).code).toBe(2);
    expect((await runIn(['--label', 'no-equals'])).stderr).toContain('key=value');
    expect((await runIn(['--since', 'yesterday'])).code).toBe(2);
    logging.failNext('entries.list', { status: 403, times: 1 });
    compute.failNext('instances.aggregatedList', { status: 403, times: 1 });
    const failed = await runIn(['--project', 'fleet-prod-z']);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain('nothing could be read');
  }, 60_000);
});
