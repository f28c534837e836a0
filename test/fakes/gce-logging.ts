/**
 * A protocol-faithful fake of Cloud Logging `POST /v2/entries:list` on loopback: bearer auth, the request
 * validation the real API does (pageSize <= 1000, orderBy, filter length, resource names), a real filter
 * evaluator (gce-logging-filter.ts), paging with opaque tokens bound to the query, EMPTY pages that still
 * carry a token, recorded requests, per-route latency and injected failures.
 */

import {
  type FakeServerCore,
  type InjectedFailure,
  sendGoogleError,
  sendJson,
  startFakeServer,
} from './gce-http.js';
import { compileLogFilter } from './gce-logging-filter.js';

export interface FakeLogEntry {
  readonly logName: string;
  readonly timestamp: string;
  readonly [key: string]: unknown;
}

export interface FakeLoggingOptions {
  readonly accessToken?: string;
  /** The most the server returns per page, whatever the client asks (the real API may return fewer). */
  readonly maxPageSize?: number;
  /** Empty pages (no entries, with a token) served before every non-empty page. */
  readonly emptyPagesBefore?: number;
  /** One more empty page with a token after the last entries. */
  readonly trailingEmptyPage?: boolean;
  readonly latencyMs?: number;
  readonly entries?: readonly FakeLogEntry[];
}

export interface FakeLogging extends FakeServerCore {
  readonly entries: FakeLogEntry[];
  maxPageSize: number;
  emptyPagesBefore: number;
  trailingEmptyPage: boolean;
  addEntries(entries: readonly FakeLogEntry[]): void;
  /** The filters of the entries:list requests received, in order. */
  filters(): string[];
  failNext(route: 'entries.list', failure: InjectedFailure): void;
  /** Latency (ms) of entries:list requests whose filter contains the key, e.g. { cloudaudit: 1500 }. */
  readonly latencyByFilter: Record<string, number>;
}

interface PageState {
  readonly o: number; // offset into the matching entries
  readonly e: number; // empty pages still to serve before the next real page
  readonly h: string; // the query the token belongs to
  readonly t?: 1; // trailing empty page
}

const queryHash = (body: Record<string, unknown>): string =>
  Buffer.from(JSON.stringify([body.resourceNames, body.filter, body.orderBy ?? '']))
    .toString('base64url')
    .slice(-24);

const encodeToken = (s: PageState): string => Buffer.from(JSON.stringify(s)).toString('base64url');
const decodeToken = (t: string): PageState | null => {
  try {
    const v = JSON.parse(Buffer.from(t, 'base64url').toString('utf8')) as PageState;
    return typeof v.o === 'number' && typeof v.e === 'number' && typeof v.h === 'string' ? v : null;
  } catch {
    return null;
  }
};

const tsKey = (ts: string): string => ts.replace(/(\.\d+)?Z$/, (m) => m.padStart(11, '0'));

