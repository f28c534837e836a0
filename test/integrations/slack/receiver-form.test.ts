import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseForm, parseSlackBody } from '../../../src/integrations/slack/receiver.js';

/** What the receiver did before (and what a Bolt app reads): URLSearchParams, last value wins. */
const reference = (text: string) => {
  const params = new URLSearchParams(text);
  return { fields: Object.fromEntries(params), payload: params.get('payload') ?? undefined };
};

describe('slash command form bodies', () => {
  it('decode exactly as URLSearchParams does, including + as space, UTF-8 escapes and malformed ones', () => {
    for (const text of [
      '',
      'command=%2Fopsbot&text=help+versionlock',
      'text=caf%C3%A9+%E2%9C%93&a=1&a=2',
      'text=100%&b=%zz',
      '?a=1',
      '&&a&=v&b=',
      'payload=%7B%22type%22%3A%22block_actions%22%7D&payload=%7B%7D',
      'k=%ED%A0%80',
    ]) {
      expect(parseForm(text)).toEqual(reference(text));
    }
    const piece = fc.constantFrom(
      '%',
      '&',
      '=',
      '+',
      '?',
      'a',
      'F',
      '0',
      '9',
      'E',
      '✓',
      ' ',
      'payload',
      '%C3%A9',
      '%F0%9F%98%80',
      '%FF',
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), (parts) => {
        const text = Buffer.from(parts.join('')).toString('utf8');
        expect(parseForm(text)).toEqual(reference(text));
      }),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.string(), fc.string())), (pairs) => {
        const text = new URLSearchParams(pairs).toString();
        expect(parseForm(text)).toEqual(reference(text));
      }),
      { numRuns: 1000 },
    );
  });

  it('cannot set the prototype of the parsed body through a __proto__ field', () => {
    const body = parseSlackBody(
      Buffer.from('__proto__=x&command=%2Fopsbot'),
      'application/x-www-form-urlencoded',
    );
    expect(Object.getPrototypeOf(body)).toBe(Object.prototype);
    expect(Object.hasOwn(body, '__proto__')).toBe(true);
    expect(body.command).toBe('/opsbot');
  });

  it('reads interactivity from the JSON in the payload field', () => {
    const body = parseSlackBody(
      Buffer.from(`payload=${encodeURIComponent(JSON.stringify({ type: 'block_actions', actions: [] }))}`),
      'application/x-www-form-urlencoded',
    );
    expect(body).toEqual({ type: 'block_actions', actions: [] });
  });
});
