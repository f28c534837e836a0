import { afterAll, beforeAll } from 'vitest';
import { openStore } from '../../src/store/open.js';
import type { ChangeRequest, Store } from '../../src/store/types.js';
import type { GitRepo } from '../fakes/git-repo.js';
import type { FakeGitlab } from '../fakes/gitlab.js';
import type { FakeSlack, PostedFakeMessage } from '../fakes/slack.js';
import { createTestSchema, dropTestSchema } from '../store/harness.js';
import { tempDir } from './helpers.js';
import { type Replica, replicaPool } from './opsbot-process.js';
import {
  replicaEnv,
  startVersionlockFakes,
  versionlockSteps,
  writeVersionlockServeConfig,
} from './versionlock-replicas.js';

/**
 * Two real `opsbot serve` processes (HTTP mode) on one PostgreSQL schema of their own, the fake Slack and the
 * fake GitLab in this process, for the replica suites (change-replicas*.test.ts): what a user sees once a
 * change converged, whatever happened to the replicas or to Slack on the way.
 */

export const GITLAB_TOKEN = 'glpat-replicas-write-token-31';
const LEASE_MS = 3_000;
/** Kill -> converged: the lease, the resumer's period, a process start and the forge and Slack calls. */
export const CONVERGE_MS = 25_000;
/**
 * The replicas' `slack.maxRetryAfterMs`: a 429 asking for a longer wait fails the Web API call at once, and the
 * change thread's reconciler waits out Retry-After instead (change-replicas-slack.test.ts). Small, so that
 * suite proves it in seconds rather than over the 30 s default.
 */
export const SLACK_MAX_RETRY_AFTER_MS = 2_000;

export interface ReplicasFixture {
  readonly slack: FakeSlack;
  readonly gitlab: FakeGitlab;
  readonly store: Store;
  /** A package name not used before in this suite. */
  nextPackage(): string;
  replica(name: string): Replica;
  start(name: string): Promise<Replica>;
  kill(r: Replica): Promise<void>;
  stop(r: Replica): Promise<void>;
  /** /versionlock add <pkg> through replica r: resolves with the root message once it has its two buttons. */
  request(r: Replica, pkg: string): Promise<PostedFakeMessage>;
  approve(r: Replica, rootMsg: PostedFakeMessage): Promise<void>;
  changeOf(rootMsg: PostedFakeMessage): Promise<ChangeRequest>;
  thread(rootMsg: PostedFakeMessage): PostedFakeMessage[];
  expectConverged(rootMsg: PostedFakeMessage, changeId: string, branch: string): Promise<void>;
}

/**
 * Registers beforeAll/afterAll in the calling describe (replicas A and B started before its first test, all
 * gone after its last) and returns the suite's handles. Needs DATABASE_URL.
 */
export const twoReplicas = (DATABASE_URL: string): ReplicasFixture => {
  let slack: FakeSlack;
  let gitlab: FakeGitlab;
  let repo: GitRepo;
  let store: Store;
  let schema: string;
  let configPath: string;
  let databaseUrl: string;
  const tmp = tempDir();
  let n = 0;
  const {
    start,
    kill,
    stop,
    get: replica,
    killAll,
  } = replicaPool({
    configPath: () => configPath,
    env: () => replicaEnv({ home: tmp.dir, slack, gitlabToken: GITLAB_TOKEN, databaseUrl }),
  });

  beforeAll(async () => {
    ({ schema, databaseUrl } = await createTestSchema(DATABASE_URL));
    ({ slack, repo, gitlab } = await startVersionlockFakes(GITLAB_TOKEN));
    configPath = writeVersionlockServeConfig(tmp.dir, gitlab, {
      leaseMs: LEASE_MS,
      extra: `slack:\n  maxRetryAfterMs: ${SLACK_MAX_RETRY_AFTER_MS}\n`,
    });
    store = await openStore({ databaseUrl, dataDir: tmp.dir });
    await Promise.all([start('A'), start('B')]);
  }, 90_000);

  afterAll(async () => {
    killAll();
    await store?.close();
    await Promise.all([slack?.close(), gitlab?.close()]);
    await repo?.cleanup();
    if (schema) await dropTestSchema(DATABASE_URL, schema);
    tmp.cleanup();
  });

  const { request, approve, changeOf, thread, expectConverged } = versionlockSteps({
    slack: () => slack,
    gitlab: () => gitlab,
    store: () => store,
    next: () => ++n,
    convergeMs: CONVERGE_MS,
  });

  return {
    get slack() {
      return slack;
    },
    get gitlab() {
      return gitlab;
    },
    get store() {
      return store;
    },
    nextPackage: () => `pkg${++n}`,
    replica,
    start,
    kill,
    stop,
    request,
    approve,
    changeOf,
    thread,
    expectConverged,
  };
};
