import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/open.js';
import { type FakeCompute, startFakeCompute } from '../fakes/gce-compute.js';
import { TEST_TOKEN } from '../fakes/gce-env.js';
import { buildFleet, type Fleet, seedFleet } from '../fakes/gce-fleet.js';
import { type FakeLogging, startFakeLogging } from '../fakes/gce-logging.js';
import { writeGceServeConfig } from '../fakes/gce-serve-config.js';
import { type FakeSlack, type PostedFakeMessage, startFakeSlack, validateBlocks } from '../fakes/slack.js';
import {
  BOT_TOKEN,
  type Button,
  blockActionBody,
  buttonsOf,
  postSigned,
  slashBody,
  startServeOnFakes,
  stopServe,
} from './helpers.js';
import type { OpsbotProcess } from './opsbot-process.js';

/**
 * /reboots the way it runs: a real `opsbot serve` (HTTP mode) gets the signed slash command, reads the fleet
 * (900 VMs over 3 projects, 12,000 audit entries) from the Google fakes with one query per project, and
 * answers in the fake Slack: a summary within Block Kit limits, the full table as a file in the thread, and
 * a /why-reboot button per VM shown that runs the full investigation in the thread, for those the
 * /why-reboot access rule allows.
 */
let slack: FakeSlack;
let logging: FakeLogging;
let compute: FakeCompute;
let fleet: Fleet;
let opsbot: OpsbotProcess | undefined;
let port = 0;
let dir: string;

beforeAll(async () => {
  slack = await startFakeSlack({ token: BOT_TOKEN });
  logging = await startFakeLogging({ accessToken: TEST_TOKEN, maxPageSize: 500, emptyPagesBefore: 1 });
  compute = await startFakeCompute({ accessToken: TEST_TOKEN });
  // The window ends now (the slash command has no --until): incidents are 2.5 h ago.
  const end = new Date(Math.floor(Date.now() / 60_000) * 60_000);
  fleet = buildFleet({ end, vms: 900, entries: 12_000 });
  seedFleet(fleet, { compute, logging });
  dir = mkdtempSync(join(tmpdir(), 'opsbot-reboots-e2e-'));
  const configPath = writeGceServeConfig(
    dir,
    { compute, logging },
    {
      google: [`  projects: [${fleet.projects.join(', ')}]`],
      extra: [
        'slack:',
        '  mode: http',
        'access:',
        '  commands:',
        '    why-reboot:',
        '      users: [U0ALICE]',
      ],
    },
  );
  opsbot = startServeOnFakes(configPath, { dir: dir, slack });
  port = await opsbot.port(60_000);
}, 120_000);

afterAll(async () => {
  await stopServe(opsbot);
  await Promise.all([slack?.close(), logging?.close(), compute?.close()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('/reboots end to end (real process, fake Slack and Google)', () => {
  it('summarises the groups within Block Kit limits, attaches every restart, and runs /why-reboot from a button for allowed users', async () => {
    const res = await postSigned(
      port,
      slashBody({ command: '/reboots', text: '--since 24h', response_url: slack.responseUrl() }),
    );
    expect(res.status).toBe(200);
    const root = await slack.waitFor(
      () => slack.messages.find((m) => m.threadTs === null && m.updates > 0 && m.text.includes('restart')),
      60_000,
    );
    expect(validateBlocks(root.blocks)).toBeNull();
    expect((root.blocks ?? []).length).toBeLessThanOrEqual(50);
    const shown = JSON.stringify(root.blocks);
    const zoneA = fleet.incidents[0];
    if (!zoneA) throw new Error('no incident');
    expect(shown).toContain(`${zoneA.vms.length} VMs in us-central1-a, host errors between`);
    expect(shown).toContain('6 VMs in us-central1-b, host errors between');
    expect(shown).toContain('Upcoming maintenance (2 VM(s))');
    // One audit query per project, whatever the number of VMs.
    expect(new Set(logging.filters()).size).toBe(3);

    // The full table, in the thread: one line per restart, the host errors among them.
    const upload = await slack.waitFor(() => slack.uploads.find((u) => u.completed), 30_000);
    expect(upload.threadTs).toBe(root.ts);
    const table = (upload.bytes as Buffer).toString('utf8').trim().split('\n');
    const restarts = Number(/(\d+) restart\(s\)/.exec(root.text)?.[1]);
    expect(restarts).toBeGreaterThan(100);
    expect(table).toHaveLength(restarts + 1);
    for (const vm of zoneA.vms) {
      expect(table.some((l) => l.includes(`\t${vm.name}\t${vm.id}\thost-error\t187\t`))).toBe(true);
    }

    // A button per VM shown; Bob is not allowed to run /why-reboot: refused privately, nothing in the thread.
    const buttons = buttonsOf(root as PostedFakeMessage);
    const button = buttons.find((b) => b.value.includes(`"${zoneA.vms[0]?.name}"`)) as Button;
    expect(button).toBeDefined();
    const before = slack.messages.filter((m) => m.threadTs === root.ts).length;
    const click = (user: string) =>
      postSigned(
        port,
        blockActionBody({ user, message: root, button, responseUrl: slack.responseUrl(`click-${user}`) }),
      );
    expect((await click('U0BOB')).status).toBe(200);
    await slack.waitFor(
      () => slack.callsOf('chat.postEphemeral').find((c) => c.args.user === 'U0BOB'),
      30_000,
    );
    expect(slack.messages.filter((m) => m.threadTs === root.ts)).toHaveLength(before);

    // Alice is: the full /why-reboot of that VM lands in the thread.
    expect((await click('U0ALICE')).status).toBe(200);
    const verdict = await slack.waitFor(
      () =>
        slack.messages.find(
          (m) =>
            m.threadTs === root.ts && m.updates > 0 && /host error/i.test(JSON.stringify(m.blocks) + m.text),
        ),
      60_000,
    );
    expect(verdict.text).toContain(zoneA.vms[0]?.name);
    await slack.waitFor(
      () => slack.messages.find((m) => m.threadTs === root.ts && m.text.startsWith('Full report of')),
      30_000,
    );

    // Both runs and both clicks are in the audit log.
    const store = await openStore({ databaseUrl: undefined, dataDir: join(dir, 'data') });
    try {
      await expect
        .poll(async () => (await store.audit.list({})).map((r) => `${r.command}:${r.outcome}`).sort(), {
          timeout: 15_000,
        })
        .toEqual(['reboots:ok', 'why-reboot:ok', 'why-reboot:refused']);
    } finally {
      await store.close();
    }
  }, 180_000);
});
