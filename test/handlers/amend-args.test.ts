import { describe, expect, it } from 'vitest';
import { parseAmendArgs } from '../../src/handlers/amend.js';
import { parseTfImportArgs } from '../../src/handlers/tf-import.js';
import { parseVersionlockArgs } from '../../src/handlers/versionlock.js';

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

  it('without --diff and without a diff, the command is for the form (no patch yet)', () => {
    expect(parseAmendArgs('ops/app!4 --reason later')).toMatchObject({
      ok: true,
      args: { mr: 'ops/app!4', patch: null, mode: 'add', reason: 'later' },
    });
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

describe('--mr on /versionlock and /tf-import', () => {
  it('is kept for a change and refused where nothing changes', () => {
    expect(parseVersionlockArgs('elasticsearch 7.10.2-1 --mr ops/app!3')).toMatchObject({
      ok: true,
      args: { op: 'change', mr: 'ops/app!3' },
    });
    expect(parseVersionlockArgs('list --mr ops/app!3')).toMatchObject({ ok: false });
    expect(parseVersionlockArgs('elasticsearch 7.10.2-1')).toMatchObject({ ok: true });
    const plain = parseVersionlockArgs('elasticsearch 7.10.2-1');
    expect(plain.ok && 'mr' in plain.args).toBe(false);
    expect(
      parseTfImportArgs('google_compute_instance.web_1 projects/p/zones/z/instances/web-1 --mr acme/tf#7'),
    ).toMatchObject({
      ok: true,
      args: { kind: 'address', mr: 'acme/tf#7' },
    });
    expect(parseTfImportArgs('vm web-1 --mr acme/tf#7')).toMatchObject({
      ok: true,
      args: { kind: 'vm', mr: 'acme/tf#7' },
    });
  });
});
