import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isAppError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { ForgeEvent, ParsedDelivery } from '../integrations/forge/events.js';
import type { ForgeKind } from '../integrations/forge/port.js';
import { isGithubSignatureHeader, verifyGithubSignature } from '../integrations/github/webhook.js';
import { verifyGitlabToken } from '../integrations/gitlab/webhook.js';
import type { DeliveryOutcome } from '../playbooks/pipelines/follower.js';
import type { Metrics } from '../server/metrics.js';
import type { DeliveryRepository, StoredDelivery } from '../store/pipeline-types.js';
import { type CommandPipeline, newCorrelationId } from './pipeline.js';

/**
 * POST /webhooks/gitlab and /webhooks/github: the forge events entry. In order: what the headers decide
 * before any of the body is read (a declared size over the cap: 413; GitLab's token, a missing or malformed
 * GitHub signature: 401; the rest of the body is drained, never by cutting the connection, unless the sender
 * stalls past the body deadline), the body read within its cap and deadline (413, 408), GitHub's HMAC of the
 * raw bytes (401), parse, is it about a followed MR (if not: 2xx and nothing
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
  /** A body not fully received this long after the headers is answered 408 and its connection closed. */
  readonly bodyTimeoutMs: number;
  readonly parse: (source: ForgeKind, event: string, body: unknown) => ParsedDelivery;
  readonly deliveries: Pick<DeliveryRepository, 'record'>;
  readonly receiver: WebhookReceiver;
  /** This process's name in the delivery lease. */
  readonly owner: string;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly newCorrelationId?: () => string;
  readonly now?: () => number;
}

export interface WebhookHandler {
  handle(source: ForgeKind, req: IncomingMessage, res: ServerResponse): Promise<void>;
}

/** How long a recorded delivery stays leased to this process before a sweep may take it over. */
const DELIVERY_LEASE_MS = 5_000;

/** At most one log line per source and kind of unauthenticated refusal in this window. */
const REFUSAL_LOG_WINDOW_MS = 10_000;

/** Bodies not yet authenticated (GitHub's) read at once, at most this many times maxBodyBytes in all. */
const UNVERIFIED_BODIES_IN_CAPS = 8;

const answer = (
  res: ServerResponse,
  status: number,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
): void => {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
};

/** application/json, or any `+json` type, with or without parameters (`; charset=utf-8`). */
const isJsonType = (value: string): boolean => {
  const media = (value.split(';')[0] ?? '').trim().toLowerCase();
  return media === 'application/json' || /^application\/[a-z0-9.+-]*\+json$/.test(media);
};

const header = (req: IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

type Body =
  | { readonly kind: 'ok'; readonly raw: Buffer }
  | { readonly kind: 'too_large' }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'busy' }
  | { readonly kind: 'aborted' };

/** Bytes held by bodies being read, against a limit: `take` refuses what would go over it. */
interface ByteBudget {
  take(n: number): boolean;
  give(n: number): void;
}

/**
 * Reads the body up to `max` bytes; over it, stops keeping data (node drains the rest after the answer). A body
 * still incomplete after `timeoutMs` (a stalled or deliberately slow sender: node's own request timeout is
 * 5 minutes) is given up on, so a crowd of them cannot hold connections and buffers for long.
 */
