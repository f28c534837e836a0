import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../core/logger.js';
import type { InFlight } from './drain.js';
import type { Readiness } from './health.js';
import type { Metrics } from './metrics.js';

export interface HttpServerOptions {
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly readiness: Readiness;
  readonly inFlight: InFlight;
  /** HTTP mode: Slack's requests (slash commands, interactivity, events). Absent in Socket Mode. */
  readonly slack?: { handle(req: IncomingMessage, res: ServerResponse): Promise<void> } | null;
  readonly slackPath?: string;
  /** POST /webhooks/gitlab and /webhooks/github (forge events). */
  readonly webhooks?: {
    handle(source: 'gitlab' | 'github', req: IncomingMessage, res: ServerResponse): Promise<void>;
  } | null;
}

export interface OpsbotHttpServer {
  readonly server: Server;
  listen(port: number, host?: string): Promise<number>;
  /** Stops accepting connections; idle keep-alive sockets are closed now, busy ones after their response. */
  stopAccepting(): Promise<void>;
  /** Closes every remaining connection. */
  closeAll(): void;
}

const json = (res: ServerResponse, status: number, body: unknown): void => {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(text);
};

/**
 * One node:http server per process: Slack (HTTP mode) plus /healthz (the process is up), /readyz (store and
 * Slack reachable, not draining) and /metrics (Prometheus).
 */
export const createHttpServer = (o: HttpServerOptions): OpsbotHttpServer => {
  const slackPath = o.slackPath ?? '/slack/events';
  const handler = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === slackPath && o.slack) {
      if (req.method !== 'POST') return json(res, 405, { error: 'method_not_allowed' });
      return o.slack.handle(req, res);
    }
    if (o.webhooks && (path === '/webhooks/gitlab' || path === '/webhooks/github')) {
      return o.webhooks.handle(path === '/webhooks/gitlab' ? 'gitlab' : 'github', req, res);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { error: 'method_not_allowed' });
    switch (path) {
      case '/healthz':
        return json(res, 200, { status: 'ok' });
      case '/readyz': {
        if (o.inFlight.draining) return json(res, 503, { ready: false, draining: true, checks: {} });
        const r = await o.readiness.check();
        return json(res, r.ready ? 200 : 503, r);
      }
      case '/metrics': {
        const text = await o.metrics.registry.metrics();
        res.writeHead(200, { 'content-type': o.metrics.registry.contentType });
        res.end(text);
        return;
      }
      default:
        return json(res, 404, { error: 'not_found' });
    }
  };
  const server = createServer((req, res) => {
    handler(req, res).catch((err: unknown) => {
      o.logger.error({ err, url: req.url }, 'http handler failed');
      if (!res.headersSent) json(res, 500, { error: 'internal' });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 65_000; // longer than typical load balancer idle timeouts
  server.headersTimeout = 66_000;
  return {
    server,
    listen(port, host) {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve((server.address() as AddressInfo).port);
        });
      });
    },
    stopAccepting() {
      return new Promise((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        server.closeIdleConnections();
        // resolve() is called when every connection has ended; do not wait for busy ones here.
        setImmediate(resolve);
      });
    },
    closeAll() {
      server.closeAllConnections();
    },
  };
};
