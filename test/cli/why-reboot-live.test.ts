import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliIo } from '../../src/cli/io.js';
import { runWhyReboot } from '../../src/cli/why-reboot.js';
import { buildAuditLogFilter } from '../../src/playbooks/why-reboot/links.js';
import { openStore } from '../../src/store/open.js';
import { type FakeCompute, startFakeCompute } from '../fakes/gce-compute.js';
import { loadCorpusInstances, loadGcpdiagAuditEntries } from '../fakes/gce-corpus.js';
import { TEST_TOKEN } from '../fakes/gce-env.js';
import { type HostErrorIncident, seedHostErrorIncident } from '../fakes/gce-incident.js';
import { type FakeLogging, startFakeLogging } from '../fakes/gce-logging.js';

/**
 * `opsbot why-reboot` live: the real CLI, config file, collector and GCE adapters, talking over loopback to
 * the Compute and Logging fakes with a static token from GOOGLE_OAUTH_ACCESS_TOKEN (no ADC, no token host).
 */
const NOW = new Date('2026-11-27T12:00:00Z');
const P = 'shop-prod';

let compute: FakeCompute;
let logging: FakeLogging;
let incident: HostErrorIncident;
let dir: string;
let cfg: string;

beforeAll(async () => {
  compute = await startFakeCompute({ accessToken: TEST_TOKEN });
  logging = await startFakeLogging({ accessToken: TEST_TOKEN, maxPageSize: 4, emptyPagesBefore: 1 });
  incident = seedHostErrorIncident({ compute, logging }, { project: P, now: NOW });
  dir = mkdtempSync(join(tmpdir(), 'opsbot-cli-live-'));
  cfg = join(dir, 'opsbot.yaml');
  writeFileSync(
    cfg,
    [
      'google:',
      '  endpoints:',
      `    logging: ${logging.url}`,
      `    compute: ${compute.url}`,
      'store:',
      `  dataDir: ${join(dir, 'data')}`,
      '',
    ].join('\n'),
  );
});

afterAll(async () => {
  await Promise.all([compute?.close(), logging?.close()]);
  rmSync(dir, { recursive: true, force: true });
});

const run = async (
  args: string[],
  env: Record<string, string> = { GOOGLE_OAUTH_ACCESS_TOKEN: TEST_TOKEN },
) => {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (c: string) => (stdout += c) },
    stderr: { write: (c: string) => (stderr += c) },
    env,
    cwd: dir,
    now: () => NOW,
  };
  const code = await runWhyReboot(args, io);
  return { code, stdout, stderr };
};

