/**
 * Compute Engine and Cloud Logging adapters behind ComputePort / LoggingPort.
 *
 * - Compute: the real `@google-cloud/compute` clients in REST (fallback) mode, pointed at a configurable base
 *   URL (Private Service Connect, or a loopback fake in tests).
 * - Logging: `POST {endpoint}/v2/entries:list` through google-auth-library, because the Logging client
 *   cannot decode AuditLog `protoPayload` over REST and returns it as bytes over gRPC (FACTS.md). The REST
 *   API returns plain JSON, which is exactly the LogEntry shape of the port.
 *
 * Every call has a deadline, honours the caller's AbortSignal, and is retried on 429/5xx/UNAVAILABLE with
 * bounded backoff (Retry-After when the server gives one).
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type * as ComputeSdk from '@google-cloud/compute';

/**
 * The two client classes used, from their own modules: the package index also loads a 31 MB generated
 * protos.js (seconds of blocked event loop on a loaded machine) that REST fallback mode never needs.
 */
const loadCompute = (): Pick<typeof ComputeSdk, 'InstancesClient' | 'DisksClient'> => {
  const require = createRequire(import.meta.url);
  const v1 = `${dirname(require.resolve('@google-cloud/compute'))}/v1`;
  return {
    InstancesClient: (require(`${v1}/instances_client.js`) as typeof ComputeSdk).InstancesClient,
    DisksClient: (require(`${v1}/disks_client.js`) as typeof ComputeSdk).DisksClient,
  };
};

import { GoogleAuth } from 'google-auth-library';
import { AppError } from '../../core/errors.js';
import {
  DEFAULT_RETRY,
  fromHttpResponse,
  type GceErrorContext,
  type RetryPolicy,
  type Sleep,
  timeoutError,
  toIntegrationError,
  withRetry,
} from './errors.js';
import { num, obj, str, toInstanceInfo } from './instance-json.js';
import type {
  ComputePort,
  InstanceInfo,
  InstanceRef,
  ListEntriesRequest,
  LogEntry,
  LoggingPort,
  SerialPortChunk,
} from './port.js';

export const DEFAULT_LOGGING_ENDPOINT = 'https://logging.googleapis.com';
export const DEFAULT_COMPUTE_ENDPOINT = 'https://compute.googleapis.com';
export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';

/** Cloud Logging limits for entries:list (FACTS.md). */
export const MAX_FILTER_CHARS = 20_000;
export const MAX_PAGE_SIZE = 1000;
/** A guard against a server that never stops handing out page tokens. */
const MAX_PAGES = 10_000;

export interface GceAdapterOptions {
  readonly logging?: { readonly apiEndpoint?: string | undefined } | undefined;
  readonly compute?: { readonly apiEndpoint?: string | undefined } | undefined;
  /**
   * A google-auth-library client (`GoogleAuth`, `OAuth2Client`, ...): anything with `getRequestHeaders()`.
   * Default: Application Default Credentials with the cloud-platform scope.
   */
  readonly authClient?: unknown;
  /** Deadline of each HTTP call (default 30 s). */
  readonly timeoutMs?: number | undefined;
  readonly retry?: RetryPolicy | undefined;
  /** Injected for tests; default globalThis.fetch. */
  readonly fetch?: typeof fetch | undefined;
  readonly sleep?: Sleep | undefined;
}

export interface GceAdapters {
  readonly compute: ComputePort;
  readonly logging: LoggingPort;
  /** Releases the clients' connections. */
  close(): Promise<void>;
}

interface ParsedEndpoint {
  readonly base: string; // origin + path prefix, no trailing slash
  readonly host: string;
  readonly port: number;
  readonly protocol: 'http' | 'https';
  readonly path: string; // path prefix without trailing slash ('' for none)
}

/** A full base URL (`http://127.0.0.1:8080`, `https://compute-xyz.p.googleapis.com`) -> client options. */
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

interface HeaderSource {
  getRequestHeaders(url?: string | URL): Promise<Headers | Record<string, string>>;
}

const isHeaderSource = (value: unknown): value is HeaderSource =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as HeaderSource).getRequestHeaders === 'function';

/** Rejects when the signal aborts; cancels the gax call (it has `cancel()`) so its socket is released. */
const raceSignal = <T>(promise: Promise<T>, signal: AbortSignal): Promise<T> => {
  if (signal.aborted) {
    (promise as { cancel?: () => void }).cancel?.();
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      (promise as { cancel?: () => void }).cancel?.();
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
};

/** The caller's signal combined with a per-attempt deadline. */
const deadline = (timeoutMs: number, signal?: AbortSignal): AbortSignal =>
  signal ? AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs);

const isTimeoutReason = (signal: AbortSignal): boolean =>
  signal.aborted && signal.reason instanceof Error && signal.reason.name === 'TimeoutError';

