import { afterEach, describe, expect, it } from 'vitest';
import type { AppError } from '../../../src/core/errors.js';
import { type CollectDeps, collectEvidence } from '../../../src/playbooks/why-reboot/collect.js';
import { GUEST_LOG_FILTER_REGEX } from '../../../src/playbooks/why-reboot/guest-log.js';
import type { InstanceMemory } from '../../../src/playbooks/why-reboot/instance-memory.js';
import { buildAuditLogFilter } from '../../../src/playbooks/why-reboot/links.js';
import { parseInstanceSpec } from '../../../src/playbooks/why-reboot/resolve-instance.js';
import type { KnownInstance } from '../../../src/store/instance-repository.js';
import { loadCorpusSerial, loadIapDesktopEntries } from '../../fakes/gce-corpus.js';
import { type GceTestEnv, startGceEnv } from '../../fakes/gce-env.js';
import type { FakeLogEntry } from '../../fakes/gce-logging.js';

// iap-desktop's anonymized project and instance; its audit entries carry instance id 2162224123123123213.
const P = 'project-1';
const Z = 'us-central1-a';
const NAME = 'instance-1';
const OLD_ID = '2162224123123123213';
const NEW_ID = '4455667788990011223';
const window = { from: new Date('2019-12-10T00:00:00Z'), to: new Date('2019-12-17T00:00:00Z') };
const TIMEOUTS = { instanceMs: 3000, auditLogsMs: 3000, guestLogsMs: 3000, serialMs: 3000 };

let env: GceTestEnv | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

const depsOf = (e: GceTestEnv, over: Partial<CollectDeps> = {}): CollectDeps => ({
  compute: e.adapters.compute,
  logging: e.adapters.logging,
  now: () => new Date('2019-12-16T00:00:00Z'),
  timeouts: TIMEOUTS,
  ...over,
});

const syslog = (id: string, timestamp: string, message: string, insertId: string): FakeLogEntry => ({
  logName: `projects/${P}/logs/syslog`,
  timestamp,
  insertId,
  resource: { type: 'gce_instance', labels: { instance_id: id, zone: Z, project_id: P } },
  jsonPayload: { message },
});

const GUEST = [
  syslog(NEW_ID, '2019-12-14T01:49:00Z', 'CRON[123]: (root) CMD (run-parts /etc/cron.hourly)', 'g1'),
  syslog(
    NEW_ID,
    '2019-12-14T01:53:10Z',
    'kernel: [    0.000000] Linux version 5.10.0-26-cloud-amd64 (debian-kernel@lists.debian.org)',
    'g2',
  ),
  syslog(NEW_ID, '2019-12-14T01:53:12Z', 'systemd[1]: Started Google Compute Engine Shutdown Scripts.', 'g3'),
  syslog(NEW_ID, '2019-12-14T01:53:20Z', 'sshd[999]: Accepted publickey for alice', 'g4'),
  syslog('111', '2019-12-14T01:53:10Z', 'kernel: Linux version 5.10.0 on another VM', 'g5'),
];

/** instance-1 was recreated: the current incarnation has a new id; the audit entries carry the old one. */
const seed = (e: GceTestEnv): void => {
  e.compute.addInstance(P, Z, {
    name: NAME,
    id: NEW_ID,
    status: 'RUNNING',
    lastStartTimestamp: '2019-12-14T01:53:05.000-00:00',
    scheduling: { automaticRestart: true, onHostMaintenance: 'MIGRATE' },
  });
  e.compute.appendSerial(P, Z, NAME, loadCorpusSerial());
  e.logging.addEntries([...loadIapDesktopEntries(), ...GUEST]);
};

const catchErr = async (p: Promise<unknown>): Promise<AppError> => {
  try {
    await p;
  } catch (err) {
    return err as AppError;
  }
  throw new Error('expected a rejection');
};

