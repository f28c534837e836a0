import type { Logger } from '../../core/logger.js';

/**
 * A background worker: runs `pass` every `intervalMs`, or sooner when kicked (an event asked for work at a
 * given time). One pass at a time; a kick during a pass runs another right after. `stop()` waits for the pass
 * in flight and schedules nothing more.
 */
export interface WorkLoop {
  start(): void;
  /** Asks for a pass at `atMs` (default now); the earliest request wins. */
  kick(atMs?: number): void;
  stop(): Promise<void>;
}

export const createWorkLoop = (o: {
  readonly name: string;
  readonly intervalMs: number;
  readonly pass: () => Promise<void>;
  readonly logger: Logger;
}): WorkLoop => {
  let timer: NodeJS.Timeout | null = null;
  let nextAt = Number.POSITIVE_INFINITY;
  let running: Promise<void> | null = null;
  let again = false;
  let stopped = false;

  const schedule = (at: number): void => {
    if (stopped) return;
    if (timer && at >= nextAt) return;
    if (timer) clearTimeout(timer);
    nextAt = at;
    timer = setTimeout(fire, Math.max(0, at - Date.now()));
    timer.unref();
  };

  const fire = (): void => {
    timer = null;
    nextAt = Number.POSITIVE_INFINITY;
    if (running) {
      again = true;
      return;
    }
    running = o
      .pass()
      .catch((err: unknown) => o.logger.error({ err, loop: o.name }, 'background pass failed'))
      .finally(() => {
        running = null;
        if (again) {
          again = false;
          schedule(Date.now());
        } else {
          schedule(Date.now() + o.intervalMs);
        }
      });
  };

  return {
    start() {
      schedule(Date.now());
    },
    kick(atMs = Date.now()) {
      if (running && atMs <= Date.now()) {
        again = true;
        return;
      }
      schedule(atMs);
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      await running;
    },
  };
};

/** Runs `fn` over `items` with at most `limit` at a time. */
export const forEachLimit = async <T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> => {
  let i = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (i < items.length) {
      const item = items[i++] as T;
      await fn(item);
    }
  });
  await Promise.all(workers);
};
