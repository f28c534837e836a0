import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAppError } from '../../../src/core/errors.js';
import { createMonitoringAdapter, type MonitoringAdapter } from '../../../src/integrations/gce/monitoring.js';
import { buildMetricQuery, METRICS } from '../../../src/playbooks/diag/metrics.js';
import { staticTokenClient, TEST_TOKEN } from '../../fakes/gce-env.js';
import { type FakeMonitoring, startFakeMonitoring } from '../../fakes/gce-monitoring.js';

/**
 * The real @google-cloud/monitoring client (REST transport, endpoint override) against the loopback fake of
 * projects.timeSeries.list: paging through empty pages, aligned points newest first on the wire, INT64 as
 * strings, series without points, 403 for a project without the API, 429 with Retry-After, auth.
 */
const P = 'mon-proj';
const T0 = Date.parse('2026-11-20T10:00:00Z');
const window = { from: new Date(T0), to: new Date(T0 + 10 * 60_000) };
const target = { project: P, instanceId: '123456789', window };
const res = { project_id: P, instance_id: '123456789', zone: 'europe-west1-b' };

let fake: FakeMonitoring;
let adapter: MonitoringAdapter;
const sleeps: number[] = [];

beforeAll(async () => {
  fake = await startFakeMonitoring({ accessToken: TEST_TOKEN, maxPageSize: 1, emptyPagesBefore: 2 });
  const minutes = Array.from({ length: 10 }, (_, i) => T0 + (i + 1) * 60_000);
  fake.addSeries([
    ...['user', 'system', 'idle'].map((state, k) => ({
      project: P,
      metricType: METRICS.agentCpu.type,
      metricLabels: { cpu_state: state, cpu_number: '' },
      resourceLabels: res,
      metricKind: 'GAUGE' as const,
      valueType: 'DOUBLE' as const,
      samples: minutes.map((t, i) => ({ t, v: state === 'idle' ? 70 - i : 10 + k + i / 2 })),
    })),
    {
      project: P,
      metricType: METRICS.ifErrors.type,
      metricLabels: { device: 'ens4', direction: 'rx' },
      resourceLabels: res,
      metricKind: 'CUMULATIVE',
      valueType: 'INT64',
      samples: [
        { t: T0, v: 9_007_199_254_740_000 },
        ...minutes.map((t, i) => ({ t, v: 9_007_199_254_740_000 + i * 3 })),
      ],
    },
    {
      // A series of another instance, and one of this instance before the window: neither is returned.
      project: P,
      metricType: METRICS.memory.type,
      metricLabels: { state: 'used' },
      resourceLabels: { ...res, instance_id: '999' },
      metricKind: 'GAUGE',
      valueType: 'DOUBLE',
      samples: minutes.map((t) => ({ t, v: 50 })),
    },
    {
      project: P,
      metricType: METRICS.memory.type,
      metricLabels: { state: 'used' },
      resourceLabels: res,
      metricKind: 'GAUGE',
      valueType: 'DOUBLE',
      samples: [{ t: T0 - 3_600_000, v: 40 }],
    },
  ]);
  adapter = createMonitoringAdapter({
    apiEndpoint: fake.url,
    authClient: staticTokenClient(),
    timeoutMs: 5_000,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
  });
}, 30_000);

afterAll(async () => {
  await adapter?.close();
  await fake?.close();
});

