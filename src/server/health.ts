import { isAppError } from '../core/errors.js';

export interface CheckResult {
  readonly ok: boolean;
  readonly error?: string;
}

export interface ReadinessReport {
  readonly ready: boolean;
  readonly checks: Readonly<Record<string, CheckResult>>;
}

export interface Readiness {
  check(): Promise<ReadinessReport>;
}

class CheckTimeout extends Error {
  constructor(readonly ms: number) {
    super(`no answer within ${ms} ms`);
  }
}

/** A user- and log-safe reason: Slack's error code or our AppError message, never raw SDK text. */
const reasonOf = (err: unknown): string => {
  if (isAppError(err)) {
    const code = err.details.slackError;
    return typeof code === 'string' ? code : err.userMessage;
  }
  if (err instanceof CheckTimeout) return err.message;
  return 'unreachable';
};

/** A readiness check: a function, or one with its own cache lifetimes (see createReadiness). */
export type ReadinessCheck =
  | (() => Promise<unknown>)
  | { readonly run: () => Promise<unknown>; readonly okTtlMs?: number; readonly failTtlMs?: number };

const NO_ANSWER = Symbol('no answer');

/**
 * /readyz: every named check must pass. A success is reused for `okTtlMs` (~30 s) so a probe every few seconds
 * does not call auth.test each time; a failure only for `failTtlMs` (5 s), so recovery shows quickly. A check
 * may set its own, as the store does (1 s both ways): a `select 1` costs nothing, and a database gone, or back,
 * must show at the next probe. A check that does not settle within `timeoutMs` (a database behind a dropped
 * network answers nothing until the pool's connect timeout) fails with that reason, so /readyz answers
 * within the probe's timeout. Concurrent probes share one round of checks.
 */
export const createReadiness = (
  checks: Readonly<Record<string, ReadinessCheck>>,
  options: { okTtlMs?: number; failTtlMs?: number; timeoutMs?: number; now?: () => number } = {},
): Readiness => {
  const okTtl = options.okTtlMs ?? 30_000;
  const failTtl = options.failTtlMs ?? 5_000;
  const timeoutMs = options.timeoutMs ?? 3_000;
  const now = options.now ?? Date.now;
  const cache = new Map<string, { at: number; result: CheckResult }>();
  const pending = new Map<string, Promise<CheckResult>>();
  const bounded = (fn: () => Promise<unknown>): Promise<unknown> => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<typeof NO_ANSWER>((resolve) => {
      timer = setTimeout(() => resolve(NO_ANSWER), timeoutMs);
      timer.unref();
    });
    return Promise.race([fn(), late]).then(
      (v) => {
        clearTimeout(timer);
        if (v === NO_ANSWER) throw new CheckTimeout(timeoutMs);
        return v;
      },
      (err: unknown) => {
        clearTimeout(timer);
        throw err;
      },
    );
  };
  const run = (name: string, check: ReadinessCheck): Promise<CheckResult> => {
    const fn = typeof check === 'function' ? check : check.run;
    const ttlOk = typeof check === 'function' ? okTtl : (check.okTtlMs ?? okTtl);
    const ttlFail = typeof check === 'function' ? failTtl : (check.failTtlMs ?? failTtl);
    const hit = cache.get(name);
    if (hit && now() - hit.at < (hit.result.ok ? ttlOk : ttlFail)) return Promise.resolve(hit.result);
    const inflight = pending.get(name);
    if (inflight) return inflight;
    const p = bounded(fn)
      .then(
        (): CheckResult => ({ ok: true }),
        (err: unknown): CheckResult => ({ ok: false, error: reasonOf(err) }),
      )
      .then((result) => {
        cache.set(name, { at: now(), result });
        pending.delete(name);
        return result;
      });
    pending.set(name, p);
    return p;
  };
  return {
    async check() {
      const entries = await Promise.all(
        Object.entries(checks).map(async ([n, fn]) => [n, await run(n, fn)] as const),
      );
      return { ready: entries.every(([, r]) => r.ok), checks: Object.fromEntries(entries) };
    },
  };
};
