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
import { AppError } from '../../core/errors.js';
import { CLOUD_PLATFORM_SCOPE } from './adapter.js';
import {
  DEFAULT_RETRY,
  type GceErrorContext,
  type RetryPolicy,
  type Sleep,
  timeoutError,
  toIntegrationError,
  withRetry,
} from './errors.js';
import { parseMonitoringEndpoint } from './monitoring-endpoint.js';
import type { MonitoringPort, TimeSeries, TimeSeriesPoint, TimeSeriesQuery } from './monitoring-port.js';

export { DEFAULT_MONITORING_ENDPOINT } from './monitoring-endpoint.js';

/** The API's page size ceiling for timeSeries.list. */
const PAGE_SIZE = 10_000;
const MAX_PAGES = 1_000;

type MetricServiceClient = InstanceType<typeof MonitoringSdk.MetricServiceClient>;

const loadMonitoring = (): typeof MonitoringSdk =>
  createRequire(import.meta.url)('@google-cloud/monitoring') as typeof MonitoringSdk;

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

const asRecord = (v: unknown): Record<string, unknown> =>
  v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : {};

const labelsOf = (v: unknown): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(asRecord(v))) if (typeof val === 'string') out[k] = val;
  return out;
};

/** A protobuf Timestamp (JSON string, or `{seconds, nanos}` with seconds as number/string/Long) -> ISO. */
const isoOf = (v: unknown): string | null => {
  if (typeof v === 'string') return Number.isNaN(Date.parse(v)) ? null : new Date(v).toISOString();
  const r = asRecord(v);
  if (r.seconds === undefined) return null;
  const seconds = Number(String(r.seconds));
  const nanos = Number(r.nanos ?? 0);
  if (!Number.isFinite(seconds)) return null;
  return new Date(seconds * 1000 + Math.floor(nanos / 1e6)).toISOString();
};

/** TypedValue -> number: doubleValue, int64Value (a string, number or Long), boolValue; else null. */
const pointValue = (v: unknown): number | null => {
  const r = asRecord(v);
  for (const key of ['doubleValue', 'int64Value'] as const) {
    const raw = r[key];
    if (raw === undefined || raw === null) continue;
    const n = typeof raw === 'number' ? raw : Number(String(raw));
    if (Number.isFinite(n)) return n;
  }
  if (typeof r.boolValue === 'boolean') return r.boolValue ? 1 : 0;
  const dist = asRecord(r.distributionValue);
  if (dist.mean !== undefined) return Number(dist.mean);
  return null;
};

const enumName = (v: unknown, names: readonly string[]): string =>
  typeof v === 'string' ? v : typeof v === 'number' ? (names[v] ?? String(v)) : 'METRIC_KIND_UNSPECIFIED';

const METRIC_KINDS = ['METRIC_KIND_UNSPECIFIED', 'GAUGE', 'DELTA', 'CUMULATIVE'];
const VALUE_TYPES = ['VALUE_TYPE_UNSPECIFIED', 'BOOL', 'INT64', 'DOUBLE', 'STRING', 'DISTRIBUTION', 'MONEY'];

/** One TimeSeries message (as the client decodes it) -> the port's shape, points oldest first. */
export const toTimeSeries = (raw: unknown): TimeSeries => {
  const r = asRecord(raw);
  const metric = asRecord(r.metric);
  const resource = asRecord(r.resource);
  const points: TimeSeriesPoint[] = [];
  for (const p of Array.isArray(r.points) ? r.points : []) {
    const point = asRecord(p);
    const interval = asRecord(point.interval);
    const at = isoOf(interval.endTime) ?? isoOf(interval.startTime);
    if (at === null) continue;
    points.push({ at, value: pointValue(point.value) });
  }
  points.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  return {
    metricType: typeof metric.type === 'string' ? metric.type : '',
    metricLabels: labelsOf(metric.labels),
    resourceType: typeof resource.type === 'string' ? resource.type : '',
    resourceLabels: labelsOf(resource.labels),
    metricKind: enumName(r.metricKind, METRIC_KINDS),
    valueType: enumName(r.valueType, VALUE_TYPES),
    unit: typeof r.unit === 'string' && r.unit !== '' ? r.unit : null,
    points,
  };
};

/** Rejects when the signal aborts; cancels the gax call (it has `cancel()`) so its socket is released. */
const raceSignal = <T>(promise: Promise<T>, signal: AbortSignal): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    const cancel = (): void => {
      (promise as { cancel?: () => void }).cancel?.();
      reject(signal.reason);
    };
    if (signal.aborted) return cancel();
    signal.addEventListener('abort', cancel, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', cancel);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', cancel);
        reject(e);
      },
    );
  });

export const createMonitoringAdapter = (opts: MonitoringAdapterOptions = {}): MonitoringAdapter => {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const policy = opts.retry ?? DEFAULT_RETRY;
  const endpoint = parseMonitoringEndpoint(opts.apiEndpoint);
  const auth: unknown = opts.authClient ?? new GoogleAuth({ scopes: [CLOUD_PLATFORM_SCOPE] });
  let client: MetricServiceClient | null = null;
  const getClient = (): MetricServiceClient => {
    client ??= new (loadMonitoring().MetricServiceClient)({
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
