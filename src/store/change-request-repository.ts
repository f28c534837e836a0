import type { Selectable, Updateable } from 'kysely';
import { AppError } from '../core/errors.js';
import { guard, type RepoContext, toDate, toEpochMs } from './context.js';
import { isUniqueViolation, StoreCause, toStoreError } from './errors.js';
import type { ChangeRequestsTable } from './schema.js';
import type {
  ChangePatch,
  ChangeRequest,
  ChangeRequestRepository,
  ChangeStatus,
  NewChangeRequest,
} from './types.js';

type Mutable = ChangePatch & { status?: ChangeStatus };

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
  reason: 'reason',
  actor: 'actor',
  errorRef: 'error_ref',
  supersededBy: 'superseded_by',
  threadUrl: 'thread_url',
  mrStateAt: 'mr_state_at',
  attempts: 'attempts',
  nextAttemptAt: 'next_attempt_at',
} as const satisfies Record<keyof Required<Mutable>, keyof ChangeRequestsTable>;

const dateOrNull = (v: number | string | null): Date | null => (v === null ? null : toDate(v));

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
  reason: r.reason,
  actor: r.actor,
  errorRef: r.error_ref,
  supersededBy: r.superseded_by,
  threadUrl: r.thread_url,
  mrStateAt: dateOrNull(r.mr_state_at),
  attempts: Number(r.attempts),
  nextAttemptAt: dateOrNull(r.next_attempt_at),
  rev: Number(r.rev),
  slackRev: Number(r.slack_rev),
  slackAttempts: Number(r.slack_attempts),
  createdAt: toDate(r.created_at),
  updatedAt: toDate(r.updated_at),
});

/** Only the keys present in the patch (an explicit null clears a column; undefined leaves it alone). */
const toColumns = (patch: Mutable): Updateable<ChangeRequestsTable> => {
  const out: Record<string, unknown> = {};
  for (const [key, column] of Object.entries(COLUMNS)) {
    const v = (patch as Record<string, unknown>)[key];
    if (v === undefined) continue;
    out[column] = v instanceof Date ? toEpochMs(v, key) : v;
  }
  return out as Updateable<ChangeRequestsTable>;
};

const branchConflict = (c: { forge: string; project: string; branch: string; id: string }, cause: unknown) =>
  new AppError('conflict', `A change request for branch ${c.branch} in ${c.project} already exists.`, {
    cause,
    details: { forge: c.forge, project: c.project, branch: c.branch, id: c.id },
  });

