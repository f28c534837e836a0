import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/open.js';
import { type FakeCompute, startFakeCompute } from '../fakes/gce-compute.js';
import { TEST_TOKEN } from '../fakes/gce-env.js';
import { projectOfRequest, type RecordedRequest } from '../fakes/gce-http.js';
import { activity, seedHostErrorIncident } from '../fakes/gce-incident.js';
import { type FakeLogging, startFakeLogging } from '../fakes/gce-logging.js';
import { writeGceServeConfig } from '../fakes/gce-serve-config.js';
import { type FakeSlack, type PostedFakeMessage, startFakeSlack, validateBlocks } from '../fakes/slack.js';
import {
  type AuditedAnswer,
  BOT_TOKEN,
  rawSlackControls,
  slashUntilAudited,
  startServeOnFakes,
  stopServe,
  tempDir,
} from './helpers.js';
import type { OpsbotProcess } from './opsbot-process.js';

/**
 * /why-reboot when things break, the way it runs: one real `opsbot serve` process (HTTP mode) for the file,
 * the real Google clients against the Compute and Logging fakes, the real Slack client against the fake Slack.
 * Each test has a project of its own (its VM, its injected failures), and waits for its own audit row, which
 * the pipeline writes last.
 */

const SOURCE_MS = 5_000;
const ALLOWED = 'U0ALICE';

let slack: FakeSlack;
let compute: FakeCompute;
let logging: FakeLogging;
let opsbot: OpsbotProcess | undefined;
let port = 0;
let store: Awaited<ReturnType<typeof openStore>> | undefined;
const tmp = tempDir();

beforeAll(async () => {
  [slack, compute, logging] = await Promise.all([
    startFakeSlack({ token: BOT_TOKEN }),
    startFakeCompute({ accessToken: TEST_TOKEN }),
    startFakeLogging({ accessToken: TEST_TOKEN, maxPageSize: 5, emptyPagesBefore: 1 }),
  ]);
  const configPath = writeGceServeConfig(
    tmp.dir,
    { compute, logging },
    {
      google: [
        `  timeouts: { instanceMs: ${SOURCE_MS}, auditLogsMs: ${SOURCE_MS}, guestLogsMs: ${SOURCE_MS}, serialMs: ${SOURCE_MS} }`,
      ],
      extra: ['access:', '  commands:', '    why-reboot:', `      users: [${ALLOWED}]`],
    },
  );
  opsbot = startServeOnFakes(configPath, { dir: tmp.dir, slack });
  port = await opsbot.port(60_000);
  store = await openStore({ dataDir: join(tmp.dir, 'data') });
}, 90_000);

afterAll(async () => {
  await store?.close();
  await stopServe(opsbot);
  await Promise.all([slack?.close(), compute?.close(), logging?.close()]);
  tmp.cleanup();
});

const projectOf = projectOfRequest;
const filterOf = (r: RecordedRequest): string =>
  String((r.body as { filter?: string } | undefined)?.filter ?? '');

/** Sends `/why-reboot <text>` and waits for its audit row (the one whose arguments hold `key`). */
const whyReboot = (text: string, key: string, o: { user?: string } = {}): Promise<AuditedAnswer> =>
  slashUntilAudited({ port, slack, store, command: '/why-reboot', text, key, user: o.user ?? ALLOWED });

const shown = (m: PostedFakeMessage | undefined): string => JSON.stringify([m?.text, m?.blocks]);
const everythingSent = (): string =>
  JSON.stringify([slack.calls.map((c) => c.args), slack.responses.map((r) => r.body)]);
const rawControls = (): string[] => rawSlackControls(everythingSent());

