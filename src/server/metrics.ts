import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

/**
 * opsbot's Prometheus metrics. One registry per running instance (not prom-client's global one), so several
 * instances can live in one process (tests, benchmarks) without "metric already registered" errors.
 */
export interface Metrics {
  readonly registry: Registry;
  readonly commandsTotal: Counter<'command' | 'outcome'>;
  readonly commandDuration: Histogram<'command'>;
  readonly ackDuration: Histogram;
  readonly upstreamErrors: Counter<'service'>;
}

export const createMetrics = (options: { defaultMetrics?: boolean } = {}): Metrics => {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  return {
    registry,
    commandsTotal: new Counter({
      name: 'opsbot_commands_total',
      help: 'Slash commands handled, by command and outcome (ok, refused, bad_input, failed, ...)',
      labelNames: ['command', 'outcome'],
      registers: [registry],
    }),
    commandDuration: new Histogram({
      name: 'opsbot_command_duration_seconds',
      help: 'Time from receiving a slash command to its final answer',
      labelNames: ['command'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers: [registry],
    }),
    ackDuration: new Histogram({
      name: 'opsbot_ack_duration_seconds',
      help: 'Time from receiving a Slack request to acknowledging it (Slack gives up after 3 s)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3],
      registers: [registry],
    }),
    upstreamErrors: new Counter({
      name: 'opsbot_upstream_errors_total',
      help: 'Failed calls to upstream services (slack, compute, logging, gitlab, github, store)',
      labelNames: ['service'],
      registers: [registry],
    }),
  };
};
