import { describe, expect, it } from 'vitest';
import {
  buildWhyRebootBlocks,
  buildWhyRebootProgressBlocks,
  MAX_BLOCKS,
  MAX_HEADER_TEXT,
  MAX_SECTION_TEXT,
} from '../../../src/handlers/blocks/why-reboot.js';
import type { Restart, WhyRebootReport } from '../../../src/playbooks/why-reboot/types.js';

type AnyBlock = { type: string; text?: { text: string }; elements?: { text?: unknown; url?: string }[] };

const restart = (i: number, evidenceLines: number, lineLength: number): Restart => ({
  at: new Date(Date.UTC(2026, 4, 3, 23, 0) - i * 3_600_000).toISOString(),
  bootAt: null,
  cause: 'host-error',
  confidence: 'high',
  actor: null,
  downtimeSeconds: 192,
  summary: `Compute Engine host error number ${i} <with> & markup; ${'x'.repeat(500)}`,
  evidence: Array.from({ length: evidenceLines }, (_, j) => ({
    source: 'syslog-file' as const,
    at: '2026-05-03T23:31:40.000Z',
    text: `line ${j} ${'y'.repeat(lineLength)}`,
  })),
  nextSteps: Array.from({ length: 30 }, (_, j) => `step ${j} ${'z'.repeat(200)}`),
});

const report = (restarts: Restart[], timeline = 0, notes = 0): WhyRebootReport => ({
  instance: {
    name: 'web-1',
    project: 'example-project',
    zone: 'us-central1-a',
    id: '1',
    status: 'RUNNING',
    lastStartTimestamp: null,
    lastStopTimestamp: null,
  },
  window: { from: '2026-04-26T23:35:58.000Z', to: '2026-05-03T23:35:58.000Z' },
  restarts,
  verdict: restarts[0] ?? { cause: 'no-restart', confidence: 'high', summary: 'No restart of web-1.' },
  timeline: Array.from({ length: timeline }, (_, i) => ({
    at: new Date(Date.UTC(2026, 4, 3) - i * 1000).toISOString(),
    source: 'audit-logs' as const,
    text: `event ${i} ${'t'.repeat(300)}`,
    kind: 'platform' as const,
  })),
  sources: [
    { name: 'audit-logs', status: 'ok', reason: null, items: 2, durationMs: 5 },
    {
      name: 'serial-console',
      status: 'failed',
      reason: 'timed out after 10 s',
      items: 0,
      durationMs: 10_000,
    },
  ],
  notes: Array.from({ length: notes }, (_, i) => `note ${i} ${'n'.repeat(300)}`),
  links: [
    {
      label: 'Platform events in Logs Explorer',
      url: 'https://console.cloud.google.com/logs/query;query=x?project=example-project',
    },
    { label: 'too long', url: `https://example.com/${'u'.repeat(4000)}` },
  ],
});

const texts = (blocks: AnyBlock[]): string[] =>
  blocks.flatMap((b) => [
    b.text?.text ?? '',
    ...(b.elements ?? []).map((e) => (typeof e.text === 'string' ? e.text : '')),
  ]);

describe('buildWhyRebootBlocks', () => {
  it('stays within Block Kit limits for a huge report, and attaches everything as the full report', () => {
    const huge = report(
      Array.from({ length: 200 }, (_, i) => restart(i, 60, 1000)),
      5000,
      200,
    );
    const out = buildWhyRebootBlocks(huge);
    const blocks = out.blocks as AnyBlock[];
    expect(blocks.length).toBeLessThanOrEqual(MAX_BLOCKS);
    for (const b of blocks) {
      if (b.type === 'header') expect(b.text?.text.length).toBeLessThanOrEqual(MAX_HEADER_TEXT);
      if (b.type === 'section') expect(b.text?.text.length).toBeLessThanOrEqual(MAX_SECTION_TEXT);
      if (b.type === 'context') {
        expect(b.elements?.length).toBeLessThanOrEqual(10);
        for (const e of b.elements ?? []) expect(String(e.text).length).toBeLessThanOrEqual(MAX_SECTION_TEXT);
      }
      if (b.type === 'actions')
        for (const e of b.elements ?? []) expect(e.url?.length).toBeLessThanOrEqual(3000);
    }
    const all = texts(blocks).join('\n');
    expect(all).toMatch(/more evidence line\(s\) in the full report/);
    expect(all).toMatch(/195 older restart\(s\) in the full report/);
    expect(all).toMatch(/older item\(s\) in the full report/);
    expect(all).toContain('&lt;with&gt; &amp; markup');
    expect(out.fullReport).toContain('200. 2026-04-25T16:00:00Z  host-error');
    expect(out.fullReport).toContain('event 4999');
    expect(out.text.length).toBeLessThan(400);
  });

  it('renders the verdict, confidence, sources, next steps and link buttons for a normal report', () => {
    const out = buildWhyRebootBlocks(report([restart(0, 3, 50)], 3, 1));
    const blocks = out.blocks as AnyBlock[];
    expect(blocks[0]).toMatchObject({ type: 'header', text: { text: 'why-reboot web-1: host error' } });
    const all = texts(blocks).join('\n');
    expect(all).toContain('`host-error`* (high confidence)');
    expect(all).toContain('serial-console: failed (timed out after 10 s)');
    expect(all).toContain('*Next steps*');
    const actions = blocks.find((b) => b.type === 'actions');
    expect(actions?.elements?.map((e) => e.url)).toEqual([
      'https://console.cloud.google.com/logs/query;query=x?project=example-project',
    ]);
    expect(out.text).toMatch(/^web-1: host-error — /);
  });

  it('no restart: says so in the header and the fallback text', () => {
    const out = buildWhyRebootBlocks(report([]));
    expect((out.blocks[0] as AnyBlock).text?.text).toBe('why-reboot web-1: no restart in the window');
    expect(out.text).toBe('web-1: no restart in the window (high confidence)');
  });
});

describe('buildWhyRebootProgressBlocks', () => {
  it('names the VM at once', () => {
    const p = buildWhyRebootProgressBlocks('web-1');
    expect(p.text).toBe('Investigating web-1…');
    expect(texts(p.blocks as AnyBlock[]).join(' ')).toContain('Investigating *web-1*');
  });
});
