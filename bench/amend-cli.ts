/**
 * `opsbot amend` per run: CPU seconds (user + sys of the CLI process and every child it waited for, as
 * `/usr/bin/time` reports them) and the git processes it started (a `git` wrapper first on the PATH counts
 * them by subcommand; git's own helpers such as git-remote-http are not counted), for a commit added, a commit
 * amended and `--dry-run`, each against the GitLab fake serving a real bare repository over smart HTTP.
 * AMEND_BENCH_RUNS runs per mode (default 7), compared by the median. FAIL when a run fetches or commits more than
 * once (the CLI previews and pushes from one workspace), or --dry-run pushes. Runs bin/opsbot.js as users do (dist/
 * when current, else the sources through tsx: build first for figures comparable to an install). Needs GNU
 * time at /usr/bin/time. `npx tsx bench/amend-cli.ts`.
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createBareRepo } from '../test/fakes/git-repo.js';
import { startFakeGitlab } from '../test/fakes/gitlab.js';
import { median } from './lib/stats.js';

const ROOT = join(fileURLToPath(import.meta.url), '../..');
const TOKEN = 'glpat-bench-amend-0000';
const MODES = { add: [], amend: ['--amend'], dry: ['--dry-run'] } as const;

export interface AmendCliFigures {
  /** Median CPU seconds (user + sys) per run. */
  readonly cpuSeconds: number;
  /** git processes of the first run, by subcommand. */
  readonly git: Readonly<Record<string, number>>;
}

export interface AmendCliBenchResult {
  readonly modes: Record<keyof typeof MODES, AmendCliFigures>;
  /** Every mode fetched and committed once (one workspace per run), and only --dry-run pushed nothing. */
  readonly pass: boolean;
}

export const runAmendCliBench = async (): Promise<AmendCliBenchResult | undefined> => {
  if (!existsSync('/usr/bin/time')) {
    console.log('amend-cli: skipped (no /usr/bin/time)');
    return undefined;
  }
  const runs = Number(process.env.AMEND_BENCH_RUNS ?? 7);
  const repo = await createBareRepo({ 'app.conf': 'name = app\nworkers = 2\n' });
  const gitlab = await startFakeGitlab({
    projects: { 'ops/app': repo },
    tokens: { [TOKEN]: { access: 'write' } },
  });
  const dir = mkdtempSync(join(tmpdir(), 'opsbot-bench-amend-'));
  try {
    const cfg = join(dir, 'opsbot.yaml');
    writeFileSync(
      cfg,
      `forges:\n  gitlab:\n    host: ${gitlab.host}\nchanges:\n  gitAuthor:\n    name: opsbot\n    email: opsbot@example.test\n`,
    );
    writeFileSync(
      join(dir, 'change.patch'),
      '--- a/app.conf\n+++ b/app.conf\n@@ -1,2 +1,2 @@\n name = app\n-workers = 2\n+workers = 4\n',
    );
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    const log = join(dir, 'git.log');
    const realGit = await new Promise<string>((res, rej) =>
      execFile('sh', ['-c', 'command -v git'], (e, out) => (e ? rej(e) : res(out.trim()))),
    );
    writeFileSync(join(bin, 'git'), `#!/bin/sh\necho "$1" >> '${log}'\nexec '${realGit}' "$@"\n`);
    chmodSync(join(bin, 'git'), 0o755);

    const out = {} as Record<keyof typeof MODES, AmendCliFigures>;
    let n = 0;
    for (const [mode, flags] of Object.entries(MODES) as Array<[keyof typeof MODES, readonly string[]]>) {
      const cpu: number[] = [];
      let git: Record<string, number> = {};
      for (let i = 0; i < runs; i++) {
        n += 1;
        await repo.git(['branch', `b${n}`, 'main']);
        await repo.commitToBranch(`b${n}`, { 'x.md': `${n}\n` }, 'X');
        const mr = await gitlab.addMergeRequest('ops/app', { sourceBranch: `b${n}` });
        writeFileSync(log, '');
        const text = await new Promise<string>((res) =>
          execFile(
            '/usr/bin/time',
            [
              '-f',
              'CPU %U %S',
              process.execPath,
              join(ROOT, 'bin/opsbot.js'),
              'amend',
              `ops/app!${mr.iid}`,
              '--patch',
              'change.patch',
              ...flags,
              '--config',
              cfg,
            ],
            {
              cwd: dir,
              env: {
                PATH: `${bin}:${process.env.PATH ?? ''}`,
                HOME: dir,
                GITLAB_TOKEN: TOKEN,
                OPSBOT_NO_AUDIT: '1',
              },
            },
            (_e, stdout, stderr) => res(`${stdout}\n${stderr}`),
          ),
        );
        const m = /CPU ([\d.]+) ([\d.]+)/.exec(text);
        if (!m || !/Pushed|dry run/.test(text)) throw new Error(`amend-cli bench: the run failed:\n${text}`);
        cpu.push(Number(m[1]) + Number(m[2]));
        if (i === 0) {
          git = {};
          for (const sub of readFileSync(log, 'utf8').split('\n').filter(Boolean))
            git[sub] = (git[sub] ?? 0) + 1;
        }
      }
      const total = Object.values(git).reduce((a, b) => a + b, 0);
      out[mode] = { cpuSeconds: median(cpu), git };
      console.log(
        `${mode}: CPU s per run ${cpu.map((c) => c.toFixed(2)).join(' ')} (median ${median(cpu).toFixed(2)}); ${total} git processes: ${JSON.stringify(git)}`,
      );
    }
    const pass = Object.entries(out).every(
      ([mode, f]) =>
        f.git.fetch === 1 && f.git.commit === 1 && (f.git.push ?? 0) === (mode === 'dry' ? 0 : 1),
    );
    return { modes: out, pass };
  } finally {
    await gitlab.close();
    await repo.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
};

if (process.argv[1] === fileURLToPath(import.meta.url)) await runAmendCliBench();
