/**
 * Google Cloud failures (HTTP responses of entries:list, google-gax errors of the Compute client, network
 * errors, timeouts) mapped to IntegrationError: a service, whether a retry may help, the HTTP status, and a
 * message a user can act on. Raw upstream text is only ever quoted after scrubbing credentials.
 */
import { AppError, type AppErrorCode, IntegrationError } from '../../core/errors.js';

export type GceService = 'logging' | 'compute' | 'monitoring';

export interface GceErrorContext {
  readonly service: GceService;
  /** What was being done, e.g. "reading logs", "getting instance web-1". */
  readonly operation: string;
  readonly project?: string | undefined;
  /** The instance (or other resource) concerned, for not-found messages. */
  readonly resource?: string | undefined;
  readonly timeoutMs?: number | undefined;
}

/** gRPC status codes (google.rpc.Code) as google-gax reports them, with their HTTP equivalents. */
const GRPC_TO_HTTP: Readonly<Record<number, number>> = {
  1: 499, // CANCELLED
  2: 500, // UNKNOWN
  3: 400, // INVALID_ARGUMENT
  4: 504, // DEADLINE_EXCEEDED
  5: 404, // NOT_FOUND
  6: 409, // ALREADY_EXISTS
  7: 403, // PERMISSION_DENIED
  8: 429, // RESOURCE_EXHAUSTED
  9: 400, // FAILED_PRECONDITION
  10: 409, // ABORTED
  11: 400, // OUT_OF_RANGE
  12: 501, // UNIMPLEMENTED
  13: 500, // INTERNAL
  14: 503, // UNAVAILABLE
  15: 500, // DATA_LOSS
  16: 401, // UNAUTHENTICATED
};

const SERVICE_LABEL: Readonly<Record<GceService, string>> = {
  logging: 'Cloud Logging',
  compute: 'Compute Engine',
  monitoring: 'Cloud Monitoring',
};