describe('opsbot why-reboot, live against the GCE fakes', () => {
  it('prints the host-error verdict as JSON and exits 0, reading every source with the static token', async () => {
    const before = logging.requests.length;
    const { code, stdout, stderr } = await run(['web-1', '--project', P, '--json', '--config', cfg]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const out = JSON.parse(stdout);
    expect(out.verdict).toMatchObject({ cause: 'host-error', confidence: 'high', actor: null });
    expect(new Date(out.verdict.at).toISOString()).toBe(incident.hostErrorAt.toISOString());
    expect(out.verdict.at).toContain('T23:31:40');
    expect(out.verdict.downtimeSeconds).toBeGreaterThanOrEqual(180);
    expect(out.verdict.downtimeSeconds).toBeLessThan(240);
    expect(out.restarts).toHaveLength(1); // logrotate, boot noise, web-10 and db-2 fooled nothing
    expect(out.instance).toMatchObject({ project: P, zone: 'us-central1-a', name: 'web-1', id: incident.id });
    expect(out.sources.map((s: { name: string; status: string }) => [s.name, s.status])).toEqual([
      ['instance', 'ok'],
      ['audit-logs', 'ok'],
      ['guest-logs', 'ok'],
      ['serial-console', 'ok'],
    ]);
    expect(out.window).toEqual({
      from: new Date(NOW.getTime() - 7 * 86_400_000).toISOString(),
      to: NOW.toISOString(),
    });

    // On the wire: the static bearer token, explicit bounds, both audit logs, paged through empty pages.
    const requests = logging.requests.slice(before);
    expect(requests.length).toBeGreaterThan(2);
    for (const r of requests) expect(r.headers.authorization).toBe(`Bearer ${TEST_TOKEN}`);
    const filters = requests.map((r) => String((r.body as { filter: string }).filter));
    const audit = filters.find((f) => f.includes('cloudaudit'));
    expect(audit).toBe(
      buildAuditLogFilter({
        project: P,
        instanceId: incident.id,
        instanceName: 'web-1',
        from: out.window.from,
        to: out.window.to,
      }),
    );
    for (const f of filters) expect(f).toMatch(/timestamp>="[^"]+" AND timestamp<="[^"]+"/);
    expect(compute.requests.some((r) => r.headers.authorization === `Bearer ${TEST_TOKEN}`)).toBe(true);
    // The link a user opens is the query that was run.
    const explorer = out.links.find((l: { label: string }) => l.label.includes('Logs Explorer'));
    expect(decodeURIComponent(/;query=([^;]+);/.exec(explorer.url)?.[1] ?? '')).toBe(audit);
    expect(stdout).not.toContain(TEST_TOKEN);

    // The run is in the audit log, like a Slack command.
    const store = await openStore({ dataDir: join(dir, 'data') });
    try {
      const rows = await store.audit.list({ command: 'why-reboot' });
      expect(
        rows.some((r) => r.source === 'cli' && r.outcome === 'ok' && r.detail?.includes('host-error')),
      ).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('exits 2 with a clear message for a VM that does not exist', async () => {
    const { code, stdout, stderr } = await run(['web-9', '--project', P, '--json', '--config', cfg]);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^opsbot why-reboot: instance not found: web-9 \(searched shop-prod/);
    expect(stderr.trim().split('\n')).toHaveLength(1);
  });

  it('reads the token from GOOGLE_OAUTH_ACCESS_TOKEN_FILE too', async () => {
    const file = join(dir, 'token');
    writeFileSync(file, `${TEST_TOKEN}\n`);
    const { code, stdout } = await run(['web-1', '--project', P, '--json', '--config', cfg], {
      GOOGLE_OAUTH_ACCESS_TOKEN_FILE: file,
    });
    expect(code).toBe(0);
    expect(JSON.parse(stdout).verdict.cause).toBe('host-error');
  });

  it('refuses a malformed token with exit 2 naming the variable, and never prints the token', async () => {
    const bad = `${TEST_TOKEN} extra`;
    const { code, stderr, stdout } = await run(['web-1', '--project', P, '--config', cfg], {
      GOOGLE_OAUTH_ACCESS_TOKEN: bad,
    });
    expect(code).toBe(2);
    expect(stderr).toContain('GOOGLE_OAUTH_ACCESS_TOKEN');
    expect(stderr + stdout).not.toContain(TEST_TOKEN);
  });

  it('a token Google rejects (401) fails each source with advice to renew it, and never shows the token', async () => {
    const wrong = 'ya29.expired-token-0000';
    const { code, stdout, stderr } = await run(
      ['web-1', '--project', P, '--zone', 'us-central1-a', '--json', '--config', cfg],
      { GOOGLE_OAUTH_ACCESS_TOKEN: wrong },
    );
    expect(stdout + stderr).not.toContain('expired-token');
    expect(code).toBe(1); // nothing could be read: a script must not take the verdict for an answer
    expect(stderr).toContain('no evidence could be read');
    const out = JSON.parse(stdout);
    const failed = out.sources.filter((s: { status: string }) => s.status === 'failed');
    expect(failed.map((s: { name: string }) => s.name)).toEqual(['instance', 'audit-logs', 'serial-console']);
    for (const s of failed) expect(s.reason).toContain('GOOGLE_OAUTH_ACCESS_TOKEN');
    // Nothing could be read: no host error is claimed, and the answer says how little it knows.
    expect(out.verdict).toMatchObject({ cause: 'no-restart', confidence: 'low' });
  });

  it('with --zone, the Logs Explorer link is exactly the union of the audit queries that were run', async () => {
    const before = logging.requests.length;
    const { code, stdout } = await run([
      'web-1',
      '--project',
      P,
      '--zone',
      'us-central1-a',
      '--json',
      '--config',
      cfg,
    ]);
    expect(code).toBe(0);
    const out = JSON.parse(stdout);
    expect(out.verdict.cause).toBe('host-error');
    const audits = logging.requests
      .slice(before)
      .map((r) => String((r.body as { filter: string }).filter))
      .filter((f) => f.includes('cloudaudit'));
    // By name at once (no id needed), then by id once the instance is known: the link is their union.
    const bounds = { project: P, from: out.window.from, to: out.window.to };
    expect([...new Set(audits)]).toEqual([
      buildAuditLogFilter({ ...bounds, instanceId: null, instanceName: 'web-1' }),
      buildAuditLogFilter({ ...bounds, instanceId: incident.id, instanceName: null }),
    ]);
    const explorer = out.links.find((l: { label: string }) => l.label.includes('Logs Explorer'));
    expect(decodeURIComponent(/;query=([^;]+);/.exec(explorer.url)?.[1] ?? '')).toBe(
      buildAuditLogFilter({ ...bounds, instanceId: incident.id, instanceName: 'web-1' }),
    );
  });

  it('with a zone, finds the instance schedule (ScheduledVMs carries only the instance id) and says so with high confidence', async () => {
    // gcpdiag's real capture: an instance schedule stops start-and-stop-vm every hour; its ScheduledVMs entry
    // has no resourceName, only resource.labels.instance_id.
    const G = 'gcpdiag-gce5-aaaa';
    const vm = loadCorpusInstances().find((i) => i.instance.name === 'start-and-stop-vm');
    if (!vm) throw new Error('corpus instance missing');
    compute.addInstance(vm.project, vm.zone, vm.instance);
    logging.addEntries(loadGcpdiagAuditEntries());
    const window = ['--since', '2025-03-17T16:30:00Z', '--until', '2025-03-17T23:30:00Z'];
    const ask = async (ref: string[]) => {
      const before = logging.requests.length;
      const { code, stdout, stderr } = await run([...ref, ...window, '--json', '--config', cfg]);
      expect(stderr).toBe('');
      expect(code).toBe(0);
      const filters = logging.requests
        .slice(before)
        .map((r) => String((r.body as { filter: string }).filter))
        .filter((f) => f.includes('cloudaudit'));
      return { out: JSON.parse(stdout), filters };
    };
    for (const ref of [[`${G}/${vm.zone}/start-and-stop-vm`], ['start-and-stop-vm', '--project', G]]) {
      const { out, filters } = await ask(ref);
      expect(out.verdict).toMatchObject({ cause: 'scheduled-stop', confidence: 'high' });
      expect(out.verdict.at).toBe('2025-03-17T23:05:00.419Z');
      expect(out.verdict.evidence.map((e: { text: string }) => e.text).join('\n')).toContain('ScheduledVMs');
      // On the wire, the id is part of the audit query on every path.
      expect(filters.some((f) => f.includes(`resource.labels.instance_id="${vm.instance.id}"`))).toBe(true);
      const explorer = out.links.find((l: { label: string }) => l.label.includes('Logs Explorer'));
      const linked = decodeURIComponent(/;query=([^;]+);/.exec(explorer.url)?.[1] ?? '');
      expect(linked).toContain(
        `resource.labels.instance_id="${vm.instance.id}" OR protoPayload.resourceName:`,
      );
    }
  });
});
