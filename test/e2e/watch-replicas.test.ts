import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeCompute, startFakeCompute } from '../fakes/gce-compute.js';
import { TEST_TOKEN } from '../fakes/gce-env.js';
import { type FleetVm, systemEvent } from '../fakes/gce-fleet.js';
import { type FakeLogging, startFakeLogging } from '../fakes/gce-logging.js';
import { type FakeSlack, startFakeSlack } from '../fakes/slack.js';
import { createTestSchema, dropTestSchema } from '../store/harness.js';
import { BOT_TOKEN, postSigned, slashBody, tempDir, writeConfig } from './helpers.js';
import { type Replica, replicaPool } from './opsbot-process.js';
import { slackServeEnv } from './serve-config.js';

/**
 * The platform-event watch with two real `opsbot serve` replicas on one PostgreSQL schema: one polls at a
 * time (the lease), a group's message is updated in place as VMs join, and a replica killed with SIGKILL
 * after Slack accepted its post but before the post was recorded leaves at most that message, which the
 * other replica finds by its group key and edits instead of posting it again.
 */
const DATABASE_URL = process.env.DATABASE_URL;
const CHANNEL = 'C0WATCH';
const PROJECT = 'watch-prod-a';
const LEASE_MS = 2_000;

const vm = (i: number, zone: string): FleetVm => ({
  project: PROJECT,
  zone,
  name: `app-${i}`,
  id: String(5000000000000000000n + BigInt(i)),
  labels: { env: 'prod' },
});

