import type { DiagThresholds } from '../../core/config.js';
import type { MonitoringPort } from '../../integrations/gce/monitoring-port.js';
import type { ComputePort, LoggingPort } from '../../integrations/gce/port.js';
import { type CollectTimeouts, collectEvidence } from '../why-reboot/collect.js';
import type { InstanceMemory } from '../why-reboot/instance-memory.js';
import type { SourceReport, TimeWindow } from '../why-reboot/types.js';
import type * as Analyze from './analyze.js';
import { HOST_LINES } from './host-lines.js';
import { type CollectedMetrics, collectMetrics } from './metrics.js';
import type { DiagReport, DiagSourceReport } from './types.js';

/**
 * /diag against the live APIs, assembled once for Slack and the command line: the /why-reboot collector
 * (instance, audit logs, guest logs, serial console: each under its own deadline) reads with the host-health
 * classifier, and the Cloud Monitoring reads start the moment the instance id is known: at once when the
 * instance memory holds it (confirmed by the lookup, else read again with the id the lookup found), else
 * after the lookup. So the whole costs about max(audit, serial, guest logs, metrics, instance) when the id is
 * remembered, and max(audit, serial, instance + max(audit by id, guest logs, metrics)) when it is not.
 */

export interface DiagPorts {
  readonly compute: ComputePort;
  readonly logging: LoggingPort;
  readonly monitoring: MonitoringPort;
  /** What opsbot last saw of each VM (the store's `instances`); without it every question is a first one. */
  readonly memory?: InstanceMemory | undefined;
}

export interface DiagSettings {
  readonly defaultProject?: string | undefined;
  readonly projects: readonly string[];
  readonly timeouts: CollectTimeouts;
  readonly journaldLog?: string | undefined;
  readonly metricsTimeoutMs: number;
  readonly thresholds: DiagThresholds;
  readonly sustainMinutes: number;
}

export interface DiagQuestion {
  readonly vm: string;
  readonly project?: string | null | undefined;
  readonly zone?: string | null | undefined;
  readonly window: TimeWindow;
}

const skippedMetrics = (reason: string): DiagSourceReport => ({
  name: 'metrics',
  status: 'skipped',
  reason,
  items: 0,
  durationMs: null,
});

export const investigateDiag = async (
  ports: DiagPorts,
  settings: DiagSettings,
  question: DiagQuestion,
  now: () => Date,
): Promise<DiagReport> => {
  // The analysis loads while the requests are in flight, once the lookup has answered (the first requests
  // left before it: its answer took a round trip), a turn of the event loop after the queries it starts.
  let analysis: Promise<typeof Analyze> | null = null;
  const loadAnalysis = () => {
    analysis ??= new Promise((resolve) => setImmediate(resolve)).then(() => import('./analyze.js'));
    return analysis;
  };
  let metrics: Promise<CollectedMetrics> | null = null;
  // Reads started with a remembered id, kept only if the lookup confirms it.
  type EarlyReads = { project: string; id: string; stop: AbortController; reads: Promise<CollectedMetrics> };
  let early: EarlyReads | null = null;
  const read = (project: string, instanceId: string, stop?: AbortSignal) =>
    collectMetrics(
      ports.monitoring,
      { project, instanceId, window: question.window },
      settings.metricsTimeoutMs,
      undefined,
      stop,
    );
  const collecting = collectEvidence(
    {
      compute: ports.compute,
      logging: ports.logging,
      memory: ports.memory,
      now,
      timeouts: settings.timeouts,
      journaldLog: settings.journaldLog,
      classifier: HOST_LINES,
    },
    {
      vm: question.vm,
      project: question.project ?? undefined,
      zone: question.zone ?? undefined,
      window: question.window,
      defaultProject: settings.defaultProject,
      projects: settings.projects,
      onRecalled: (known) => {
        const stop = new AbortController();
        early = {
          project: known.project,
          id: known.id,
          stop,
          reads: read(known.project, known.id, stop.signal),
        };
      },
      onInstance: (instance) => {
        loadAnalysis().catch(() => undefined); // a load failure is thrown where it is awaited
        const e = early as EarlyReads | null;
        if (e && e.id === instance.id && e.project === instance.project) metrics = e.reads;
        else if (instance.id) metrics = read(instance.project, instance.id);
      },
    },
  );
  collecting.catch(() => undefined); // its failure is thrown below, once awaited
  const evidence = await collecting.catch((err: unknown) => {
    (early as EarlyReads | null)?.stop.abort(); // no answer (a name in two zones, say): no metrics either
    throw err;
  });
  const { analyzeDiag } = await loadAnalysis();
  const started = early as EarlyReads | null;
  if (started && metrics !== started.reads) started.stop.abort(); // another instance, or none: not its metrics
  const collected = metrics ? await (metrics as Promise<CollectedMetrics>) : null;
  return analyzeDiag(
    {
      evidence,
      metrics: collected?.metrics ?? new Map(),
      metricsReport:
        collected?.report ??
        skippedMetrics(
          evidence.instance
            ? 'the instance id is unknown'
            : (lookupFailure(evidence.sources) ?? 'the instance was not found'),
        ),
      metricFilters: collected?.filters ?? [],
    },
    { now: now(), thresholds: settings.thresholds, sustainMinutes: settings.sustainMinutes },
  );
};

export { noDiagEvidence } from './no-evidence.js';

/** "the instance lookup failed (<reason>)" when the lookup failed (a timeout, a 403), not when it found nothing. */
const lookupFailure = (sources: readonly SourceReport[]): string | null => {
  const lookup = sources.find((s) => s.name === 'instance');
  return lookup?.status === 'failed'
    ? `the instance lookup failed (${lookup.reason ?? 'unknown error'})`
    : null;
};
