import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildChangeMessage } from '../../../src/handlers/blocks/change.js';
import { buildDiagProgressBlocks } from '../../../src/handlers/blocks/diag.js';
import {
  buildMergeRequestEndedMessage,
  buildPipelineResultMessage,
  buildPipelineStatusMessage,
} from '../../../src/handlers/blocks/pipeline.js';
import { SLACK_LIMITS, splitForCodeBlocks, truncate } from '../../../src/handlers/blocks/text.js';
import {
  buildWhyRebootBlocks,
  buildWhyRebootProgressBlocks,
} from '../../../src/handlers/blocks/why-reboot.js';
import { unknownCommandAnswer } from '../../../src/handlers/register.js';
import type { ChangePlan } from '../../../src/playbooks/change/types.js';
import type { PipelineView } from '../../../src/playbooks/pipelines/view.js';
import type { Restart, WhyRebootReport } from '../../../src/playbooks/why-reboot/types.js';
import { validateBlocks } from '../../fakes/slack.js';

/**
 * Every Block Kit builder, fed long and odd text from outside (3,500-character words, emoji and other
 * surrogate pairs, `&<>` right where a cut lands, mentions and links, code fences): the message must be one
 * Slack accepts (its limits), nothing from outside may reach Slack as a mention or a link, and no cut may
 * leave half an escape behind.
 */

const HOSTILE = ['<!channel>', '<!here>', '<@UEVIL>', '<!subteam^SEVIL>', '<http://evil.example|x>'];
const piece = fc.oneof(
  fc.constantFrom(...HOSTILE, '&', '<', '>', '&amp;', '```', '`', '😀', '👩‍👩‍👧', '\n', '*', '_', '|'),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.integer({ min: 1, max: 3_600 }).map((n) => 'x'.repeat(n)),
  fc.integer({ min: 1, max: 1_000 }).map((n) => '&<>'.repeat(n)),
);
const outside = fc.array(piece, { maxLength: 6 }).map((parts) => parts.join(''));
const longOutside = fc.oneof(outside, fc.constant(`${'a'.repeat(3_499)}&`), fc.constant('😀'.repeat(1_800)));

type Json = Record<string, unknown>;

/**
 * Every mrkdwn text a person reads (not URLs, which are fields of their own; not plain_text, which Slack shows
 * as is: no mention, link or escape is read there).
 */
const textsOf = (node: unknown, out: string[] = []): string[] => {
  if (Array.isArray(node)) for (const n of node) textsOf(n, out);
  else if (node && typeof node === 'object') {
    const o = node as Json;
    for (const [k, v] of Object.entries(o)) {
      if (k === 'text' && typeof v === 'string') {
        if (o.type !== 'plain_text') out.push(v);
      } else if (k !== 'url') textsOf(v, out);
    }
  }
  return out;
};

const expectSlackAccepts = (message: { text?: string; blocks?: readonly unknown[] }): void => {
  const blocks = [...(message.blocks ?? [])] as Json[];
  expect(validateBlocks(blocks)).toBeNull();
  expect(blocks.length).toBeLessThanOrEqual(SLACK_LIMITS.blocksPerMessage);
  expect((message.text ?? '').length).toBeLessThanOrEqual(SLACK_LIMITS.messageText);
  for (const b of blocks) {
    const text = (b.text as { text?: string } | undefined)?.text ?? '';
    if (b.type === 'section') expect(text.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionText);
    if (b.type === 'header') expect(text.length).toBeLessThanOrEqual(SLACK_LIMITS.headerText);
    if (b.type === 'context') {
      const elements = (b.elements ?? []) as Json[];
      expect(elements.length).toBeLessThanOrEqual(SLACK_LIMITS.contextElements);
      for (const e of elements)
        expect(String(e.text ?? '').length).toBeLessThanOrEqual(SLACK_LIMITS.contextElementText);
    }
    if (b.type === 'actions') {
      for (const e of (b.elements ?? []) as Json[]) {
        expect(String((e.text as Json | undefined)?.text ?? '').length).toBeLessThanOrEqual(
          SLACK_LIMITS.buttonText,
        );
        if (e.value !== undefined)
          expect(String(e.value).length).toBeLessThanOrEqual(SLACK_LIMITS.buttonValue);
        if (e.url !== undefined) expect(String(e.url).length).toBeLessThanOrEqual(SLACK_LIMITS.buttonUrl);
      }
    }
  }
  for (const t of [message.text ?? '', ...textsOf(blocks)]) {
    // Nothing from outside pings anyone or becomes a link…
    expect(t).not.toMatch(/<(!channel|!here|@UEVIL|!subteam\^SEVIL|http:\/\/evil)/);
    // …and every & starts a whole escape: none was left raw or cut in half.
    expect(t).not.toMatch(/&(?!amp;|lt;|gt;)/);
    // No lone surrogate (half an emoji) at a cut.
    expect(t).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/);
  }
};

