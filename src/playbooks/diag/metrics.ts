import { AppError, isAppError } from '../../core/errors.js';
import { toTimeSeries } from '../../integrations/gce/monitoring-json.js';
import type {
  MonitoringAligner,
  MonitoringPort,
  MonitoringReducer,
  TimeSeries,
  TimeSeriesQuery,
} from '../../integrations/gce/monitoring-port.js';
import { readTextFile } from '../why-reboot/load-files.js';
import type { TimeWindow } from '../why-reboot/types.js';
import type { DiagSourceReport, MetricSet } from './types.js';

/**
 * Which Cloud Monitoring series /diag reads, how they are aligned (60 s; ALIGN_MEAN for gauges, ALIGN_RATE or
 * ALIGN_DELTA for counters, per FACTS.md), and how they are read live (one timeSeries.list per metric type,
 * all at once, under one deadline) or from files (`--metrics`: timeSeries.list response bodies).
 */

export const ALIGNMENT_SECONDS = 60;
const COMPUTE = 'compute.googleapis.com/instance/';
const AGENT = 'agent.googleapis.com/';

export interface MetricSpec {
  readonly type: string;
  readonly aligner: MonitoringAligner;
  readonly reducer?: MonitoringReducer;
  readonly groupBy?: readonly string[];
  /** Ops Agent metric (absent without the agent) or hypervisor metric (always there). */
  readonly agent: boolean;
}

export const METRICS = {
  cpu: { type: `${COMPUTE}cpu/utilization`, aligner: 'ALIGN_MEAN', agent: false },
  diskReadBytes: { type: `${COMPUTE}disk/read_bytes_count`, aligner: 'ALIGN_RATE', agent: false },
  diskWriteBytes: { type: `${COMPUTE}disk/write_bytes_count`, aligner: 'ALIGN_RATE', agent: false },
  diskReadOps: { type: `${COMPUTE}disk/read_ops_count`, aligner: 'ALIGN_RATE', agent: false },
  diskWriteOps: { type: `${COMPUTE}disk/write_ops_count`, aligner: 'ALIGN_RATE', agent: false },
  netReceived: { type: `${COMPUTE}network/received_bytes_count`, aligner: 'ALIGN_RATE', agent: false },
  netSent: { type: `${COMPUTE}network/sent_bytes_count`, aligner: 'ALIGN_RATE', agent: false },
  uptime: { type: `${COMPUTE}uptime`, aligner: 'ALIGN_SUM', agent: false },
  agentCpu: {
    type: `${AGENT}cpu/utilization`,
    aligner: 'ALIGN_MEAN',
    reducer: 'REDUCE_MEAN',
    groupBy: ['metric.label.cpu_state'],
    agent: true,
  },
  load1m: { type: `${AGENT}cpu/load_1m`, aligner: 'ALIGN_MEAN', agent: true },
  load5m: { type: `${AGENT}cpu/load_5m`, aligner: 'ALIGN_MEAN', agent: true },
  load15m: { type: `${AGENT}cpu/load_15m`, aligner: 'ALIGN_MEAN', agent: true },
  memory: { type: `${AGENT}memory/percent_used`, aligner: 'ALIGN_MEAN', agent: true },
  swap: { type: `${AGENT}swap/percent_used`, aligner: 'ALIGN_MEAN', agent: true },
  diskUsed: { type: `${AGENT}disk/percent_used`, aligner: 'ALIGN_MEAN', agent: true },
  ioTime: { type: `${AGENT}disk/io_time`, aligner: 'ALIGN_RATE', agent: true },
  pendingOps: { type: `${AGENT}disk/pending_operations`, aligner: 'ALIGN_MEAN', agent: true },
  processes: { type: `${AGENT}processes/count_by_state`, aligner: 'ALIGN_MEAN', agent: true },
  // CUMULATIVE INT64: ALIGN_DELTA keeps it an integer count per minute (INT64, a string on the wire).
  ifErrors: { type: `${AGENT}interface/errors`, aligner: 'ALIGN_DELTA', agent: true },
  tcp: {
    type: `${AGENT}network/tcp_connections`,
    aligner: 'ALIGN_MEAN',
    reducer: 'REDUCE_SUM',
    groupBy: ['metric.label.tcp_state'],
    agent: true,
  },
} as const satisfies Record<string, MetricSpec>;

