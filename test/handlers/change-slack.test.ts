import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createChangeSlackReconciler, noteBlockId } from '../../src/handlers/change-slack.js';
import { createSlackClient } from '../../src/integrations/slack/client.js';
import { applyTransition } from '../../src/playbooks/change/transitions.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/types.js';
import { blockText, buttonsOf } from '../e2e/helpers.js';
import { type FakeSlack, startFakeSlack } from '../fakes/slack.js';
import { manualClock } from '../store/harness.js';

const logger = pino({ level: 'silent' });
const TOKEN = 'xoxb-reconciler-test-1';
const PLAN = {
  kind: 'versionlock',
  target: 'el7',
  forge: 'gitlab',
  repo: 'infra/ansible',
  baseBranch: 'main',
  baseSha: 'a'.repeat(40),
  branch: 'opsbot/versionlock-x',
  title: 'versionlock: x',
  commitMessage: 'x',
  summary: 'Lock x',
  files: [{ path: 'v.list', before: '', after: 'x\n' }],
  diff: '+x\n',
  labels: [],
  request: { op: 'add', pkg: 'x', version: '1-1' },
};

describe('the change Slack reconciler', () => {
  let slack: FakeSlack;
  let store: Store;
  let dir: string;
  const clock = manualClock('2026-05-04T10:00:00Z');

  beforeEach(async () => {
    slack = await startFakeSlack({ token: TOKEN });
    dir = mkdtempSync(join(tmpdir(), 'opsbot-reconciler-'));
    store = await openStore({ dataDir: dir, now: clock.now });
  });
  afterEach(async () => {
    await store.close();
    await slack.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const setup = async () => {
    const root = await createSlackClient({
      token: TOKEN,
      apiUrl: slack.apiUrl,
      retries: 0,
      logger,
    }).postMessage('C1', { text: 'preparing' });
    const change = await store.changes.create({
      id: randomUUID(),
      kind: 'versionlock',
      target: 'el7',
      forge: 'gitlab',
      project: 'infra/ansible',
      baseBranch: 'main',
      branch: PLAN.branch,
      baseSha: PLAN.baseSha,
      headSha: null,
      mrNumber: null,
      mrUrl: null,
      requestedBy: 'U0ALICE',
      approvedBy: null,
      status: 'planned',
      plan: JSON.stringify(PLAN),
      slackChannel: 'C1',
      slackThreadTs: root.ts,
      slackStatusTs: null,
    });
    const reconciler = createChangeSlackReconciler({
      store,
      slack: createSlackClient({ token: TOKEN, apiUrl: slack.apiUrl, retries: 0, logger }),
      logger,
      replicaId: 'A',
      approvers: () => '<@U0BOB>',
      now: clock.now,
    });
    const rootMsg = slack.messages.find((m) => m.ts === root.ts);
    if (!rootMsg) throw new Error('no root');
    return { change, reconciler, rootMsg };
  };

  const approve = (id: string) =>
    store.transaction((tx) =>
      applyTransition(tx, id, 'approve', { approvedBy: 'U0BOB' }, [
        { kind: 'approved', by: 'U0BOB', retry: false },
      ]),
    );

  it('gives a new change its buttons, then posts its notes once and in order and removes the buttons', async () => {
    const { change, reconciler, rootMsg } = await setup();
    await reconciler.reconcileDue();
    expect(buttonsOf(rootMsg)).toHaveLength(2);
    await approve(change.id);
    await reconciler.reconcileDue();
    await reconciler.reconcileDue(); // nothing left: no call
    const thread = slack.messages.filter((m) => m.threadTs === rootMsg.ts);
    expect(thread.map((m) => m.text)).toEqual(['Approved by <@U0BOB>, applying…']);
    expect(buttonsOf(rootMsg)).toHaveLength(0);
    expect(blockText(rootMsg)).toContain('applying');
    expect(slack.callsOf('chat.update')).toHaveLength(2);
  });

  it('honours Retry-After: nothing is posted before it passes, then the thread catches up', async () => {
    const { change, reconciler, rootMsg } = await setup();
    await approve(change.id);
    slack.failNext('chat.postMessage', { status: 429, retryAfter: 40 }, 1);
    await reconciler.reconcileDue();
    expect(slack.messages.filter((m) => m.threadTs === rootMsg.ts)).toHaveLength(0);
    clock.advance(39_000);
    await reconciler.reconcileDue();
    expect(slack.callsOf('chat.postMessage')).toHaveLength(2); // the root, the refused note; no retry yet
    clock.advance(1_000);
    await reconciler.reconcileDue();
    expect(slack.messages.filter((m) => m.threadTs === rootMsg.ts).map((m) => m.text)).toEqual([
      'Approved by <@U0BOB>, applying…',
    ]);
  });

  it('does not post again a note an earlier attempt posted without recording it (found by its block_id)', async () => {
    const { change, reconciler, rootMsg } = await setup();
    await approve(change.id);
    const [note] = await store.notes.list(change.id);
    if (!note) throw new Error('no note');
    // A replica posted it, then died before recording the ts.
    await store.notes.markAttempt(note.id);
    await createSlackClient({ token: TOKEN, apiUrl: slack.apiUrl, retries: 0, logger }).postMessage('C1', {
      text: 'Approved by <@U0BOB>, applying…',
      blocks: [
        { type: 'section', block_id: noteBlockId(note.id), text: { type: 'mrkdwn', text: 'Approved' } },
      ],
      threadTs: rootMsg.ts,
    });
    await reconciler.reconcileDue();
    expect(slack.messages.filter((m) => m.threadTs === rootMsg.ts)).toHaveLength(1);
    expect((await store.notes.list(change.id))[0]?.postedTs).not.toBeNull();
    expect(slack.callsOf('conversations.replies')).toHaveLength(1);
  });

  it('retries after an HTTP 500 with a backoff, and gives up a note on a channel that is gone', async () => {
    const { change, reconciler, rootMsg } = await setup();
    await approve(change.id);
    slack.failNext('chat.postMessage', { status: 500 }, 1);
    await reconciler.reconcileDue();
    expect(slack.messages.filter((m) => m.threadTs === rootMsg.ts)).toHaveLength(0);
    clock.advance(2_000);
    await reconciler.reconcileDue();
    expect(slack.messages.filter((m) => m.threadTs === rootMsg.ts)).toHaveLength(1);
    await store.transaction((tx) => applyTransition(tx, change.id, 'start', {}, [{ kind: 'waiting' }]));
    slack.hideChannel('C1');
    await reconciler.reconcileDue();
    expect((await store.notes.list(change.id)).map((n) => n.postedTs === '')).toEqual([false, true]);
    expect(await store.changes.listSlackDue(10)).toEqual([]);
  });
});