describe.skipIf(!DATABASE_URL)(
  'the watch: two replicas on PostgreSQL, kill -9 between post and commit',
  () => {
    let slack: FakeSlack;
    let logging: FakeLogging;
    let compute: FakeCompute;
    let configPath: string;
    let databaseUrl: string;
    let schema: string;
    const tmp = tempDir();
    const { replicas, start, kill, killAll } = replicaPool({
      configPath: () => configPath,
      env: () =>
        slackServeEnv(slack, {
          HOME: tmp.dir,
          GOOGLE_OAUTH_ACCESS_TOKEN: TEST_TOKEN,
          DATABASE_URL: databaseUrl,
        }),
    });

    /** Top-level messages of the watch channel (thread replies excluded). */
    const posted = () => slack.messages.filter((m) => m.channel === CHANNEL && m.threadTs === null);

    beforeAll(async () => {
      ({ schema, databaseUrl } = await createTestSchema(DATABASE_URL as string));
      slack = await startFakeSlack({ token: BOT_TOKEN });
      logging = await startFakeLogging({ accessToken: TEST_TOKEN, maxPageSize: 2, emptyPagesBefore: 1 });
      compute = await startFakeCompute({ accessToken: TEST_TOKEN });
      configPath = writeConfig(
        tmp.dir,
        [
          'slack:',
          '  mode: http',
          'google:',
          `  projects: [${PROJECT}]`,
          '  endpoints:',
          `    logging: ${logging.url}`,
          `    compute: ${compute.url}`,
          'watch:',
          `  channel: ${CHANNEL}`,
          '  events: [host-error, preemption]',
          '  periodMs: 300',
          `  leaseMs: ${LEASE_MS}`,
          '  settleMs: 600000',
          '  groupGapMs: 300000',
          '',
        ].join('\n'),
      );
      await Promise.all([start('A'), start('B')]);
    }, 90_000);

    afterAll(async () => {
      killAll();
      await Promise.all([slack?.close(), logging?.close(), compute?.close()]);
      await dropTestSchema(DATABASE_URL as string, schema);
      tmp.cleanup();
    });

    it('posts one message per group, edits it as VMs join, and after a kill -9 between post and commit edits instead of reposting', async () => {
      const t0 = Date.now() - 12 * 60_000;
      const zoneA = [1, 2, 3].map((i) => vm(i, 'us-central1-a'));
      logging.addEntries(zoneA.map((v, k) => systemEvent('HostErrorEvent', v, new Date(t0 + k * 20_000))));
      const first = await slack.waitFor(
        () => posted().find((m) => m.text.includes('3 VMs in us-central1-a, host errors')),
        30_000,
      );
      expect(posted()).toHaveLength(1);

      // Two more VMs of the same event: the same message is edited, nothing new is posted.
      const more = [4, 5].map((i) => vm(i, 'us-central1-a'));
      logging.addEntries(
        more.map((v, k) => systemEvent('HostErrorEvent', v, new Date(t0 + 120_000 + k * 30_000))),
      );
      await slack.waitFor(() => first.text.includes('5 VMs in us-central1-a'), 30_000);
      expect(posted()).toHaveLength(1);
      expect(first.updates).toBeGreaterThanOrEqual(1);

      // Another event in another zone; the leader dies after Slack took the post, before recording it.
      const hold = slack.holdNext('chat.postMessage');
      const zoneB = [6, 7].map((i) => vm(i, 'us-central1-b'));
      logging.addEntries(
        zoneB.map((v, k) => systemEvent('HostErrorEvent', v, new Date(t0 + 300_000 + k * 10_000))),
      );
      await hold.reached;
      const db = new pg.Client({ connectionString: databaseUrl });
      await db.connect();
      const holder = String(
        (await db.query(`select holder from locks where name = 'watch'`)).rows[0]?.holder,
      );
      const leader = [...replicas.values()].find((r) => holder.includes(`:${r.child.pid}:`));
      expect(leader).toBeDefined();
      await kill(leader as Replica);
      hold.release();
      const survivor = [...replicas.values()][0] as Replica;

      // The survivor takes the lease, finds the message by its group key, and edits it: no duplicate.
      const b = await slack.waitFor(
        () => posted().find((m) => m.text.includes('2 VMs in us-central1-b') && m.updates > 0),
        LEASE_MS + 30_000,
      );
      expect(posted().filter((m) => m.text.includes('us-central1-b'))).toEqual([b]);
      await expect
        .poll(() => survivor.lines.some((l) => l.includes('edited instead of posted again')), {
          timeout: 10_000,
        })
        .toBe(true);
      // The cursor is committed after the post; both groups are recorded with their messages.
      await expect
        .poll(
          async () => (await db.query('select ts from watch_groups order by from_ms')).rows.map((r) => r.ts),
          {
            timeout: 15_000,
          },
        )
        .toEqual([first.ts, b.ts]);
      const cursor = Number((await db.query('select cursor_ms from watch_state')).rows[0]?.cursor_ms);
      expect(cursor).toBeGreaterThan(t0 + 300_000);

      // A restarted replica resumes from the stored cursor: nothing is posted again.
      const c = await start('C');
      const postsBefore = slack.callsOf('chat.postMessage').length;
      await expect
        .poll(async () => Number((await db.query('select cursor_ms from watch_state')).rows[0]?.cursor_ms), {
          timeout: 15_000,
        })
        .toBeGreaterThan(cursor);
      expect(slack.callsOf('chat.postMessage').length).toBe(postsBefore);
      expect(posted()).toHaveLength(2);
      await db.end();

      // /opsbot watch: what is watched, the cursor's age, the last error.
      const res = await postSigned(
        c.port,
        slashBody({ command: '/opsbot', text: 'watch', response_url: slack.responseUrl('watch-status') }),
      );
      expect(res.status).toBe(200);
      const status = await slack.waitFor(() => slack.responses.find((r) => r.id === 'watch-status'), 15_000);
      const text = JSON.stringify(status.body);
      expect(text).toContain(`\`${PROJECT}\` for host-error, preemption, posting to <#${CHANNEL}>`);
      expect(text).toMatch(/Cursor: \d{4}-\d\d-\d\dT[^ ]+ \(age \d+s\)/);
      expect(text).toContain('Last error: none');
      expect(text).toContain('Groups posted: 2');
    }, 180_000);
  },
);
