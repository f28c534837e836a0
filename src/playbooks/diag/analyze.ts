import { DIAG_THRESHOLD_DEFAULTS, type DiagThresholds } from '../../core/config.js';
import type { TimeSeries } from '../../integrations/gce/monitoring-port.js';
import type { Evidence } from '../why-reboot/types.js';
import { buildEvents } from './events.js';
import { deviceOfLine, type HostSignal, interfaceOfLine, parseOomVictim } from './host-lines.js';
import { buildDiagLinks } from './links.js';
import { METRICS } from './metrics.js';
import { noDiagEvidence } from './no-evidence.js';
import type {
  ChartData,
  DiagEvent,
  DiagReport,
  DiagSourceReport,
  Finding,
  Level,
  MetricSet,
  Resource,
  UseCell,
  UseKind,
  UseRow,
} from './types.js';

/**
 * /diag's reasoning, a pure function of the evidence: every resource (CPU, memory, each disk, each network
 * interface, each filesystem) gets utilization, saturation and errors over the window, each a measured value
 * (peak and mean), a level from the configured thresholds, and the evidence behind it; the cells at warn or
 * critical become findings, most severe first. A level needs the value held for `sustainMinutes` in a row, so
 * a one-minute spike is shown but not called a problem, and nothing is concluded from what was not measured
 * (`unknown`), e.g. memory without the Ops Agent.
 */

export interface DiagOptions {
  readonly now: Date;
  readonly thresholds?: DiagThresholds;
  readonly sustainMinutes?: number;
}

export interface DiagEvidence {
  /** Instance, audit entries, guest/serial lines (classified by HOST_LINES) and their source reports. */
  readonly evidence: Evidence<HostSignal>;
  readonly metrics: MetricSet;
  /** The metrics source (live: Cloud Monitoring; offline: --metrics files). */
  readonly metricsReport: DiagSourceReport;
  /** Metric filters that were run (for the links), if any. */
  readonly metricFilters?: readonly string[];
  readonly notes?: readonly string[];
}

const MINUTE = 60_000;
const NO_GUEST_LOGS = 'no guest logs to read (the Ops Agent ships them; or give --syslog / --serial)';
const LEVEL_RANK: Readonly<Record<Level, number>> = { unknown: 0, ok: 1, warn: 2, critical: 3 };
const worse = (a: Level, b: Level): Level => (LEVEL_RANK[b] > LEVEL_RANK[a] ? b : a);

// ---------------------------------------------------------------------------------------------------------
// The minute grid

interface Grid {
  readonly startMs: number;
  readonly times: readonly string[];
}

const buildGrid = (from: Date, to: Date): Grid => {
  const startMs = Math.floor(from.getTime() / MINUTE) * MINUTE;
  const n = Math.max(1, Math.ceil((to.getTime() - startMs) / MINUTE));
  return {
    startMs,
    times: Array.from({ length: n }, (_, i) => new Date(startMs + i * MINUTE).toISOString()),
  };
};

type Values = (number | null)[];

/** One series on the grid (a point at T covers the minute ending at T). */
const onGrid = (grid: Grid, s: TimeSeries, map: (v: number) => number = (v) => v): Values => {
  const out: Values = new Array(grid.times.length).fill(null);
  for (const p of s.points) {
    if (p.value === null) continue;
    const i = Math.floor((Date.parse(p.at) - 1 - grid.startMs) / MINUTE);
    if (i >= 0 && i < out.length) out[i] = map(p.value);
  }
  return out;
};

/** Several series combined minute by minute (null where none has a point). */
const combine = (lists: readonly Values[], how: 'sum' | 'mean' | 'max', length: number): Values => {
  const out: Values = new Array(length).fill(null);
  for (let i = 0; i < length; i++) {
    const vs = lists.map((l) => l[i]).filter((v): v is number => v !== null && v !== undefined);
    if (vs.length === 0) continue;
    const sum = vs.reduce((a, b) => a + b, 0);
    out[i] = how === 'sum' ? sum : how === 'mean' ? sum / vs.length : Math.max(...vs);
  }
  return out;
};

const present = (v: Values): number[] => v.filter((x): x is number => x !== null);

interface Stats {
  readonly peak: number | null;
  readonly mean: number | null;
  /** The highest value held for `k` minutes in a row (the max over k-windows of their min). */
  readonly sustained: number | null;
}

const statsOf = (v: Values, k: number): Stats => {
  const xs = present(v);
  if (xs.length === 0) return { peak: null, mean: null, sustained: null };
  let sustained: number | null = null;
  const need = Math.min(k, xs.length);
  for (let i = 0; i + need <= v.length; i++) {
    let min = Number.POSITIVE_INFINITY;
    let ok = true;
    for (let j = i; j < i + need; j++) {
      const x = v[j];
      if (x === null || x === undefined) {
        ok = false;
        break;
      }
      min = Math.min(min, x);
    }
    if (ok && (sustained === null || min > sustained)) sustained = min;
  }
  return {
    peak: Math.max(...xs),
    mean: xs.reduce((a, b) => a + b, 0) / xs.length,
    // Gappy data with no k consecutive points: judge on the lowest of the points there are.
    sustained: sustained ?? Math.min(...xs),
  };
};

/** The first minute from which `threshold` was held for k minutes (ISO), or null. */
const sinceOf = (grid: Grid, v: Values, threshold: number, k: number): string | null => {
  const need = Math.min(k, present(v).length);
  for (let i = 0; i + need <= v.length; i++) {
    let held = need > 0;
    for (let j = i; j < i + need; j++) {
      const x = v[j];
      if (x === null || x === undefined || x < threshold) {
        held = false;
        break;
      }
    }
    if (held) return grid.times[i] ?? null;
  }
  return null;
};

const levelOf = (value: number | null, t: { warn: number; critical: number }): Level =>
  value === null ? 'unknown' : value >= t.critical ? 'critical' : value >= t.warn ? 'warn' : 'ok';

// ---------------------------------------------------------------------------------------------------------
// Formatting (data, not Slack syntax)