/** Removes anything that looks like a credential from text that may be shown or logged. */
export const scrubSecrets = (text: string): string =>
  text
    .replace(/Bearer\s+[A-Za-z0-9._~+/=-]+/gi, 'Bearer [redacted]')
    .replace(/ya29\.[A-Za-z0-9._~+/=-]+/g, '[redacted]')
    .replace(
      /(access_token|refresh_token|id_token|client_secret|private_key)(["':=\s]+)[^"'&\s,}]+/gi,
      '$1$2[redacted]',
    )
    .replace(/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g, '[redacted key]');

const RETRYABLE_HTTP = new Set([408, 429, 500, 502, 503, 504]);

export const isRetryableStatus = (status: number): boolean => RETRYABLE_HTTP.has(status);

/** Parses a Retry-After header (seconds or HTTP date) into milliseconds from `now`. */
export const parseRetryAfter = (
  value: string | null | undefined,
  now: number = Date.now(),
): number | null => {
  if (!value) return null;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - now);
};

/** A google.rpc.RetryInfo `retryDelay` ("1.5s") from an error's details, if any. */
const retryInfoDelay = (details: unknown): number | null => {
  if (!Array.isArray(details)) return null;
  for (const d of details) {
    if (d && typeof d === 'object' && 'retryDelay' in d) {
      const raw = (d as { retryDelay: unknown }).retryDelay;
      if (typeof raw === 'string') {
        const m = /^(\d+(?:\.\d+)?)s$/.exec(raw);
        if (m?.[1]) return Math.round(Number(m[1]) * 1000);
      } else if (raw && typeof raw === 'object') {
        // A Duration: seconds may be a number, a string or a protobuf Long (String() reads all three).
        const r = raw as { seconds?: unknown; nanos?: unknown };
        return Number(String(r.seconds ?? 0)) * 1000 + Math.round(Number(String(r.nanos ?? 0)) / 1e6);
      }
    }
  }
  return null;
};

const projectPart = (ctx: GceErrorContext): string => (ctx.project ? ` in project ${ctx.project}` : '');

const shorten = (text: string, max = 300): string => {
  const clean = scrubSecrets(text).replace(/\s+/g, ' ').trim();
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
};

/** The user message and code for an HTTP status from a Google API. */
const describeStatus = (
  status: number,
  ctx: GceErrorContext,
  upstreamMessage: string,
): { message: string; code: AppErrorCode } => {
  const svc = SERVICE_LABEL[ctx.service];
  switch (status) {
    case 400:
      return {
        code: 'upstream',
        message: `${svc} rejected the request while ${ctx.operation}${projectPart(ctx)}: ${shorten(upstreamMessage) || 'invalid argument'}`,
      };
    case 401:
      return {
        code: 'forbidden',
        message: `opsbot could not authenticate to ${svc} while ${ctx.operation}: check its Google credentials (Application Default Credentials, the service account key, or an expired GOOGLE_OAUTH_ACCESS_TOKEN)`,
      };
    case 403:
      return {
        code: 'forbidden',
        message:
          ctx.service === 'logging'
            ? `permission denied reading logs${projectPart(ctx)}: the opsbot service account needs roles/logging.viewer`
            : ctx.service === 'monitoring'
              ? /has not been used|is disabled|SERVICE_DISABLED/i.test(upstreamMessage)
                ? `the Cloud Monitoring API is not enabled${projectPart(ctx)}: enable monitoring.googleapis.com to see host metrics`
                : `permission denied reading metrics${projectPart(ctx)}: the opsbot service account needs roles/monitoring.viewer`
              : `permission denied ${ctx.operation}${projectPart(ctx)}: the opsbot service account needs roles/compute.viewer`,
      };
    case 404:
      return {
        code: 'not_found',
        message:
          ctx.service === 'compute'
            ? `instance not found: ${ctx.resource ?? 'the requested resource'}${projectPart(ctx)}`
            : `${svc} found nothing to read${projectPart(ctx)} (does the project exist, with the Logging API enabled?)`,
      };
    case 429:
      return {
        code: 'upstream',
        message: `${svc} quota/rate limited while ${ctx.operation}${projectPart(ctx)}: try again in a minute`,
      };
    case 504:
      return { code: 'timeout', message: `${svc} timed out while ${ctx.operation}${projectPart(ctx)}` };
    default:
      return {
        code: 'upstream',
        message: `${svc} failed while ${ctx.operation}${projectPart(ctx)} (HTTP ${status}); it may be a transient outage`,
      };
  }
};

/** The `error.message` of a Google JSON error body, if the body is one. */
export const googleErrorMessage = (body: unknown): string => {
  if (body && typeof body === 'object' && 'error' in body) {
    const e = (body as { error: unknown }).error;
    if (
      e &&
      typeof e === 'object' &&
      'message' in e &&
      typeof (e as { message: unknown }).message === 'string'
    ) {
      return (e as { message: string }).message;
    }
    if (typeof e === 'string') return e;
  }
  return '';
};

/** An HTTP error response (non-2xx) of a Google REST API. */
export const fromHttpResponse = (
  status: number,
  body: unknown,
  headers: { get(name: string): string | null },
  ctx: GceErrorContext,
): IntegrationError => {
  const upstream = googleErrorMessage(body);
  const { message, code } = describeStatus(status, ctx, upstream);
  const retryAfterMs =
    parseRetryAfter(headers.get('retry-after')) ??
    retryInfoDelay((body as { error?: { details?: unknown } } | null)?.error?.details);
  return new IntegrationError(ctx.service, message, {
    code,
    status,
    retryable: isRetryableStatus(status),
    details: { operation: ctx.operation, upstream: shorten(upstream), retryAfterMs },
  });
};

const isAbortLike = (err: unknown): boolean =>
  err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError');

/** A timeout (our deadline elapsed) as an IntegrationError. */
export const timeoutError = (ctx: GceErrorContext, cause?: unknown): IntegrationError =>
  new IntegrationError(
    ctx.service,
    `${SERVICE_LABEL[ctx.service]} did not answer in time while ${ctx.operation}${projectPart(ctx)}${ctx.timeoutMs ? ` (${ctx.timeoutMs} ms)` : ''}`,
    { code: 'timeout', retryable: false, status: null, cause, details: { operation: ctx.operation } },
  );

/**
 * Any error thrown while talking to a Google API -> IntegrationError. AppErrors pass through; google-gax
 * errors carry a gRPC `code` and (over REST) `httpStatusCode`; fetch failures are network errors.
 */
export const toIntegrationError = (err: unknown, ctx: GceErrorContext): AppError => {
  if (err instanceof AppError) return err;
  if (isAbortLike(err)) return timeoutError(ctx, err);
  if (err && typeof err === 'object') {
    const e = err as {
      code?: unknown;
      httpStatusCode?: unknown;
      message?: unknown;
      details?: unknown;
      statusDetails?: unknown;
    };
    const httpStatus =
      typeof e.httpStatusCode === 'number'
        ? e.httpStatusCode
        : typeof e.code === 'number'
          ? GRPC_TO_HTTP[e.code]
          : undefined;
    if (typeof httpStatus === 'number') {
      if (e.code === 1) return timeoutError(ctx, err); // CANCELLED: our signal or deadline
      if (e.code === 4) return timeoutError(ctx, err); // DEADLINE_EXCEEDED
      const upstream = typeof e.message === 'string' ? e.message : '';
      const { message, code } = describeStatus(httpStatus, ctx, upstream);
      return new IntegrationError(ctx.service, message, {
        code,
        status: httpStatus,
        retryable: isRetryableStatus(httpStatus),
        cause: err,
        details: {
          operation: ctx.operation,
          upstream: shorten(upstream),
          // google-gax (REST) decodes google.rpc.RetryInfo into statusDetails.
          retryAfterMs: retryInfoDelay(e.statusDetails) ?? retryInfoDelay(e.details),
        },
      });
    }
    const netCode = (err as { cause?: { code?: unknown } }).cause?.code ?? e.code;
    if (
      typeof netCode === 'string' ||
      (err instanceof TypeError && /fetch failed/i.test(String(e.message)))
    ) {
      return new IntegrationError(
        ctx.service,
        `could not reach ${SERVICE_LABEL[ctx.service]} while ${ctx.operation}${typeof netCode === 'string' ? ` (${netCode})` : ''}: check the network or the configured endpoint`,
        {
          code: 'upstream',
          retryable: true,
          status: null,
          cause: err,
          details: { operation: ctx.operation },
        },
      );
    }
  }
  return new IntegrationError(
    ctx.service,
    `${SERVICE_LABEL[ctx.service]} failed unexpectedly while ${ctx.operation}${projectPart(ctx)}`,
    { code: 'upstream', retryable: false, status: null, cause: err, details: { operation: ctx.operation } },
  );
};

export interface RetryPolicy {
  /** Total attempts, including the first. */
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 4, baseDelayMs: 200, maxDelayMs: 10_000 };

export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export const sleep: Sleep = (ms, signal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/**
 * Runs `attempt` again while it fails with a retryable IntegrationError (429, 5xx, UNAVAILABLE, network),
 * at most `maxAttempts` times, waiting the server's Retry-After when it gave one (capped), else exponential
 * backoff with jitter. The signal stops the waiting too.
 */
export const withRetry = async <T>(
  attempt: () => Promise<T>,
  options: {
    policy?: RetryPolicy;
    signal?: AbortSignal | undefined;
    sleep?: Sleep;
    random?: () => number;
  } = {},
): Promise<T> => {
  const policy = options.policy ?? DEFAULT_RETRY;
  const wait = options.sleep ?? sleep;
  const random = options.random ?? Math.random;
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      const retryable = err instanceof IntegrationError && err.retryable;
      if (!retryable || n >= policy.maxAttempts || options.signal?.aborted) throw err;
      const hinted = (err as IntegrationError).details.retryAfterMs;
      const backoff = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (n - 1));
      const delay =
        typeof hinted === 'number' && hinted >= 0
          ? Math.min(hinted, policy.maxDelayMs)
          : Math.round(backoff / 2 + (random() * backoff) / 2);
      await wait(delay, options.signal);
    }
  }
};

/**
 * Rejects when the signal aborts, and cancels the promise when it can be (a gax call has `cancel()`: its
 * socket is then released), so an abandoned call neither holds a connection nor keeps its caller waiting.
 */
export const raceSignal = <T>(promise: Promise<T>, signal: AbortSignal): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    const cancel = (): void => {
      (promise as { cancel?: () => void }).cancel?.();
      reject(signal.reason);
    };
    if (signal.aborted) return cancel();
    signal.addEventListener('abort', cancel, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', cancel);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', cancel);
        reject(e);
      },
    );
  });
