import { AppError } from '../core/errors.js';
import type { Engine } from './schema.js';

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

/** SQLSTATEs of a server that is going away or not taking connections: worth trying again later. */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);

/**
 * PostgreSQL did not answer, as opposed to refusing the statement: a socket error (ECONNRESET,
 * ECONNREFUSED, a connection terminated, a connect or query timeout: no SQLSTATE at all) or a connection
 * exception (class 08), a shutdown or too many connections.
 */
const isUnavailable = (engine: Engine, code: unknown): boolean => {
  if (engine !== 'postgres') return false;
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return true;
  return code.startsWith('08') || UNAVAILABLE_SQLSTATES.has(code);
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
      ...(isUnavailable(ctx.engine, cause.code) ? { unavailable: true } : {}),
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
