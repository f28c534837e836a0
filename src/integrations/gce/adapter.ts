/**
 * Compute Engine and Cloud Logging adapters behind ComputePort / LoggingPort, as plain REST calls (fetch)
 * against configurable base URLs (Private Service Connect, or a loopback fake in tests):
 *
 * - Compute v1: `GET /compute/v1/projects/P/zones/Z/instances/N` (instances.get),
 *   `GET /compute/v1/projects/P/aggregated/instances` (instances.aggregatedList, with
 *   `returnPartialSuccess=true`: one unreachable zone must not hide the instance in another),
 *   `GET .../instances/N/serialPort` and `GET .../disks/D`. The request is exactly what is written here: no
 *   client library drops a field its generated request type lacks (the `@google-cloud/compute` request type
 *   of aggregatedList had no `returnPartialSuccess`, and the library silently left it out).
 * - Logging v2: `POST /v2/entries:list`, because the Logging client cannot decode AuditLog `protoPayload`
 *   over REST and returns it as bytes over gRPC (FACTS.md). The REST API returns plain JSON, which is exactly
 *   the LogEntry shape of the port.
 *
 * No Google client library is loaded: a static token (GOOGLE_OAUTH_ACCESS_TOKEN) is sent as is, and
 * google-auth-library (Application Default Credentials) is imported on the first call that needs it.
 * Every call has a deadline, honours the caller's AbortSignal, and is retried on 429/5xx/UNAVAILABLE with
 * bounded backoff (Retry-After when the server gives one).
 */
import { AppError } from '../../core/errors.js';
import { DEFAULT_RETRY, type GceErrorContext, type RetryPolicy, type Sleep } from './errors.js';
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
import {
  DEFAULT_COMPUTE_ENDPOINT,
  DEFAULT_LOGGING_ENDPOINT,
  googleJsonCall,
  headerSourceOf,
  parseEndpoint,
} from './rest.js';

export {
  CLOUD_PLATFORM_SCOPE,
  DEFAULT_COMPUTE_ENDPOINT,
  DEFAULT_LOGGING_ENDPOINT,
  parseEndpoint,
} from './rest.js';

/** Cloud Logging limits for entries:list (FACTS.md). */
export const MAX_FILTER_CHARS = 20_000;
export const MAX_PAGE_SIZE = 1000;
/** A guard against a server that never stops handing out page tokens. */
const MAX_PAGES = 10_000;

export interface GceAdapterOptions {
  readonly logging?: { readonly apiEndpoint?: string | undefined } | undefined;
  readonly compute?: { readonly apiEndpoint?: string | undefined } | undefined;
  /** A static OAuth 2.0 access token (GOOGLE_OAUTH_ACCESS_TOKEN), sent as is: no token host, no refresh. */
  readonly accessToken?: string | undefined;
  /**
   * A google-auth-library client (`GoogleAuth`, `OAuth2Client`, ...): anything with `getRequestHeaders()`.
   * Default (no accessToken either): Application Default Credentials with the cloud-platform scope.
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

/** One path segment of a REST URL (project, zone and resource names are checked upstream; encode anyway). */
const seg = (value: string): string => encodeURIComponent(value);

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
  const auth = headerSourceOf(opts);

  /** One Google REST call returning JSON (rest.ts). */
  const callJson = googleJsonCall({ timeoutMs, policy, fetch: doFetch, sleep: opts.sleep, auth });

  const computeUrl = (path: string, query: Record<string, string | undefined> = {}): string => {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, v);
    const q = params.toString();
    return `${computeEndpoint.base}/compute/v1/${path}${q ? `?${q}` : ''}`;
  };
  const zonePath = (project: string, zone: string): string => `projects/${seg(project)}/zones/${seg(zone)}`;

  const compute: ComputePort = {
    async getInstance(ref: InstanceRef, signal?: AbortSignal): Promise<InstanceInfo | null> {
      const ctx: GceErrorContext = {
        service: 'compute',
        operation: `getting instance ${ref.name}`,
        project: ref.project,
        resource: `${ref.zone}/${ref.name}`,
      };
      try {
        const raw = await callJson(
          ctx,
          computeUrl(`${zonePath(ref.project, ref.zone)}/instances/${seg(ref.name)}`),
          { method: 'GET' },
          signal,
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
      const found: InstanceInfo[] = [];
      let pageToken: string | undefined;
      for (let page = 0; page < MAX_PAGES; page++) {
        const list = await callJson(
          ctx,
          computeUrl(`projects/${seg(project)}/aggregated/instances`, {
            filter: `name = "${name}"`,
            maxResults: '500',
            // One unreachable zone must not hide the instance in another: the zones that answered are
            // listed, the others named in `unreachables`.
            returnPartialSuccess: 'true',
            pageToken,
          }),
          { method: 'GET' },
          signal,
        );
        for (const [scope, scoped] of Object.entries(obj(list.items))) {
          const zone = scope.startsWith('zones/') ? scope.slice('zones/'.length) : undefined;
          const instances = obj(scoped).instances;
          for (const inst of Array.isArray(instances) ? instances : []) {
            const info = toInstanceInfo(inst, zone ? { project, zone } : { project });
            if (info.name === name) found.push(info);
          }
        }
        pageToken = str(list.nextPageToken) ?? undefined;
        if (!pageToken) break;
      }
      return found;
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
      const out = await callJson(
        ctx,
        computeUrl(`${zonePath(ref.project, ref.zone)}/instances/${seg(ref.name)}/serialPort`, {
          port: '1',
          start: String(Math.trunc(start)),
        }),
        { method: 'GET' },
        signal,
      );
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
        const raw = await callJson(
          ctx,
          computeUrl(`${zonePath(project, zone)}/disks/${seg(disk)}`),
          { method: 'GET' },
          signal,
        );
        return str(raw.sourceImage);
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
        const result = await callJson(ctx, entriesUrl, { method: 'POST', body }, signal);
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
    // fetch keeps no per-adapter connections to release.
    async close() {},
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
