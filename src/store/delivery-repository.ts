import type { Selectable } from 'kysely';
import { guard, type RepoContext, toDate } from './context.js';
import type { WebhookDeliveriesTable } from './pipeline-schema.js';
import type { DeliveryRepository, DeliveryStatus, StoredDelivery } from './pipeline-types.js';

const fromRow = (
  r: Selectable<WebhookDeliveriesTable>,
): StoredDelivery & { status: string; detail: string | null } => ({
  id: r.id,
  source: r.source as StoredDelivery['source'],
  event: r.event,
  body: r.body,
  correlationId: r.correlation_id,
  attempts: Number(r.attempts),
  receivedAt: toDate(r.received_at),
  status: r.status,
  detail: r.detail,
});

/**
 * Forge webhook deliveries: recorded (durably) before the forge gets its answer, so an accepted delivery is
 * never lost to a crash; the id (X-GitHub-Delivery, GitLab Idempotency-Key, else a hash of the body) makes a
 * redelivery a duplicate. A delivery is leased to the process that handles it; one whose lease ran out
 * unfinished (that process died) is taken over by any replica.
 */
export class KyselyDeliveryRepository implements DeliveryRepository {
  readonly #ctx: RepoContext;

  constructor(ctx: RepoContext) {
    this.#ctx = ctx;
  }

  async record(
    d: Omit<StoredDelivery, 'attempts' | 'receivedAt'> & { readonly owner: string; readonly leaseMs: number },
  ): Promise<'recorded' | 'duplicate'> {
    const now = this.#ctx.now().getTime();
    const row = await guard(this.#ctx, 'deliveries.record', () =>
      this.#ctx.db
        .insertInto('webhook_deliveries')
        .values({
          id: d.id,
          source: d.source,
          event: d.event,
          received_at: now,
          body: d.body,
          status: 'pending',
          attempts: 1,
          lease_owner: d.owner,
          lease_until: now + d.leaseMs,
          correlation_id: d.correlationId,
          detail: null,
          processed_at: null,
        })
        .onConflict((oc) => oc.column('id').doNothing())
        .returning('id')
        .executeTakeFirst(),
    );
    return row ? 'recorded' : 'duplicate';
  }

  async claimPending(owner: string, leaseMs: number, limit: number): Promise<StoredDelivery[]> {
    const now = this.#ctx.now().getTime();
    const rows = await guard(this.#ctx, 'deliveries.claimPending', () =>
      this.#ctx.db
        .updateTable('webhook_deliveries')
        .set((eb) => ({ lease_owner: owner, lease_until: now + leaseMs, attempts: eb('attempts', '+', 1) }))
        .where('id', 'in', (eb) =>
          eb
            .selectFrom('webhook_deliveries')
            .select('id')
            .where('status', '=', 'pending')
            .where('lease_until', '<=', now)
            .orderBy('received_at')
            .limit(limit),
        )
        .where('status', '=', 'pending')
        .where('lease_until', '<=', now)
        .returningAll()
        .execute(),
    );
    return rows.map(fromRow).sort((a, b) => a.receivedAt.getTime() - b.receivedAt.getTime());
  }

  async finish(
    id: string,
    owner: string,
    status: DeliveryStatus,
    detail: string | null = null,
  ): Promise<void> {
    const now = this.#ctx.now().getTime();
    await guard(this.#ctx, 'deliveries.finish', () =>
      this.#ctx.db
        .updateTable('webhook_deliveries')
        .set({
          status,
          detail: detail?.slice(0, 500) ?? null,
          processed_at: now,
          lease_owner: null,
          lease_until: 0,
        })
        .where('id', '=', id)
        .where('lease_owner', '=', owner)
        .execute(),
    );
  }

  async release(id: string, owner: string, at: number, detail: string): Promise<void> {
    await guard(this.#ctx, 'deliveries.release', () =>
      this.#ctx.db
        .updateTable('webhook_deliveries')
        .set({ lease_owner: null, lease_until: at, detail: detail.slice(0, 500) })
        .where('id', '=', id)
        .where('lease_owner', '=', owner)
        .execute(),
    );
  }

  async prune(before: Date): Promise<number> {
    const res = await guard(this.#ctx, 'deliveries.prune', () =>
      this.#ctx.db
        .deleteFrom('webhook_deliveries')
        .where('status', '<>', 'pending')
        .where('received_at', '<', before.getTime())
        .executeTakeFirst(),
    );
    return Number(res.numDeletedRows);
  }

  async get(id: string) {
    const row = await guard(this.#ctx, 'deliveries.get', () =>
      this.#ctx.db.selectFrom('webhook_deliveries').selectAll().where('id', '=', id).executeTakeFirst(),
    );
    return row ? fromRow(row) : null;
  }
}
