import { AppError } from '../core/errors.js';
import { guard, type RepoContext } from './context.js';
import type { LockRepository } from './types.js';

/**
 * Named leases with a time to live, shared by every replica on the same database. Taking one is a single
 * statement (insert, or take over a row whose lease has expired or that we already hold), so two replicas
 * racing for a free or expired lock cannot both win. Expiry is judged by the opsbot clock: replicas' clocks
 * must agree to well within the TTLs in use (NTP does that).
 */
export class KyselyLockRepository implements LockRepository {
  readonly #ctx: RepoContext;

  constructor(ctx: RepoContext) {
    this.#ctx = ctx;
  }

  /** True when `holder` now holds `name` until now + ttlMs (taking it, or renewing its own lease). */
  async tryAcquire(name: string, holder: string, ttlMs: number): Promise<boolean> {
    if (!Number.isFinite(ttlMs) || ttlMs <= 0) {
      throw new AppError('bad_input', 'A lock needs a positive time to live.', { details: { name, ttlMs } });
    }
    const now = this.#ctx.now().getTime();
    const expiresAt = now + Math.ceil(ttlMs);
    const row = await guard(this.#ctx, 'locks.tryAcquire', () =>
      this.#ctx.db
        .insertInto('locks')
        .values({ name, holder, expires_at: expiresAt })
        .onConflict((oc) =>
          oc
            .column('name')
            .doUpdateSet({
              holder: (eb) => eb.ref('excluded.holder'),
              expires_at: (eb) => eb.ref('excluded.expires_at'),
            })
            .where((eb) =>
              eb.or([eb('locks.expires_at', '<=', now), eb('locks.holder', '=', eb.ref('excluded.holder'))]),
            ),
        )
        .returning(['holder'])
        .executeTakeFirst(),
    );
    return row?.holder === holder;
  }

  /** Gives the lease up; a no-op when someone else holds it (ours expired and was taken over). */
  async release(name: string, holder: string): Promise<void> {
    await guard(this.#ctx, 'locks.release', () =>
      this.#ctx.db.deleteFrom('locks').where('name', '=', name).where('holder', '=', holder).execute(),
    );
  }
}
