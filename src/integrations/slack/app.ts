import { createRequire } from 'node:module';
import type * as Bolt from '@slack/bolt';
import type { App, SocketModeReceiver } from '@slack/bolt';
import type { RetryOptions } from '@slack/web-api';
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
  /**
   * Socket Mode: how long start() waits for Slack's `hello` before failing startup (default 30 s). Without
   * it an unreachable Web API keeps @slack/socket-mode retrying apps.connections.open ~100 times.
   */
  readonly connectTimeoutMs?: number;
}

export const DEFAULT_SOCKET_CONNECT_TIMEOUT_MS = 30_000;

/**
 * Bolt's App and Socket Mode receiver from their own modules: the package's index also loads Express and the
 * Express and AWS Lambda receivers, the assistant and workflow helpers and the whole @slack/types namespace,
 * none of which opsbot uses (~0.1 s of every start). The index is the fallback should a Bolt release move them.
 */
const requireBolt = createRequire(import.meta.url);
const boltModule = <K extends 'App' | 'SocketModeReceiver'>(name: K, path: string): (typeof Bolt)[K] => {
  try {
    const m = requireBolt(path) as { default?: (typeof Bolt)[K] };
    if (typeof m.default === 'function') return m.default;
  } catch {
    // moved in this release: the index below
  }
  return (requireBolt('@slack/bolt') as typeof Bolt)[name];
};

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

/** How the last apps.connections.open attempt went, for the startup-deadline message (no token, no body). */
type OpenAttempt =
  | { readonly kind: 'none' }
  | { readonly kind: 'network'; readonly code: string | null }
  | { readonly kind: 'http'; readonly status: number }
  | { readonly kind: 'slack'; readonly error: string }
  | { readonly kind: 'url' };

interface ConnectionsOpenWatch {
  readonly onRefused: (code: string) => void;
  readonly onAttempt: (attempt: OpenAttempt) => void;
  /** Aborted once startup gave up: in-flight calls are cut and new ones fail at once. */
  readonly abandon: AbortSignal;
}

const networkCode = (err: unknown): string | null => {
  for (let e: unknown = err, i = 0; e && i < 5; e = (e as { cause?: unknown }).cause, i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[A-Z][A-Z0-9_]+$/.test(code)) return code;
  }
  return null;
};

/**
 * Wraps the fetch of the Socket Mode client's Web API calls to see how Slack answers apps.connections.open
 * (the SDK offers no event for a refused URL request, only a log line), and to cut its calls once startup
 * gave up on connecting.
 */
const watchConnectionsOpen = (base: typeof fetch, w: ConnectionsOpenWatch): typeof fetch => {
  const watched = async (input: Parameters<typeof fetch>[0], init?: RequestInit): Promise<Response> => {
    w.abandon.throwIfAborted();
    const signal = init?.signal ? AbortSignal.any([init.signal, w.abandon]) : w.abandon;
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const isOpen = url.endsWith('/apps.connections.open');
    let res: Response;
    try {
      res = await base(input, { ...init, signal });
    } catch (err) {
      if (isOpen && !w.abandon.aborted) w.onAttempt({ kind: 'network', code: networkCode(err) });
      throw err;
    }
    if (isOpen) {
      if (res.status !== 200) w.onAttempt({ kind: 'http', status: res.status });
      res
        .clone()
        .json()
        .then((body: unknown) => {
          const b = body as { ok?: unknown; error?: unknown } | null;
          if (b?.ok === false && typeof b.error === 'string') {
            w.onAttempt({ kind: 'slack', error: b.error });
            if (APP_TOKEN_REFUSALS.has(b.error)) w.onRefused(b.error);
          } else if (b?.ok === true) w.onAttempt({ kind: 'url' });
        })
        .catch(() => undefined);
    }
    return res;
  };
  return watched as typeof fetch;
};

/** The Web API base URL without credentials, query or fragment: safe for a log line or an error message. */
const displayUrl = (apiUrl: string): string => {
  try {
    const u = new URL(apiUrl);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(unparsable slack.apiUrl)';
  }
};

const seconds = (ms: number): string => `${Number((ms / 1000).toFixed(1))} s`;

const connectDeadlinePassed = (apiUrl: string, ms: number, last: OpenAttempt): IntegrationError => {
  const where = `the Slack Web API at ${displayUrl(apiUrl)}`;
  const within = `within ${seconds(ms)}`;
  const check = '(check SLACK_API_URL / slack.apiUrl, proxies and firewalls, and that Slack is up)';
  let what: string;
  switch (last.kind) {
    case 'url':
      what = `${where} issued a Socket Mode URL, but the WebSocket did not connect and receive Slack's hello ${within} (check that proxies and firewalls allow outbound WebSocket (wss://) connections to Slack)`;
      break;
    case 'http':
      what = `${where} answered apps.connections.open with HTTP ${last.status} (never 200) ${within} ${check}`;
      break;
    case 'slack':
      what = `${where} kept refusing apps.connections.open (${last.error}) ${within} ${check}`;
      break;
    case 'network':
      what = `${where} could not be reached${last.code ? ` (${last.code})` : ''} ${within} ${check}`;
      break;
    default:
      what = `${where} did not answer ${within} ${check}`;
  }
  return new IntegrationError('slack', `Could not open the Socket Mode connection: ${what}.`, {
    retryable: true,
    details: { apiUrl: displayUrl(apiUrl), timeoutMs: ms, lastAttempt: last.kind },
  });
};

