import { describe, expect, it } from 'vitest';
import { twoReplicas } from './replicas-fixture.js';

/**
 * Two real `opsbot serve` processes on one PostgreSQL schema (replicas-fixture.ts) while Slack fails during
 * an apply: HTTP 500s, an outage, a 429 whose Retry-After is over the Slack client's 30 s bound. The MR opens
 * anyway and the thread converges once Slack is back, with nothing posted before Retry-After.
 */

const DATABASE_URL = process.env.DATABASE_URL;

describe.skipIf(!DATABASE_URL)('two opsbot replicas on PostgreSQL while Slack fails', () => {
  const f = twoReplicas(DATABASE_URL as string);

  it('Slack failing while applying (HTTP 500 x4, a 4 s outage, Retry-After 31 s): the MR opens anyway and the thread converges when Slack is back', async () => {
    // HTTP 500 four times: the client's retries give up, the reconciler tries again after a backoff.
    let pkg = f.nextPackage();
    let rootMsg = await f.request(f.replica('A'), pkg);
    let change = await f.changeOf(rootMsg);
    f.slack.failNext('chat.postMessage', { status: 500 }, 4);
    await f.approve(f.replica('A'), rootMsg);
    await f.expectConverged(rootMsg, change.id, change.branch);

    // Slack unreachable for 4 s right after the click.
    pkg = f.nextPackage();
    rootMsg = await f.request(f.replica('A'), pkg);
    change = await f.changeOf(rootMsg);
    await f.approve(f.replica('A'), rootMsg);
    f.slack.outage(4_000);
    await expect
      .poll(async () => (await f.store.changes.get(change.id))?.status, { timeout: 15_000 })
      .toBe('open');
    await f.expectConverged(rootMsg, change.id, change.branch);

    // 429 with Retry-After 31 s (over the client's 30 s bound, so it is the reconciler that waits): the MR opens
    // at once; nothing is posted to the thread before Retry-After.
    pkg = f.nextPackage();
    rootMsg = await f.request(f.replica('A'), pkg);
    change = await f.changeOf(rootMsg);
    f.slack.failNext('chat.postMessage', { status: 429, retryAfter: 31 }, 1);
    const limitedAt = Date.now();
    await f.approve(f.replica('A'), rootMsg);
    await expect
      .poll(async () => (await f.store.changes.get(change.id))?.status, { timeout: 15_000 })
      .toBe('open');
    expect(f.thread(rootMsg)).toHaveLength(0);
    await f.slack.waitFor(() => f.thread(rootMsg).length > 0, 60_000);
    expect(Date.now() - limitedAt).toBeGreaterThanOrEqual(30_000);
    await f.expectConverged(rootMsg, change.id, change.branch);
  }, 120_000);
});
