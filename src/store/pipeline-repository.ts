import { randomUUID } from 'node:crypto';
import { type Kysely, type Selectable, sql, type Transaction } from 'kysely';
import {
  aggregateStatus,
  type CiForge,
  type CiJobState,
  type CiRunState,
  type CiStatus,
  ciRank,
  isTerminalCi,
  type JobEvent,
  type PipelineEvent,
} from '../core/ci.js';
import { guard, type RepoContext, toDate } from './context.js';
import type {
  CiJobsTable,
  CiPipelinesTable,
  CiRunsTable,
  FollowedMrsTable,
  PipelineFollowsTable,
  PipelineMessagesTable,
} from './pipeline-schema.js';
import type {
  ApplyResult,
  CiJob,
  CiPipeline,
  CiRun,
  FollowedMr,
  FollowInput,
  FollowTiming,
  FollowView,
  MergeRequestChange,
  MergeRequestPatch,
  MergeRequestState,
  MrRef,
  PipelineFollow,
  PipelineMessage,
  PipelineRepository,
  PipelineSnapshot,
  StoreForgeEvent,
} from './pipeline-types.js';
import type { Database } from './schema.js';

type Db = Kysely<Database> | Transaction<Database>;

const n = (v: number | string): number => Number(v);
const optDate = (v: number | string | null): Date | null => (v === null ? null : toDate(v));
const ms = (d: Date | null): number | null => (d ? d.getTime() : null);
const flag = (v: unknown): boolean => v === true || Number(v) === 1;

export const mrIdOf = (ref: MrRef): string => `${ref.forge}:${ref.repo}!${ref.number}`;
export const pipelineIdOf = (forge: CiForge, repo: string, key: string): string => `${forge}:${repo}#${key}`;
const runRowId = (pipelineId: string, runId: string): string => `${pipelineId}|${runId}`;
const jobRowId = (forge: CiForge, repo: string, jobId: string): string => `${forge}:${repo}#job:${jobId}`;

/** open < closed < merged at the same instant: a merge is final. */
const STATE_RANK: Readonly<Record<MergeRequestState, number>> = { open: 0, closed: 1, merged: 2 };

const mrFromRow = (r: Selectable<FollowedMrsTable>): FollowedMr => ({
  id: r.id,
  forge: r.forge as CiForge,
  repo: r.repo,
  number: n(r.number),
  url: r.url,
  sourceBranch: r.source_branch,
  headSha: r.head_sha,
  state: r.state as MergeRequestState,
  stateAt: toDate(r.state_at),
  actor: r.actor,
  stateNotified: r.state_notified as MergeRequestState | null,
  active: flag(r.active),
  pollIntervalMs: n(r.poll_interval_ms),
  pollFailures: n(r.poll_failures),
});

const followFromRow = (r: Selectable<PipelineFollowsTable>): PipelineFollow => ({
  id: r.id,
  mrId: r.mr_id,
  channel: r.channel,
  threadTs: r.thread_ts,
  changeId: r.change_id,
  followedBy: r.followed_by,
  active: flag(r.active),
  stoppedBy: r.stopped_by,
  endPosted: flag(r.end_posted),
  syncFailures: n(r.sync_failures),
  createdAt: toDate(r.created_at),
});

const pipelineFromRow = (r: Selectable<CiPipelinesTable>): CiPipeline => ({
  id: r.id,
  forge: r.forge as CiForge,
  repo: r.repo,
  key: r.pipeline_key,
  mrId: r.mr_id,
  sha: r.sha,
  ref: r.ref,
  url: r.url,
  status: r.status as CiStatus,
  ordinal: n(r.ordinal),
  version: n(r.version),
  completion: n(r.completion),
  terminalAt: optDate(r.terminal_at),
  updatedAt: toDate(r.updated_at),
});

const runFromRow = (r: Selectable<CiRunsTable>): CiRun => ({
  runId: r.run_id,
  name: r.name,
  status: r.status as CiStatus,
  url: r.url,
  generation: n(r.generation),
  startedAt: optDate(r.started_at),
  finishedAt: optDate(r.finished_at),
});

const jobFromRow = (r: Selectable<CiJobsTable>): CiJob => ({
  jobId: r.job_id,
  runId: r.run_id,
  name: r.name,
  stage: r.stage,
  status: r.status as CiStatus,
  url: r.url,
  startedAt: optDate(r.started_at),
  finishedAt: optDate(r.finished_at),
  failureReason: r.failure_reason,
  allowFailure: flag(r.allow_failure),
});

const messageFromRow = (r: Selectable<PipelineMessagesTable>): PipelineMessage => ({
  followId: r.follow_id,
  pipelineId: r.pipeline_id,
  messageTs: r.message_ts,
  syncedVersion: n(r.synced_version),
  superseded: flag(r.superseded),
  resultPosted: n(r.result_posted),
});

