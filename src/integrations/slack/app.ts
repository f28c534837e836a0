import { App, SocketModeReceiver } from '@slack/bolt';
import { AppError, IntegrationError } from '../../core/errors.js';
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
 * apps.connections.open errors that no retry fixes: the app-level token itself is refused. @slack/socket-mode
 * gives up on a few of them (invalid_auth, not_authed, ...) but retries the others forever with a growing
 * delay, so a token without connections:write or a revoked one would leave opsbot "starting" for good.
 */
const APP_TOKEN_REFUSALS = new Set([
  'not_authed',
  'invalid_auth',
  'invalid_token',
  'account_inactive',
  'token_revoked',
  'token_expired',
  'missing_scope',
  'not_allowed_token_type',
  'no_permission',
  'access_denied',
  'ekm_access_denied',
  'team_access_not_granted',
  'team_disabled',
  'user_removed_from_team',
]);

const appTokenRefused = (code: string): AppError =>
  new AppError(
    'config_invalid',
    `Slack refused SLACK_APP_TOKEN when opening the Socket Mode connection (${code}): expected an app-level token (xapp-...) of this Slack app with the connections:write scope.`,
  );

/**
 * Wraps the fetch of the Socket Mode client's Web API calls to see how Slack answers apps.connections.open
 * (the SDK offers no event for a refused URL request, only a log line).
 */
const watchConnectionsOpen = (base: typeof fetch, onRefused: (code: string) => void): typeof fetch => {
  const watched = async (input: Parameters<typeof fetch>[0], init?: RequestInit): Promise<Response> => {
    const res = await base(input, init);
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (url.endsWith('/apps.connections.open')) {
      res
        .clone()
        .json()
        .then((body: unknown) => {
          const b = body as { ok?: unknown; error?: unknown } | null;
          if (b?.ok === false && typeof b.error === 'string' && APP_TOKEN_REFUSALS.has(b.error))
            onRefused(b.error);
        })
        .catch(() => undefined);
    }
    return res;
  };
  return watched as typeof fetch;
};

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
  /** Set while start() waits for the first connection: a refused app token fails the start. */
  let onAppTokenRefused: ((code: string) => void) | null = null;
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
    const socketFetch = watchConnectionsOpen(o.fetch ?? globalThis.fetch, (code) => {
      if (onAppTokenRefused) onAppTokenRefused(code);
      else
        o.logger.error(
          { slackError: code },
          'Slack refused SLACK_APP_TOKEN while reconnecting Socket Mode; no Slack commands arrive until it is fixed',
        );
    });
    socketReceiver = new SocketModeReceiver({
      appToken: o.transport.appToken,
      logger,
      logLevel: slackLogLevel(o.logger.level),
      installerOptions: { clientOptions: { slackApiUrl: o.apiUrl, fetch: socketFetch } },
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
      if (!socketReceiver) return;
      const receiver = socketReceiver;
      const refused = new Promise<never>((_resolve, reject) => {
        onAppTokenRefused = (code) => reject(appTokenRefused(code));
      });
      const connecting = receiver.start();
      connecting.catch(() => undefined); // the race below reports it
      try {
        await Promise.race([connecting, refused]);
      } catch (err) {
        // Stop the client's own retry loop before reporting: nothing may keep connecting after a failed start.
        await receiver.client.disconnect().catch(() => undefined);
        const code = (err as { data?: { error?: unknown } } | null)?.data?.error;
        if (err instanceof AppError) throw err;
        if (typeof code === 'string' && APP_TOKEN_REFUSALS.has(code)) throw appTokenRefused(code);
        throw new IntegrationError(
          'slack',
          `Could not open the Socket Mode connection to Slack${typeof code === 'string' ? ` (${code})` : ''}: check slack.apiUrl / SLACK_API_URL and that Slack is reachable.`,
          { cause: err, retryable: true },
        );
      } finally {
        onAppTokenRefused = null;
      }
    },
    async stop() {
      if (socketReceiver) await socketReceiver.stop();
    },
  };
};
