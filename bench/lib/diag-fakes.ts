import { startDiagFakes } from '../../test/fakes/diag-env.js';
import { buildHostScenario } from '../../test/fakes/host-scenarios.js';

/**
 * The upstream latency the /diag benchmarks inject per source (ms): every Monitoring call waits `metrics`, the
 * audit-log query is the slowest source.
 */
export const DIAG_LATENCY = { instance: 300, audit: 1500, guest: 1000, serial: 800, metrics: 1000 } as const;

/**
 * The fakes /diag's benchmarks run against: the OOM scenario seeded, one page per answer (as a real Monitoring
 * answers these small queries), and DIAG_LATENCY injected per source.
 */
export const startDiagBenchFakes = async () => {
  const fakes = await startDiagFakes();
  const scenario = buildHostScenario('oom', { end: new Date('2026-11-20T11:00:00Z') });
  fakes.seed(scenario);
  fakes.monitoring.maxPageSize = 1000;
  fakes.monitoring.emptyPagesBefore = 0;
  fakes.logging.emptyPagesBefore = 0;
  fakes.compute.latencyMs['instances.get'] = DIAG_LATENCY.instance;
  fakes.compute.latencyMs['instances.aggregatedList'] = DIAG_LATENCY.instance;
  fakes.compute.latencyMs['instances.serialPort'] = DIAG_LATENCY.serial;
  fakes.logging.latencyByFilter.cloudaudit = DIAG_LATENCY.audit;
  fakes.logging.latencyByFilter['/logs/syslog'] = DIAG_LATENCY.guest;
  fakes.monitoring.latencyMs['timeSeries.list'] = DIAG_LATENCY.metrics;
  const { project, zone, name } = scenario.target;
  /** `opsbot diag` over the scenario's window against these fakes, as a user types it (JSON out). */
  const cliArgs = [
    'diag',
    `${project}/${zone}/${name}`,
    '--since',
    scenario.from.toISOString(),
    '--until',
    scenario.end.toISOString(),
    '--config',
    fakes.configPath,
    '--json',
  ];
  return { fakes, scenario, cliArgs };
};
