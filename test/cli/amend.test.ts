import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBareRepo, type GitRepo } from '../fakes/git-repo.js';
import { type FakeGithub, startFakeGithub } from '../fakes/github.js';
import { type FakeGitlab, startFakeGitlab } from '../fakes/gitlab.js';

/**
 * `opsbot amend` as users run it (bin/opsbot.js in a child process) against the forge fakes, which serve
 * real bare repositories over git's smart HTTP. `git` on the PATH is wrapped (every git the CLI starts records
 * its argument list); the token tests also read /proc/<pid>/cmdline of every process started while the CLI
 * runs, so git's own helpers (git-remote-http) are checked too, and afterwards every file left under the temp
 * and data directories.
 */

const GL_TOKEN = 'glpat-AMENDcliSECRET-7f3a9c';
const root = resolve(fileURLToPath(import.meta.url), '../../..');
const PATCH = `--- a/app.conf
+++ b/app.conf
@@ -1,2 +1,2 @@
 name = app
-workers = 2
+workers = 4
`;

let gitlab: FakeGitlab;
let github: FakeGithub;
let glRepo: GitRepo;
let ghRepo: GitRepo;
let dir: string;
let cfg: string;
let binDir: string;
let argvLog: string;
let appKey: string;

beforeAll(async () => {
  glRepo = await createBareRepo({ 'app.conf': 'name = app\nworkers = 2\n' });
  ghRepo = await createBareRepo({ 'app.conf': 'name = app\nworkers = 2\n' });
  gitlab = await startFakeGitlab({
    projects: { 'ops/app': glRepo },
    tokens: { [GL_TOKEN]: { access: 'write' } },
  });
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  appKey = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  github = await startFakeGithub({
    repos: { 'acme/web': ghRepo },
    apps: [
      {
        appId: 77,
        installationId: 88,
        publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      },
    ],
  });
  dir = mkdtempSync(join(tmpdir(), 'opsbot-cli-amend-'));
  cfg = join(dir, 'opsbot.yaml');
  writeFileSync(
    cfg,
    `forges:\n  gitlab:\n    host: ${gitlab.host}\n  github:\n    baseUrl: ${github.baseUrl}\n    appId: 77\n    installationId: 88\nstore:\n  dataDir: ${join(dir, 'data')}\nchanges:\n  gitAuthor:\n    name: opsbot\n    email: opsbot@example.test\n`,
  );
  writeFileSync(join(dir, 'change.patch'), PATCH);
  // `git` on the PATH records every argument list it is started with, then runs the real git.
  binDir = join(dir, 'bin');
  mkdirSync(binDir);
  argvLog = join(dir, 'git-argv.log');
  const realGit = await new Promise<string>((res, rej) =>
    execFile('sh', ['-c', 'command -v git'], (e, out) => (e ? rej(e) : res(out.trim()))),
  );
  writeFileSync(
    join(binDir, 'git'),
    `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a" >> '${argvLog}'; done\necho '--' >> '${argvLog}'\nexec '${realGit}' "$@"\n`,
  );
  chmodSync(join(binDir, 'git'), 0o755);
});