/** The latest attempt of each job (a retry is a new job with the same name and a higher id). */
export const latestJobs = (jobs: readonly CiJob[]): CiJob[] => {
  const byName = new Map<string, CiJob>();
  const idNum = (j: CiJob) => (/^\d+$/.test(j.jobId) ? Number(j.jobId) : 0);
  for (const j of jobs) {
    const key = `${j.runId}\u0000${j.stage ?? ''}\u0000${j.name}`;
    const prev = byName.get(key);
    if (!prev || idNum(j) > idNum(prev)) byName.set(key, j);
  }
  return [...byName.values()];
};

/** The status of a run known only from its jobs (no run-level event yet in its current attempt). */
const statusFromJobs = (jobs: readonly CiJob[]): CiStatus => {
  const statuses = jobs.filter((j) => !(j.allowFailure && j.status === 'failed')).map((j) => j.status);
  if (statuses.length === 0) return jobs.length ? 'success' : 'pending';
  if (statuses.every((s) => isTerminalCi(s) || s === 'manual')) return aggregateStatus(statuses);
  // Some jobs still to go: not done, whatever the finished ones say.
  return statuses.some((s) => s === 'running' || isTerminalCi(s)) ? 'running' : aggregateStatus(statuses);
};

/** A run row that exists only because of its jobs: run-level events carry a sequence >= 0. */
const JOB_DERIVED_SEQUENCE = -1;

const isSerializationFailure = (err: unknown): boolean => {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '40001' || code === '40P01';
};

export class KyselyPipelineRepository implements PipelineRepository {
  readonly #ctx: RepoContext;

  constructor(ctx: RepoContext) {
    this.#ctx = ctx;
  }

