#!/usr/bin/env node
// In a source checkout (src/ and the tsx dev dependency present) runs the TypeScript source, so an edit is
// never shadowed by a stale build; in an installed package (no src/, or dev dependencies omitted) runs the
// compiled dist/ from `npm run build`.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'src', 'cli.ts');
const built = join(root, 'dist', 'cli.js');

let register = null;
if (existsSync(source)) {
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    register = null; // dev dependencies not installed: use the build
  }
}
if (register) {
  register();
  await (await import(pathToFileURL(source).href)).runProcessCli();
} else if (existsSync(built)) {
  await (await import(pathToFileURL(built).href)).runProcessCli();
} else {
  process.stderr.write('opsbot: no build found; run `npm run build` (or `npm ci` for a source checkout)\n');
  process.exitCode = 1;
}
