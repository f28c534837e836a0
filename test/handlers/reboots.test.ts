import { describe, expect, it } from 'vitest';
import { buildRebootsBlocks, decodeWhyValue, MAX_GROUPS } from '../../src/handlers/blocks/reboots.js';
import { parseRebootsArgs } from '../../src/handlers/reboots.js';
import { groupRestarts } from '../../src/playbooks/fleet/aggregate.js';
import type { FleetReport, FleetRestart } from '../../src/playbooks/fleet/types.js';
import { validateBlocks } from '../fakes/slack.js';

const restart = (i: number, cause: FleetRestart['cause'], actor = 'system'): FleetRestart => ({
  project: 'shop-prod',
  zone: 'us-central1-a',
  name: `vm-${i}`,
  instanceId: String(1000 + i),
  cause,
  at: new Date(Date.UTC(2026, 10, 20, 0, 0) + i * 3600_000).toISOString(),
  upAt: null,
  downtimeMs: null,
  actor,
  method: 'm',
});

const reportOf = (restarts: FleetRestart[]): FleetReport => ({
  window: { from: '2026-11-01T00:00:00.000Z', to: '2026-12-01T00:00:00.000Z' },
  projects: ['shop-prod'],
  filters: { labels: {}, cause: null },
  groups: groupRestarts(restarts),
  restarts: restarts.length,
  maintenance: [],
  sources: [{ project: 'shop-prod', what: 'audit-logs', status: 'ok', items: 1, pages: 1, reason: null }],
  notes: [],
});

describe('/reboots message', () => {
  it('stays within Block Kit limits with hundreds of groups, platform events before people, names escaped', () => {
    const many = Array.from({ length: 400 }, (_, i) =>
      restart(i, i % 50 === 7 ? 'host-error' : 'stop', `<!channel>${i}@example.com`),
    );
    const m = buildRebootsBlocks(reportOf(many), '30d');
    expect(validateBlocks(m.blocks as unknown[])).toBeNull();
    expect(m.blocks?.length).toBeLessThanOrEqual(50);
    const sections = (m.blocks ?? []).filter((b) => b.type === 'section');
    expect(sections.length).toBe(MAX_GROUPS + 1);
    // The 8 host errors come first, before anyone's stop.
    const first = sections.slice(1, 9).map((s) => JSON.stringify(s));
    expect(first.every((s) => s.includes('host errors'))).toBe(true);
    expect(JSON.stringify(m)).not.toContain('<!channel>');
    expect(JSON.stringify(m.blocks)).toContain('390 smaller group(s) not shown');
  });

  it('button values round-trip, and a forged one is refused', () => {
    const m = buildRebootsBlocks(reportOf([restart(1, 'host-error')]), '24h');
    const button = (m.blocks ?? [])
      .filter((b) => b.type === 'actions')
      .flatMap((b) => (b as { elements: { value: string }[] }).elements)[0];
    expect(decodeWhyValue(button?.value ?? '')).toMatchObject({ project: 'shop-prod', name: 'vm-1' });
    expect(decodeWhyValue('["shop-prod","us-central1-a","vm;rm -rf","x","y"]')).toBeNull();
  });
});

describe('/reboots arguments', () => {
  it('takes repeated projects and labels, one cause, a window', () => {
    const r = parseRebootsArgs(
      '--project shop-prod --project shop-dev --label env=prod --label team=web --cause host-error --since 6h',
    );
    expect(r).toEqual({
      ok: true,
      args: {
        projects: ['shop-prod', 'shop-dev'],
        labels: { env: 'prod', team: 'web' },
        cause: 'host-error',
        since: '6h',
        sinceMs: 6 * 3600_000,
      },
    });
    expect(parseRebootsArgs('').ok).toBe(true);
    expect(parseRebootsArgs('--cause gremlins')).toMatchObject({ ok: false });
    expect(parseRebootsArgs('web-1')).toMatchObject({ ok: false });
    expect(parseRebootsArgs('--label env')).toMatchObject({ ok: false });
    expect(parseRebootsArgs('--since forever')).toMatchObject({ ok: false });
  });
});
