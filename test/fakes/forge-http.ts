import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The loopback HTTP plumbing shared by the GitLab and GitHub fakes: request recording, routing on raw
 * (still percent-encoded) path segments, and injected faults (status codes with headers, or a hang).
 */

export interface RecordedRequest {
  readonly method: string;
  /** Raw path as sent, without the query string (still percent-encoded). */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** When the request arrived (ms since epoch). */
  readonly at: number;
}

export interface FakeRequest extends RecordedRequest {
  /** Path segments after the mount prefix, each percent-decoded. */
  readonly segments: readonly string[];
  json(): unknown;
}

export interface FakeResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly json?: unknown;
  readonly text?: string;
}

export interface FaultMatcher {
  readonly method?: string;
  /** Matched against the raw path (after the mount prefix). */
  readonly path: RegExp;
}

export type Fault =
  | {
      readonly kind: 'respond';
      readonly status: number;
      readonly headers?: Readonly<Record<string, string>>;
      readonly json?: unknown;
    }
  | { readonly kind: 'hang' }
  /** Handles the request for real (the write lands), then answers `status` as a failing proxy would. */
  | { readonly kind: 'fail-after-handling'; readonly status: number };

export class HttpFail extends Error {
  constructor(
    readonly status: number,
    readonly json: unknown,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(`HTTP ${status}`);
  }
}

/** A request held at a chosen moment: `reached` resolves when it gets there; `release` lets it go on. */
export interface Hold {
  readonly reached: Promise<RecordedRequest>;
  release(): void;
}

export interface FakeHttpServer {
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Answers the next `times` matching requests with `fault` instead of handling them. */
  inject(matcher: FaultMatcher, fault: Fault, times?: number): void;
  /**
   * Holds the next matching request, `before` handling it (the request was received, nothing done) or
   * `after` (the write landed, the answer is held back), until released: a test kills the client there.
   */
  hold(matcher: FaultMatcher, when: 'before' | 'after'): Hold;
  close(): Promise<void>;
}