afterAll(async () => {
  await Promise.all([gitlab?.close(), github?.close(), glRepo?.cleanup(), ghRepo?.cleanup()]);
  rmSync(dir, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Every process command line seen while the CLI ran (NUL-separated argv joined by spaces), when watched. */
  cmdlines: string[];
  watched: boolean;
  tmp: string;
}

const pids = (): string[] => readdirSync('/proc').filter((name) => /^\d+$/.test(name));

/**
 * The command lines in /proc, now, of every process not in `before` (the processes that already ran when the
 * CLI was started, which cannot be the CLI or anything it started; reading only the new ones keeps a scan
 * every 2 ms cheap).
 */
const scanProc = (before: ReadonlySet<string>): string[] => {
  const out: string[] = [];
  for (const pid of pids()) {
    if (before.has(pid)) continue;
    try {
      out.push(readFileSync(`/proc/${pid}/cmdline`).toString('utf8').split('\0').join(' '));
    } catch {
      /* exited */
    }
  }
  return out;
};

/**
 * Runs the CLI; `watchProcesses` scans /proc every 2 ms meanwhile (for the token checks only: it costs the
 * test process CPU for as long as the CLI runs).
 */
const runCli = async (
  args: string[],
  env: Record<string, string>,
  {
    watchProcesses = false,
    onSpawn,
  }: {
    watchProcesses?: boolean;
    /** The CLI's process, started in a process group of its own (a terminal's foreground job). */
    onSpawn?: (child: ChildProcess) => void;
  } = {},
): Promise<Run> => {
  const tmp = mkdtempSync(join(dir, 'tmp-'));
  const cmdlines: string[] = [];
  let done = false;
  const before = new Set(pids());
  const child = spawn(process.execPath, [join(root, 'bin/opsbot.js'), 'amend', ...args, '--config', cfg], {
    cwd: dir,
    env: { PATH: `${binDir}:${process.env.PATH ?? ''}`, HOME: dir, TMPDIR: tmp, ...env },
    detached: onSpawn !== undefined,
  });
  onSpawn?.(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((res) => child.on('close', (c) => res(c)));
  // Watch every process started while the CLI runs (git children come and go: scan often, without starving the
  // machine; the git wrapper above records every direct spawn regardless).
  const watch = (async () => {
    while (watchProcesses && !done) {
      for (const c of scanProc(before)) if (c.includes('git')) cmdlines.push(c);
      await new Promise((r) => setTimeout(r, 2));
    }
  })();
  const code = await exited;
  done = true;
  await watch;
  return { code, stdout, stderr, cmdlines, watched: watchProcesses, tmp };
};

/** Every file below `d`, with its content. */
const filesBelow = (d: string): Array<{ path: string; content: Buffer }> => {
  const out: Array<{ path: string; content: Buffer }> = [];
  for (const name of readdirSync(d)) {
    const p = join(d, name);
    const st = statSync(p);
    if (st.isDirectory()) out.push(...filesBelow(p));
    else out.push({ path: p, content: readFileSync(p) });
  }
  return out;
};

/** The git subcommand of every invocation the wrapper recorded since the log was emptied, in order. */
const gitCommands = (): string[] =>
  readFileSync(argvLog, 'utf8')
    .split('\n--\n')
    .map((inv) => inv.split('\n').find((a) => a !== '' && !a.startsWith('-')) ?? '')
    .filter(Boolean);

/** The commit the preview announced (`The new commit: <sha>`). */
const previewedCommit = (stdout: string): string =>
  /^The new commit: ([0-9a-f]{40})$/m.exec(stdout)?.[1] ?? '';

const forms = (token: string) => [
  token,
  Buffer.from(`oauth2:${token}`).toString('base64'),
  Buffer.from(`x-access-token:${token}`).toString('base64'),
];

const expectNoToken = (run: Run, token: string) => {
  expect(run.watched).toBe(true);
  const argv = readFileSync(argvLog, 'utf8');
  for (const t of forms(token)) {
    expect(run.stdout).not.toContain(t);
    expect(run.stderr).not.toContain(t);
    expect(argv).not.toContain(t);
    for (const c of run.cmdlines) expect(c).not.toContain(t);
    for (const f of filesBelow(dir)) expect(f.content.includes(t), f.path).toBe(false);
  }
  // The temporary workspace is gone (tsx and Node's compile cache keep their own caches there; compiled code only).
  expect(readdirSync(run.tmp).filter((n) => !n.startsWith('tsx-') && n !== 'node-compile-cache')).toEqual([]);
};

describe('opsbot amend', () => {
  it('--help prints the usage and exits 0', async () => {
    const r = await runCli(['--help'], {});
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: opsbot amend <mr> --patch FILE');
    expect(r.stdout).toContain('--force-with-lease');
  });

  it('pushes a commit onto a GitLab MR (exit 0) without the token in argv, /proc, logs or files left behind', async () => {
    writeFileSync(argvLog, '');
    await glRepo.git(['branch', 'tune', 'main']);
    const head = await glRepo.commitToBranch('tune', { 'tune.md': 'tuning notes\n' }, 'Tune');
    const mr = await gitlab.addMergeRequest('ops/app', { sourceBranch: 'tune' });
    const r = await runCli(
      [`ops/app!${mr.iid}`, '--patch', 'change.patch', '--message', 'More workers'],
      { GITLAB_TOKEN: GL_TOKEN },
      { watchProcesses: true },
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`at ${head}`);
    expect(r.stdout).toContain('+workers = 4');
    const now = (await glRepo.revParse('refs/heads/tune')) as string;
    expect(r.stdout).toContain(`Pushed ${now}`);
    expect((await glRepo.commitInfo(now))?.parents).toEqual([head]);
    expect(mr.notes).toHaveLength(1);
    // The token did reach the server, as basic auth: the checks below can fail.
    expect(gitlab.gitPasswords).toContain(GL_TOKEN);
    expect(readFileSync(argvLog, 'utf8')).toContain('push');
    expect(r.cmdlines.some((c) => c.includes('remote-http') || c.includes('git'))).toBe(true);
    expectNoToken(r, GL_TOKEN);
  });

  it('pushes the very commit it previewed, made as an approved /amend makes it, from one fetch and one commit', async () => {
    writeFileSync(argvLog, '');
    await glRepo.git(['branch', 'same', 'main']);
    const head = await glRepo.commitToBranch('same', { 'same.md': 'notes\n' }, 'Same');
    const mr = await gitlab.addMergeRequest('ops/app', { sourceBranch: 'same' });
    const r = await runCli(
      [`ops/app!${mr.iid}`, '--patch', 'change.patch', '--message', 'More workers', '--reason', 'load'],
      { GITLAB_TOKEN: GL_TOKEN },
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const now = (await glRepo.revParse('refs/heads/same')) as string;
    // The commit named in the preview is the one on the branch, and its diff is the diff shown.
    expect(previewedCommit(r.stdout)).toBe(now);
    expect(r.stdout).toContain(`Pushed ${now}`);
    const shown = r.stdout.slice(r.stdout.indexOf('\n\n') + 2, r.stdout.indexOf('\nPushed '));
    expect(shown).toBe(await glRepo.git(['diff', '--no-color', head, now]));
    // Message and trailers as the apply makes them (no Approved-by from a terminal), and the note.
    expect((await glRepo.commitInfo(now))?.message).toBe(
      `More workers\n\nRequested-by: cli:${userInfo().username}\n`,
    );
    expect(mr.notes.at(-1)?.body).toContain(`added commit ${now.slice(0, 12)}`);
    expect(mr.notes.at(-1)?.body).toContain('Why: load');
    // One workspace: one init, one fetch, one commit, one push.
    const cmds = gitCommands();
    for (const c of ['init', 'fetch', 'commit', 'push'])
      expect(
        cmds.filter((x) => x === c),
        c,
      ).toHaveLength(1);
  });

  /**
   * Someone pushes to the branch after the CLI's preview: as its push starts (before git reads the branch for it:
   * a `--force` push would overwrite theirs), or as its pack arrives (the forge's compare-and-swap refuses it).
   */
  it.each([
    ['add', 'beforeNextPushStarts'],
    ['amend', 'beforeNextPushStarts'],
    ['amend', 'beforeNextPush'],
  ] as const)(
    '%s, a push racing the CLI (%s) is kept: exit 2 with who pushed what, nothing of ours on the branch',
    async (mode, when) => {
      const branch = `race-${mode}-${when}`;
      await glRepo.git(['branch', branch, 'main']);
      const head = await glRepo.commitToBranch(branch, { 'race.md': 'x\n' }, 'Race base');
      const mr = await gitlab.addMergeRequest('ops/app', { sourceBranch: branch });
      let theirs = '';
      gitlab[when](async () => {
        theirs = await glRepo.commitToBranch(branch, { 'theirs.md': 'mine\n' }, 'Their fix');
      });
      const r = await runCli(
        [`ops/app!${mr.iid}`, '--patch', 'change.patch', ...(mode === 'amend' ? ['--amend'] : [])],
        { GITLAB_TOKEN: GL_TOKEN },
      );
      expect(theirs).not.toBe('');
      expect(r.stdout).toContain(`at ${head}`);
      expect(r.stderr).toContain(
        `${branch} moved since the preview (${head.slice(0, 12)}); nothing was pushed`,
      );
      expect(r.stderr).toContain(`${theirs.slice(0, 12)} `);
      expect(r.stderr).toContain('Their fix');
      expect(r.code).toBe(2);
      expect(await glRepo.revParse(`refs/heads/${branch}`)).toBe(theirs);
      expect((await glRepo.commitInfo(theirs))?.parents).toEqual([head]);
      // Our commit is on no ref (git may have received its objects before refusing the update).
      const ours = previewedCommit(r.stdout);
      expect(ours).not.toBe('');
      const refsWithOurs = await glRepo
        .git(['for-each-ref', '--contains', ours])
        .catch((e: unknown) => (/no such commit/.test(String(e)) ? '' : Promise.reject(e)));
      expect(refsWithOurs).toBe('');
      expect(mr.notes).toHaveLength(0);
      expect(r.stdout).not.toContain('Pushed');
    },
  );

  it.each(['add', 'amend'] as const)(
    '%s, the branch deleted between the preview and the push: not recreated, exit 2, nothing pushed',
    async (mode) => {
      const branch = `gone-${mode}`;
      await glRepo.git(['branch', branch, 'main']);
      const head = await glRepo.commitToBranch(branch, { 'gone.md': 'x\n' }, 'Gone base');
      const mr = await gitlab.addMergeRequest('ops/app', { sourceBranch: branch });
      let deleted = false;
      gitlab.beforeNextPushStarts(async () => {
        await glRepo.git(['update-ref', '-d', `refs/heads/${branch}`]);
        deleted = true;
      });
      const r = await runCli(
        [`ops/app!${mr.iid}`, '--patch', 'change.patch', ...(mode === 'amend' ? ['--amend'] : [])],
        { GITLAB_TOKEN: GL_TOKEN },
      );
      expect(deleted).toBe(true);
      expect(r.stdout).toContain(`at ${head}`);
      expect(r.stderr).toContain(`the branch ${branch} no longer exists in ops/app`);
      expect(r.code).toBe(2);
      expect(await glRepo.git(['for-each-ref', `refs/heads/${branch}`])).toBe('');
      expect(mr.notes).toHaveLength(0);
    },
  );

  it('Ctrl-C during the push: git stops, nothing is pushed, the workspace is removed (exit 1)', async () => {
    await glRepo.git(['branch', 'ctrl-c', 'main']);
    const head = await glRepo.commitToBranch('ctrl-c', { 'c.md': 'x\n' }, 'Base');
    const mr = await gitlab.addMergeRequest('ops/app', { sourceBranch: 'ctrl-c' });
    let cli: ChildProcess | undefined;
    // The push has started (git is waiting for the forge): Ctrl-C, as a terminal sends it to the whole job
    // (the CLI and its git processes); the forge answers only once the CLI has exited.
    gitlab.beforeNextPushStarts(async () => {
      const proc = cli as ChildProcess;
      const gone = new Promise((res) => (proc.exitCode !== null ? res(null) : proc.once('exit', res)));
      process.kill(-(proc.pid as number), 'SIGINT');
      await gone;
    });
    const r = await runCli(
      [`ops/app!${mr.iid}`, '--patch', 'change.patch'],
      { GITLAB_TOKEN: GL_TOKEN },
      { onSpawn: (c) => (cli = c) },
    );
    expect(r.stdout).toContain(`at ${head}`);
    expect(r.stderr).toContain('interrupted during the push');
    expect(r.code).toBe(1);
    expect(await glRepo.revParse('refs/heads/ctrl-c')).toBe(head);
    expect(mr.notes).toHaveLength(0);
    expect(readdirSync(r.tmp).filter((n) => !n.startsWith('tsx-') && n !== 'node-compile-cache')).toEqual([]);
  });

  it('--dry-run shows the preview and pushes nothing (exit 0)', async () => {
    writeFileSync(argvLog, '');
    await ghRepo.git(['branch', 'gh-dry', 'main']);
    const head = await ghRepo.commitToBranch('gh-dry', { README: 'x\n' }, 'Readme');
    const pr = github.addPull('acme/web', { head: 'gh-dry' });
    const dry = await runCli(
      [`acme/web#${pr.number}`, '--patch', 'change.patch', '--dry-run'],
      { GITHUB_APP_PRIVATE_KEY: appKey },
      { watchProcesses: true },
    );
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(`at ${head}`);
    expect(dry.stdout).toContain('+workers = 4');
    expect(dry.stdout).toContain('dry run: nothing pushed');
    expect(await ghRepo.revParse('refs/heads/gh-dry')).toBe(head);
    // No push was even tried, the previewed commit never reached the forge, no comment, no workspace left.
    expect(gitCommands()).toContain('fetch');
    expect(gitCommands()).not.toContain('push');
    expect(previewedCommit(dry.stdout)).not.toBe('');
    expect(await ghRepo.readObject(previewedCommit(dry.stdout))).toBeNull();
    expect(pr.comments).toHaveLength(0);
    for (const t of github.issuedTokens) expectNoToken(dry, t);
  });

  it('amends a GitHub PR with the App installation token, which never shows', async () => {
    writeFileSync(argvLog, '');
    await ghRepo.git(['branch', 'gh-tune', 'main']);
    const head = await ghRepo.commitToBranch('gh-tune', { README: 'x\n' }, 'Readme');
    const pr = github.addPull('acme/web', { head: 'gh-tune' });
    const r = await runCli(
      [`acme/web#${pr.number}`, '--patch', 'change.patch', '--amend'],
      { GITHUB_APP_PRIVATE_KEY: appKey },
      { watchProcesses: true },
    );
    expect(r.code).toBe(0);
    const now = (await ghRepo.revParse('refs/heads/gh-tune')) as string;
    expect(now).not.toBe(head);
    expect(previewedCommit(r.stdout)).toBe(now);
    expect((await ghRepo.commitInfo(now))?.parents).toEqual((await ghRepo.commitInfo(head))?.parents);
    expect((await ghRepo.commitInfo(now))?.message).toBe(
      `Readme\n\nRequested-by: cli:${userInfo().username}\n`,
    );
    expect(github.issuedTokens.length).toBeGreaterThan(0);
    expect(github.gitPasswords.some((p) => github.issuedTokens.includes(p))).toBe(true);
    for (const t of github.issuedTokens) expectNoToken(r, t);
  });

  /** An MR whose branch set workers to 8: the test patch (2 -> 4) does not apply to it. */
  const conflictingMr = async (branch: string) => {
    await glRepo.git(['branch', branch, 'main']);
    await glRepo.commitToBranch(branch, { 'app.conf': 'name = app\nworkers = 8\n' }, 'Eight');
    return gitlab.addMergeRequest('ops/app', { sourceBranch: branch });
  };

  it('exit 2 for a diff that does not apply, with the hunk', async () => {
    const mr = await conflictingMr('other');
    const bad = await runCli([`ops/app!${mr.iid}`, '--patch', 'change.patch'], { GITLAB_TOKEN: GL_TOKEN });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('does not apply');
    expect(bad.stderr).toContain('-workers = 2');
  });

  it('exit 1 for a token the forge refuses, and the token shows nowhere', async () => {
    const mr = await conflictingMr('denied');
    const wrong = 'glpat-WRONG-token-0000';
    writeFileSync(argvLog, '');
    const denied = await runCli(
      [`ops/app!${mr.iid}`, '--patch', 'change.patch'],
      { GITLAB_TOKEN: wrong },
      { watchProcesses: true },
    );
    expect(denied.code).toBe(1);
    expectNoToken(denied, wrong);
  });

  it('exit 2 for a merged MR', async () => {
    const mr = await conflictingMr('merged');
    gitlab.setMergeRequestState('ops/app', mr.iid, 'merged', 'dave');
    const merged = await runCli([`ops/app!${mr.iid}`, '--patch', 'change.patch'], { GITLAB_TOKEN: GL_TOKEN });
    expect(merged.code).toBe(2);
    expect(merged.stderr).toContain('is merged');
  });
});
