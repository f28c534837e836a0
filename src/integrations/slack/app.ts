import { App, SocketModeReceiver } from '@slack/bolt';
import type { Logger } from '../../core/logger.js';
import type { InFlight } from '../../server/drain.js';
import { buildSlackClientOptions } from './client.js';
import type { SlackIdentity } from './port.js';
import { SlackHttpReceiver } from './receiver.js';
import { slackLogLevel, toSlackLogger } from './sdk-logger.js';

export type SlackTransport =
  | { readonly mode: 'http'; readonly signingSecrets: readonly string[] }
  | { readonly mode: 'socket'; readonly appToken: string };

export interface SlackAppOptions {
  readonly transport: SlackTransport;
  readonly botToken: string;
  readonly apiUrl: string;
  readonly retries: number;
  readonly logger: Logger;
  readonly inFlight: InFlight;
  /** The bot's identity once known (readiness calls auth.test); Bolt then needs no auth.test per event. */
  readonly identity: () => SlackIdentity | null;
  readonly onAck?: (seconds: number) => void;
  readonly fetch?: typeof fetch;
  readonly now?: () => number;
}

export interface SlackApp {
  readonly app: App;
  /** Set in HTTP mode: opsbot's HTTP server routes `POST /slack/events` to it. */
  readonly httpReceiver: SlackHttpReceiver | null;
  start(): Promise<void>;
  /** Stops receiving events (Socket Mode disconnects); in-flight work continues. */
  stop(): Promise<void>;
}

/**
 * The Bolt app in Socket Mode (app-level token) or HTTP mode (signing secret, opsbot's own receiver on the
 * shared HTTP server). The Web API base URL and the retry policy come from config in both modes.
 */
export const createSlackApp = (o: SlackAppOptions): SlackApp => {
  const logger = toSlackLogger(o.logger, 'bolt');
  const clientOptions = buildSlackClientOptions({
    apiUrl: o.apiUrl,
    retries: o.retries,
    logger: o.logger,
    ...(o.fetch ? { fetch: o.fetch } : {}),
  });
  const authorize = async () => {
    const id = o.identity();
    return {
      botToken: o.botToken,
      ...(id ? { botUserId: id.userId, teamId: id.teamId, ...(id.botId ? { botId: id.botId } : {}) } : {}),
    };
  };
  let httpReceiver: SlackHttpReceiver | null = null;
  let socketReceiver: SocketModeReceiver | null = null;
  if (o.transport.mode === 'http') {
    httpReceiver = new SlackHttpReceiver({
      signingSecrets: o.transport.signingSecrets,
      logger: o.logger.child({ component: 'slack-receiver' }),
      inFlight: o.inFlight,
      ...(o.onAck ? { onAck: o.onAck } : {}),
      ...(o.now ? { now: o.now } : {}),
    });
  } else {
    socketReceiver = new SocketModeReceiver({
      appToken: o.transport.appToken,
      logger,
      logLevel: slackLogLevel(o.logger.level),
      installerOptions: { clientOptions: { slackApiUrl: o.apiUrl } },
    });
  }
  const receiver = httpReceiver ?? socketReceiver;
  if (!receiver) throw new Error('unreachable: no Slack receiver');
  const app = new App({
    receiver,
    authorize,
    logger,
    logLevel: slackLogLevel(o.logger.level),
    clientOptions,
    // opsbot keeps its own state in the store; Bolt's per-event conversation lookup is pure overhead.
    convoStore: false,
  });
  if (socketReceiver) {
    // Socket Mode events do not pass through our HTTP server: track them here for the shutdown drain.
    app.use(async ({ next }) => {
      await o.inFlight.track(next());
    });
  }
  o.logger.info(
    {
      mode: o.transport.mode,
      apiUrl: o.apiUrl,
      retries: o.retries,
      retryCapMs: clientOptions.retryConfig?.maxRetryTime,
    },
    'slack app configured',
  );
  return {
    app,
    httpReceiver,
    async start() {
      if (socketReceiver) await socketReceiver.start();
    },
    async stop() {
      if (socketReceiver) await socketReceiver.stop();
    },
  };
};
