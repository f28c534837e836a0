// biome-ignore-all lint/suspicious/noTemplateCurlyInString: HCL/shell template sequences are the test data here
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CliIo } from '../../src/cli/io.js';
import { runTfImport } from '../../src/cli/tf-import.js';

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
  return { code: await runTfImport(args, io), stdout, stderr };
};

describe('opsbot tf-import', () => {
  it('creates the imports file on --write and shows it as a new file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'opsbot-tf-'));
    const args = [
      'google_compute_instance.web-1',
      'projects/acme/zones/europe-west1-b/instances/web-1',
      '--file',
      'imports.tf',
    ];
    const dry = await run(args, dir);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toBe(
      '--- /dev/null\n+++ b/imports.tf\n@@ -0,0 +1,4 @@\n+import {\n+  to = google_compute_instance.web-1\n+  id = "projects/acme/zones/europe-west1-b/instances/web-1"\n+}\n',
    );
    expect(readdirSync(dir)).toEqual([]);
    expect((await run([...args, '--write'], dir)).code).toBe(0);
    expect(readFileSync(join(dir, 'imports.tf'), 'utf8')).toContain('to = google_compute_instance.web-1');
    // same import again: nothing to change; same address with another id: refused
    expect(await run(args, dir)).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^nothing to change: /),
    });
    const other = await run(
      ['google_compute_instance.web-1', 'other-id', '--file', 'imports.tf', '--write'],
      dir,
    );
    expect(other.code).toBe(2);
    expect(other.stderr).toContain('already in the file (line 1');
  });

  it('escapes the id and refuses injection without touching the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'opsbot-tf-'));
    writeFileSync(join(dir, 'imports.tf'), '# imports\n');
    const ok = await run(['aws_s3_bucket.b', 'a"b${c}', '--file', 'imports.tf'], dir);
    expect(ok.stdout).toContain('+  id = "a\\"b$${c}"\n');
    for (const args of [
      ['aws_s3_bucket.b', 'x"\n}\nresource "x" "y" {'],
      ['data.aws_s3_bucket.b', 'x'],
      ['aws_s3_bucket.b\nresource', 'x'],
      ['aws_s3_bucket.b', 'x', '--file', '../imports.tf'],
    ]) {
      const r = await run(
        [...args, '--file', args[2] === '--file' ? (args[3] as string) : 'imports.tf', '--write'],
        dir,
      );
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^opsbot tf-import: .*refused/);
      expect(readFileSync(join(dir, 'imports.tf'), 'utf8')).toBe('# imports\n');
    }
  });

  it('usage errors exit 2, --help exits 0 with examples', async () => {
    expect((await run(['only-one'], '/')).code).toBe(2);
    expect((await run(['a.b', 'c'], '/')).stderr).toContain('--file PATH is required');
    const h = await run(['--help'], '/');
    expect(h.code).toBe(0);
    expect(h.stdout).toContain('Examples:');
  });
});
