import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { CliIo } from '../../../src/cli/io.js';
import { runWhyReboot } from '../../../src/cli/why-reboot.js';
import { isJournalExport, scanJournalFile } from '../../../src/playbooks/why-reboot/journal.js';

/**
 * `journalctl -o json` exports as guest logs: Debian 12 and later images ship no rsyslog, so the journal is
 * all there is to hand over. The fixture is a `sudo reboot` on such an image, as journald exports it
 * (compact JSON per line, microsecond `__REALTIME_TIMESTAMP` strings, one MESSAGE as a byte array).
 */
const FIXTURE = fileURLToPath(new URL('../../fixtures/journal/debian12-guest-reboot.json', import.meta.url));

const run = async (args: string[], cwd: string) => {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (c: string) => (stdout += c) },
    stderr: { write: (c: string) => (stderr += c) },
    env: { OPSBOT_NO_AUDIT: '1' },
    cwd,
    now: () => new Date('2026-11-27T12:00:00Z'),
  };
  return { code: await runWhyReboot(args, io), stdout: () => stdout, stderr: () => stderr };
};

describe('journalctl -o json exports', () => {
  it('are told apart from syslog text, gzip or not', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'opsbot-journal-'));
    const gz = join(dir, 'journal.json.gz');
    writeFileSync(gz, gzipSync(readFileSync(FIXTURE)));
    const syslog = join(dir, 'messages');
    writeFileSync(syslog, 'Nov 20 10:00:00 web-2 kernel: Linux version 6.1.0\n');
    expect(await isJournalExport(FIXTURE)).toBe(true);
    expect(await isJournalExport(gz)).toBe(true);
    expect(await isJournalExport(syslog)).toBe(false);
  });

  it('become the syslog lines they stand for, classified by the same rules', async () => {
    const result = await scanJournalFile(FIXTURE);
    expect(result.linesScanned).toBe(10);
    expect(result.events.map((e) => [e.at.toISOString(), e.signal])).toEqual([
      ['2026-11-20T10:15:02.123Z', 'reboot-request'], // sudo ... COMMAND=/usr/sbin/reboot
      ['2026-11-20T10:15:02.123Z', 'reboot-request'], // systemd-logind[612]: System is rebooting.
      ['2026-11-20T10:15:05.123Z', 'reboot-request'], // Reached target reboot.target
      ['2026-11-20T10:15:05.123Z', 'shutdown'], // Journal stopped
      ['2026-11-20T10:15:31.123Z', 'boot'],
      ['2026-11-20T10:15:31.123Z', 'boot'],
    ]);
    expect(result.events[1]?.text).toBe('systemd-logind[612]: System is rebooting.');
    expect(result.events[4]?.text).toMatch(/^kernel: Linux version 6\.1\.0-27-cloud-amd64/);
    expect(result.events[0]?.ref).toBe('debian12-guest-reboot.json:3');
  });

  it('explain a reboot from inside the guest with why-reboot --syslog, and with --logs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'opsbot-journal-'));
    copyFileSync(FIXTURE, join(dir, 'journal.json'));
    writeFileSync(join(dir, 'journal.json.gz'), gzipSync(readFileSync(FIXTURE)));
    for (const args of [
      ['--syslog', 'journal.json'],
      ['--syslog', 'journal.json.gz'],
      ['--logs', 'journal.json'],
    ]) {
      const r = await run(['web-2', ...args, '--json'], dir);
      expect(r.stderr()).toBe('');
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout());
      expect(out.verdict.cause, args.join(' ')).toBe('guest-reboot');
      expect(out.verdict.bootAt).toBe('2026-11-20T10:15:31.123Z');
    }
  });

  it('honour --since/--until on a streamed export', async () => {
    const result = await scanJournalFile(FIXTURE, {
      window: { from: new Date('2026-11-20T10:15:04Z'), to: new Date('2026-11-20T10:15:10Z') },
    });
    expect(result.events.map((e) => e.signal)).toEqual(['reboot-request', 'shutdown']);
  });
});
