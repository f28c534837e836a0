import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../../src/core/errors.js';
import {
  loadInstanceFile,
  loadLogEntriesFile,
  loadSerialFile,
} from '../../../src/playbooks/why-reboot/load-files.js';
import { corpusEntries, fixturePath } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'why-reboot-load-'));
const write = (name: string, content: string | Buffer): string => {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
};
const syslogEntry = (message: string, ts: string, id = '2162224123123123213') => ({
  insertId: `ins-${ts}`,
  logName: 'projects/project-1/logs/syslog',
  resource: {
    type: 'gce_instance',
    labels: { instance_id: id, project_id: 'project-1', zone: 'us-central1-a' },
  },
  jsonPayload: { message },
  timestamp: ts,
});
const expectBadInput = async (promise: Promise<unknown>, pattern: RegExp) => {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  expect((err as AppError).code).toBe('bad_input');
  expect((err as AppError).userMessage).toMatch(pattern);
};

describe('loadLogEntriesFile', () => {
  const audit = [...corpusEntries('HostErrorEvent.json'), ...corpusEntries('AutomaticRestartEvent.json')];
  const guest = [
    syslogEntry(
      'Dec 14 01:53:25 instance-1 kernel: [    0.000000] Linux version 5.10.0-26-cloud-amd64',
      '2019-12-14T01:53:25Z',
    ),
    syslogEntry(
      'Dec 14 01:53:30 instance-1 systemd[1]: Starting Google Compute Engine Shutdown Scripts...',
      '2019-12-14T01:53:30Z',
    ),
    syslogEntry('Dec 14 01:40:00 instance-1 CRON[1]: (root) CMD (true)', '2019-12-14T01:40:00Z'),
  ];

  it.each([
    ['gcloud JSON array', () => JSON.stringify([...audit, ...guest], null, 2)],
    ['entries:list response', () => JSON.stringify({ entries: [...audit, ...guest], nextPageToken: 'abc' })],
    ['corpus {source, entries}', () => JSON.stringify({ source: 'x', entries: [...audit, ...guest] })],
    ['NDJSON', () => [...audit, ...guest].map((e) => JSON.stringify(e)).join('\n')],
  ])('reads a %s, splitting audit from classified guest lines', async (_label, make) => {
    const loaded = await loadLogEntriesFile(write(`logs-${_label.replace(/\W/g, '')}.json`, make()));
    expect(loaded.auditEntries.map((e) => e.protoPayload?.methodName)).toEqual([
      'compute.instances.hostError',
      'compute.instances.automaticRestart',
    ]);
    expect(loaded.guestEntries).toBe(3);
    // the boot banner is kept; the boot-time shutdown-scripts line and the CRON line are not events
    expect(loaded.guestEvents.map((e) => e.signal)).toEqual(['boot']);
    expect(loaded.guestEvents[0]?.at.toISOString()).toBe('2019-12-14T01:53:25.000Z');
    expect(loaded.guestEvents[0]?.timeInferred).toBe(false);
  });

  it('reads gzip, and the real gcpdiag entries:list capture', async () => {
    const gz = write('logs.json.gz', gzipSync(readFileSync(fixturePath('gce5-logging-entries-1.json'))));
    const loaded = await loadLogEntriesFile(gz);
    expect(loaded.auditEntries).toHaveLength(169);
  });

  it('skips guest entries of other instances when the id is known', async () => {
    const p = write(
      'mixed.json',
      JSON.stringify([
        guest[0],
        syslogEntry('kernel: [    0.000000] Linux version 6.1', '2019-12-14T02:00:00Z', '42'),
      ]),
    );
    const loaded = await loadLogEntriesFile(p, { instanceId: '2162224123123123213' });
    expect(loaded.guestEvents).toHaveLength(1);
    expect(loaded.notes.join(' ')).toMatch(/skipped 1 entry/);
  });

  it('an empty entries:list response `{}` is zero entries, not an error', async () => {
    const loaded = await loadLogEntriesFile(write('empty.json', '{}'));
    expect(loaded.auditEntries).toEqual([]);
  });

  it('malformed input names the file and the problem', async () => {
    await expectBadInput(loadLogEntriesFile(join(dir, 'missing.json')), /missing\.json: no such file/);
    await expectBadInput(
      loadLogEntriesFile(write('bad.json', '{"entries": [ {"logName": "x"')),
      /bad\.json: not JSON or NDJSON/,
    );
    await expectBadInput(
      loadLogEntriesFile(write('bad.ndjson', `${JSON.stringify(audit[0])}\n{oops\n`)),
      /bad\.ndjson: line 2 is not valid JSON/,
    );
    await expectBadInput(
      loadLogEntriesFile(write('nots.json', JSON.stringify([{ logName: 'a' }]))),
      /entry 1 has no valid "timestamp"/,
    );
    await expectBadInput(
      loadLogEntriesFile(write('obj.json', JSON.stringify({ kind: 'compute#instance' }))),
      /without "entries"/,
    );
    await expectBadInput(
      loadLogEntriesFile(write('bad.gz', Buffer.from([0x1f, 0x8b, 1, 2, 3]))),
      /not a valid gzip file/,
    );
  });
});

