import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * bin/opsbot.js picks what to run: dist/ when its build stamp is newer than every file under src/, else the
 * TypeScript source through tsx. Checked on a copy of the launcher in a tree whose src/ and dist/ entry points
 * only say which one ran.
 */
const repo = fileURLToPath(new URL('../..', import.meta.url));
let root: string;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'opsbot-bin-'));
  for (const d of ['bin', 'src', 'dist']) mkdirSync(join(root, d));
  copyFileSync(join(repo, 'bin/opsbot.js'), join(root, 'bin/opsbot.js'));
  symlinkSync(join(repo, 'node_modules'), join(root, 'node_modules'));
  writeFileSync(join(root, 'package.json'), '{"type":"module"}\n');
  const entry = (which: string) =>
    `export const runProcessCli = async (): Promise<void> => { process.stdout.write('${which}\\n'); };\n`;
  writeFileSync(join(root, 'src/cli.ts'), entry('src'));
  writeFileSync(join(root, 'dist/cli.js'), entry('dist').replace(': Promise<void>', ''));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const run = (): string =>
  execFileSync(process.execPath, [join(root, 'bin/opsbot.js')], { encoding: 'utf8', timeout: 50_000 }).trim();
const setTime = (path: string, seconds: number): void => utimesSync(join(root, path), seconds, seconds);

describe('bin/opsbot.js', () => {
  it('runs dist/ when the build stamp is newer than src/, the source once src/ changes after the build', () => {
    const t = Math.floor(Date.now() / 1000) - 1000;
    writeFileSync(join(root, 'dist/.build-stamp'), 'x\n');
    setTime('src/cli.ts', t);
    setTime('src', t);
    setTime('dist/.build-stamp', t + 10);
    expect(run()).toBe('dist');
    setTime('src/cli.ts', t + 20); // an edit after the build
    expect(run()).toBe('src');
    rmSync(join(root, 'dist/.build-stamp')); // a build without a stamp cannot be trusted in a checkout
    setTime('src/cli.ts', t);
    expect(run()).toBe('src');
  });
});
