import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineEvent } from '../../../src/integrations/forge/events.js';
import { parseGithubWebhook } from '../../../src/integrations/forge/github-events.js';
import { parseGitlabWebhook } from '../../../src/integrations/forge/gitlab-events.js';
import type { ForgePort } from '../../../src/integrations/forge/port.js';
import { createGithubForge } from '../../../src/integrations/github/adapter.js';
import { createGitlabForge } from '../../../src/integrations/gitlab/adapter.js';
import { createBareRepo, type GitRepo } from '../../fakes/git-repo.js';
import { type FakeGithub, startFakeGithub } from '../../fakes/github.js';
import { githubLog } from '../../fakes/github-actions.js';
import { type FakeGitlab, startFakeGitlab } from '../../fakes/gitlab.js';
import { gitlabTrace } from '../../fakes/gitlab-ci.js';

/**
 * The forge port's CI methods (what the pipeline follower polls, the job log tail, "retry failed jobs")
 * through the real adapters against the fakes: real paging, GitHub's log redirect, and the same run
 * ordering as the webhooks describe.
 */

const TOKEN = 'glpat-ci-test-token-123456';
const GH_TOKEN = 'ghp_ci_test_token_654321';

describe('GitLab CI through the adapter', () => {
  let repo: GitRepo;
  let fake: FakeGitlab;
  let forge: ForgePort;
  let sha: string;

  beforeAll(async () => {
    repo = await createBareRepo({ 'a.txt': 'a\n' });
    sha = await repo.commitToBranch('feature/x', { 'a.txt': 'b\n' }, 'change');
    fake = await startFakeGitlab({
      projects: { 'group/app': repo },
      tokens: { [TOKEN]: { access: 'write' } },
    });
    forge = createGitlabForge({ host: fake.host, token: TOKEN, timeoutMs: 5000, retry: { baseDelayMs: 10 } });
  });
  afterAll(async () => {
    await fake.close();
    await repo.cleanup();
  });

  it('reads an MR: open, then merged by someone; null when it does not exist', async () => {
    const mr = await fake.addMergeRequest('group/app', { sourceBranch: 'feature/x' });
    expect(await forge.getMergeRequest('group/app', mr.iid)).toMatchObject({
      number: mr.iid,
      state: 'open',
      sourceBranch: 'feature/x',
      headSha: sha,
      actor: null,
    });
    const other = await fake.addMergeRequest('group/app', { sourceBranch: 'feature/x', title: 'second' });
    fake.setMergeRequestState('group/app', other.iid, 'merged', 'bob');
    expect(await forge.getMergeRequest('group/app', other.iid)).toMatchObject({
      state: 'merged',
      actor: 'bob',
    });
    expect(await forge.getMergeRequest('group/app', 999)).toBeNull();
  });

  it('lists the MR pipelines newest first and every job over several pages, as the hooks describe them', async () => {
    const mr = await fake.addMergeRequest('group/app', { sourceBranch: 'feature/x', title: 'paged' });
    const jobs = ['a', 'b', 'c', 'd', 'e'].map((name, i) => ({ name, stage: i < 3 ? 'test' : 'deploy' }));
    fake.ci.createPipeline('group/app', { mrIid: mr.iid, sha, jobs });
    const newest = fake.ci.createPipeline('group/app', { mrIid: mr.iid, sha, jobs });
    fake.ci.setJob(newest.id, 'a', 'running');
    fake.ci.setJob(newest.id, 'b', 'success');
    fake.setMaxPerPage(2);
    try {
      const list = await forge.listMergeRequestPipelines('group/app', { number: mr.iid, headSha: sha }, 5);
      expect(list.map((p) => p.key)).toEqual([String(newest.id), String(newest.id - 1)]);
      expect(list[0]).toMatchObject({
        sha,
        status: 'running',
        url: `${fake.host}/group/app/-/pipelines/${newest.id}`,
      });
      const detail = await forge.listPipelineJobs('group/app', list[0] as NonNullable<(typeof list)[0]>);
      expect(detail.jobs.map((j) => j.job.name).sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
      const jobRequests = fake.requestsTo('GET', /\/pipelines\/\d+\/jobs$/);
      expect(jobRequests.length).toBeGreaterThanOrEqual(3); // 5 jobs, 2 per page
      // What polling sees orders the same way as what the Pipeline Hook says about the same state.
      const hook = parseGitlabWebhook('Pipeline Hook', fake.ci.pipelineHookBody(newest));
      const run = (hook.kind === 'events' ? (hook.events[0] as PipelineEvent) : null)?.run;
      expect(detail.runs[0]).toMatchObject({
        generation: run?.generation,
        sequence: run?.sequence,
        status: 'running',
      });
    } finally {
      fake.setMaxPerPage(100);
    }
  });

  it('reads the end of a job trace, and retrying a failed pipeline gives the failed job a new id', async () => {
    const mr = await fake.addMergeRequest('group/app', { sourceBranch: 'feature/x', title: 'retry' });
    const p = fake.ci.createPipeline('group/app', {
      mrIid: mr.iid,
      sha,
      jobs: [{ name: 'unit', stage: 'test' }],
    });
    const lines = Array.from({ length: 5000 }, (_, i) => `line ${i}`);
    const failed = fake.ci.setJob(p.id, 'unit', 'failed', { log: gitlabTrace(lines, 1) });
    const tail = (await forge.getJobLogTail('group/app', String(failed.id), 4096)) ?? '';
    expect(tail.length).toBeLessThanOrEqual(4096);
    expect(tail).toContain('line 4999');
    expect(tail).not.toContain('line 100\n');
    expect(tail).toContain('ERROR: Job failed: exit code 1');
    await forge.retryFailedJobs('group/app', { key: String(p.id), runIds: [`pipeline:${p.id}`] });
    const [summary] = await forge.listMergeRequestPipelines('group/app', { number: mr.iid, headSha: sha }, 1);
    const detail = await forge.listPipelineJobs('group/app', summary as NonNullable<typeof summary>);
    expect(detail.jobs.map((j) => [j.job.name, j.job.status])).toEqual([['unit', 'pending']]);
    expect(Number(detail.jobs[0]?.job.id)).toBeGreaterThan(failed.id);
    expect(detail.runs[0]?.generation).toBeGreaterThan(failed.id);
  });
});

describe('GitHub Actions through the adapter', () => {
  let repo: GitRepo;
  let fake: FakeGithub;
  let forge: ForgePort;
  let sha: string;

  beforeAll(async () => {
    repo = await createBareRepo({ 'a.txt': 'a\n' });
    sha = await repo.commitToBranch('feature/y', { 'a.txt': 'c\n' }, 'change');
    fake = await startFakeGithub({
      repos: { 'acme/infra': repo },
      tokens: { [GH_TOKEN]: { access: 'write' } },
    });
    forge = createGithubForge({
      baseUrl: fake.baseUrl,
      token: GH_TOKEN,
      timeoutMs: 5000,
      retry: { baseDelayMs: 10 },
    });
  });
  afterAll(async () => {
    await fake.close();
    await repo.cleanup();
  });

  it('reads a PR, merged by whom', async () => {
    const pr = fake.addPull('acme/infra', { head: 'feature/y' });
    expect(await forge.getMergeRequest('acme/infra', pr.number)).toMatchObject({
      state: 'open',
      headSha: sha,
    });
    await fake.setPullState('acme/infra', pr.number, 'merged', 'octocat');
    expect(await forge.getMergeRequest('acme/infra', pr.number)).toMatchObject({
      state: 'merged',
      actor: 'octocat',
    });
    expect(await forge.getMergeRequest('acme/infra', 404)).toBeNull();
  });

  it('one pipeline per head commit: every workflow run with its jobs, and other CI apps by check suite', async () => {
    const pr = fake.addPull('acme/infra', { head: 'feature/y', title: 'runs' });
    const test = fake.actions.createWorkflowRun('acme/infra', {
      headSha: sha,
      headBranch: 'feature/y',
      prNumber: pr.number,
      name: 'test',
      jobs: ['unit', 'integration', 'e2e'].map((name) => ({ name })),
    });
    fake.actions.createWorkflowRun('acme/infra', {
      headSha: sha,
      headBranch: 'feature/y',
      prNumber: pr.number,
      name: 'lint',
      jobs: [{ name: 'biome' }],
    });
    const check = fake.actions.createCheckRun('acme/infra', {
      headSha: sha,
      headBranch: 'feature/y',
      name: 'sonar',
    });
    fake.actions.completeCheckRun(check.id, 'success');
    fake.actions.setJob(test.id, 'unit', 'in_progress');
    fake.setMaxPerPage(2);
    try {
      const [summary] = await forge.listMergeRequestPipelines(
        'acme/infra',
        { number: pr.number, headSha: sha },
        3,
      );
      expect(summary).toMatchObject({ key: sha, status: 'running' });
      const detail = await forge.listPipelineJobs('acme/infra', summary as NonNullable<typeof summary>);
      expect(detail.runs.map((r) => [r.name, r.status]).sort()).toEqual([
        ['Octocoders Linter', 'success'],
        ['lint', 'pending'],
        ['test', 'running'],
      ]);
      // Actions jobs appear once (as jobs, not again as github-actions check runs).
      expect(detail.jobs.map((j) => j.job.name).sort()).toEqual([
        'biome',
        'e2e',
        'integration',
        'sonar',
        'unit',
      ]);
      const hook = parseGithubWebhook('workflow_run', {
        action: 'in_progress',
        workflow_run: { ...(await runJson(test.id)) },
        repository: {
          full_name: 'acme/infra',
          html_url: `${fake.baseUrl.replace('/api/v3', '')}/acme/infra`,
        },
      });
      const run = (hook.kind === 'events' ? (hook.events[0] as PipelineEvent) : null)?.run;
      expect(detail.runs.find((r) => r.id === `run:${test.id}`)).toMatchObject({
        generation: run?.generation,
        sequence: run?.sequence,
      });
    } finally {
      fake.setMaxPerPage(100);
    }
  });

  const runJson = async (id: number) => {
    const res = await fetch(`${fake.baseUrl}/repos/acme/infra/actions/runs/${id}`, {
      headers: { authorization: `token ${GH_TOKEN}` },
    });
    return (await res.json()) as Record<string, unknown>;
  };

  it('reads a job log through the signed download URL (no token sent there) and re-runs failed jobs', async () => {
    const run = fake.actions.createWorkflowRun('acme/infra', {
      headSha: sha,
      headBranch: 'feature/y',
      name: 'deploy',
      jobs: [{ name: 'plan' }],
    });
    const lines = Array.from({ length: 3000 }, (_, i) => `step ${i}`);
    const job = fake.actions.setJob(run.id, 'plan', 'completed', 'failure', { log: githubLog(lines, true) });
    const tail = (await forge.getJobLogTail('acme/infra', String(job.id), 2048)) ?? '';
    expect(tail).toContain('step 2999');
    expect(tail).toContain('##[error]Process completed with exit code 1.');
    expect(tail.length).toBeLessThanOrEqual(2048);
    expect(fake.actions.logDownloads).toHaveLength(1);
    expect(new URL(fake.actions.logDownloads[0] as string).origin).not.toBe(new URL(fake.baseUrl).origin);
    await forge.retryFailedJobs('acme/infra', { key: sha, runIds: [`run:${run.id}`, 'suite:1'] });
    expect(fake.actions.runs.find((r) => r.id === run.id)).toMatchObject({ runAttempt: 2, status: 'queued' });
  });
});
