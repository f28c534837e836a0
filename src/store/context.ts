import type { Kysely } from 'kysely';
import { type ErrorContext, toStoreError } from './errors.js';
import type { Database } from './schema.js';

/** What every repository shares: the query builder, the clock and how to report a database failure. */
export interface RepoContext {
  readonly db: Kysely<Database>;
  readonly now: () => Date;
  readonly errors: ErrorContext;
}

/** Runs one database operation and turns any driver failure into AppError('store'). */
export const guard = async <T>(ctx: RepoContext, operation: string, fn: () => Promise<T>): Promise<T> => {
  try {
    return await fn();
  } catch (err) {
    throw toStoreError(err, ctx.errors, operation);
  }
};

export const toDate = (ms: number | string): Date => new Date(Number(ms));

/** Epoch ms of a Date, refusing an Invalid Date before it becomes NULL or NaN in a row. */
export const toEpochMs = (d: Date, field: string): number => {
  const ms = d instanceof Date ? d.getTime() : Number.NaN;
  if (!Number.isFinite(ms)) throw new TypeError(`${field} is not a valid Date`);
  return ms;
};
