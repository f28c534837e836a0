import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CliIo } from '../../src/cli/io.js';
import { serveCommand } from '../../src/cli/serve.js';

const runServe = serveCommand(async () => (await import('../../src/main.js')).startOpsbot);

const dir = mkdtempSync(join(tmpdir(), 'opsbot-serve-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const config = (name: string, yaml: string): string => {
  const path = join(dir, name);
  writeFileSync(path, yaml);
  return path;
};

const run = async (args: string[], env: Record<string, string>) => {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (c: string) => (stdout += c) },
    stderr: { write: (c: string) => (stderr += c) },
    env,
    cwd: dir,
    now: () => new Date('2026-05-04T10:00:00Z'),
  };
  const code = await runServe(args, io);
  return { code, stdout, stderr, lines: stderr.trim().split('\n') };
};

const SLACK_ENV = {
  SLACK_BOT_TOKEN: 'xoxb-serve-cli-test-1234',
  SLACK_SIGNING_SECRET: 'serve-cli-signing-secret',
  PORT: '0',
};

describe('opsbot serve', () => {
  it('refuses an unknown config key with exit 2 and one message naming the key', async () => {
    const path = config('typo.yaml', `store:\n  dataDir: ${dir}/data\ngoogle:\n  defaultProjet: shop-prod\n`);
    const { code, stdout, lines } = await run(['--config', path], SLACK_ENV);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^opsbot serve: /);
    expect(lines[0]).toContain('defaultProjet');
    expect(lines[0]).toContain('google');
    expect(lines[0]).toContain(path);
    expect(lines[0]).not.toMatch(/\bat .*\.(ts|js):\d+/);
  });

  it('refuses HTTP mode without SLACK_SIGNING_SECRET with exit 2 and one message naming it', async () => {
    const path = config('http.yaml', `slack:\n  mode: http\nstore:\n  dataDir: ${dir}/data\n`);
    const { SLACK_SIGNING_SECRET: _omitted, ...env } = SLACK_ENV;
    const { code, stdout, lines } = await run(['--config', path], env);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('SLACK_SIGNING_SECRET');
    expect(lines[0]).toContain('http');
  });

  it('takes the config path from OPSBOT_CONFIG when --config is absent', async () => {
    const path = config('env.yaml', 'slack:\n  mode: carrier-pigeon\n');
    const { code, lines } = await run([], { ...SLACK_ENV, OPSBOT_CONFIG: path });
    expect(code).toBe(2);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('slack.mode');
  });

  it('never echoes a secret in the refusal', async () => {
    const { code, stderr } = await run([], { ...SLACK_ENV, SLACK_BOT_TOKEN: 'not-a-bot-token-9876' });
    expect(code).toBe(2);
    expect(stderr).toContain('SLACK_BOT_TOKEN');
    expect(stderr).not.toContain('not-a-bot-token-9876');
  });

  it('--help prints the usage on stdout and exits 0', async () => {
    for (const flag of ['--help', '-h']) {
      const { code, stdout, stderr } = await run([flag], {});
      expect(code).toBe(0);
      expect(stderr).toBe('');
      expect(stdout).toMatch(/^Usage: opsbot serve \[--config FILE\]/);
      expect(stdout).toContain('SLACK_SIGNING_SECRET');
      expect(stdout).toContain('--config FILE');
    }
  });

  it('an unknown flag prints the problem and the usage, exit 2', async () => {
    const { code, stderr } = await run(['--port', '8080'], SLACK_ENV);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^opsbot serve: .*--port/);
    expect(stderr).toContain('Usage: opsbot serve');
  });
});
