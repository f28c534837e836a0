import type { Logger as SlackLogger } from '@slack/bolt';
import { LogLevel } from '@slack/web-api';
import type { Logger } from '../../core/logger.js';

/**
 * Bolt and @slack/web-api log through this into pino, so their lines get the same JSON shape, redaction and
 * secret scrubbing as ours. Their messages are free text: it goes in `sdkMessage`, the pino message is static.
 */
export const toSlackLogger = (logger: Logger, name = 'slack-sdk'): SlackLogger => {
  const child = logger.child({ component: name });
  let level: LogLevel = LogLevel.INFO;
  const text = (msg: unknown[]): string =>
    msg
      .map((m) => (typeof m === 'string' ? m : m instanceof Error ? m.message : JSON.stringify(m)))
      .join(' ');
  return {
    debug: (...msg: unknown[]) => child.debug({ sdkMessage: text(msg) }, 'slack sdk'),
    info: (...msg: unknown[]) => child.info({ sdkMessage: text(msg) }, 'slack sdk'),
    warn: (...msg: unknown[]) => child.warn({ sdkMessage: text(msg) }, 'slack sdk'),
    error: (...msg: unknown[]) => child.error({ sdkMessage: text(msg) }, 'slack sdk'),
    setLevel: (l: LogLevel) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => {},
  };
};

/** The SDK's level that lets through what pino's level would. */
export const slackLogLevel = (pinoLevel: string): LogLevel =>
  pinoLevel === 'debug' || pinoLevel === 'trace'
    ? LogLevel.DEBUG
    : pinoLevel === 'info'
      ? LogLevel.INFO
      : pinoLevel === 'warn'
        ? LogLevel.WARN
        : LogLevel.ERROR;