export type MetricKey = keyof typeof METRICS;
export const METRIC_SPECS: readonly MetricSpec[] = Object.values(METRICS);

export const buildMetricFilter = (type: string, instanceId: string): string =>
  `metric.type="${type}" AND resource.type="gce_instance" AND resource.labels.instance_id="${instanceId}"`;

export const buildMetricQuery = (
  spec: MetricSpec,
  target: { project: string; instanceId: string; window: TimeWindow },
): TimeSeriesQuery => ({
  project: target.project,
  filter: buildMetricFilter(spec.type, target.instanceId),
  from: target.window.from,
  to: target.window.to,
  alignmentPeriodSeconds: ALIGNMENT_SECONDS,
  perSeriesAligner: spec.aligner,
  ...(spec.reducer ? { crossSeriesReducer: spec.reducer } : {}),
  ...(spec.groupBy ? { groupByFields: spec.groupBy } : {}),
});

export interface CollectedMetrics {
  readonly metrics: MetricSet;
  readonly report: DiagSourceReport;
  /** Failures per metric type (user-safe reasons). */
  readonly failures: readonly { readonly type: string; readonly reason: string }[];
  readonly filters: readonly string[];
}

/**
 * Every metric of METRICS at once, each its own timeSeries.list, all under `timeoutMs`. A failed metric is
 * reported, not thrown; when every one fails the source is `failed`.
 */
export const collectMetrics = async (
  monitoring: MonitoringPort,
  target: { project: string; instanceId: string; window: TimeWindow },
  timeoutMs: number,
  clock: () => number = performance.now.bind(performance),
  /** Ends the reads early (their outcome is then no one's answer: the instance proved to be another). */
  stop?: AbortSignal,
): Promise<CollectedMetrics> => {
  const started = clock();
  const signal = stop
    ? AbortSignal.any([AbortSignal.timeout(timeoutMs), stop])
    : AbortSignal.timeout(timeoutMs);
  const queries = METRIC_SPECS.map((spec) => buildMetricQuery(spec, target));
  const deadline = new Promise<never>((_, reject) => {
    signal.addEventListener(
      'abort',
      () =>
        reject(
          new AppError('timeout', `Cloud Monitoring did not answer within ${Math.round(timeoutMs / 1000)} s`),
        ),
      { once: true },
    );
  });
  deadline.catch(() => undefined);
  const results = await Promise.allSettled(
    queries.map((q) => Promise.race([monitoring.listTimeSeries(q, signal), deadline])),
  );
  const metrics = new Map<string, TimeSeries[]>();
  const failures: { type: string; reason: string }[] = [];
  /** The same failure (code and HTTP status) for several metric types is one reason, not twenty. */
  const kinds = new Map<string, { reason: string; count: number }>();
  results.forEach((r, i) => {
    const spec = METRIC_SPECS[i] as MetricSpec;
    if (r.status === 'fulfilled') {
      metrics.set(spec.type, r.value);
      return;
    }
    const reason = isAppError(r.reason) ? r.reason.userMessage : 'Cloud Monitoring failed unexpectedly';
    failures.push({ type: spec.type, reason });
    const status = (r.reason as { status?: unknown } | null)?.status;
    const key = isAppError(r.reason) ? `${r.reason.code}:${String(status ?? '')}` : 'unexpected';
    const kind = kinds.get(key);
    if (kind) kind.count += 1;
    else kinds.set(key, { reason, count: 1 });
  });
  const failedReason = [...kinds.values()]
    .map(({ reason, count }) => {
      const alike = failures.filter((f) => f.reason === reason).length;
      // Messages that name the metric differ only by it: say how many, once.
      return count > alike ? `${reason} (and ${count - 1} more metric types alike)` : reason;
    })
    .join('; ');
  const durationMs = Math.round(clock() - started);
  const series = [...metrics.values()].reduce((n, list) => n + list.length, 0);
  const detail = `${METRIC_SPECS.length} metric types, ${ALIGNMENT_SECONDS} s alignment`;
  let report: DiagSourceReport;
  if (failures.length === METRIC_SPECS.length) {
    report = { name: 'metrics', status: 'failed', reason: failedReason, items: 0, durationMs, detail };
  } else if (series === 0) {
    report = {
      name: 'metrics',
      status: 'empty',
      reason: 'no time series for this instance in the window (was it running?)',
      items: 0,
      durationMs,
      detail,
    };
  } else {
    report = {
      name: 'metrics',
      status: 'ok',
      reason: failures.length > 0 ? `${failures.length} metric type(s) could not be read` : null,
      items: series,
      durationMs,
      detail,
    };
  }
  return { metrics, report, failures, filters: queries.map((q) => q.filter) };
};