export const startFakeLogging = async (options: FakeLoggingOptions = {}): Promise<FakeLogging> => {
  const state = {
    entries: [...(options.entries ?? [])] as FakeLogEntry[],
    maxPageSize: options.maxPageSize ?? 1000,
    emptyPagesBefore: options.emptyPagesBefore ?? 0,
    trailingEmptyPage: options.trailingEmptyPage ?? false,
  };
  const latencyByFilter: Record<string, number> = {};
  const resultCache = new Map<string, FakeLogEntry[]>();
  const core = await startFakeServer({
    latencyOf: (_routed, body) => {
      const filter = String((body as { filter?: unknown } | undefined)?.filter ?? '');
      for (const [key, ms] of Object.entries(latencyByFilter)) if (filter.includes(key)) return ms;
      return undefined;
    },
    accessToken: options.accessToken ?? 'fake-logging-token',
    serviceName: 'Cloud Logging',
    match: (method, path) =>
      method === 'POST' && path === '/v2/entries:list' ? { route: 'entries.list', params: {} } : null,
    handle: ({ res, body }) => {
      if (!body || typeof body !== 'object') {
        sendGoogleError(res, 400, 'Invalid JSON payload received.');
        return;
      }
      const b = body as Record<string, unknown>;
      const resourceNames = Array.isArray(b.resourceNames) ? (b.resourceNames as unknown[]).map(String) : [];
      if (resourceNames.length === 0) {
        sendGoogleError(res, 400, 'resourceNames: at least one resource name is required');
        return;
      }
      const filter = typeof b.filter === 'string' ? b.filter : '';
      if (filter.length > 20_000) {
        sendGoogleError(res, 400, 'filter: the filter is longer than 20000 characters');
        return;
      }
      const orderBy = b.orderBy === undefined ? 'timestamp asc' : b.orderBy;
      if (orderBy !== 'timestamp asc' && orderBy !== 'timestamp desc') {
        sendGoogleError(res, 400, `orderBy: only "timestamp asc" and "timestamp desc" are supported`);
        return;
      }
      const requested = b.pageSize === undefined ? 50 : Number(b.pageSize);
      if (!Number.isInteger(requested) || requested < 1 || requested > 1000) {
        sendGoogleError(res, 400, 'pageSize: must be between 1 and 1000');
        return;
      }
      let match: (e: unknown) => boolean;
      try {
        match = compileLogFilter(filter);
      } catch (err) {
        sendGoogleError(res, 400, `Invalid filter: ${(err as Error).message}`);
        return;
      }
      const h = queryHash(b);
      let page: PageState = { o: 0, e: state.emptyPagesBefore, h };
      if (typeof b.pageToken === 'string' && b.pageToken !== '') {
        const decoded = decodeToken(b.pageToken);
        if (!decoded || decoded.h !== h) {
          sendGoogleError(res, 400, 'page_token: the page token does not match the request');
          return;
        }
        page = decoded;
      }
      const projects = resourceNames.map((r) => /^projects\/([^/]+)/.exec(r)?.[1]).filter(Boolean);
      // The result of a query is kept while the entries do not change, so paging through a large result
      // costs the fake one evaluation, not one per page (the real API keeps a cursor too).
      const cacheKey = `${JSON.stringify([resourceNames, filter, orderBy])}|${state.entries.length}`;
      const cached = resultCache.get(cacheKey);
      const matching =
        cached ??
        state.entries
          .filter((e) => projects.some((p) => e.logName.startsWith(`projects/${p}/logs/`)) && match(e))
          .sort((x, y) =>
            tsKey(x.timestamp) < tsKey(y.timestamp) ? -1 : tsKey(x.timestamp) > tsKey(y.timestamp) ? 1 : 0,
          );
      if (!cached) {
        if (orderBy === 'timestamp desc') matching.reverse();
        if (resultCache.size > 200) resultCache.clear();
        resultCache.set(cacheKey, matching);
      }
      if (page.t) {
        sendJson(res, 200, {});
        return;
      }
      if (page.e > 0) {
        sendJson(res, 200, { nextPageToken: encodeToken({ ...page, e: page.e - 1 }) });
        return;
      }
      const size = Math.min(requested, state.maxPageSize);
      const slice = matching.slice(page.o, page.o + size);
      const next = page.o + slice.length;
      const out: Record<string, unknown> = {};
      if (slice.length > 0) out.entries = slice;
      if (next < matching.length) out.nextPageToken = encodeToken({ o: next, e: state.emptyPagesBefore, h });
      else if (state.trailingEmptyPage) out.nextPageToken = encodeToken({ o: next, e: 0, h, t: 1 });
      sendJson(res, 200, out);
    },
  });
  if (options.latencyMs) core.latencyMs['*'] = options.latencyMs;
  const fake = core as FakeLogging;
  Object.defineProperties(fake, {
    latencyByFilter: { get: () => latencyByFilter },
    entries: { get: () => state.entries },
    maxPageSize: { get: () => state.maxPageSize, set: (v: number) => (state.maxPageSize = v) },
    emptyPagesBefore: { get: () => state.emptyPagesBefore, set: (v: number) => (state.emptyPagesBefore = v) },
    trailingEmptyPage: {
      get: () => state.trailingEmptyPage,
      set: (v: boolean) => (state.trailingEmptyPage = v),
    },
  });
  fake.addEntries = (entries) => {
    state.entries.push(...entries);
  };
  fake.filters = () =>
    core.requests
      .filter((r) => r.route === 'entries.list')
      .map((r) => String((r.body as { filter?: unknown } | undefined)?.filter ?? ''));
  return fake;
};
