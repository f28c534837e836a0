/**
 * The REST plumbing every plain-REST Google adapter shares (Compute and Logging in adapter.ts, the fleet's
 * in fleet-rest.ts): endpoint URLs, where the auth headers come from, and one JSON call with a deadline per
 * attempt, the caller's signal, Google errors mapped and bounded retries. No Google client library is
 * loaded here; google-auth-library only on the first call that needs Application Default Credentials.
 */
import { AppError } from '../../core/errors.js';
import {
  fromHttpResponse,
  type GceErrorContext,
  type RetryPolicy,
  raceSignal,
  type Sleep,
  timeoutError,
  toIntegrationError,
  withRetry,
} from './errors.js';
import { checkAccessToken } from './token.js';

export const DEFAULT_LOGGING_ENDPOINT = 'https://logging.googleapis.com';
export const DEFAULT_COMPUTE_ENDPOINT = 'https://compute.googleapis.com';
export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';

export interface ParsedEndpoint {
  readonly base: string; // origin + path prefix, no trailing slash
  readonly host: string;
  readonly port: number;
  readonly protocol: 'http' | 'https';
  readonly path: string; // path prefix without trailing slash ('' for none)
}

/** A full base URL (`http://127.0.0.1:8080`, `https://compute-xyz.p.googleapis.com`) -> its parts. */
export const parseEndpoint = (value: string, what: string): ParsedEndpoint => {
  let url: URL;
  try {
    url = new URL(value);
  } catch (cause) {
    throw new AppError('config_invalid', `${what} endpoint is not a URL: ${value}`, { cause });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new AppError('config_invalid', `${what} endpoint must be http(s): ${value}`);
  }
  const protocol = url.protocol === 'http:' ? 'http' : 'https';
  const port = url.port ? Number(url.port) : protocol === 'http' ? 80 : 443;
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const path = url.pathname.replace(/\/+$/, '');
  return { base: `${url.origin}${path}`, host, port, protocol, path };
};

export interface HeaderSource {
  getRequestHeaders(url?: string | URL): Promise<Headers | Record<string, string>>;
}

const isHeaderSource = (value: unknown): value is HeaderSource =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as HeaderSource).getRequestHeaders === 'function';

/** The caller's signal combined with a per-attempt deadline. */
const deadline = (timeoutMs: number, signal?: AbortSignal): AbortSignal =>
  signal ? AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs);

const isTimeoutReason = (signal: AbortSignal): boolean =>
  signal.aborted && signal.reason instanceof Error && signal.reason.name === 'TimeoutError';

/** Application Default Credentials, loaded on first use (google-auth-library costs ~0.4 s to import). */
const adcHeaderSource = (): HeaderSource => {
  let auth: Promise<HeaderSource> | null = null;
  return {
    getRequestHeaders: async (url) => {
      auth ??= import('google-auth-library').then(
        ({ GoogleAuth }) => new GoogleAuth({ scopes: [CLOUD_PLATFORM_SCOPE] }),
      );
      return (await auth).getRequestHeaders(url);
    },
  };
};

/**
 * Where the Authorization header comes from: a static access token (GOOGLE_OAUTH_ACCESS_TOKEN) sent as is,
 * a google-auth-library client (anything with `getRequestHeaders()`), else Application Default Credentials
 * with the cloud-platform scope.
 */
export const headerSourceOf = (opts: {
  readonly accessToken?: string | undefined;
  readonly authClient?: unknown;
}): HeaderSource => {
  if (opts.accessToken !== undefined) {
    const header = `Bearer ${checkAccessToken(opts.accessToken)}`;
    return { getRequestHeaders: async () => ({ authorization: header }) };
  }
  if (opts.authClient === undefined) return adcHeaderSource();
  if (!isHeaderSource(opts.authClient)) {
    throw new AppError('config_invalid', 'the Google auth client must be a google-auth-library client');
  }
  return opts.authClient;
};

export interface GoogleJsonCallOptions {
  /** Deadline of each attempt. */
  readonly timeoutMs: number;
  readonly policy: RetryPolicy;
  readonly fetch: typeof fetch;
  readonly sleep?: Sleep | undefined;
  readonly auth: HeaderSource;
}

export type GoogleJsonCall = (
  ctx: GceErrorContext,
  url: string,
  init: { readonly method: 'GET' | 'POST'; readonly body?: string },
  signal: AbortSignal | undefined,
) => Promise<Record<string, unknown>>;

/**
 * One Google REST call returning JSON: auth headers, the per-attempt deadline and the caller's signal,
 * Google errors mapped to IntegrationError, retried while retryable.
 */
export const googleJsonCall = (opts: GoogleJsonCallOptions): GoogleJsonCall => {
  const { timeoutMs, auth } = opts;
  const doFetch = opts.fetch;
  const retryOptions = { policy: opts.policy, ...(opts.sleep ? { sleep: opts.sleep } : {}) };
  return (
    ctx: GceErrorContext,
    url: string,
    init: { readonly method: 'GET' | 'POST'; readonly body?: string },
    signal: AbortSignal | undefined,
  ): Promise<Record<string, unknown>> =>
    withRetry(
      async () => {
        const callSignal = deadline(timeoutMs, signal);
        try {
          const authHeaders = await raceSignal(Promise.resolve(auth.getRequestHeaders(url)), callSignal);
          const headers = new Headers(authHeaders as ConstructorParameters<typeof Headers>[0]);
          headers.set('accept', 'application/json');
          if (init.body !== undefined) headers.set('content-type', 'application/json');
          const res = await doFetch(url, { ...init, headers, signal: callSignal });
          const text = await res.text();
          let json: unknown = null;
          try {
            json = text ? JSON.parse(text) : {};
          } catch {
            json = null;
          }
          if (!res.ok) throw fromHttpResponse(res.status, json, res.headers, ctx);
          if (json === null || typeof json !== 'object' || Array.isArray(json)) {
            throw fromHttpResponse(502, { error: { message: 'response was not JSON' } }, res.headers, ctx);
          }
          return json as Record<string, unknown>;
        } catch (err) {
          if (err instanceof AppError) throw err;
          if (isTimeoutReason(callSignal) && !signal?.aborted) throw timeoutError({ ...ctx, timeoutMs }, err);
          throw toIntegrationError(err, ctx);
        }
      },
      { ...retryOptions, signal },
    ).catch((err: unknown) => {
      throw toIntegrationError(err, ctx);
    });
};
