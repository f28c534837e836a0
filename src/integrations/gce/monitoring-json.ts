/**
 * Cloud Monitoring's TimeSeries messages (as the client decodes them, or as JSON in a --metrics file) in the
 * port's terms, without the client library: reading a metrics file must not load google-gax or the
 * credentials library, and neither must the CLI before its requests leave.
 */
import type { TimeSeries, TimeSeriesPoint } from './monitoring-port.js';

export const asRecord = (v: unknown): Record<string, unknown> =>
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
