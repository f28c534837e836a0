import type { DiagThresholds } from '../../core/config.js';
import type { MonitoringPort } from '../../integrations/gce/monitoring-port.js';
import type { ComputePort, LoggingPort } from '../../integrations/gce/port.js';
import { type CollectTimeouts, collectEvidence } from '../why-reboot/collect.js';
import type { SourceReport, TimeWindow } from '../why-reboot/types.js';
import { analyzeDiag } from './analyze.js';
import { HOST_LINES } from './host-lines.js';
import { type CollectedMetrics, collectMetrics } from './metrics.js';
import type { DiagReport, DiagSourceReport } from './types.js';

/**
 * /diag against the live APIs, assembled once for Slack and the command line: the /why-reboot collector
 * (instance, audit logs, guest logs, serial console: each under its own deadline) reads with the host-health
 * classifier, and the Cloud Monitoring reads start the moment the instance id is known, so the whole costs
 * about max(audit, serial, instance + max(guest logs, metrics)).
 */

export interface DiagPorts {
  readonly compute: ComputePort;
  readonly logging: LoggingPort;
  readonly monitoring: MonitoringPort;
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
  let metrics: Promise<CollectedMetrics> | null = null;
  const evidence = await collectEvidence(
    {
      compute: ports.compute,
      logging: ports.logging,
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
      onInstance: (instance) => {
        if (instance.id)
          metrics = collectMetrics(
            ports.monitoring,
            { project: instance.project, instanceId: instance.id, window: question.window },
            settings.metricsTimeoutMs,
          );
      },
    },
  );
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

/** True when every evidence source that ran failed: the result rests on nothing (CLI exit 1, Slack says so). */
export const noDiagEvidence = (sources: readonly DiagSourceReport[]): boolean => {
  const tried = sources.filter((s) => s.status !== 'skipped');
  return tried.length > 0 && tried.every((s) => s.status === 'failed');
};

/** "the instance lookup failed (<reason>)" when the lookup failed (a timeout, a 403), not when it found nothing. */
const lookupFailure = (sources: readonly SourceReport[]): string | null => {
  const lookup = sources.find((s) => s.name === 'instance');
  return lookup?.status === 'failed'
    ? `the instance lookup failed (${lookup.reason ?? 'unknown error'})`
    : null;
};
