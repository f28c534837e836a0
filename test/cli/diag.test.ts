import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runDiag } from '../../src/cli/diag.js';
import type { CliIo } from '../../src/cli/io.js';
import { pngLayout } from '../../src/playbooks/diag/render-chart.js';
import { decodePng, inkShare } from '../playbooks/diag/png-inspect.js';

/** `opsbot diag` offline: the bundled example (timeSeries.list bodies, syslog, instance), journal exports, bad input. */
const repo = fileURLToPath(new URL('../../', import.meta.url));
const EXAMPLE = ['--metrics', 'examples/diag/metrics.json', '--instance', 'examples/diag/instance.json'];

const run = async (args: string[], cwd = repo) => {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (c: string) => (stdout += c) },
    stderr: { write: (c: string) => (stderr += c) },
    env: { OPSBOT_NO_AUDIT: '1' },
    cwd,
    now: () => new Date('2026-05-04T12:00:00Z'),
  };
  const code = await runDiag(args, io);
  return { code, stdout, stderr };
};

const OOM = 'memory exhausted: the OOM killer killed java (pid 4242) at 10:47:12; memory used 98% from 10:38';

describe('opsbot diag (offline)', () => {
  it('reads the bundled example: the OOM finding, the window of the metrics, and a PNG', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'opsbot-diag-cli-'));
    const png = join(dir, 'chart.png');
    const r = await run(['app-1', ...EXAMPLE, '--syslog', 'examples/diag/syslog', '--json', '--png', png]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out)).toEqual([
      'instance',
      'window',
      'findings',
      'use',
      'events',
      'sources',
      'notes',
      'links',
    ]);
    expect(out.window).toEqual({ from: '2026-05-04T10:00:00.000Z', to: '2026-05-04T11:00:00.000Z' });
    expect(out.findings[0].summary).toBe(OOM);
    expect(out.instance).toMatchObject({
      project: 'example-project',
      zone: 'us-central1-a',
      machineType: 'n2-standard-4',
      vcpus: 4,
    });
    const image = decodePng(readFileSync(png));
    const layout = pngLayout(4);
    expect([image.width, image.height]).toEqual([layout.width, layout.height]);
    for (const box of layout.panels) expect(inkShare(image, box)).toBeGreaterThan(0.02);
  });

  it('runs the same as a real process (node bin/opsbot.js diag ...), as the README shows', () => {
    const dir = mkdtempSync(join(tmpdir(), 'opsbot-diag-cli-'));
    const r = spawnSync(
      process.execPath,
      [
        join(repo, 'bin/opsbot.js'),
        'diag',
        'app-1',
        ...EXAMPLE,
        '--syslog',
        'examples/diag/syslog',
        '--png',
        join(dir, 'diag.png'),
      ],
      {
        cwd: repo,
        env: { PATH: process.env.PATH ?? '', HOME: dir, OPSBOT_NO_AUDIT: '1' },
        encoding: 'utf8',
        timeout: 120_000,
      },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`Verdict   ${OOM}`);
    expect(r.stdout).toContain('Chart written to');
    expect(decodePng(readFileSync(join(dir, 'diag.png'))).width).toBe(pngLayout(4).width);
  }, 150_000);

  it('takes the guest log as a journalctl -o json export (no rsyslog on Debian 12+)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'opsbot-diag-cli-'));
    const journal = readFileSync(join(repo, 'examples/diag/syslog'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => {
        // "May  4 10:47:12 app-1 kernel: [86412.33] message" -> a journald record of the same line.
        const m = /^(\w{3}) +(\d+) (\d\d:\d\d:\d\d) \S+ ([^:[]+)(?:\[(\d+)\])?: (.*)$/.exec(line);
        if (!m) throw new Error(line);
        const at = Date.parse(`2026-05-0${m[2]}T${m[3]}Z`);
        return JSON.stringify({
          __REALTIME_TIMESTAMP: String(at * 1000),
          _TRANSPORT: m[4] === 'kernel' ? 'kernel' : 'syslog',
          SYSLOG_IDENTIFIER: m[4],
          ...(m[5] ? { _PID: m[5] } : {}),
          MESSAGE: m[6],
        });
      })
      .join('\n');
    writeFileSync(join(dir, 'journal.json'), journal);
    const r = await run(['app-1', ...EXAMPLE, '--syslog', join(dir, 'journal.json'), '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).findings[0].summary).toBe(OOM);
  });

  it('--at/--around pick the window; without guest logs the kill is unknown, not invented', async () => {
    const r = await run(['app-1', ...EXAMPLE, '--at', '2026-05-04T10:40:00Z', '--around', '10m', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.window).toEqual({ from: '2026-05-04T10:30:00.000Z', to: '2026-05-04T10:50:00.000Z' });
    expect(out.findings.map((f: { summary: string }) => f.summary)).toEqual([
      'memory utilization: peak 98%, mean 83%; >= 97% from 10:38',
    ]);
    expect(out.events).toEqual([]);
  });

  it('refuses an MQL (timeSeries.query) response with a hint, and malformed files, with exit 2', async () => {
    const mql = await run([
      'app-1',
      '--metrics',
      'test/fixtures/diag/gce2-monitoring-query-cpu-utilization.json',
    ]);
    expect(mql.code).toBe(2);
    expect(mql.stderr).toContain(
      'this is a timeSeries.query (MQL) response; export timeSeries.list responses instead',
    );
    const dir = mkdtempSync(join(tmpdir(), 'opsbot-diag-cli-'));
    writeFileSync(join(dir, 'bad.json'), '{"timeSeries": 3}');
    expect((await run(['app-1', '--metrics', join(dir, 'bad.json')])).code).toBe(2);
    expect((await run(['app-1', '--metrics', join(dir, 'missing.json')])).code).toBe(2);
    expect((await run(['app-1', '--bogus'])).code).toBe(2);
  });
});