describe('collectEvidence over the wire', () => {
  it('resolves a bare name, then queries audit logs by id OR resource name, guest logs and the serial tail', async () => {
    env = await startGceEnv({ logging: { maxPageSize: 3, emptyPagesBefore: 1 } });
    seed(env);
    const ev = await collectEvidence(depsOf(env), { vm: NAME, window, defaultProject: P });

    expect(ev.instance?.id).toBe(NEW_ID);
    expect(ev.sources.map((s) => [s.name, s.status])).toEqual([
      ['instance', 'ok'],
      ['audit-logs', 'ok'],
      ['guest-logs', 'ok'],
      ['serial-console', 'ok'],
    ]);

    const filters = env.logging.filters();
    const audit = filters.find((f) => f.includes('cloudaudit'));
    // The exact FACTS shape: id AND name, both audit logs, explicit bounds.
    expect(audit).toBe(
      buildAuditLogFilter({
        project: P,
        instanceId: NEW_ID,
        instanceName: NAME,
        from: window.from,
        to: window.to,
      }),
    );
    expect(audit).toContain(
      `resource.labels.instance_id="${NEW_ID}" OR protoPayload.resourceName:"/instances/${NAME}"`,
    );
    expect(audit).toContain(
      `logName=("projects/${P}/logs/cloudaudit.googleapis.com%2Fsystem_event" OR "projects/${P}/logs/cloudaudit.googleapis.com%2Factivity")`,
    );
    expect(audit).toContain(
      'timestamp>="2019-12-10T00:00:00.000Z" AND timestamp<="2019-12-17T00:00:00.000Z"',
    );

    // The recreated VM's previous incarnation is found by resource name (old id), all pages through empty ones.
    const iapForInstance = loadIapDesktopEntries().filter(
      (e) =>
        String((e.protoPayload as { resourceName?: string } | undefined)?.resourceName ?? '').endsWith(
          `/instances/${NAME}`,
        ) &&
        e.timestamp >= '2019-12-10' &&
        e.timestamp <= '2019-12-17',
    );
    expect(ev.auditEntries.length).toBe(iapForInstance.length);
    expect(ev.auditEntries.map((e) => e.protoPayload?.methodName)).toContain('compute.instances.hostError');
    expect(
      ev.auditEntries.every(
        (e) =>
          e.resource?.labels?.instance_id === OLD_ID ||
          e.resource?.labels?.instance_id === undefined ||
          e.resource?.labels?.instance_id !== NEW_ID,
      ),
    ).toBe(true);

    // Guest logs: filtered server-side to the instance id and the restart keywords; noise dropped client-side.
    const guest = filters.find((f) => f.includes('/logs/syslog'));
    expect(guest).toContain(`resource.labels.instance_id="${NEW_ID}"`);
    expect(guest).toContain(`jsonPayload.message=~"${GUEST_LOG_FILTER_REGEX}"`);
    expect(guest).toContain('timestamp>="2019-12-10T00:00:00.000Z"');
    expect(ev.guestEvents.map((g) => [g.signal, g.ref, g.source])).toEqual([['boot', 'g2', 'guest-logs']]);

    // Serial: port 1, the last 1 MB, classified.
    const serialReq = env.compute.requests.find((r) => r.route === 'instances.serialPort');
    expect(serialReq?.query).toEqual({ port: '1', start: '-1048576' });
    expect(ev.serialEvents.some((e) => e.signal === 'boot' && e.source === 'serial-console')).toBe(true);
  });

  it('with a zone, starts audit logs and serial without waiting for the instance', async () => {
    env = await startGceEnv();
    seed(env);
    // The instance get is answered only once the audit query and the serial read have arrived: a collector
    // that waited for the instance first would leave the gate to its deadline and fail below.
    const isAudit = (r: { body: unknown }) =>
      String((r.body as { filter?: string } | null)?.filter ?? '').includes('cloudaudit');
    let othersArrivedFirst = false;
    const { logging, compute } = env;
    compute.hold = (route) =>
      route !== 'instances.get'
        ? undefined
        : expect
            .poll(
              () =>
                logging.requests.some(isAudit) &&
                compute.requests.some((r) => r.route === 'instances.serialPort'),
              { timeout: 10_000 },
            )
            .toBe(true)
            .then(
              () => {
                othersArrivedFirst = true;
              },
              () => undefined,
            );
    const ev = await collectEvidence(depsOf(env), { vm: `${P}/${Z}/${NAME}`, window });
    expect(ev.instance?.id).toBe(NEW_ID);
    expect(othersArrivedFirst).toBe(true);
    const auditReq = env.logging.requests.find((r) =>
      String((r.body as { filter: string }).filter).includes('cloudaudit'),
    );
    const getReq = env.compute.requests.find((r) => r.route === 'instances.get');
    const serialReq = env.compute.requests.find((r) => r.route === 'instances.serialPort');
    expect(auditReq && getReq && serialReq).toBeTruthy();
    expect(ev.auditEntries.map((e) => e.protoPayload?.methodName)).toContain('compute.instances.hostError');
  });

  it('a slow source fails on its own timeout while the others are still ok', async () => {
    env = await startGceEnv();
    seed(env);
    // The serial read is never answered while collection runs: collectEvidence returning at all shows that it
    // gave up on that source at its 300 ms timeout instead of waiting for it.
    const releases: (() => void)[] = [];
    env.compute.hold = (route) =>
      route === 'instances.serialPort' ? new Promise<void>((r) => releases.push(r)) : undefined;
    const ev = await collectEvidence(depsOf(env, { timeouts: { ...TIMEOUTS, serialMs: 300 } }), {
      vm: NAME,
      window,
      defaultProject: P,
    });
    for (const release of releases) release();
    const serial = ev.sources.find((s) => s.name === 'serial-console');
    expect(serial?.status).toBe('failed');
    expect(serial?.reason).toMatch(/serial console/);
    expect(ev.sources.filter((s) => s.status === 'ok').map((s) => s.name)).toEqual([
      'instance',
      'audit-logs',
      'guest-logs',
    ]);
    expect(ev.serialEvents).toEqual([]);
  });

  it('when the instance lookup times out, the sources that needed it say so (not "not found")', async () => {
    env = await startGceEnv();
    seed(env);
    const releases: (() => void)[] = [];
    env.compute.hold = (route) =>
      route === 'instances.aggregatedList' ? new Promise<void>((r) => releases.push(r)) : undefined;
    const ev = await collectEvidence(depsOf(env, { timeouts: { ...TIMEOUTS, instanceMs: 300 } }), {
      vm: NAME,
      window,
      defaultProject: P,
    });
    for (const release of releases) release();
    const byName = Object.fromEntries(ev.sources.map((s) => [s.name, s]));
    expect(byName.instance?.status).toBe('failed');
    for (const name of ['guest-logs', 'serial-console'] as const) {
      expect(byName[name]?.status).toBe('skipped');
      expect(byName[name]?.reason).not.toMatch(/not found/);
      expect(byName[name]?.reason).toMatch(/the instance lookup failed.*did not answer/);
    }
    expect(ev.notes.join(' ')).toMatch(/searched by name only/);
  });

  it('a source that errors (403) is reported failed with an actionable reason, not thrown', async () => {
    env = await startGceEnv();
    seed(env);
    env.logging.failNext('entries.list', { status: 403, times: 5 });
    const ev = await collectEvidence(depsOf(env), { vm: NAME, window, defaultProject: P });
    const failed = ev.sources.filter((s) => s.status === 'failed');
    expect(failed.length).toBeGreaterThan(0);
    expect(failed[0]?.reason).toContain('roles/logging.viewer');
    expect(ev.sources.find((s) => s.name === 'serial-console')?.status).toBe('ok');
  });

  it('asks which one when the name exists in several zones', async () => {
    env = await startGceEnv();
    seed(env);
    env.compute.addInstance(P, 'europe-west1-b', { name: NAME, id: '9', status: 'RUNNING' });
    const err = await catchErr(collectEvidence(depsOf(env), { vm: NAME, window, defaultProject: P }));
    expect(err.code).toBe('ambiguous');
    expect(err.userMessage).toContain(`${P}/europe-west1-b/${NAME}`);
    expect(err.userMessage).toContain(`${P}/${Z}/${NAME}`);
    expect(env.logging.requests.length).toBe(0);
  });

  it('a deleted VM is still explained from the audit logs by resource name', async () => {
    env = await startGceEnv();
    env.logging.addEntries(loadIapDesktopEntries());
    const ev = await collectEvidence(depsOf(env), { vm: `${Z}/${NAME}`, window, project: P });
    expect(ev.instance).toBeNull();
    expect(ev.sources.map((s) => [s.name, s.status])).toEqual([
      ['instance', 'empty'],
      ['audit-logs', 'ok'],
      ['guest-logs', 'skipped'],
      ['serial-console', 'skipped'],
    ]);
    const audit = env.logging.filters()[0] ?? '';
    expect(audit).toContain(`protoPayload.resourceName:"/instances/${NAME}"`);
    expect(audit).not.toContain('instance_id');
    expect(ev.auditEntries.map((e) => e.protoPayload?.methodName)).toContain('compute.instances.hostError');
  });

  it('a name that exists nowhere, with no audit trace, is "not found" listing what was searched', async () => {
    env = await startGceEnv();
    env.logging.addEntries(loadIapDesktopEntries());
    const err = await catchErr(collectEvidence(depsOf(env), { vm: 'web-1', window, defaultProject: P }));
    expect(err.code).toBe('not_found');
    expect(err.userMessage).toContain('web-1');
    expect(err.userMessage).toContain(P);
  });

  it('needs a project', async () => {
    env = await startGceEnv();
    const err = await catchErr(collectEvidence(depsOf(env), { vm: NAME, window }));
    expect(err.code).toBe('bad_input');
  });
});