export const createGceAdapters = (opts: GceAdapterOptions = {}): GceAdapters => {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const policy = opts.retry ?? DEFAULT_RETRY;
  const doFetch = opts.fetch ?? globalThis.fetch;
  const loggingEndpoint = parseEndpoint(
    opts.logging?.apiEndpoint ?? DEFAULT_LOGGING_ENDPOINT,
    'Cloud Logging',
  );
  const computeEndpoint = parseEndpoint(
    opts.compute?.apiEndpoint ?? DEFAULT_COMPUTE_ENDPOINT,
    'Compute Engine',
  );
  if (computeEndpoint.path !== '') {
    // The Compute client builds `/compute/v1/...` itself; it cannot take a path prefix.
    throw new AppError('config_invalid', 'the Compute Engine endpoint must be a bare origin (no path)');
  }
  const auth: unknown = opts.authClient ?? new GoogleAuth({ scopes: [CLOUD_PLATFORM_SCOPE] });
  if (!isHeaderSource(auth)) {
    throw new AppError('config_invalid', 'the Google auth client must be a google-auth-library client');
  }

  const clientOptions = {
    apiEndpoint: computeEndpoint.host,
    port: computeEndpoint.port,
    protocol: computeEndpoint.protocol,
    fallback: true,
    // biome-ignore lint/suspicious/noExplicitAny: the SDK's option type names google-auth-library's classes
    authClient: auth as any,
  };
  const { InstancesClient, DisksClient } = loadCompute();
  const instances = new InstancesClient(clientOptions);
  const disks = new DisksClient(clientOptions);
  // Our own retry loop (bounded, Retry-After aware) replaces gax's; gax keeps the per-call deadline.
  const gaxCall = (signal: AbortSignal) => ({ timeout: timeoutMs, retry: null, autoPaginate: false, signal });

  /** One compute call: deadline + caller signal, mapped errors, retried when retryable. */
  const computeCall = <T>(
    ctx: GceErrorContext,
    signal: AbortSignal | undefined,
    run: (callSignal: AbortSignal) => Promise<T>,
  ): Promise<T> =>
    withRetry(
      async () => {
        const callSignal = deadline(timeoutMs, signal);
        try {
          return await raceSignal(run(callSignal), callSignal);
        } catch (err) {
          if (callSignal.aborted) throw timeoutError({ ...ctx, timeoutMs }, err);
          throw toIntegrationError(err, ctx);
        }
      },
      { policy, signal, ...(opts.sleep ? { sleep: opts.sleep } : {}) },
    ).catch((err: unknown) => {
      throw toIntegrationError(err, ctx);
    });

  const compute: ComputePort = {
    async getInstance(ref: InstanceRef, signal?: AbortSignal): Promise<InstanceInfo | null> {
      const ctx: GceErrorContext = {
        service: 'compute',
        operation: `getting instance ${ref.name}`,
        project: ref.project,
        resource: `${ref.zone}/${ref.name}`,
      };
      try {
        const [raw] = await computeCall(ctx, signal, (s) =>
          instances.get({ project: ref.project, zone: ref.zone, instance: ref.name }, gaxCall(s)),
        );
        return toInstanceInfo(raw, { project: ref.project, zone: ref.zone });
      } catch (err) {
        if (err instanceof AppError && err.code === 'not_found') return null;
        throw err;
      }
    },

    async findInstancesByName(project: string, name: string, signal?: AbortSignal): Promise<InstanceInfo[]> {
      const ctx: GceErrorContext = {
        service: 'compute',
        operation: `listing instances named ${name}`,
        project,
      };
      // aggregatedListAsync follows nextPageToken itself; a retryable failure restarts the listing.
      return computeCall(ctx, signal, async (callSignal) => {
        const found: InstanceInfo[] = [];
        // returnPartialSuccess: one unreachable zone must not hide the instance in another. (Cast: some
        // releases of the v1 request type omit the field although the API accepts it.)
        const request = { project, filter: `name = "${name}"`, returnPartialSuccess: true, maxResults: 500 };
        const iterable = instances.aggregatedListAsync(
          request as Parameters<typeof instances.aggregatedListAsync>[0],
          gaxCall(callSignal),
        );
        for await (const [scope, list] of iterable) {
          if (callSignal.aborted) throw callSignal.reason;
          const zone = scope.startsWith('zones/') ? scope.slice('zones/'.length) : undefined;
          for (const inst of list.instances ?? []) {
            const info = toInstanceInfo(inst, zone ? { project, zone } : { project });
            if (info.name === name) found.push(info);
          }
        }
        return found;
      });
    },

    async getSerialPortOutput(
      ref: InstanceRef,
      start: number,
      signal?: AbortSignal,
    ): Promise<SerialPortChunk> {
      const ctx: GceErrorContext = {
        service: 'compute',
        operation: `reading the serial console of ${ref.name}`,
        project: ref.project,
        resource: `${ref.zone}/${ref.name}`,
      };
      const [raw] = await computeCall(ctx, signal, (s) =>
        instances.getSerialPortOutput(
          {
            project: ref.project,
            zone: ref.zone,
            instance: ref.name,
            port: 1,
            start: String(Math.trunc(start)),
          },
          gaxCall(s),
        ),
      );
      const out = obj(raw);
      return {
        contents: typeof out.contents === 'string' ? out.contents : '',
        start: num(out.start) ?? 0,
        next: num(out.next) ?? 0,
      };
    },

    async getDiskSourceImage(project: string, zone: string, disk: string, signal?: AbortSignal) {
      const ctx: GceErrorContext = {
        service: 'compute',
        operation: `getting disk ${disk}`,
        project,
        resource: `${zone}/${disk}`,
      };
      try {
        const [raw] = await computeCall(ctx, signal, (s) => disks.get({ project, zone, disk }, gaxCall(s)));
        return str(obj(raw).sourceImage);
      } catch (err) {
        if (err instanceof AppError && err.code === 'not_found') return null;
        throw err;
      }
    },
  };

  const entriesUrl = `${loggingEndpoint.base}/v2/entries:list`;

  const logging: LoggingPort = {
    async listEntries(request: ListEntriesRequest, signal?: AbortSignal): Promise<LogEntry[]> {
      assertListable(request);
      const project = projectOfResourceNames(request.resourceNames);
      const ctx: GceErrorContext = { service: 'logging', operation: 'reading logs', project };
      const pageSize = Math.max(1, Math.min(MAX_PAGE_SIZE, Math.trunc(request.pageSize ?? MAX_PAGE_SIZE)));
      const maxEntries = request.maxEntries ?? Number.POSITIVE_INFINITY;
      const entries: LogEntry[] = [];
      let pageToken: string | undefined;
      for (let page = 0; page < MAX_PAGES; page++) {
        const body = JSON.stringify({
          resourceNames: request.resourceNames,
          filter: request.filter,
          orderBy: request.orderBy ?? 'timestamp asc',
          pageSize: Math.min(pageSize, Math.max(1, maxEntries - entries.length)),
          ...(pageToken ? { pageToken } : {}),
        });
        const result = await withRetry(
          async () => {
            const callSignal = deadline(timeoutMs, signal);
            try {
              const authHeaders = await raceSignal(
                Promise.resolve(auth.getRequestHeaders(entriesUrl)),
                callSignal,
              );
              const headers = new Headers(authHeaders as ConstructorParameters<typeof Headers>[0]);
              headers.set('content-type', 'application/json');
              headers.set('accept', 'application/json');
              const res = await doFetch(entriesUrl, { method: 'POST', headers, body, signal: callSignal });
              const text = await res.text();
              let json: unknown = null;
              try {
                json = text ? JSON.parse(text) : {};
              } catch {
                json = null;
              }
              if (!res.ok) throw fromHttpResponse(res.status, json, res.headers, ctx);
              if (json === null || typeof json !== 'object') {
                throw fromHttpResponse(
                  502,
                  { error: { message: 'response was not JSON' } },
                  res.headers,
                  ctx,
                );
              }
              return json as { entries?: unknown; nextPageToken?: unknown };
            } catch (err) {
              if (err instanceof AppError) throw err;
              if (isTimeoutReason(callSignal) && !signal?.aborted)
                throw timeoutError({ ...ctx, timeoutMs }, err);
              throw toIntegrationError(err, ctx);
            }
          },
          { policy, signal, ...(opts.sleep ? { sleep: opts.sleep } : {}) },
        ).catch((err: unknown) => {
          throw toIntegrationError(err, ctx);
        });
        if (Array.isArray(result.entries)) {
          for (const e of result.entries) {
            if (entries.length >= maxEntries) break;
            entries.push(e as LogEntry);
          }
        }
        // An empty page can still carry a token: keep paging until there is none.
        pageToken = str(result.nextPageToken) ?? undefined;
        if (!pageToken || entries.length >= maxEntries) break;
      }
      return entries;
    },
  };

  return {
    compute,
    logging,
    async close() {
      await Promise.allSettled([instances.close(), disks.close()]);
    },
  };
};