export const startFakeHttpServer = async (
  prefix: string,
  handle: (req: FakeRequest) => Promise<FakeResponse>,
  decorate: (res: FakeResponse, req: FakeRequest) => Readonly<Record<string, string>> = () => ({}),
  /** Streams a request outside `prefix` itself (git smart HTTP); returns false to leave it to the router. */
  raw?: (req: IncomingMessage, res: ServerResponse) => Promise<boolean>,
): Promise<FakeHttpServer> => {
  const requests: RecordedRequest[] = [];
  const faults: Array<{ matcher: FaultMatcher; fault: Fault; remaining: number }> = [];
  const holds: Array<{
    matcher: FaultMatcher;
    when: 'before' | 'after';
    reached: (r: RecordedRequest) => void;
    released: Promise<void>;
  }> = [];

  const send = (res: ServerResponse, r: FakeResponse, extra: Readonly<Record<string, string>>) => {
    const headers: Record<string, string> = { ...extra, ...(r.headers ?? {}) };
    let body = '';
    if (r.json !== undefined) {
      body = JSON.stringify(r.json);
      headers['content-type'] = 'application/json; charset=utf-8';
    } else if (r.text !== undefined) {
      body = r.text;
      headers['content-type'] ??= 'text/plain; charset=utf-8';
    }
    res.writeHead(r.status, headers);
    res.end(r.status === 204 ? undefined : body);
  };

  const onRequest = async (req: IncomingMessage, res: ServerResponse) => {
    if (raw && !(req.url ?? '/').startsWith(prefix)) {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
      const rawUrl = req.url ?? '/';
      const q = rawUrl.indexOf('?');
      const recorded: RecordedRequest = {
        method: req.method ?? 'GET',
        path: q === -1 ? rawUrl : rawUrl.slice(0, q),
        query: new URLSearchParams(q === -1 ? '' : rawUrl.slice(q + 1)),
        headers,
        body: '',
        at: Date.now(),
      };
      if (await raw(req, res)) {
        requests.push(recorded);
        return;
      }
    }
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const fullPath = q === -1 ? rawUrl : rawUrl.slice(0, q);
    const query = new URLSearchParams(q === -1 ? '' : rawUrl.slice(q + 1));
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (typeof v === 'string') headers[k] = v;
      else if (Array.isArray(v)) headers[k] = v.join(', ');
    }
    const method = req.method ?? 'GET';
    const recorded: RecordedRequest = { method, path: fullPath, query, headers, body, at: Date.now() };
    requests.push(recorded);

    if (!fullPath.startsWith(prefix)) {
      send(res, { status: 404, json: { message: 'Not Found' } }, {});
      return;
    }
    const path = fullPath.slice(prefix.length);
    const segments = path
      .split('/')
      .filter((s) => s !== '')
      .map((s) => decodeURIComponent(s));
    const fakeReq: FakeRequest = {
      ...recorded,
      segments,
      json: () => (body === '' ? {} : JSON.parse(body)),
    };

    const f = faults.find(
      (x) =>
        x.remaining > 0 && (!x.matcher.method || x.matcher.method === method) && x.matcher.path.test(path),
    );
    if (f) {
      f.remaining -= 1;
      if (f.fault.kind === 'hang') return; // never answer; close() destroys the socket
      if (f.fault.kind === 'fail-after-handling') {
        await handle(fakeReq).catch(() => undefined);
        const r: FakeResponse = {
          status: f.fault.status,
          json: { message: `${f.fault.status} Bad Gateway` },
        };
        send(res, r, decorate(r, fakeReq));
        return;
      }
      const r: FakeResponse = {
        status: f.fault.status,
        ...(f.fault.headers ? { headers: f.fault.headers } : {}),
        json: f.fault.json ?? { message: `${f.fault.status} injected` },
      };
      send(res, r, decorate(r, fakeReq));
      return;
    }

    const h = holds.findIndex(
      (x) => (!x.matcher.method || x.matcher.method === method) && x.matcher.path.test(path),
    );
    const held = h >= 0 ? holds.splice(h, 1)[0] : undefined;
    if (held?.when === 'before') {
      held.reached(recorded);
      await held.released;
      if (req.socket.destroyed) return; // the client died while held: nothing is done
    }
    let r: FakeResponse;
    try {
      r = await handle(fakeReq);
    } catch (err) {
      if (err instanceof HttpFail) r = { status: err.status, headers: err.headers, json: err.json };
      else r = { status: 500, json: { message: `500 Internal Server Error: ${String(err)}` } };
    }
    if (held?.when === 'after') {
      held.reached(recorded);
      await held.released;
    }
    if (!res.destroyed) send(res, r, decorate(r, fakeReq));
  };

  const server = createServer((req, res) => {
    onRequest(req, res).catch((err: unknown) => {
      res.writeHead(500);
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    inject(matcher, fault, times = 1) {
      faults.push({ matcher, fault, remaining: times });
    },
    hold(matcher, when) {
      let reached!: (r: RecordedRequest) => void;
      let release!: () => void;
      const reachedP = new Promise<RecordedRequest>((resolve) => {
        reached = resolve;
      });
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      holds.push({ matcher, when, reached, released });
      return { reached: reachedP, release };
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
};

/** RFC 5988 `link` header for page-numbered lists, as both GitLab and GitHub send it. */
export const pageLinks = (
  base: string,
  query: URLSearchParams,
  page: number,
  totalPages: number,
): string | null => {
  const link = (p: number, rel: string) => {
    const q = new URLSearchParams(query);
    q.set('page', String(p));
    return `<${base}?${q.toString()}>; rel="${rel}"`;
  };
  const parts: string[] = [];
  if (page > 1) parts.push(link(page - 1, 'prev'));
  if (page < totalPages) parts.push(link(page + 1, 'next'));
  parts.push(link(1, 'first'));
  parts.push(link(Math.max(totalPages, 1), 'last'));
  return parts.join(', ');
};

export const paginate = <T>(
  items: readonly T[],
  query: URLSearchParams,
  defaultPerPage: number,
  maxPerPage = 100,
) => {
  const perPage = Math.min(
    Math.max(Number(query.get('per_page') ?? defaultPerPage) || defaultPerPage, 1),
    maxPerPage,
  );
  const page = Math.max(Number(query.get('page') ?? 1) || 1, 1);
  const totalPages = Math.max(Math.ceil(items.length / perPage), 1);
  return {
    items: items.slice((page - 1) * perPage, page * perPage),
    page,
    perPage,
    totalPages,
    total: items.length,
  };
};
