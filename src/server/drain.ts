/**
 * Tracks in-flight work (a slash command's slow part runs after the ack) so shutdown can wait for it up to a
 * deadline instead of cutting a user's answer in half.
 */
export interface InFlight {
  /** Registers work; returns the same promise. Refuses nothing: callers check `draining` first. */
  track<T>(work: Promise<T>): Promise<T>;
  readonly size: number;
  readonly draining: boolean;
  /** Marks draining and waits until nothing is in flight or `timeoutMs` passes; true if all finished. */
  drain(timeoutMs: number): Promise<boolean>;
}

export const createInFlight = (): InFlight => {
  const pending = new Set<Promise<unknown>>();
  let draining = false;
  return {
    track<T>(work: Promise<T>): Promise<T> {
      const p = work.finally(() => pending.delete(p));
      pending.add(p);
      // The caller handles the rejection of `work`; this copy must not be reported as unhandled.
      p.catch(() => {});
      return work;
    },
    get size() {
      return pending.size;
    },
    get draining() {
      return draining;
    },
    async drain(timeoutMs: number): Promise<boolean> {
      draining = true;
      const deadline = Date.now() + timeoutMs;
      while (pending.size > 0) {
        const left = deadline - Date.now();
        if (left <= 0) return false;
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), left);
        });
        const r = await Promise.race([Promise.allSettled([...pending]).then(() => 'done' as const), timeout]);
        clearTimeout(timer);
        if (r === 'timeout') return pending.size === 0;
      }
      return true;
    },
  };
};

/** Where shutdown signals come from: `process` in production, an EventEmitter in tests. */
export interface SignalSource {
  on(event: 'SIGTERM' | 'SIGINT', listener: () => void): unknown;
  off(event: 'SIGTERM' | 'SIGINT', listener: () => void): unknown;
}
