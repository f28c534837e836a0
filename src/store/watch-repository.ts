import type { Selectable } from 'kysely';
import { guard, type RepoContext } from './context.js';
import type { WatchGroupsTable } from './watch-schema.js';

export interface WatchState {
  readonly cursorMs: number;
  readonly committedAt: number;
  readonly lastRunAt: number | null;
  readonly lastError: string | null;
  readonly lastErrorAt: number | null;
}

export interface WatchGroupRow {
  readonly key: string;
  readonly cause: string;
  readonly zone: string;
  readonly fromMs: number;
  readonly toMs: number;
  readonly vms: number;
  readonly payload: string;
  readonly channel: string;
  readonly ts: string | null;
}

const ID = 'default';

const toRow = (r: Selectable<WatchGroupsTable>): WatchGroupRow => ({
  key: r.group_key,
  cause: r.cause,
  zone: r.zone,
  fromMs: Number(r.from_ms),
  toMs: Number(r.to_ms),
  vms: r.vms,
  payload: r.payload,
  channel: r.channel,
  ts: r.ts,
});

export class KyselyWatchRepository {
  readonly #ctx: RepoContext;
  constructor(ctx: RepoContext) {
    this.#ctx = ctx;
  }

  async getState(): Promise<WatchState | null> {
    const r = await guard(this.#ctx, 'watch.getState', () =>
      this.#ctx.db.selectFrom('watch_state').selectAll().where('id', '=', ID).executeTakeFirst(),
    );
    if (!r) return null;
    return {
      cursorMs: Number(r.cursor_ms),
      committedAt: Number(r.committed_at),
      lastRunAt: r.last_run_at === null ? null : Number(r.last_run_at),
      lastError: r.last_error,
      lastErrorAt: r.last_error_at === null ? null : Number(r.last_error_at),
    };
  }

  /** Moves the cursor (never backwards) and clears the last error. */
  async commitCursor(cursorMs: number): Promise<void> {
    const now = this.#ctx.now().getTime();
    await guard(this.#ctx, 'watch.commitCursor', () =>
      this.#ctx.db
        .insertInto('watch_state')
        .values({
          id: ID,
          cursor_ms: cursorMs,
          committed_at: now,
          last_run_at: now,
          last_error: null,
          last_error_at: null,
        })
        .onConflict((oc) =>
          oc
            .column('id')
            .doUpdateSet({
              cursor_ms: cursorMs,
              committed_at: now,
              last_run_at: now,
              last_error: null,
              last_error_at: null,
            })
            .where('watch_state.cursor_ms', '<=', cursorMs),
        )
        .execute(),
    );
  }

  async recordError(message: string, initialCursorMs: number): Promise<void> {
    const now = this.#ctx.now().getTime();
    await guard(this.#ctx, 'watch.recordError', () =>
      this.#ctx.db
        .insertInto('watch_state')
        .values({
          id: ID,
          cursor_ms: initialCursorMs,
          committed_at: now,
          last_run_at: now,
          last_error: message.slice(0, 500),
          last_error_at: now,
        })
        .onConflict((oc) =>
          oc
            .column('id')
            .doUpdateSet({ last_run_at: now, last_error: message.slice(0, 500), last_error_at: now }),
        )
        .execute(),
    );
  }

  /** Stored groups of this cause and zone whose span overlaps [fromMs, toMs]. */
  async findOverlapping(cause: string, zone: string, fromMs: number, toMs: number): Promise<WatchGroupRow[]> {
    const rows = await guard(this.#ctx, 'watch.findOverlapping', () =>
      this.#ctx.db
        .selectFrom('watch_groups')
        .selectAll()
        .where('cause', '=', cause)
        .where('zone', '=', zone)
        .where('from_ms', '<=', toMs)
        .where('to_ms', '>=', fromMs)
        .orderBy('from_ms')
        .execute(),
    );
    return rows.map(toRow);
  }

  /** Inserts the group (ts null: about to be posted) or updates its span, count and payload. */
  async upsertGroup(g: Omit<WatchGroupRow, 'ts'>): Promise<void> {
    const now = this.#ctx.now().getTime();
    await guard(this.#ctx, 'watch.upsertGroup', () =>
      this.#ctx.db
        .insertInto('watch_groups')
        .values({
          group_key: g.key,
          cause: g.cause,
          zone: g.zone,
          from_ms: g.fromMs,
          to_ms: g.toMs,
          vms: g.vms,
          payload: g.payload,
          channel: g.channel,
          ts: null,
          created_at: now,
          updated_at: now,
        })
        .onConflict((oc) =>
          oc.column('group_key').doUpdateSet({
            from_ms: g.fromMs,
            to_ms: g.toMs,
            vms: g.vms,
            payload: g.payload,
            updated_at: now,
          }),
        )
        .execute(),
    );
  }

  async setGroupTs(key: string, ts: string): Promise<void> {
    await guard(this.#ctx, 'watch.setGroupTs', () =>
      this.#ctx.db
        .updateTable('watch_groups')
        .set({ ts, updated_at: this.#ctx.now().getTime() })
        .where('group_key', '=', key)
        .execute(),
    );
  }

  async countGroups(): Promise<number> {
    const r = await guard(this.#ctx, 'watch.countGroups', () =>
      this.#ctx.db
        .selectFrom('watch_groups')
        .select((eb) => eb.fn.countAll<number | string>().as('n'))
        .executeTakeFirst(),
    );
    return Number(r?.n ?? 0);
  }
}
