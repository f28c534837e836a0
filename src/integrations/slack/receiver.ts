import { isUtf8 } from 'node:buffer';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { App, Receiver } from '@slack/bolt';
import type { Logger } from '../../core/logger.js';
import type { InFlight } from '../../server/drain.js';
import { verifySlackSignature } from './verify.js';

const MAX_BODY_BYTES = 1024 * 1024;
/** Slack shows `operation_timeout` after 3 s; past this we answer empty so the socket is not held. */
const UNACKED_TIMEOUT_MS = 3001;

export interface SlackHttpReceiverOptions {
  readonly signingSecrets: readonly string[];
  readonly logger: Logger;
  readonly inFlight: InFlight;
  readonly now?: () => number;
  readonly onAck?: (seconds: number) => void;
}

/**
 * A Bolt receiver that does not own a server: opsbot's one HTTP server hands it `POST /slack/events`.
 * The raw body is verified (HMAC, freshness, constant time) before anything is parsed, and a request that
 * fails is answered 401 without reaching Bolt, so it can cause no Slack call.
 */
export class SlackHttpReceiver implements Receiver {
  private app: App | undefined;
  private readonly options: SlackHttpReceiverOptions;
  private readonly now: () => number;

  constructor(options: SlackHttpReceiverOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
  }

  init(app: App): void {
    this.app = app;
  }

  // The HTTP server's lifecycle is owned by src/server; Bolt's start/stop are no-ops here.
  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const receivedAt = performance.now();
    const { logger, inFlight } = this.options;
    if (inFlight.draining) {
      res.writeHead(503, { 'content-type': 'application/json', connection: 'close' });
      res.end('{"error":"shutting_down"}');
      return;
    }
    const read = await readBody(req, MAX_BODY_BYTES);
    if (read === 'too_large') {
      // The body was read to its end (discarded), so the client is listening when the answer goes out.
      logger.warn(
        { limit: MAX_BODY_BYTES, remote: req.socket.remoteAddress },
        'slack request body too large',
      );
      res.writeHead(413, { 'content-type': 'application/json', connection: 'close' });
      res.end('{"error":"body_too_large"}');
      return;
    }
    if (read === 'aborted') return;
    const raw = read;
    const check = verifySlackSignature({
      signingSecrets: this.options.signingSecrets,
      rawBody: raw,
      timestamp: headerOf(req, 'x-slack-request-timestamp'),
      signature: headerOf(req, 'x-slack-signature'),
      nowMs: this.now(),
    });
    if (!check.ok) {
      // Slack's SSL probe (ssl_check=1, sent when a slash command URL is saved) carries no signature: answer
      // 200 as Bolt does; nothing else in that body is looked at, so it cannot smuggle an event in.
      if (isSslCheck(raw, headerOf(req, 'content-type'))) {
        res.writeHead(200, { 'content-length': '0' });
        res.end();
        return;
      }
      logger.warn({ reason: check.reason, remote: req.socket.remoteAddress }, 'slack request refused');
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(`{"error":"${check.reason}"}`);
      return;
    }
    let body: Record<string, unknown>;
    try {
      if (!isUtf8(raw)) throw new Error('not UTF-8');
      body = parseSlackBody(raw, headerOf(req, 'content-type') ?? '');
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end('{"error":"unparseable_body"}');
      return;
    }
    if (body.ssl_check === '1') {
      res.writeHead(200, { 'content-length': '0' });
      res.end();
      return;
    }
    // Bolt acknowledges nothing it cannot classify (no listener runs): answer at once instead of after 3 s.
    if (!isSlackPayload(body)) {
      logger.warn({ remote: req.socket.remoteAddress }, 'slack request body is not a Slack payload');
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end('{"error":"unrecognized_body"}');
      return;
    }
    if (body.type === 'url_verification' && typeof body.challenge === 'string') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ challenge: body.challenge }));
      return;
    }
    if (!this.app) throw new Error('SlackHttpReceiver used before Bolt called init()');

    let acked = false;
    const finish = (status: number, payload: unknown): void => {
      if (acked) return;
      acked = true;
      clearTimeout(timer);
      // With content-length set, node writes the head and the body in one syscall; without it the body
      // would go out chunked (head, size line, body, terminator: a writev of four buffers per ack).
      if (payload === undefined || payload === '') {
        res.writeHead(status, { 'content-length': '0' });
        res.end();
      } else if (typeof payload === 'string') {
        res.writeHead(status, {
          'content-type': 'text/plain; charset=utf-8',
          'content-length': Buffer.byteLength(payload),
        });
        res.end(payload);
      } else {
        const text = JSON.stringify(payload);
        res.writeHead(status, {
          'content-type': 'application/json; charset=utf-8',
          'content-length': Buffer.byteLength(text),
        });
        res.end(text);
      }
      this.options.onAck?.((performance.now() - receivedAt) / 1000);
    };
    const timer = setTimeout(() => {
      if (!acked) {
        logger.error('slack request not acknowledged within 3 s; answering empty');
        finish(200, undefined);
      }
    }, UNACKED_TIMEOUT_MS);

    const retryNum = headerOf(req, 'x-slack-retry-num');
    const retryReason = headerOf(req, 'x-slack-retry-reason');
    const work = this.app.processEvent({
      body,
      ack: async (response?: unknown) => finish(200, response),
      ...(retryNum !== undefined ? { retryNum: Number(retryNum) } : {}),
      ...(retryReason !== undefined ? { retryReason } : {}),
      customProperties: { receivedAt },
    });
    try {
      await inFlight.track(work);
    } catch (err) {
      // Listener errors are handled (and answered) by the command pipeline; this is Bolt itself failing.
      logger.error({ err }, 'slack event processing failed');
      if (!acked) finish(500, undefined);
    }
  }
}