/**
 * Disconnects the Socket Mode client (clears its reconnect timer, closes a socket being opened). A peer that
 * never completes the close handshake would hold this for the SDK's 30 s; startup reports its error anyway.
 */
const stopClient = async (receiver: SocketModeReceiver): Promise<void> => {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    receiver.client.disconnect().catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, 2_000);
      timer.unref();
    }),
  ]);
  clearTimeout(timer);
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
  /** Aborted when start() gives up: the Socket Mode client's Web API calls and retries stop with it. */
  let abandon = new AbortController();
  let lastAttempt: OpenAttempt = { kind: 'none' };
  const connectTimeoutMs = o.connectTimeoutMs ?? DEFAULT_SOCKET_CONNECT_TIMEOUT_MS;
  if (o.transport.mode === 'http') {
    httpReceiver = new SlackHttpReceiver({
      signingSecrets: o.transport.signingSecrets,
      logger: o.logger.child({ component: 'slack-receiver' }),
      inFlight: o.inFlight,
      ...(o.onAck ? { onAck: o.onAck } : {}),
      ...(o.now ? { now: o.now } : {}),
    });
  } else {
    const base = o.fetch ?? globalThis.fetch;
    // The signal is read per call: a later start() after a failed one gets a fresh controller.
    const socketFetch: typeof fetch = (input, init) =>
      watchConnectionsOpen(base, {
        onRefused: (code) => {
          if (onAppTokenRefused) onAppTokenRefused(code);
          else
            o.logger.error(
              { slackError: code },
              'Slack refused SLACK_APP_TOKEN while reconnecting Socket Mode; no Slack commands arrive until it is fixed',
            );
        },
        onAttempt: (attempt) => {
          lastAttempt = attempt;
        },
        abandon: abandon.signal,
      })(input, init);
    // The SDK's own default (100 retries, factor 1.3), plus: once start() gave up, the next failed attempt
    // ends the retry loop instead of scheduling another, and a pending retry timer does not hold the process.
    const retryConfig: RetryOptions & { onFailedAttempt: (err: Error) => void } = {
      retries: 100,
      factor: 1.3,
      unref: true,
      onFailedAttempt: (err) => {
        if (abandon.signal.aborted) throw err;
      },
    };
    const SocketReceiver = boltModule(
      'SocketModeReceiver',
      '@slack/bolt/dist/receivers/SocketModeReceiver.js',
    );
    socketReceiver = new SocketReceiver({
      appToken: o.transport.appToken,
      logger,
      logLevel: slackLogLevel(o.logger.level),
      installerOptions: { clientOptions: { slackApiUrl: o.apiUrl, fetch: socketFetch, retryConfig } },
    });
  }
  const receiver = httpReceiver ?? socketReceiver;
  if (!receiver) throw new Error('unreachable: no Slack receiver');
  const BoltApp = boltModule('App', '@slack/bolt/dist/App.js');
  const app = new BoltApp({
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
      abandon = new AbortController();
      lastAttempt = { kind: 'none' };
      const refused = new Promise<never>((_resolve, reject) => {
        onAppTokenRefused = (code) => reject(appTokenRefused(code));
      });
      let timer: ReturnType<typeof setTimeout> | undefined;
      const deadline = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(
          () => reject(connectDeadlinePassed(o.apiUrl, connectTimeoutMs, lastAttempt)),
          connectTimeoutMs,
        );
      });
      const connecting = receiver.start();
      connecting.catch(() => undefined); // the race below reports it
      try {
        await Promise.race([connecting, refused, deadline]);
      } catch (err) {
        // Stop the client's own retry loop before reporting: nothing may keep connecting after a failed start.
        const gaveUp = abandon;
        gaveUp.abort(new Error('Socket Mode startup gave up'));
        await stopClient(receiver);
        // A URL already fetched when we gave up could still open a socket: close it as soon as it does.
        connecting.then(
          () => stopClient(receiver),
          () => undefined,
        );
        const code = (err as { data?: { error?: unknown } } | null)?.data?.error;
        if (err instanceof AppError) throw err;
        if (typeof code === 'string' && APP_TOKEN_REFUSALS.has(code)) throw appTokenRefused(code);
        throw new IntegrationError(
          'slack',
          `Could not open the Socket Mode connection to Slack${typeof code === 'string' ? ` (${code})` : ''}: check slack.apiUrl / SLACK_API_URL and that Slack is reachable.`,
          { cause: err, retryable: true },
        );
      } finally {
        clearTimeout(timer);
        onAppTokenRefused = null;
      }
    },
    async stop() {
      if (socketReceiver) await socketReceiver.stop();
    },
  };
};