/** The store's instance memory in a Map (the store's own contract test covers the repository). */
const mapMemory = (initial: readonly KnownInstance[] = []) => {
  const rows = new Map<string, KnownInstance>();
  const key = (k: { project: string; zone: string; name: string }) => `${k.project}/${k.zone}/${k.name}`;
  for (const k of initial) rows.set(key(k), k);
  const memory: InstanceMemory = {
    async find(q) {
      return [...rows.values()].filter(
        (k) => k.project === q.project && k.name === q.name && (q.zone === null || k.zone === q.zone),
      );
    },
    async remember(list) {
      for (const k of list) rows.set(key(k), k);
    },
  };
  return { memory, rows };
};

const known = (id: string): KnownInstance => ({
  project: P,
  zone: Z,
  name: NAME,
  id,
  creationTimestamp: null,
  seenAt: new Date('2019-12-01T00:00:00Z'),
});

/** An instance schedule firing: the entry carries the instance id and a targetLink, no resourceName (gcpdiag gce5). */
const scheduledVms = (id: string, timestamp: string, insertId: string): FakeLogEntry => ({
  logName: `projects/${P}/logs/cloudaudit.googleapis.com%2Fsystem_event`,
  timestamp,
  insertId,
  resource: { type: 'gce_instance', labels: { instance_id: id, project_id: P, zone: Z } },
  protoPayload: {
    '@type': 'type.googleapis.com/google.cloud.audit.AuditLog',
    methodName: 'ScheduledVMs',
    response: {
      operationType: 'stop',
      targetId: id,
      targetLink: `https://www.googleapis.com/compute/v1/projects/${P}/zones/${Z}/instances/${NAME}`,
    },
  },
});

