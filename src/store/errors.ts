import { AppError } from '../core/errors.js';
import type { Engine } from './schema.js';

/** The code of the store's own query deadline (`queryTimeoutError`). */
const QUERY_TIMEOUT_CODE = 'OPSBOT_QUERY_TIMEOUT';

export const STORE_USER_MESSAGE = 'The opsbot database is not reachable or refused the write.';

/** Error fields worth keeping for a log line: driver codes, never connection parameters. */
const KEPT_FIELDS = [
  'code',
  'errno',
  'errcode',
  'errstr',
  'severity',
  'constraint',
  'table',
  'routine',
] as const;

/**
 * Replaces every occurrence of the connection string and its password. A `pg` or URL parse error can
 * echo its input, and a DATABASE_URL may carry a password.
 */
export const buildScrubber = (databaseUrl: string | undefined): ((text: string) => string) => {
  const secrets: string[] = [];
  if (databaseUrl) {
    secrets.push(databaseUrl);
    const m = /^[a-z][a-z0-9+.-]*:\/\/[^:/@]*:([^@]*)@/i.exec(databaseUrl);
    const pw = m?.[1];
    if (pw) {
      secrets.push(pw);
      try {
        secrets.push(decodeURIComponent(pw));
      } catch {
        // a malformed escape: the raw form is already listed
      }
    }
  }
  const list = secrets.filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text;
    for (const s of list) if (out.includes(s)) out = out.split(s).join('[REDACTED]');
    return out;
  };
};

/** A copy of a driver error that is safe to log: scrubbed message and stack, driver codes kept. */
export class StoreCause extends Error {
  [key: string]: unknown;

  constructor(err: unknown, scrub: (text: string) => string, depth = 0) {
    const e = err instanceof Error ? err : new Error(String(err));
    super(scrub(e.message));
    this.name = e.name;
    if (e.stack !== undefined) this.stack = scrub(e.stack);
    const rec = e as unknown as Record<string, unknown>;
    for (const k of KEPT_FIELDS) {
      const v = rec[k];
      if (typeof v === 'string') this[k] = scrub(v);
      else if (typeof v === 'number') this[k] = v;
    }
    // pg reports "connection refused on every address" as an AggregateError with an empty message.
    if (depth < 2 && Array.isArray(rec.errors)) {
      this.errors = (rec.errors as unknown[]).slice(0, 5).map((x) => new StoreCause(x, scrub, depth + 1));
    }
    if (depth < 2 && rec.cause !== undefined) this.cause = new StoreCause(rec.cause, scrub, depth + 1);
  }
}

export interface ErrorContext {
  readonly engine: Engine;
  readonly scrub: (text: string) => string;
}

/**
 * SQLSTATEs of a server that is going away or not taking connections: admin_shutdown, crash_shutdown,
 * cannot_connect_now, too_many_connections (a failover's reconnect storm). Class 08 (connection exception) too.
 */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);

/** Socket errors of a server that cannot be reached or stopped answering. */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  QUERY_TIMEOUT_CODE,
]);

/**
 * What pg and pg-pool throw, with no code, when the connection is gone or never came: the server closed it
 * ("Connection terminated unexpectedly", or "Connection terminated" for a query cut by the client's end), the
 * connect deadline, the pool's checkout deadline, a query on a client whose connection already failed. Not
 * "Client was closed" nor "Cannot use a pool after calling end": those are our own close() come first.
 */
const UNREACHABLE_MESSAGE =
  /^(Connection terminated( unexpectedly| due to connection timeout)?|timeout exceeded when trying to connect|Client has encountered a connection error and is not queryable)$/;

/**
 * PostgreSQL did not answer, as opposed to refusing the statement (or a bug of ours throwing inside a store
 * call, which must not be taken for an outage: the audit writer retries such rows until the database
 * answers). Only what says so: a socket error code, one of pg's connection-lost messages, the store's own
 * query deadline, a connection exception (SQLSTATE class 08), a shutdown, a server not taking connections.
 * Node's "refused on every address" is an AggregateError: any of its errors counts.
 */
const isUnavailableCause = (cause: StoreCause, depth = 0): boolean => {
  const code = cause.code;
  if (typeof code === 'string') {
    if (UNREACHABLE_CODES.has(code)) return true;
    if (/^[0-9A-Z]{5}$/.test(code) && (code.startsWith('08') || UNAVAILABLE_SQLSTATES.has(code))) return true;
  }
  if (UNREACHABLE_MESSAGE.test(cause.message)) return true;
  if (depth < 2 && Array.isArray(cause.errors))
    return (cause.errors as unknown[]).some(
      (e) => e instanceof StoreCause && isUnavailableCause(e, depth + 1),
    );
  return false;
};

/** Wraps anything a database call threw; AppErrors we raised ourselves pass through. */
export const toStoreError = (err: unknown, ctx: ErrorContext, operation: string): AppError => {
  if (err instanceof AppError) return err;
  const cause = new StoreCause(err, ctx.scrub);
  return new AppError('store', STORE_USER_MESSAGE, {
    cause,
    details: {
      engine: ctx.engine,
      operation,
      ...(typeof cause.code === 'string' ? { dbCode: cause.code } : {}),
      ...(ctx.engine === 'postgres' && isUnavailableCause(cause) ? { unavailable: true } : {}),
    },
  });
};

/** A store error because the database did not answer (worth trying again), not because it refused. */
export const isStoreUnavailable = (err: unknown): boolean =>
  err instanceof AppError && err.code === 'store' && err.details.unavailable === true;

/** A UNIQUE or PRIMARY KEY violation, on either engine. */
export const isUniqueViolation = (err: unknown): boolean => {
  if (typeof err !== 'object' || err === null) return false;
  const rec = err as Record<string, unknown>;
  if (rec.code === '23505') return true; // PostgreSQL unique_violation
  // SQLITE_CONSTRAINT_PRIMARYKEY (1555), SQLITE_CONSTRAINT_UNIQUE (2067)
  return rec.code === 'ERR_SQLITE_ERROR' && (rec.errcode === 1555 || rec.errcode === 2067);
};

/** The store's own query deadline (open.ts destroys the connection with it): the database did not answer. */
export const queryTimeoutError = (ms: number): Error =>
  Object.assign(new Error(`no answer from PostgreSQL within ${ms} ms`), { code: QUERY_TIMEOUT_CODE });
