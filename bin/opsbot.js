#!/usr/bin/env node
// Runs the compiled dist/ (from `npm run build`) when it is current: in an installed package, or in a source
// checkout whose build stamp (dist/.build-stamp, written by the build) is newer than every file under src/.
// Otherwise, in a source checkout with the tsx dev dependency, runs the TypeScript source, so an edit is never
// shadowed by a stale build. Node's module compile cache is on either way, so a second run skips most of
// the parsing and compiling of the modules it loads.
import { existsSync, readdirSync, statSync } from 'node:fs';
import module from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

module.enableCompileCache?.();

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = join(root, 'src');
const source = join(srcDir, 'cli.ts');
const built = join(root, 'dist', 'cli.js');
const stamp = join(root, 'dist', '.build-stamp');

/** True when dist/ was built after the last change under src/ (or there is no src/ at all). */
const buildIsCurrent = () => {
  if (!existsSync(built)) return false;
  if (!existsSync(srcDir)) return true;
  let stampMs;
  try {
    stampMs = statSync(stamp).mtimeMs;
  } catch {
    return false; // a build without a stamp (older opsbot, or tsc by hand): cannot tell, prefer the source
  }
  const newer = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory() ? newer(path) : statSync(path).mtimeMs > stampMs) return true;
    }
    return statSync(dir).mtimeMs > stampMs; // a file deleted or renamed
  };
  return !newer(srcDir);
};

let entry = null;
if (buildIsCurrent()) {
  entry = built;
} else if (existsSync(source)) {
  try {
    const { register } = await import('tsx/esm/api');
    register();
    entry = source;
  } catch {
    entry = existsSync(built) ? built : null; // dev dependencies not installed: use the build
  }
} else if (existsSync(built)) {
  entry = built;
}
if (entry) {
  await (await import(pathToFileURL(entry).href)).runProcessCli();
} else {
  process.stderr.write('opsbot: no build found; run `npm run build` (or `npm ci` for a source checkout)\n');
  process.exitCode = 1;
}
