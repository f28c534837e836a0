import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isAppError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { ForgeEvent, ParsedDelivery } from '../integrations/forge/events.js';
import type { ForgeKind } from '../integrations/forge/port.js';
import { verifyGithubSignature } from '../integrations/github/webhook.js';
import { verifyGitlabToken } from '../integrations/gitlab/webhook.js';
import type { DeliveryOutcome } from '../playbooks/pipelines/follower.js';
import type { Metrics } from '../server/metrics.js';
import type { DeliveryRepository, StoredDelivery } from '../store/pipeline-types.js';
import { type CommandPipeline, newCorrelationId } from './pipeline.js';

/**
 * POST /webhooks/gitlab and /webhooks/github: the forge events entry. In order: size cap (413, answered
 * before the rest of the body is drained, never by cutting the connection), authentication on the raw bytes
 * (GitLab's token, GitHub's HMAC signature; 401), parse, is it about a followed MR (if not: 2xx and nothing
 * kept), then the delivery is recorded durably under its id (a redelivery is a duplicate) and answered 202;
 * the work happens after the answer. A correlation id follows the delivery into the logs and the audit row.
 */

export interface WebhookReceiver {
  /** Is any event of the delivery about a followed MR. */
  isFollowed(events: readonly ForgeEvent[]): Promise<boolean>;
  /** Applies a recorded, answered delivery in the background. */
  accept(delivery: StoredDelivery, events: readonly ForgeEvent[]): void;
  /** A delivery the store could not take (answered 503): what it said is read from the forge later. */
  missed(): void;
}

export interface WebhookHandlerDeps {
  /** Accepted secrets per forge (current first, then the previous one during a rotation); empty: not set up. */
  readonly secrets: Readonly<Record<ForgeKind, readonly string[]>>;
  readonly maxBodyBytes: number;
  readonly parse: (source: ForgeKind, event: string, body: unknown) => ParsedDelivery;
  readonly deliveries: Pick<DeliveryRepository, 'record'>;
  readonly receiver: WebhookReceiver;
  /** This process's name in the delivery lease. */
  readonly owner: string;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly newCorrelationId?: () => string;
}

export interface WebhookHandler {
  handle(source: ForgeKind, req: IncomingMessage, res: ServerResponse): Promise<void>;
}

/** How long a recorded delivery stays leased to this process before a sweep may take it over. */
const DELIVERY_LEASE_MS = 5_000;

const answer = (res: ServerResponse, status: number, body: Record<string, unknown>): void => {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
};

