import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type ts from 'typescript';

/**
 * vitest globalSetup: makes dist/ current before any test starts, so every `opsbot` the suites start through
 * bin/opsbot.js runs compiled JavaScript instead of loading tsx and transforming src/ in each of the ~60
 * processes (a clean clone, as CI runs it, has no dist/). When dist/ is already current (built after the last
 * change under src/, the rule bin/opsbot.js applies) nothing is done. Otherwise each src/ file is compiled with
 * the project's compiler options (`ts.transpileModule`: the same JavaScript as `npm run build`, without type
 * checking, which `npm run typecheck` does; no source maps), then the build stamp is written last.
 */

const root = fileURLToPath(new URL('../..', import.meta.url));
const srcDir = join(root, 'src');
const distDir = join(root, 'dist');
const stamp = join(distDir, '.build-stamp');

const filesBelow = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesBelow(join(dir, e.name)) : [join(dir, e.name)],
  );

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

const compilerOptions = (typescript: typeof ts): ts.CompilerOptions => {
  const configPath = join(root, 'tsconfig.build.json');
  const parsed = typescript.parseJsonConfigFileContent(
    typescript.readConfigFile(configPath, (p) => typescript.sys.readFile(p)).config,
    typescript.sys,
    root,
    undefined,
    configPath,
  );
  // Every file is an ES module (package.json "type": "module"), which NodeNext decides from package.json; a
  // file compiled on its own has no package scope, so ESNext says it. Import specifiers are kept as written.
  return {
    ...parsed.options,
    module: typescript.ModuleKind.ESNext,
    moduleResolution: typescript.ModuleResolutionKind.Bundler,
    sourceMap: false,
    inlineSourceMap: false,
    declaration: false,
  };
};

export const setup = async (): Promise<void> => {
  if (distIsCurrent()) return;
  const typescript = (await import('typescript')).default; // only loaded when there is something to compile
  const options = compilerOptions(typescript);
  // Compiled next to dist/ and moved into place at the end, so an interrupted run leaves no half dist/.
  const staging = `${distDir}.test-build-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  for (const file of filesBelow(srcDir)) {
    const rel = relative(srcDir, file);
    const out = join(staging, rel.replace(/\.ts$/, '.js'));
    mkdirSync(dirname(out), { recursive: true });
    if (!file.endsWith('.ts')) {
      writeFileSync(out, readFileSync(file));
      continue;
    }
    const { outputText } = typescript.transpileModule(readFileSync(file, 'utf8'), {
      compilerOptions: options,
      fileName: file,
    });
    writeFileSync(out, outputText);
  }
  writeFileSync(join(staging, '.build-stamp'), `${new Date().toISOString()} (test build)\n`);
  rmSync(distDir, { recursive: true, force: true });
  renameSync(staging, distDir);
};
