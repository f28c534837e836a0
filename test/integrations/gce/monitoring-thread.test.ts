import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IntegrationError, isAppError } from '../../../src/core/errors.js';
import { createMonitoringAdapter, type MonitoringAdapter } from '../../../src/integrations/gce/monitoring.js';
import { createMonitoringThreadAdapter } from '../../../src/integrations/gce/monitoring-thread.js';
import { buildMetricQuery, METRICS } from '../../../src/playbooks/diag/metrics.js';
import { staticTokenClient, TEST_TOKEN } from '../../fakes/gce-env.js';
import { type FakeMonitoring, startFakeMonitoring } from '../../fakes/gce-monitoring.js';

/**
 * Cloud Monitoring's client in a worker thread (what a live `opsbot diag` uses), against the loopback fake:
 * the same answers and the same errors as the in-process adapter, an abort that ends a read at once, and a
 * thread that cannot start or dies handing its reads to the in-process fallback.
 */
const P = 'thread-proj';
const T0 = Date.parse('2026-11-20T10:00:00Z');
const window = { from: new Date(T0), to: new Date(T0 + 10 * 60_000) };
const target = { project: P, instanceId: '42', window };
const res = { project_id: P, instance_id: '42', zone: 'europe-west1-b' };

let fake: FakeMonitoring;
let inProcess: MonitoringAdapter;
const opened: MonitoringAdapter[] = [];
const threadAdapter = (options: Parameters<typeof createMonitoringThreadAdapter>[0] = {}) => {
  let fallbackCalls = 0;
  const a = createMonitoringThreadAdapter(
    { apiEndpoint: fake.url, accessToken: TEST_TOKEN, timeoutMs: 10_000, ...options },
    async () => {
      fallbackCalls++;
      return inProcess;
    },
  );
  opened.push(a);
  return { adapter: a, fallbackCalls: () => fallbackCalls };
};

beforeAll(async () => {
  fake = await startFakeMonitoring({ accessToken: TEST_TOKEN, maxPageSize: 1, emptyPagesBefore: 1 });
  const minutes = Array.from({ length: 10 }, (_, i) => T0 + (i + 1) * 60_000);
  fake.addSeries([
    ...['user', 'steal', 'idle'].map((state, k) => ({
      project: P,
      metricType: METRICS.agentCpu.type,
      metricLabels: { cpu_state: state, cpu_number: '' },
      resourceLabels: res,
      metricKind: 'GAUGE' as const,
      valueType: 'DOUBLE' as const,
      samples: minutes.map((t, i) => ({ t, v: state === 'idle' ? 70 - i : 10 + k + i / 2 })),
    })),
  ]);
  inProcess = createMonitoringAdapter({ apiEndpoint: fake.url, authClient: staticTokenClient() });
}, 30_000);

afterAll(async () => {
  await Promise.all(opened.map((a) => a.close()));
  await inProcess?.close();
  await fake?.close();
});

describe('Cloud Monitoring in a worker thread', () => {
  it('answers what the in-process adapter answers (every page, points oldest first), with the token sent', async () => {
    const { adapter, fallbackCalls } = threadAdapter();
    const query = buildMetricQuery(METRICS.agentCpu, target);
    fake.requests.length = 0;
    const viaThread = await adapter.listTimeSeries(query);
    expect(fake.requests.length).toBeGreaterThanOrEqual(4); // 3 series a page each, an empty page first
    expect(fake.requests.every((r) => r.headers.authorization === `Bearer ${TEST_TOKEN}`)).toBe(true);
    expect(viaThread).toEqual(await inProcess.listTimeSeries(query));
    expect(viaThread.map((s) => s.metricLabels.cpu_state).sort()).toEqual(['idle', 'steal', 'user']);
    expect(fallbackCalls()).toBe(0);
  });

  it('a 403 crosses as the same error: forbidden, the same words, the service and the status', async () => {
    fake.disabledProjects.add('no-api-thread');
    const { adapter } = threadAdapter();
    const query = buildMetricQuery(METRICS.cpu, { ...target, project: 'no-api-thread' });
    const [viaThread, local] = await Promise.all([
      adapter.listTimeSeries(query).catch((e: unknown) => e),
      inProcess.listTimeSeries(query).catch((e: unknown) => e),
    ]);
    expect(viaThread).toBeInstanceOf(IntegrationError);
    const e = viaThread as IntegrationError;
    const l = local as IntegrationError;
    expect({ code: e.code, userMessage: e.userMessage, service: e.service, status: e.status }).toEqual({
      code: l.code,
      userMessage: l.userMessage,
      service: 'monitoring',
      status: 403,
    });
    expect(e.userMessage).toContain('enable monitoring.googleapis.com');
  });

  it('an abort ends a read that Cloud Monitoring never answers', async () => {
    const { adapter } = threadAdapter();
    fake.failNext('timeSeries.list', { status: 200, hang: true });
    fake.requests.length = 0;
    const stop = new AbortController();
    const read = adapter.listTimeSeries(buildMetricQuery(METRICS.agentCpu, target), stop.signal);
    read.catch(() => undefined);
    await expect.poll(() => fake.requests.length).toBeGreaterThan(0);
    stop.abort();
    // The fake holds the request open for good: only the abort can end the read.
    const err = await read.catch((e: unknown) => e);
    expect(isAppError(err) && err.code).toBe('timeout');
  });

  it('a thread that cannot start: every read is served in process', async () => {
    const { adapter, fallbackCalls } = threadAdapter({
      startWorker: () => new Worker('process.exit(3)', { eval: true }),
    });
    const series = await adapter.listTimeSeries(buildMetricQuery(METRICS.agentCpu, target));
    expect(series).toHaveLength(3);
    expect(fallbackCalls()).toBe(1);
  });

  it('a thread that dies holding a read: the read is done again in process', async () => {
    const { adapter, fallbackCalls } = threadAdapter({
      startWorker: () =>
        new Worker(
          "require('node:worker_threads').parentPort.on('message', (m) => { if (m.type === 'list') process.exit(5); })",
          { eval: true },
        ),
    });
    const series = await adapter.listTimeSeries(buildMetricQuery(METRICS.agentCpu, target));
    expect(series).toHaveLength(3);
    expect(fallbackCalls()).toBe(1);
  });
});
