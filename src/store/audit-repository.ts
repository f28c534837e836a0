import { randomBytes } from 'node:crypto';
import type { Insertable, Selectable } from 'kysely';
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

type AuditRow = Insertable<AuditLogTable>;

/** Columns of one audit row: each is one bind parameter of an INSERT. */
const AUDIT_COLUMNS = 13;
/**
 * Bind parameters per statement we allow ourselves: SQLite's default limit is 32,766 (999 before 3.32),
 * PostgreSQL's 65,535. 500 rows x 13 columns = 6,500 stays far below both and keeps statements small.
 */
export const AUDIT_INSERT_CHUNK_ROWS = Math.floor(6_500 / AUDIT_COLUMNS);

/** Random bytes for ids, drawn from the CSPRNG in blocks; every id gets fresh bytes, never reused. */
let idPool = Buffer.alloc(0);
let idOffset = 0;
const ID_RANDOM_BYTES = 10;

/**
 * A UUIDv7 (RFC 9562): 48-bit Unix milliseconds of the row's time, then 74 random bits. Ids of rows written
 * around the same time sit next to each other in the primary-key index, so a burst of audit rows appends to
 * its right edge; random (v4) ids touched a random page of an ever larger index per row, and the insert cost
 * per row grew with the table (9 us at 10k rows, 17 us at 80k, on SQLite).
 */
export const newAuditId = (atMs: number): string => {
  if (idOffset + ID_RANDOM_BYTES > idPool.length) {
    idPool = randomBytes(ID_RANDOM_BYTES * 512);
    idOffset = 0;
  }
  const b = Buffer.allocUnsafe(16);
  b.writeUIntBE(Math.max(0, Math.min(atMs, 2 ** 48 - 1)), 0, 6);
  idPool.copy(b, 6, idOffset, idOffset + ID_RANDOM_BYTES);
  idOffset += ID_RANDOM_BYTES;
  b[6] = ((b[6] as number) & 0x0f) | 0x70; // version 7
  b[8] = ((b[8] as number) & 0x3f) | 0x80; // RFC 9562 variant
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};

/** The row an audit entry is stored as (shared with the CLI's direct append, src/store/audit-append.ts). */
export const toAuditRow = (entry: AuditRecord): AuditRow => {
  let at: number;
  try {
    at = toEpochMs(entry.at, 'at');
  } catch (cause) {
    throw new AppError('bad_input', 'The audit entry has no valid time.', { cause });
  }
  const duration = entry.durationMs;
  return {
    id: entry.id ?? newAuditId(at),
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
  };
};

/** Append-only log of who asked opsbot for what, and what came of it. */
export class KyselyAuditRepository implements AuditRepository {
  readonly #ctx: RepoContext;

  constructor(ctx: RepoContext) {
    this.#ctx = ctx;
  }

  async record(entry: AuditRecord): Promise<void> {
    const row = toAuditRow(entry);
    await guard(this.#ctx, 'audit.record', () => this.#ctx.db.insertInto('audit_log').values(row).execute());
  }

  /**
   * Many rows at once: multi-row INSERTs of at most AUDIT_INSERT_CHUNK_ROWS rows (under both engines'
   * bind-parameter limits), all in one transaction when more than one statement is needed, so a call writes
   * every row or none. Every row is validated before anything is written.
   */
  async recordMany(entries: readonly AuditRecord[]): Promise<void> {
    if (entries.length === 0) return;
    const rows = entries.map(toAuditRow);
    const chunks: AuditRow[][] = [];
    for (let i = 0; i < rows.length; i += AUDIT_INSERT_CHUNK_ROWS) {
      chunks.push(rows.slice(i, i + AUDIT_INSERT_CHUNK_ROWS));
    }
    await guard(this.#ctx, 'audit.recordMany', async () => {
      if (chunks.length === 1) {
        await this.#ctx.db
          .insertInto('audit_log')
          .values(chunks[0] as AuditRow[])
          .execute();
        return;
      }
      await this.#ctx.db.transaction().execute(async (trx) => {
        for (const chunk of chunks) await trx.insertInto('audit_log').values(chunk).execute();
      });
    });
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
