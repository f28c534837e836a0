import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FleetPort } from '../../../src/integrations/gce/fleet-port.js';
import { createFleetRestClient } from '../../../src/integrations/gce/fleet-rest.js';
import type { LogEntry } from '../../../src/integrations/gce/port.js';
import { createFleetAggregator, groupRestarts } from '../../../src/playbooks/fleet/aggregate.js';
import { collectFleetReboots } from '../../../src/playbooks/fleet/collect.js';
import { groupHeadline, renderFleetText } from '../../../src/playbooks/fleet/render-text.js';
import type { FleetReport } from '../../../src/playbooks/fleet/types.js';
import { type FakeCompute, startFakeCompute } from '../../fakes/gce-compute.js';
import { staticTokenClient, TEST_TOKEN } from '../../fakes/gce-env.js';
import { activityOp, buildFleet, type Fleet, seedFleet, systemEvent } from '../../fakes/gce-fleet.js';
import { type FakeLogging, startFakeLogging } from '../../fakes/gce-logging.js';

/**
 * The fleet view over the real wire: 2,000 VMs over 3 projects and 50,000 audit entries in the Logging fake
 * (pages of at most 1,000, an empty page with a token before each), read by the REST client with one query
 * per project, aggregated as pages arrive.
 */
const END = new Date('2026-11-21T02:00:00Z');
let logging: FakeLogging;
let compute: FakeCompute;
let fleet: Fleet;
let port: FleetPort;
let report: FleetReport;

beforeAll(async () => {
  logging = await startFakeLogging({ accessToken: TEST_TOKEN, maxPageSize: 1000, emptyPagesBefore: 1 });
  compute = await startFakeCompute({ accessToken: TEST_TOKEN });
  compute.aggregatedPageSize = 250;
  fleet = buildFleet({ end: END });
  seedFleet(fleet, { compute, logging });
  port = createFleetRestClient({
    loggingEndpoint: logging.url,
    computeEndpoint: compute.url,
    authClient: staticTokenClient(),
  });
  report = await collectFleetReboots(port, { projects: fleet.projects, window: fleet.window });
}, 120_000);

afterAll(async () => {
  await Promise.all([logging?.close(), compute?.close()]);
});

const need = <T>(v: T | undefined): T => {
  if (v === undefined) throw new Error('missing');
  return v;
};
const hostGroups = () => report.groups.filter((g) => g.cause === 'host-error');

