import { execFile } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  existsSync,
  readdirSync,
  readFileSync,
  realpathSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeSlack, startFakeSlack } from '../fakes/slack.js';
import { BOT_TOKEN, SIGNING_SECRET, tempDir } from './helpers.js';
import { REPO_ROOT, startOpsbotProcess, within } from './opsbot-process.js';

/**
 * The package as users get it: `npm pack` (prepack builds dist/), then the tarball installed in a clean
 * directory with its production dependencies only, and the installed `opsbot` run: --help, the demo on the
 * bundled examples, and `serve`. Installing is offline: the dependencies come from the npm cache that `npm ci`
 * filled, at the versions of package-lock.json (a lockfile for the clean directory is derived from it).
 * It packs a copy of the checkout (everything but node_modules, which is linked, and what the build or a run
 * writes): prepack's build starts by deleting dist/, and in the checkout itself it would pull dist/ from
 * under the `opsbot serve` processes other suites start at the same moment (bin/opsbot.js runs dist/ when
 * it is current).
 */

const run = promisify(execFile);
// npm and the installed bin's `#!/usr/bin/env node` must find this Node (24), not an older system node.
const PATH = `${dirname(process.execPath)}:${process.env.PATH ?? '/usr/bin:/bin'}`;
const ENV = { PATH, HOME: process.env.HOME ?? '/tmp', npm_config_update_notifier: 'false' };

/** Top-level entries of the checkout not copied for packing: installed, built or written by a run. */
const NOT_COPIED = new Set(['node_modules', '.git', 'dist', 'data', 'coverage', '.node']);

const listFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(join(dir, e.name)) : [join(dir, e.name)],
  );

interface PackResult {
  readonly filename: string;
  readonly files: { path: string }[];
}

describe('npm pack -> install in a clean directory -> run', () => {
  const work = tempDir();
  const app = join(work.dir, 'app');
  let pack: PackResult;
  let installed: string;
  let bin: string;
  let fake: FakeSlack | null = null;

  beforeAll(async () => {
    const checkout = join(work.dir, 'checkout');
    cpSync(REPO_ROOT, checkout, {
      recursive: true,
      filter: (path) => {
        const rel = relative(REPO_ROOT, path);
        return !NOT_COPIED.has(rel) && !(rel.endsWith('.tgz') && !rel.includes(sep));
      },
    });
    symlinkSync(realpathSync(join(REPO_ROOT, 'node_modules')), join(checkout, 'node_modules'));
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', work.dir], {
      cwd: checkout,
      env: ENV,
      maxBuffer: 16 * 1024 * 1024,
    });
    // prepack's own output (the build) comes first; the JSON report is the last thing printed.
    pack = (JSON.parse(stdout.slice(stdout.lastIndexOf('\n[') + 1)) as PackResult[])[0] as PackResult;

    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'));
    const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8'));
    const tarball = `file:${pack.filename}`;
    const packages: Record<string, unknown> = {
      '': { name: 'opsbot-install-check', dependencies: { opsbot: tarball } },
      'node_modules/opsbot': {
        version: pkg.version,
        resolved: tarball,
        license: pkg.license,
        dependencies: pkg.dependencies,
        bin: pkg.bin,
        engines: pkg.engines,
      },
    };
    for (const [path, entry] of Object.entries(lock.packages as Record<string, { dev?: boolean }>)) {
      if (path !== '' && !entry.dev) packages[path] = entry; // production dependencies only
    }
    const { mkdirSync } = await import('node:fs');
    mkdirSync(app);
    copyFileSync(join(work.dir, pack.filename), join(app, pack.filename));
    writeFileSync(
      join(app, 'package.json'),
      JSON.stringify({ name: 'opsbot-install-check', private: true, dependencies: { opsbot: tarball } }),
    );
    writeFileSync(
      join(app, 'package-lock.json'),
      JSON.stringify({ name: 'opsbot-install-check', lockfileVersion: 3, requires: true, packages }),
    );
    await run('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--loglevel=error'], {
      cwd: app,
      env: ENV,
      maxBuffer: 16 * 1024 * 1024,
    });
    installed = join(app, 'node_modules', 'opsbot');
    bin = join(app, 'node_modules', '.bin', 'opsbot');
  }, 240_000);

  afterAll(async () => {
    await fake?.close();
    work.cleanup();
  });

  it('packs the build, the bin, config and examples, the license; no sources, tests or source maps', () => {
    const files = pack.files.map((f) => f.path);
    for (const f of [
      'bin/opsbot.js',
      'dist/cli.js',
      'dist/main.js',
      'LICENSE',
      'README.md',
      'package.json',
    ]) {
      expect(files).toContain(f);
    }
    expect(files).toContain('config/opsbot.example.yaml');
    expect(files).toContain('examples/why-reboot/audit.json');
    expect(
      files.filter((f) => /^(src|test|bench|deploy|node_modules|data)\//.test(f) || f.endsWith('.map')),
    ).toEqual([]);
  });

  it('installs without dev dependencies and runs `opsbot --help` from the build', async () => {
    for (const dev of ['tsx', 'vitest', 'typescript', 'node'])
      expect(existsSync(join(app, 'node_modules', dev))).toBe(false);
    expect(existsSync(join(installed, 'src'))).toBe(false);
    const { stdout } = await run(bin, ['--help'], { cwd: app, env: ENV });
    expect(stdout).toContain('Usage: opsbot <command> [options]');
    for (const c of ['serve', 'why-reboot', 'versionlock', 'tf-import']) expect(stdout).toContain(`  ${c}`);
  });

  it('runs the demo on the bundled examples, records it in ./data, and writes nothing into the install', async () => {
    const before = listFiles(installed).map((f) => `${relative(installed, f)} ${statSync(f).mtimeMs}`);
    const ex = join(installed, 'examples', 'why-reboot');
    const { stdout } = await run(
      bin,
      [
        'why-reboot',
        'web-1',
        '--logs',
        join(ex, 'audit.json'),
        '--syslog',
        join(ex, 'syslog'),
        '--serial',
        join(ex, 'serial.txt'),
        '--instance',
        join(ex, 'instance.json'),
      ],
      { cwd: app, env: ENV },
    );
    expect(stdout).toContain('VERDICT: host-error (host error), high confidence');
    expect(stdout).toContain('Google restarted the VM automatically 3 min later');
    expect(existsSync(join(app, 'data', 'opsbot.sqlite'))).toBe(true);
    expect(listFiles(installed).map((f) => `${relative(installed, f)} ${statSync(f).mtimeMs}`)).toEqual(
      before,
    );
  });

  it('serves from the installed package with production dependencies only, and stops on SIGTERM', async () => {
    fake = await startFakeSlack({ token: BOT_TOKEN });
    const bot = startOpsbotProcess(
      ['serve'],
      {
        ...ENV,
        SLACK_BOT_TOKEN: BOT_TOKEN,
        SLACK_SIGNING_SECRET: SIGNING_SECRET,
        SLACK_API_URL: fake.apiUrl,
        PORT: '0',
      },
      { cwd: app, bin },
    );
    try {
      const port = await bot.port();
      await expect.poll(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
      bot.kill('SIGTERM');
      // A generous bound on "exits by itself" (the default drain timeout is 10 s).
      expect(await within(bot.exited, 20_000, 'exit after SIGTERM')).toBe(0);
    } finally {
      bot.kill('SIGKILL');
    }
  });
});
