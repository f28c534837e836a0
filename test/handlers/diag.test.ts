import { describe, expect, it } from 'vitest';
import { buildDiagBlocks, buildDiagChartUpload } from '../../src/handlers/blocks/diag.js';
import { splitForCodeBlocks } from '../../src/handlers/blocks/text.js';
import { parseDiagArgs } from '../../src/handlers/diag.js';
import { buildHelpMessage } from '../../src/handlers/opsbot.js';
import { analyzeDiag } from '../../src/playbooks/diag/analyze.js';
import { HOST_LINES } from '../../src/playbooks/diag/host-lines.js';
import { validateBlocks } from '../fakes/slack.js';

const defaults = { window: '1h', around: '30m' };

describe('/diag arguments', () => {
  it('takes a VM, project, zone and either --since or --at with --around', () => {
    expect(parseDiagArgs('web-1', defaults)).toEqual({
      ok: true,
      args: { vm: 'web-1', project: null, zone: null, asked: '--since 1h', window: { sinceMs: 3_600_000 } },
    });
    const at = parseDiagArgs(
      'shop-prod/europe-west1-b/db-2 --at 2026-11-20T10:03:00Z --around 15m',
      defaults,
    );
    expect(at).toEqual({
      ok: true,
      args: {
        vm: 'db-2',
        project: 'shop-prod',
        zone: 'europe-west1-b',
        asked: '--at 2026-11-20T10:03:00Z --around 15m',
        window: { at: new Date('2026-11-20T10:03:00Z'), aroundMs: 900_000 },
      },
    });
  });

  it('refuses what cannot be answered, saying why', () => {
    const problem = (text: string) => {
      const r = parseDiagArgs(text, defaults);
      return r.ok ? null : r.problem;
    };
    expect(problem('')).toBe('which VM? Give its name.');
    expect(problem('web-1 --at 2026-11-20T10:03:00Z --since 2h')).toBe(
      '--at replaces --since: give one or the other',
    );
    expect(problem('web-1 --around 10m')).toBe('--around goes with --at');
    expect(problem('web-1 --at yesterday')).toMatch(/^--at takes an ISO time/);
    expect(problem('web-1 --since 43d')).toBe(
      '--since can look back at most 42d (Cloud Monitoring keeps 6 weeks)',
    );
    expect(problem('web-1 --since soon')).toMatch(/^--since takes a duration/);
    expect(problem('Web_1!')).toMatch(/is not a Compute Engine instance name/);
    expect(problem('web-1 --bogus x')).toBe('unknown option --bogus');
  });

  it('is in /opsbot help', () => {
    expect(JSON.stringify(buildHelpMessage().blocks)).toContain('/diag');
  });
});

describe('/diag Block Kit', () => {
  it('stays within Slack limits and escapes evidence, whatever the report holds', () => {
    const hostile = '<!channel> <@U123> <https://evil.example|click> & '.repeat(40);
    const window = { from: new Date('2026-11-20T10:00:00Z'), to: new Date('2026-11-20T11:00:00Z') };
    const guestEvents = Array.from({ length: 30 }, (_, i) => ({
      at: new Date(window.from.getTime() + i * 60_000),
      signal: 'io-error' as const,
      text: `kernel: blk_update_request: I/O error, dev sd${String.fromCharCode(97 + (i % 20))}${i}, ${hostile}`,
      source: 'guest-logs' as const,
      ref: `g${i}`,
      timeInferred: false,
    }));
    const report = analyzeDiag(
      {
        evidence: {
          instance: null,
          instanceName: 'web-1',
          project: 'shop-prod',
          zone: 'europe-west1-b',
          window,
          auditEntries: [],
          guestEvents,
          serialEvents: [],
          sources: [{ name: 'guest-logs', status: 'ok', reason: hostile, items: 30, durationMs: 5 }],
          notes: [hostile],
        },
        metrics: new Map(),
        metricsReport: { name: 'metrics', status: 'failed', reason: hostile, items: 0, durationMs: 1 },
      },
      { now: window.to },
    );
    expect(report.findings.length).toBeGreaterThan(5);
    expect(HOST_LINES.classify(guestEvents[0]?.text ?? '')).toBe('io-error');
    const message = buildDiagBlocks(report);
    expect(validateBlocks([...(message.blocks ?? [])])).toBeNull();
    const sent = JSON.stringify([message.text, message.blocks, buildDiagChartUpload(report)]);
    expect(sent).not.toMatch(/<!channel>|<@U123>|<https:\/\/evil/);
    expect(sent).toContain('&lt;!channel&gt;');
    // The full report the handler threads under the answer, cut the way the handler cuts it.
    const thread = splitForCodeBlocks(message.fullReport, { maxParts: 8 }).parts.join('');
    expect(message.fullReport).toContain('<!channel>');
    expect(thread).not.toMatch(/<!channel>|<@U123>|<https:\/\/evil/);
    expect(thread).toContain('&lt;!channel&gt;');
  });
});