const filterOf = (r: { body: unknown }): string =>
  String((r.body as { filter?: string } | null)?.filter ?? '');

describe('collectEvidence with the instance id remembered', () => {
  /**
   * Holds the instance lookup's answer until `arrived` holds over the requests the fakes received: a collector
   * that waited for the lookup before its id-keyed queries leaves the gate to its deadline and fails.
   */
  const holdLookupUntil = (
    e: GceTestEnv,
    route: string,
    arrived: () => boolean,
  ): { passed: () => boolean } => {
    let passed = false;
    e.compute.hold = (r) =>
      r !== route
        ? undefined
        : expect
            .poll(arrived, { timeout: 5_000 })
            .toBe(true)
            .then(
              () => {
                passed = true;
              },
              () => undefined,
            );
    return { passed: () => passed };
  };

  for (const [how, vm, route] of [
    ['with a zone', `${P}/${Z}/${NAME}`, 'instances.get'],
    ['by bare name', NAME, 'instances.aggregatedList'],
  ] as const) {
    it(`${how}: the audit query by id and the guest logs reach Logging before the lookup answers`, async () => {
      env = await startGceEnv();
      seed(env);
      const e = env;
      const { memory } = mapMemory([known(NEW_ID)]);
      const gate = holdLookupUntil(
        e,
        route,
        () =>
          e.logging.requests.some(
            (r) => filterOf(r).includes('cloudaudit') && filterOf(r).includes(NEW_ID),
          ) && e.logging.requests.some((r) => filterOf(r).includes('/logs/syslog')),
      );
      const ev = await collectEvidence(depsOf(e, { memory }), { vm, window, defaultProject: P });
      expect(gate.passed()).toBe(true);
      expect(ev.instance?.id).toBe(NEW_ID);
      expect(ev.sources.map((s) => [s.name, s.status])).toEqual([
        ['instance', 'ok'],
        ['audit-logs', 'ok'],
        ['guest-logs', 'ok'],
        ['serial-console', 'ok'],
      ]);
      // Confirmed by the lookup: nothing asked twice, nothing to note.
      expect(e.logging.requests.filter((r) => filterOf(r).includes('/logs/syslog'))).toHaveLength(1);
      expect(
        e.logging.requests.filter(
          (r) => filterOf(r).includes(`instance_id="${NEW_ID}"`) && filterOf(r).includes('cloudaudit'),
        ),
      ).toHaveLength(1);
      expect(ev.notes.join(' ')).not.toMatch(/recreated/);
      expect(ev.guestEvents.map((g) => g.ref)).toEqual(['g2']);
    });
  }

  it('a VM recreated since: the new incarnation is read by its new id (its ScheduledVMs entry found, no old guest lines)', async () => {
    env = await startGceEnv();
    seed(env);
    env.logging.addEntries([
      scheduledVms(NEW_ID, '2019-12-15T08:00:00Z', 's-new'),
      syslog(
        OLD_ID,
        '2019-12-12T03:00:00Z',
        'kernel: [    0.000000] Linux version 4.19.0 (old incarnation)',
        'g-old',
      ),
    ]);
    const { memory, rows } = mapMemory([known(OLD_ID)]);
    const ev = await collectEvidence(depsOf(env, { memory }), { vm: `${P}/${Z}/${NAME}`, window });
    expect(ev.instance?.id).toBe(NEW_ID);
    // The schedule's entry carries only the new id: found because the id query was run with it.
    expect(ev.auditEntries.map((e) => e.insertId)).toContain('s-new');
    expect(ev.auditEntries.map((e) => e.protoPayload?.methodName)).toContain('compute.instances.hostError');
    // Guest lines are the new incarnation's only (the old id's boot line is not there).
    expect(ev.guestEvents.map((g) => g.ref)).toEqual(['g2']);
    expect(ev.sources.find((s) => s.name === 'guest-logs')?.detail).toContain(`instance_id="${NEW_ID}"`);
    expect(ev.sources.find((s) => s.name === 'audit-logs')?.detail).toContain(`instance_id="${NEW_ID}"`);
    expect(ev.notes.join(' ')).toMatch(new RegExp(`recreated.*${OLD_ID}.*now ${NEW_ID}`));
    // And the memory now holds the new id.
    await expect.poll(() => rows.get(`${P}/${Z}/${NAME}`)?.id).toBe(NEW_ID);
  });

  it('a lookup remembers the instance for next time', async () => {
    env = await startGceEnv();
    seed(env);
    const { memory, rows } = mapMemory();
    await collectEvidence(depsOf(env, { memory, now: () => new Date('2019-12-16T00:00:00Z') }), {
      vm: NAME,
      window,
      defaultProject: P,
    });
    await expect.poll(() => rows.get(`${P}/${Z}/${NAME}`)).toMatchObject({ id: NEW_ID, zone: Z, project: P });
  });

  it('when the lookup times out, the audit logs are still searched by the remembered id (its ScheduledVMs entry found)', async () => {
    env = await startGceEnv();
    seed(env);
    env.logging.addEntries([scheduledVms(NEW_ID, '2019-12-15T08:00:00Z', 's-new')]);
    const releases: (() => void)[] = [];
    env.compute.hold = (route) =>
      route === 'instances.get' ? new Promise<void>((r) => releases.push(r)) : undefined;
    const { memory } = mapMemory([known(NEW_ID)]);
    const ev = await collectEvidence(depsOf(env, { memory, timeouts: { ...TIMEOUTS, instanceMs: 300 } }), {
      vm: `${P}/${Z}/${NAME}`,
      window,
    });
    for (const release of releases) release();
    const byName = Object.fromEntries(ev.sources.map((s) => [s.name, s]));
    expect(byName.instance?.status).toBe('failed');
    expect(byName['guest-logs']?.status).toBe('skipped');
    expect(ev.auditEntries.map((e) => e.insertId)).toContain('s-new');
    expect(ev.notes.join(' ')).toMatch(new RegExp(`lookup failed.*id opsbot last saw.*${NEW_ID}`));
  });
});

