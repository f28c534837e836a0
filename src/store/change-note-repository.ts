import { randomUUID } from 'node:crypto';
import type { Selectable } from 'kysely';
import { guard, type RepoContext, toDate, toEpochMs } from './context.js';
import type { ChangeNotesTable } from './schema.js';
import type { ChangeNote, ChangeNoteRepository } from './types.js';

const fromRow = (r: Selectable<ChangeNotesTable>): ChangeNote => ({
  id: r.id,
  changeId: r.change_id,
  seq: Number(r.seq),
  kind: r.kind,
  payload: r.payload,
  postedTs: r.posted_ts,
  attempts: Number(r.attempts),
  createdAt: toDate(r.created_at),
});

/**
 * The outbox of a change's thread notes. A note is written in the transaction of the transition that makes
 * it, then posted by the Slack reconciler: a decision never waits for Slack, and a note is never lost to an
 * outage or a crash.
 */
export class KyselyChangeNoteRepository implements ChangeNoteRepository {
  readonly #ctx: RepoContext;

  constructor(ctx: RepoContext) {
    this.#ctx = ctx;
  }

  async add(note: { changeId: string; seq: number; kind: string; payload: string }): Promise<ChangeNote> {
    const row = await guard(this.#ctx, 'notes.add', () =>
      this.#ctx.db
        .insertInto('change_notes')
        .values({
          id: randomUUID(),
          change_id: note.changeId,
          seq: note.seq,
          kind: note.kind,
          payload: note.payload,
          posted_ts: null,
          attempts: 0,
          created_at: toEpochMs(this.#ctx.now(), 'now'),
        })
        .returningAll()
        .executeTakeFirstOrThrow(),
    );
    return fromRow(row);
  }

  async list(changeId: string): Promise<ChangeNote[]> {
    const rows = await guard(this.#ctx, 'notes.list', () =>
      this.#ctx.db
        .selectFrom('change_notes')
        .selectAll()
        .where('change_id', '=', changeId)
        .orderBy('seq', 'asc')
        .execute(),
    );
    return rows.map(fromRow);
  }

  async markAttempt(id: string): Promise<void> {
    await guard(this.#ctx, 'notes.markAttempt', () =>
      this.#ctx.db
        .updateTable('change_notes')
        .set((eb) => ({ attempts: eb('attempts', '+', 1) }))
        .where('id', '=', id)
        .execute(),
    );
  }

  async markPosted(id: string, ts: string): Promise<void> {
    await guard(this.#ctx, 'notes.markPosted', () =>
      this.#ctx.db.updateTable('change_notes').set({ posted_ts: ts }).where('id', '=', id).execute(),
    );
  }
}
