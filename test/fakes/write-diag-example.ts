/**
 * Writes examples/diag/ (the files `opsbot diag` reads offline) from the `oom` host scenario: the
 * timeSeries.list response bodies of every metric /diag reads, as the Monitoring fake answers the same
 * queries a user would run (names, not enum numbers), the guest syslog and the instance JSON.
 * Run: npx tsx test/fakes/write-diag-example.ts
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { buildMetricQuery, METRIC_SPECS } from '../../src/playbooks/diag/metrics.js';
import { TEST_TOKEN } from './gce-env.js';
import { startFakeMonitoring } from './gce-monitoring.js';
import { buildHostScenario } from './host-scenarios.js';

const dir = new URL('../../examples/diag/', import.meta.url);
mkdirSync(dir, { recursive: true });
const s = buildHostScenario('oom', {
  end: new Date('2026-05-04T11:00:00Z'),
  target: { project: 'example-project', zone: 'us-central1-a', name: 'app-1', id: '4736518221905826399' },
});
const fake = await startFakeMonitoring({ accessToken: TEST_TOKEN, maxPageSize: 1000 });
fake.addSeries(s.series);
const bodies: unknown[] = [];
for (const spec of METRIC_SPECS) {
  const q = buildMetricQuery(spec, {
    project: s.target.project,
    instanceId: s.target.id,
    window: { from: s.from, to: s.end },
  });
  const params = new URLSearchParams({
    filter: q.filter,
    'interval.startTime': q.from.toISOString(),
    'interval.endTime': q.to.toISOString(),
    'aggregation.alignmentPeriod': `${q.alignmentPeriodSeconds}s`,
    'aggregation.perSeriesAligner': q.perSeriesAligner,
    ...(q.crossSeriesReducer ? { 'aggregation.crossSeriesReducer': q.crossSeriesReducer } : {}),
    ...(q.groupByFields?.[0] ? { 'aggregation.groupByFields': q.groupByFields[0] } : {}),
  });
  const res = await fetch(`${fake.url}/v3/projects/${s.target.project}/timeSeries?${params}`, {
    headers: { authorization: `Bearer ${TEST_TOKEN}` },
  });
  const body = (await res.json()) as { timeSeries?: unknown[] };
  if (body.timeSeries?.length) bodies.push(body);
}
await fake.close();
writeFileSync(new URL('metrics.json', dir), `${JSON.stringify(bodies)}\n`);
writeFileSync(
  new URL('syslog', dir),
  `${s.guest.map((e) => String((e.jsonPayload as { message: string }).message)).join('\n')}\n`,
);
writeFileSync(new URL('instance.json', dir), `${JSON.stringify(s.instance, null, 2)}\n`);
process.stdout.write(`wrote ${bodies.length} metric bodies, ${s.guest.length} syslog lines\n`);
