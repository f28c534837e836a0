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

/** A user- and log-safe reason: Slack's error code or our AppError message, never raw SDK text. */
const reasonOf = (err: unknown): string => {
  if (isAppError(err)) {
    const code = err.details.slackError;
    return typeof code === 'string' ? code : err.userMessage;
  }
  return 'unreachable';
};

/**
 * /readyz: every named check must pass. A success is reused for `okTtlMs` (~30 s) so a probe every few
 * seconds does not call auth.test each time; a failure only for `failTtlMs`, so recovery shows quickly.
 * Concurrent probes share one round of checks.
 */
export const createReadiness = (
  checks: Readonly<Record<string, () => Promise<unknown>>>,
  options: { okTtlMs?: number; failTtlMs?: number; now?: () => number } = {},
): Readiness => {
  const okTtl = options.okTtlMs ?? 30_000;
  const failTtl = options.failTtlMs ?? 5_000;
  const now = options.now ?? Date.now;
  const cache = new Map<string, { at: number; result: CheckResult }>();
  const pending = new Map<string, Promise<CheckResult>>();
  const run = (name: string, fn: () => Promise<unknown>): Promise<CheckResult> => {
    const hit = cache.get(name);
    if (hit && now() - hit.at < (hit.result.ok ? okTtl : failTtl)) return Promise.resolve(hit.result);
    const inflight = pending.get(name);
    if (inflight) return inflight;
    const p = fn()
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
