import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type {
  ForgeEvent,
  JobEvent,
  MergeRequestEvent,
  ParsedDelivery,
  PipelineEvent,
} from '../../../src/integrations/forge/events.js';
import { githubCiStatus, parseGithubWebhook } from '../../../src/integrations/forge/github-events.js';
import { gitlabCiStatus, parseGitlabWebhook } from '../../../src/integrations/forge/gitlab-events.js';
import { forgeDate } from '../../../src/integrations/forge/payload.js';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/webhooks');
const fixture = (p: string): unknown => JSON.parse(readFileSync(path.join(dir, p), 'utf8'));

const only = (d: ParsedDelivery): ForgeEvent => {
  expect(d.kind).toBe('events');
  if (d.kind !== 'events') throw new Error('no events');
  expect(d.events).toHaveLength(1);
  return d.events[0] as ForgeEvent;
};

describe('GitLab webhook payloads (documented shapes)', () => {
  it('Pipeline Hook: the pipeline with its MR, every build as a job, attempt = highest job id', () => {
    const e = only(parseGitlabWebhook('Pipeline Hook', fixture('gitlab/pipeline.json'))) as PipelineEvent;
    expect(e).toMatchObject({
      kind: 'pipeline',
      forge: 'gitlab',
      repo: 'gitlab-org/gitlab-test',
      mrNumber: 1,
      sourceBranch: 'test',
      sha: 'bcbb5ec396a2c0f828686f14fac9b80b780504f2',
      pipelineKey: '31',
      pipelineUrl: 'http://192.168.64.1:3005/gitlab-org/gitlab-test/-/pipelines/31',
      ordinal: 31,
    });
    expect(e.run).toMatchObject({ id: 'pipeline:31', status: 'success', generation: 380 });
    expect(e.run.finishedAt?.toISOString()).toBe('2016-08-12T15:26:29.000Z');
    const prod = e.jobs.find((j) => j.name === 'production');
    expect(prod).toMatchObject({ id: '380', stage: 'deploy', status: 'skipped', allowFailure: true });
    // GitLab puts a failure_reason on a skipped manual job: only a failed job keeps one.
    expect(prod?.failureReason).toBeNull();
    expect(prod?.url).toBe('http://192.168.64.1:3005/gitlab-org/gitlab-test/-/jobs/380');
    expect(e.jobs.map((j) => j.status).sort()).toEqual([
      'created',
      'skipped',
      'success',
      'success',
      'success',
    ]);
  });

  it('Job Hook of gitlab.com (no project block): the project path comes from the repository homepage', () => {
    const e = only(parseGitlabWebhook('Job Hook', fixture('gitlab/job.json'))) as JobEvent;
    expect(e).toMatchObject({
      kind: 'job',
      repo: 'jsmithy2/release-tools-fake',
      pipelineKey: '743121198',
      runId: 'pipeline:743121198',
      runGeneration: 3580121225,
      sourceBranch: 'main',
      mrNumber: null,
    });
    expect(e.job).toMatchObject({
      id: '3580121225',
      name: 'auto_deploy:start',
      stage: 'coordinated:tag',
      status: 'success',
      url: 'https://gitlab.com/jsmithy2/release-tools-fake/-/jobs/3580121225',
    });
    expect(e.job.finishedAt?.toISOString()).toBe('2023-01-10T13:50:54.000Z');
  });

  it('Job Hook behind a relative URL root strips the root from the project path', () => {
    const body = fixture('gitlab/build.json') as { repository: { homepage: string } };
    body.repository.homepage = 'https://example.com/gitlab/group/sub/project';
    const e = only(parseGitlabWebhook('Job Hook', body, { host: 'https://example.com/gitlab' })) as JobEvent;
    expect(e.repo).toBe('group/sub/project');
    expect(e.job.status).toBe('created');
  });

  it('Merge Request Hook: open (documentation example) and update after a push (gitlab.com capture)', () => {
    const open = only(
      parseGitlabWebhook('Merge Request Hook', fixture('gitlab/merge_request.json')),
    ) as MergeRequestEvent;
    expect(open).toMatchObject({
      kind: 'merge_request',
      forge: 'gitlab',
      repo: 'gitlabhq/gitlab-test',
      number: 1,
      state: 'open',
      sourceBranch: 'ms-viewport',
      headSha: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7',
    });
    const update = only(
      parseGitlabWebhook(
        'Merge Request Hook',
        fixture('gitlab/gitlab-merge-request-event-update-new-commit.json'),
      ),
    ) as MergeRequestEvent;
    expect(update).toMatchObject({
      number: 3,
      state: 'open',
      headSha: '5ff66a1f7404deee915b50998c340e96d995f048',
    });
    expect(update.at.toISOString()).toBe('2020-12-08T04:15:39.000Z');
  });

  it('a merge names who merged it', () => {
    const body = fixture('gitlab/merge_request.json') as {
      object_attributes: Record<string, unknown>;
      user: { username: string };
    };
    body.object_attributes.state = 'merged';
    body.object_attributes.action = 'merge';
    body.user.username = 'bob';
    expect(only(parseGitlabWebhook('Merge Request Hook', body))).toMatchObject({
      state: 'merged',
      actor: 'bob',
    });
  });

  it('ignores other events and bodies that do not have the documented shape, without throwing', () => {
    expect(parseGitlabWebhook('Push Hook', {}).kind).toBe('ignored');
    expect(parseGitlabWebhook('Pipeline Hook', { object_attributes: { id: 'x' } })).toMatchObject({
      kind: 'ignored',
      reason: expect.stringContaining('object_attributes'),
    });
    expect(parseGitlabWebhook('Job Hook', null).kind).toBe('ignored');
  });

  it('maps every GitLab status', () => {
    expect(
      [
        'created',
        'waiting_for_resource',
        'preparing',
        'pending',
        'running',
        'success',
        'failed',
        'canceled',
        'skipped',
        'manual',
        'scheduled',
      ].map(gitlabCiStatus),
    ).toEqual([
      'created',
      'pending',
      'pending',
      'pending',
      'running',
      'success',
      'failed',
      'canceled',
      'skipped',
      'manual',
      'manual',
    ]);
  });
});

