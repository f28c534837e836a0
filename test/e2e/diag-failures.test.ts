import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/open.js';
import type { AuditRecord } from '../../src/store/types.js';
import { type DiagFakes, startDiagFakes } from '../fakes/diag-env.js';
import { projectOfRequest, type RecordedRequest } from '../fakes/gce-http.js';
import { syslogEntry } from '../fakes/gce-incident.js';
import type { FakeLogEntry } from '../fakes/gce-logging.js';
import { buildHostScenario, type HostScenario } from '../fakes/host-scenarios.js';
import { type FakeSlack, type PostedFakeMessage, startFakeSlack, validateBlocks } from '../fakes/slack.js';
import {
  type AuditedAnswer,
  awaitAuditRow,
  BOT_TOKEN,
  rawSlackControls,
  slashUntilAudited,
  startServeOnFakes,
  stopServe,
} from './helpers.js';
import type { OpsbotProcess } from './opsbot-process.js';

/**
 * /diag when things break, the way it runs: one real `opsbot serve` process (HTTP mode) for the file, the
 * real Google clients against the Compute, Logging and Monitoring fakes, the real Slack client against the fake
 * Slack. Each test breaks one thing (Slack's file upload, one Google source, every source), feeds hostile text,
 * or asks badly, and checks what the on-call engineer sees in the channel and what the audit log keeps.
 *
 * Every test has a project of its own (its VM lives there, its injected failures match only it), so what one
 * test leaves in flight cannot be mistaken for another's; the audit row, written last, is each command's end.
 */

/** Per-source deadlines short enough that a hang costs seconds, long enough for a loaded 2-core machine. */
const SOURCE_MS = 6_000;
const ALLOWED = 'U0ALICE';
/** slack.postRetries below: a failing Slack call is tried this many times in all, then given up. */
const SLACK_ATTEMPTS = 3;

let slack: FakeSlack;
let fakes: DiagFakes;
let opsbot: OpsbotProcess | undefined;
let port = 0;
let store: Awaited<ReturnType<typeof openStore>> | undefined;
let ids = 7_100_000_000_000_000_000n;

beforeAll(async () => {
  slack = await startFakeSlack({ token: BOT_TOKEN });
  fakes = await startDiagFakes(
    [
      'diag:',
      '  sustainMinutes: 5',
      `  metricsTimeoutMs: ${SOURCE_MS}`,
      'slack:',
      `  postRetries: ${SLACK_ATTEMPTS - 1}`,
      'access:',
      '  commands:',
      '    diag:',
      `      users: [${ALLOWED}]`,
    ],
    [
      `  timeouts: { instanceMs: ${SOURCE_MS}, auditLogsMs: ${SOURCE_MS}, guestLogsMs: ${SOURCE_MS}, serialMs: ${SOURCE_MS} }`,
    ],
  );
  const { configPath } = fakes;
  opsbot = startServeOnFakes(configPath, { dir: fakes.dir, slack });
  port = await opsbot.port(60_000);
  store = await openStore({ dataDir: join(fakes.dir, 'data') });
}, 90_000);

afterAll(async () => {
  await store?.close();
  await stopServe(opsbot);
  await Promise.all([slack?.close(), fakes?.close()]);
});

/** A scenario (an OOM kill unless told) on a VM of its own project. */
const seedVm = (
  project: string,
  name: string,
  victim = 'java',
  kind: 'oom' | 'healthy' = 'oom',
): HostScenario => {
  ids += 1n;
  const scenario = buildHostScenario(kind, {
    end: new Date(),
    victim,
    target: { project, name, id: String(ids) },
  });
  fakes.seed(scenario);
  return scenario;
};

const projectOf = projectOfRequest;
const inProject =
  (project: string) =>
  (r: RecordedRequest): boolean =>
    projectOf(r) === project;

/** The audit row of one command: the pipeline writes it last, so once it exists the command is done. */
const _auditOf = (match: (a: AuditRecord) => boolean, timeoutMs = 60_000): Promise<AuditRecord> =>
  awaitAuditRow(store, 'diag', match, timeoutMs);