describe('parseInstanceSpec', () => {
  it('accepts names, zone/name, project/zone/name, API and console URLs', () => {
    expect(parseInstanceSpec('web-1')).toEqual({ project: null, zone: null, name: 'web-1' });
    expect(parseInstanceSpec('us-central1-a/web-1')).toEqual({
      project: null,
      zone: 'us-central1-a',
      name: 'web-1',
    });
    expect(parseInstanceSpec('my-proj/us-central1-a/web-1')).toEqual({
      project: 'my-proj',
      zone: 'us-central1-a',
      name: 'web-1',
    });
    expect(
      parseInstanceSpec(
        'https://www.googleapis.com/compute/v1/projects/my-proj/zones/europe-west1-b/instances/db-0',
      ),
    ).toEqual({ project: 'my-proj', zone: 'europe-west1-b', name: 'db-0' });
    expect(
      parseInstanceSpec(
        'https://console.cloud.google.com/compute/instancesDetail/zones/us-east1-c/instances/api-7?project=prod-123&tab=details',
      ),
    ).toEqual({ project: 'prod-123', zone: 'us-east1-c', name: 'api-7' });
  });

  it('refuses anything else as bad input', () => {
    for (const bad of [
      'Web-1',
      'web_1',
      '-web',
      'a/b/c/d',
      'nozone/web-1',
      '"; DROP',
      `a${'b'.repeat(63)}`,
      'https://example.com/x',
    ]) {
      expect(() => parseInstanceSpec(bad), bad).toThrow(expect.objectContaining({ code: 'bad_input' }));
    }
  });
});