describe('Cloud Monitoring adapter over the wire', () => {
  it('reads every page (through empty ones) and returns points oldest first, reduced by the server', async () => {
    fake.requests.length = 0;
    const series = await adapter.listTimeSeries(buildMetricQuery(METRICS.agentCpu, target));
    expect(series.map((s) => s.metricLabels.cpu_state).sort()).toEqual(['idle', 'system', 'user']);
    // 3 series, 1 per page, 2 empty pages first: 5 requests, each with the previous page's token.
    expect(fake.requests).toHaveLength(5);
    expect(fake.requests.slice(1).every((r) => typeof r.query.pageToken === 'string')).toBe(true);
    const idle = series.find((s) => s.metricLabels.cpu_state === 'idle');
    expect(idle?.points.map((p) => p.at)).toEqual(
      Array.from({ length: 10 }, (_, i) => new Date(T0 + (i + 1) * 60_000).toISOString()),
    );
    expect(idle?.points[0]?.value).toBe(70);
    expect(idle?.metricKind).toBe('GAUGE');
    const q = fake.requests[0]?.query ?? {};
    expect(q.filter).toBe(
      `metric.type="${METRICS.agentCpu.type}" AND resource.type="gce_instance" AND resource.labels.instance_id="123456789"`,
    );
    expect(q['interval.startTime']).toBe('2026-11-20T10:00:00.000Z');
    expect(q['interval.endTime']).toBe('2026-11-20T10:10:00.000Z');
    expect(q['aggregation.alignmentPeriod']).toBe('60s');
    expect(fake.requests[0]?.headers.authorization).toBe(`Bearer ${TEST_TOKEN}`);
  });

  it('turns INT64 strings into numbers (the wire carries them as strings, newest first)', async () => {
    fake.emptyPagesBefore = 0;
    const wire = await fetch(
      `${fake.url}/v3/projects/${P}/timeSeries?${new URLSearchParams({
        filter: `metric.type="${METRICS.ifErrors.type}"`,
        'interval.startTime': window.from.toISOString(),
        'interval.endTime': window.to.toISOString(),
        'aggregation.alignmentPeriod': '60s',
        'aggregation.perSeriesAligner': 'ALIGN_DELTA',
      })}`,
      { headers: { authorization: `Bearer ${TEST_TOKEN}` } },
    );
    fake.emptyPagesBefore = 2;
    const body = (await wire.json()) as {
      timeSeries: { points: { interval: { endTime: string }; value: { int64Value: unknown } }[] }[];
    };
    const points = body.timeSeries[0]?.points ?? [];
    expect(typeof points[0]?.value.int64Value).toBe('string');
    expect(Date.parse(points[0]?.interval.endTime ?? '')).toBeGreaterThan(
      Date.parse(points[1]?.interval.endTime ?? ''),
    );
    const [series] = await adapter.listTimeSeries(buildMetricQuery(METRICS.ifErrors, target));
    expect(series?.valueType).toBe('INT64');
    expect(series?.points.map((p) => p.value)).toEqual([0, 3, 3, 3, 3, 3, 3, 3, 3, 3]);
  });

  it('answers an empty list for a metric with no series in the window', async () => {
    expect(await adapter.listTimeSeries(buildMetricQuery(METRICS.memory, target))).toEqual([]);
    expect(await adapter.listTimeSeries(buildMetricQuery(METRICS.swap, target))).toEqual([]);
  });

  it('403 on a project without the API: a forbidden error that says to enable it', async () => {
    fake.disabledProjects.add('no-api-proj');
    const err = await adapter
      .listTimeSeries(buildMetricQuery(METRICS.cpu, { ...target, project: 'no-api-proj' }))
      .catch((e: unknown) => e);
    expect(isAppError(err) && err.code).toBe('forbidden');
    expect(isAppError(err) && err.userMessage).toBe(
      'the Cloud Monitoring API is not enabled in project no-api-proj: enable monitoring.googleapis.com to see host metrics',
    );
  });

  it('waits out a 429 with Retry-After and tries again', async () => {
    sleeps.length = 0;
    fake.failNext('timeSeries.list', { status: 429, retryAfter: 2 });
    const series = await adapter.listTimeSeries(buildMetricQuery(METRICS.ifErrors, target));
    expect(series).toHaveLength(1);
    expect(sleeps).toEqual([2000]);
  });

  it('a wrong token is refused (401), not retried', async () => {
    const bad = createMonitoringAdapter({
      apiEndpoint: fake.url,
      authClient: staticTokenClient('ya29.wrong'),
    });
    const err = await bad.listTimeSeries(buildMetricQuery(METRICS.cpu, target)).catch((e: unknown) => e);
    await bad.close();
    expect(isAppError(err) && err.code).toBe('forbidden');
  });
});
