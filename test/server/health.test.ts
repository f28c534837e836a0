import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/core/errors.js';
import { createReadiness } from '../../src/server/health.js';

/** /readyz's checks with a clock the test moves: what a probe sees as the store and Slack come and go. */
describe('createReadiness', () => {
  const clock = () => {
    let t = 1_000_000;
    return {
      now: () => t,
      advance(ms: number) {
        t += ms;
      },
    };
  };
  const storeDown = () => new AppError('store', 'The opsbot database is not reachable.');

  it('a check with short lifetimes shows a failure and a recovery at the next probe; the others keep their cached success', async () => {
    const c = clock();
    let storeUp = true;
    let slackCalls = 0;
    const readiness = createReadiness(
      {
        store: {
          run: async () => {
            if (!storeUp) throw storeDown();
          },
          okTtlMs: 1_000,
          failTtlMs: 1_000,
        },
        slack: async () => {
          slackCalls += 1;
        },
      },
      { now: c.now },
    );
    expect((await readiness.check()).ready).toBe(true);
    storeUp = false;
    c.advance(1_000);
    const down = await readiness.check();
    expect(down).toEqual({
      ready: false,
      checks: { store: { ok: false, error: 'The opsbot database is not reachable.' }, slack: { ok: true } },
    });
    expect(slackCalls).toBe(1); // auth.test still cached for 30 s
    storeUp = true;
    c.advance(1_000); // and back at the next probe too
    expect((await readiness.check()).ready).toBe(true);
  });

  it('a check that does not settle fails with "no answer" within timeoutMs instead of holding the probe', async () => {
    const readiness = createReadiness({ store: () => new Promise(() => undefined) }, { timeoutMs: 50 });
    const r = await readiness.check();
    expect(r).toEqual({ ready: false, checks: { store: { ok: false, error: 'no answer within 50 ms' } } });
  });
});
