import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CiJobState, CiStatus, JobEvent, PipelineEvent } from '../../src/core/ci.js';
import type { FollowTiming, MergeRequestChange, StoreForgeEvent } from '../../src/store/pipeline-types.js';
import type { Store } from '../../src/store/types.js';
import { engines, manualClock, type StoreTarget } from './harness.js';

const TIMING: FollowTiming = { coalesceMs: 1000, minUpdateIntervalMs: 3000, pollIntervalMs: 15_000 };
const REPO = 'infra/ansible';
const MR = { forge: 'gitlab' as const, repo: REPO, number: 7 };
const SHA = 'a'.repeat(40);

const job = (id: number, name: string, status: CiStatus, stage = 'test'): CiJobState => ({
  id: String(id),
  name,
  stage,
  status,
  url: `https://gitlab.example.com/${REPO}/-/jobs/${id}`,
  startedAt: null,
  finishedAt: null,
  failureReason: status === 'failed' ? 'script_failure' : null,
  allowFailure: false,
});

const rank = (s: CiStatus) => ({ created: 0, manual: 1, pending: 2, running: 3 })[s as 'created'] ?? 4;

/** A GitLab Pipeline Hook as the parser makes it: attempt = highest job id, progress = sum of job ranks. */
const pipelineHook = (
  id: number,
  status: CiStatus,
  jobs: CiJobState[],
  over: Partial<PipelineEvent> = {},
): PipelineEvent => ({
  kind: 'pipeline',
  forge: 'gitlab',
  repo: REPO,
  mrNumber: 7,
  sourceBranch: 'opsbot/x',
  sha: SHA,
  pipelineKey: String(id),
  pipelineUrl: `https://gitlab.example.com/${REPO}/-/pipelines/${id}`,
  ordinal: id,
  at: new Date(),
  run: {
    id: `pipeline:${id}`,
    name: null,
    status,
    url: null,
    generation: Math.max(0, ...jobs.map((j) => Number(j.id))),
    sequence: jobs.reduce((s, j) => s + rank(j.status), 0),
    startedAt: null,
    finishedAt: null,
  },
  jobs,
  ...over,
});

const jobHook = (pipeline: number, j: CiJobState, over: Partial<JobEvent> = {}): JobEvent => ({
  kind: 'job',
  forge: 'gitlab',
  repo: REPO,
  mrNumber: null,
  sourceBranch: 'opsbot/x',
  sha: SHA,
  pipelineKey: String(pipeline),
  pipelineUrl: null,
  ordinal: pipeline,
  at: new Date(),
  runId: `pipeline:${pipeline}`,
  runName: null,
  runUrl: null,
  runGeneration: Number(j.id),
  job: j,
  ...over,
});

const mrEvent = (state: MergeRequestChange['state'], at: string, over: Partial<MergeRequestChange> = {}) =>
  ({
    kind: 'merge_request',
    ...MR,
    state,
    url: null,
    sourceBranch: 'opsbot/x',
    headSha: SHA,
    actor: state === 'open' ? null : 'bob',
    at: new Date(at),
    ...over,
  }) satisfies MergeRequestChange;

