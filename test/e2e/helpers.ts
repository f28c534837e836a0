import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { WhyRebootDeps } from '../../src/handlers/why-reboot.js';
import { signSlackRequest } from '../../src/integrations/slack/verify.js';
import type { WhyRebootReport } from '../../src/playbooks/why-reboot/types.js';
import type { AuditRecord, Store } from '../../src/store/types.js';
import type { FakeCompute } from '../fakes/gce-compute.js';
import { TEST_TOKEN } from '../fakes/gce-env.js';
import type { FakeSlack, PostedFakeMessage } from '../fakes/slack.js';
import { type OpsbotProcess, startOpsbotProcess } from './opsbot-process.js';

export const SIGNING_SECRET = 'e2e-signing-secret-5f1c9a';
export const BOT_TOKEN = 'xoxb-e2e-bot-token-424242';

export interface SlashFields {
  readonly command: string;
  readonly text?: string;
  readonly user_id?: string;
  readonly channel_id?: string;
  readonly response_url: string;
  /** From the fake Slack's issueTriggerId() when the command opens a modal. */
  readonly trigger_id?: string;
}

/** A slash command body with the field names Slack really sends (application/x-www-form-urlencoded). */
export const slashBody = (f: SlashFields): string =>
  new URLSearchParams({
    token: 'deprecated-verification-token',
    team_id: 'T0FAKE001',
    team_domain: 'fake',
    channel_id: f.channel_id ?? 'C0OPS',
    channel_name: 'ops',
    user_id: f.user_id ?? 'U0ALICE',
    user_name: 'alice',
    command: f.command,
    text: f.text ?? '',
    api_app_id: 'A0OPSBOT',
    is_enterprise_install: 'false',
    response_url: f.response_url,
    trigger_id: f.trigger_id ?? '1234.5678.abcdef',
  }).toString();

/**
 * The interactivity payload Slack posts when the user submits a modal (`view_submission`): the view as
 * opened, its id, and `state.values` keyed by block_id then action_id with each element's typed value.
 */
export const viewSubmissionBody = (o: {
  user: string;
  view: { readonly id: string; readonly view: Record<string, unknown> };
  values: Record<string, Record<string, Record<string, unknown>>>;
}): string =>
  new URLSearchParams({
    payload: JSON.stringify({
      type: 'view_submission',
      team: { id: 'T0FAKE001', domain: 'fake' },
      user: { id: o.user, username: o.user.toLowerCase(), name: o.user.toLowerCase(), team_id: 'T0FAKE001' },
      api_app_id: 'A0OPSBOT',
      token: 'deprecated-verification-token',
      trigger_id: '5555.6666.submit',
      view: {
        ...o.view.view,
        id: o.view.id,
        team_id: 'T0FAKE001',
        state: { values: o.values },
        hash: '1700000000.abcdefgh',
        previous_view_id: null,
        root_view_id: o.view.id,
        app_id: 'A0OPSBOT',
        external_id: '',
        bot_id: 'B0BOT0001',
      },
      response_urls: [],
      is_enterprise_install: false,
      enterprise: null,
    }),
  }).toString();

