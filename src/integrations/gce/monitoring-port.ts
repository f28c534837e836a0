/**
 * Cloud Monitoring time series, in domain terms (`projects.timeSeries.list`). The adapter (monitoring.ts)
 * implements it with the real `@google-cloud/monitoring` client; no SDK type crosses this file.
 */

/** How each series is aligned: ALIGN_MEAN for gauges, ALIGN_RATE for DELTA/CUMULATIVE counters (per second). */
export type MonitoringAligner = 'ALIGN_MEAN' | 'ALIGN_RATE' | 'ALIGN_MAX' | 'ALIGN_SUM' | 'ALIGN_DELTA';
export type MonitoringReducer = 'REDUCE_NONE' | 'REDUCE_MEAN' | 'REDUCE_SUM' | 'REDUCE_MAX';

export interface TimeSeriesQuery {
  readonly project: string;
  /** A monitoring filter naming exactly one metric type, e.g. `metric.type="..." AND resource.labels.instance_id="ID"`. */
  readonly filter: string;
  readonly from: Date;
  readonly to: Date;
  readonly alignmentPeriodSeconds: number;
  readonly perSeriesAligner: MonitoringAligner;
  readonly crossSeriesReducer?: MonitoringReducer;
  /** e.g. ["metric.label.cpu_state"] */
  readonly groupByFields?: readonly string[];
}

export interface TimeSeriesPoint {
  /** End of the aligned interval (RFC 3339). */
  readonly at: string;
  /** INT64 values arrive as strings and are converted; a point without a value is null. */
  readonly value: number | null;
}

export interface TimeSeries {
  readonly metricType: string;
  readonly metricLabels: Readonly<Record<string, string>>;
  readonly resourceType: string;
  readonly resourceLabels: Readonly<Record<string, string>>;
  readonly metricKind: string; // GAUGE | DELTA | CUMULATIVE
  readonly valueType: string; // DOUBLE | INT64 | ...
  readonly unit: string | null;
  /** Oldest first (the API sends newest first). */
  readonly points: readonly TimeSeriesPoint[];
}

export interface MonitoringPort {
  /** timeSeries.list, every page. An empty result is a valid answer (no such series in the window). */
  listTimeSeries(query: TimeSeriesQuery, signal?: AbortSignal): Promise<TimeSeries[]>;
}
