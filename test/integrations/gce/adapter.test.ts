import { afterEach, describe, expect, it } from 'vitest';
import { AppError, IntegrationError } from '../../../src/core/errors.js';
import { createGceAdapters } from '../../../src/integrations/gce/adapter.js';
import { SERIAL_BUFFER_BYTES } from '../../fakes/gce-compute.js';
import {
  loadCorpusInstances,
  loadCorpusSerial,
  loadGcpdiagAuditEntries,
  loadIapDesktopEntries,
} from '../../fakes/gce-corpus.js';
import { type GceTestEnv, startGceEnv, staticTokenClient, TEST_TOKEN } from '../../fakes/gce-env.js';

const P = 'gcpdiag-gce5-aaaa';
const Z = 'us-central1-c';
const BOUNDS = 'timestamp>="2025-03-17T00:00:00Z" AND timestamp<="2025-03-19T00:00:00Z"';

let env: GceTestEnv | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

const seedInstances = (e: GceTestEnv): void => {
  for (const i of loadCorpusInstances()) e.compute.addInstance(i.project, i.zone, i.instance);
};

const catchErr = async (p: Promise<unknown>): Promise<unknown> => {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
};

describe('Compute adapter over the wire (REST through fetch -> fake)', () => {
  it('gets an instance and maps it to domain terms', async () => {
    env = await startGceEnv();
    seedInstances(env);
    const inst = await env.adapters.compute.getInstance({ project: P, zone: Z, name: 'spot-vm-termination' });
    expect(inst).toMatchObject({
      project: P,
      zone: Z,
      name: 'spot-vm-termination',
      id: '2093000891450668968',
      status: 'TERMINATED',
      machineType: 'f1-micro',
      lastStartTimestamp: '2025-03-18T18:00:14.989-07:00',
      lastStopTimestamp: '2025-03-18T18:05:51.397-07:00',
      scheduling: {
        automaticRestart: false,
        onHostMaintenance: 'TERMINATE',
        preemptible: true,
        provisioningModel: 'SPOT',
      },
    });
    const req = env.compute.requests.at(-1);
    expect(req?.path).toBe(`/compute/v1/projects/${P}/zones/${Z}/instances/spot-vm-termination`);
    expect(req?.headers.authorization).toBe(`Bearer ${TEST_TOKEN}`);
  });

  it('keeps a uint64 id exact and reads upcoming maintenance', async () => {
    env = await startGceEnv();
    env.compute.addInstance('p-1', 'europe-west1-b', {
      name: 'big',
      id: '18446744073709551615',
      status: 'RUNNING',
      resourceStatus: {
        upcomingMaintenance: {
          type: 'SCHEDULED',
          windowStartTime: '2026-01-01T00:00:00Z',
          windowEndTime: '2026-01-01T04:00:00Z',
          canReschedule: true,
        },
      },
    });
    const inst = await env.adapters.compute.getInstance({
      project: 'p-1',
      zone: 'europe-west1-b',
      name: 'big',
    });
    expect(inst?.id).toBe('18446744073709551615');
    expect(inst?.upcomingMaintenance).toEqual({
      type: 'SCHEDULED',
      windowStartTime: '2026-01-01T00:00:00Z',
      windowEndTime: '2026-01-01T04:00:00Z',
      canReschedule: true,
    });
  });

  it('returns null for a 404', async () => {
    env = await startGceEnv();
    expect(await env.adapters.compute.getInstance({ project: P, zone: Z, name: 'gone' })).toBeNull();
  });

  it('finds same-named instances in several zones across aggregatedList pages', async () => {
    env = await startGceEnv();
    seedInstances(env);
    env.compute.addInstance(P, 'europe-west1-b', {
      name: 'spot-vm-termination',
      id: '42',
      status: 'RUNNING',
    });
    env.compute.aggregatedPageSize = 1;
    const found = await env.adapters.compute.findInstancesByName(P, 'spot-vm-termination');
    expect(found.map((i) => [i.zone, i.id]).sort()).toEqual([
      ['europe-west1-b', '42'],
      [Z, '2093000891450668968'],
    ]);
    const listCalls = env.compute.requests.filter((r) => r.route === 'instances.aggregatedList');
    expect(listCalls.length).toBe(2);
    expect(listCalls[0]?.query.filter).toBe('name = "spot-vm-termination"');
    expect(listCalls[1]?.query.pageToken).toBeTruthy();
  });

  it('asks aggregatedList for partial success: an unreachable zone does not hide the instance in another', async () => {
    env = await startGceEnv({ adapter: { sleep: async () => {} } });
    seedInstances(env);
    env.compute.addInstance(P, 'us-east1-b', { name: 'other-vm', id: '7', status: 'RUNNING' });
    env.compute.unreachableZones.add('us-east1-b');
    const found = await env.adapters.compute.findInstancesByName(P, 'spot-vm-termination');
    expect(found.map((i) => [i.zone, i.id])).toEqual([[Z, '2093000891450668968']]);
    const call = env.compute.requests.find((r) => r.route === 'instances.aggregatedList');
    expect(call?.query).toMatchObject({
      returnPartialSuccess: 'true',
      filter: 'name = "spot-vm-termination"',
    });
    // The fake is the real API here: without the flag, the whole list fails.
    const url = `${env.compute.url}/compute/v1/projects/${P}/aggregated/instances`;
    const headers = { authorization: `Bearer ${TEST_TOKEN}` };
    const strict = await fetch(url, { headers });
    expect(strict.status).toBe(503);
    const partial = (await (await fetch(`${url}?returnPartialSuccess=true`, { headers })).json()) as {
      unreachables: string[];
      items: Record<string, { warning: { code: string } }>;
    };
    expect(partial.unreachables).toEqual(['zones/us-east1-b']);
    expect(partial.items['zones/us-east1-b']?.warning.code).toBe('UNREACHABLE');
  });

  it('reads the tail of the serial console with a negative start (1 MB ring buffer)', async () => {
    env = await startGceEnv();
    seedInstances(env);
    const boot = loadCorpusSerial();
    // More than the ring holds: the oldest bytes are gone.
    env.compute.appendSerial(P, Z, 'apache-instance-3q8d', 'x'.repeat(900_000));
    env.compute.appendSerial(P, Z, 'apache-instance-3q8d', boot);
    const total = 900_000 + Buffer.byteLength(boot);
    const ref = { project: P, zone: Z, name: 'apache-instance-3q8d' };

    const tail = await env.adapters.compute.getSerialPortOutput(ref, -1000);
    expect(tail).toMatchObject({ start: total - 1000, next: total });
    expect(boot.endsWith(tail.contents)).toBe(true);

    const all = await env.adapters.compute.getSerialPortOutput(ref, 0);
    expect(all.start).toBe(total - SERIAL_BUFFER_BYTES);
    expect(all.contents).toContain('Linux version');
    expect(env.compute.requests.at(-2)?.query).toEqual({ port: '1', start: '-1000' });
  });

  it('retries a 503 and succeeds', async () => {
    env = await startGceEnv({ adapter: { sleep: async () => {} } });
    seedInstances(env);
    env.compute.failNext('instances.get', { status: 503, times: 2 });
    const inst = await env.adapters.compute.getInstance({
      project: P,
      zone: Z,
      name: 'apache-instance-3q8d',
    });
    expect(inst?.id).toBe('8891820476183371144');
    expect(env.compute.requests.filter((r) => r.route === 'instances.get').length).toBe(3);
  });

  it('maps 403 to an actionable message naming the role', async () => {
    env = await startGceEnv();
    env.compute.failNext('instances.aggregatedList', {
      status: 403,
      message: "Required 'compute.instances.list' permission",
    });
    const err = await catchErr(env.adapters.compute.findInstancesByName(P, 'web-1'));
    expect(err).toBeInstanceOf(IntegrationError);
    expect((err as IntegrationError).status).toBe(403);
    expect((err as IntegrationError).userMessage).toMatch(/roles\/compute\.viewer/);
    expect((err as IntegrationError).userMessage).toContain(P);
  });

  it('times out a call that never answers', async () => {
    env = await startGceEnv({ adapter: { timeoutMs: 300 } });
    env.compute.failNext('instances.get', { status: 0, hang: true });
    // The fake never answers: getting an error at all is the timeout working (else the test's deadline hits).
    const err = await catchErr(env.adapters.compute.getInstance({ project: P, zone: Z, name: 'x' }));
    expect((err as AppError).code).toBe('timeout');
  });
});

