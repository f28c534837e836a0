import { describe, expect, it } from 'vitest';
import { onceUntilRejected } from '../../src/core/once.js';

describe('onceUntilRejected', () => {
  it('runs the maker once for every caller while it is pending or resolved', async () => {
    let runs = 0;
    const get = onceUntilRejected(async () => ++runs);
    expect(await Promise.all([get(), get(), get()])).toEqual([1, 1, 1]);
    expect(await get()).toBe(1);
    expect(runs).toBe(1);
  });

  it("a rejection is that call's: the next call runs the maker again", async () => {
    let runs = 0;
    const get = onceUntilRejected(async () => {
      runs++;
      if (runs === 1) throw new Error('not yet');
      return 'built';
    });
    await expect(get()).rejects.toThrow('not yet');
    expect(await get()).toBe('built');
    expect(await get()).toBe('built');
    expect(runs).toBe(2);
  });
});
