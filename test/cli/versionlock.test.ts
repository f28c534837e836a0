import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CliIo } from '../../src/cli/io.js';
import { runVersionlock } from '../../src/cli/versionlock.js';

const run = async (args: string[], cwd: string) => {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (c: string) => (stdout += c) },
    stderr: { write: (c: string) => (stderr += c) },
    env: {},
    cwd,
    now: () => new Date('2024-03-05T10:00:00Z'),
  };
  const code = await runVersionlock(args, io);
  return { code, stdout, stderr };
};

const EL7 = '# pins\n0:elasticsearch-7.9.3-1.*\n0:kibana-7.9.3-1.*\n';

const setup = () => {
  const dir = mkdtempSync(join(tmpdir(), 'opsbot-vl-'));
  writeFileSync(join(dir, 'versionlock.list'), EL7);
  return dir;
};

describe('opsbot versionlock', () => {
  it('prints the unified diff and leaves the file alone without --write', async () => {
    const dir = setup();
    const r = await run(
      ['add', 'elasticsearch', '7.10.2-1', '--file', 'versionlock.list', '--format', 'yum'],
      dir,
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      '--- a/versionlock.list\n+++ b/versionlock.list\n@@ -1,3 +1,3 @@\n # pins\n-0:elasticsearch-7.9.3-1.*\n+0:elasticsearch-7.10.2-1.*\n 0:kibana-7.9.3-1.*\n',
    );
    expect(readFileSync(join(dir, 'versionlock.list'), 'utf8')).toBe(EL7);
  });

  it('--write applies the change atomically, keeps the mode and leaves no temp file', async () => {
    const dir = setup();
    chmodSync(join(dir, 'versionlock.list'), 0o640);
    const r = await run(
      [
        'elasticsearch',
        '7.10.2',
        '--file',
        'versionlock.list',
        '--format',
        'yum',
        '--release-default',
        'elasticsearch=1',
        '--write',
      ],
      dir,
    );
    expect(r.code).toBe(0);
    expect(readFileSync(join(dir, 'versionlock.list'), 'utf8')).toBe(EL7.replace('7.9.3-1', '7.10.2-1'));
    expect(statSync(join(dir, 'versionlock.list')).mode & 0o777).toBe(0o640);
    expect(readdirSync(dir)).toEqual(['versionlock.list']);
    const again = await run(
      ['add', 'elasticsearch', '7.10.2-1', '--file', 'versionlock.list', '--format', 'yum'],
      dir,
    );
    expect(again).toMatchObject({
      code: 0,
      stdout: 'nothing to change: already locked: 0:elasticsearch-7.10.2-1.*\n',
    });
  });

  it('exits 2 with the rule when the input is refused, without touching the file', async () => {
    const dir = setup();
    for (const args of [
      ['add', 'elasticsearch', '7.10.2', '--format', 'yum'],
      ['add', 'elastic search', '7.10.2-1', '--format', 'yum'],
      ['add', 'elasticsearch', '7.10.2-1\n0:evil-1-1.*', '--format', 'yum'],
      ['add', 'elasticsearch', '7.10.2-*', '--format', 'yum'],
      ['add', '../etc/passwd', '1-1', '--format', 'dnf'],
    ]) {
      const r = await run([...args, '--file', 'versionlock.list', '--write'], dir);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^opsbot versionlock: .*(refused|needs the release)/);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect(readFileSync(join(dir, 'versionlock.list'), 'utf8')).toBe(EL7);
    }
    const yumNeedsRelease = await run(
      ['add', 'elasticsearch', '7.10.2', '--file', 'versionlock.list', '--format', 'yum'],
      dir,
    );
    expect(yumNeedsRelease.stderr).toContain(
      'yum versionlock needs the release: give 7.10.2-<release> or set targets.versionlock[].releases.elasticsearch',
    );
  });

  it('refuses path traversal, directories, symlinks, unreadable or malformed files', async () => {
    const dir = setup();
    mkdirSync(join(dir, 'sub'));
    symlinkSync(join(dir, 'versionlock.list'), join(dir, 'link.list'));
    writeFileSync(join(dir, 'bad.yml'), 'a: [1\n');
    writeFileSync(join(dir, 'bin.list'), Buffer.from([0xff, 0xfe, 0x00]));
    const cases: [string[], string][] = [
      [['--file', 'sub/../versionlock.list', '--format', 'yum'], 'path traversal'],
      [['--file', 'sub', '--format', 'yum'], 'not a regular file'],
      [['--file', 'link.list', '--format', 'yum'], 'symbolic link'],
      [['--file', 'bad.yml', '--format', 'ansible-vars', '--key', 'a'], 'not valid YAML'],
      [['--file', 'bin.list', '--format', 'yum'], 'not UTF-8'],
      [['--file', 'missing.yml', '--format', 'ansible-vars', '--key', 'a'], 'no such file'],
      [['--file', 'versionlock.list', '--format', 'apt'], '--format must be one of'],
      [['--file', 'versionlock.list', '--format', 'yum', '--bogus'], "Unknown option '--bogus'"],
    ];
    for (const [opts, message] of cases) {
      const r = await run(['add', 'elasticsearch', '7.10.2-1', ...opts], dir);
      expect(r.code, message).toBe(2);
      expect(r.stderr).toContain(message);
    }
  });

  it('edits an Ansible vars list and lists entries', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'opsbot-vl-'));
    const yml =
      '# group_vars/all.yml\nversionlock_packages:\n  - elasticsearch-7.10.2-1  # pinned\n  - kibana-7.10.2-1\n';
    writeFileSync(join(dir, 'all.yml'), yml);
    const r = await run(
      [
        'remove',
        'kibana',
        '--file',
        'all.yml',
        '--format',
        'ansible-vars',
        '--key',
        'versionlock_packages',
        '--write',
      ],
      dir,
    );
    expect(r.code).toBe(0);
    expect(readFileSync(join(dir, 'all.yml'), 'utf8')).toBe(yml.replace('  - kibana-7.10.2-1\n', ''));
    const l = await run(
      ['list', '--file', 'all.yml', '--format', 'ansible-vars', '--key', 'versionlock_packages'],
      dir,
    );
    expect(l).toMatchObject({ code: 0, stdout: '3: elasticsearch-7.10.2-1\n' });
  });

  it('--help answers with examples', async () => {
    const r = await run(['--help'], '/');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      'opsbot versionlock add elasticsearch 7.10.2-1 --file versionlock.list --format yum',
    );
    expect(r.stdout).toContain('--release-default');
  });
});