const headerOf = (req: IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

/** Past this much discarded body, the connection is cut rather than read to its end. */
const MAX_DISCARD_BYTES = 16 * 1024 * 1024;

/**
 * The whole body, or 'too_large' once it passed `limit` (the rest is read and discarded, so the 413 reaches
 * a client that is still sending: answering mid-upload and closing made the client see a reset instead), or
 * 'aborted' when the client went away.
 */
const readBody = (req: IncomingMessage, limit: number): Promise<Buffer | 'too_large' | 'aborted'> =>
  new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_DISCARD_BYTES) {
        req.destroy();
        resolve('aborted');
        return;
      }
      if (size > limit) {
        chunks.length = 0;
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > limit) resolve('too_large');
      else resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks));
    });
    req.on('error', () => resolve('aborted'));
    req.on('close', () => {
      if (!req.complete) resolve('aborted');
    });
  });

/** `ssl_check=1` in a form body (Slack's unsigned probe). */
const isSslCheck = (raw: Buffer, contentType: string | undefined): boolean =>
  raw.length < 4096 &&
  (contentType ?? '').includes('application/x-www-form-urlencoded') &&
  parseForm(raw.toString('utf8')).fields.ssl_check === '1';

/** What Bolt can route: a slash command, or a typed payload (events, interactivity, options). */
const isSlackPayload = (body: Record<string, unknown>): boolean =>
  (typeof body.command === 'string' && body.command.startsWith('/')) || typeof body.type === 'string';

/** Slash commands are form fields; interactivity is a form field `payload` holding JSON; events are JSON. */
export const parseSlackBody = (raw: Buffer, contentType: string): Record<string, unknown> => {
  const text = raw.toString('utf8');
  if (contentType.includes('application/json')) {
    const parsed: unknown = JSON.parse(text);
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    return parsed as Record<string, unknown>;
  }
  const { fields, payload } = parseForm(text);
  if (payload !== undefined) {
    const parsed: unknown = JSON.parse(payload);
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    return parsed as Record<string, unknown>;
  }
  return fields;
};

/**
 * application/x-www-form-urlencoded as URLSearchParams reads it (`+` is a space, percent-escapes are UTF-8;
 * a repeated field: the last one wins, except `payload`, where the first does), in one pass without its
 * iterator and entry arrays: this runs for every slash command. A malformed escape, which only
 * URLSearchParams' lenient decoding accepts, is parsed by URLSearchParams itself.
 */
export const parseForm = (text: string): { fields: Record<string, string>; payload: string | undefined } => {
  try {
    const fields: Record<string, string> = {};
    let payload: string | undefined;
    let start = text.startsWith('?') ? 1 : 0; // as URLSearchParams does
    while (start < text.length) {
      let end = text.indexOf('&', start);
      if (end === -1) end = text.length;
      if (end > start) {
        const eq = text.indexOf('=', start);
        const hasValue = eq !== -1 && eq < end;
        const key = decodeFormComponent(text.slice(start, hasValue ? eq : end));
        const value = hasValue ? decodeFormComponent(text.slice(eq + 1, end)) : '';
        if (key === 'payload') payload ??= value;
        if (key === '__proto__') {
          Object.defineProperty(fields, key, { value, enumerable: true, writable: true, configurable: true });
        } else fields[key] = value;
      }
      start = end + 1;
    }
    return { fields, payload };
  } catch {
    const params = new URLSearchParams(text);
    return { fields: Object.fromEntries(params), payload: params.get('payload') ?? undefined };
  }
};

const decodeFormComponent = (s: string): string => {
  const spaced = s.includes('+') ? s.replaceAll('+', ' ') : s;
  return spaced.includes('%') ? decodeURIComponent(spaced) : spaced;
};
