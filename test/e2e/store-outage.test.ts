import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/types.js';
import type { GitRepo } from '../fakes/git-repo.js';
import type { FakeGitlab } from '../fakes/gitlab.js';
import type { FakeSlack } from '../fakes/slack.js';
import { startTcpProxy, type TcpProxy, viaProxy } from '../fakes/tcp-proxy.js';
import { createTestSchema, dropTestSchema } from '../store/harness.js';
import { blockText, buttonsOf, postSigned, slashBody, tempDir } from './helpers.js';
import { type Replica, replicaPool, signalReplica } from './opsbot-process.js';
import { pipelinesYaml } from './serve-config.js';
import {
  VERSIONLOCK_REQUESTER as ALICE,
  VERSIONLOCK_CHANNEL as CHANNEL,
  replicaEnv,
  startVersionlockFakes,
  versionlockSteps,
  writeVersionlockServeConfig,
} from './versionlock-replicas.js';

/**
 * `opsbot serve` (HTTP mode, real child processes) on PostgreSQL while the database goes away: a failover, a
 * network cut, a database restart. The machine's PostgreSQL keeps running (other suites use it); a TCP proxy
 * between opsbot and it is cut (every connection reset, new ones refused) and restored. What is asserted is
 * what a user, Kubernetes and the forge notice: /readyz and /healthz, answers in Slack, MRs, thread notes and
 * webhook answers, with one replica and with two on the same database.
 */

const DATABASE_URL = process.env.DATABASE_URL;
const GITLAB_TOKEN = 'glpat-outage-write-token-77';
const HOOK_SECRET = 'outage-hook-secret-41';
/** Slack shows "operation_timeout" to the user when a slash command is not acknowledged within 3 s. */
const SLACK_ACK_MS = 3_000;
/** Restore -> converged: the apply lease (3 s), the resumer's period, the forge and Slack calls. */
const CONVERGE_MS = 25_000;
const P = '/projects/infra%2Fansible';
/** http.drainTimeoutMs of the replicas. */
const DRAIN_MS = 1_500;

