import type { TimeSeries } from '../../integrations/gce/monitoring-port.js';
import type { SourceReport } from '../why-reboot/types.js';

/**
 * The data model of /diag: host diagnostics of a VM by the USE method (utilization, saturation, errors of
 * every resource), from Cloud Monitoring time series, guest logs and platform events. The analysis
 * (analyze.ts) is a pure function of DiagEvidence; renderers (text, Block Kit, PNG) read DiagReport.
 */

export type Resource = 'cpu' | 'memory' | 'disk' | 'network' | 'filesystem';
export type UseKind = 'utilization' | 'saturation' | 'errors';
/** `unknown`: cannot be measured from the evidence at hand (e.g. memory without the Ops Agent). */
export type Level = 'ok' | 'warn' | 'critical' | 'unknown';

export interface UseCell {
  readonly kind: UseKind;
  readonly level: Level;
  /** The measured value over the window (null when there is no measurement). */
  readonly peak: number | null;
  readonly mean: number | null;
  readonly unit: string; // '%', 'ops', '/min', 'B/s', ...
  /** One line: "peak 98%, mean 71%, >= 97% from 09:58". */
  readonly summary: string;
  /** Where the value comes from: metric types, quoted log lines, audit events. */
  readonly evidence: readonly string[];
  /** When the level was first reached (ISO), if it was. */
  readonly since: string | null;
}

export interface UseRow {
  readonly resource: Resource;
  readonly device: string | null;
  readonly utilization: UseCell;
  readonly saturation: UseCell;
  readonly errors: UseCell;
}

export interface Finding {
  readonly resource: Resource;
  readonly device?: string;
  readonly kind: UseKind;
  readonly level: 'warn' | 'critical';
  readonly summary: string;
  readonly evidence: readonly string[];
  readonly nextSteps: readonly string[];
}

export type DiagEventKind =
  | 'restart'
  | 'oom-kill'
  | 'live-migration'
  | 'host-error'
  | 'preemption'
  | 'stop'
  | 'lockup'
  | 'io-error'
  | 'fs-error'
  | 'disk-full'
  | 'link-down'
  | 'link-up'
  | 'conntrack-full'
  | 'syn-flood'
  | 'hardware-error';

export interface DiagEvent {
  readonly at: string; // ISO
  readonly kind: DiagEventKind;
  readonly text: string;
  /** The log line it was read from, quoted, when `text` is derived from it. */
  readonly line?: string;
  readonly source: DiagSourceName;
}

export type DiagSourceName = SourceReport['name'] | 'metrics';

export interface DiagSourceReport extends Omit<SourceReport, 'name'> {
  readonly name: DiagSourceName;
}

/** Metric series by metric type, as read (live or from files). */
export type MetricSet = ReadonlyMap<string, readonly TimeSeries[]>;

/** One line of a chart panel: values on the window's minute grid, null where there is no point (a gap). */
export interface ChartLine {
  readonly label: string;
  readonly values: readonly (number | null)[];
}

export interface ChartPanel {
  readonly title: string;
  readonly unit: string;
  readonly lines: readonly ChartLine[];
  /** A fixed scale maximum (percent panels: 100); null to fit the data. */
  readonly max: number | null;
  /** Why the panel is empty, e.g. "memory needs the Ops Agent". */
  readonly emptyReason: string | null;
}

export interface ChartData {
  /** Start of each minute of the grid (ISO). */
  readonly times: readonly string[];
  readonly panels: readonly ChartPanel[];
  readonly markers: readonly DiagEvent[];
}

export interface DiagReport {
  readonly instance: {
    readonly name: string;
    readonly project: string | null;
    readonly zone: string | null;
    readonly id: string | null;
    readonly machineType: string | null;
    readonly status: string | null;
    readonly vcpus: number | null;
  };
  readonly window: { readonly from: string; readonly to: string };
  /** Most severe first. */
  readonly findings: readonly Finding[];
  /** The verdict: the two or three findings that matter, in words (or that nothing is wrong). */
  readonly verdict: string;
  readonly use: readonly UseRow[];
  /** Timeline markers, oldest first. */
  readonly events: readonly DiagEvent[];
  readonly sources: readonly DiagSourceReport[];
  readonly notes: readonly string[];
  readonly links: readonly { readonly label: string; readonly url: string }[];
  /** Whether the Ops Agent reported anything (null: no metrics could be read). */
  readonly agent: boolean | null;
  readonly chart: ChartData;
}
