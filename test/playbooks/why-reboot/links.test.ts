import { describe, expect, it } from 'vitest';
import {
  buildAuditLogFilter,
  buildGuestLogFilter,
  buildInstanceConsoleUrl,
  buildLogsExplorerUrl,
} from '../../../src/playbooks/why-reboot/links.js';

describe('buildAuditLogFilter', () => {
  it('has exactly the FACTS shape: gce_instance, id OR resource name, both audit logs %2F-encoded, explicit bounds', () => {
    expect(
      buildAuditLogFilter({
        project: 'example-project',
        instanceId: '4736518221905826354',
        instanceName: 'web-1',
        from: new Date('2026-04-26T23:35:58Z'),
        to: '2026-05-03T23:35:58.000Z',
      }),
    ).toBe(
      'resource.type="gce_instance" AND (resource.labels.instance_id="4736518221905826354" OR protoPayload.resourceName:"/instances/web-1") AND logName=("projects/example-project/logs/cloudaudit.googleapis.com%2Fsystem_event" OR "projects/example-project/logs/cloudaudit.googleapis.com%2Factivity") AND timestamp>="2026-04-26T23:35:58.000Z" AND timestamp<="2026-05-03T23:35:58.000Z"',
    );
  });

  it('without an id (instance deleted) filters by name only; rejects a bad timestamp', () => {
    const f = buildAuditLogFilter({
      project: 'p',
      instanceId: null,
      instanceName: 'web-1',
      from: '2026-01-01T00:00:00Z',
      to: '2026-01-02T00:00:00Z',
    });
    expect(f).toContain(
      'resource.type="gce_instance" AND protoPayload.resourceName:"/instances/web-1" AND logName=(',
    );
    expect(f).not.toContain('instance_id');
    expect(() =>
      buildAuditLogFilter({
        project: 'p',
        instanceId: null,
        instanceName: 'x',
        from: 'yesterday',
        to: new Date(),
      }),
    ).toThrow(RangeError);
  });

  it('guest filter: syslog by default, journald when configured', () => {
    const f = buildGuestLogFilter({
      project: 'p',
      instanceId: '1',
      from: '2026-01-01T00:00:00Z',
      to: '2026-01-02T00:00:00Z',
      logIds: ['syslog', 'systemd_journald'],
    });
    expect(f).toContain('logName=("projects/p/logs/syslog" OR "projects/p/logs/systemd_journald")');
  });
});

describe('console links', () => {
  it('Logs Explorer URL carries the exact query, the time range and the project', () => {
    const query =
      'resource.type="gce_instance" AND logName="projects/p/logs/cloudaudit.googleapis.com%2Factivity"';
    const url = buildLogsExplorerUrl({
      project: 'p',
      query,
      from: '2026-01-01T00:00:00Z',
      to: '2026-01-02T00:00:00Z',
    });
    expect(url).toBe(
      `https://console.cloud.google.com/logs/query;query=${encodeURIComponent(query)};timeRange=2026-01-01T00%3A00%3A00.000Z%2F2026-01-02T00%3A00%3A00.000Z?project=p`,
    );
    // the literal %2F of the log name survives as %252F, so the console gets the query back exactly
    expect(decodeURIComponent(url.split(';query=')[1]?.split(';')[0] ?? '')).toBe(query);
  });

  it('instance console URL', () => {
    expect(
      buildInstanceConsoleUrl({ project: 'example-project', zone: 'us-central1-a', name: 'web-1' }),
    ).toBe(
      'https://console.cloud.google.com/compute/instancesDetail/zones/us-central1-a/instances/web-1?project=example-project',
    );
  });
});
