import { execFile } from 'node:child_process';
import { existsSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/**
 * vitest globalSetup: makes dist/ current before any test starts, so every `opsbot` the suites start through
 * bin/opsbot.js runs compiled JavaScript instead of loading tsx and transforming src/ in each of the ~60
 * processes (a clean clone, as CI runs it, has no dist/). When dist/ is already current (built after the last
 * change under src/, the rule bin/opsbot.js applies) nothing is done. Otherwise the project's compiler
 * (TypeScript 7's native `tsc`) builds tsconfig.build.json without type checking (`npm run typecheck` does that):
 * `--noCheck`, and `--noResolve` so it does not read the ~1,700 declaration files of node_modules that only the
 * checker needs (with verbatimModuleSyntax and isolatedModules each file compiles on its own; the module format
 * comes from package.json "type"). The output is the same files, byte for byte, as `npm run build`'s (source
 * maps included), for ~1.8 instead of ~6 CPU-seconds. The build stamp is written last.
 */

const root = fileURLToPath(new URL('../..', import.meta.url));
const srcDir = join(root, 'src');
const distDir = join(root, 'dist');
const stamp = join(distDir, '.build-stamp');

/** bin/opsbot.js's test: the stamp is newer than every file and directory under src/. */
const distIsCurrent = (): boolean => {
  if (!existsSync(join(distDir, 'cli.js')) || !existsSync(stamp)) return false;
  const stampMs = statSync(stamp).mtimeMs;
  const newer = (dir: string): boolean =>
    readdirSync(dir, { withFileTypes: true }).some((e) =>
      e.isDirectory() ? newer(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs > stampMs,
    ) || statSync(dir).mtimeMs > stampMs;
  return !newer(srcDir);
};

/** The `tsc` of the installed typescript package (its bin execs the native compiler). */
const tscBin = (): string =>
  join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');

export const setup = async (): Promise<void> => {
  if (distIsCurrent()) return;
  // Compiled next to dist/ and moved into place at the end, so an interrupted run leaves no half dist/.
  const staging = `${distDir}.test-build-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  try {
    await promisify(execFile)(
      process.execPath,
      [tscBin(), '-p', join(root, 'tsconfig.build.json'), '--noCheck', '--noResolve', '--outDir', staging],
      { cwd: root, maxBuffer: 16 * 1024 * 1024 },
    );
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    // tsc prints its diagnostics (with --noCheck only syntax and emit errors) on stdout.
    const out = (err as { stdout?: string }).stdout ?? '';
    throw new Error(`compiling src/ into dist/ for the tests failed:\n${out || String(err)}`);
  }
  writeFileSync(join(staging, '.build-stamp'), `${new Date().toISOString()} (test build)\n`);
  rmSync(distDir, { recursive: true, force: true });
  renameSync(staging, distDir);
};