const header = (req: IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

type Body =
  | { readonly kind: 'ok'; readonly raw: Buffer }
  | { readonly kind: 'too_large' }
  | { readonly kind: 'aborted' };

/** Reads the body up to `max` bytes; over it, stops keeping data (node drains the rest after the answer). */
const readBody = (req: IncomingMessage, max: number): Promise<Body> =>
  new Promise((resolve) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > max) {
      resolve({ kind: 'too_large' });
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (b: Body) => {
      if (done) return;
      done = true;
      resolve(b);
    };
    req.on('data', (c: Buffer) => {
      if (done) return;
      size += c.length;
      if (size > max) {
        chunks.length = 0;
        finish({ kind: 'too_large' });
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => finish({ kind: 'ok', raw: Buffer.concat(chunks, size) }));
    req.on('error', () => finish({ kind: 'aborted' }));
    req.on('close', () => finish({ kind: 'aborted' }));
  });

export const createWebhookHandler = (deps: WebhookHandlerDeps): WebhookHandler => {
  const newId = deps.newCorrelationId ?? newCorrelationId;
  return {
    handle: (source, req, res) => handleOne(source, req, res),
  };

  async function handleOne(source: ForgeKind, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const t0 = performance.now();
    const done = (status: number, outcome: string, body: Record<string, unknown>): void => {
      answer(res, status, body);
      deps.metrics.webhookDeliveries.inc({ source, outcome });
      deps.metrics.webhookDuration.observe({ source }, (performance.now() - t0) / 1000);
    };
    if (req.method !== 'POST') return done(405, 'bad_request', { error: 'method_not_allowed' });
    const secrets = deps.secrets[source];
    if (secrets.length === 0) {
      req.resume();
      const name = source === 'gitlab' ? 'GITLAB_WEBHOOK_SECRET' : 'GITHUB_WEBHOOK_SECRET';
      return done(404, 'not_configured', { error: `${source} webhooks are not set up here (set ${name})` });
    }
    const body = await readBody(req, deps.maxBodyBytes);
    if (body.kind === 'aborted') return;
    if (body.kind === 'too_large') {
      // Answer now; node reads and discards the rest of the upload, so the forge gets the 413 and not a reset.
      req.resume();
      return done(413, 'too_large', { error: 'payload_too_large', maxBytes: deps.maxBodyBytes });
    }
    const event = header(req, source === 'gitlab' ? 'x-gitlab-event' : 'x-github-event');
    const authentic =
      source === 'gitlab'
        ? verifyGitlabToken(header(req, 'x-gitlab-token'), secrets)
        : verifyGithubSignature(body.raw, header(req, 'x-hub-signature-256'), secrets);
    if (!authentic) {
      deps.logger.warn(
        { source, event, ip: req.socket.remoteAddress },
        'webhook refused: bad token or signature',
      );
      return done(401, 'unauthorized', { error: 'unauthorized' });
    }
    if (!event) return done(400, 'bad_request', { error: 'missing event header' });
    let json: unknown;
    try {
      json = JSON.parse(body.raw.toString('utf8'));
    } catch {
      return done(400, 'bad_request', { error: 'body is not JSON' });
    }
    const parsed = deps.parse(source, event, json);
    if (parsed.kind === 'ignored') {
      deps.logger.debug({ source, event, reason: parsed.reason }, 'webhook ignored');
      return done(200, 'ignored', { ignored: parsed.reason });
    }
    // The store not answering (a failover, a network cut): 503, never a 202 for a delivery not recorded.
    const storeDown = (err: unknown): void => {
      if (!(isAppError(err) && err.code === 'store')) throw err;
      deps.receiver.missed();
      deps.logger.warn({ err, source, event }, 'webhook not recorded: the store does not answer');
      done(503, 'store_unavailable', { error: 'store_unavailable' });
    };
    let followed: boolean;
    try {
      followed = await deps.receiver.isFollowed(parsed.events);
    } catch (err) {
      return storeDown(err);
    }
    if (!followed) {
      return done(200, 'ignored', { ignored: 'no followed merge request' });
    }
    const key =
      source === 'github'
        ? header(req, 'x-github-delivery')
        : (header(req, 'idempotency-key') ?? `sha256-${createHash('sha256').update(body.raw).digest('hex')}`);
    const correlationId = newId();
    const delivery: StoredDelivery = {
      id: `${source}:${key ?? `sha256-${createHash('sha256').update(body.raw).digest('hex')}`}`,
      source,
      event,
      body: body.raw.toString('utf8'),
      correlationId,
      attempts: 1,
      receivedAt: new Date(),
    };
    let recorded: Awaited<ReturnType<WebhookHandlerDeps['deliveries']['record']>>;
    try {
      recorded = await deps.deliveries.record({
        id: delivery.id,
        source,
        event,
        body: delivery.body,
        correlationId,
        owner: deps.owner,
        leaseMs: DELIVERY_LEASE_MS,
      });
    } catch (err) {
      return storeDown(err);
    }
    if (recorded === 'duplicate') return done(200, 'duplicate', { duplicate: true });
    done(202, 'accepted', { accepted: true, ref: correlationId });
    deps.receiver.accept(delivery, parsed.events);
  }
};

/**
 * Applying a delivery runs as a request of the shared pipeline (src/handlers/pipeline.ts), like a command or
 * a click: a correlation id in every log line, the audit row (source "webhook"), the request metric, and the
 * one error sink for anything unexpected (the delivery is then retried from the store).
 */
export const createDeliveryRunner =
  (pipeline: Pick<CommandPipeline, 'run'>) =>
  async (d: StoredDelivery, apply: () => Promise<DeliveryOutcome>): Promise<void> => {
    await pipeline.run(
      {
        source: 'webhook',
        name: 'pipeline',
        action: 'webhook',
        actorId: `webhook:${d.source}`,
        actorName: null,
        channelId: null,
        args: `${d.event} ${d.id}`,
      },
      async (ctx) => {
        const r = await apply();
        ctx.logger.debug({ delivery: d.id, receivedRef: d.correlationId, ...r }, 'webhook delivery applied');
        if (!r.matched) return { outcome: 'nothing_to_do', detail: 'no followed merge request (any more)' };
        return {
          outcome: 'ok',
          target: r.targets.join(' ').slice(0, 500) || null,
          detail: r.changed
            ? 'state moved forward'
            : 'nothing new (a duplicate, or older than what is known)',
        };
      },
    );
  };
