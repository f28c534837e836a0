import { describe, expect, it } from 'vitest';
import {
  buildMergeRequestEndedMessage,
  buildPipelineResultMessage,
  buildPipelineStatusMessage,
  formatDuration,
} from '../../src/handlers/blocks/pipeline.js';
import type { PipelineView, ResultView } from '../../src/playbooks/pipelines/view.js';
import { validateBlocks } from '../fakes/slack.js';

const mr = {
  forge: 'gitlab' as const,
  repo: 'infra/ansible',
  number: 42,
  url: 'https://gitlab.example.com/infra/ansible/-/merge_requests/42',
};

const view = (over: Partial<PipelineView> = {}): PipelineView => ({
  mr,
  label: 'Pipeline #9',
  status: 'running',
  url: 'https://gitlab.example.com/infra/ansible/-/pipelines/9',
  sha: 'a'.repeat(40),
  ref: 'opsbot/x',
  stages: [
    {
      name: 'test',
      status: 'running',
      url: null,
      jobs: [
        {
          name: 'unit',
          status: 'success',
          durationMs: 62_000,
          url: 'https://gitlab.example.com/j/1',
          allowFailure: false,
          failureReason: null,
        },
        {
          name: 'lint',
          status: 'running',
          durationMs: 5_000,
          url: null,
          allowFailure: false,
          failureReason: null,
        },
      ],
    },
  ],
  durationMs: 70_000,
  supersededBy: null,
  updatedAt: new Date('2026-05-04T10:00:00Z'),
  ...over,
});

const blocksText = (m: { blocks?: readonly unknown[] }) => JSON.stringify(m.blocks);

describe('pipeline Block Kit', () => {
  it('shows the overall state, stages and jobs with durations, and links', () => {
    const m = buildPipelineStatusMessage(view());
    expect(validateBlocks([...(m.blocks ?? [])])).toBeNull();
    const t = blocksText(m);
    expect(t).toContain('<https://gitlab.example.com/infra/ansible/-/pipelines/9|Pipeline #9>');
    expect(t).toContain('running');
    expect(t).toContain('<https://gitlab.example.com/j/1|unit> · 1m 02s');
    expect(t).toContain('infra/ansible!42');
    expect(m.text).toBe('Pipeline #9 running for infra/ansible!42');
  });

  it('escapes forge text: a job called <!channel> pings nobody, a javascript: URL is not a link', () => {
    const m = buildPipelineStatusMessage(
      view({
        ref: '<!here>',
        stages: [
          {
            name: '<@U123>',
            status: 'failed',
            url: 'javascript:alert(1)',
            jobs: [
              {
                name: '<!channel> & co',
                status: 'failed',
                durationMs: 1000,
                url: 'https://x/|y>z',
                allowFailure: false,
                failureReason: null,
              },
            ],
          },
        ],
      }),
    );
    const t = blocksText(m);
    expect(t).not.toContain('<!channel>');
    expect(t).not.toContain('<!here>');
    expect(t).not.toContain('<@U123>');
    expect(t).toContain('&lt;!channel&gt; &amp; co');
    expect(t).not.toContain('javascript:');
    expect(t).toContain('https://x/%7Cy&gt;z');
  });

  it('stays inside Block Kit limits with hundreds of jobs and stages', () => {
    const stages = Array.from({ length: 80 }, (_, s) => ({
      name: `stage-${s}`,
      status: 'success' as const,
      url: null,
      jobs: Array.from({ length: 120 }, (_, j) => ({
        name: `job-${s}-${j}-${'x'.repeat(40)}`,
        status: 'success' as const,
        durationMs: 1000,
        url: `https://gitlab.example.com/infra/ansible/-/jobs/${s * 1000 + j}`,
        allowFailure: false,
        failureReason: null,
      })),
    }));
    const m = buildPipelineStatusMessage(view({ stages }));
    expect(validateBlocks([...(m.blocks ?? [])])).toBeNull();
    expect(m.blocks?.length).toBeLessThanOrEqual(50);
    expect(blocksText(m)).toContain('more jobs');
    expect(blocksText(m)).toContain('more stages');
  });

  it('a failure result: each failed job with its log in a code block that cannot be broken out of, and both buttons', () => {
    const result: ResultView = {
      pipeline: view({ status: 'failed' }),
      outcome: 'failed',
      failedJobs: [
        {
          name: 'rspec',
          stage: 'test',
          url: 'https://gitlab.example.com/j/2',
          failureReason: 'script_failure',
          logTail: [
            '```',
            'Error: <!channel> broke',
            ...Array.from({ length: 400 }, (_, i) => `${i} ${'y'.repeat(60)}`),
          ],
        },
        { name: 'lint', stage: 'test', url: null, failureReason: null, logTail: null },
      ],
      moreFailed: 3,
      retryValue: '1|gitlab:infra/ansible#9',
    };
    const m = buildPipelineResultMessage(result);
    expect(validateBlocks([...(m.blocks ?? [])])).toBeNull();
    const t = blocksText(m);
    expect(t).toContain('399 yyyy'); // the end of the log is kept
    expect(t).not.toContain('<!channel>');
    expect(t).toContain('script failure');
    expect(t).toContain('could not be read');
    expect(t).toContain('3 more failed jobs');
    expect(t).toContain('"action_id":"pipeline_retry"');
    expect(t).toContain('"url":"https://gitlab.example.com/infra/ansible/-/pipelines/9"');
    const code = (m.blocks ?? [])
      .map((b) => (b as { text?: { text: string } }).text?.text ?? '')
      .find((x) => x.startsWith('```')) as string;
    expect(code.match(/```/g)).toHaveLength(2); // the log's own ``` cannot close the block
  });

  it('merged / closed by whom', () => {
    expect(buildMergeRequestEndedMessage({ mr, state: 'merged', actor: 'bob' }).text).toContain(
      'was merged by bob',
    );
    expect(buildMergeRequestEndedMessage({ mr, state: 'closed', actor: null }).text).toContain(
      'closed without merging',
    );
  });

  it('formats durations', () => {
    expect([0, 45_000, 62_000, 3_725_000].map(formatDuration)).toEqual(['0s', '45s', '1m 02s', '1h 02m']);
  });
});