export const clock = (iso: string): string => iso.slice(11, 19);
const hhmm = (iso: string): string => iso.slice(11, 16);
const pct = (v: number): string => `${v >= 10 || v === 0 ? Math.round(v) : v.toFixed(1)}%`;
const count = (v: number): string => String(Math.round(v));
const num = (v: number): string => (v >= 100 ? String(Math.round(v)) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
export const formatBytesRate = (bps: number): string => {
  const units = ['B/s', 'KB/s', 'MB/s', 'GB/s'];
  let v = bps;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v >= 100 || u === 0 ? Math.round(v) : v.toFixed(1)} ${units[u]}`;
};

const cell = (
  kind: UseKind,
  level: Level,
  stats: Stats | null,
  unit: string,
  summary: string,
  evidence: readonly string[],
  since: string | null = null,
): UseCell => ({
  kind,
  level,
  peak: stats?.peak ?? null,
  mean: stats?.mean ?? null,
  unit,
  summary,
  evidence,
  since,
});

const unknownCell = (kind: UseKind, why: string): UseCell => cell(kind, 'unknown', null, '', why, []);

const describe = (stats: Stats, fmt: (v: number) => string): string =>
  stats.peak === null || stats.mean === null ? 'no data' : `peak ${fmt(stats.peak)}, mean ${fmt(stats.mean)}`;

/** A cell from a measured series and its thresholds. */
const measured = (
  kind: UseKind,
  grid: Grid,
  values: Values,
  t: { warn: number; critical: number },
  k: number,
  unit: string,
  fmt: (v: number) => string,
  evidence: readonly string[],
): UseCell => {
  const stats = statsOf(values, k);
  const level = levelOf(stats.sustained, t);
  const threshold = level === 'critical' ? t.critical : t.warn;
  const since = level === 'warn' || level === 'critical' ? sinceOf(grid, values, threshold, k) : null;
  const held = since ? `; >= ${fmt(threshold)} from ${hhmm(since)}` : '';
  return cell(kind, level, stats, unit, `${describe(stats, fmt)}${held}`, evidence, since);
};

// ---------------------------------------------------------------------------------------------------------
// Machine type facts

/** vCPUs of a machine type from its name (n2-standard-8 -> 8, e2-medium -> 2, custom-4-16384 -> 4). */
export const vcpusOf = (machineType: string | null): number | null => {
  if (!machineType) return null;
  const mt = machineType.split('/').pop() ?? machineType;
  const shared: Record<string, number> = {
    'e2-micro': 2,
    'e2-small': 2,
    'e2-medium': 2,
    'f1-micro': 1,
    'g1-small': 1,
  };
  if (shared[mt] !== undefined) return shared[mt];
  const custom = /custom-(\d+)-\d+/.exec(mt);
  if (custom?.[1]) return Number(custom[1]);
  const m = /-(\d+)(?:-[a-z]+)?$/.exec(mt);
  return m?.[1] ? Number(m[1]) : null;
};

/**
 * Estimated egress bandwidth cap in bytes/s: Compute Engine documents about 2 Gbps per vCPU up to 16 Gbps for
 * most machine types (shared-core ones 1-2 Gbps). An estimate, said so wherever it is used.
 */
export const egressCapOf = (machineType: string | null): number | null => {
  const mt = (machineType ?? '').split('/').pop() ?? '';
  if (/^(e2-micro|e2-small|f1-micro|g1-small)$/.test(mt)) return 1e9 / 8;
  const vcpus = vcpusOf(machineType);
  if (vcpus === null) return null;
  return (Math.min(16, Math.max(2, 2 * vcpus)) * 1e9) / 8;
};

// ---------------------------------------------------------------------------------------------------------
// Reading the metric set

const seriesOf = (metrics: MetricSet, type: string): readonly TimeSeries[] => metrics.get(type) ?? [];
const labelOf = (s: TimeSeries, key: string): string => s.metricLabels[key] ?? '';

/** Per-minute errors of a counter series: DELTA = per interval (a minute), GAUGE = per-second rate. */
const perMinute = (s: TimeSeries) => (v: number) => (s.metricKind === 'DELTA' ? v : v * 60);
/** Seconds of uptime per minute: DELTA (ALIGN_SUM) = seconds, GAUGE (a rate) = fraction of a second. */
const uptimeSeconds = (s: TimeSeries) => (v: number) => (s.metricKind === 'GAUGE' && v <= 1.5 ? v * 60 : v);

/** A device label that is a partition of another device in the list (sda1 of sda, nvme0n1p1 of nvme0n1). */
const isPartitionOf = (device: string, all: readonly string[]): boolean =>
  all.some((d) => d !== device && device.startsWith(d) && /^(p?\d+)$/.test(device.slice(d.length)));

const shortDevice = (d: string): string => d.replace(/^\/dev\//, '');

// ---------------------------------------------------------------------------------------------------------
// The analysis

export const analyzeDiag = (input: DiagEvidence, opts: DiagOptions): DiagReport => {
  const { evidence, metrics } = input;
  const t = opts.thresholds ?? DIAG_THRESHOLD_DEFAULTS;
  const k = opts.sustainMinutes ?? 5;
  const grid = buildGrid(evidence.window.from, evidence.window.to);
  const n = grid.times.length;
  const instance = evidence.instance;
  const machineType = instance?.machineType ?? null;
  const vcpus = vcpusOf(machineType);
  const notes: string[] = [...evidence.notes, ...(input.notes ?? [])];

  const agentTypes = Object.values(METRICS)
    .filter((m) => m.agent)
    .map((m) => m.type);
  const metricsRead = input.metricsReport.status === 'ok' || input.metricsReport.status === 'empty';
  const agent = metricsRead ? agentTypes.some((type) => seriesOf(metrics, type).length > 0) : null;
  const noAgent = agent === false;
  const guestLogsRead = guestLogsReadOf(input, agent);
  const needAgent = (what: string): string =>
    noAgent ? `${what} needs the Ops Agent (not reporting on this VM)` : `${what}: no data`;

  const uptimeSeries = seriesOf(metrics, METRICS.uptime.type);
  const uptime = uptimeSeries.length
    ? combine(
        uptimeSeries.map((s) => onGrid(grid, s, uptimeSeconds(s))),
        'max',
        n,
      )
    : null;
  const events = buildEvents(evidence, { times: grid.times, uptime }, opts.now);
  const eventsOf = (...kinds: DiagEvent['kind'][]) => events.filter((e) => kinds.includes(e.kind));

  // --- CPU ---
  const agentCpu = seriesOf(metrics, METRICS.agentCpu.type);
  const byState = (state: string): Values =>
    combine(
      agentCpu.filter((s) => labelOf(s, 'cpu_state') === state).map((s) => onGrid(grid, s)),
      'mean',
      n,
    );
  const states = [...new Set(agentCpu.map((s) => labelOf(s, 'cpu_state')))];
  let cpuUsed: Values;
  let cpuSource: string;
  if (agentCpu.length > 0) {
    const idle = byState('idle');
    cpuUsed = present(idle).length
      ? idle.map((v) => (v === null ? null : Math.max(0, 100 - v)))
      : combine(states.filter((s) => s !== 'idle').map(byState), 'sum', n);
    cpuSource = METRICS.agentCpu.type;
  } else {
    cpuUsed = combine(
      seriesOf(metrics, METRICS.cpu.type).map((s) => onGrid(grid, s, (v) => v * 100)),
      'mean',
      n,
    );
    cpuSource = METRICS.cpu.type;
  }
  const steal = states.includes('steal') ? byState('steal') : null;
  const iowait = states.includes('wait') ? byState('wait') : null;
  const cpuUtil = present(cpuUsed).length
    ? measured('utilization', grid, cpuUsed, t.cpuUtilizationPct, k, '%', pct, [cpuSource])
    : unknownCell('utilization', 'no CPU metrics in the window');

  const cpuSatParts: { level: Level; text: string; since: string | null; evidence: string }[] = [];
  let cpuSatStats: Stats | null = null;
  const load1 = combine(
    seriesOf(metrics, METRICS.load1m.type).map((s) => onGrid(grid, s)),
    'max',
    n,
  );
  if (present(load1).length && vcpus) {
    const perCpu = load1.map((v) => (v === null ? null : v / vcpus));
    const c = measured('saturation', grid, perCpu, t.loadPerCpu, k, 'load/vCPU', num, [METRICS.load1m.type]);
    cpuSatStats = { peak: c.peak, mean: c.mean, sustained: null };
    cpuSatParts.push({
      level: c.level,
      text: `load ${num((c.peak ?? 0) * vcpus)} on ${vcpus} vCPU (${num(c.peak ?? 0)} per vCPU)`,
      since: c.since,
      evidence: `${METRICS.load1m.type}: ${c.summary}`,
    });
  }
  if (steal && present(steal).length) {
    const c = measured('saturation', grid, steal, t.cpuStealPct, k, '%', pct, [METRICS.agentCpu.type]);
    cpuSatParts.push({
      level: c.level,
      text: `CPU steal ${pct(c.peak ?? 0)}`,
      since: c.since,
      evidence: `cpu_state=steal: ${c.summary}`,
    });
    if (!cpuSatStats) cpuSatStats = { peak: c.peak, mean: c.mean, sustained: null };
  }
  const blocked = combine(
    seriesOf(metrics, METRICS.processes.type)
      .filter((s) => labelOf(s, 'state') === 'blocked')
      .map((s) => onGrid(grid, s)),
    'sum',
    n,
  );
  if (present(blocked).length) {
    const c = measured('saturation', grid, blocked, t.blockedProcesses, k, 'procs', num, []);
    cpuSatParts.push({
      level: c.level,
      text: `${Math.round(c.peak ?? 0)} processes blocked in D state`,
      since: c.since,
      evidence: `processes/count_by_state state=blocked: ${c.summary}`,
    });
  }
  const cpuSatLevel = cpuSatParts.reduce<Level>(
    (l, p) => worse(l, p.level),
    cpuSatParts.length ? 'ok' : 'unknown',
  );
  const cpuSatTop = [...cpuSatParts].sort((a, b) => LEVEL_RANK[b.level] - LEVEL_RANK[a.level]);
  const cpuSat = cpuSatParts.length
    ? cell(
        'saturation',
        cpuSatLevel,
        cpuSatStats,
        '',
        cpuSatTop
          .filter((p) => p.level === cpuSatLevel || cpuSatLevel === 'ok')
          .map((p) => `${p.text}${p.since && p.level !== 'ok' ? ` from ${hhmm(p.since)}` : ''}`)
          .join('; '),
        cpuSatParts.map((p) => p.evidence),
        cpuSatTop[0]?.since ?? null,
      )
    : unknownCell('saturation', needAgent('load, steal and blocked processes'));
  const lockups = eventsOf('lockup');
  const hardLockup = lockups.some((e) => /soft lockup|hard lockup/i.test(e.text));
  const cpuErr = lockups.length
    ? cell(
        'errors',
        hardLockup ? 'critical' : 'warn',
        null,
        '',
        `${lockups.length} ${hardLockup ? 'CPU lockup' : 'hung task'} report(s), first at ${clock(lockups[0]?.at ?? '')}`,
        lockups.slice(0, 3).map((e) => e.text),
        lockups[0]?.at ?? null,
      )
    : guestLogsRead
      ? cell('errors', 'ok', null, '', 'no lockups or hung tasks in the guest logs', [])
      : unknownCell('errors', NO_GUEST_LOGS);
  const rows: UseRow[] = [
    { resource: 'cpu', device: null, utilization: cpuUtil, saturation: cpuSat, errors: cpuErr },
  ];

  // --- memory ---
  const memSeries = seriesOf(metrics, METRICS.memory.type).filter((s) => labelOf(s, 'state') === 'used');
  const memUsed = combine(
    memSeries.map((s) => onGrid(grid, s)),
    'sum',
    n,
  );
  const memUtil = present(memUsed).length
    ? measured('utilization', grid, memUsed, t.memoryUsedPct, k, '%', pct, [
        `${METRICS.memory.type} state=used`,
      ])
    : unknownCell('utilization', needAgent('memory use'));
  const ooms = eventsOf('oom-kill');
  const swapUsed = combine(
    seriesOf(metrics, METRICS.swap.type)
      .filter((s) => labelOf(s, 'state') === 'used')
      .map((s) => onGrid(grid, s)),
    'max',
    n,
  );
  let memSat: UseCell;
  const swapCell = present(swapUsed).length
    ? measured('saturation', grid, swapUsed, t.swapUsedPct, k, '%', pct, [`${METRICS.swap.type} state=used`])
    : null;
  if (ooms.length) {
    const first = ooms[0] as DiagEvent;
    memSat = cell(
      'saturation',
      'critical',
      swapCell ? { peak: swapCell.peak, mean: swapCell.mean, sustained: null } : null,
      swapCell?.unit ?? '',
      `${ooms.length} OOM kill(s): ${first.text.replace(/^OOM killer killed /, '')} at ${clock(first.at)}${swapCell ? `; swap ${swapCell.summary}` : ''}`,
      ooms.slice(0, 5).map((e) => e.line ?? `${clock(e.at)} ${e.text}`),
      first.at,
    );
  } else if (swapCell) {
    memSat = { ...swapCell, summary: `swap ${swapCell.summary}` };
  } else {
    memSat = noAgent
      ? unknownCell('saturation', needAgent('swap use'))
      : guestLogsRead
        ? cell('saturation', 'ok', null, '', 'no OOM kills in the guest logs; no swap configured', [])
        : unknownCell('saturation', 'no swap metrics and no guest logs');
  }
  const hw = eventsOf('hardware-error');
  const memErr = hw.length
    ? cell(
        'errors',
        'critical',
        null,
        '',
        `${hw.length} hardware (machine check) error(s)`,
        hw.slice(0, 3).map((e) => e.text),
        hw[0]?.at ?? null,
      )
    : guestLogsRead
      ? cell('errors', 'ok', null, '', 'no machine-check errors in the guest logs', [])
      : unknownCell('errors', NO_GUEST_LOGS);
  rows.push({ resource: 'memory', device: null, utilization: memUtil, saturation: memSat, errors: memErr });

  // --- disks ---
  const ioSeries = seriesOf(metrics, METRICS.ioTime.type);
  const pendingSeries = seriesOf(metrics, METRICS.pendingOps.type);
  const agentDevices = [...new Set([...ioSeries, ...pendingSeries].map((s) => labelOf(s, 'device')))].filter(
    Boolean,
  );
  const diskDevices = agentDevices.filter((d) => !isPartitionOf(d, agentDevices)).sort();
  const ioErrors = eventsOf('io-error');
  const hvDevices = [
    ...new Set(
      [METRICS.diskReadBytes, METRICS.diskWriteBytes].flatMap((m) =>
        seriesOf(metrics, m.type).map((s) => labelOf(s, 'device_name')),
      ),
    ),
  ].filter(Boolean);
  const hvRate = (type: string, device: string | null): Values =>
    combine(
      seriesOf(metrics, type)
        .filter((s) => device === null || labelOf(s, 'device_name') === device)
        .map((s) => onGrid(grid, s)),
      'sum',
      n,
    );
  const throughput = (device: string | null): string => {
    const r = statsOf(hvRate(METRICS.diskReadBytes.type, device), 1);
    const w = statsOf(hvRate(METRICS.diskWriteBytes.type, device), 1);
    const ops = statsOf(
      combine(
        [hvRate(METRICS.diskReadOps.type, device), hvRate(METRICS.diskWriteOps.type, device)],
        'sum',
        n,
      ),
      1,
    );
    if (r.peak === null && w.peak === null) return '';
    return `read peak ${formatBytesRate(r.peak ?? 0)}, write peak ${formatBytesRate(w.peak ?? 0)}${ops.peak !== null ? `, ${Math.round(ops.peak)} IOPS peak` : ''}`;
  };
  const ioErrorsFor = (device: string | null): DiagEvent[] =>
    ioErrors.filter((e) => {
      const d = deviceOfLine(e.text);
      return device === null ? true : d !== null && (d === device || isPartitionOf(d, [device]));
    });
  const diskErrCell = (errs: DiagEvent[]): UseCell =>
    errs.length
      ? cell(
          'errors',
          'critical',
          null,
          '',
          `${errs.length} I/O error(s), first at ${clock(errs[0]?.at ?? '')}`,
          errs.slice(0, 3).map((e) => `${clock(e.at)} ${e.text}`),
          errs[0]?.at ?? null,
        )
      : guestLogsRead
        ? cell('errors', 'ok', null, '', 'no I/O errors in the guest logs', [])
        : unknownCell('errors', NO_GUEST_LOGS);
  const attributed = new Set<DiagEvent>();
  if (diskDevices.length > 0) {
    for (const device of diskDevices) {
      const busy = combine(
        ioSeries.filter((s) => labelOf(s, 'device') === device).map((s) => onGrid(grid, s, (v) => v / 10)),
        'max',
        n,
      );
      const queue = combine(
        pendingSeries.filter((s) => labelOf(s, 'device') === device).map((s) => onGrid(grid, s)),
        'max',
        n,
      );
      const util = present(busy).length
        ? measured('utilization', grid, busy, t.diskBusyPct, k, '%', pct, [
            `${METRICS.ioTime.type} device=${device}`,
          ])
        : unknownCell('utilization', 'no disk/io_time for this device');
      let sat = present(queue).length
        ? measured('saturation', grid, queue, t.diskQueue, k, 'ops', num, [
            `${METRICS.pendingOps.type} device=${device}`,
          ])
        : unknownCell('saturation', 'no disk/pending_operations for this device');
      if (iowait && present(iowait).length) {
        const w = statsOf(iowait, k);
        sat = { ...sat, evidence: [...sat.evidence, `CPU iowait ${describe(w, pct)}`] };
      }
      const errs = ioErrorsFor(device);
      for (const e of errs) attributed.add(e);
      const tp = throughput(null);
      rows.push({
        resource: 'disk',
        device,
        utilization: tp ? { ...util, evidence: [...util.evidence, `all disks (hypervisor): ${tp}`] } : util,
        saturation: sat,
        errors: diskErrCell(errs),
      });
    }
  } else if (hvDevices.length > 0) {
    for (const device of hvDevices.sort()) {
      const tp = throughput(device);
      rows.push({
        resource: 'disk',
        device,
        utilization: cell(
          'utilization',
          'unknown',
          statsOf(
            combine(
              [hvRate(METRICS.diskReadBytes.type, device), hvRate(METRICS.diskWriteBytes.type, device)],
              'sum',
              n,
            ),
            1,
          ),
          'B/s',
          `${tp || 'no data'}${noAgent ? ' (busy time needs the Ops Agent)' : ''}`,
          [`${METRICS.diskReadBytes.type}, ${METRICS.diskWriteBytes.type} device_name=${device}`],
        ),
        saturation: unknownCell('saturation', needAgent('the disk queue')),
        errors: diskErrCell([]),
      });
    }
  }
  const unattributed = ioErrors.filter((e) => !attributed.has(e));
  if (unattributed.length && (diskDevices.length > 0 || unattributed.length === ioErrors.length)) {
    const byDevice = new Map<string, DiagEvent[]>();
    for (const e of unattributed) {
      const d = deviceOfLine(e.text) ?? '(unknown device)';
      byDevice.set(d, [...(byDevice.get(d) ?? []), e]);
    }
    for (const [device, errs] of byDevice) {
      const existing = rows.find((r) => r.resource === 'disk' && r.device === device);
      if (existing) {
        rows[rows.indexOf(existing)] = { ...existing, errors: diskErrCell(errs) };
        continue;
      }
      rows.push({
        resource: 'disk',
        device,
        utilization: unknownCell('utilization', 'seen only in the guest logs'),
        saturation: unknownCell('saturation', 'seen only in the guest logs'),
        errors: diskErrCell(errs),
      });
    }
  }

  // --- filesystems ---
  const fsSeries = seriesOf(metrics, METRICS.diskUsed.type).filter((s) => labelOf(s, 'state') === 'used');
  const fsDevices = [...new Set(fsSeries.map((s) => labelOf(s, 'device')))].filter(Boolean).sort();
  const fsErrors = eventsOf('fs-error', 'disk-full');
  const fsRows: UseRow[] = [];
  for (const device of fsDevices) {
    const used = combine(
      fsSeries.filter((s) => labelOf(s, 'device') === device).map((s) => onGrid(grid, s)),
      'max',
      n,
    );
    fsRows.push({
      resource: 'filesystem',
      device,
      utilization: measured('utilization', grid, used, t.filesystemUsedPct, k, '%', pct, [
        `${METRICS.diskUsed.type} device=${device} state=used`,
      ]),
      saturation: unknownCell(
        'saturation',
        'not measured (inode use is not in the default Ops Agent metrics)',
      ),
      errors: cell(
        'errors',
        guestLogsRead ? 'ok' : 'unknown',
        null,
        '',
        guestLogsRead ? 'no filesystem errors in the guest logs' : NO_GUEST_LOGS,
        [],
      ),
    });
  }
  if (fsErrors.length) {
    // "No space left on device" names no device: it goes to the fullest filesystem; named errors to theirs.
    const fullest = [...fsRows].sort((a, b) => (b.utilization.peak ?? 0) - (a.utilization.peak ?? 0))[0];
    const groups = new Map<UseRow | null, DiagEvent[]>();
    for (const e of fsErrors) {
      const d = deviceOfLine(e.text);
      const row =
        (d && fsRows.find((r) => r.device && shortDevice(r.device).startsWith(d))) || fullest || null;
      groups.set(row, [...(groups.get(row) ?? []), e]);
    }
    for (const [row, errs] of groups) {
      const full = errs.filter((e) => e.kind === 'disk-full');
      const broken = errs.filter((e) => e.kind === 'fs-error');
      const errCell = cell(
        'errors',
        'critical',
        null,
        '',
        [
          full.length ? `"No space left on device" ${full.length}x from ${clock(full[0]?.at ?? '')}` : '',
          broken.length ? `${broken.length} filesystem error(s) from ${clock(broken[0]?.at ?? '')}` : '',
        ]
          .filter(Boolean)
          .join('; '),
        errs.slice(0, 3).map((e) => `${clock(e.at)} ${e.text}`),
        errs[0]?.at ?? null,
      );
      if (row) fsRows[fsRows.indexOf(row)] = { ...row, errors: errCell };
      else
        fsRows.push({
          resource: 'filesystem',
          device: null,
          utilization: unknownCell('utilization', needAgent('filesystem use')),
          saturation: unknownCell('saturation', 'not measured'),
          errors: errCell,
        });
    }
  }
  if (fsRows.length === 0)
    fsRows.push({
      resource: 'filesystem',
      device: null,
      utilization: unknownCell('utilization', needAgent('filesystem use')),
      saturation: unknownCell('saturation', 'not measured'),
      errors: guestLogsRead
        ? cell('errors', 'ok', null, '', 'no filesystem errors in the guest logs', [])
        : unknownCell('errors', NO_GUEST_LOGS),
    });
  rows.push(...fsRows);

  // --- network ---
  const rx = hvRate(METRICS.netReceived.type, null);
  const tx = hvRate(METRICS.netSent.type, null);
  const cap = egressCapOf(machineType);
  const rxStats = statsOf(rx, 1);
  const txStats = statsOf(tx, 1);
  let netUtil: UseCell;
  if (txStats.peak === null && rxStats.peak === null)
    netUtil = unknownCell('utilization', 'no network metrics in the window');
  else if (cap) {
    const egressPct = tx.map((v) => (v === null ? null : (v / cap) * 100));
    const c = measured('utilization', grid, egressPct, t.networkEgressPct, k, '%', pct, [
      `${METRICS.netSent.type}, ${METRICS.netReceived.type}`,
      `egress cap estimated at ${((cap * 8) / 1e9).toFixed(0)} Gbps for ${machineType}`,
    ]);
    netUtil = {
      ...c,
      summary: `egress ${c.summary} of ~${((cap * 8) / 1e9).toFixed(0)} Gbps; rx peak ${formatBytesRate(rxStats.peak ?? 0)}, tx peak ${formatBytesRate(txStats.peak ?? 0)}`,
    };
  } else
    netUtil = cell(
      'utilization',
      'unknown',
      txStats,
      'B/s',
      `rx peak ${formatBytesRate(rxStats.peak ?? 0)}, tx peak ${formatBytesRate(txStats.peak ?? 0)} (machine type unknown: no cap to compare with)`,
      [`${METRICS.netSent.type}, ${METRICS.netReceived.type}`],
    );
  const conntrack = eventsOf('conntrack-full');
  const synFlood = eventsOf('syn-flood');
  const tcp = combine(
    seriesOf(metrics, METRICS.tcp.type).map((s) => onGrid(grid, s)),
    'sum',
    n,
  );
  const tcpStats = statsOf(tcp, 1);
  const netSatParts: string[] = [];
  if (conntrack.length)
    netSatParts.push(
      `conntrack table full: packets dropped ${conntrack.length}x from ${clock(conntrack[0]?.at ?? '')}`,
    );
  if (synFlood.length)
    netSatParts.push(`SYN flooding reported ${synFlood.length}x from ${clock(synFlood[0]?.at ?? '')}`);
  const netSatLevel: Level = conntrack.length ? 'critical' : synFlood.length ? 'warn' : 'ok';
  const netSat =
    netSatParts.length || tcpStats.peak !== null || guestLogsRead
      ? cell(
          'saturation',
          netSatLevel,
          tcpStats.peak !== null ? tcpStats : null,
          'connections',
          [
            ...netSatParts,
            tcpStats.peak !== null
              ? `TCP connections ${describe(tcpStats, (v) => String(Math.round(v)))}`
              : '',
          ]
            .filter(Boolean)
            .join('; ') || 'no drops or SYN floods in the guest logs',
          [...conntrack, ...synFlood].slice(0, 3).map((e) => `${clock(e.at)} ${e.text}`),
          [...conntrack, ...synFlood][0]?.at ?? null,
        )
      : unknownCell('saturation', NO_GUEST_LOGS);
  const ifSeries = seriesOf(metrics, METRICS.ifErrors.type).filter((s) => labelOf(s, 'device') !== 'lo');
  const interfaces = [...new Set(ifSeries.map((s) => labelOf(s, 'device')))].filter(Boolean).sort();
  const linkDowns = eventsOf('link-down');
  const linkUps = eventsOf('link-up');
  const migrations = eventsOf('live-migration');
  const netErrCell = (device: string | null): UseCell => {
    const series = ifSeries.filter((s) => device === null || labelOf(s, 'device') === device);
    const errs = combine(
      series.map((s) => onGrid(grid, s, perMinute(s))),
      'sum',
      n,
    );
    const mine = (e: DiagEvent) =>
      device === null || interfaceOfLine(e.text) === device || interfaceOfLine(e.text) === null;
    const downs = linkDowns.filter(mine);
    const base = present(errs).length
      ? measured('errors', grid, errs, t.interfaceErrorsPerMin, 1, '/min', count, [
          `${METRICS.ifErrors.type}${device ? ` device=${device}` : ''}`,
        ])
      : null;
    if (downs.length) {
      // A link that came back within 2 minutes flapped; right after a live migration that is expected.
      const ups = linkUps.filter(mine);
      const near = (a: DiagEvent, b: DiagEvent) => Math.abs(Date.parse(a.at) - Date.parse(b.at)) <= 120_000;
      const flapped = downs.every((d) => ups.some((u) => Date.parse(u.at) >= Date.parse(d.at) && near(u, d)));
      const migrated = downs.every((d) => migrations.some((m) => near(m, d)));
      const baseBad = base !== null && (base.level === 'warn' || base.level === 'critical');
      if (flapped && migrated && !baseBad) {
        return cell(
          'errors',
          'ok',
          base ? { peak: base.peak, mean: base.mean, sustained: null } : null,
          '/min',
          `link flapped ${downs.length}x during the live migration at ${hhmm(migrations[0]?.at ?? '')} (expected)${base ? `; errors ${base.summary}` : ''}`,
          downs.slice(0, 3).map((e) => `${clock(e.at)} ${e.text}`),
        );
      }
      return cell(
        'errors',
        flapped ? worse('warn', base?.level ?? 'ok') : 'critical',
        base ? { peak: base.peak, mean: base.mean, sustained: null } : null,
        '/min',
        `link ${flapped ? 'flapped' : 'down'} ${downs.length}x, first at ${clock(downs[0]?.at ?? '')}${base ? `; errors ${base.summary}` : ''}`,
        [...downs.slice(0, 3).map((e) => `${clock(e.at)} ${e.text}`), ...(base?.evidence ?? [])],
        downs[0]?.at ?? null,
      );
    }
    if (base) return { ...base, summary: `errors ${base.summary}` };
    return guestLogsRead && !noAgent
      ? cell('errors', 'ok', null, '', 'no interface errors or link changes', [])
      : unknownCell('errors', needAgent('interface errors'));
  };
  if (interfaces.length <= 1) {
    rows.push({
      resource: 'network',
      device: interfaces[0] ?? null,
      utilization: netUtil,
      saturation: netSat,
      errors: netErrCell(interfaces[0] ?? null),
    });
  } else {
    rows.push({
      resource: 'network',
      device: null,
      utilization: netUtil,
      saturation: netSat,
      errors: netErrCell(null),
    });
    for (const device of interfaces) {
      rows.push({
        resource: 'network',
        device,
        utilization: unknownCell('utilization', 'per-interface traffic is not in the default metrics'),
        saturation: unknownCell('saturation', 'see all interfaces'),
        errors: netErrCell(device),
      });
    }
  }

  // --- findings ---
  const findings = buildFindings(rows, events);
  if (noAgent) {
    notes.push(
      'The Ops Agent is not reporting on this VM: this is the hypervisor view only (CPU, disk throughput, network). Memory, swap, filesystems, disk busy time and queues, load, CPU steal and interface errors cannot be seen without it.',
    );
  }
  for (const f of input.metricsReport.status === 'ok' && input.metricsReport.reason
    ? [input.metricsReport.reason]
    : []) {
    notes.push(`Cloud Monitoring: ${f}.`);
  }
  const sources: DiagSourceReport[] = [input.metricsReport, ...evidence.sources];
  const verdict = buildVerdict(findings, {
    sources,
    cpuUtil,
    memUtil,
    rows,
    noAgent,
    metricsReport: input.metricsReport,
    restarts: eventsOf('restart', 'preemption', 'stop'),
  });
  const chart = buildChart(grid, metrics, { cpuUsed, steal, memUsed, swapUsed, noAgent }, events);

  return {
    instance: {
      name: evidence.instanceName,
      project: evidence.project,
      zone: evidence.zone,
      id: instance?.id || null,
      machineType,
      status: instance?.status ?? null,
      vcpus,
    },
    window: { from: evidence.window.from.toISOString(), to: evidence.window.to.toISOString() },
    findings,
    verdict,
    use: rows,
    events,
    sources,
    notes,
    links: buildDiagLinks({
      project: evidence.project,
      zone: evidence.zone,
      name: evidence.instanceName,
      instanceId: instance?.id || null,
      window: evidence.window,
      metricFilters: input.metricFilters ?? [],
    }),
    agent,
    chart,
  };
};

/**
 * Whether any guest log was read, so "no X in the guest logs" means something: a syslog/journal file, the
 * Cloud Logging guest logs (an empty answer counts only while the Ops Agent reports: without it nothing ships
 * them), or a serial console that held text.
 */
const guestLogsReadOf = (input: DiagEvidence, agent: boolean | null): boolean =>
  input.evidence.sources.some(
    (s) =>
      (s.name === 'syslog-file' && (s.status === 'ok' || s.status === 'empty')) ||
      (s.name === 'guest-logs' && (s.status === 'ok' || (s.status === 'empty' && agent !== false))) ||
      (s.name === 'serial-console' &&
        (s.status === 'ok' || (s.status === 'empty' && !/buffer is empty/.test(s.reason ?? '')))),
  );

// ---------------------------------------------------------------------------------------------------------
// Findings and the verdict

const RESOURCE_ORDER: readonly Resource[] = ['memory', 'disk', 'filesystem', 'cpu', 'network'];
const KIND_ORDER: readonly UseKind[] = ['errors', 'saturation', 'utilization'];

const NEXT_STEPS: Readonly<Record<Resource, Partial<Record<UseKind, readonly string[]>>>> = {
  cpu: {
    utilization: [
      'Find the hot process: `top -o %CPU` or `pidstat 1 5` on the VM.',
      'Scale out, or move to a machine type with more vCPUs.',
    ],
    saturation: [
      'Steal is CPU time the hypervisor gave to other VMs: if it persists, stop and start the VM to move it to another host (live migrations cause short bursts).',
      'A run queue above the vCPU count means work waits for CPU: `vmstat 1` (r column), `mpstat -P ALL 1`.',
      'Processes in D state wait for I/O: see the disk rows.',
    ],
    errors: [
      'Soft lockups and hung tasks: `journalctl -k` around the time; often a stalled disk or a contended host.',
    ],
  },
  memory: {
    utilization: ['What uses it: `ps aux --sort=-rss | head`; cache is not counted here.'],
    saturation: [
      "The OOM killer chose the victim with the largest score: cap the process's memory (heap settings such as -Xmx, a cgroup limit) or give the VM more memory.",
      'Earlier kills: `journalctl -k | grep -i "killed process"`.',
    ],
    errors: ['Machine-check errors point at the host: report them to Google support with the times.'],
  },
  disk: {
    utilization: [
      '`iostat -x 1` on the VM (await, aqu-sz, %util); a persistent disk has IOPS and throughput limits that grow with its size and type: resize it, or use pd-ssd / Hyperdisk.',
    ],
    saturation: [
      'Queued operations mean the disk cannot keep up: find the writer with `iotop -o` or `pidstat -d 1`.',
    ],
    errors: [
      '`dmesg -T | grep -i "i/o error"`: an I/O error on a persistent disk usually means it was detached or the host had trouble; check the disk in the console.',
    ],
  },
  filesystem: {
    utilization: [
      '`df -h` and `du -xh / | sort -h | tail`; clean up, or resize the disk and grow the filesystem.',
    ],
    errors: [
      'A full filesystem: free space first (logs, caches), then resize the disk; a filesystem remounted read-only needs an fsck.',
    ],
  },
  network: {
    utilization: [
      "Egress is capped by the machine type's vCPU count: spread traffic, or use a larger machine type.",
    ],
    saturation: [
      'conntrack table full: raise net.netfilter.nf_conntrack_max or stop tracking that traffic; SYN floods: check the listen backlog (`ss -ltn`) and tcp_syncookies.',
    ],
    errors: [
      '`ip -s link` and `ethtool -S <nic>` on the VM; link flaps around a live migration are expected.',
    ],
  },
};

const LABEL: Readonly<Record<Resource, string>> = {
  cpu: 'CPU',
  memory: 'memory',
  disk: 'disk',
  filesystem: 'filesystem',
  network: 'network',
};

/** One finding per row whose worst cell is warn or critical, worded from the cells at that level. */
const buildFindings = (rows: readonly UseRow[], events: readonly DiagEvent[]): Finding[] => {
  const out: Finding[] = [];
  for (const row of rows) {
    const cells = [row.errors, row.saturation, row.utilization];
    const worst = cells.reduce<Level>((l, c) => worse(l, c.level), 'unknown');
    if (worst !== 'warn' && worst !== 'critical') continue;
    const bad = cells.filter((c) => c.level === 'warn' || c.level === 'critical');
    const kind =
      KIND_ORDER.find((kd) => bad.some((c) => c.kind === kd && c.level === worst)) ?? 'utilization';
    const name = `${LABEL[row.resource]}${row.device ? ` ${shortDevice(row.device)}` : ''}`;
    let summary: string;
    if (
      row.resource === 'memory' &&
      row.saturation.level === 'critical' &&
      /OOM kill/.test(row.saturation.summary)
    ) {
      const oom = events.find((e) => e.kind === 'oom-kill');
      const victim = oom ? parseOomVictimText(oom.text) : null;
      const used =
        row.utilization.level === 'warn' || row.utilization.level === 'critical' ? row.utilization : null;
      summary = `memory exhausted: the OOM killer killed ${victim ?? 'a process'} at ${clock(oom?.at ?? row.saturation.since ?? '')}${used ? `; memory used ${pct(used.peak ?? 0)}${used.since ? ` from ${hhmm(used.since)}` : ''}` : ''}`;
    } else if (
      row.resource === 'disk' &&
      (row.utilization.level === 'warn' || row.utilization.level === 'critical')
    ) {
      const q =
        row.saturation.level === 'warn' || row.saturation.level === 'critical' ? row.saturation : null;
      summary = `${name} ${pct(row.utilization.peak ?? 0)} busy${q ? ` with ${Math.round(q.peak ?? 0)} operations queued` : ''}${row.utilization.since ? ` since ${hhmm(row.utilization.since)}` : ''}`;
      if (row.errors.level === 'critical') summary += `; ${row.errors.summary}`;
    } else if (row.resource === 'cpu' && kind === 'saturation' && /steal/i.test(row.saturation.summary)) {
      const migration = events.find((e) => e.kind === 'live-migration');
      summary = `${row.saturation.summary}: the host is contended (noisy neighbour)${migration ? `; a live migration at ${hhmm(migration.at)}` : ''}`;
    } else {
      summary = `${name} ${kind}: ${bad
        .filter((c) => c.level === worst)
        .map((c) => c.summary)
        .join('; ')}`;
    }
    const steps = bad.flatMap((c) => NEXT_STEPS[row.resource][c.kind] ?? []);
    out.push({
      resource: row.resource,
      ...(row.device ? { device: row.device } : {}),
      kind,
      level: worst,
      summary,
      evidence: bad.flatMap((c) => c.evidence),
      nextSteps: [...new Set(steps)],
    });
  }
  return out.sort(
    (a, b) =>
      LEVEL_RANK[b.level] - LEVEL_RANK[a.level] ||
      RESOURCE_ORDER.indexOf(a.resource) - RESOURCE_ORDER.indexOf(b.resource) ||
      KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind),
  );
};

const parseOomVictimText = (text: string): string | null => {
  const m = /killed (.+? \(pid \d+\))/.exec(text);
  if (m?.[1]) return m[1];
  const v = parseOomVictim(text);
  return v ? `${v.process} (pid ${v.pid})` : null;
};

const buildVerdict = (
  findings: readonly Finding[],
  ctx: {
    sources: readonly DiagSourceReport[];
    cpuUtil: UseCell;
    memUtil: UseCell;
    rows: readonly UseRow[];
    noAgent: boolean;
    metricsReport: DiagSourceReport;
    restarts: readonly DiagEvent[];
  },
): string => {
  // Nothing could be read: "no problem found" would tell the on-call engineer a sick VM is healthy.
  if (noDiagEvidence(ctx.sources)) {
    const failed = ctx.sources.filter((s) => s.status === 'failed').map((s) => s.name);
    return `No evidence could be read: every source failed or timed out (${failed.join(', ')}), so opsbot cannot say how this VM is doing. Try again, or check opsbot's access to the project.`;
  }
  // A restart in the window is the first thing to know (the chart shows its gap); /why-reboot explains it.
  const restarted = ctx.restarts.length
    ? `The VM ${ctx.restarts
        .map(
          (e) =>
            `${e.kind === 'restart' ? 'restarted' : e.kind === 'stop' ? 'was stopped' : 'was preempted'} at ${clock(e.at)} (${e.text.replace(/^restart: /, '')})`,
        )
        .join(', then ')}. `
    : '';
  if (findings.length > 0)
    return `${restarted}${findings
      .slice(0, 3)
      .map((f) => f.summary)
      .join('; ')}`;
  if (ctx.metricsReport.status === 'failed') {
    const guestRead = ctx.sources.some((s) => s.name === 'guest-logs' && s.status !== 'failed');
    return `${restarted}No resource problem found in ${guestRead ? 'the guest logs' : 'what could be read (the guest logs could not be read either)'}, but Cloud Monitoring could not be read (${ctx.metricsReport.reason ?? 'failed'}): utilization and saturation are unknown.`;
  }
  const parts: string[] = [];
  if (ctx.cpuUtil.peak !== null) parts.push(`CPU peak ${pct(ctx.cpuUtil.peak)}`);
  if (ctx.memUtil.peak !== null) parts.push(`memory peak ${pct(ctx.memUtil.peak)}`);
  const busy = ctx.rows.filter(
    (r) => r.resource === 'disk' && r.utilization.unit === '%' && r.utilization.peak !== null,
  );
  if (busy.length)
    parts.push(`disks at most ${pct(Math.max(...busy.map((r) => r.utilization.peak ?? 0)))} busy`);
  const fs = ctx.rows.filter((r) => r.resource === 'filesystem' && r.utilization.peak !== null);
  if (fs.length)
    parts.push(`filesystems at most ${pct(Math.max(...fs.map((r) => r.utilization.peak ?? 0)))} full`);
  const head = `${restarted}${
    parts.length
      ? `No resource problem in the window: ${parts.join(', ')}.`
      : 'No resource problem found in the window.'
  }`;
  return ctx.noAgent
    ? `${head} Hypervisor view only: memory, disk queues and filesystems need the Ops Agent.`
    : head;
};