describe('/why-reboot when a Google source fails (real process)', () => {
  it('the audit log rate-limited (429 with Retry-After): waits, retries, and gives the host-error verdict with high confidence', async () => {
    seedHostErrorIncident({ compute, logging }, { project: 'wr-429', name: 'web-429' });
    logging.failNext('entries.list', {
      status: 429,
      retryAfter: 1,
      times: 2,
      when: (r) => projectOf(r) === 'wr-429' && filterOf(r).includes('cloudaudit'),
    });
    const a = await whyReboot('web-429 --project wr-429 --zone us-central1-a', 'web-429');
    expect(a.audit.outcome).toBe('ok');
    // Both 429s were served (the by-id and by-name queries run together), and nothing asked again before
    // the Retry-After second was up.
    const auditQueries = logging.requests.filter(
      (r) => projectOf(r) === 'wr-429' && filterOf(r).includes('cloudaudit'),
    );
    expect(auditQueries.length).toBeGreaterThanOrEqual(3);
    expect((auditQueries[2]?.at ?? 0) - (auditQueries[1]?.at ?? 0)).toBeGreaterThanOrEqual(900); // Retry-After: 1
    expect(a.audit.detail).toBe('host-error');
    const s = shown(a.root);
    expect(s).toContain('`host-error`');
    expect(s).toContain('high confidence');
  }, 60_000);

  it('the guest logs hanging past their deadline: the answer comes in time, names the timeout, keeps the host error and says the guest is unchecked', async () => {
    seedHostErrorIncident({ compute, logging }, { project: 'wr-hang', name: 'web-hang' });
    logging.failNext('entries.list', {
      status: 504,
      hang: true,
      times: 10,
      when: (r) => projectOf(r) === 'wr-hang' && filterOf(r).includes('/logs/syslog'),
    });
    const a = await whyReboot('web-hang --project wr-hang --zone us-central1-a', 'web-hang');
    expect(
      logging.requests.some((r) => projectOf(r) === 'wr-hang' && filterOf(r).includes('/logs/syslog')),
    ).toBe(true);
    expect(a.audit.at.getTime() - a.sentAt).toBeLessThan(SOURCE_MS + 10_000);
    expect(a.audit.outcome).toBe('ok');
    const s = shown(a.root);
    expect(s).toMatch(/✗ guest-logs: (?:failed|timeout|timed out)/);
    expect(s).toContain('`host-error`');
    expect(s).toMatch(/guest (?:side|logs?) (?:is |are )?unchecked|the guest logs could not be read/);
    expect(s).not.toContain('nothing wrong in the guest');
  }, 60_000);

  it('every source failing: no verdict, the channel told that no evidence could be read and why; audited failed', async () => {
    seedHostErrorIncident({ compute, logging }, { project: 'wr-dead', name: 'web-dead' });
    const when = (r: RecordedRequest) => projectOf(r) === 'wr-dead';
    for (const route of ['instances.get', 'instances.serialPort', 'instances.aggregatedList'] as const)
      compute.failNext(route, { status: 500, times: 20, when });
    logging.failNext('entries.list', { status: 503, times: 40, when });
    const a = await whyReboot('web-dead --project wr-dead --zone us-central1-a', 'web-dead');
    expect(a.audit.outcome).toBe('failed');
    const s = shown(a.root);
    expect(s).toMatch(/No evidence could be read/);
    expect(s).toMatch(/✗ instance: failed/);
    expect(s).toMatch(/✗ audit-logs: failed/);
    expect(s).not.toContain('`host-error`');
    expect(s).not.toMatch(/no-restart|did not restart/);
  }, 60_000);
});

describe('/why-reboot when Slack will not edit the progress message (real process)', () => {
  it('chat.update failing for good: the verdict goes into the thread, once, before the full report; audited ok', async () => {
    seedHostErrorIncident({ compute, logging }, { project: 'wr-noedit', name: 'web-noedit' });
    // postRetries defaults to 3: four tries in all.
    slack.failNext('chat.update', { status: 503 }, 4);
    const a = await whyReboot('web-noedit --project wr-noedit --zone us-central1-a', 'web-noedit');
    expect(a.audit.outcome).toBe('ok');
    expect(a.root?.updates).toBe(0);
    expect(a.root?.text).toMatch(/^Investigating web-noedit/);
    const verdicts = a.thread.filter((m) => m.text.startsWith('web-noedit: host-error'));
    expect(verdicts).toHaveLength(1);
    expect(a.thread.indexOf(verdicts[0] as PostedFakeMessage)).toBe(0);
    expect(a.thread.some((m) => m.text.startsWith('Full report'))).toBe(true);
  }, 60_000);
});