describe.skipIf(!DATABASE_URL)('opsbot serve while its PostgreSQL goes away', () => {
  let slack: FakeSlack;
  let gitlab: FakeGitlab;
  let repo: GitRepo;
  let store: Store;
  let schema: string;
  let proxy: TcpProxy;
  let configPath: string;
  let proxiedUrl: string;
  const tmp = tempDir();
  let n = 0;
  const pool = replicaPool({
    configPath: () => configPath,
    env: () =>
      replicaEnv({
        home: tmp.dir,
        slack,
        gitlabToken: GITLAB_TOKEN,
        databaseUrl: proxiedUrl,
        extra: { GITLAB_WEBHOOK_SECRET: HOOK_SECRET },
      }),
  });
  const { replicas, start } = pool;
  const alive = (r: Replica): boolean => r.child.exitCode === null && r.child.signalCode === null;
  /** Replica `name`, started again if an earlier test left it dead: each test stands on its own. */
  const running = async (name: string): Promise<Replica> => {
    const r = replicas.get(name);
    return r && alive(r) ? r : start(name);
  };

  beforeAll(async () => {
    const made = await createTestSchema(DATABASE_URL as string);
    schema = made.schema;
    const base = new URL(DATABASE_URL as string);
    proxy = await startTcpProxy({ host: base.hostname, port: Number(base.port || 5432) });
    proxiedUrl = viaProxy(made.databaseUrl, proxy);
    ({ slack, repo, gitlab } = await startVersionlockFakes(GITLAB_TOKEN));
    configPath = writeVersionlockServeConfig(tmp.dir, gitlab, {
      leaseMs: 3000,
      storeExtra: '  queryTimeoutMs: 2000\n',
      extra:
        `http:\n  drainTimeoutMs: ${DRAIN_MS}\n` +
        pipelinesYaml({
          polling: 'never',
          slack: { coalesceMs: 200, minUpdateIntervalMs: 200, resultDelayMs: 100 },
        }),
    });
    // The suite's own view of the database, not through the proxy.
    store = await openStore({ databaseUrl: made.databaseUrl, dataDir: tmp.dir });
    await start('A');
  }, 60_000);

  afterEach(async () => {
    proxy.restore();
    // A test that needed a second replica leaves with one: the next test's "one replica" means one.
    const b = replicas.get('B');
    if (b) {
      replicas.delete('B');
      await signalReplica(b, 'SIGKILL');
    }
  });

  afterAll(async () => {
    pool.killAll();
    await store?.close();
    await proxy?.close();
    await Promise.all([slack?.close(), gitlab?.close()]);
    await repo?.cleanup();
    if (schema) await dropTestSchema(DATABASE_URL as string, schema);
    tmp.cleanup();
  });

  const probe = async (r: Replica, path: '/readyz' | '/healthz') => {
    try {
      const res = await fetch(`http://127.0.0.1:${r.port}${path}`);
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    } catch (err) {
      if (alive(r)) throw err;
      throw new Error(
        `${r.name} exited (${r.child.exitCode ?? r.child.signalCode}):\n${r.lines.slice(-25).join('\n')}`,
      );
    }
  };
  const readyStatus = async (r: Replica): Promise<number> => (await probe(r, '/readyz')).status;

  const slash = (r: Replica, command: string, text: string) => {
    const id = `r${++n}`;
    return postSigned(
      r.port,
      slashBody({ command, text, user_id: ALICE, channel_id: CHANNEL, response_url: slack.responseUrl(id) }),
    ).then((res) => ({ ...res, id }));
  };
  const privateAnswer = (id: string, timeoutMs = 10_000) =>
    slack.waitFor(
      () => slack.responses.find((x) => x.id === id)?.body as { text?: string } | undefined,
      timeoutMs,
    );

  const { request, approve, changeOf, expectConverged } = versionlockSteps({
    slack: () => slack,
    gitlab: () => gitlab,
    store: () => store,
    next: () => ++n,
    convergeMs: CONVERGE_MS,
  });
  const storeFailures = (r: Replica) =>
    r.lines.filter((l) => l.includes('The opsbot database is not reachable')).length;

  it('during the cut: /readyz 503 naming the store at once, /healthz 200, commands answered within 3 s; after it: ready again and working, same process', async () => {
    const a = await running('A');
    const pid = a.child.pid;
    await expect.poll(() => readyStatus(a), { timeout: 10_000 }).toBe(200);

    proxy.cut();
    // The next probe (Kubernetes probes every 10 s) says so: not a success cached from before the cut.
    await expect.poll(() => readyStatus(a), { timeout: 2_500, interval: 250 }).toBe(503);
    const ready = await probe(a, '/readyz');
    expect(ready.body).toMatchObject({ ready: false, checks: { store: { ok: false }, slack: { ok: true } } });
    expect(JSON.stringify(ready.body)).toMatch(/database is not reachable/);
    // Liveness stays up: Kubernetes must not restart pods because the database is away.
    expect(await probe(a, '/healthz')).toMatchObject({ status: 200 });

    // A command that needs the store is acknowledged in time and then told, privately, what is wrong, with a
    // ref to quote.
    const mark = a.lines.length;
    const pkg = `down${++n}`;
    const lock = await slash(a, '/versionlock', `add ${pkg} 7.10.2-1`);
    expect(lock.status).toBe(200);
    expect(lock.ms).toBeLessThan(SLACK_ACK_MS);
    const said = await privateAnswer(lock.id);
    expect(said.text).toMatch(/database is not reachable.*ref `[0-9a-f]+`/);
    const ref = /ref `([0-9a-f]+)`/.exec(said.text ?? '')?.[1];
    expect(slack.messages.filter((m) => m.text.includes(pkg))).toHaveLength(0);
    // Its audit row (written after the answer) has met the missing database before the restore.
    await slack.waitFor(
      () =>
        a.lines
          .slice(mark)
          .some(
            (l) =>
              l.includes('"audit rows could not be written"') ||
              l.includes('"the store does not answer; audit rows kept to write later"'),
          ),
      10_000,
    );
    // A command that needs no store is answered as usual.
    const help = await slash(a, '/opsbot', 'help');
    expect(help.status).toBe(200);
    expect(help.ms).toBeLessThan(SLACK_ACK_MS);
    expect(help.text).toContain('opsbot commands');
    expect(alive(a)).toBe(true);

    proxy.restore();
    await expect.poll(() => readyStatus(a), { timeout: 10_000, interval: 250 }).toBe(200);
    // The audit row of the command refused during the cut is written once the database answers, not lost.
    await expect
      .poll(
        async () =>
          (await store.audit.list({ command: 'versionlock', limit: 1000 })).find(
            (r) => r.correlationId === ref,
          )?.outcome,
        { timeout: 10_000 },
      )
      .toBe('failed');
    const rootMsg = await request(a, `up${++n}`);
    expect(buttonsOf(rootMsg)).toHaveLength(2);
    expect(alive(a)).toBe(true);
    expect(a.child.pid).toBe(pid);
  }, 60_000);

  it('a change approved just before the cut, its apply cut off mid-way: after the restore it ends with one MR, linked once', async () => {
    const a = await running('A');
    await expect.poll(() => readyStatus(a), { timeout: 10_000 }).toBe(200);
    const rootMsg = await request(a, `inflight${++n}`);
    const change = await changeOf(rootMsg);
    const hold = gitlab.hold({ method: 'POST', path: new RegExp(`^${P}/repository/commits$`) }, 'after');
    await approve(a, rootMsg);
    await hold.reached; // the commit is made on the forge; the apply's next store write is about to happen
    const failuresBefore = storeFailures(a);
    proxy.cut();
    hold.release();
    // The apply hits the missing database (its record of the commit), then the resumer does, a pass later:
    // logged, not a crash, and the change stays with nobody able to finish it until the database is back.
    await slack.waitFor(() => storeFailures(a) > failuresBefore, 10_000);
    const resumerFailures = () => a.lines.filter((l) => l.includes('"resumer pass failed"')).length;
    const resumerBefore = resumerFailures();
    await slack.waitFor(() => resumerFailures() > resumerBefore, 10_000);
    expect(gitlab.mergeRequests.filter((m) => m.source_branch === change.branch)).toHaveLength(0);
    expect(alive(a)).toBe(true);
    proxy.restore();
    await expectConverged(rootMsg, change.id, change.branch);
    expect(alive(a)).toBe(true);
  }, 90_000);

  it("webhook deliveries during the cut are answered 503, not 202 and lost; the forge does not send them again, yet the thread shows the pipeline's end after the restore", async () => {
    const a = await running('A');
    await expect.poll(() => readyStatus(a), { timeout: 10_000 }).toBe(200);
    const branch = `fix/outage-${++n}`;
    const sha = await repo.commitToBranch(branch, { 'a.txt': 'b\n' }, 'fix');
    const mr = await gitlab.addMergeRequest('infra/ansible', { sourceBranch: branch });
    const ref = `infra/ansible!${mr.iid}`;
    const res = await slash(a, '/pipeline', ref);
    expect(res.status).toBe(200);
    const root = await slack.waitFor(
      () => slack.messages.find((m) => m.threadTs === null && m.text.includes(ref)),
      15_000,
    );
    // The follow is recorded (the thread's root is posted before it).
    await expect
      .poll(
        async () =>
          (await store.pipelines.listFollows({ forge: 'gitlab', repo: 'infra/ansible', number: mr.iid }))
            .length,
        {
          timeout: 10_000,
        },
      )
      .toBe(1);
    // GitLab does not send a failed delivery again (nor does GitHub without a hand on "Redeliver").
    gitlab.setWebhook({ url: `http://127.0.0.1:${a.port}/webhooks/gitlab`, token: HOOK_SECRET, retries: 0 });
    const statusOf = (id: number) =>
      slack.messages.find((m) => m.threadTs === root.ts && blockText(m).includes(`Pipeline #${id}`));
    try {
      proxy.cut();
      const p = gitlab.ci.createPipeline('infra/ansible', {
        mrIid: mr.iid,
        sha,
        jobs: [{ name: 'lint', stage: 'test' }],
      });
      gitlab.ci.setJob(p.id, 'lint', 'running');
      gitlab.ci.setJob(p.id, 'lint', 'success');
      await gitlab.webhooks.settled();
      // Not recorded, so not 202: the forge shows the deliveries as failed.
      const statuses = gitlab.webhooks.sent.flatMap((d) => d.attempts.map((t) => t.status));
      expect(statuses.length).toBeGreaterThan(0);
      expect(statuses.every((st) => st === 503)).toBe(true);
      expect(statusOf(p.id)).toBeUndefined();
      expect(alive(a)).toBe(true);

      proxy.restore();
      // Once the store answers, the followed MR is read from the forge: the thread catches up on its own.
      const passed = () =>
        slack.messages.filter((m) => m.threadTs === root.ts && m.text.includes(`Pipeline #${p.id} passed`));
      await slack.waitFor(() => passed().length >= 2, 15_000);
      // Once each: its status message (edited to passed) and the result reply.
      expect(passed()).toHaveLength(2);
      expect(passed().some((m) => blockText(m).includes(':white_check_mark:'))).toBe(true);
    } finally {
      gitlab.setWebhook(null);
    }
  }, 60_000);

  it('two replicas on the cut database: both 503 and alive, both ready again after it, the change in flight ends with one MR and one note each', async () => {
    const a = await running('A');
    const b = await running('B');
    await expect.poll(() => readyStatus(a), { timeout: 10_000 }).toBe(200);
    await expect.poll(() => readyStatus(b), { timeout: 10_000 }).toBe(200);
    const rootMsg = await request(a, `pair${++n}`);
    const change = await changeOf(rootMsg);
    const hold = gitlab.hold({ method: 'POST', path: new RegExp(`^${P}/repository/commits$`) }, 'after');
    await approve(b, rootMsg);
    await hold.reached;
    proxy.cut();
    hold.release();
    await expect.poll(() => readyStatus(a), { timeout: 2_500, interval: 250 }).toBe(503);
    await expect.poll(() => readyStatus(b), { timeout: 2_500, interval: 250 }).toBe(503);
    const lock = await slash(a, '/versionlock', `add pairdown${++n} 7.10.2-1`);
    expect(lock.ms).toBeLessThan(SLACK_ACK_MS);
    expect((await privateAnswer(lock.id)).text).toMatch(/database is not reachable/);
    expect([alive(a), alive(b)]).toEqual([true, true]);

    proxy.restore();
    await expect.poll(() => readyStatus(a), { timeout: 10_000, interval: 250 }).toBe(200);
    await expect.poll(() => readyStatus(b), { timeout: 10_000, interval: 250 }).toBe(200);
    await expectConverged(rootMsg, change.id, change.branch);
    // Either replica takes commands again.
    const again = await request(b, `pairup${++n}`);
    expect(buttonsOf(again)).toHaveLength(2);
    expect([alive(a), alive(b)]).toEqual([true, true]);
  }, 90_000);

  it('a dropped network (nothing answers, nothing resets): /readyz 503 within the probe timeout, the user hears back, and once the database is back the next change goes through without a restart', async () => {
    const a = await running('A');
    await expect.poll(() => readyStatus(a), { timeout: 10_000 }).toBe(200);
    proxy.blackhole(); // the connections open now never answer again, as after a failover
    await expect
      .poll(
        async () => {
          const t0 = Date.now();
          const status = await readyStatus(a);
          // Kubernetes gives the probe 5 s (deploy/helm/opsbot: timeoutSeconds); a hang is a failed probe with no reason.
          expect(Date.now() - t0).toBeLessThan(5_000);
          return status;
        },
        { timeout: 10_000, interval: 250 },
      )
      .toBe(503);
    const lock = await slash(a, '/versionlock', `add hole${++n} 7.10.2-1`);
    expect(lock.ms).toBeLessThan(SLACK_ACK_MS);
    // Not silence: the query without an answer fails after store.queryTimeoutMs (2 s here).
    const said = await privateAnswer(lock.id, 15_000);
    expect(said.text).toMatch(/database is not reachable.*ref `[0-9a-f]+`/);
    expect(alive(a)).toBe(true);

    proxy.restore(); // new connections reach the database; the black-holed ones stay silent
    await expect.poll(() => readyStatus(a), { timeout: 15_000, interval: 250 }).toBe(200);
    const rootMsg = await request(a, `holeup${++n}`);
    const change = await changeOf(rootMsg);
    await approve(a, rootMsg);
    await expectConverged(rootMsg, change.id, change.branch);
    expect(alive(a)).toBe(true);
  }, 90_000);

  it('SIGTERM while nothing answers (a rolling restart during a failover): the replica still exits 0 within http.drainTimeoutMs + 5 s', async () => {
    const c = await start('C');
    try {
      await expect.poll(() => readyStatus(c), { timeout: 10_000 }).toBe(200);
      proxy.blackhole();
      await expect.poll(() => readyStatus(c), { timeout: 10_000, interval: 250 }).toBe(503);
      const exited = new Promise<number | string>((resolve) =>
        c.child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
      );
      const t0 = Date.now();
      c.child.kill('SIGTERM');
      // The chart's grace period is the drain timeout plus 15 s; opsbot promises drain + 5 s (README).
      const code = await Promise.race([
        exited,
        new Promise((r) => setTimeout(() => r('still running'), 25_000)),
      ]);
      expect(code).toBe(0);
      expect(Date.now() - t0).toBeLessThan(DRAIN_MS + 5_000);
    } finally {
      replicas.delete('C');
      c.child.kill('SIGKILL');
    }
  }, 60_000);
  it('/pipeline when the database goes away between its post and its record: the channel does not keep claiming a follow that was never stored', async () => {
    const a = await running('A');
    await expect.poll(() => readyStatus(a), { timeout: 10_000 }).toBe(200);
    const branch = `fix/unstored-${++n}`;
    await repo.commitToBranch(branch, { 'u.txt': 'u\n' }, 'fix');
    const mr = await gitlab.addMergeRequest('infra/ansible', { sourceBranch: branch });
    const ref = `infra/ansible!${mr.iid}`;
    // The root message is posted (Slack has it) but its answer is held: the store goes away right then.
    const hold = slack.holdNext('chat.postMessage');
    const res = await slash(a, '/pipeline', ref);
    expect(res.status).toBe(200);
    await hold.reached;
    proxy.cut();
    hold.release();
    // The user hears privately that the database is not reachable, with a ref.
    const said = await privateAnswer(res.id);
    expect(said.text).toMatch(/database is not reachable.*ref `[0-9a-f]+`/);
    const root = slack.messages.find((m) => m.threadTs === null && m.text.includes(ref));
    if (!root) throw new Error('no root message');
    // Everyone in the channel sees that it is not followed, not "Following ...".
    await slack.waitFor(() => root.updates > 0 && /not followed/.test(root.text), 10_000);
    expect(root.text).not.toMatch(/Following the CI/);
    expect(root.text).toContain(`/pipeline ${ref}`);

    proxy.restore();
    await expect.poll(() => readyStatus(a), { timeout: 10_000, interval: 250 }).toBe(200);
    expect(
      await store.pipelines.listFollows({ forge: 'gitlab', repo: 'infra/ansible', number: mr.iid }),
    ).toHaveLength(0);
    // Running it again (what the corrected message says to do) follows it, in a new thread.
    const again = await slash(a, '/pipeline', ref);
    expect(again.status).toBe(200);
    await expect
      .poll(
        async () =>
          (await store.pipelines.listFollows({ forge: 'gitlab', repo: 'infra/ansible', number: mr.iid }))
            .length,
        { timeout: 10_000 },
      )
      .toBe(1);
    const roots = slack.messages.filter((m) => m.threadTs === null && m.text.includes(ref));
    expect(roots).toHaveLength(2);
    expect(roots[1]?.text).toMatch(/Following the CI/);
    expect(alive(a)).toBe(true);
  }, 60_000);
});