describe.each(engines())('pipeline store on $engine', ({ migrated, release }) => {
  let target: StoreTarget;
  let store: Store;
  const clock = manualClock('2026-05-04T10:00:00Z');

  beforeEach(async () => {
    clock.set('2026-05-04T10:00:00Z');
    target = await migrated();
    store = await target.open({ now: clock.now });
  });
  afterEach(async () => {
    await target.dispose();
  });
  afterAll(async () => {
    await release();
  });

  const follow = () =>
    store.pipelines.ensureFollow(
      { ref: MR, url: null, channel: 'C0OPS', threadTs: '1.000100', changeId: 'ch-1', followedBy: 'U1' },
      TIMING,
    );
  const apply = (e: StoreForgeEvent) => store.pipelines.applyEvent(e, TIMING);
  const pipeline = async (id: number) => store.pipelines.getPipeline(`gitlab:${REPO}#${id}`);

  it('follows an MR once per thread, and ignores events of MRs nobody follows', async () => {
    expect(await apply(pipelineHook(1, 'running', [job(10, 'lint', 'running')]))).toMatchObject({
      kind: 'ignored',
    });
    const a = await follow();
    const b = await follow();
    expect(a.created).toBe(true);
    expect(b.created).toBe(false);
    expect(b.follow.id).toBe(a.follow.id);
    expect(a.mr).toMatchObject({ state: 'open', active: true, stateNotified: 'open' });
    const other = await store.pipelines.ensureFollow(
      { ref: MR, url: null, channel: 'C0OTHER', threadTs: '2.000200', changeId: null },
      TIMING,
    );
    expect(other.created).toBe(true);
    expect((await store.pipelines.listFollows(MR)).map((f) => f.channel)).toEqual(['C0OPS', 'C0OTHER']);
    expect(await store.pipelines.matchEvent(pipelineHook(1, 'running', []))).toBe(`gitlab:${REPO}!7`);
  });

  it('never moves a job or a pipeline backwards, whatever order and however often deliveries arrive', async () => {
    await follow();
    const events: StoreForgeEvent[] = [
      pipelineHook(5, 'pending', [job(50, 'build', 'pending', 'build'), job(51, 'test', 'created')]),
      jobHook(5, job(50, 'build', 'running', 'build')),
      pipelineHook(5, 'running', [job(50, 'build', 'running', 'build'), job(51, 'test', 'created')]),
      jobHook(5, job(50, 'build', 'success', 'build')),
      jobHook(5, job(51, 'test', 'pending')),
      jobHook(5, job(51, 'test', 'running')),
      jobHook(5, job(51, 'test', 'success')),
      pipelineHook(5, 'success', [job(50, 'build', 'success', 'build'), job(51, 'test', 'success')]),
    ];
    for (const e of [...events].reverse()) await apply(e);
    for (const e of events) await apply(e); // duplicates
    const p = await pipeline(5);
    expect(p?.pipeline.status).toBe('success');
    expect(p?.pipeline.completion).toBe(1);
    expect(p?.jobs.map((j) => [j.name, j.status]).sort()).toEqual([
      ['build', 'success'],
      ['test', 'success'],
    ]);
    const version = p?.pipeline.version;
    expect(await apply(events[2] as StoreForgeEvent)).toMatchObject({ kind: 'applied', changed: false });
    expect((await pipeline(5))?.pipeline.version).toBe(version);
  });

  it('a retry (new job ids) runs the pipeline again: running, then a second completion', async () => {
    await follow();
    await apply(pipelineHook(6, 'failed', [job(60, 'lint', 'success'), job(61, 'test', 'failed')]));
    expect((await pipeline(6))?.pipeline).toMatchObject({ status: 'failed', completion: 1 });
    // The retried job has a new, higher id: the pipeline runs again even before GitLab says so.
    await apply(jobHook(6, job(62, 'test', 'pending')));
    expect((await pipeline(6))?.pipeline.status).toBe('running');
    // The stale "failed" hook of the first attempt, delivered late, changes nothing.
    await apply(pipelineHook(6, 'failed', [job(60, 'lint', 'success'), job(61, 'test', 'failed')]));
    expect((await pipeline(6))?.pipeline.status).toBe('running');
    await apply(pipelineHook(6, 'success', [job(60, 'lint', 'success'), job(62, 'test', 'success')]));
    const p = await pipeline(6);
    expect(p?.pipeline).toMatchObject({ status: 'success', completion: 2 });
  });

  it('finds the MR of a branch pipeline (no merge_request in the hook) by its branch and commit', async () => {
    await follow();
    await apply(
      mrEvent('open', '2026-05-04T09:00:00Z', { sourceBranch: 'feature/x', headSha: 'b'.repeat(40) }),
    );
    const e = pipelineHook(8, 'running', [job(80, 'lint', 'running')], {
      mrNumber: null,
      sourceBranch: 'feature/x',
      sha: 'b'.repeat(40),
    });
    expect(await apply(e)).toMatchObject({ kind: 'applied', changed: true });
    expect((await pipeline(8))?.pipeline.mrId).toBe(`gitlab:${REPO}!7`);
    // A job hook of that pipeline is found through the pipeline, whatever its branch says.
    expect(await apply(jobHook(8, job(80, 'lint', 'success'), { sourceBranch: 'other' }))).toMatchObject({
      kind: 'applied',
    });
  });

  it('GitHub: the runs of one commit make one pipeline, done only when every run is', async () => {
    const ref = { forge: 'github' as const, repo: 'acme/infra', number: 3 };
    await store.pipelines.ensureFollow(
      { ref, url: null, channel: 'C1', threadTs: '3.1', changeId: null },
      TIMING,
    );
    const run = (id: number, name: string, status: CiStatus, seq: number): PipelineEvent => ({
      ...pipelineHook(0, status, []),
      forge: 'github',
      repo: 'acme/infra',
      mrNumber: 3,
      pipelineKey: 'c'.repeat(40),
      sha: 'c'.repeat(40),
      ordinal: 1_000 + id,
      run: {
        id: `run:${id}`,
        name,
        status,
        url: null,
        generation: 1,
        sequence: seq,
        startedAt: null,
        finishedAt: null,
      },
    });
    await apply(run(1, 'test', 'running', 10));
    await apply(run(2, 'lint', 'success', 11));
    const id = `github:acme/infra#${'c'.repeat(40)}`;
    expect((await store.pipelines.getPipeline(id))?.pipeline.status).toBe('running');
    await apply(run(1, 'test', 'failed', 20));
    expect((await store.pipelines.getPipeline(id))?.pipeline).toMatchObject({
      status: 'failed',
      ordinal: 1_001,
    });
    // A re-run (attempt 2) of the failed workflow starts over, even with an older update time.
    await apply({
      ...run(1, 'test', 'pending', 5),
      run: { ...run(1, 'test', 'pending', 5).run, generation: 2 },
    });
    expect((await store.pipelines.getPipeline(id))?.pipeline.status).toBe('pending');
  });

  it('MR state moves by time: a late "open" never undoes a merge; the merge asks the worker to run now', async () => {
    await follow();
    await apply(mrEvent('merged', '2026-05-04T10:05:00Z'));
    await apply(mrEvent('open', '2026-05-04T10:04:00Z'));
    const mr = await store.pipelines.getMergeRequest(MR);
    expect(mr).toMatchObject({ state: 'merged', actor: 'bob', stateNotified: 'open' });
    const due = await store.pipelines.claimDueMergeRequests('w1', 30_000, 10);
    expect(due.map((m) => m.id)).toEqual([`gitlab:${REPO}!7`]);
    await store.pipelines.finishMergeRequest(due[0]?.id as string, 'w1', {
      stateSeen: 'merged',
      pollNextAt: null,
      stateNotified: 'merged',
    });
    expect(await store.pipelines.claimDueMergeRequests('w1', 30_000, 10)).toEqual([]);
  });

  it('coalesces a burst: a follow is due once, after the coalesce window, and one replica claims it', async () => {
    const { follow: f } = await follow();
    await apply(mrEvent('open', '2026-05-04T09:00:00Z')); // the MR's branch and head: its pipelines are found
    // The new follow is due after the window (to show what is already known).
    expect(await store.pipelines.claimDueFollows('r1', 30_000, 10)).toEqual([]);
    clock.advance(1000);
    const claimed = await store.pipelines.claimDueFollows('r1', 30_000, 10);
    expect(claimed).toEqual([f.id]);
    expect(await store.pipelines.claimDueFollows('r2', 30_000, 10)).toEqual([]); // leased
    const view = await store.pipelines.loadFollowView(f.id);
    await store.pipelines.finishFollowSync(f.id, 'r1', view?.dirtySeq ?? 0, {
      nextAt: null,
      posted: true,
      dirtyNextAt: clock.now().getTime() + 1000,
    });
    // Ten events in a row: one sync, not before minUpdateIntervalMs after the last one.
    for (let i = 0; i < 10; i++) await apply(jobHook(9, job(90 + i, `j${i}`, 'running')));
    clock.advance(1000);
    expect(await store.pipelines.claimDueFollows('r2', 30_000, 10)).toEqual([]);
    clock.advance(2000);
    expect(await store.pipelines.claimDueFollows('r2', 30_000, 10)).toEqual([f.id]);
    const v = await store.pipelines.loadFollowView(f.id);
    expect(v?.pipelines[0]?.jobs).toHaveLength(10);
    // An event while r2 works keeps the follow due.
    await apply(jobHook(9, job(90, 'j0', 'success')));
    await store.pipelines.finishFollowSync(f.id, 'r2', v?.dirtySeq ?? 0, {
      nextAt: null,
      posted: true,
      dirtyNextAt: clock.now().getTime() + 3000,
    });
    clock.advance(3000);
    expect(await store.pipelines.claimDueFollows('r1', 30_000, 10)).toEqual([f.id]);
  });

  it('a lease held by a dead replica is taken over when it runs out', async () => {
    const { follow: f } = await follow();
    clock.advance(1000);
    expect(await store.pipelines.claimDueFollows('dead', 30_000, 10)).toEqual([f.id]);
    clock.advance(29_000);
    expect(await store.pipelines.claimDueFollows('r2', 30_000, 10)).toEqual([]);
    clock.advance(1_000);
    expect(await store.pipelines.claimDueFollows('r2', 30_000, 10)).toEqual([f.id]);
  });

  it('stopping a follow makes the MR inactive: its events are ignored and it is not polled', async () => {
    await follow();
    const stopped = await store.pipelines.stopFollows(MR, 'C0OPS', 'U2');
    expect(stopped.map((s) => s.stoppedBy)).toEqual(['U2']);
    expect(await apply(pipelineHook(1, 'running', []))).toMatchObject({ kind: 'ignored' });
    expect((await store.pipelines.getMergeRequest(MR))?.active).toBe(false);
  });

  it('records each webhook delivery once; an unfinished one is taken over after its lease', async () => {
    const d = {
      id: 'github:abc',
      source: 'github' as const,
      event: 'workflow_run',
      body: '{}',
      correlationId: 'c1',
    };
    expect(await store.deliveries.record({ ...d, owner: 'r1', leaseMs: 10_000 })).toBe('recorded');
    expect(await store.deliveries.record({ ...d, owner: 'r2', leaseMs: 10_000 })).toBe('duplicate');
    expect(await store.deliveries.claimPending('r2', 10_000, 10)).toEqual([]);
    clock.advance(10_000);
    const taken = await store.deliveries.claimPending('r2', 10_000, 10);
    expect(taken.map((t) => [t.id, t.attempts])).toEqual([['github:abc', 2]]);
    await store.deliveries.finish('github:abc', 'r1', 'done'); // r1 lost its lease: no effect
    expect((await store.deliveries.get('github:abc'))?.status).toBe('pending');
    await store.deliveries.finish('github:abc', 'r2', 'done');
    expect((await store.deliveries.get('github:abc'))?.status).toBe('done');
    clock.advance(86_400_000);
    expect(await store.deliveries.prune(new Date(clock.now().getTime() - 3_600_000))).toBe(1);
    expect(await store.deliveries.record({ ...d, owner: 'r1', leaseMs: 10_000 })).toBe('recorded');
  });
});