export const postSigned = async (
  port: number,
  body: string,
  opts: {
    secret?: string;
    timestampSeconds?: number;
    headers?: Record<string, string>;
    unsigned?: boolean;
  } = {},
): Promise<{ status: number; text: string; ms: number }> => {
  const ts = opts.timestampSeconds ?? Date.now() / 1000;
  const sig = opts.unsigned ? {} : signSlackRequest(opts.secret ?? SIGNING_SECRET, body, ts);
  const t0 = performance.now();
  const res = await fetch(`http://127.0.0.1:${port}/slack/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...sig, ...(opts.headers ?? {}) },
    body,
  });
  const text = await res.text();
  return { status: res.status, text, ms: performance.now() - t0 };
};

export const tempDir = (): { dir: string; cleanup: () => void } => {
  const dir = mkdtempSync(join(tmpdir(), 'opsbot-e2e-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
};

export const writeConfig = (dir: string, yaml: string): string => {
  const path = join(dir, 'opsbot.yaml');
  writeFileSync(path, yaml);
  return path;
};

/**
 * `opsbot serve --config <configPath>` as a child process on the fake Slack's API (HTTP mode, signed with
 * SIGNING_SECRET) and the GCE fakes' static token, HOME and cwd `dir`, an ephemeral port, info logs.
 */
export const startServeOnFakes = (configPath: string, o: { dir: string; slack: FakeSlack }): OpsbotProcess =>
  startOpsbotProcess(
    ['serve', '--config', configPath],
    {
      HOME: o.dir,
      SLACK_BOT_TOKEN: BOT_TOKEN,
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: o.slack.apiUrl,
      GOOGLE_OAUTH_ACCESS_TOKEN: TEST_TOKEN,
      PORT: '0',
      OPSBOT_LOG_LEVEL: 'info',
    },
    { cwd: o.dir },
  );

/** SIGTERM, then waits for the process to exit (nothing if it never started). */
export const stopServe = async (opsbot: OpsbotProcess | undefined): Promise<void> => {
  if (!opsbot) return;
  opsbot.kill('SIGTERM');
  await opsbot.exited;
};

/**
 * A raw Slack control sequence: a mention, a special mention or a link other than opsbot's own to the Google
 * Cloud console. Escaped text has none.
 */
export const RAW_SLACK_CONTROL = /<[!@#]|<https?:\/\/(?!console\.cloud\.google\.com\/)/;

/** Each raw Slack control sequence in `sent` (what opsbot sent to Slack), with 80 characters either side. */
export const rawSlackControls = (sent: string): string[] =>
  [...sent.matchAll(new RegExp(RAW_SLACK_CONTROL, 'g'))].map((m) =>
    sent.slice(Math.max(0, m.index - 80), m.index + 80),
  );

/** What one slash command came to, once its audit row was written (the pipeline writes it last). */
export interface AuditedAnswer {
  readonly ackText: string;
  readonly sentAt: number;
  readonly audit: AuditRecord;
  /** The root message the command posted (progress, then the answer), if it posted one. */
  readonly root: PostedFakeMessage | undefined;
  /** Thread replies under the root, in order. */
  readonly thread: PostedFakeMessage[];
}

/** The audit rows of `command` (without its slash), none while the store is not open. */
export const auditRowsOf = async (store: Store | undefined, command: string): Promise<AuditRecord[]> =>
  (await store?.audit.list({ command })) ?? [];

/** The first audit row of `command` that matches, waiting for it up to a deadline. */
export const awaitAuditRow = async (
  store: Store | undefined,
  command: string,
  match: (a: AuditRecord) => boolean,
  timeoutMs = 60_000,
): Promise<AuditRecord> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const row = (await auditRowsOf(store, command)).find(match);
    if (row) return row;
    if (Date.now() > deadline) throw new Error('no audit row in time');
    await new Promise((r) => setTimeout(r, 50));
  }
};

/**
 * Sends a signed slash command (e.g. `/diag`) to the serve process on `port` and waits for its audit row: the
 * first new one whose arguments hold `key`, unique per test.
 */
export const slashUntilAudited = async (o: {
  port: number;
  slack: FakeSlack;
  store: Store | undefined;
  command: string;
  text: string;
  key: string;
  user: string;
  responseId?: string;
}): Promise<AuditedAnswer> => {
  const { slack } = o;
  const audited = o.command.replace(/^\//, '');
  const rootsBefore = new Set(slack.messages.filter((m) => m.threadTs === null).map((m) => m.ts));
  const auditBefore = new Set((await auditRowsOf(o.store, audited)).map((a) => a.correlationId));
  const sentAt = Date.now();
  const r = await postSigned(
    o.port,
    slashBody({
      command: o.command,
      text: o.text,
      user_id: o.user,
      response_url: slack.responseUrl(o.responseId ?? o.key),
    }),
  );
  expect(r.status).toBe(200);
  const audit = await awaitAuditRow(
    o.store,
    audited,
    (a) => !auditBefore.has(a.correlationId) && a.args.includes(o.key),
  );
  const root = slack.messages.find((m) => m.threadTs === null && !rootsBefore.has(m.ts));
  const thread = root ? slack.messages.filter((m) => m.threadTs === root.ts) : [];
  return { ackText: r.text, sentAt, audit, root, thread };
};

/** `/pipeline <mr>` in #ops from U0ALICE, signed as Slack sends it; expects the 200 ack. */
export const postPipelineSlash = async (
  port: number,
  slack: FakeSlack,
  mr: string,
  responseId: string,
): Promise<void> => {
  const r = await postSigned(
    port,
    slashBody({
      command: '/pipeline',
      text: mr,
      channel_id: 'C0OPS',
      user_id: 'U0ALICE',
      response_url: slack.responseUrl(responseId),
    }),
  );
  expect(r.status).toBe(200);
};

/** Captures log lines (a pino destination). */
export const captureLines = (): { lines: string[]; write(line: string): void } => {
  const lines: string[] = [];
  return { lines, write: (line: string) => void lines.push(line) };
};

/** A promise the test opens when it chooses: holds a stand-in playbook in flight without a timer. */
export const gate = (): { readonly wait: () => Promise<void>; open(): void } => {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait: () => opened, open: () => open() };
};

/**
 * A stand-in /why-reboot playbook for tests of the handler's Slack choreography (progress message, update,
 * thread replies), not of the analysis. `requests` records every collection asked for.
 */
export const standInWhyReboot = (
  options: { hold?: () => Promise<void>; fullReport?: string } = {},
): WhyRebootDeps & { requests: unknown[] } => {
  const requests: unknown[] = [];
  return {
    requests,
    now: () => new Date('2026-05-04T10:00:00Z'),
    defaultWindow: '7d',
    async investigate(request) {
      requests.push(request);
      if (options.hold) await options.hold(); // the test decides when the "slow" collection ends
      return {
        instance: { name: request.vm, project: 'shop-prod', zone: 'europe-west1-b' },
        verdict: { cause: 'host-error', summary: 'host error', confidence: 'high' },
      } as unknown as WhyRebootReport;
    },
    buildProgress: (r) => ({ text: `Investigating ${r.vm} ...` }),
    buildReport: (report) => ({
      text: `${report.instance.name} was restarted by Google after a host error`,
      blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '*Host error*' } }],
      fullReport: options.fullReport ?? 'timeline',
    }),
  };
};

export type Button = { action_id: string; value: string };

export const buttonsOf = (m: PostedFakeMessage | undefined): Button[] =>
  ((m?.blocks ?? []) as Array<{ type: string; elements?: Button[] }>)
    .filter((b) => b.type === 'actions')
    .flatMap((b) => b.elements ?? []);

export const blockText = (m: PostedFakeMessage | undefined): string =>
  JSON.stringify(m?.blocks ?? []) + (m?.text ?? '');

/** An interactivity payload with the field names Slack really sends for a button click. */
export const blockActionBody = (o: {
  user: string;
  message: PostedFakeMessage;
  button: Button;
  responseUrl: string;
}): string =>
  new URLSearchParams({
    payload: JSON.stringify({
      type: 'block_actions',
      user: { id: o.user, username: o.user.toLowerCase(), name: o.user.toLowerCase(), team_id: 'T0FAKE001' },
      api_app_id: 'A0OPSBOT',
      token: 'deprecated-verification-token',
      container: {
        type: 'message',
        message_ts: o.message.ts,
        channel_id: o.message.channel,
        is_ephemeral: false,
        ...(o.message.threadTs ? { thread_ts: o.message.threadTs } : {}),
      },
      trigger_id: '9876.5432.fedcba',
      team: { id: 'T0FAKE001', domain: 'fake' },
      enterprise: null,
      is_enterprise_install: false,
      channel: { id: o.message.channel, name: 'ops' },
      message: {
        type: 'message',
        user: 'U0BOT0001',
        ts: o.message.ts,
        text: o.message.text,
        blocks: o.message.blocks,
        ...(o.message.threadTs ? { thread_ts: o.message.threadTs } : {}),
      },
      state: { values: {} },
      response_url: o.responseUrl,
      actions: [
        {
          action_id: o.button.action_id,
          block_id: 'change_actions',
          text: { type: 'plain_text', text: o.button.action_id === 'change_approve' ? 'Approve' : 'Cancel' },
          value: o.button.value,
          style: o.button.action_id === 'change_approve' ? 'primary' : 'danger',
          type: 'button',
          action_ts: `${Date.now() / 1000}`,
        },
      ],
    }),
  }).toString();

/**
 * The VM the /tf-import suites import: shop-prod/europe-west1-b/web-1 (an e2-standard-4 booting debian-12), in
 * Compute as `instances.get` and its boot disk's image answer for it.
 */
export const addTfImportVm = (compute: FakeCompute, labels?: Record<string, string>): void => {
  const zone = 'https://www.googleapis.com/compute/v1/projects/shop-prod/zones/europe-west1-b';
  compute.addInstance('shop-prod', 'europe-west1-b', {
    name: 'web-1',
    id: '4567890123456789012',
    status: 'RUNNING',
    machineType: `${zone}/machineTypes/e2-standard-4`,
    ...(labels ? { labels } : {}),
    disks: [{ deviceName: 'web-1', boot: true, source: `${zone}/disks/web-1`, diskSizeGb: '20' }],
    networkInterfaces: [
      { network: 'https://www.googleapis.com/compute/v1/projects/shop-prod/global/networks/prod' },
    ],
    scheduling: { automaticRestart: true, onHostMaintenance: 'MIGRATE', preemptible: false },
  });
  compute.addDisk('shop-prod', 'europe-west1-b', {
    name: 'web-1',
    sourceImage:
      'https://www.googleapis.com/compute/v1/projects/debian-cloud/global/images/debian-12-bookworm-v20240110',
  });
};