/** Sends `/diag <text>` and waits for its audit row (the one whose arguments hold `vm`, unique per test). */
const diag = (
  text: string,
  vm: string,
  o: { user?: string; responseId?: string } = {},
): Promise<AuditedAnswer> =>
  slashUntilAudited({
    port,
    slack,
    store,
    command: '/diag',
    text,
    key: vm,
    user: o.user ?? ALLOWED,
    ...(o.responseId ? { responseId: o.responseId } : {}),
  });

const shown = (m: PostedFakeMessage | undefined): string => JSON.stringify([m?.text, m?.blocks]);
const reportParts = (thread: readonly PostedFakeMessage[]) =>
  thread.filter((m) => m.text.startsWith('Full report'));
/** The report parts are numbered "(i/n)" when split: each once, none missing. */
const expectWholeReportOnce = (thread: readonly PostedFakeMessage[]): void => {
  const parts = reportParts(thread).map((m) => m.text);
  expect(parts.length).toBeGreaterThan(0);
  const n = parts.length;
  expect(parts).toEqual(
    n === 1 ? ['Full report'] : Array.from({ length: n }, (_, i) => `Full report (${i + 1}/${n})`),
  );
};

describe('/diag when Slack file upload fails (real process)', () => {
  it('getUploadURLExternal rate-limited and the upload URL failing once: the chart still lands, once, in the thread', async () => {
    seedVm('dg-upload-retry', 'up-1');
    slack.failNext('files.getUploadURLExternal', { status: 429, retryAfter: 1 });
    slack.failUploadUrl(503, 1);
    const uploadsBefore = slack.uploads.length;
    const a = await diag('up-1 --project dg-upload-retry --zone europe-west1-b', 'up-1');
    expect(a.audit.outcome).toBe('ok');
    expect(shown(a.root)).toContain('memory exhausted');
    const mine = slack.uploads.slice(uploadsBefore);
    // One file asked for (after the 429), its bytes sent again after the 503, shared once in the thread.
    expect(mine).toHaveLength(1);
    expect(mine[0]?.completed).toBe(true);
    expect(mine[0]?.threadTs).toBe(a.root?.ts);
    expect(a.thread.some((m) => m.text.includes('could not be attached'))).toBe(false);
    expectWholeReportOnce(a.thread);
  }, 90_000);

  it('the upload URL refusing for good: verdict and report still reach the thread, which says the chart could not be posted', async () => {
    seedVm('dg-upload-dead', 'up-2');
    // Every try fails (and no more: the next test's upload is not this one's business).
    slack.failUploadUrl(500, SLACK_ATTEMPTS);
    const completesBefore = slack.callsOf('files.completeUploadExternal').length;
    {
      const a = await diag('up-2 --project dg-upload-dead --zone europe-west1-b', 'up-2');
      expect(a.audit.outcome).toBe('ok');
      expect(shown(a.root)).toContain('memory exhausted');
      expect(a.root?.updates).toBe(1);
      const notes = a.thread.filter((m) => m.text.includes('could not be attached'));
      expect(notes).toHaveLength(1);
      expect(notes[0]?.text).toMatch(/ref [\w-]+/);
      expectWholeReportOnce(a.thread);
      // Nothing was shared: completing a file whose bytes never arrived would fail anyway.
      expect(slack.callsOf('files.completeUploadExternal').length).toBe(completesBefore);
    }
  }, 90_000);

  it('files.getUploadURLExternal failing for good (HTTP 500): one note, no file, the report once', async () => {
    seedVm('dg-upload-nourl', 'up-5');
    slack.failNext('files.getUploadURLExternal', { status: 500 }, SLACK_ATTEMPTS);
    const uploadsBefore = slack.uploads.length;
    const a = await diag('up-5 --project dg-upload-nourl --zone europe-west1-b', 'up-5');
    expect(a.audit.outcome).toBe('ok');
    expect(shown(a.root)).toContain('memory exhausted');
    expect(slack.uploads.length).toBe(uploadsBefore);
    expect(a.thread.filter((m) => m.text.includes('could not be attached'))).toHaveLength(1);
    expectWholeReportOnce(a.thread);
  }, 90_000);

  it('files.completeUploadExternal failing: one note in the thread, the report once, the process still answers', async () => {
    seedVm('dg-upload-complete', 'up-3');
    slack.failNext('files.completeUploadExternal', { status: 503 }, SLACK_ATTEMPTS);
    const completesBefore = slack.callsOf('files.completeUploadExternal').length;
    const a = await diag('up-3 --project dg-upload-complete --zone europe-west1-b', 'up-3');
    // Tried as configured, then given up: no retry storm, and nothing shared twice.
    expect(slack.callsOf('files.completeUploadExternal').length - completesBefore).toBe(SLACK_ATTEMPTS);
    expect(slack.uploads.filter((u) => u.completed && u.threadTs === a.root?.ts)).toEqual([]);
    expect(a.audit.outcome).toBe('ok');
    expect(shown(a.root)).toContain('memory exhausted');
    expect(a.thread.filter((m) => m.text.includes('could not be attached'))).toHaveLength(1);
    expectWholeReportOnce(a.thread);
    // The next command is answered as usual: the failure left nothing stuck.
    seedVm('dg-upload-after', 'up-4');
    const after = await diag('up-4 --project dg-upload-after --zone europe-west1-b', 'up-4');
    expect(after.audit.outcome).toBe('ok');
    expect(slack.uploads.some((u) => u.completed && u.threadTs === after.root?.ts)).toBe(true);
  }, 120_000);
});