describe('GitHub webhook payloads (octokit/webhooks examples)', () => {
  it('workflow_run completed with a pull request: one run of the head commit, attempt and update time order it', () => {
    const e = only(
      parseGithubWebhook(
        'workflow_run',
        fixture('github/workflow_run.completed.with-pull-requests.payload.json'),
      ),
    ) as PipelineEvent;
    expect(e).toMatchObject({
      forge: 'github',
      repo: 'octo-org/octo-repo',
      // The example's pull request targets Codertocat/Hello-World, another repository: not this run's MR.
      mrNumber: null,
      pipelineKey: '3484a3fb816e0859fd6e1cea078d76385ff50625',
      pipelineUrl:
        'https://github.com/octo-org/octo-repo/commit/3484a3fb816e0859fd6e1cea078d76385ff50625/checks',
    });
    // workflow_run.name is empty in this payload: the workflow's name is used instead.
    expect(e.run).toMatchObject({ id: 'run:289782451', status: 'success', generation: 1 });
    expect(e.run.name).toBeTruthy();
    expect(e.run.sequence).toBe(Date.parse('2020-10-05T16:33:49Z'));
    const body = fixture('github/workflow_run.completed.with-pull-requests.payload.json') as {
      repository: { full_name: string };
    };
    body.repository.full_name = 'Codertocat/Hello-World';
    expect(only(parseGithubWebhook('workflow_run', body))).toMatchObject({ mrNumber: 2 });
  });

  it('workflow_run requested: pending, no PR', () => {
    const e = only(
      parseGithubWebhook('workflow_run', fixture('github/workflow_run.requested.payload.json')),
    ) as PipelineEvent;
    expect(e.run.status).toBe('pending');
    expect(e.mrNumber).toBeNull();
    const odd = only(
      parseGithubWebhook(
        'workflow_run',
        fixture('github/workflow_run.requested.with-conclusion.payload.json'),
      ),
    ) as PipelineEvent;
    expect(odd.run.status).toBe('manual'); // completed / action_required
  });

  it('workflow_job: queued, waiting, in progress, failed', () => {
    const job = (f: string) => only(parseGithubWebhook('workflow_job', fixture(`github/${f}`))) as JobEvent;
    expect(job('workflow_job.queued.payload.json').job.status).toBe('pending');
    expect(job('workflow_job.waiting.payload.json').job.status).toBe('manual');
    expect(job('workflow_job.in_progress.payload.json').job.status).toBe('running');
    const failed = job('workflow_job.completed.failure.with-organization.payload.json');
    expect(failed).toMatchObject({ runId: 'run:2202229078', runName: 'CodeQL', runGeneration: 1 });
    expect(failed.job).toMatchObject({ id: '289782451', name: 'linters', status: 'failed', stage: null });
    expect(failed.runUrl).toBe('https://github.com/Codertocat/Hello-World/actions/runs/2202229078');
  });

  it('check_run / check_suite of another CI app are runs and jobs; those of GitHub Actions are dropped', () => {
    const run = only(
      parseGithubWebhook('check_run', fixture('github/check_run.created.payload.json')),
    ) as JobEvent;
    expect(run).toMatchObject({ runId: expect.stringMatching(/^suite:\d+$/), mrNumber: 2 });
    expect(run.job.status).toBe('pending');
    const suite = only(
      parseGithubWebhook('check_suite', fixture('github/check_suite.completed.payload.json')),
    ) as PipelineEvent;
    expect(suite.run).toMatchObject({ id: 'suite:118578147', status: 'success' });
    expect(
      parseGithubWebhook('check_run', fixture('github/check_run.completed.1.payload.json')),
    ).toMatchObject({
      kind: 'ignored',
      reason: expect.stringContaining('GitHub Actions'),
    });
  });

  it('pull_request closed without merge, and merged (by whom)', () => {
    const closed = only(
      parseGithubWebhook('pull_request', fixture('github/pull_request.closed.payload.json')),
    );
    expect(closed).toMatchObject({ kind: 'merge_request', number: 2, state: 'closed', actor: 'Codertocat' });
    const body = fixture('github/pull_request.closed.payload.json') as {
      pull_request: Record<string, unknown>;
    };
    body.pull_request.merged = true;
    body.pull_request.merged_at = '2019-05-15T15:21:18Z';
    body.pull_request.merged_by = { login: 'octocat' };
    expect(only(parseGithubWebhook('pull_request', body))).toMatchObject({
      state: 'merged',
      actor: 'octocat',
    });
    const sync = only(
      parseGithubWebhook('pull_request', fixture('github/pull_request.synchronize.payload.json')),
    );
    expect(sync).toMatchObject({ state: 'open', headSha: expect.stringMatching(/^[0-9a-f]{40}$/) });
  });

  it('maps GitHub statuses and conclusions', () => {
    expect(githubCiStatus('queued', null)).toBe('pending');
    expect(githubCiStatus('completed', 'timed_out')).toBe('failed');
    expect(githubCiStatus('completed', 'cancelled')).toBe('canceled');
    expect(githubCiStatus('completed', 'neutral')).toBe('success');
    expect(githubCiStatus('completed', 'skipped')).toBe('skipped');
  });
});

describe('forge timestamps', () => {
  it('reads ISO 8601 and GitLab hook times', () => {
    expect(forgeDate('2016-08-12 15:23:28 UTC')?.toISOString()).toBe('2016-08-12T15:23:28.000Z');
    expect(forgeDate('2012-01-03T23:36:29+02:00')?.toISOString()).toBe('2012-01-03T21:36:29.000Z');
    expect(forgeDate('2016-08-12 15:23:28 +0200')?.toISOString()).toBe('2016-08-12T13:23:28.000Z');
    expect(forgeDate('')).toBeNull();
    expect(forgeDate('yesterday')).toBeNull();
  });
});