describe('fleet view over 2,000 VMs and 50,000 audit entries', () => {
  it('reads every entry with one audit query per project, following pages (empty ones too)', () => {
    expect(fleet.entries).toHaveLength(50_000);
    const filters = new Set(logging.filters());
    expect(filters.size).toBe(3); // one query per project, not one per VM
    const audit = report.sources.filter((s) => s.what === 'audit-logs');
    expect(audit.map((s) => s.status)).toEqual(['ok', 'ok', 'ok']);
    expect(audit.reduce((n, s) => n + s.items, 0)).toBe(50_000);
    // Pages of at most 1,000 and an empty page before each: more requests than 50.
    expect(logging.filters().length).toBeGreaterThan(100);
    for (const r of logging.requests) expect(r.headers.authorization).toBe(`Bearer ${TEST_TOKEN}`);
    const listed = report.sources.filter((s) => s.what === 'instances');
    expect(listed.reduce((n, s) => n + s.items, 0)).toBe(2_000);
  });

  it('groups host errors by zone and time: 14 VMs in us-central1-a 23:31-23:36, overlapping 6 in us-central1-b', () => {
    const groups = hostGroups();
    const a = need(groups.find((g) => g.zone === 'us-central1-a' && g.restarts.length === 14));
    expect(groupHeadline(a)).toBe(
      '14 VMs in us-central1-a, host errors between 23:31 and 23:36 UTC on 2026-11-20',
    );
    expect(a.projects).toEqual(['fleet-prod-a', 'fleet-prod-b']);
    const expected = need(fleet.incidents[0]);
    expect(a.restarts.map((r) => r.name).sort()).toEqual(expected.vms.map((v) => v.name).sort());
    for (const r of a.restarts) {
      expect(r.actor).toBe('system');
      expect(r.downtimeMs).toBe(3 * 60_000 + 7_000);
      expect(r.instanceId).toMatch(/^4\d{18}$/);
    }
    const b = need(groups.find((g) => g.zone === 'us-central1-b'));
    expect(b?.restarts).toHaveLength(6);
    expect(groupHeadline(b)).toContain('6 VMs in us-central1-b, host errors between 23:33 and 23:35');
    // Same zone and cause an hour and a half later: its own group.
    const later = groups.filter((g) => g.zone === 'us-central1-a' && g !== a);
    expect(later.map((g) => g.restarts.length)).toEqual([3]);
    expect(groups).toHaveLength(3);
  });

  it('keeps preemptions at the same time and zone apart from the host errors, and says they are not back', () => {
    const pre = report.groups.filter((g) => g.cause === 'preemption');
    expect(pre).toHaveLength(1);
    expect(pre[0]?.zone).toBe('us-central1-a');
    expect(pre[0]?.restarts).toHaveLength(5);
    expect(pre[0]?.restarts.every((r) => r.upAt === null && r.downtimeMs === null)).toBe(true);
  });

  it('names the person behind a stop/start, with the downtime, and counts a logged-twice operation once', () => {
    const stops = report.groups.filter((g) => g.cause === 'stop').flatMap((g) => g.restarts);
    expect(stops.length).toBeGreaterThan(1000);
    for (const r of stops.slice(0, 50)) {
      expect(r.actor).toMatch(/^oncall-\d@example\.com$/);
      expect(r.downtimeMs).toBeGreaterThanOrEqual(90_000);
      expect(r.downtimeMs).toBeLessThan(150_000);
    }
    // Each stop/start is 4 entries (first + last of both operations): one restart each.
    const stopEntries = fleet.entries.filter((e) => JSON.stringify(e).includes('v1.compute.instances.stop'));
    expect(stops).toHaveLength(stopEntries.length / 2);
    // Live migrations are not restarts.
    expect(report.restarts).toBe(14 + 6 + 5 + 3 + stops.length);
  });

  it('lists upcoming maintenance with its window and whether the VM live-migrates', () => {
    expect(report.maintenance.map((m) => [m.name, m.canLiveMigrate, m.type])).toEqual([
      ['vm-0100', true, 'SCHEDULED'],
      ['vm-0101', false, 'SCHEDULED'],
    ]);
    expect(report.maintenance[0]?.windowStart).toBe('2026-11-23T02:00:00.000Z');
    expect(renderFleetText(report)).toContain('no (restarts)');
  });

  it('filters by label (from the one instance listing) and by cause', async () => {
    const prod = await collectFleetReboots(port, {
      projects: fleet.projects,
      window: fleet.window,
      labels: { env: 'prod' },
      cause: 'host-error',
    });
    const names = prod.groups.flatMap((g) => g.restarts.map((r) => r.name));
    const expected = fleet.incidents
      .filter((i) => i.cause === 'host-error')
      .flatMap((i) => i.vms)
      .filter((v) => v.labels.env === 'prod')
      .map((v) => v.name);
    expect(names.sort()).toEqual(expected.sort());
    expect(prod.groups.every((g) => g.cause === 'host-error')).toBe(true);
  });

  it('answers from the projects it can read when one fails, and says which one failed', async () => {
    logging.failNext('entries.list', { status: 403, message: 'Permission denied on fleet-prod-x' });
    const r = await collectFleetReboots(port, { projects: ['fleet-prod-x'], window: fleet.window });
    const audit = r.sources.find((s) => s.what === 'audit-logs');
    expect(audit?.status).toBe('failed');
    expect(audit?.reason).toMatch(/permission|denied|403/i);
  });
});

describe('aggregation and grouping', () => {
  const vm = { project: 'p-123456', zone: 'us-central1-a', name: 'web-1', id: '1', labels: {} };
  it('an operation logged on two pages counts once; an unknown platform event is reported, not dropped', () => {
    const agg = createFleetAggregator();
    const [stopFirst, stopLast] = activityOp(vm, 'stop', 'a@example.com', new Date('2026-11-20T10:00:00Z'));
    const start = activityOp(vm, 'start', 'a@example.com', new Date('2026-11-20T10:05:00Z'));
    agg.addPage('p-123456', [stopFirst as LogEntry]);
    agg.addPage('p-123456', [stopLast as LogEntry, ...(start as LogEntry[])]);
    const odd = systemEvent('HostErrorEvent', vm, new Date('2026-11-20T11:00:00Z')) as unknown as {
      protoPayload: { methodName: string };
    };
    odd.protoPayload.methodName = 'compute.instances.localSsdRecoveryFailed';
    agg.addPage('p-123456', [odd as unknown as LogEntry]);
    const restarts = agg.restarts();
    expect(restarts).toHaveLength(1);
    expect(restarts[0]).toMatchObject({ cause: 'stop', actor: 'a@example.com', downtimeMs: 300_000 });
    expect([...agg.otherPlatformEvents]).toEqual([['compute.instances.localSsdRecoveryFailed', 1]]);
  });

  it('chains restarts a few minutes apart into one group, and splits at a longer gap', () => {
    const r = (name: string, at: string) => ({
      project: 'p',
      zone: 'z-a',
      name,
      instanceId: null,
      cause: 'host-error' as const,
      at,
      upAt: null,
      downtimeMs: null,
      actor: 'system',
      method: 'compute.instances.hostError',
    });
    const groups = groupRestarts([
      r('a', '2026-11-20T23:31:00.000Z'),
      r('b', '2026-11-20T23:35:00.000Z'),
      r('c', '2026-11-20T23:39:30.000Z'),
      r('d', '2026-11-20T23:50:00.000Z'),
    ]);
    expect(groups.map((g) => g.restarts.map((x) => x.name).join(''))).toEqual(['d', 'abc']);
  });
});
