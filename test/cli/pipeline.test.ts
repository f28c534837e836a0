import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliIo } from '../../src/cli/io.js';
import { runPipeline } from '../../src/cli/pipeline.js';
import { openStore } from '../../src/store/open.js';
import { createBareRepo, type GitRepo } from '../fakes/git-repo.js';
import { type FakeGithub, startFakeGithub } from '../fakes/github.js';
import { githubLog } from '../fakes/github-actions.js';
import { type FakeGitlab, startFakeGitlab } from '../fakes/gitlab.js';
import { gitlabTrace } from '../fakes/gitlab-ci.js';

/** `opsbot pipeline <mr>`: the real CLI against the forge fakes, in-process and as `bin/opsbot.js`. */

const GL_TOKEN = 'glpat-cli-pipeline-token-6060';
const GH_TOKEN = 'ghp_cli_pipeline_token_6161';
const root = resolve(fileURLToPath(import.meta.url), '../../..');

let gitlab: FakeGitlab;
let github: FakeGithub;
let glRepo: GitRepo;
let ghRepo: GitRepo;
let dir: string;
let cfg: string;

beforeAll(async () => {
  glRepo = await createBareRepo({ 'a.txt': 'a\n' });
  ghRepo = await createBareRepo({ 'a.txt': 'a\n' });
  gitlab = await startFakeGitlab({
    projects: { 'ops/app': glRepo },
    tokens: { [GL_TOKEN]: { access: 'read' } },
  });
  github = await startFakeGithub({
    repos: { 'acme/web': ghRepo },
    tokens: { [GH_TOKEN]: { access: 'read' } },
  });
  dir = mkdtempSync(join(tmpdir(), 'opsbot-cli-pipeline-'));
  cfg = join(dir, 'opsbot.yaml');
  writeFileSync(
    cfg,
    `forges:\n  gitlab:\n    host: ${gitlab.host}\n  github:\n    baseUrl: ${github.baseUrl}\nstore:\n  dataDir: ${join(dir, 'data')}\n`,
  );
});

afterAll(async () => {
  await Promise.all([gitlab?.close(), github?.close(), glRepo?.cleanup(), ghRepo?.cleanup()]);
  rmSync(dir, { recursive: true, force: true });
});

const run = async (
  args: string[],
  env: Record<string, string> = { GITLAB_TOKEN: GL_TOKEN, GITHUB_TOKEN: GH_TOKEN },
) => {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (c: string) => (stdout += c) },
    stderr: { write: (c: string) => (stderr += c) },
    env: { ...env, OPSBOT_CONFIG: cfg },
    cwd: dir,
    now: () => new Date(),
  };
  const code = await runPipeline(args, io);
  return { code, stdout, stderr };
};

describe('opsbot pipeline', () => {
  it('prints a GitLab MR pipeline: stages, jobs, and the failed job log without colours or the token', async () => {
    const sha = await glRepo.commitToBranch('fix/cli', { 'a.txt': 'b\n' }, 'fix');
    const mr = await gitlab.addMergeRequest('ops/app', { sourceBranch: 'fix/cli', title: 'CLI fix' });
    const p = gitlab.ci.createPipeline('ops/app', {
      mrIid: mr.iid,
      sha,
      jobs: [
        { name: 'build', stage: 'build' },
        { name: 'test', stage: 'test' },
      ],
    });
    gitlab.ci.setJob(p.id, 'build', 'success');
    gitlab.ci.setJob(p.id, 'test', 'failed', {
      log: gitlabTrace(['\u001b[31mFAIL\u001b[0m spec/login_spec.rb', `using ${GL_TOKEN}`], 1),
    });
    const r = await run([`ops/app!${mr.iid}`]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toContain(`ops/app!${mr.iid}  CLI fix  (open)`);
    expect(r.stdout).toContain(`Pipeline #${p.id}  FAILED`);
    expect(r.stdout).toMatch(/build\s+passed/);
    expect(r.stdout).toContain('--- test (test)');
    expect(r.stdout).toContain('FAIL spec/login_spec.rb');
    expect(r.stdout).not.toContain(GL_TOKEN);
    expect(r.stdout).not.toContain('\u001b');
    const store = await openStore({ dataDir: join(dir, 'data') });
    try {
      expect(
        (await store.audit.list({ command: 'pipeline' })).map((a) => [a.source, a.outcome]),
      ).toContainEqual(['cli', 'ok']);
    } finally {
      await store.close();
    }
  });

  it('--json for a GitHub PR (the log read through the redirect)', async () => {
    const sha = await ghRepo.commitToBranch('fix/json', { 'a.txt': 'c\n' }, 'fix');
    const pr = github.addPull('acme/web', { head: 'fix/json', title: 'JSON' });
    const run1 = github.actions.createWorkflowRun('acme/web', {
      headSha: sha,
      headBranch: 'fix/json',
      prNumber: pr.number,
      name: 'ci',
      jobs: [{ name: 'unit' }],
    });
    github.actions.setJob(run1.id, 'unit', 'completed', 'failure', { log: githubLog(['boom'], true) });
    const r = await run([
      `${new URL(github.baseUrl).origin}/acme/web/pull/${pr.number}`,
      '--json',
      '--lines',
      '3',
    ]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as {
      pipeline: { status: string; stages: Array<{ name: string }> };
      failedJobs: Array<{ name: string; logTail: string[] }>;
    };
    expect(out.pipeline.status).toBe('failed');
    expect(out.pipeline.stages.map((s) => s.name)).toEqual(['ci']);
    expect(out.failedJobs[0]?.logTail).toHaveLength(3);
    expect(out.failedJobs[0]?.logTail.join('\n')).toContain('Error: Process completed with exit code 1.');
  });

  it('exit codes: 2 for bad arguments or config, 1 when the forge cannot be read', async () => {
    expect((await run([])).code).toBe(2);
    expect((await run(['not-an-mr'])).code).toBe(2);
    expect((await run(['ops/app!1'], {})).stderr).toContain('GITLAB_TOKEN');
    expect((await run(['ops/app!999'])).code).toBe(1);
    const bad = await run(['ops/app!1'], { GITLAB_TOKEN: 'glpat-wrong-token-000000' });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('token is invalid');
  });

  it('runs as bin/opsbot.js', async () => {
    const out = await new Promise<{ code: number; stdout: string }>((res) => {
      execFile(
        process.execPath,
        [join(root, 'bin/opsbot.js'), 'pipeline', 'ops/app!1', '--config', cfg],
        { env: { PATH: process.env.PATH ?? '', GITLAB_TOKEN: GL_TOKEN, OPSBOT_NO_AUDIT: '1' }, cwd: dir },
        (err, stdout) => res({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout }),
      );
    });
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('ops/app!1');
    expect(out.stdout).toContain('Pipeline #');
  });
});