const TIMESTAMP_BOUND = /\btimestamp\s*(>=|>|<=|<)/;

/** A malformed request is the caller's bug: refuse it before it costs a round trip (or reads 24 h only). */
export const assertListable = (request: ListEntriesRequest): void => {
  if (request.resourceNames.length === 0) {
    throw new AppError('bad_input', 'a Cloud Logging query needs at least one resource name (projects/P)');
  }
  if (request.filter.length > MAX_FILTER_CHARS) {
    throw new AppError(
      'bad_input',
      `the Cloud Logging filter is ${request.filter.length} characters; the API accepts at most ${MAX_FILTER_CHARS}`,
    );
  }
  if (!TIMESTAMP_BOUND.test(request.filter)) {
    throw new AppError('bad_input', 'a Cloud Logging filter must carry explicit timestamp bounds');
  }
  if (request.pageSize !== undefined && (request.pageSize < 1 || request.pageSize > MAX_PAGE_SIZE)) {
    throw new AppError('bad_input', `pageSize must be between 1 and ${MAX_PAGE_SIZE}`);
  }
};

const projectOfResourceNames = (names: readonly string[]): string | undefined => {
  const projects = names.map((n) => /^projects\/([^/]+)/.exec(n)?.[1]).filter((p): p is string => !!p);
  return projects.length > 0 ? projects.join(', ') : undefined;
};

export { toInstanceInfo } from './instance-json.js';