/**
 * A `--metrics` file: one timeSeries.list response body `{"timeSeries": [...]}`, or a JSON array of such bodies
 * (e.g. one per metric type, or every page). Series are as the API returns them (aligned or raw): raw
 * DELTA/CUMULATIVE counters are turned into per-second rates here, like ALIGN_RATE would.
 */
export const loadMetricsFile = async (path: string): Promise<TimeSeries[]> => {
  const text = await readTextFile(path);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new AppError(
      'bad_input',
      `${path}: not JSON (expected a timeSeries.list response body {"timeSeries": [...]}, or an array of them)`,
    );
  }
  const bodies = Array.isArray(value) ? value : [value];
  const out: TimeSeries[] = [];
  bodies.forEach((body, i) => {
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw new AppError('bad_input', `${path}: item ${i + 1} is not a timeSeries.list response body`);
    }
    const list = (body as { timeSeries?: unknown }).timeSeries;
    if (list === undefined) {
      // `{}` (or only a nextPageToken) is an empty page.
      if (Object.keys(body).every((k) => k === 'nextPageToken' || k === 'unit' || k === 'executionErrors'))
        return;
      if ('timeSeriesData' in body) {
        throw new AppError(
          'bad_input',
          `${path}: this is a timeSeries.query (MQL) response; export timeSeries.list responses instead`,
        );
      }
      throw new AppError('bad_input', `${path}: item ${i + 1} has no "timeSeries" array`);
    }
    if (!Array.isArray(list)) throw new AppError('bad_input', `${path}: "timeSeries" is not an array`);
    for (const raw of list) {
      const series = toTimeSeries(raw);
      if (series.metricType === '') throw new AppError('bad_input', `${path}: a series has no metric.type`);
      out.push(asRate(series, raw));
    }
  });
  return out;
};

/** Raw DELTA/CUMULATIVE points (with start times) -> per-second rates, as ALIGN_RATE gives them. */
const asRate = (series: TimeSeries, raw: unknown): TimeSeries => {
  if (series.metricKind !== 'DELTA' && series.metricKind !== 'CUMULATIVE') return series;
  const rawPoints = ((raw as { points?: unknown[] }).points ?? []) as {
    interval?: { startTime?: string; endTime?: string };
  }[];
  const startOf = new Map<string, number>();
  for (const p of rawPoints) {
    const end = p.interval?.endTime ? new Date(p.interval.endTime).toISOString() : null;
    const start = p.interval?.startTime ? Date.parse(p.interval.startTime) : Number.NaN;
    if (end && !Number.isNaN(start)) startOf.set(end, start);
  }
  const points = [];
  let prev: { at: number; value: number } | null = null;
  for (const p of series.points) {
    const at = Date.parse(p.at);
    if (p.value === null) continue;
    if (series.metricKind === 'DELTA') {
      const start = startOf.get(p.at);
      const seconds = start !== undefined && at > start ? (at - start) / 1000 : ALIGNMENT_SECONDS;
      points.push({ at: p.at, value: p.value / seconds });
    } else if (prev) {
      const delta = p.value >= prev.value ? p.value - prev.value : p.value; // a reset starts from 0
      points.push({ at: p.at, value: delta / Math.max(1, (at - prev.at) / 1000) });
    }
    if (series.metricKind === 'CUMULATIVE') prev = { at, value: p.value };
  }
  return { ...series, metricKind: 'GAUGE', valueType: 'DOUBLE', points };
};

/** Series by metric type. */
export const toMetricSet = (series: readonly TimeSeries[]): MetricSet => {
  const map = new Map<string, TimeSeries[]>();
  for (const s of series) {
    const list = map.get(s.metricType) ?? [];
    list.push(s);
    map.set(s.metricType, list);
  }
  return map;
};
