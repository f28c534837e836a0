import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pngLayout } from '../../src/playbooks/diag/render-chart.js';
import { type DiagFakes, startDiagFakes } from '../fakes/diag-env.js';
import { buildHostScenario, type HostScenario } from '../fakes/host-scenarios.js';
import { type FakeSlack, startFakeSlack } from '../fakes/slack.js';
import { decodePng, inkShare } from '../playbooks/diag/png-inspect.js';
import { BOT_TOKEN, postSigned, slashBody, startServeOnFakes, stopServe } from './helpers.js';
import type { OpsbotProcess } from './opsbot-process.js';

/**
 * /diag the way it runs: the real process (`node bin/opsbot.js serve`, HTTP mode) gets a signed slash command,
 * reads the Compute, Logging and Monitoring fakes with the real Google clients, and answers in the fake Slack:
 * the verdict replaces the progress message, the chart is uploaded to the thread (getUploadURLExternal ->
 * bytes -> completeUploadExternal, through a 429), the full report follows. The VM's OOM victim is named
 * `<!channel>` (anyone with a shell can name a process so): it must not ping anyone, anywhere.
 */
const HOSTILE = '<!channel>';

let slack: FakeSlack;
let fakes: DiagFakes;
let opsbot: OpsbotProcess | undefined;
let port = 0;
let scenario: HostScenario;

beforeAll(async () => {
  slack = await startFakeSlack({ token: BOT_TOKEN });
  fakes = await startDiagFakes(['diag:', '  sustainMinutes: 5']);
  scenario = buildHostScenario('oom', {
    end: new Date(),
    victim: HOSTILE,
    target: { project: 'diag-e2e', name: 'app-7', id: '8123456789012345678' },
  });
  fakes.seed(scenario);
  opsbot = startServeOnFakes(fakes.configPath, { dir: fakes.dir, slack });
  port = await opsbot.port(60_000);
}, 90_000);

afterAll(async () => {
  await stopServe(opsbot);
  await Promise.all([slack?.close(), fakes?.close()]);
});

/** Posts `/diag` for the scenario's VM, signed as Slack would; the ack must be a 200. */
const postDiag = async (): Promise<void> => {
  const s = scenario.target;
  const res = await postSigned(
    port,
    slashBody({
      command: '/diag',
      text: `${s.name} --project ${s.project} --zone ${s.zone}`,
      response_url: slack.responseUrl(),
    }),
  );
  expect(res.status).toBe(200);
};

describe('/diag end to end (real process, real clients, fake Slack and Google)', () => {
  it('answers with the verdict, uploads the chart to the thread and posts the report, escaping the evidence', async () => {
    slack.failNext('files.completeUploadExternal', { status: 429, retryAfter: 1 });
    await postDiag();
    const root = await slack.waitFor(
      () => slack.messages.find((m) => m.threadTs === null && m.updates > 0),
      60_000,
    );
    const verdict = JSON.stringify(root.blocks);
    expect(verdict).toContain('memory exhausted: the OOM killer killed &lt;!channel&gt; (pid 4242)');
    const upload = await slack.waitFor(() => slack.uploads.find((u) => u.completed), 30_000);
    expect(upload.channelId).toBe(root.channel);
    expect(upload.threadTs).toBe(root.ts);
    expect(upload.filename).toBe('diag-app-7.png');
    expect(upload.title).toMatch(/^app-7 \(diag-e2e\/europe-west1-b\)/);
    const png = decodePng(upload.bytes as Buffer);
    const layout = pngLayout(4);
    expect([png.width, png.height]).toEqual([layout.width, layout.height]);
    for (const box of layout.panels) expect(inkShare(png, box)).toBeGreaterThan(0.02);
    expect(slack.callsOf('files.completeUploadExternal')).toHaveLength(2); // the 429, then the retry
    // The last part of the report ("Full report", or "Full report (n/n)").
    await slack.waitFor(
      () =>
        slack.messages.some((m) => m.threadTs === root.ts && /^Full report(?: \((\d+)\/\1\))?$/.test(m.text)),
      30_000,
    );
    const report = slack.messages.filter((m) => m.threadTs === root.ts && m.text.startsWith('Full report'));
    expect(JSON.stringify(report.map((m) => m.blocks))).toContain(
      'Out of memory: Killed process 4242 (&lt;!channel&gt;)',
    );
    // Nothing opsbot sent can ping: no raw mention in any message, update, file title or comment.
    const sent = JSON.stringify([
      slack.calls.map((c) => c.args),
      slack.uploads.map((u) => [u.title, u.initialComment]),
    ]);
    expect(sent).not.toContain(HOSTILE);
    expect(sent).not.toContain(HOSTILE.replace('<', '\\u003c'));
  }, 120_000);

  it('a second /diag of that VM starts its queries by instance id with the lookup (the store remembers the id)', async () => {
    const s = scenario.target;
    const filterOf = (r: { body: unknown }) => String((r.body as { filter?: string } | null)?.filter ?? '');
    // The first /diag (above, or here when this test runs alone) looked the VM up and remembered it.
    const ask = async () => {
      const before = slack.messages.filter((m) => m.threadTs === null && m.updates > 0).length;
      await postDiag();
      await slack.waitFor(
        () => slack.messages.filter((m) => m.threadTs === null && m.updates > 0).length > before || undefined,
        60_000,
      );
    };
    if (!fakes.compute.requests.some((r) => r.route === 'instances.get')) await ask();
    // The lookup is answered only once the audit query by id, the guest logs and a metric read of that id
    // have arrived: an opsbot that waited for the lookup first leaves the gate to its deadline and fails.
    let arrivedFirst = false;
    const since = fakes.logging.requests.length;
    const monitoringSince = fakes.monitoring.requests.length;
    fakes.compute.hold = (route) =>
      route !== 'instances.get'
        ? undefined
        : expect
            .poll(
              () => {
                const logs = fakes.logging.requests.slice(since);
                return (
                  logs.some((r) => filterOf(r).includes('cloudaudit') && filterOf(r).includes(s.id)) &&
                  logs.some((r) => filterOf(r).includes('/logs/syslog')) &&
                  fakes.monitoring.requests
                    .slice(monitoringSince)
                    .some((r) => JSON.stringify(r.query).includes(s.id))
                );
              },
              { timeout: 10_000 },
            )
            .toBe(true)
            .then(
              () => {
                arrivedFirst = true;
              },
              () => undefined,
            );
    try {
      await ask();
      expect(arrivedFirst).toBe(true);
    } finally {
      fakes.compute.hold = null;
    }
  }, 120_000);
});
