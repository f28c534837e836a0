/**
 * Cloud Monitoring behind MonitoringPort: the real `@google-cloud/monitoring` MetricServiceClient in REST
 * (fallback) mode, pointed at a configurable base URL (`google.endpoints.monitoring`: Private Service Connect,
 * or a loopback fake in tests), loaded on first use (google-gax costs about a second of CPU to load).
 *
 * timeSeries.list: one metric type per request, aligned server-side; every page is read (a page may be empty
 * and still carry a token); points come newest first and are returned oldest first; INT64 values (strings on
 * the wire) become numbers. Each call has a deadline, honours the caller's AbortSignal and is retried on
 * 429/5xx with bounded backoff; errors become IntegrationErrors that say what to do (403: the API is not
 * enabled, or the account lacks roles/monitoring.viewer).
 */
import { createRequire } from 'node:module';
import type * as MonitoringSdk from '@google-cloud/monitoring';
import { GoogleAuth } from 'google-auth-library';
import {
  DEFAULT_RETRY,
  type GceErrorContext,
  type RetryPolicy,
  raceSignal,
  type Sleep,
  timeoutError,
  toIntegrationError,
  withRetry,
} from './errors.js';
import { METRIC_SERVICE_CLIENT_MODULE, parseMonitoringEndpoint } from './monitoring-endpoint.js';
import { asRecord, toTimeSeries } from './monitoring-json.js';
import { CLOUD_PLATFORM_SCOPE } from './rest.js';

export { toTimeSeries } from './monitoring-json.js';

import type { MonitoringPort, TimeSeries, TimeSeriesQuery } from './monitoring-port.js';

export { DEFAULT_MONITORING_ENDPOINT } from './monitoring-endpoint.js';

/** The API's page size ceiling for timeSeries.list. */
const PAGE_SIZE = 10_000;
const MAX_PAGES = 1_000;

type MetricServiceClient = InstanceType<typeof MonitoringSdk.MetricServiceClient>;

/**
 * The package's MetricServiceClient module on its own (METRIC_SERVICE_CLIENT_MODULE): the package index also
 * loads the seven other v3 clients and a 1.3 MB static protobuf module, about 0.1 s of CPU a short CLI run
 * would pay for nothing. The index when a release has moved that file.
 */
const loadMetricServiceClient = (): typeof MonitoringSdk.MetricServiceClient => {
  const require = createRequire(import.meta.url);
  try {
    const client = (require(METRIC_SERVICE_CLIENT_MODULE) as Partial<typeof MonitoringSdk>)
      .MetricServiceClient;
    if (client) return client;
  } catch {
    // moved in this release: the index below
  }
  return (require('@google-cloud/monitoring') as typeof MonitoringSdk).MetricServiceClient;
};

export interface MonitoringAdapterOptions {
  readonly apiEndpoint?: string | undefined;
  /** A google-auth-library client; default Application Default Credentials (cloud-platform scope). */
  readonly authClient?: unknown;
  /** Deadline of each HTTP call (default 30 s). */
  readonly timeoutMs?: number | undefined;
  readonly retry?: RetryPolicy | undefined;
  readonly sleep?: Sleep | undefined;
}

export interface MonitoringAdapter extends MonitoringPort {
  /** Loads the client library now (the server warms it in the background; the CLI starts it early). */
  warm(): void;
  close(): Promise<void>;
}

const timestamp = (d: Date) => ({
  seconds: Math.floor(d.getTime() / 1000),
  nanos: (d.getTime() % 1000) * 1_000_000,
});

export const createMonitoringAdapter = (opts: MonitoringAdapterOptions = {}): MonitoringAdapter => {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const policy = opts.retry ?? DEFAULT_RETRY;
  const endpoint = parseMonitoringEndpoint(opts.apiEndpoint);
  const auth: unknown = opts.authClient ?? new GoogleAuth({ scopes: [CLOUD_PLATFORM_SCOPE] });
  let client: MetricServiceClient | null = null;
  const getClient = (): MetricServiceClient => {
    client ??= new (loadMetricServiceClient())({
      apiEndpoint: endpoint.host,
      port: endpoint.port,
      protocol: endpoint.protocol,
      fallback: true,
      // biome-ignore lint/suspicious/noExplicitAny: the SDK's option type names google-auth-library's classes
      authClient: auth as any,
    });
    return client;
  };

  return {
    warm() {
      getClient();
    },
    async listTimeSeries(query: TimeSeriesQuery, signal?: AbortSignal): Promise<TimeSeries[]> {
      const metricType = /metric\.type\s*=\s*"([^"]+)"/.exec(query.filter)?.[1] ?? 'metrics';
      const ctx: GceErrorContext = {
        service: 'monitoring',
        operation: `reading ${metricType.replace(/^[a-z]+\.googleapis\.com\//, '')}`,
        project: query.project,
      };
      const api = getClient();
      const out: TimeSeries[] = [];
      let pageToken: string | undefined;
      for (let page = 0; page < MAX_PAGES; page++) {
        const request = {
          name: `projects/${query.project}`,
          filter: query.filter,
          interval: { startTime: timestamp(query.from), endTime: timestamp(query.to) },
          aggregation: {
            alignmentPeriod: { seconds: query.alignmentPeriodSeconds },
            perSeriesAligner: query.perSeriesAligner,
            ...(query.crossSeriesReducer ? { crossSeriesReducer: query.crossSeriesReducer } : {}),
            ...(query.groupByFields?.length ? { groupByFields: [...query.groupByFields] } : {}),
          },
          view: 'FULL' as const,
          pageSize: PAGE_SIZE,
          ...(pageToken ? { pageToken } : {}),
        };
        const response = await withRetry(
          async () => {
            const callSignal = signal
              ? AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)])
              : AbortSignal.timeout(timeoutMs);
            try {
              const [resources, , raw] = await raceSignal(
                api.listTimeSeries(request, { timeout: timeoutMs, retry: null, autoPaginate: false }),
                callSignal,
              );
              return { resources, next: asRecord(raw).nextPageToken };
            } catch (err) {
              if (callSignal.aborted && !signal?.aborted) throw timeoutError({ ...ctx, timeoutMs }, err);
              throw toIntegrationError(err, ctx);
            }
          },
          { policy, signal, ...(opts.sleep ? { sleep: opts.sleep } : {}) },
        ).catch((err: unknown) => {
          throw toIntegrationError(err, ctx);
        });
        for (const r of response.resources ?? []) out.push(toTimeSeries(r));
        pageToken = typeof response.next === 'string' && response.next !== '' ? response.next : undefined;
        if (!pageToken) break;
      }
      return out;
    },
    async close() {
      await client?.close().catch(() => undefined);
    },
  };
};