describe('/why-reboot quoting text from outside (real process)', () => {
  it('an API reset by a principal full of mentions and links: shown as text in the answer and the report, pinging no one', async () => {
    const t = seedHostErrorIncident({ compute, logging }, { project: 'wr-hostile', name: 'web-hx' });
    const principal = '<!channel><@U0BOSS><https://evil.example|x>*_~`&@evil.example';
    logging.addEntries([
      activity(
        t,
        'v1.compute.instances.reset',
        principal,
        new Date(t.hostErrorAt.getTime() - 3_600_000),
        'hx-r1',
      ),
    ]);
    const a = await whyReboot('web-hx --project wr-hostile --zone us-central1-a', 'web-hx');
    expect(a.audit.outcome).toBe('ok');
    const report = JSON.stringify(a.thread.map((m) => m.blocks));
    expect(`${shown(a.root)}${report}`).toContain(
      '&lt;!channel&gt;&lt;@U0BOSS&gt;&lt;https://evil.example|x&gt;*_~`&amp;@evil.example',
    );
    expect(rawControls()).toEqual([]);
    for (const m of [a.root, ...a.thread]) expect(validateBlocks(m?.blocks ?? null)).toBeNull();
  }, 60_000);
});

describe('/why-reboot asked badly or by the wrong person (real process)', () => {
  it('an unknown VM: says where it looked, in the channel, audited bad_input', async () => {
    const a = await whyReboot('ghost-wr --project wr-unknown --zone us-central1-a', 'ghost-wr');
    expect(a.audit.outcome).toBe('bad_input');
    const s = shown(a.root);
    expect(s).toContain('ghost-wr');
    expect(s).toContain('wr-unknown');
    expect(a.thread).toEqual([]);
  }, 30_000);

  it('a bad --since: a private answer, nothing asked of Google, audited bad_input', async () => {
    const a = await whyReboot('web-badsince --project wr-bad --since 3 fortnights', 'web-badsince');
    expect(a.audit.outcome).toBe('bad_input');
    expect((JSON.parse(a.ackText) as { response_type: string }).response_type).toBe('ephemeral');
    expect(a.root).toBeUndefined();
    const traces = [...compute.requests, ...logging.requests].filter((r) =>
      JSON.stringify(r).includes('web-badsince'),
    );
    expect(traces).toEqual([]);
  }, 30_000);

  it('a user outside the access rule: refused privately, naming who may run it, audited, nothing read', async () => {
    const a = await whyReboot('web-refused --project wr-refused', 'web-refused', { user: 'U0MALLORY' });
    expect(a.audit.outcome).toBe('refused');
    expect(a.audit.actorId).toBe('U0MALLORY');
    expect(a.ackText).toContain(`<@${ALLOWED}>`);
    expect(a.root).toBeUndefined();
    expect([...compute.requests, ...logging.requests].filter((r) => projectOf(r) === 'wr-refused')).toEqual(
      [],
    );
  }, 30_000);
});

describe('/why-reboot when Slack refuses the full report (real process)', () => {
  it('thread replies failing for good: the verdict stands in the channel, the user is told it and the ref privately; audited ok, saying the report was not posted', async () => {
    seedHostErrorIncident({ compute, logging }, { project: 'wr-noreport', name: 'web-noreport' });
    const inThread = (args: Record<string, unknown>) =>
      args.thread_ts !== undefined && String(args.text ?? '').startsWith('Full report');
    // postRetries defaults to 3: four tries in all.
    slack.failNext('chat.postMessage', { status: 503 }, 4, inThread);
    const a = await whyReboot('web-noreport --project wr-noreport --zone us-central1-a', 'web-noreport');
    expect(a.root?.text).toMatch(/^web-noreport: host-error/);
    expect(a.thread.some((m) => m.text.startsWith('Full report'))).toBe(false);
    const told = await slack.waitFor(() => slack.responses.find((r) => r.id === 'web-noreport'), 10_000);
    expect(String(told.body.text)).toMatch(/verdict is in the channel.*full report.*ref `[0-9a-f]+`/);
    expect(String(told.body.text)).toContain(a.audit.correlationId);
    expect(a.audit.outcome).toBe('ok');
    expect(a.audit.detail).toMatch(/^host-error; full report not posted/);
  }, 60_000);
});