describe('Logging adapter over the wire (POST /v2/entries:list -> fake)', () => {
  const filter = `resource.type="gce_instance" AND resource.labels.instance_id="2093000891450668968" AND logName=("projects/${P}/logs/cloudaudit.googleapis.com%2Fsystem_event" OR "projects/${P}/logs/cloudaudit.googleapis.com%2Factivity") AND ${BOUNDS}`;

  it('follows page tokens through empty pages until there is none', async () => {
    env = await startGceEnv({
      logging: {
        entries: loadGcpdiagAuditEntries(),
        maxPageSize: 10,
        emptyPagesBefore: 2,
        trailingEmptyPage: true,
      },
    });
    const expected = loadGcpdiagAuditEntries().filter(
      (e) => (e.resource as { labels: { instance_id: string } }).labels.instance_id === '2093000891450668968',
    );
    expect(expected.length).toBeGreaterThan(20);
    const entries = await env.adapters.logging.listEntries({ resourceNames: [`projects/${P}`], filter });
    expect(entries.length).toBe(expected.length);
    expect(new Set(entries.map((e) => e.insertId)).size).toBe(expected.length);
    const pages = Math.ceil(expected.length / 10);
    // each real page is preceded by 2 empty ones, and one empty page trails the last
    expect(env.logging.requests.length).toBe(pages * 3 + 1);
    const first = env.logging.requests[0];
    expect(first?.body).toEqual({
      resourceNames: [`projects/${P}`],
      filter,
      orderBy: 'timestamp asc',
      pageSize: 1000,
    });
    expect(first?.headers.authorization).toBe(`Bearer ${TEST_TOKEN}`);
    expect(
      env.logging.requests
        .slice(1)
        .every((r) => typeof (r.body as { pageToken?: string }).pageToken === 'string'),
    ).toBe(true);
    // timestamp asc
    const ts = entries.map((e) => e.timestamp);
    expect([...ts].sort()).toEqual(ts);
  });

  it('stops at maxEntries', async () => {
    env = await startGceEnv({ logging: { entries: loadGcpdiagAuditEntries(), maxPageSize: 10 } });
    const entries = await env.adapters.logging.listEntries({
      resourceNames: [`projects/${P}`],
      filter,
      maxEntries: 15,
    });
    expect(entries.length).toBe(15);
    expect(env.logging.requests.length).toBe(2);
  });

  it('refuses filters without timestamp bounds or over 20,000 characters, before any request', async () => {
    env = await startGceEnv();
    const noBounds = await catchErr(
      env.adapters.logging.listEntries({
        resourceNames: [`projects/${P}`],
        filter: 'resource.type="gce_instance"',
      }),
    );
    expect((noBounds as AppError).code).toBe('bad_input');
    const long = await catchErr(
      env.adapters.logging.listEntries({
        resourceNames: [`projects/${P}`],
        filter: `${BOUNDS} AND (${Array.from({ length: 2000 }, (_, i) => `labels.x="${i}"`).join(' OR ')})`,
      }),
    );
    expect((long as AppError).code).toBe('bad_input');
    expect(env.logging.requests.length).toBe(0);
  });

  it('answers 401 to a wrong token, and the error never leaks the token', async () => {
    env = await startGceEnv({ token: 'ya29.wrong-token-value' });
    const err = await catchErr(
      env.adapters.logging.listEntries({ resourceNames: [`projects/${P}`], filter }),
    );
    expect(err).toBeInstanceOf(IntegrationError);
    expect((err as IntegrationError).status).toBe(401);
    expect((err as IntegrationError).userMessage).toMatch(/authenticate/);
    expect(JSON.stringify({ m: (err as Error).message, d: (err as AppError).details })).not.toContain(
      'wrong-token',
    );
  });

  it('maps 403 to "needs roles/logging.viewer" for the project', async () => {
    env = await startGceEnv();
    env.logging.failNext('entries.list', {
      status: 403,
      message: 'Permission denied for logging.logEntries.list',
    });
    const err = await catchErr(
      env.adapters.logging.listEntries({ resourceNames: [`projects/${P}`], filter }),
    );
    expect((err as IntegrationError).userMessage).toBe(
      `permission denied reading logs in project ${P}: the opsbot service account needs roles/logging.viewer`,
    );
    expect((err as IntegrationError).retryable).toBe(false);
  });

  it('retries 429 after the Retry-After delay', async () => {
    const waits: number[] = [];
    env = await startGceEnv({
      logging: { entries: loadIapDesktopEntries('HostErrorEvent') },
      adapter: {
        sleep: async (ms) => {
          waits.push(ms);
        },
      },
    });
    env.logging.failNext('entries.list', { status: 429, retryAfter: 2 });
    const entries = await env.adapters.logging.listEntries({
      resourceNames: ['projects/project-1'],
      filter: 'timestamp>="2019-01-01T00:00:00Z" AND timestamp<="2020-01-01T00:00:00Z"',
    });
    expect(entries.map((e) => e.protoPayload?.methodName)).toEqual(['compute.instances.hostError']);
    expect(waits).toEqual([2000]);
    expect(env.logging.requests.length).toBe(2);
  });

  it('gives up after the bounded number of attempts on repeated 503', async () => {
    env = await startGceEnv({
      adapter: { sleep: async () => {}, retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5 } },
    });
    env.logging.failNext('entries.list', { status: 503, times: 10 });
    const err = await catchErr(
      env.adapters.logging.listEntries({ resourceNames: [`projects/${P}`], filter }),
    );
    expect((err as IntegrationError).status).toBe(503);
    expect(env.logging.requests.length).toBe(3);
  });

  it('honours the caller AbortSignal', async () => {
    env = await startGceEnv();
    env.logging.failNext('entries.list', { status: 0, hang: true });
    const controller = new AbortController();
    const pending = catchErr(
      env.adapters.logging.listEntries({ resourceNames: [`projects/${P}`], filter }, controller.signal),
    );
    // Abort while the request is in flight at the fake (which never answers it).
    const logging = env.logging;
    await expect.poll(() => logging.requests.length).toBe(1);
    controller.abort(new Error('user gave up'));
    expect(await pending).toBeInstanceOf(AppError);
  });
});

describe('endpoint parsing', () => {
  it('keeps a path prefix of an endpoint (a proxy or Private Service Connect) and refuses a non-URL', async () => {
    env = await startGceEnv();
    seedInstances(env);
    const seen: string[] = [];
    const adapters = createGceAdapters({
      compute: { apiEndpoint: `${env.compute.url}/prefix/` },
      accessToken: TEST_TOKEN,
      fetch: async (input, init) => {
        seen.push(String(input));
        return fetch(String(input).replace('/prefix', ''), init);
      },
    });
    expect(
      await adapters.compute.getInstance({ project: P, zone: Z, name: 'spot-vm-termination' }),
    ).not.toBeNull();
    expect(seen[0]).toBe(
      `${env.compute.url}/prefix/compute/v1/projects/${P}/zones/${Z}/instances/spot-vm-termination`,
    );
    expect(() =>
      createGceAdapters({ logging: { apiEndpoint: 'not a url' }, authClient: staticTokenClient() }),
    ).toThrow(/not a URL/);
  });
});
