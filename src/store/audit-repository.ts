import { randomUUID } from 'node:crypto';
import type { Selectable } from 'kysely';
import { AppError } from '../core/errors.js';
import { guard, type RepoContext, toDate, toEpochMs } from './context.js';
import type { AuditLogTable } from './schema.js';
import type { AuditOutcome, AuditRecord, AuditRepository } from './types.js';

export const AUDIT_DEFAULT_LIMIT = 100;
export const AUDIT_MAX_LIMIT = 1000;

const fromRow = (r: Selectable<AuditLogTable>): AuditRecord => ({
  id: r.id,
  at: toDate(r.at),
  actorId: r.actor_id,
  actorName: r.actor_name,
  source: r.source as AuditRecord['source'],
  command: r.command,
  args: r.args,
  channelId: r.channel_id,
  target: r.target,
  outcome: r.outcome as AuditOutcome,
  detail: r.detail,
  correlationId: r.correlation_id,
  durationMs: r.duration_ms === null ? null : Number(r.duration_ms),
});

/** Append-only log of who asked opsbot for what, and what came of it. */
export class KyselyAuditRepository implements AuditRepository {
  readonly #ctx: RepoContext;

  constructor(ctx: RepoContext) {
    this.#ctx = ctx;
  }

  async record(entry: AuditRecord): Promise<void> {
    let at: number;
    try {
      at = toEpochMs(entry.at, 'at');
    } catch (cause) {
      throw new AppError('bad_input', 'The audit entry has no valid time.', { cause });
    }
    const duration = entry.durationMs;
    await guard(this.#ctx, 'audit.record', () =>
      this.#ctx.db
        .insertInto('audit_log')
        .values({
          id: entry.id ?? randomUUID(),
          at,
          actor_id: entry.actorId,
          actor_name: entry.actorName ?? null,
          source: entry.source,
          command: entry.command,
          args: entry.args,
          channel_id: entry.channelId ?? null,
          target: entry.target ?? null,
          outcome: entry.outcome,
          detail: entry.detail ?? null,
          correlation_id: entry.correlationId,
          duration_ms: duration === undefined || duration === null ? null : Math.round(duration),
        })
        .execute(),
    );
  }

  /** Newest first; `limit` defaults to 100 and is capped at 1000. */
  async list(query: { command?: string; actorId?: string; limit?: number } = {}): Promise<AuditRecord[]> {
    const requested = query.limit ?? AUDIT_DEFAULT_LIMIT;
    const limit = Math.min(
      AUDIT_MAX_LIMIT,
      Math.max(1, Math.trunc(Number.isFinite(requested) ? requested : 1)),
    );
    const rows = await guard(this.#ctx, 'audit.list', () => {
      let q = this.#ctx.db.selectFrom('audit_log').selectAll();
      if (query.command !== undefined) q = q.where('command', '=', query.command);
      if (query.actorId !== undefined) q = q.where('actor_id', '=', query.actorId);
      return q.orderBy('at', 'desc').orderBy('id', 'desc').limit(limit).execute();
    });
    return rows.map(fromRow);
  }
}
