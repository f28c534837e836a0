/**
 * A protocol-faithful fake of Cloud Monitoring `projects.timeSeries.list` (`GET /v3/projects/{p}/timeSeries`)
 * on loopback, for the real `@google-cloud/monitoring` client in REST (fallback) mode: bearer auth; the
 * request validation the API does (one metric type per filter, an interval with an end, an aligner valid for
 * the metric kind, an alignment period with an aligner); a filter evaluator for `metric.type`,
 * `resource.type` and `resource.labels.*` / `metric.labels.*` equalities joined by AND; server-side
 * alignment (ALIGN_MEAN, ALIGN_MAX, ALIGN_SUM, ALIGN_RATE per second, ALIGN_DELTA), cross-series reduction
 * with groupByFields; points newest first; INT64 values as JSON strings; series without a point in the
 * interval left out; paging with opaque tokens bound to the query (and optional empty pages that still carry
 * a token); 403 PERMISSION_DENIED for a project without the API; recorded requests, latency, failures.
 */
import {
  type FakeServerCore,
  type InjectedFailure,
  sendGoogleError,
  sendJson,
  startFakeServer,
} from './gce-http.js';

export type MetricKind = 'GAUGE' | 'DELTA' | 'CUMULATIVE';
export type ValueType = 'DOUBLE' | 'INT64';

/** One raw series as the agent or the hypervisor writes it: samples at their end time (ms). */
export interface FakeSeries {
  readonly project: string;
  readonly metricType: string;
  readonly metricLabels?: Readonly<Record<string, string>>;
  readonly resourceType?: string; // default gce_instance
  readonly resourceLabels: Readonly<Record<string, string>>; // project_id, instance_id, zone
  readonly metricKind: MetricKind;
  readonly valueType: ValueType;
  readonly unit?: string;
  /**
   * GAUGE: the value at `t`. DELTA: the amount over the minute ending at `t`. CUMULATIVE: the running total
   * at `t` (a restart of the process resets it).
   */
  readonly samples: readonly { readonly t: number; readonly v: number }[];
}

export interface FakeMonitoringOptions {
  readonly accessToken: string;
  /** Series per page at most (default 2, so every test pages). */
  readonly maxPageSize?: number;
  /** Empty pages (with a token) served before the first real page. */
  readonly emptyPagesBefore?: number;
}

export interface FakeMonitoring extends FakeServerCore {
  readonly series: FakeSeries[];
  maxPageSize: number;
  emptyPagesBefore: number;
  /** Projects where the Monitoring API is disabled: 403 SERVICE_DISABLED. */
  readonly disabledProjects: Set<string>;
  addSeries(series: readonly FakeSeries[]): void;
  /** Latency (ms) of requests whose filter contains the key, e.g. { 'agent.googleapis.com': 800 }. */
  readonly latencyByFilter: Record<string, number>;
  failNext(route: 'timeSeries.list', failure: InjectedFailure): void;
  /** The metric types asked for, in order. */
  metricTypes(): string[];
}

interface Clause {
  readonly field: string;
  readonly value: string;
}

