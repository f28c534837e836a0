import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { Logger } from '../../src/core/logger.js';
import type { CommandContext } from '../../src/handlers/pipeline.js';
import { type PipelineCommandDeps, pipelineCommand } from '../../src/handlers/pipeline-command.js';
import type { ForgePort } from '../../src/integrations/forge/port.js';
import type { SlackMessage, SlackPort } from '../../src/integrations/slack/port.js';
import { type ErrorContext, isStoreUnavailable, toStoreError } from '../../src/store/errors.js';

/** `/pipeline <mr>` posts the thread's root before it stores the follow (the follow is keyed by the thread). */

const pgErrors: ErrorContext = { engine: 'postgres', scrub: (t) => t };
const HOSTS = { gitlab: 'https://gitlab.example.com', github: null };

const setup = (o: { updateFails?: boolean } = {}) => {
  const events: string[] = [];
  const edits: SlackMessage[] = [];
  const replies: SlackMessage[] = [];
  const slack = {
    postMessage: async (channel: string, m: SlackMessage) => {
      events.push(`post ${m.text.slice(0, 20)}`);
      return { channel, ts: '1700000000.000100' };
    },
    updateMessage: async (channel: string, ts: string, m: SlackMessage) => {
      events.push('update');
      if (o.updateFails) throw new Error('slack is down too');
      edits.push(m);
      return { channel, ts };
    },
    getPermalink: async () => 'https://slack.example.com/p1',
  } as unknown as SlackPort;
  const forge = {
    getMergeRequest: async () => ({
      number: 7,
      url: 'https://gitlab.example.com/infra/ansible/-/merge_requests/7',
      title: 'Bump es',
      state: 'open',
      sourceBranch: 'fix',
      targetBranch: 'main',
      headSha: null,
    }),
  } as unknown as ForgePort;
  const deps: PipelineCommandDeps = {
    hosts: HOSTS,
    forgeFor: () => forge,
    follower: {
      listFollows: async () => [],
      stopFollows: async () => 0,
      ensureFollow: async () => {
        events.push('store');
        throw toStoreError(
          Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
          pgErrors,
          'pipelines.ensureFollow',
        );
      },
    },
  };
  const out: string[] = [];
  const ctx: CommandContext = {
    invocation: {
      command: '/pipeline',
      text: 'infra/ansible!7',
      userId: 'U0ALICE',
      userName: null,
      channelId: 'C0OPS',
      channelName: null,
      teamId: null,
      responseUrl: null,
      triggerId: null,
    },
    correlationId: 'abc123',
    logger: pino({ level: 'debug' }, { write: (l: string) => void out.push(l) }) as unknown as Logger,
    slack,
    reply: async (m) => void replies.push(m),
  };
  const spec = pipelineCommand(deps);
  const parsed = spec.parse('infra/ansible!7');
  if (!parsed.ok) throw new Error(parsed.problem);
  return { run: () => spec.run(ctx, parsed.args), events, edits, replies, logs: () => out.join('\n') };
};

describe('/pipeline when the store refuses the follow after the root is posted', () => {
  it('edits the root to say the MR is not followed, with the ref and the command to run again, then fails with the store error', async () => {
    const t = setup();
    const err = await t.run().then(
      () => null,
      (e: unknown) => e,
    );
    expect(isStoreUnavailable(err)).toBe(true); // the pipeline tells the user privately, with the ref
    expect(t.events).toEqual(['post :eyes: Following the', 'store', 'update']);
    expect(t.edits).toHaveLength(1);
    expect(t.edits[0]?.text).toMatch(/not followed/);
    expect(t.edits[0]?.text).toContain('abc123');
    expect(t.edits[0]?.text).toContain('/pipeline infra/ansible!7');
    expect(t.edits[0]?.text).not.toMatch(/Following the CI/);
  });

  it('Slack refusing the correction too: still the store error (not the Slack one), and the failed edit logged', async () => {
    const t = setup({ updateFails: true });
    const err = await t.run().then(
      () => null,
      (e: unknown) => e,
    );
    expect(isStoreUnavailable(err)).toBe(true);
    expect(t.logs()).toContain('could not correct the root message');
  });
});