// ---------------------------------------------------------------------------------------------------------
// Chart data

const MARKER_KINDS: ReadonlySet<DiagEvent['kind']> = new Set([
  'restart',
  'oom-kill',
  'live-migration',
  'host-error',
  'preemption',
  'stop',
]);

const buildChart = (
  grid: Grid,
  metrics: MetricSet,
  lines: { cpuUsed: Values; steal: Values | null; memUsed: Values; swapUsed: Values; noAgent: boolean },
  events: readonly DiagEvent[],
): ChartData => {
  const n = grid.times.length;
  const rate = (type: string): Values =>
    combine(
      seriesOf(metrics, type).map((s) => onGrid(grid, s, (v) => v / 1e6)),
      'sum',
      n,
    );
  const has = (v: Values | null): v is Values => v !== null && present(v).length > 0;
  const diskRead = rate(METRICS.diskReadBytes.type);
  const diskWrite = rate(METRICS.diskWriteBytes.type);
  const rx = rate(METRICS.netReceived.type);
  const tx = rate(METRICS.netSent.type);
  return {
    times: grid.times,
    panels: [
      {
        title: 'CPU',
        unit: '%',
        max: 100,
        lines: [
          ...(has(lines.cpuUsed) ? [{ label: 'busy', values: lines.cpuUsed }] : []),
          ...(has(lines.steal) ? [{ label: 'steal', values: lines.steal }] : []),
        ],
        emptyReason: has(lines.cpuUsed) ? null : 'no CPU metrics',
      },
      {
        title: 'Memory',
        unit: '%',
        max: 100,
        lines: [
          ...(has(lines.memUsed) ? [{ label: 'used', values: lines.memUsed }] : []),
          ...(has(lines.swapUsed) ? [{ label: 'swap', values: lines.swapUsed }] : []),
        ],
        emptyReason: has(lines.memUsed)
          ? null
          : lines.noAgent
            ? 'memory needs the Ops Agent'
            : 'no memory metrics',
      },
      {
        title: 'Disk I/O',
        unit: 'MB/s',
        max: null,
        lines: [
          ...(has(diskRead) ? [{ label: 'read', values: diskRead }] : []),
          ...(has(diskWrite) ? [{ label: 'write', values: diskWrite }] : []),
        ],
        emptyReason: has(diskRead) || has(diskWrite) ? null : 'no disk metrics',
      },
      {
        title: 'Network',
        unit: 'MB/s',
        max: null,
        lines: [
          ...(has(rx) ? [{ label: 'received', values: rx }] : []),
          ...(has(tx) ? [{ label: 'sent', values: tx }] : []),
        ],
        emptyReason: has(rx) || has(tx) ? null : 'no network metrics',
      },
    ],
    markers: events.filter((e) => MARKER_KINDS.has(e.kind)),
  };
};