/**
 * The lifecycle of one proposed infra change, from plan to merged. A branch is held by at most one change that
 * is not finished (a partial unique index); finished ones stay as history.
 */
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
          thread_url: change.threadUrl ?? null,
          reason: change.reason ?? null,
          superseded_by: change.supersededBy ?? null,
          created_at: now,
          updated_at: now,
          // A new change must be shown (its root message gets its buttons): due for the reconciler.
          rev: 1,
          slack_rev: 0,
          slack_due: 1,
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
        .orderBy('created_at', 'desc')
        .orderBy('rev', 'desc')
        .limit(1)
        .executeTakeFirst(),
    );
    return row ? fromRow(row) : null;
  }

  async findByMergeRequest(forge: string, project: string, number: number): Promise<ChangeRequest | null> {
    const row = await guard(this.#ctx, 'changes.findByMergeRequest', () =>
      this.#ctx.db
        .selectFrom('change_requests')
        .selectAll()
        .where('forge', '=', forge)
        .where('project', '=', project)
        .where('mr_number', '=', number)
        .orderBy('created_at', 'desc')
        .limit(1)
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
    patch: ChangePatch & { status: ChangeStatus },
  ): Promise<ChangeRequest | null> {
    if (from.length === 0) return null;
    return this.#update('changes.transition', id, patch, from, true);
  }

  /** Updates fields other than status; null when no change has this id. */
  async update(
    id: string,
    patch: ChangePatch,
    options: { touch?: boolean } = {},
  ): Promise<ChangeRequest | null> {
    const { status: _ignored, ...rest } = patch as Mutable;
    return this.#update('changes.update', id, rest, null, options.touch === true);
  }

  async claimLease(id: string, holder: string, ttlMs: number): Promise<ChangeRequest | null> {
    const now = this.#now();
    const row = await guard(this.#ctx, 'changes.claimLease', () =>
      this.#ctx.db
        .updateTable('change_requests')
        .set({ lease_holder: holder, lease_expires_at: now + Math.ceil(ttlMs) })
        .where('id', '=', id)
        .where('status', 'in', ['approved', 'applying'])
        .where((eb) =>
          eb.or([
            eb('lease_holder', 'is', null),
            eb('lease_expires_at', '<=', now),
            eb('lease_holder', '=', holder),
          ]),
        )
        .where((eb) => eb.or([eb('next_attempt_at', 'is', null), eb('next_attempt_at', '<=', now)]))
        .returningAll()
        .executeTakeFirst(),
    );
    return row ? fromRow(row) : null;
  }

  async renewLease(id: string, holder: string, ttlMs: number): Promise<boolean> {
    const now = this.#now();
    const row = await guard(this.#ctx, 'changes.renewLease', () =>
      this.#ctx.db
        .updateTable('change_requests')
        .set({ lease_expires_at: now + Math.ceil(ttlMs) })
        .where('id', '=', id)
        .where('lease_holder', '=', holder)
        .returning(['id'])
        .executeTakeFirst(),
    );
    return row !== undefined;
  }

  async releaseLease(
    id: string,
    holder: string,
    retry?: {
      readonly attempts: number;
      readonly nextAttemptAt: Date | null;
      readonly reason?: string | null;
    },
  ): Promise<void> {
    await guard(this.#ctx, 'changes.releaseLease', () =>
      this.#ctx.db
        .updateTable('change_requests')
        .set({
          lease_holder: null,
          lease_expires_at: null,
          ...(retry
            ? {
                attempts: retry.attempts,
                next_attempt_at: retry.nextAttemptAt ? toEpochMs(retry.nextAttemptAt, 'nextAttemptAt') : null,
                ...(retry.reason !== undefined ? { reason: retry.reason } : {}),
              }
            : {}),
        })
        .where('id', '=', id)
        .where('lease_holder', '=', holder)
        .execute(),
    );
  }

  async listByStatus(statuses: readonly ChangeStatus[], limit: number): Promise<ChangeRequest[]> {
    if (statuses.length === 0) return [];
    const rows = await guard(this.#ctx, 'changes.listByStatus', () =>
      this.#ctx.db
        .selectFrom('change_requests')
        .selectAll()
        .where('status', 'in', [...statuses])
        .orderBy('updated_at', 'asc')
        .limit(limit)
        .execute(),
    );
    return rows.map(fromRow);
  }

  async listResumable(limit: number): Promise<ChangeRequest[]> {
    const now = this.#now();
    const rows = await guard(this.#ctx, 'changes.listResumable', () =>
      this.#ctx.db
        .selectFrom('change_requests')
        .selectAll()
        .where('status', 'in', ['approved', 'applying'])
        .where((eb) => eb.or([eb('lease_holder', 'is', null), eb('lease_expires_at', '<=', now)]))
        .where((eb) => eb.or([eb('next_attempt_at', 'is', null), eb('next_attempt_at', '<=', now)]))
        .orderBy('updated_at', 'asc')
        .limit(limit)
        .execute(),
    );
    return rows.map(fromRow);
  }

  async listSlackDue(limit: number): Promise<string[]> {
    const now = this.#now();
    const rows = await guard(this.#ctx, 'changes.listSlackDue', () =>
      this.#ctx.db
        .selectFrom('change_requests')
        .select(['id'])
        .where('slack_due', '=', 1)
        .where((eb) => eb.or([eb('slack_next_at', 'is', null), eb('slack_next_at', '<=', now)]))
        .where((eb) =>
          eb.or([eb('slack_lease_expires_at', 'is', null), eb('slack_lease_expires_at', '<=', now)]),
        )
        .orderBy('updated_at', 'asc')
        .limit(limit)
        .execute(),
    );
    return rows.map((r) => r.id);
  }

  async claimSlack(id: string, holder: string, ttlMs: number): Promise<ChangeRequest | null> {
    const now = this.#now();
    const row = await guard(this.#ctx, 'changes.claimSlack', () =>
      this.#ctx.db
        .updateTable('change_requests')
        .set({ slack_lease_holder: holder, slack_lease_expires_at: now + Math.ceil(ttlMs) })
        .where('id', '=', id)
        .where('slack_due', '=', 1)
        .where((eb) =>
          eb.or([
            eb('slack_lease_holder', 'is', null),
            eb('slack_lease_expires_at', '<=', now),
            eb('slack_lease_holder', '=', holder),
          ]),
        )
        .returningAll()
        .executeTakeFirst(),
    );
    return row ? fromRow(row) : null;
  }

  async finishSlack(id: string, holder: string, rev: number): Promise<void> {
    await guard(this.#ctx, 'changes.finishSlack', () =>
      this.#ctx.db
        .updateTable('change_requests')
        .set((eb) => ({
          slack_rev: rev,
          slack_due: eb.case().when('rev', '>', rev).then(1).else(0).end(),
          slack_attempts: 0,
          slack_next_at: null,
          slack_lease_holder: null,
          slack_lease_expires_at: null,
        }))
        .where('id', '=', id)
        .where('slack_lease_holder', '=', holder)
        .execute(),
    );
  }

  async deferSlack(id: string, holder: string, at: Date): Promise<void> {
    await guard(this.#ctx, 'changes.deferSlack', () =>
      this.#ctx.db
        .updateTable('change_requests')
        .set((eb) => ({
          slack_next_at: toEpochMs(at, 'at'),
          slack_attempts: eb('slack_attempts', '+', 1),
          slack_lease_holder: null,
          slack_lease_expires_at: null,
        }))
        .where('id', '=', id)
        .where('slack_lease_holder', '=', holder)
        .execute(),
    );
  }

  #now(): number {
    return toEpochMs(this.#ctx.now(), 'now');
  }

  async #update(
    operation: string,
    id: string,
    patch: Mutable,
    from: readonly ChangeStatus[] | null,
    touch: boolean,
  ): Promise<ChangeRequest | null> {
    const values = { ...toColumns(patch), updated_at: this.#now() };
    try {
      let q = this.#ctx.db
        .updateTable('change_requests')
        .set((eb) => ({
          ...values,
          // A deferral (Retry-After, backoff) stands: a change moving does not make Slack answer sooner.
          ...(touch ? { rev: eb('rev', '+', 1), slack_due: 1 } : {}),
        }))
        .where('id', '=', id);
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
