import type { Selectable, Updateable } from 'kysely';
import { AppError } from '../core/errors.js';
import { guard, type RepoContext, toDate, toEpochMs } from './context.js';
import { isUniqueViolation, StoreCause, toStoreError } from './errors.js';
import type { ChangeRequestsTable } from './schema.js';
import type { ChangeRequest, ChangeRequestRepository, ChangeStatus, NewChangeRequest } from './types.js';

type Mutable = Omit<ChangeRequest, 'id' | 'createdAt' | 'updatedAt'>;

/** Domain field -> column, for every field a patch may carry. */
const COLUMNS = {
  kind: 'kind',
  target: 'target',
  forge: 'forge',
  project: 'project',
  baseBranch: 'base_branch',
  branch: 'branch',
  baseSha: 'base_sha',
  headSha: 'head_sha',
  mrNumber: 'mr_number',
  mrUrl: 'mr_url',
  requestedBy: 'requested_by',
  approvedBy: 'approved_by',
  requestedByName: 'requested_by_name',
  approvedByName: 'approved_by_name',
  status: 'status',
  plan: 'plan',
  slackChannel: 'slack_channel',
  slackThreadTs: 'slack_thread_ts',
  slackStatusTs: 'slack_status_ts',
} as const satisfies Record<keyof Mutable, keyof ChangeRequestsTable>;

const fromRow = (r: Selectable<ChangeRequestsTable>): ChangeRequest => ({
  id: r.id,
  kind: r.kind,
  target: r.target,
  forge: r.forge as ChangeRequest['forge'],
  project: r.project,
  baseBranch: r.base_branch,
  branch: r.branch,
  baseSha: r.base_sha,
  headSha: r.head_sha,
  mrNumber: r.mr_number === null ? null : Number(r.mr_number),
  mrUrl: r.mr_url,
  requestedBy: r.requested_by,
  approvedBy: r.approved_by,
  requestedByName: r.requested_by_name,
  approvedByName: r.approved_by_name,
  status: r.status as ChangeStatus,
  plan: r.plan,
  slackChannel: r.slack_channel,
  slackThreadTs: r.slack_thread_ts,
  slackStatusTs: r.slack_status_ts,
  createdAt: toDate(r.created_at),
  updatedAt: toDate(r.updated_at),
});

/** Only the keys present in the patch (an explicit null clears a column; undefined leaves it alone). */
const toColumns = (patch: Partial<Mutable>): Updateable<ChangeRequestsTable> => {
  const out: Record<string, unknown> = {};
  for (const [key, column] of Object.entries(COLUMNS)) {
    const v = (patch as Record<string, unknown>)[key];
    if (v !== undefined) out[column] = v;
  }
  return out as Updateable<ChangeRequestsTable>;
};

const branchConflict = (c: { forge: string; project: string; branch: string; id: string }, cause: unknown) =>
  new AppError('conflict', `A change request for branch ${c.branch} in ${c.project} already exists.`, {
    cause,
    details: { forge: c.forge, project: c.project, branch: c.branch, id: c.id },
  });

/** The lifecycle of one proposed infra change, from plan to merged; one row per (forge, project, branch). */
export class KyselyChangeRequestRepository implements ChangeRequestRepository {
  readonly #ctx: RepoContext;

  constructor(ctx: RepoContext) {
    this.#ctx = ctx;
  }

  /** Throws AppError('conflict') when the id or the (forge, project, branch) is already taken. */
  async create(change: NewChangeRequest): Promise<ChangeRequest> {
    const now = toEpochMs(this.#ctx.now(), 'now');
    try {
      const row = await this.#ctx.db
        .insertInto('change_requests')
        .values({
          id: change.id,
          kind: change.kind,
          target: change.target,
          forge: change.forge,
          project: change.project,
          base_branch: change.baseBranch,
          branch: change.branch,
          base_sha: change.baseSha,
          head_sha: change.headSha,
          mr_number: change.mrNumber,
          mr_url: change.mrUrl,
          requested_by: change.requestedBy,
          approved_by: change.approvedBy,
          requested_by_name: change.requestedByName ?? null,
          approved_by_name: change.approvedByName ?? null,
          status: change.status,
          plan: change.plan,
          slack_channel: change.slackChannel,
          slack_thread_ts: change.slackThreadTs,
          slack_status_ts: change.slackStatusTs,
          created_at: now,
          updated_at: now,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return fromRow(row);
    } catch (err) {
      if (isUniqueViolation(err)) throw branchConflict(change, new StoreCause(err, this.#ctx.errors.scrub));
      throw toStoreError(err, this.#ctx.errors, 'changes.create');
    }
  }

  async get(id: string): Promise<ChangeRequest | null> {
    const row = await guard(this.#ctx, 'changes.get', () =>
      this.#ctx.db.selectFrom('change_requests').selectAll().where('id', '=', id).executeTakeFirst(),
    );
    return row ? fromRow(row) : null;
  }

  async findByBranch(forge: string, project: string, branch: string): Promise<ChangeRequest | null> {
    const row = await guard(this.#ctx, 'changes.findByBranch', () =>
      this.#ctx.db
        .selectFrom('change_requests')
        .selectAll()
        .where('forge', '=', forge)
        .where('project', '=', project)
        .where('branch', '=', branch)
        .executeTakeFirst(),
    );
    return row ? fromRow(row) : null;
  }

  /**
   * One `UPDATE ... WHERE id = ? AND status IN (from) RETURNING *`: the database decides which of two
   * racing writers (a double-clicked Approve, two replicas) moves the change; the loser gets null.
   */
  async transition(
    id: string,
    from: readonly ChangeStatus[],
    patch: Partial<Mutable> & { status: ChangeStatus },
  ): Promise<ChangeRequest | null> {
    if (from.length === 0) return null;
    return this.#update('changes.transition', id, patch, from);
  }

  /** Updates fields other than status; null when no change has this id. */
  async update(id: string, patch: Partial<Omit<Mutable, 'status'>>): Promise<ChangeRequest | null> {
    const { status: _ignored, ...rest } = patch as Partial<Mutable>;
    return this.#update('changes.update', id, rest, null);
  }

  async #update(
    operation: string,
    id: string,
    patch: Partial<Mutable>,
    from: readonly ChangeStatus[] | null,
  ): Promise<ChangeRequest | null> {
    const values = { ...toColumns(patch), updated_at: toEpochMs(this.#ctx.now(), 'now') };
    try {
      let q = this.#ctx.db.updateTable('change_requests').set(values).where('id', '=', id);
      if (from) q = q.where('status', 'in', [...from]);
      const row = await q.returningAll().executeTakeFirst();
      return row ? fromRow(row) : null;
    } catch (err) {
      if (isUniqueViolation(err)) {
        const c = { forge: patch.forge ?? '', project: patch.project ?? '', branch: patch.branch ?? '', id };
        throw branchConflict(c, new StoreCause(err, this.#ctx.errors.scrub));
      }
      throw toStoreError(err, this.#ctx.errors, operation);
    }
  }
}