describe('/diag when Slack refuses to replace the progress message (real process)', () => {
  it('chat.update failing for good: the verdict goes into the thread instead, once, with the report; audited ok', async () => {
    seedVm('dg-update-dead', 'upd-1');
    slack.failNext('chat.update', { status: 503 }, SLACK_ATTEMPTS);
    const a = await diag('upd-1 --project dg-update-dead --zone europe-west1-b', 'upd-1', {
      responseId: 'upd-1',
    });
    // Whatever could not be edited, the engineer in the channel must not be left with "Checking…" alone.
    const verdicts = [a.root, ...a.thread].filter((m) => m?.text.startsWith('upd-1: memory exhausted'));
    expect(verdicts).toHaveLength(1);
    expect(verdicts[0]?.threadTs).toBe(a.root?.ts);
    expectWholeReportOnce(a.thread);
    expect(a.audit.outcome).toBe('ok');
  }, 90_000);
});

describe('/diag when Slack refuses the full report (real process)', () => {
  it('thread replies failing for good: the verdict stands in the channel, the user is told with a ref, nothing posted twice; audited ok, saying the report was not posted', async () => {
    seedVm('dg-report-dead', 'rep-1');
    const inThread = (args: Record<string, unknown>) =>
      args.thread_ts !== undefined && String(args.text ?? '').startsWith('Full report');
    slack.failNext('chat.postMessage', { status: 503 }, SLACK_ATTEMPTS, inThread);
    const postsBefore = slack.callsOf('chat.postMessage').length;
    const a = await diag('rep-1 --project dg-report-dead --zone europe-west1-b', 'rep-1', {
      responseId: 'rep-1',
    });
    expect(shown(a.root)).toContain('memory exhausted');
    expect(a.root?.updates).toBe(1);
    // The first part was tried as configured and given up; no later part, no second verdict.
    const tried = slack
      .callsOf('chat.postMessage')
      .slice(postsBefore)
      .filter((c) => inThread(c.args));
    expect(tried.length).toBe(SLACK_ATTEMPTS);
    expect(reportParts(a.thread)).toEqual([]);
    const told = await slack.waitFor(() => slack.responses.find((r) => r.id === 'rep-1'), 10_000);
    // Told what happened, not that the command failed: the verdict is there for everyone.
    expect(String(told.body.text)).toMatch(/verdict is in the channel.*full report.*ref `[0-9a-f]+`/);
    expect(String(told.body.text)).toContain(a.audit.correlationId);
    expect(told.body.response_type).toBe('ephemeral');
    // The run answered (the verdict was shown): ok, with what was missing, not `failed`.
    expect(a.audit.outcome).toBe('ok');
    expect(a.audit.detail).toMatch(/finding.*full report not posted/);
  }, 90_000);
});