  #now(): number {
    return this.#ctx.now().getTime();
  }

  // -------------------------------------------------------------------------------------------------------
  // Follows

  async ensureFollow(input: FollowInput, timing: FollowTiming) {
    const now = this.#now();
    const mrId = mrIdOf(input.ref);
    return guard(this.#ctx, 'pipelines.ensureFollow', () =>
      this.#transaction(async (trx) => {
        await trx
          .insertInto('followed_mrs')
          .values({
            id: mrId,
            forge: input.ref.forge,
            repo: input.ref.repo,
            number: input.ref.number,
            url: input.url,
            source_branch: null,
            head_sha: null,
            state: 'open',
            state_at: 0,
            state_rank: 0,
            actor: null,
            state_notified: 'open',
            active: 1,
            poll_next_at: now, // one sync now, whatever the polling mode: the thread starts with the current state
            poll_interval_ms: timing.pollIntervalMs,
            poll_failures: 0,
            lease_owner: null,
            lease_until: 0,
            created_at: now,
            updated_at: now,
          })
          .onConflict((oc) =>
            oc.column('id').doUpdateSet((eb) => ({
              url: eb.fn.coalesce('followed_mrs.url', 'excluded.url'),
              updated_at: now,
            })),
          )
          .execute();
        const inserted = await trx
          .insertInto('pipeline_follows')
          .values({
            id: randomUUID(),
            mr_id: mrId,
            channel: input.channel,
            thread_ts: input.threadTs,
            change_id: input.changeId,
            followed_by: input.followedBy ?? null,
            active: 1,
            stopped_by: null,
            end_posted: 0,
            dirty_seq: 1,
            // Show what is already known (another thread may have followed this MR first).
            next_sync_at: now + timing.coalesceMs,
            last_synced_at: 0,
            sync_failures: 0,
            lease_owner: null,
            lease_until: 0,
            created_at: now,
            updated_at: now,
          })
          .onConflict((oc) => oc.columns(['mr_id', 'channel', 'thread_ts']).doNothing())
          .returning('id')
          .executeTakeFirst();
        if (inserted) await this.#refreshActive(trx, mrId, now, true);
        const follow = await trx
          .selectFrom('pipeline_follows')
          .selectAll()
          .where('mr_id', '=', mrId)
          .where('channel', '=', input.channel)
          .where('thread_ts', '=', input.threadTs)
          .executeTakeFirstOrThrow();
        const mr = await trx
          .selectFrom('followed_mrs')
          .selectAll()
          .where('id', '=', mrId)
          .executeTakeFirstOrThrow();
        return { follow: followFromRow(follow), mr: mrFromRow(mr), created: inserted !== undefined };
      }),
    );
  }

  /** followed_mrs.active = some thread follows it; a newly active MR is synced with the forge at once. */
  async #refreshActive(trx: Db, mrId: string, now: number, syncNow: boolean): Promise<void> {
    await trx
      .updateTable('followed_mrs')
      .set((eb) => ({
        active: eb
          .case()
          .when(
            eb.exists(
              eb
                .selectFrom('pipeline_follows')
                .select('pipeline_follows.id')
                .where('pipeline_follows.mr_id', '=', mrId)
                .where('pipeline_follows.active', '=', 1),
            ),
          )
          .then(1)
          .else(0)
          .end(),
        ...(syncNow ? { poll_next_at: now } : {}),
        updated_at: now,
      }))
      .where('id', '=', mrId)
      .execute();
  }

  async listFollows(ref: MrRef, channel?: string): Promise<PipelineFollow[]> {
    const rows = await guard(this.#ctx, 'pipelines.listFollows', () => {
      let q = this.#ctx.db
        .selectFrom('pipeline_follows')
        .selectAll()
        .where('mr_id', '=', mrIdOf(ref))
        .where('active', '=', 1);
      if (channel !== undefined) q = q.where('channel', '=', channel);
      return q.orderBy('created_at').execute();
    });
    return rows.map(followFromRow);
  }

  async stopFollows(ref: MrRef, channel: string, by: string): Promise<PipelineFollow[]> {
    const now = this.#now();
    const mrId = mrIdOf(ref);
    return guard(this.#ctx, 'pipelines.stopFollows', () =>
      this.#transaction(async (trx) => {
        const rows = await trx
          .updateTable('pipeline_follows')
          .set({ active: 0, stopped_by: by, next_sync_at: null, updated_at: now })
          .where('mr_id', '=', mrId)
          .where('channel', '=', channel)
          .where('active', '=', 1)
          .returningAll()
          .execute();
        if (rows.length) await this.#refreshActive(trx, mrId, now, false);
        return rows.map(followFromRow);
      }),
    );
  }

  async getMergeRequest(ref: MrRef): Promise<FollowedMr | null> {
    const row = await guard(this.#ctx, 'pipelines.getMergeRequest', () =>
      this.#ctx.db.selectFrom('followed_mrs').selectAll().where('id', '=', mrIdOf(ref)).executeTakeFirst(),
    );
    return row ? mrFromRow(row) : null;
  }

  async getPipeline(id: string): Promise<PipelineSnapshot | null> {
    return guard(this.#ctx, 'pipelines.getPipeline', async () => {
      const row = await this.#ctx.db
        .selectFrom('ci_pipelines')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirst();
      if (!row) return null;
      const [snap] = await this.#snapshots(this.#ctx.db, [pipelineFromRow(row)], null);
      return snap ?? null;
    });
  }

  // -------------------------------------------------------------------------------------------------------
  // Events

  async matchEvent(event: StoreForgeEvent): Promise<string | null> {
    const mr = await guard(this.#ctx, 'pipelines.matchEvent', () => this.#resolveMr(this.#ctx.db, event));
    return mr?.id ?? null;
  }

  /** The active followed MR an event is about: named by number, else by its pipeline, commit or branch. */
  async #resolveMr(db: Db, event: StoreForgeEvent): Promise<Selectable<FollowedMrsTable> | null> {
    const base = db
      .selectFrom('followed_mrs')
      .selectAll()
      .where('forge', '=', event.forge)
      .where('repo', '=', event.repo)
      .where('active', '=', 1);
    if (event.kind === 'merge_request') {
      return (await base.where('number', '=', event.number).executeTakeFirst()) ?? null;
    }
    const known = await db
      .selectFrom('ci_pipelines')
      .select('mr_id')
      .where('id', '=', pipelineIdOf(event.forge, event.repo, event.pipelineKey))
      .executeTakeFirst();
    if (known?.mr_id) {
      return (await base.where('id', '=', known.mr_id).executeTakeFirst()) ?? null;
    }
    // The forge named the MR: that one only (another MR of the same branch is not this pipeline's).
    if (event.mrNumber !== null) {
      return (await base.where('number', '=', event.mrNumber).executeTakeFirst()) ?? null;
    }
    const candidates = await base
      .where((eb) => {
        const ors = [eb('head_sha', '=', event.sha)];
        if (event.sourceBranch) ors.push(eb('source_branch', '=', event.sourceBranch));
        return eb.or(ors);
      })
      .execute();
    return (
      candidates.find((c) => c.head_sha === event.sha) ??
      candidates.find((c) => event.sourceBranch !== null && c.source_branch === event.sourceBranch) ??
      null
    );
  }

  async applyEvent(event: StoreForgeEvent, timing: FollowTiming): Promise<ApplyResult> {
    return guard(this.#ctx, 'pipelines.applyEvent', () =>
      this.#transaction(async (trx) => {
        const mr = await this.#resolveMr(trx, event);
        if (!mr) return { kind: 'ignored', reason: 'not a followed merge request' } as const;
        const now = this.#now();
        const changed =
          event.kind === 'merge_request'
            ? await this.#applyMergeRequest(trx, mr, event, now)
            : await this.#applyCi(trx, mr.id, event, now);
        if (changed) await this.#markDirty(trx, mr.id, now, timing);
        return { kind: 'applied', mrId: mr.id, changed } as const;
      }),
    );
  }

  async #applyMergeRequest(
    trx: Db,
    mr: Selectable<FollowedMrsTable>,
    e: MergeRequestChange,
    now: number,
  ): Promise<boolean> {
    const at = e.at.getTime();
    const rank = STATE_RANK[e.state];
    const storedAt = n(mr.state_at);
    const newer = at > storedAt || (at === storedAt && rank > n(mr.state_rank));
    const fills =
      (e.headSha !== null && mr.head_sha === null) ||
      (e.sourceBranch !== null && mr.source_branch === null) ||
      (e.url !== null && mr.url === null);
    if (!newer && !fills) return false;
    const stateChanged = newer && e.state !== mr.state;
    await trx
      .updateTable('followed_mrs')
      .set({
        ...(newer
          ? {
              state: e.state,
              state_at: at,
              state_rank: rank,
              actor: e.state === 'open' ? null : e.actor,
              ...(e.headSha ? { head_sha: e.headSha } : {}),
              ...(e.sourceBranch ? { source_branch: e.sourceBranch } : {}),
            }
          : {
              ...(mr.head_sha === null && e.headSha ? { head_sha: e.headSha } : {}),
              ...(mr.source_branch === null && e.sourceBranch ? { source_branch: e.sourceBranch } : {}),
            }),
        ...(e.url && mr.url === null ? { url: e.url } : {}),
        // A state change is handed to the lifecycle by the MR worker, now.
        ...(stateChanged ? { poll_next_at: now } : {}),
        updated_at: now,
      })
      .where('id', '=', mr.id)
      .execute();
    return stateChanged;
  }

  async #applyCi(trx: Db, mrId: string, e: PipelineEvent | JobEvent, now: number): Promise<boolean> {
    const pipelineId = pipelineIdOf(e.forge, e.repo, e.pipelineKey);
    // The upsert takes the pipeline row's lock first, so concurrent events of one pipeline apply one after
    // the other (on PostgreSQL) and the aggregate below sees every run.
    await trx
      .insertInto('ci_pipelines')
      .values({
        id: pipelineId,
        forge: e.forge,
        repo: e.repo,
        pipeline_key: e.pipelineKey,
        mr_id: mrId,
        sha: e.sha,
        ref: e.sourceBranch,
        url: e.pipelineUrl,
        status: 'created',
        ordinal: e.ordinal,
        version: 0,
        completion: 0,
        terminal_at: null,
        created_at: now,
        updated_at: now,
      })
      .onConflict((oc) =>
        oc.column('id').doUpdateSet((eb) => ({
          ordinal: eb
            .case()
            .when('ci_pipelines.ordinal', '=', 0)
            .then(eb.ref('excluded.ordinal'))
            .when(
              eb.and([
                eb('excluded.ordinal', '>', 0),
                eb('excluded.ordinal', '<', eb.ref('ci_pipelines.ordinal')),
              ]),
            )
            .then(eb.ref('excluded.ordinal'))
            .else(eb.ref('ci_pipelines.ordinal'))
            .end(),
          url: eb.fn.coalesce('ci_pipelines.url', 'excluded.url'),
          ref: eb.fn.coalesce('ci_pipelines.ref', 'excluded.ref'),
          mr_id: eb.fn.coalesce('ci_pipelines.mr_id', 'excluded.mr_id'),
        })),
      )
      .execute();

    let changed = false;
    let touchedRun: string;
    if (e.kind === 'pipeline') {
      touchedRun = e.run.id;
      changed = await this.#upsertRun(trx, pipelineId, e.run);
      if (await this.#upsertJobs(trx, e, pipelineId, e.run.id, e.jobs)) changed = true;
    } else {
      touchedRun = e.runId;
      changed = await this.#upsertRunShell(trx, pipelineId, e);
      if (await this.#upsertJobs(trx, e, pipelineId, e.runId, [e.job])) changed = true;
    }
    if (!changed) return false;

    // Runs known only from their jobs take their status from them.
    const runRow = await trx
      .selectFrom('ci_runs')
      .selectAll()
      .where('id', '=', runRowId(pipelineId, touchedRun))
      .executeTakeFirst();
    if (runRow && n(runRow.sequence) === JOB_DERIVED_SEQUENCE) {
      const jobs = await trx
        .selectFrom('ci_jobs')
        .selectAll()
        .where('pipeline_id', '=', pipelineId)
        .where('run_id', '=', touchedRun)
        .execute();
      const status = statusFromJobs(latestJobs(jobs.map(jobFromRow)));
      if (status !== runRow.status) {
        await trx
          .updateTable('ci_runs')
          .set({ status, rank: ciRank(status) })
          .where('id', '=', runRow.id)
          .execute();
      }
    }

    const runs = await trx
      .selectFrom('ci_runs')
      .select('status')
      .where('pipeline_id', '=', pipelineId)
      .execute();
    const status = aggregateStatus(runs.map((r) => r.status as CiStatus));
    const current = await trx
      .selectFrom('ci_pipelines')
      .selectAll()
      .where('id', '=', pipelineId)
      .executeTakeFirstOrThrow();
    const wasTerminal = n(current.version) > 0 && isTerminalCi(current.status as CiStatus);
    const terminal = isTerminalCi(status);
    await trx
      .updateTable('ci_pipelines')
      .set({
        status,
        version: n(current.version) + 1,
        completion: n(current.completion) + (terminal && !wasTerminal ? 1 : 0),
        terminal_at: terminal
          ? wasTerminal && current.terminal_at !== null
            ? n(current.terminal_at)
            : now
          : null,
        updated_at: now,
      })
      .where('id', '=', pipelineId)
      .execute();
    return true;
  }

  /** A run-level event: applied only when ahead of what is stored, in (generation, sequence, rank) order. */
  async #upsertRun(trx: Db, pipelineId: string, run: CiRunState): Promise<boolean> {
    const row = await trx
      .insertInto('ci_runs')
      .values({
        id: runRowId(pipelineId, run.id),
        pipeline_id: pipelineId,
        run_id: run.id,
        name: run.name,
        status: run.status,
        url: run.url,
        generation: run.generation,
        sequence: Math.max(0, run.sequence),
        rank: ciRank(run.status),
        started_at: ms(run.startedAt),
        finished_at: ms(run.finishedAt),
      })
      .onConflict((oc) =>
        oc
          .column('id')
          .doUpdateSet((eb) => ({
            name: eb.fn.coalesce('excluded.name', 'ci_runs.name'),
            status: eb.ref('excluded.status'),
            url: eb.fn.coalesce('excluded.url', 'ci_runs.url'),
            generation: eb.ref('excluded.generation'),
            sequence: eb.ref('excluded.sequence'),
            rank: eb.ref('excluded.rank'),
            started_at: eb.fn.coalesce('excluded.started_at', 'ci_runs.started_at'),
            finished_at: eb.ref('excluded.finished_at'),
          }))
          .where((eb) =>
            eb.or([
              eb('ci_runs.generation', '<', eb.ref('excluded.generation')),
              eb.and([
                eb('ci_runs.generation', '=', eb.ref('excluded.generation')),
                eb('ci_runs.sequence', '<', eb.ref('excluded.sequence')),
              ]),
              eb.and([
                eb('ci_runs.generation', '=', eb.ref('excluded.generation')),
                eb('ci_runs.sequence', '=', eb.ref('excluded.sequence')),
                eb('ci_runs.rank', '<', eb.ref('excluded.rank')),
              ]),
            ]),
          ),
      )
      .returning('id')
      .executeTakeFirst();
    return row !== undefined;
  }

  /**
   * The run a job event belongs to. Created from the job when unknown; a job of a later attempt (a retried
   * job has a higher id on GitLab, a re-run a higher run_attempt on GitHub) means the run is running again.
   */
  async #upsertRunShell(trx: Db, pipelineId: string, e: JobEvent): Promise<boolean> {
    const status: CiStatus = e.job.status === 'running' || isTerminalCi(e.job.status) ? 'running' : 'pending';
    const row = await trx
      .insertInto('ci_runs')
      .values({
        id: runRowId(pipelineId, e.runId),
        pipeline_id: pipelineId,
        run_id: e.runId,
        name: e.runName,
        status,
        url: e.runUrl,
        generation: e.runGeneration,
        sequence: JOB_DERIVED_SEQUENCE,
        rank: ciRank(status),
        started_at: ms(e.job.startedAt),
        finished_at: null,
      })
      .onConflict((oc) =>
        oc
          .column('id')
          .doUpdateSet((eb) => {
            const bump = eb('excluded.generation', '>', eb.ref('ci_runs.generation'));
            return {
              name: eb.fn.coalesce('ci_runs.name', 'excluded.name'),
              url: eb.fn.coalesce('ci_runs.url', 'excluded.url'),
              status: eb
                .case()
                .when(bump)
                .then(eb.ref('excluded.status'))
                .else(eb.ref('ci_runs.status'))
                .end(),
              rank: eb.case().when(bump).then(eb.ref('excluded.rank')).else(eb.ref('ci_runs.rank')).end(),
              sequence: eb
                .case()
                .when(bump)
                .then(eb.ref('excluded.sequence'))
                .else(eb.ref('ci_runs.sequence'))
                .end(),
              finished_at: eb
                .case()
                .when(bump)
                .then(sql<null>`null`)
                .else(eb.ref('ci_runs.finished_at'))
                .end(),
              generation: eb
                .case()
                .when(bump)
                .then(eb.ref('excluded.generation'))
                .else(eb.ref('ci_runs.generation'))
                .end(),
            };
          })
          .where((eb) =>
            eb.or([
              eb('excluded.generation', '>', eb.ref('ci_runs.generation')),
              eb.and([eb('ci_runs.name', 'is', null), eb('excluded.name', 'is not', null)]),
              eb.and([eb('ci_runs.url', 'is', null), eb('excluded.url', 'is not', null)]),
            ]),
          ),
      )
      .returning('id')
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Jobs only move forward (created -> manual -> pending -> running -> done); one statement for all. */
  async #upsertJobs(
    trx: Db,
    e: PipelineEvent | JobEvent,
    pipelineId: string,
    runId: string,
    jobs: readonly CiJobState[],
  ): Promise<boolean> {
    if (jobs.length === 0) return false;
    const rows = await trx
      .insertInto('ci_jobs')
      .values(
        jobs.map((job) => ({
          id: jobRowId(e.forge, e.repo, job.id),
          pipeline_id: pipelineId,
          run_id: runId,
          job_id: job.id,
          name: job.name,
          stage: job.stage,
          status: job.status,
          rank: ciRank(job.status),
          url: job.url,
          started_at: ms(job.startedAt),
          finished_at: ms(job.finishedAt),
          failure_reason: job.failureReason,
          allow_failure: job.allowFailure ? 1 : 0,
        })),
      )
      .onConflict((oc) =>
        oc
          .column('id')
          .doUpdateSet((eb) => ({
            status: eb.ref('excluded.status'),
            rank: eb.ref('excluded.rank'),
            url: eb.fn.coalesce('excluded.url', 'ci_jobs.url'),
            started_at: eb.fn.coalesce('excluded.started_at', 'ci_jobs.started_at'),
            finished_at: eb.fn.coalesce('excluded.finished_at', 'ci_jobs.finished_at'),
            failure_reason: eb.ref('excluded.failure_reason'),
            allow_failure: eb.ref('excluded.allow_failure'),
          }))
          .where('ci_jobs.rank', '<', (eb) => eb.ref('excluded.rank')),
      )
      .returning('id')
      .execute();
    return rows.length > 0;
  }

  /** Every active thread of the MR will show the change: soon (a burst is one update), but not too often. */
  async #markDirty(trx: Db, mrId: string, now: number, timing: FollowTiming): Promise<void> {
    const soon = now + timing.coalesceMs;
    await trx
      .updateTable('pipeline_follows')
      .set((eb) => ({
        dirty_seq: eb('dirty_seq', '+', 1),
        next_sync_at: eb
          .case()
          .when('next_sync_at', 'is', null)
          .then(
            eb
              .case()
              .when(eb('last_synced_at', '+', timing.minUpdateIntervalMs), '>', soon)
              .then(eb('last_synced_at', '+', timing.minUpdateIntervalMs))
              .else(soon)
              .end(),
          )
          .else(eb.ref('next_sync_at'))
          .end()
          .$castTo<number | null>(),
        updated_at: now,
      }))
      .where('mr_id', '=', mrId)
      .where('active', '=', 1)
      .execute();
  }

  // -------------------------------------------------------------------------------------------------------
  // Reconciling threads

  async claimDueFollows(owner: string, leaseMs: number, limit: number): Promise<string[]> {
    const now = this.#now();
    const rows = await guard(this.#ctx, 'pipelines.claimDueFollows', () =>
      this.#ctx.db
        .updateTable('pipeline_follows')
        .set({ lease_owner: owner, lease_until: now + leaseMs })
        .where('id', 'in', (eb) =>
          eb
            .selectFrom('pipeline_follows')
            .select('id')
            .where('next_sync_at', 'is not', null)
            .where('next_sync_at', '<=', now)
            .where('lease_until', '<=', now)
            .orderBy('next_sync_at')
            .limit(limit),
        )
        .where('next_sync_at', 'is not', null)
        .where('next_sync_at', '<=', now)
        .where('lease_until', '<=', now)
        .returning('id')
        .execute(),
    );
    return rows.map((r) => r.id);
  }

  async loadFollowView(followId: string): Promise<FollowView | null> {
    return guard(this.#ctx, 'pipelines.loadFollowView', async () => {
      const db = this.#ctx.db;
      const follow = await db
        .selectFrom('pipeline_follows')
        .selectAll()
        .where('id', '=', followId)
        .executeTakeFirst();
      if (!follow) return null;
      const mr = await db
        .selectFrom('followed_mrs')
        .selectAll()
        .where('id', '=', follow.mr_id)
        .executeTakeFirstOrThrow();
      const latest = await db
        .selectFrom('ci_pipelines')
        .selectAll()
        .where('mr_id', '=', follow.mr_id)
        .orderBy('ordinal', 'desc')
        .orderBy('id', 'desc')
        .limit(1)
        .executeTakeFirst();
      const shown = await db
        .selectFrom('ci_pipelines')
        .innerJoin('pipeline_messages', 'pipeline_messages.pipeline_id', 'ci_pipelines.id')
        .selectAll('ci_pipelines')
        .where('pipeline_messages.follow_id', '=', followId)
        .where('pipeline_messages.superseded', '=', 0)
        .execute();
      const pipelines = [...(latest ? [latest] : []), ...shown.filter((p) => p.id !== latest?.id)]
        .map(pipelineFromRow)
        .sort((a, b) => b.ordinal - a.ordinal || (a.id < b.id ? 1 : -1));
      if (latest) {
        // The newest pipeline is shown first whatever its ordinal says relative to a tie.
        const i = pipelines.findIndex((p) => p.id === latest.id);
        if (i > 0) pipelines.unshift(...pipelines.splice(i, 1));
      }
      return {
        follow: followFromRow(follow),
        mr: mrFromRow(mr),
        pipelines: await this.#snapshots(db, pipelines, followId),
        dirtySeq: n(follow.dirty_seq),
      };
    });
  }

  async #snapshots(
    db: Db,
    pipelines: readonly CiPipeline[],
    followId: string | null,
  ): Promise<PipelineSnapshot[]> {
    if (pipelines.length === 0) return [];
    const ids = pipelines.map((p) => p.id);
    const [runs, jobs, messages] = await Promise.all([
      db.selectFrom('ci_runs').selectAll().where('pipeline_id', 'in', ids).execute(),
      db.selectFrom('ci_jobs').selectAll().where('pipeline_id', 'in', ids).execute(),
      followId
        ? db
            .selectFrom('pipeline_messages')
            .selectAll()
            .where('follow_id', '=', followId)
            .where('pipeline_id', 'in', ids)
            .execute()
        : Promise.resolve([]),
    ]);
    return pipelines.map((pipeline) => ({
      pipeline,
      runs: runs.filter((r) => r.pipeline_id === pipeline.id).map(runFromRow),
      jobs: jobs.filter((j) => j.pipeline_id === pipeline.id).map(jobFromRow),
      message: (() => {
        const m = messages.find((x) => x.pipeline_id === pipeline.id);
        return m ? messageFromRow(m) : null;
      })(),
    }));
  }

  async recordMessage(
    followId: string,
    pipelineId: string,
    patch: Partial<Omit<PipelineMessage, 'followId' | 'pipelineId'>>,
  ): Promise<void> {
    const now = this.#now();
    await guard(this.#ctx, 'pipelines.recordMessage', async () => {
      const set = {
        ...(patch.messageTs !== undefined ? { message_ts: patch.messageTs } : {}),
        ...(patch.syncedVersion !== undefined ? { synced_version: patch.syncedVersion } : {}),
        ...(patch.superseded !== undefined ? { superseded: patch.superseded ? 1 : 0 } : {}),
        ...(patch.resultPosted !== undefined ? { result_posted: patch.resultPosted } : {}),
      };
      if (patch.messageTs !== undefined) {
        await this.#ctx.db
          .insertInto('pipeline_messages')
          .values({
            follow_id: followId,
            pipeline_id: pipelineId,
            message_ts: patch.messageTs,
            synced_version: patch.syncedVersion ?? 0,
            superseded: patch.superseded ? 1 : 0,
            result_posted: patch.resultPosted ?? 0,
            created_at: now,
          })
          .onConflict((oc) => oc.columns(['follow_id', 'pipeline_id']).doUpdateSet(set))
          .execute();
        return;
      }
      await this.#ctx.db
        .updateTable('pipeline_messages')
        .set(set)
        .where('follow_id', '=', followId)
        .where('pipeline_id', '=', pipelineId)
        .execute();
    });
  }

  async endFollow(followId: string, reason: 'ended' | 'gone'): Promise<void> {
    const now = this.#now();
    await guard(this.#ctx, 'pipelines.endFollow', () =>
      this.#transaction(async (trx) => {
        const row = await trx
          .updateTable('pipeline_follows')
          .set({ active: 0, end_posted: reason === 'ended' ? 1 : 0, updated_at: now })
          .where('id', '=', followId)
          .returning('mr_id')
          .executeTakeFirst();
        if (row) await this.#refreshActive(trx, row.mr_id, now, false);
      }),
    );
  }

  async finishFollowSync(
    followId: string,
    owner: string,
    seenDirtySeq: number,
    outcome: { readonly nextAt: number | null; readonly posted: boolean; readonly dirtyNextAt: number },
  ): Promise<void> {
    const now = this.#now();
    await guard(this.#ctx, 'pipelines.finishFollowSync', () =>
      this.#ctx.db
        .updateTable('pipeline_follows')
        .set((eb) => ({
          lease_owner: null,
          lease_until: 0,
          sync_failures: 0,
          ...(outcome.posted ? { last_synced_at: now } : {}),
          // Events that came in while we worked need another pass.
          next_sync_at: eb
            .case()
            .when('dirty_seq', '=', seenDirtySeq)
            .then(outcome.nextAt)
            .else(
              outcome.nextAt === null ? outcome.dirtyNextAt : Math.min(outcome.nextAt, outcome.dirtyNextAt),
            )
            .end(),
          updated_at: now,
        }))
        .where('id', '=', followId)
        .where('lease_owner', '=', owner)
        .execute(),
    );
  }

  async deferFollow(followId: string, owner: string, at: number, failed: boolean): Promise<void> {
    const now = this.#now();
    await guard(this.#ctx, 'pipelines.deferFollow', () =>
      this.#ctx.db
        .updateTable('pipeline_follows')
        .set((eb) => ({
          lease_owner: null,
          lease_until: 0,
          next_sync_at: at,
          ...(failed ? { sync_failures: eb('sync_failures', '+', 1) } : {}),
          updated_at: now,
        }))
        .where('id', '=', followId)
        .where('lease_owner', '=', owner)
        .execute(),
    );
  }

  // -------------------------------------------------------------------------------------------------------
  // MR worker: polling and the lifecycle hook

  async claimDueMergeRequests(owner: string, leaseMs: number, limit: number): Promise<FollowedMr[]> {
    const now = this.#now();
    const rows = await guard(this.#ctx, 'pipelines.claimDueMergeRequests', () =>
      this.#ctx.db
        .updateTable('followed_mrs')
        .set({ lease_owner: owner, lease_until: now + leaseMs })
        .where('id', 'in', (eb) =>
          eb
            .selectFrom('followed_mrs')
            .select('id')
            .where('poll_next_at', 'is not', null)
            .where('poll_next_at', '<=', now)
            .where('lease_until', '<=', now)
            .orderBy('poll_next_at')
            .limit(limit),
        )
        .where('poll_next_at', 'is not', null)
        .where('poll_next_at', '<=', now)
        .where('lease_until', '<=', now)
        .returningAll()
        .execute(),
    );
    return rows.map(mrFromRow);
  }

  async syncOpenMergeRequests(owner: string): Promise<number> {
    const now = this.#now();
    const res = await guard(this.#ctx, 'pipelines.syncOpenMergeRequests', () =>
      this.#ctx.db
        .updateTable('followed_mrs')
        .set({
          poll_next_at: now,
          // This process's passes that the outage cut off hold their leases (a minute): let go of them.
          lease_until: sql<number>`case when lease_owner = ${owner} then 0 else lease_until end`,
          lease_owner: sql<string | null>`case when lease_owner = ${owner} then null else lease_owner end`,
        })
        .where('active', '=', 1)
        .where('state', '=', 'open')
        .executeTakeFirst(),
    );
    return Number(res.numUpdatedRows);
  }

  async finishMergeRequest(mrId: string, owner: string, patch: MergeRequestPatch): Promise<void> {
    const now = this.#now();
    await guard(this.#ctx, 'pipelines.finishMergeRequest', () =>
      this.#ctx.db
        .updateTable('followed_mrs')
        .set((eb) => ({
          lease_owner: null,
          lease_until: 0,
          // The state changed while we worked (a webhook): another pass now, to hand it to the lifecycle.
          poll_next_at: eb.case().when('state', '<>', patch.stateSeen).then(now).else(patch.pollNextAt).end(),
          ...(patch.pollIntervalMs !== undefined ? { poll_interval_ms: patch.pollIntervalMs } : {}),
          ...(patch.pollFailures !== undefined ? { poll_failures: patch.pollFailures } : {}),
          ...(patch.stateNotified !== undefined ? { state_notified: patch.stateNotified } : {}),
        }))
        .where('id', '=', mrId)
        .where('lease_owner', '=', owner)
        .execute(),
    );
  }

  // -------------------------------------------------------------------------------------------------------

  /**
   * One transaction, retried when PostgreSQL picks it as a deadlock or serialization victim. SQLite: BEGIN
   * IMMEDIATE on the process's one connection (the write lock up front, as the store's own transactions
   * take it), so a transaction that reads first never fails to upgrade to a write.
   */
  async #transaction<T>(fn: (trx: Db) => Promise<T>): Promise<T> {
    const db = this.#ctx.db;
    if (this.#ctx.errors.engine === 'sqlite') {
      return db.connection().execute(async (conn) => {
        await sql`begin immediate`.execute(conn);
        let result: T;
        try {
          result = await fn(conn);
        } catch (err) {
          await sql`rollback`.execute(conn).catch(() => undefined);
          throw err;
        }
        await sql`commit`.execute(conn);
        return result;
      });
    }
    for (let attempt = 0; ; attempt++) {
      try {
        return await db.transaction().execute(fn);
      } catch (err) {
        if (attempt < 4 && isSerializationFailure(err)) continue;
        throw err;
      }
    }
  }
}
