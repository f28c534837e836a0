import { describe, expect, it } from 'vitest';
import { parseWords } from '../../src/handlers/args.js';
import { splitForCodeBlocks } from '../../src/handlers/blocks/text.js';
import { buildCommandHelpMessage, buildHelpMessage, parseOpsbotArgs } from '../../src/handlers/opsbot.js';
import { COMMAND_ORDER, USAGE } from '../../src/handlers/usage.js';
import { parseWhyRebootArgs } from '../../src/handlers/why-reboot.js';
import { validateBlocks } from '../fakes/slack.js';

describe('/opsbot help', () => {
  it('lists every command with usage and an example, within Block Kit limits', () => {
    const msg = buildHelpMessage();
    expect(validateBlocks([...(msg.blocks ?? [])])).toBeNull();
    const text = JSON.stringify(msg.blocks);
    for (const c of COMMAND_ORDER) {
      expect(text).toContain(USAGE[c].slash);
      expect(text).toContain(USAGE[c].examples[0]);
    }
    for (const c of COMMAND_ORDER)
      expect(validateBlocks([...(buildCommandHelpMessage(c).blocks ?? [])])).toBeNull();
  });

  it('parses "", "help", "help why-reboot" and refuses the rest', () => {
    expect(parseOpsbotArgs('')).toEqual({ ok: true, args: { topic: 'all' } });
    expect(parseOpsbotArgs('help /why-reboot')).toEqual({
      ok: true,
      args: { topic: 'command', command: 'why-reboot' },
    });
    expect(parseOpsbotArgs('help nope')).toMatchObject({ ok: false });
    expect(parseOpsbotArgs('dance')).toMatchObject({ ok: false, problem: 'unknown subcommand "dance"' });
  });
});

describe('/why-reboot arguments', () => {
  it('reads the VM, project, zone and window', () => {
    expect(parseWhyRebootArgs('web-1 --project shop-prod --zone europe-west1-b --since 12h')).toEqual({
      ok: true,
      args: {
        vm: 'web-1',
        project: 'shop-prod',
        zone: 'europe-west1-b',
        since: '12h',
        sinceMs: 12 * 3600_000,
      },
    });
    expect(parseWhyRebootArgs('web-1')).toMatchObject({ ok: true, args: { since: '7d', project: null } });
    // Slack's autocorrect turns -- into an em dash.
    expect(parseWhyRebootArgs('web-1 \u2014since=3d')).toMatchObject({
      ok: true,
      args: { sinceMs: 3 * 86_400_000 },
    });
  });

  it.each([
    ['', 'which VM'],
    ['a b', 'one VM at a time'],
    ['web-1 --zone', '--zone needs a value'],
    ['web-1 --since forever', '--since takes a duration'],
    ['web-1 --colour red', 'unknown option --colour'],
    ['Web_1', 'not a Compute Engine instance name'],
    ['web-1 --project X', 'not a Google Cloud project id'],
  ])('refuses %j with a problem the user can act on', (text, problem) => {
    const r = parseWhyRebootArgs(text);
    expect(r.ok).toBe(false);
    expect(r.ok ? '' : r.problem).toContain(problem);
  });

  it('reads durations with the same grammar as the command line (90s is as good in Slack as in a terminal)', () => {
    expect(parseWhyRebootArgs('web-1 --since 90s')).toMatchObject({ ok: true, args: { sinceMs: 90_000 } });
    expect(parseWhyRebootArgs('web-1 --since 2w')).toMatchObject({
      ok: true,
      args: { sinceMs: 14 * 86_400_000 },
    });
    expect(parseWhyRebootArgs('web-1 --since 401d')).toMatchObject({
      ok: false,
      problem: expect.stringContaining('400d'),
    });
    // the same VM reference forms as the CLI, Slack's <url|label> wrapping removed
    expect(
      parseWhyRebootArgs(
        '<https://console.cloud.google.com/compute/instancesDetail/zones/us-central1-a/instances/web-1?project=shop-prod|web-1>',
      ),
    ).toMatchObject({
      ok: true,
      args: { vm: 'web-1', project: 'shop-prod', zone: 'us-central1-a' },
    });
  });

  it('quotes group words', () => {
    expect(parseWords('a "b c" \u201cd e\u201d', [])).toEqual({
      ok: true,
      args: { positional: ['a', 'b c', 'd e'], flags: {} },
    });
  });
});

describe('splitForCodeBlocks', () => {
  const bodies = (parts: readonly string[]) => parts.map((p) => p.slice(3, -3));
  it('keeps every line, splits under the section limit and never breaks the code fence', () => {
    const text = Array.from({ length: 500 }, (_, i) => `line ${i} \`\`\` ${'x'.repeat(i % 50)}`).join('\n');
    const { parts } = splitForCodeBlocks(text);
    expect(parts.length).toBeGreaterThan(5);
    for (const p of parts) {
      expect(p.length).toBeLessThanOrEqual(2900);
      expect(p.startsWith('```') && p.endsWith('```')).toBe(true);
      expect(p.slice(3, -3)).not.toContain('```');
    }
    expect(
      bodies(parts)
        .join('\n')
        .replace(/\u200b/g, ''),
    ).toBe(text);
  });

  it('cuts a single overlong line, keeping every character', () => {
    const { parts } = splitForCodeBlocks('y'.repeat(7000));
    expect(bodies(parts).join('')).toBe('y'.repeat(7000));
    expect(Math.max(...parts.map((p) => p.length))).toBeLessThanOrEqual(2900);
  });

  it('escapes text from outside, so a log line cannot mention anyone, and never cuts an escape in half', () => {
    const line = `${'a'.repeat(2888)}<!channel> & <@U0BOSS> <http://evil.example|click>`;
    const { parts } = splitForCodeBlocks(`${line}\n${line}`);
    const all = parts.join('');
    expect(all).not.toMatch(/<[!@#]|<http/);
    for (const p of parts) expect(p).not.toMatch(/&(a|am|l|g)?$|&(amp|lt|gt)(?!;)/);
    expect(bodies(parts).join('').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&')).toBe(
      `${line}${line}`,
    );
  });
});
