import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAmendModal } from '../../../src/handlers/blocks/amend-modal.js';
import { createSlackClient } from '../../../src/integrations/slack/client.js';
import { isTriggerGone, slackErrorOf } from '../../../src/integrations/slack/errors.js';
import { type FakeSlack, startFakeSlack } from '../../fakes/slack.js';

/**
 * views.open through the real Web API client against the fake, which refuses what Slack refuses: a trigger
 * id it never issued, one older than 3 s, one used already, and a view that is not a valid modal.
 */

const TOKEN = 'xoxb-views-open-test';

describe('views.open (the /amend form) against the fake Slack', () => {
  let slack: FakeSlack;
  const logger = pino({ level: 'silent' });
  const client = () => createSlackClient({ token: TOKEN, apiUrl: slack.apiUrl, retries: 0, logger });
  const modal = buildAmendModal({ mrLabel: 'ops/app!4', metadata: { mr: 'ops/app!4', channelId: 'C1' } });

  beforeAll(async () => {
    slack = await startFakeSlack({ token: TOKEN });
  });
  afterAll(() => slack.close());

  const errorOf = (p: Promise<unknown>) =>
    p.then(
      () => null,
      (err: unknown) => ({ code: slackErrorOf(err), gone: isTriggerGone(err) }),
    );

  it('opens the form once with a fresh trigger id; the form is a valid modal', async () => {
    const trigger = slack.issueTriggerId();
    const { viewId } = await client().openView(trigger, modal);
    expect(viewId).toMatch(/^V/);
    expect(slack.views.at(-1)).toMatchObject({ triggerId: trigger, view: { callback_id: 'amend_modal' } });
    // A trigger id works once.
    expect(await errorOf(client().openView(trigger, modal))).toEqual({
      code: 'exchanged_trigger_id',
      gone: true,
    });
  });

  it('refuses a trigger id older than 3 s and one Slack never issued', async () => {
    const old = slack.issueTriggerId({ issuedAgoMs: 3500 });
    expect(await errorOf(client().openView(old, modal))).toEqual({ code: 'expired_trigger_id', gone: true });
    expect(await errorOf(client().openView('1.2.nope', modal))).toEqual({
      code: 'invalid_trigger_id',
      gone: true,
    });
  });

  it('refuses views Slack refuses: a title over 24 characters, over 100 blocks, no callback_id, not a modal', async () => {
    const bad = [
      { ...modal, title: { type: 'plain_text', text: 'x'.repeat(25) } },
      { ...modal, blocks: Array.from({ length: 101 }, () => ({ type: 'divider' })) },
      { ...modal, callback_id: undefined },
      { ...modal, type: 'home' },
    ];
    for (const view of bad) {
      expect(await errorOf(client().openView(slack.issueTriggerId(), view))).toEqual({
        code: 'invalid_arguments',
        gone: false,
      });
    }
  });
});