/** `a.b = "v" AND c = "w"` (also `:` for has-substring on labels). Throws a message on anything else. */
const parseFilter = (filter: string): Clause[] => {
  const parts = filter.split(/\s+AND\s+/);
  return parts.map((part) => {
    const m = /^\s*\(?\s*([a-z_.]+(?:\.[A-Za-z0-9_]+)*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*\)?\s*$/.exec(part);
    if (!m?.[1] || m[2] === undefined) throw new Error(`Could not parse filter "${part.trim()}"`);
    return { field: m[1], value: m[2].replace(/\\(.)/g, '$1') };
  });
};

const fieldOf = (s: FakeSeries, field: string): string | undefined => {
  if (field === 'metric.type') return s.metricType;
  if (field === 'resource.type') return s.resourceType ?? 'gce_instance';
  const m = /^(metric|resource)\.labels?\.(.+)$/.exec(field);
  if (!m?.[2]) return undefined;
  return m[1] === 'metric' ? s.metricLabels?.[m[2]] : s.resourceLabels[m[2]];
};

const ALIGNERS = new Set(['ALIGN_NONE', 'ALIGN_MEAN', 'ALIGN_MAX', 'ALIGN_SUM', 'ALIGN_RATE', 'ALIGN_DELTA']);
const REDUCERS = new Set(['REDUCE_NONE', 'REDUCE_MEAN', 'REDUCE_SUM', 'REDUCE_MAX']);
/** google.monitoring.v3 enum numbers: the REST client asks `$alt=json;enum-encoding=int` and sends these. */
const ALIGNER_NUMBERS: Readonly<Record<string, string>> = {
  '0': 'ALIGN_NONE',
  '1': 'ALIGN_DELTA',
  '2': 'ALIGN_RATE',
  '11': 'ALIGN_MAX',
  '12': 'ALIGN_MEAN',
  '14': 'ALIGN_SUM',
};
const REDUCER_NUMBERS: Readonly<Record<string, string>> = {
  '0': 'REDUCE_NONE',
  '1': 'REDUCE_MEAN',
  '3': 'REDUCE_MAX',
  '4': 'REDUCE_SUM',
};
const METRIC_KIND_NUMBERS: Readonly<Record<MetricKind, number>> = { GAUGE: 1, DELTA: 2, CUMULATIVE: 3 };
const VALUE_TYPE_NUMBERS: Readonly<Record<ValueType, number>> = { INT64: 2, DOUBLE: 3 };
const enumName = (
  value: string | undefined,
  numbers: Readonly<Record<string, string>>,
): string | undefined =>
  value !== undefined && /^\d+$/.test(value) ? (numbers[value] ?? `#${value}`) : value;

interface Aligned {
  readonly labels: { metric: Record<string, string>; resource: Record<string, string> };
  readonly kind: MetricKind;
  readonly valueType: ValueType;
  readonly unit?: string;
  readonly points: Map<number, number>; // period end (ms) -> value
}

/** Per-series alignment over periods ending at start + k*period (k >= 1), as the API aligns. */
const align = (s: FakeSeries, fromMs: number, toMs: number, periodMs: number, aligner: string): Aligned => {
  const points = new Map<number, number>();
  const buckets = new Map<number, { t: number; v: number }[]>();
  const samples = [...s.samples].sort((a, b) => a.t - b.t);
  let valueType = s.valueType;
  let kind = s.metricKind;
  if (aligner === 'ALIGN_NONE') {
    for (const p of samples) if (p.t > fromMs && p.t <= toMs) points.set(p.t, p.v);
  } else {
    // CUMULATIVE counters become per-minute deltas first (a drop = a counter reset: the new value is the delta).
    const deltas =
      s.metricKind === 'CUMULATIVE'
        ? samples.slice(1).map((p, i) => {
            const prev = samples[i]?.v ?? 0;
            return { t: p.t, v: p.v >= prev ? p.v - prev : p.v };
          })
        : samples;
    for (const p of deltas) {
      if (p.t <= fromMs || p.t > toMs) continue;
      const end = fromMs + Math.ceil((p.t - fromMs) / periodMs) * periodMs;
      const list = buckets.get(end) ?? [];
      list.push(p);
      buckets.set(end, list);
    }
    for (const [end, list] of buckets) {
      const values = list.map((p) => p.v);
      const sum = values.reduce((a, b) => a + b, 0);
      let v: number;
      if (aligner === 'ALIGN_MEAN') v = sum / values.length;
      else if (aligner === 'ALIGN_MAX') v = Math.max(...values);
      else if (aligner === 'ALIGN_RATE') v = sum / (periodMs / 1000);
      else v = sum; // ALIGN_SUM, ALIGN_DELTA
      points.set(end, v);
    }
    if (aligner === 'ALIGN_MEAN' || aligner === 'ALIGN_RATE') valueType = 'DOUBLE';
    kind =
      aligner === 'ALIGN_DELTA' || aligner === 'ALIGN_SUM' ? (kind === 'GAUGE' ? 'GAUGE' : 'DELTA') : 'GAUGE';
  }
  return {
    labels: { metric: { ...(s.metricLabels ?? {}) }, resource: { ...s.resourceLabels } },
    kind,
    valueType,
    ...(s.unit ? { unit: s.unit } : {}),
    points,
  };
};

const reduce = (series: Aligned[], reducer: string, groupBy: readonly string[]): Aligned[] => {
  if (reducer === 'REDUCE_NONE' || series.length === 0) return series;
  const groups = new Map<string, Aligned[]>();
  for (const s of series) {
    const key = JSON.stringify(
      groupBy.map((f) => {
        const m = /^(metric|resource)\.labels?\.(.+)$/.exec(f);
        return m?.[2] ? (m[1] === 'metric' ? s.labels.metric[m[2]] : s.labels.resource[m[2]]) : undefined;
      }),
    );
    const list = groups.get(key) ?? [];
    list.push(s);
    groups.set(key, list);
  }
  return [...groups.values()].map((list) => {
    const first = list[0] as Aligned;
    const metric: Record<string, string> = {};
    const resource: Record<string, string> = {};
    for (const f of groupBy) {
      const m = /^(metric|resource)\.labels?\.(.+)$/.exec(f);
      if (!m?.[2]) continue;
      const v = m[1] === 'metric' ? first.labels.metric[m[2]] : first.labels.resource[m[2]];
      if (v !== undefined) (m[1] === 'metric' ? metric : resource)[m[2]] = v;
    }
    const times = new Set(list.flatMap((s) => [...s.points.keys()]));
    const points = new Map<number, number>();
    for (const t of times) {
      const values = list.map((s) => s.points.get(t)).filter((v): v is number => v !== undefined);
      const sum = values.reduce((a, b) => a + b, 0);
      points.set(
        t,
        reducer === 'REDUCE_MEAN'
          ? sum / values.length
          : reducer === 'REDUCE_MAX'
            ? Math.max(...values)
            : sum,
      );
    }
    return {
      labels: { metric, resource },
      kind: first.kind,
      valueType: reducer === 'REDUCE_MEAN' ? 'DOUBLE' : first.valueType,
      ...(first.unit ? { unit: first.unit } : {}),
      points,
    };
  });
};

const toJson = (
  s: Aligned,
  metricType: string,
  resourceType: string,
  periodMs: number,
  intEnums: boolean,
) => ({
  metric: { type: metricType, ...(Object.keys(s.labels.metric).length ? { labels: s.labels.metric } : {}) },
  resource: { type: resourceType, labels: s.labels.resource },
  metricKind: intEnums ? METRIC_KIND_NUMBERS[s.kind] : s.kind,
  valueType: intEnums ? VALUE_TYPE_NUMBERS[s.valueType] : s.valueType,
  ...(s.unit ? { unit: s.unit } : {}),
  // Newest first, as the API returns them.
  points: [...s.points.entries()]
    .sort((a, b) => b[0] - a[0])
    .map(([t, v]) => ({
      interval: {
        ...(s.kind === 'GAUGE' ? {} : { startTime: new Date(t - periodMs).toISOString() }),
        endTime: new Date(t).toISOString(),
      },
      // INT64 travels as a decimal string in JSON (proto3 JSON mapping).
      value: s.valueType === 'INT64' ? { int64Value: String(Math.round(v)) } : { doubleValue: v },
    })),
});

const parseDurationSeconds = (v: string | undefined): number | null => {
  if (v === undefined) return null;
  const m = /^(\d+(?:\.\d+)?)s$/.exec(v);
  return m?.[1] ? Number(m[1]) : null;
};

export const startFakeMonitoring = async (options: FakeMonitoringOptions): Promise<FakeMonitoring> => {
  const series: FakeSeries[] = [];
  const disabledProjects = new Set<string>();
  const latencyByFilter: Record<string, number> = {};
  const state = {
    maxPageSize: options.maxPageSize ?? 2,
    emptyPagesBefore: options.emptyPagesBefore ?? 0,
  };
  const core = await startFakeServer({
    accessToken: options.accessToken,
    serviceName: 'Cloud Monitoring',
    match: (method, path) => {
      const m = /^\/v3\/projects\/([^/]+)\/timeSeries$/.exec(path);
      return method === 'GET' && m?.[1] ? { route: 'timeSeries.list', params: { project: m[1] } } : null;
    },
    latencyOf: (routed) => {
      if (routed.route !== 'timeSeries.list') return undefined;
      const filter = String(core.requests[core.requests.length - 1]?.query.filter ?? '');
      const hit = Object.keys(latencyByFilter).find((k) => filter.includes(k));
      return hit === undefined ? undefined : latencyByFilter[hit];
    },
    handle: ({ routed, res, query }) => {
      const project = routed.params.project as string;
      if (disabledProjects.has(project)) {
        // The real answer: PERMISSION_DENIED, legacy reason accessNotConfigured, an ErrorInfo SERVICE_DISABLED
        // naming the service and the consumer, and a Help link to enable it.
        const enable = `https://console.developers.google.com/apis/api/monitoring.googleapis.com/overview?project=${project}`;
        sendGoogleError(
          res,
          403,
          `Cloud Monitoring API has not been used in project ${project} before or it is disabled. Enable it by visiting ${enable} then retry. If you enabled this API recently, wait a few minutes for the action to propagate to our systems and retry.`,
          {},
          {
            reason: 'accessNotConfigured',
            details: [
              {
                '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
                reason: 'SERVICE_DISABLED',
                domain: 'googleapis.com',
                metadata: {
                  service: 'monitoring.googleapis.com',
                  consumer: `projects/${project}`,
                  activationUrl: enable,
                  serviceTitle: 'Cloud Monitoring API',
                  containerInfo: project,
                },
              },
              {
                '@type': 'type.googleapis.com/google.rpc.Help',
                links: [{ description: 'Google developers console API activation', url: enable }],
              },
            ],
          },
        );
        return;
      }
      const filter = query.filter ?? '';
      let clauses: Clause[];
      try {
        clauses = parseFilter(filter);
      } catch (err) {
        sendGoogleError(
          res,
          400,
          `Field filter had an invalid value of "${filter}": ${(err as Error).message}`,
        );
        return;
      }
      const types = clauses.filter((c) => c.field === 'metric.type');
      if (types.length !== 1) {
        sendGoogleError(
          res,
          400,
          'Field filter had an invalid value: a filter must specify exactly one metric type.',
        );
        return;
      }
      const endMs = Date.parse(query['interval.endTime'] ?? '');
      const startMs = query['interval.startTime'] ? Date.parse(query['interval.startTime']) : endMs;
      if (Number.isNaN(endMs) || Number.isNaN(startMs) || startMs > endMs) {
        sendGoogleError(
          res,
          400,
          'Field interval.endTime had an invalid value: a valid interval is required.',
        );
        return;
      }
      // `$alt=json;enum-encoding=int`: enums travel as numbers both ways (what the REST client asks for).
      const intEnums = /enum-encoding=int/.test(query.$alt ?? '');
      const aligner = enumName(query['aggregation.perSeriesAligner'], ALIGNER_NUMBERS) ?? 'ALIGN_NONE';
      const reducer = enumName(query['aggregation.crossSeriesReducer'], REDUCER_NUMBERS) ?? 'REDUCE_NONE';
      const periodS = parseDurationSeconds(query['aggregation.alignmentPeriod']);
      if (!ALIGNERS.has(aligner) || !REDUCERS.has(reducer)) {
        sendGoogleError(
          res,
          400,
          `Field aggregation had an invalid value: ${aligner} / ${reducer} is not supported.`,
        );
        return;
      }
      if (aligner !== 'ALIGN_NONE' && (periodS === null || periodS < 60)) {
        sendGoogleError(
          res,
          400,
          'Field aggregation.alignmentPeriod had an invalid value: the alignment period must be at least 60 seconds.',
        );
        return;
      }
      const metricType = types[0]?.value as string;
      const matching = series.filter(
        (s) => s.project === project && clauses.every((c) => fieldOf(s, c.field) === c.value),
      );
      const kind = matching[0]?.metricKind;
      if (kind === 'GAUGE' && (aligner === 'ALIGN_RATE' || aligner === 'ALIGN_DELTA')) {
        sendGoogleError(
          res,
          400,
          `Field aggregation.perSeriesAligner had an invalid value of "${aligner}": The aligner cannot be applied to metrics with kind GAUGE and value type ${matching[0]?.valueType}.`,
        );
        return;
      }
      const periodMs = (periodS ?? 60) * 1000;
      const groupBy = Object.entries(query)
        .filter(([k]) => k === 'aggregation.groupByFields' || k.startsWith('aggregation.groupByFields'))
        .map(([, v]) => v);
      const allGroupBy = groupBy.length > 0 ? groupBy : [];
      const aligned = reduce(
        matching.map((s) => align(s, startMs, endMs, periodMs, aligner)),
        reducer,
        allGroupBy,
      ).filter((s) => s.points.size > 0); // the API leaves out series with no point in the interval
      const resourceType = matching[0]?.resourceType ?? 'gce_instance';
      const all = aligned.map((s) => toJson(s, metricType, resourceType, periodMs, intEnums));
      // Paging: the token names the query and the offset; empty pages first when asked.
      const queryKey = Buffer.from(JSON.stringify([project, filter, aligner, reducer, periodS, allGroupBy]))
        .toString('base64url')
        .slice(-24);
      let offset = 0;
      let empties = state.emptyPagesBefore;
      if (query.pageToken) {
        try {
          const t = JSON.parse(Buffer.from(query.pageToken, 'base64url').toString('utf8')) as {
            o: number;
            e: number;
            q: string;
          };
          if (t.q !== queryKey) throw new Error('other query');
          offset = t.o;
          empties = t.e;
        } catch {
          sendGoogleError(
            res,
            400,
            'Field pageToken had an invalid value: the page token does not match the request.',
          );
          return;
        }
      }
      const tokenOf = (o: number, e: number) =>
        Buffer.from(JSON.stringify({ o, e, q: queryKey })).toString('base64url');
      if (empties > 0) {
        sendJson(res, 200, { timeSeries: [], nextPageToken: tokenOf(offset, empties - 1) });
        return;
      }
      const asked = Number(query.pageSize ?? '0');
      const size = Math.min(state.maxPageSize, asked > 0 ? asked : state.maxPageSize);
      const page = all.slice(offset, offset + size);
      const next = offset + size < all.length ? tokenOf(offset + size, 0) : undefined;
      // An empty answer is `{}` on the wire (proto3 JSON drops empty fields).
      sendJson(res, 200, {
        ...(page.length ? { timeSeries: page } : {}),
        ...(next ? { nextPageToken: next } : {}),
        ...(page.length ? { unit: page[0]?.unit ?? '' } : {}),
      });
    },
  });
  const fake = Object.assign(core, {
    series,
    disabledProjects,
    latencyByFilter,
    addSeries(list: readonly FakeSeries[]) {
      series.push(...list);
    },
    metricTypes() {
      return core.requests
        .filter((r) => r.route === 'timeSeries.list')
        .map((r) => /metric\.type\s*=\s*"([^"]+)"/.exec(r.query.filter ?? '')?.[1] ?? '');
    },
  });
  // Accessors (Object.assign would copy their values once): tests change paging between requests.
  Object.defineProperties(fake, {
    maxPageSize: {
      get: () => state.maxPageSize,
      set: (v: number) => (state.maxPageSize = v),
      enumerable: true,
    },
    emptyPagesBefore: {
      get: () => state.emptyPagesBefore,
      set: (v: number) => (state.emptyPagesBefore = v),
      enumerable: true,
    },
  });
  return fake as FakeMonitoring;
};
