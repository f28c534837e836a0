import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { CliIo } from '../../src/cli/io.js';
import { runWhyReboot } from '../../src/cli/why-reboot.js';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const EXAMPLE = [
  '--logs',
  'examples/why-reboot/audit.json',
  '--syslog',
  'examples/why-reboot/syslog',
  '--serial',
  'examples/why-reboot/serial.txt',
  '--instance',
  'examples/why-reboot/instance.json',
];

const run = async (args: string[], cwd = repo, env: Record<string, string> = { OPSBOT_NO_AUDIT: '1' }) => {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (c: string) => (stdout += c) },
    stderr: { write: (c: string) => (stderr += c) },
    env,
    cwd,
    now: () => new Date('2026-11-27T12:00:00Z'),
  };
  const code = await runWhyReboot(args, io);
  return { code, stdout, stderr };
};

describe('opsbot why-reboot (offline, bundled example)', () => {
  it("records each run in the embedded store's audit log", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'opsbot-cli-audit-'));
    const example = EXAMPLE.map((a) => (a.startsWith('examples/') ? join(repo, a) : a));
    const env = { OPSBOT_CONFIG: join(dataDir, 'c.yaml') };
    writeFileSync(env.OPSBOT_CONFIG, `store:\n  dataDir: ${dataDir}\n`);
    expect((await run(['web-1', ...example, '--json'], dataDir, env)).code).toBe(0);
    expect((await run(['web-1', '--logs', join(dataDir, 'missing.json')], dataDir, env)).code).toBe(2);
    const { openStore } = await import('../../src/store/open.js');
    const store = await openStore({ dataDir });
    const rows = await store.audit.list({ command: 'why-reboot' });
    await store.close();
    // both runs share the test's fixed clock, so compare without relying on order
    expect(rows.map((r) => [r.source, r.target, r.outcome]).sort()).toEqual([
      ['cli', 'web-1', 'bad_input'],
      ['cli', 'web-1', 'ok'],
    ]);
    expect(rows.find((r) => r.outcome === 'ok')?.detail).toContain('host-error');
  });

  it('--json prints the host-error verdict with its evidence and sources', async () => {
    const { code, stdout, stderr } = await run(['web-1', ...EXAMPLE, '--json']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const out = JSON.parse(stdout);
    expect(Object.keys(out)).toEqual(
      expect.arrayContaining(['instance', 'window', 'restarts', 'verdict', 'sources']),
    );
    expect(out.verdict).toMatchObject({
      cause: 'host-error',
      confidence: 'high',
      actor: null,
      at: '2026-05-03T23:31:40.611Z',
      downtimeSeconds: 194,
    });
    // back up when the kernel started: the serial console's RTC line minus its kernel offset
    expect(out.verdict.bootAt).toBe('2026-05-03T23:34:54.139Z');
    expect(out.verdict.summary).toBe(
      'Compute Engine host error at May 3 23:31:40 UTC; Google restarted the VM automatically 3 min later; nothing wrong in the guest.',
    );
    expect(out.restarts).toHaveLength(1); // the logrotate HUP, boot-time Power Button / shutdown-scripts lines fool nothing
    expect(out.instance).toMatchObject({
      name: 'web-1',
      project: 'example-project',
      zone: 'us-central1-a',
      id: '4736518221905826354',
    });
    expect(out.sources.map((s: { name: string; status: string }) => `${s.name}:${s.status}`)).toEqual([
      'instance:ok',
      'audit-logs:ok',
      'guest-logs:skipped',
      'syslog-file:ok',
      'serial-console:ok',
    ]);
    expect(out.timeline.some((i: { text: string }) => i.text.includes('migrateOnHostMaintenance'))).toBe(
      true,
    );
    expect(out.notes.join(' ')).toMatch(/no year/);
  });

  it('prints the verdict as text by default', async () => {
    const { code, stdout } = await run(['web-1', ...EXAMPLE]);
    expect(code).toBe(0);
    expect(stdout).toContain('VERDICT: host-error (host error), high confidence');
    expect(stdout).toContain(
      'https://console.cloud.google.com/compute/instancesDetail/zones/us-central1-a/instances/web-1?project=example-project',
    );
  });

  it('an explicit window without the incident -> no-restart (live migration is not one)', async () => {
    const { code, stdout } = await run([
      'web-1',
      ...EXAMPLE,
      '--json',
      '--since',
      '2026-04-30T00:00:00Z',
      '--until',
      '2026-05-02T00:00:00Z',
    ]);
    expect(code).toBe(0);
    const out = JSON.parse(stdout);
    expect(out.verdict.cause).toBe('no-restart');
    expect(out.verdict.summary).toMatch(/live migration/);
  });
});

describe('opsbot why-reboot: bad input exits 2 with a clear message and no stack', () => {
  const dir = mkdtempSync(join(tmpdir(), 'why-reboot-cli-'));
  const bad = join(dir, 'broken.json');
  writeFileSync(bad, '[{"logName": "projects/p/logs/syslog", "timestamp": "nope"}]');
  const notJson = join(dir, 'instance.json');
  writeFileSync(notJson, 'this is not json');

  it.each([
    [['web-1', '--logs', bad], /broken\.json: entry 1 has no valid "timestamp"/],
    [['web-1', '--instance', notJson], /instance\.json: not valid JSON/],
    [['web-1', '--logs', join(dir, 'nope.json')], /nope\.json: no such file/],
    [
      ['web-1', '--logs', bad, '--since', 'last tuesday'],
      /--since takes a duration such as 90s, 30m, 12h or 7d, or an ISO timestamp .*not "last tuesday"/,
    ],
    [['web-1', '--bogus'], /Unknown option '--bogus'[\s\S]*Usage: opsbot why-reboot/],
    [[], /which VM\?[\s\S]*Usage: opsbot why-reboot/],
    [['Web_1!', '--logs', bad], /not a Compute Engine instance name/],
  ])('%j', async (args, message) => {
    const { code, stdout, stderr } = await run(args as string[]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(message);
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it('--help prints the usage and exits 0', async () => {
    const { code, stdout } = await run(['--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/--syslog FILE/);
  });
});
