/**
 * FleetPort over plain REST through google-auth-library's auth client (no Google SDK): Cloud Logging
 * `POST /v2/entries:list` paged with pageToken, and Compute `GET /compute/v1/projects/P/aggregated/instances`
 * with returnPartialSuccess=true. Endpoints are configurable like the other Google clients (Private Service
 * Connect, loopback fakes). Every call has a deadline, honours the caller's signal and is retried on
 * 429/5xx with bounded backoff (Retry-After when given): the same call as adapter.ts (rest.ts).
 */
import { AppError } from '../../core/errors.js';
import { DEFAULT_RETRY, type GceErrorContext, type RetryPolicy, type Sleep } from './errors.js';
import type { FleetAuditQuery, FleetInstance, FleetListing, FleetPort } from './fleet-port.js';
import type { LogEntry } from './port.js';
import {
  DEFAULT_COMPUTE_ENDPOINT,
  DEFAULT_LOGGING_ENDPOINT,
  googleJsonCall,
  headerSourceOf,
  parseEndpoint,
} from './rest.js';

const MAX_PAGES = 10_000;

export interface FleetRestOptions {
  readonly loggingEndpoint?: string | undefined;
  readonly computeEndpoint?: string | undefined;
  /** A static OAuth 2.0 access token (GOOGLE_OAUTH_ACCESS_TOKEN), sent as is: no Google library loaded. */
  readonly accessToken?: string | undefined;
  /** A google-auth-library client (anything with getRequestHeaders); default ADC, cloud-platform scope. */
  readonly authClient?: unknown;
  readonly timeoutMs?: number | undefined;
  readonly retry?: RetryPolicy | undefined;
  readonly fetch?: typeof fetch | undefined;
  readonly sleep?: Sleep | undefined;
}

const rec = (v: unknown): Record<string, unknown> =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
const s = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/** One aggregated-list instance JSON -> FleetInstance. */
export const toFleetInstance = (raw: unknown, project: string, zone: string): FleetInstance => {
  const i = rec(raw);
  const up = rec(rec(i.resourceStatus).upcomingMaintenance);
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(rec(i.labels))) if (typeof v === 'string') labels[k] = v;
  return {
    project,
    zone: s(i.zone)?.split('/').pop() ?? zone,
    name: s(i.name) ?? '',
    id: typeof i.id === 'string' || typeof i.id === 'number' ? String(i.id) : '',
    status: s(i.status) ?? 'UNKNOWN',
    labels,
    onHostMaintenance: s(rec(i.scheduling).onHostMaintenance),
    upcomingMaintenance:
      Object.keys(up).length === 0
        ? null
        : {
            type: s(up.type),
            windowStartTime: s(up.windowStartTime) ?? s(up.startTimeWindow) ?? null,
            windowEndTime: s(up.windowEndTime) ?? null,
            canReschedule: typeof up.canReschedule === 'boolean' ? up.canReschedule : null,
            maintenanceStatus: s(up.maintenanceStatus),
          },
  };
};

export const createFleetRestClient = (opts: FleetRestOptions = {}): FleetPort => {
  const logging = parseEndpoint(opts.loggingEndpoint ?? DEFAULT_LOGGING_ENDPOINT, 'Cloud Logging').base;
  const compute = parseEndpoint(opts.computeEndpoint ?? DEFAULT_COMPUTE_ENDPOINT, 'Compute Engine').base;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const policy = opts.retry ?? DEFAULT_RETRY;
  const doFetch = opts.fetch ?? globalThis.fetch;
  const auth = headerSourceOf({ accessToken: opts.accessToken, authClient: opts.authClient });

  /** One JSON call with auth headers, deadline, mapped errors and retries (rest.ts). */
  const call = googleJsonCall({ timeoutMs, policy, fetch: doFetch, sleep: opts.sleep, auth });

  return {
    async *pagesOfEntries(query: FleetAuditQuery, signal?: AbortSignal) {
      if (!/\btimestamp\s*(>=|>|<=|<)/.test(query.filter)) {
        throw new AppError('bad_input', 'a Cloud Logging filter must carry explicit timestamp bounds');
      }
      const ctx: GceErrorContext = {
        service: 'logging',
        operation: 'reading audit logs',
        project: query.project,
      };
      const url = `${logging}/v2/entries:list`;
      let pageToken: string | null = null;
      for (let page = 0; page < MAX_PAGES; page++) {
        const body = JSON.stringify({
          resourceNames: [`projects/${query.project}`],
          filter: query.filter,
          orderBy: 'timestamp asc',
          pageSize: Math.max(1, Math.min(1000, query.pageSize ?? 1000)),
          ...(pageToken ? { pageToken } : {}),
        });
        const json = await call(ctx, url, { method: 'POST', body }, signal);
        const entries = Array.isArray(json.entries) ? (json.entries as LogEntry[]) : [];
        if (entries.length > 0) yield entries;
        // An empty page can still carry a token: keep paging until there is none.
        pageToken = s(json.nextPageToken);
        if (!pageToken) return;
      }
    },

    async listInstances(project: string, signal?: AbortSignal): Promise<FleetListing> {
      const ctx: GceErrorContext = { service: 'compute', operation: 'listing instances', project };
      const instances: FleetInstance[] = [];
      const unreachable = new Set<string>();
      let pageToken: string | null = null;
      for (let page = 0; page < MAX_PAGES; page++) {
        const q = new URLSearchParams({ returnPartialSuccess: 'true', maxResults: '500' });
        if (pageToken) q.set('pageToken', pageToken);
        const url = `${compute}/compute/v1/projects/${encodeURIComponent(project)}/aggregated/instances?${q}`;
        const json = await call(ctx, url, { method: 'GET' }, signal);
        for (const [scope, value] of Object.entries(rec(json.items))) {
          const zone = scope.replace(/^zones\//, '');
          const v = rec(value);
          for (const inst of Array.isArray(v.instances) ? v.instances : []) {
            instances.push(toFleetInstance(inst, project, zone));
          }
          const code = s(rec(v.warning).code);
          if (code && code !== 'NO_RESULTS_ON_PAGE') unreachable.add(zone);
        }
        for (const u of Array.isArray(json.unreachables) ? json.unreachables : []) {
          if (typeof u === 'string') unreachable.add(u.replace(/^zones\//, ''));
        }
        pageToken = s(json.nextPageToken);
        if (!pageToken) break;
      }
      return { instances, unreachable: [...unreachable] };
    },
  };
};
