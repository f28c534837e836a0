import { describe, expect, it } from 'vitest';
import { SLACK_MAX_RETRY_AFTER_MS, twoReplicas } from './replicas-fixture.js';

/**
 * Two real `opsbot serve` processes on one PostgreSQL schema (replicas-fixture.ts) while Slack fails during
 * an apply: HTTP 500s, an outage, a 429 whose Retry-After is over the Slack client's bound (the replicas'
 * slack.maxRetryAfterMs, 2 s here; 30 s by default). The MR opens anyway and the thread converges once Slack is
 * back, with nothing posted before Retry-After.
 */

const DATABASE_URL = process.env.DATABASE_URL;

describe.skipIf(!DATABASE_URL)('two opsbot replicas on PostgreSQL while Slack fails', () => {
  const f = twoReplicas(DATABASE_URL as string);

  it('Slack failing while applying (HTTP 500 x4, a 4 s outage, a Retry-After over the client bound): the MR opens anyway and the thread converges when Slack is back', async () => {
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

    // 429 with a Retry-After 1 s over the client's bound, so it is the reconciler that waits, not the call: the
    // MR opens at once; nothing is posted to the thread before Retry-After.
    const retryAfterS = SLACK_MAX_RETRY_AFTER_MS / 1000 + 1;
    const clientLines = () => [f.replica('A'), f.replica('B')].flatMap((r) => r.lines);
    const clientRetriesBefore = clientLines().filter((l) =>
      l.includes('slack rate limited; retrying'),
    ).length;
    pkg = f.nextPackage();
    rootMsg = await f.request(f.replica('A'), pkg);
    change = await f.changeOf(rootMsg);
    f.slack.failNext('chat.postMessage', { status: 429, retryAfter: retryAfterS }, 1);
    const limitedAt = Date.now();
    await f.approve(f.replica('A'), rootMsg);
    await expect
      .poll(async () => (await f.store.changes.get(change.id))?.status, { timeout: 15_000 })
      .toBe('open');
    expect(f.thread(rootMsg)).toHaveLength(0);
    await f.slack.waitFor(() => f.thread(rootMsg).length > 0, 60_000);
    expect(Date.now() - limitedAt).toBeGreaterThanOrEqual(retryAfterS * 1000);
    // The call failed at once on the 429 (the configured bound took effect) rather than waiting it out itself.
    expect(
      clientLines().some(
        (l) => l.includes('"slack call failed"') && l.includes('"slackError":"ratelimited"'),
      ),
    ).toBe(true);
    expect(clientLines().filter((l) => l.includes('slack rate limited; retrying'))).toHaveLength(
      clientRetriesBefore,
    );
    await f.expectConverged(rootMsg, change.id, change.branch);
  }, 120_000);
});