const RUNS = { numRuns: 60 };

describe('every block builder keeps to Slack limits and escapes text from outside', () => {
  it('truncate and splitForCodeBlocks never cut an escape or an emoji in half', () => {
    fc.assert(
      fc.property(longOutside, fc.integer({ min: 2, max: 3_000 }), (text, max) => {
        const cut = truncate(text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'), max);
        expect(cut.length).toBeLessThanOrEqual(max);
        expect(cut).not.toMatch(/&(?!amp;|lt;|gt;)/);
        const { parts } = splitForCodeBlocks(text, { max: Math.max(100, max) });
        for (const p of parts) {
          expect(p.length).toBeLessThanOrEqual(Math.max(100, max));
          expect(p).not.toMatch(/&(?!amp;|lt;|gt;)/);
          expect(p.slice(3, -3)).not.toContain('```');
        }
      }),
      { numRuns: 200 },
    );
  });

  it('/why-reboot: the verdict and the progress message', () => {
    const restart = fc.record({
      summary: longOutside,
      actor: fc.option(outside, { nil: null }),
      evidence: fc.array(fc.record({ text: longOutside }), { maxLength: 8 }),
      nextSteps: fc.array(outside, { maxLength: 5 }),
    });
    fc.assert(
      fc.property(
        longOutside,
        fc.array(restart, { maxLength: 8 }),
        fc.array(longOutside, { maxLength: 20 }),
        fc.array(outside, { maxLength: 4 }),
        fc.boolean(),
        (name, restarts, timeline, notes, blind) => {
          const rs: Restart[] = restarts.map((r, i) => ({
            at: new Date(Date.UTC(2026, 4, 3) - i * 3_600_000).toISOString(),
            bootAt: null,
            cause: 'host-error',
            confidence: 'high',
            actor: r.actor,
            downtimeSeconds: 120,
            summary: r.summary,
            evidence: r.evidence.map((e) => ({ source: 'guest-logs' as const, at: null, text: e.text })),
            nextSteps: r.nextSteps,
          }));
          const report = {
            instance: {
              name,
              project: 'p-1',
              zone: 'us-central1-a',
              id: '1',
              status: 'RUNNING',
              lastStartTimestamp: null,
              lastStopTimestamp: null,
            },
            window: { from: '2026-04-26T23:35:58.000Z', to: '2026-05-03T23:35:58.000Z' },
            restarts: rs,
            verdict: rs[0] ?? { cause: 'no-restart', confidence: 'low', summary: name },
            timeline: timeline.map((text, i) => ({
              at: new Date(Date.UTC(2026, 4, 3) - i * 1000).toISOString(),
              source: 'guest-logs' as const,
              text,
              kind: 'guest' as const,
            })),
            sources: [
              {
                name: 'audit-logs',
                status: blind ? 'failed' : 'ok',
                reason: notes[0] ?? null,
                items: 0,
                durationMs: 1,
              },
              { name: 'guest-logs', status: 'failed', reason: name, items: 0, durationMs: 1 },
            ],
            notes,
            links: [{ label: name, url: 'https://console.cloud.google.com/x?a=1&b=2' }],
          } as unknown as WhyRebootReport;
          const built = buildWhyRebootBlocks(report);
          expectSlackAccepts(built);
          expectSlackAccepts(buildWhyRebootProgressBlocks(name));
          for (const part of splitForCodeBlocks(built.fullReport).parts) expectSlackAccepts({ text: part });
        },
      ),
      RUNS,
    );
  });

  it('/diag progress, the unknown-command answer', () => {
    fc.assert(
      fc.property(longOutside, (text) => {
        expectSlackAccepts(
          buildDiagProgressBlocks(text, {
            from: new Date('2026-05-03T10:00:00Z'),
            to: new Date('2026-05-03T11:00:00Z'),
          }),
        );
        expectSlackAccepts(unknownCommandAnswer(`/${text}`, ['/why-reboot', '/opsbot']));
      }),
      RUNS,
    );
  });

  it('pipeline status, result (job names, stages, log tails from the forge) and merge messages', () => {
    fc.assert(
      fc.property(
        longOutside,
        fc.array(
          fc.record({ name: longOutside, stage: outside, tail: fc.array(longOutside, { maxLength: 30 }) }),
          {
            maxLength: 6,
          },
        ),
        outside,
        (label, jobs, actor) => {
          const view: PipelineView = {
            mr: {
              forge: 'gitlab',
              repo: label,
              number: 42,
              url: 'https://gitlab.example.com/a/-/merge_requests/42',
            },
            label,
            status: 'failed',
            url: 'https://gitlab.example.com/a/-/pipelines/9',
            sha: 'a'.repeat(40),
            ref: label,
            stages: [
              {
                name: label,
                status: 'failed',
                url: null,
                jobs: jobs.map((j) => ({
                  name: j.name,
                  status: 'failed' as const,
                  durationMs: 1_000,
                  url: null,
                  allowFailure: false,
                  failureReason: j.stage,
                })),
              },
            ],
            durationMs: 1_000,
            supersededBy: null,
            updatedAt: new Date('2026-05-04T10:00:00Z'),
          };
          expectSlackAccepts(buildPipelineStatusMessage(view));
          expectSlackAccepts(
            buildPipelineResultMessage({
              pipeline: view,
              outcome: 'failed',
              failedJobs: jobs.map((j) => ({
                name: j.name,
                stage: j.stage,
                url: null,
                failureReason: j.stage,
                logTail: j.tail,
              })),
              moreFailed: 0,
              retryValue: label,
            }),
          );
          expectSlackAccepts(buildMergeRequestEndedMessage({ mr: view.mr, state: 'merged', actor }));
        },
      ),
      RUNS,
    );
  });

  it('the change preview (summary, target, paths and diff from the request and the repository)', () => {
    fc.assert(
      fc.property(
        longOutside,
        outside,
        fc.array(longOutside, { maxLength: 40 }),
        (summary, target, diffLines) => {
          const plan: ChangePlan = {
            kind: 'versionlock',
            target,
            forge: 'gitlab',
            repo: target,
            baseBranch: target,
            baseSha: 'a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6a7b8c9d0',
            branch: target,
            title: summary,
            commitMessage: 'x',
            summary,
            files: [{ path: target, before: 'a\n', after: 'b\n' }],
            diff: diffLines.map((l) => `+${l}`).join('\n'),
            labels: [],
            request: {},
          };
          for (const state of [{ kind: 'awaiting' }, { kind: 'preparing' }] as const) {
            expectSlackAccepts(
              buildChangeMessage(
                {
                  plan,
                  requestedBy: 'U0ALICE',
                  buttonValue: 'id:digest',
                  approvers: 'anyone but the requester',
                },
                state,
              ),
            );
          }
        },
      ),
      RUNS,
    );
  });
});