describe('/diag when a Google source fails (real process)', () => {
  it('Cloud Monitoring API disabled in the project (403): says so and answers from the logs', async () => {
    seedVm('dg-no-monitoring', 'mon-1');
    fakes.monitoring.disabledProjects.add('dg-no-monitoring');
    const a = await diag('mon-1 --project dg-no-monitoring --zone europe-west1-b', 'mon-1');
    expect(a.audit.outcome).toBe('ok');
    const s = shown(a.root);
    // The OOM kill is in the guest log: still found, still the verdict.
    expect(s).toContain('OOM killer killed java');
    expect(s).toMatch(
      /metrics :x: the Cloud Monitoring API is not enabled[^"]*dg-no-monitoring[^"]*enable monitoring\.googleapis\.com/,
    );
    // One refusal per metric is enough to know: a 403 is not retried.
    const asked = fakes.monitoring.requests.filter(inProject('dg-no-monitoring'));
    expect(asked.length).toBeGreaterThan(0);
    expect(asked.length).toBeLessThanOrEqual(20);
  }, 90_000);

  it('Cloud Monitoring refusing the service account (403 without the role): names the missing role, answers from the logs', async () => {
    seedVm('dg-mon-denied', 'mon-4');
    const when = inProject('dg-mon-denied');
    fakes.monitoring.failNext('timeSeries.list', {
      status: 403,
      message: 'Permission monitoring.timeSeries.list denied (or the resource may not exist).',
      times: 40,
      when,
    });
    const a = await diag('mon-4 --project dg-mon-denied --zone europe-west1-b', 'mon-4');
    expect(a.audit.outcome).toBe('ok');
    const s = shown(a.root);
    expect(s).toContain('OOM killer killed java');
    expect(s).toMatch(/metrics :x: permission denied reading metrics[^"]*roles\/monitoring\.viewer/);
  }, 90_000);

  it('Cloud Monitoring rate-limited (429 with Retry-After): waits, retries, and answers with the metrics', async () => {
    seedVm('dg-mon-429', 'mon-2');
    const when = inProject('dg-mon-429');
    fakes.monitoring.failNext('timeSeries.list', { status: 429, retryAfter: 1, times: 2, when });
    const a = await diag('mon-2 --project dg-mon-429 --zone europe-west1-b', 'mon-2');
    expect(a.audit.outcome).toBe('ok');
    const s = shown(a.root);
    expect(s).toContain('metrics :white_check_mark:');
    expect(s).toMatch(/memory used 9\d%/); // a finding only the metrics give
  }, 90_000);

  it('Cloud Monitoring failing (500 on every read): retried a bounded number of times, named, answered from the logs', async () => {
    seedVm('dg-mon-500', 'mon-5');
    const when = inProject('dg-mon-500');
    fakes.monitoring.failNext('timeSeries.list', { status: 500, times: 400, when });
    const a = await diag('mon-5 --project dg-mon-500 --zone europe-west1-b', 'mon-5');
    expect(a.audit.outcome).toBe('ok');
    const s = shown(a.root);
    expect(s).toContain('OOM killer killed java');
    expect(s).toMatch(/metrics :x: [^"]*HTTP 500/);
    // Each metric's read is tried a few times (DEFAULT_RETRY: 4 attempts), not until the deadline.
    const reads = fakes.monitoring.requests.filter(inProject('dg-mon-500'));
    const metrics = new Set(reads.map((r) => r.query.filter));
    expect(reads.length).toBeLessThanOrEqual(metrics.size * 4);
  }, 90_000);

  it('a quiet VM whose metrics cannot be read: no green light, the verdict says utilization is unknown', async () => {
    seedVm('dg-quiet-nomon', 'mon-6', 'java', 'healthy');
    fakes.monitoring.failNext('timeSeries.list', {
      status: 503,
      times: 400,
      when: inProject('dg-quiet-nomon'),
    });
    const a = await diag('mon-6 --project dg-quiet-nomon --zone europe-west1-b', 'mon-6');
    expect(a.audit.outcome).toBe('ok');
    const s = shown(a.root);
    expect(s).toContain('Cloud Monitoring could not be read');
    expect(s).toContain('utilization and saturation are unknown');
    // Nothing was found, but most of what could be wrong was not looked at: not a green light.
    expect(s).not.toContain(':large_green_circle:');
    expect(s).toContain(':white_circle:');
    // One reason, said once, not the same 503 for each of the twenty metric types.
    expect(a.root?.text.match(/HTTP 503/g)).toHaveLength(1);
    expect(a.root?.text).toMatch(/\(and \d+ more metric types alike\)/);
  }, 90_000);

  it('Cloud Logging failing (500 on every query): names the failed sources and answers from the metrics', async () => {
    seedVm('dg-logging-500', 'log-1');
    const when = inProject('dg-logging-500');
    fakes.logging.failNext('entries.list', { status: 500, times: 40, when });
    const a = await diag('log-1 --project dg-logging-500 --zone europe-west1-b', 'log-1');
    expect(a.audit.outcome).toBe('ok');
    const s = shown(a.root);
    expect(s).toMatch(/audit-logs :x:/);
    expect(s).toMatch(/guest-logs :x:/);
    expect(s).toContain('metrics :white_check_mark:');
    expect(s).toMatch(/memory utilization: peak 9\d%/);
    // Without the guest logs the OOM kill cannot be named: the answer does not pretend it can.
    expect(s).not.toContain('OOM killer killed java');
  }, 90_000);

  it('Cloud Monitoring hanging past its deadline: the answer comes within the deadline and names the timeout', async () => {
    seedVm('dg-mon-hang', 'mon-3');
    const when = inProject('dg-mon-hang');
    fakes.monitoring.failNext('timeSeries.list', { status: 504, hang: true, times: 40, when });
    const a = await diag('mon-3 --project dg-mon-hang --zone europe-west1-b', 'mon-3');
    const took = a.audit.at.getTime() - a.sentAt;
    expect(took).toBeLessThan(SOURCE_MS * 2 + 10_000);
    expect(a.audit.outcome).toBe('ok');
    const s = shown(a.root);
    expect(s).toMatch(/metrics :x: Cloud Monitoring did not answer within 6 s/);
    expect(s).toContain('OOM killer killed java'); // from the guest logs
  }, 90_000);

  it('every source failing: the channel is told that no evidence could be read, each source and why; audited failed', async () => {
    seedVm('dg-all-fail', 'all-1');
    const when = inProject('dg-all-fail');
    for (const route of ['instances.get', 'instances.serialPort', 'instances.aggregatedList'] as const)
      fakes.compute.failNext(route, { status: 500, times: 20, when });
    fakes.logging.failNext('entries.list', { status: 500, times: 40, when });
    fakes.monitoring.failNext('timeSeries.list', { status: 500, times: 80, when });
    const a = await diag('all-1 --project dg-all-fail --zone europe-west1-b', 'all-1');
    expect(a.audit.outcome).toBe('failed');
    expect(a.audit.detail).toContain('every source failed');
    const s = shown(a.root);
    expect(s).toMatch(/no evidence could be read/i);
    for (const [source, service] of [
      ['instance', 'Compute Engine'],
      ['audit-logs', 'Cloud Logging'],
      ['serial-console', 'Compute Engine'],
    ])
      expect(s).toContain(`• *${source}*: ${service} failed`);
    // Not a green light on a VM nobody could look at.
    expect(s).not.toMatch(/no resource problem|:large_green_circle:/i);
    // Nothing to picture, nothing to report beyond the answer.
    expect(slack.uploads.some((u) => u.threadTs === a.root?.ts)).toBe(false);
  }, 90_000);
});

/** Everything opsbot sent to Slack: calls, response_url posts, file titles and comments. */
const everythingSent = (): string =>
  JSON.stringify([
    slack.calls.map((c) => c.args),
    slack.responses.map((r) => r.body),
    slack.uploads.map((u) => [u.title, u.initialComment, u.filename]),
  ]);
const rawControls = (): string[] => rawSlackControls(everythingSent());

describe('/diag quoting text from outside (real process)', () => {
  it('a process name, kernel lines and an audit principal full of mentions, links and markup cannot ping or link, and fit Slack', async () => {
    const hostile = '<!channel> <@U0BOSS> <https://evil.example|click> & *b* _i_ ~s~ `c`';
    // A process name (comm) holds at most 15 bytes: as hostile as it gets.
    const s = seedVm('dg-hostile', 'hx-1', '<@U0BOSS>&*_~`');
    const t = s.target;
    const at = (min: number) => new Date(Date.now() - min * 60_000);
    const extra: FakeLogEntry[] = [
      syslogEntry(t, at(20), `kernel: EXT4-fs error (device sdb1): ${hostile}`, 'hx-fs'),
      // A very long kernel line, an invalid byte as Cloud Logging hands it on (U+FFFD) and a lone surrogate.
      syslogEntry(
        t,
        at(19),
        `kernel: blk_update_request: I/O error, dev sdb, sector 2048 op 0x1:(WRITE) \uFFFD\uD83D ${'<!here>'.repeat(900)}`,
        'hx-io',
      ),
    ];
    const reset = JSON.parse(
      readFileSync(new URL('../fixtures/why-reboot/ResetInstanceEvent.json', import.meta.url), 'utf8'),
    ).entries[0] as Record<string, unknown> & {
      protoPayload: Record<string, unknown>;
      resource: { labels: Record<string, string> };
    };
    reset.protoPayload.resourceName = `projects/${t.project}/zones/${t.zone}/instances/${t.name}`;
    reset.protoPayload.authenticationInfo = { principalEmail: `<!channel>*x*@evil.example` };
    reset.resource.labels = { project_id: t.project, instance_id: t.id, zone: t.zone };
    reset.logName = `projects/${t.project}/logs/cloudaudit.googleapis.com%2Factivity`;
    reset.timestamp = at(25).toISOString();
    reset.receiveTimestamp = at(25).toISOString();
    reset.insertId = 'hx-reset';
    fakes.logging.addEntries([...extra, reset as unknown as FakeLogEntry]);

    const a = await diag('hx-1 --project dg-hostile --zone europe-west1-b', 'hx-1');
    expect(a.audit.outcome).toBe('ok');
    const answer = shown(a.root);
    // Shown, as text: the engineer still reads what the guest said and who reset the VM.
    expect(answer).toContain('&lt;!channel&gt; &lt;@U0BOSS&gt; &lt;https://evil.example|click&gt; &amp;');
    const report = JSON.stringify(reportParts(a.thread).map((m) => m.blocks));
    expect(answer).toContain('the OOM killer killed &lt;@U0BOSS&gt;&amp;*_~`');
    expect(report).toContain('Out of memory: Killed process 4242 (&lt;@U0BOSS&gt;&amp;*_~`)');
    expect(report).toContain('&lt;!channel&gt;*x*@evil.example');
    expect(report).toContain('EXT4-fs error');
    expect(rawControls()).toEqual([]);
    // Within Slack's limits (the fake refuses more, so the messages exist at all): and the answer's fallback.
    for (const m of [a.root, ...a.thread]) {
      expect(validateBlocks(m?.blocks ?? null)).toBeNull();
      expect(m?.text.length ?? 0).toBeLessThanOrEqual(40_000);
    }
    expectWholeReportOnce(a.thread);
  }, 90_000);

  it('a 3,500-character argument full of mentions: an answer Slack accepts, pinging no one', async () => {
    const text = `${'<!channel>&'.repeat(318)}zz-long`;
    const a = await diag(text, 'zz-long', { responseId: 'long-arg' });
    expect(['bad_input', 'failed']).toContain(a.audit.outcome);
    const answers = [a.root, ...a.thread].filter((m) => m !== undefined);
    for (const m of answers) {
      expect(validateBlocks(m.blocks)).toBeNull();
      expect(m.text.length).toBeLessThanOrEqual(40_000);
    }
    // Something reached the user: in the channel, in the ack, or through response_url.
    const privately = slack.responses.filter((r) => r.id === 'long-arg').map((r) => JSON.stringify(r.body));
    expect(answers.length + privately.length + (a.ackText ? 1 : 0)).toBeGreaterThan(0);
    if (a.ackText) {
      const ack = JSON.parse(a.ackText) as { text: string; blocks?: unknown[] };
      expect(validateBlocks(ack.blocks ?? null)).toBeNull();
      expect(ack.text.length).toBeLessThanOrEqual(3000);
    }
    for (const p of privately)
      expect(validateBlocks((JSON.parse(p) as { blocks?: unknown[] }).blocks ?? null)).toBeNull();
    expect(rawControls()).toEqual([]);
  }, 60_000);

  it('a VM name typed with mentions and links is answered as text, found nowhere, and audited', async () => {
    const a = await diag('"<!channel> <https://evil.example|x>" --project dg-hostile-name', 'x>', {
      responseId: 'hostile-name',
    });
    expect(['bad_input']).toContain(a.audit.outcome);
    expect(rawControls()).toEqual([]);
  }, 90_000);
});

describe('/diag asked badly or by the wrong person (real process)', () => {
  it('an unknown VM: says where it looked, in the channel, audited bad_input', async () => {
    const a = await diag('ghost-9 --project dg-unknown --zone europe-west1-b', 'ghost-9');
    expect(a.audit.outcome).toBe('bad_input');
    const s = shown(a.root);
    expect(s).toContain('ghost-9');
    expect(s).toMatch(/not found|no instance|could not find/i);
    expect(s).toContain('dg-unknown');
    expect(a.thread).toEqual([]); // no chart, no report for a VM that does not exist
  }, 60_000);

  it('a name in two zones: lists both as runnable /diag commands keeping the window, audited bad_input', async () => {
    const s = seedVm('dg-twice', 'twin-1');
    ids += 1n;
    fakes.compute.addInstance('dg-twice', 'us-east1-c', { ...s.instance, id: String(ids), zone: undefined });
    const a = await diag('twin-1 --project dg-twice --since 2h', 'twin-1');
    expect(a.audit.outcome).toBe('bad_input');
    const text = shown(a.root);
    expect(text).toContain('2 instances are named');
    expect(text).toContain('/diag twin-1 --project dg-twice --zone europe-west1-b --since 2h');
    expect(text).toContain('/diag twin-1 --project dg-twice --zone us-east1-c --since 2h');
    expect(fakes.monitoring.requests.filter(inProject('dg-twice'))).toEqual([]);
  }, 60_000);

  it.each([
    ['--since forever', /--since takes a duration/],
    ['--since 90d', /at most 42d/],
    ['--at yesterday', /--at takes an ISO time/],
    ['--at 2026-13-45T99:00:00Z', /--at takes an ISO time/],
    ['--around 10m', /--around goes with --at/],
    ['--since 1h --at 2026-11-20T10:03:00Z', /one or the other/],
  ])(
    'bad window "%s": a private answer saying what is wrong, nothing asked of Google, audited bad_input',
    async (flags, problem) => {
      const vm = `bad-${flags
        .replace(/[^a-z0-9]/gi, '')
        .slice(0, 20)
        .toLowerCase()}`;
      const googleBefore =
        fakes.compute.requests.length + fakes.logging.requests.length + fakes.monitoring.requests.length;
      const a = await diag(`${vm} --project dg-bad ${flags}`, vm, { responseId: vm });
      expect(a.audit.outcome).toBe('bad_input');
      const ack = JSON.parse(a.ackText) as { response_type: string; text: string };
      expect(ack.response_type).toBe('ephemeral');
      expect(ack.text).toMatch(problem);
      expect(a.root).toBeUndefined();
      const traces = [...fakes.compute.requests, ...fakes.logging.requests, ...fakes.monitoring.requests]
        .slice(0)
        .filter((r) => JSON.stringify(r).includes(vm));
      expect(traces).toEqual([]);
      expect(
        fakes.compute.requests.length + fakes.logging.requests.length + fakes.monitoring.requests.length,
      ).toBeGreaterThanOrEqual(googleBefore);
    },
    30_000,
  );

  it('--at in the future: told so, nothing posted in the channel', async () => {
    const future = new Date(Date.now() + 3 * 3_600_000).toISOString().slice(0, 19);
    const a = await diag(`fut-1 --project dg-future --at ${future}Z --around 30m`, 'fut-1');
    expect(a.audit.outcome).toBe('bad_input');
    expect(a.root).toBeUndefined();
    await slack.waitFor(() => slack.responses.find((r) => r.id === 'fut-1'), 10_000);
    expect(JSON.stringify(slack.responses.filter((r) => r.id === 'fut-1'))).toContain('in the future');
  }, 30_000);

  it('a user outside the access rule: refused privately, naming who may run it, audited, nothing read', async () => {
    seedVm('dg-refused', 'ref-1');
    const a = await diag('ref-1 --project dg-refused --zone europe-west1-b', 'ref-1', {
      user: 'U0MALLORY',
      responseId: 'refused',
    });
    expect(a.audit.outcome).toBe('refused');
    expect(a.audit.actorId).toBe('U0MALLORY');
    const refusal = `${a.ackText} ${JSON.stringify(slack.responses.filter((r) => r.id === 'refused'))}`;
    expect(refusal).toContain(`<@${ALLOWED}>`);
    expect(a.root).toBeUndefined();
    expect(fakes.compute.requests.filter(inProject('dg-refused'))).toEqual([]);
  }, 30_000);
});
