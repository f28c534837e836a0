/**
 * Plumbing shared by the Cloud Logging and Compute fakes: a loopback node:http server, Google-style JSON
 * errors, bearer-token checks, request recording, per-route latency and injected failures.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  readonly route: string;
  readonly method: string;
  readonly path: string; // without the query
  readonly query: Readonly<Record<string, string>>;
  readonly headers: IncomingHttpHeaders;
  readonly body: unknown;
  readonly at: number; // ms since the server started
}

/** The project a Google request is about (Compute and Monitoring: the path; Logging: resourceNames). */
export const projectOfRequest = (r: RecordedRequest): string => {
  const inPath = /\/projects\/([^/]+)\//.exec(r.path)?.[1];
  if (inPath) return inPath;
  const names = (r.body as { resourceNames?: string[] } | undefined)?.resourceNames ?? [];
  return /^projects\/(.+)$/.exec(names[0] ?? '')?.[1] ?? '';
};

export interface InjectedFailure {
  readonly status: number;
  /** Seconds, sent as Retry-After. */
  readonly retryAfter?: number;
  readonly message?: string;
  /** How many requests fail (default 1). */
  readonly times?: number;
  /** Never answer (the client must time out). */
  readonly hang?: boolean;
  /**
   * Only requests this accepts fail (say, one project's): others pass by without using the failure up, so a
   * test's failures cannot land on another test's requests.
   */
  readonly when?: (request: RecordedRequest) => boolean;
}

const STATUS_NAMES: Readonly<Record<number, string>> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

export const sendJson = (
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void => {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=UTF-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
};

/** `{ error: { code, message, status, errors } }` as Google APIs answer. */
export const sendGoogleError = (
  res: ServerResponse,
  status: number,
  message: string,
  headers: Record<string, string> = {},
  /** The legacy `errors[].reason` and extra `details` (google.rpc.ErrorInfo, Help), where the API sends them. */
  extra: { readonly reason?: string; readonly details?: readonly unknown[] } = {},
): void => {
  const statusName = STATUS_NAMES[status] ?? 'UNKNOWN';
  const retryInfo =
    headers['retry-after'] !== undefined
      ? [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${headers['retry-after']}s` }]
      : [];
  const details = [...retryInfo, ...(extra.details ?? [])];
  sendJson(
    res,
    status,
    {
      error: {
        code: status,
        message,
        status: statusName,
        errors: [
          {
            message,
            domain: 'global',
            reason: extra.reason ?? (statusName === 'NOT_FOUND' ? 'notFound' : statusName),
          },
        ],
        // Google APIs say how long to wait in a google.rpc.RetryInfo detail too (clients that drop headers read
        // it), and why a request was refused in a google.rpc.ErrorInfo.
        ...(details.length ? { details } : {}),
      },
    },
    headers,
  );
};

const readBody = async (req: IncomingMessage): Promise<unknown> => {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
};

export interface Routed {
  readonly route: string;
  readonly params: Readonly<Record<string, string>>;
}

export interface FakeServerCore {
  readonly url: string;
  readonly requests: RecordedRequest[];
  accessToken: string;
  /** Latency per route (ms) or for every route under '*'. */
  readonly latencyMs: Record<string, number>;
  /** Holds the answer of a request until the returned promise settles (a test's gate, not a timer). */
  hold: ((route: string) => Promise<unknown> | undefined) | null;
  failNext(route: string, failure: InjectedFailure): void;
  close(): Promise<void>;
}

/**
 * Starts a server on 127.0.0.1:0. `match` maps method+path to a route name (or null -> 404);
 * `handle` answers an authenticated, not-failed request.
 */
export const startFakeServer = async (options: {
  accessToken: string;
  serviceName: string;
  match: (method: string, path: string) => Routed | null;
  /** Latency for one request, overriding the per-route table (e.g. by Logging filter). */
  latencyOf?: (routed: Routed, body: unknown) => number | undefined;
  handle: (ctx: {
    routed: Routed;
    req: IncomingMessage;
    res: ServerResponse;
    query: Record<string, string>;
    body: unknown;
  }) => void | Promise<void>;
}): Promise<FakeServerCore> => {
  const started = Date.now();
  const failures = new Map<string, InjectedFailure[]>();
  const hanging = new Set<ServerResponse>();
  const core: FakeServerCore = {
    url: '',
    requests: [],
    accessToken: options.accessToken,
    latencyMs: {},
    hold: null,
    failNext(route, failure) {
      const list = failures.get(route) ?? [];
      for (let i = 0; i < (failure.times ?? 1); i++) list.push(failure);
      failures.set(route, list);
    },
    close: async () => {},
  };
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const query: Record<string, string> = {};
      for (const [k, v] of url.searchParams) query[k] = v;
      const body = await readBody(req);
      const routed = options.match(req.method ?? 'GET', decodeURIComponent(url.pathname));
      const recorded: RecordedRequest = {
        route: routed?.route ?? 'unknown',
        method: req.method ?? 'GET',
        path: url.pathname,
        query,
        headers: req.headers,
        body,
        at: Date.now() - started,
      };
      core.requests.push(recorded);
      const delay =
        (routed && options.latencyOf?.(routed, body)) ??
        (routed && core.latencyMs[routed.route]) ??
        core.latencyMs['*'] ??
        0;
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      const held = routed ? core.hold?.(routed.route) : undefined;
      if (held) await held;
      if (req.headers.authorization !== `Bearer ${core.accessToken}`) {
        sendGoogleError(
          res,
          401,
          'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
          { 'www-authenticate': 'Bearer realm="https://accounts.google.com/"' },
        );
        return;
      }
      if (!routed) {
        sendGoogleError(res, 404, `The requested URL ${url.pathname} was not found on this server.`);
        return;
      }
      const pending = failures.get(routed.route) ?? [];
      const index = pending.findIndex((f) => !f.when || f.when(recorded));
      const failure = index >= 0 ? pending.splice(index, 1)[0] : undefined;
      if (failure) {
        if (failure.hang) {
          hanging.add(res);
          return;
        }
        sendGoogleError(
          res,
          failure.status,
          failure.message ?? `${options.serviceName} injected failure ${failure.status}`,
          failure.retryAfter !== undefined ? { 'retry-after': String(failure.retryAfter) } : {},
        );
        return;
      }
      await options.handle({ routed, req, res, query, body });
    })().catch((err: unknown) => {
      if (!res.headersSent) sendGoogleError(res, 500, `fake crashed: ${String(err)}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  Object.assign(core, {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
  return core;
};