const readBody = (
  req: IncomingMessage,
  max: number,
  timeoutMs: number,
  budget: ByteBudget | null,
): Promise<Body> =>
  new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (b: Body) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      budget?.give(size); // the caller holds the bytes of a body it keeps only while it answers
      resolve(b);
    };
    const timer = setTimeout(() => {
      chunks.length = 0;
      finish({ kind: 'timeout' });
    }, timeoutMs);
    req.on('data', (c: Buffer) => {
      if (done) return;
      if (budget && !budget.take(c.length)) {
        chunks.length = 0;
        finish({ kind: 'busy' });
        return;
      }
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
  const now = deps.now ?? Date.now;
  const quiet = new Map<string, { until: number; suppressed: number }>();
  // GitHub's signature covers the body, so a body must be read before the sender is known: the bodies being
  // read unauthenticated share a budget, so a crowd of forged deliveries cannot hold more memory than that.
  // GitLab's token is checked before its body is read.
  const unverifiedLimit = UNVERIFIED_BODIES_IN_CAPS * deps.maxBodyBytes;
  let unverified = 0;
  const unverifiedBudget: ByteBudget = {
    take(n) {
      if (unverified + n > unverifiedLimit) return false;
      unverified += n;
      return true;
    },
    give(n) {
      unverified -= n;
    },
  };
  return {
    handle: (source, req, res) => handleOne(source, req, res),
  };

  /**
   * Refusals anyone can cause without a secret (401, 408) are logged at most once per REFUSAL_LOG_WINDOW_MS for
   * each source and reason, with the number left out since the last line: a flood of them does not flood the
   * log (opsbot_webhook_deliveries_total still counts every one).
   */
  function warnRefused(key: string, fields: Record<string, unknown>, msg: string): void {
    const at = now();
    const q = quiet.get(key);
    if (q && at < q.until) {
      q.suppressed += 1;
      return;
    }
    deps.logger.warn({ ...fields, ...(q?.suppressed ? { suppressedBefore: q.suppressed } : {}) }, msg);
    quiet.set(key, { until: at + REFUSAL_LOG_WINDOW_MS, suppressed: 0 });
  }

  /**
   * Lets node read and drop the rest of a body that was answered without it (the sender gets the answer, not
   * a reset); a sender that stalls is cut off at the body deadline instead of holding the connection.
   */
  function discard(req: IncomingMessage): void {
    req.resume();
    if (req.complete) return;
    const timer = setTimeout(() => {
      if (!req.complete) req.socket.destroy();
    }, deps.bodyTimeoutMs);
    req.once('end', () => clearTimeout(timer));
    req.once('close', () => clearTimeout(timer));
  }

  async function handleOne(source: ForgeKind, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const t0 = performance.now();
    const done = (
      status: number,
      outcome: string,
      body: Record<string, unknown>,
      headers?: Record<string, string>,
    ): void => {
      answer(res, status, body, headers);
      deps.metrics.webhookDeliveries.inc({ source, outcome });
      deps.metrics.webhookDuration.observe({ source }, (performance.now() - t0) / 1000);
    };
    if (req.method !== 'POST') return done(405, 'bad_request', { error: 'method_not_allowed' });
    const secrets = deps.secrets[source];
    if (secrets.length === 0) {
      discard(req);
      const name = source === 'gitlab' ? 'GITLAB_WEBHOOK_SECRET' : 'GITHUB_WEBHOOK_SECRET';
      return done(404, 'not_configured', { error: `${source} webhooks are not set up here (set ${name})` });
    }
    const event = header(req, source === 'gitlab' ? 'x-gitlab-event' : 'x-github-event');
    const tooLarge = () => {
      // Answer now; node reads and discards the rest of the upload, so the forge gets the 413 and not a reset.
      discard(req);
      return done(413, 'too_large', { error: 'payload_too_large', maxBytes: deps.maxBodyBytes });
    };
    const unauthorized = () => {
      warnRefused(
        `${source}:unauthorized`,
        { source, event: event?.slice(0, 100), ip: req.socket.remoteAddress },
        'webhook refused: bad token or signature',
      );
      return done(401, 'unauthorized', { error: 'unauthorized' });
    };
    // What the headers alone decide is decided before a byte of the body is kept: a declared size over the
    // cap, GitLab's token, a GitHub signature header that is missing or malformed.
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > deps.maxBodyBytes) return tooLarge();
    const signature = header(req, 'x-hub-signature-256');
    const headersPass =
      source === 'gitlab'
        ? verifyGitlabToken(header(req, 'x-gitlab-token'), secrets)
        : isGithubSignatureHeader(signature);
    if (!headersPass) {
      discard(req);
      return unauthorized();
    }
    const body = await readBody(
      req,
      deps.maxBodyBytes,
      deps.bodyTimeoutMs,
      source === 'github' ? unverifiedBudget : null,
    );
    if (body.kind === 'aborted') return;
    if (body.kind === 'busy') {
      warnRefused(
        `${source}:busy`,
        { source, ip: req.socket.remoteAddress, limitBytes: unverifiedLimit },
        'webhook refused: too many unauthenticated bodies being read at once',
      );
      discard(req);
      return done(503, 'busy', { error: 'busy' }, { 'retry-after': '10' });
    }
    if (body.kind === 'timeout') {
      warnRefused(
        `${source}:timeout`,
        { source, ip: req.socket.remoteAddress, timeoutMs: deps.bodyTimeoutMs },
        'webhook refused: body not received in time',
      );
      // The sender stalled: answer, then close the connection rather than wait for the rest.
      res.once('finish', () => req.socket.destroy());
      res.shouldKeepAlive = false;
      return done(408, 'timeout', { error: 'request_timeout', timeoutMs: deps.bodyTimeoutMs });
    }
    if (body.kind === 'too_large') return tooLarge();
    if (source === 'github' && !verifyGithubSignature(body.raw, signature, secrets)) return unauthorized();
    if (!event) return done(400, 'bad_request', { error: 'missing event header' });
    const type = header(req, 'content-type');
    if (type !== undefined && !isJsonType(type)) {
      // GitHub's form for a new webhook defaults to application/x-www-form-urlencoded: say what to change.
      deps.logger.warn(
        { source, event, contentType: type.slice(0, 100) },
        'webhook refused: set the webhook content type to application/json',
      );
      return done(415, 'bad_request', {
        error: 'unsupported_media_type',
        detail: 'set the webhook content type to application/json',
      });
    }
    let json: unknown;
    try {
      json = JSON.parse(body.raw.toString('utf8'));
    } catch {
      deps.logger.warn({ source, event, bytes: body.raw.length }, 'webhook refused: body is not JSON');
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
