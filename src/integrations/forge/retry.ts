import { describeFailure, ForgeTimeoutError, isAmbiguous, isRateLimited, retryAfterMs } from './errors.js';

/**
 * Retries shared by both forge adapters. Rules:
 * - a rate-limited answer (429, GitHub's 403 with Retry-After / x-ratelimit-remaining 0) was not processed,
 *   so any request is repeated after the time the forge asked for;
 * - reads (GET/HEAD) are also repeated after 5xx, timeouts and network errors, with exponential backoff;
 * - a write that failed ambiguously is never repeated blindly: `writeWithRecheck` first reads whether it
 *   landed.
 * Everything is bounded: at most `maxRetries` repeats, and a Retry-After longer than `maxDelayMs` is not
 * waited for (the caller gets a "rate limited, retry after N s" error instead).
 */

export interface RetryPolicy {
  readonly maxRetries: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly sleep: (ms: number) => Promise<void>;
  readonly now: () => number;
  readonly random: () => number;
}

export const defaultRetryPolicy = (overrides: Partial<RetryPolicy> = {}): RetryPolicy => ({
  maxRetries: 3,
  baseDelayMs: 500,
  maxDelayMs: 60_000,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  now: Date.now,
  random: Math.random,
  ...overrides,
});

/** The retry settings both adapters' options carry, under the same names. */
export interface ForgeRetryOptions {
  readonly maxRetries?: number;
  /** Cap on a Retry-After we are willing to wait for, and on backoff. */
  readonly maxRetryDelayMs?: number;
  /** Overrides for tests (sleep, clock). */
  readonly retry?: Partial<RetryPolicy>;
}

/** An adapter's policy: the defaults, then its maxRetries / maxRetryDelayMs, then any test overrides. */
export const retryPolicyFromOptions = (opts: ForgeRetryOptions): RetryPolicy =>
  defaultRetryPolicy({
    ...(opts.maxRetries !== undefined ? { maxRetries: opts.maxRetries } : {}),
    ...(opts.maxRetryDelayMs !== undefined ? { maxDelayMs: opts.maxRetryDelayMs } : {}),
    ...(opts.retry ?? {}),
  });

const backoff = (attempt: number, p: RetryPolicy): number =>
  Math.min(p.baseDelayMs * 2 ** attempt, p.maxDelayMs) * (0.75 + 0.5 * p.random());

/** How long to wait before repeat number `attempt` (0-based), or null to give up now. */
export const retryDelayFor = (
  err: unknown,
  attempt: number,
  idempotent: boolean,
  p: RetryPolicy,
): number | null => {
  if (attempt >= p.maxRetries) return null;
  const f = describeFailure(err);
  if (isRateLimited(f)) {
    // Without a hint, GitHub asks for at least a minute before retrying a secondary rate limit.
    const asked = retryAfterMs(f, p.now()) ?? 60_000;
    return asked <= p.maxDelayMs ? asked : null;
  }
  if (!idempotent || !isAmbiguous(f)) return null;
  const asked = retryAfterMs(f, p.now()); // a 503 may carry Retry-After too
  if (asked !== null) return asked <= p.maxDelayMs ? asked : null;
  return backoff(attempt, p);
};

export const withRetry = async <T>(fn: () => Promise<T>, idempotent: boolean, p: RetryPolicy): Promise<T> => {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const delay = retryDelayFor(err, attempt, idempotent, p);
      if (delay === null) throw err;
      await p.sleep(delay);
    }
  }
};

/**
 * A write that is repeated only after `recheck` confirmed it did not land. `recheck` returns the write's
 * result when it finds it already done, null when it is safe to write again; it may throw (e.g. a conflict).
 */
export const writeWithRecheck = async <T>(
  write: () => Promise<T>,
  recheck: () => Promise<T | null>,
  p: RetryPolicy,
): Promise<T> => {
  for (let attempt = 0; ; attempt++) {
    try {
      return await write();
    } catch (err) {
      if (!isAmbiguous(describeFailure(err))) throw err;
      const found = await recheck();
      if (found !== null) return found;
      if (attempt >= p.maxRetries) throw err;
      await p.sleep(backoff(attempt, p));
    }
  }
};

/** Wraps fetch so every attempt has its own deadline; a deadline hit becomes a ForgeTimeoutError. */
export const timedFetch = (base: typeof fetch, timeoutMs: number): typeof fetch => {
  const wrapped = async (input: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]) => {
    const deadline = AbortSignal.timeout(timeoutMs);
    const callerSignal = init?.signal ?? (input instanceof Request ? input.signal : undefined);
    const signal = callerSignal ? AbortSignal.any([callerSignal, deadline]) : deadline;
    try {
      const res = await base(input, { ...(init ?? {}), signal });
      return res;
    } catch (err) {
      if (deadline.aborted && !callerSignal?.aborted) throw new ForgeTimeoutError(timeoutMs);
      throw err;
    }
  };
  return wrapped as typeof fetch;
};