describe('loadSerialFile', () => {
  it('reads the serialPort API JSON (gzipped real capture) and plain text', async () => {
    const json = await loadSerialFile(fixturePath('gce2-serial-valid-linux-ssh.json.gz'));
    expect(json.start).toBe(0);
    expect(json.contents).toContain('Linux version 5.10.0-26-cloud-amd64');
    const text = await loadSerialFile(write('serial.txt', 'hello\n[    0.000000] Linux version 6.1\n'));
    expect(text.contents).toContain('Linux version 6.1');
  });

  it('rejects JSON without contents', async () => {
    await expectBadInput(
      loadSerialFile(write('serial.json', '{"kind": "x"}')),
      /serial\.json: JSON without a "contents" string/,
    );
  });
});

describe('loadInstanceFile', () => {
  it('maps instances.get JSON (gcpdiag capture) to InstanceInfo', async () => {
    const items = (
      JSON.parse(readFileSync(fixturePath('gce5-compute-instances-us-central1-c.json'), 'utf8')) as {
        items: unknown[];
      }
    ).items;
    const p = write('instance.json', JSON.stringify(items[1]));
    const i = await loadInstanceFile(p);
    expect(i).toMatchObject({
      project: 'gcpdiag-gce5-aaaa',
      zone: 'us-central1-c',
      name: 'apache-instance-7ssf',
      status: 'RUNNING',
      machineType: 'e2-micro',
      lastStartTimestamp: '2025-03-18T19:52:50.405-07:00',
      lastStopTimestamp: '2025-03-18T19:52:35.171-07:00',
      scheduling: {
        automaticRestart: true,
        onHostMaintenance: 'MIGRATE',
        preemptible: false,
        provisioningModel: 'STANDARD',
      },
      upcomingMaintenance: null,
    });
    expect(typeof i.id).toBe('string');
    expect(i.disks[0]).toMatchObject({ boot: true, diskSizeGb: 10 });
    expect(i.networkInterfaces[0]?.hasExternalIp).toBe(true);
  });

  it('picks the named instance from a list, and keeps a numeric uint64 id exact', async () => {
    const list = await loadInstanceFile(fixturePath('gce5-compute-instances-us-central1-c.json'), {
      name: 'shielded-vm-integrity-failure',
    });
    expect(list.name).toBe('shielded-vm-integrity-failure');
    const raw =
      '{"name":"web-1","id":4736518221905826354,"zone":"https://www.googleapis.com/compute/v1/projects/p-1/zones/us-central1-a","status":"RUNNING","resourceStatus":{"upcomingMaintenance":{"type":"SCHEDULED","windowStartTime":"2026-06-01T00:00:00Z","canReschedule":true}}}';
    const i = await loadInstanceFile(write('num-id.json', raw));
    expect(i.id).toBe('4736518221905826354');
    expect(i.upcomingMaintenance).toMatchObject({
      type: 'SCHEDULED',
      windowStartTime: '2026-06-01T00:00:00Z',
      canReschedule: true,
    });
    await expectBadInput(
      loadInstanceFile(fixturePath('gce5-compute-instances-us-central1-c.json'), { name: 'web-1' }),
      /no instance named "web-1".*apache-instance-3q8d/,
    );
    await expectBadInput(loadInstanceFile(write('noname.json', '{"id":"1"}')), /no "name"/);
  });
});
