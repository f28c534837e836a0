import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

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
  readonly webhookDeliveries: Counter<'source' | 'outcome'>;
  readonly webhookDuration: Histogram<'source'>;
  readonly forgeEvents: Counter<'via' | 'result'>;
  readonly webhookQueue: Gauge;
  readonly webhookDeferred: Counter;
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
    webhookDeliveries: new Counter({
      name: 'opsbot_webhook_deliveries_total',
      help: 'Forge webhook deliveries by source and outcome (accepted, duplicate, ignored, unauthorized, too_large, timeout, busy, bad_request, not_configured)',
      labelNames: ['source', 'outcome'],
      registers: [registry],
    }),
    webhookDuration: new Histogram({
      name: 'opsbot_webhook_response_seconds',
      help: 'Time from receiving a forge webhook to answering it (forges give up after 10 s)',
      labelNames: ['source'],
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    }),
    forgeEvents: new Counter({
      name: 'opsbot_forge_events_total',
      help: 'Forge events applied to followed MRs, by how they came (webhook, poll) and result (changed, unchanged, ignored)',
      labelNames: ['via', 'result'],
      registers: [registry],
    }),
    webhookQueue: new Gauge({
      name: 'opsbot_webhook_queue_depth',
      help: 'Accepted deliveries waiting in memory to be applied (bounded; beyond it they wait in the store)',
      registers: [registry],
    }),
    webhookDeferred: new Counter({
      name: 'opsbot_webhook_deferred_total',
      help: 'Accepted deliveries left in the store for the recovery sweep because the in-memory queue was full',
      registers: [registry],
    }),
  };
};
