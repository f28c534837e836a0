import { describe, expect, it } from 'vitest';
import { parseAmendArgs } from '../../src/handlers/amend.js';

/** `/amend` arguments as Slack delivers them: the diff on the lines after the command, entities escaped. */

const DIFF = '--- a/x.conf\n+++ b/x.conf\n@@ -1 +1 @@\n-a <b> & c\n+a <b> & d\n';
const slackEscaped = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

describe('parseAmendArgs', () => {
  it('takes the diff from the following lines, with the & < > Slack escaped given back', () => {
    const out = parseAmendArgs(slackEscaped(`ops/app!4 --diff --reason "hot fix"\n${DIFF}`));
    expect(out).toEqual({
      ok: true,
      args: { mr: 'ops/app!4', patch: DIFF, mode: 'add', message: null, reason: 'hot fix', dryRun: false },
    });
  });

  it('takes the diff out of a code block, opened on the command line or on its own line', () => {
    for (const text of [
      `ops/app!4 --diff --amend\n\`\`\`\n${DIFF}\`\`\``,
      `ops/app!4 --diff --amend \`\`\`${DIFF}\`\`\``,
    ]) {
      const out = parseAmendArgs(text);
      expect(out.ok && out.args.patch).toBe(DIFF);
      expect(out.ok && out.args.mode).toBe('amend');
    }
  });

  it('says what is missing: the MR, --diff, or the diff itself', () => {
    expect(parseAmendArgs(`--diff\n${DIFF}`)).toMatchObject({ ok: false, problem: 'which MR?' });
    expect(parseAmendArgs(`ops/app!4\n${DIFF}`)).toMatchObject({
      ok: false,
      problem: expect.stringContaining('--diff'),
    });
    expect(parseAmendArgs('ops/app!4 --diff')).toMatchObject({
      ok: false,
      problem: expect.stringContaining('unified diff'),
    });
    expect(parseAmendArgs(`ops/app!4 --diff --force\n${DIFF}`)).toMatchObject({
      ok: false,
      problem: 'unknown option --force',
    });
  });
});
