import { describe, expect, it } from 'vitest';
import { ForgeHttpError, ForgeTimeoutError, toForgeError } from '../../../src/integrations/forge/errors.js';
import {
  defaultRetryPolicy,
  retryDelayFor,
  writeWithRecheck,
} from '../../../src/integrations/forge/retry.js';

const NOW = Date.parse('2026-05-04T10:00:00Z');
const policy = defaultRetryPolicy({
  now: () => NOW,
  random: () => 0.5,
  baseDelayMs: 100,
  maxDelayMs: 30_000,
});
const http = (status: number, headers: Record<string, string> = {}, msg = '') =>
  new ForgeHttpError(status, headers, msg);

describe('forge retry rules', () => {
  it('waits what the forge asks: Retry-After seconds or date, else x-ratelimit-reset', () => {
    expect(retryDelayFor(http(429, { 'retry-after': '7' }), 0, false, policy)).toBe(7_000);
    expect(
      retryDelayFor(http(429, { 'Retry-After': new Date(NOW + 12_000).toUTCString() }), 0, false, policy),
    ).toBe(12_000);
    const reset = String(NOW / 1000 + 20);
    expect(
      retryDelayFor(http(403, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': reset }), 0, true, policy),
    ).toBe(20_000);
  });

  it('gives up rather than wait beyond the bound, or after maxRetries', () => {
    expect(retryDelayFor(http(429, { 'retry-after': '31' }), 0, true, policy)).toBeNull();
    expect(retryDelayFor(http(429, { 'retry-after': '1' }), 3, true, policy)).toBeNull();
    // No hint at all: a minute (GitHub's advice), which here is beyond the 30 s bound.
    expect(
      retryDelayFor(http(403, {}, 'You have exceeded a secondary rate limit'), 0, true, policy),
    ).toBeNull();
    expect(retryDelayFor(http(429), 0, true, { ...policy, maxDelayMs: 60_000 })).toBe(60_000);
  });

  it('repeats reads after 5xx and timeouts, never a write, and never a 4xx', () => {
    expect(retryDelayFor(http(502), 1, true, policy)).toBe(200);
    expect(retryDelayFor(new ForgeTimeoutError(100), 0, true, policy)).toBe(100);
    expect(retryDelayFor(http(502), 0, false, policy)).toBeNull();
    expect(retryDelayFor(new ForgeTimeoutError(100), 0, false, policy)).toBeNull();
    expect(retryDelayFor(http(403, {}, 'Forbidden'), 0, true, policy)).toBeNull();
    expect(retryDelayFor(http(404), 0, true, policy)).toBeNull();
  });

  it('writeWithRecheck returns what the recheck found instead of writing again', async () => {
    let writes = 0;
    const out = await writeWithRecheck(
      async () => {
        writes++;
        throw http(504);
      },
      async () => 'found',
      { ...policy, sleep: async () => {} },
    );
    expect(out).toBe('found');
    expect(writes).toBe(1);
  });

  it('maps a rate limit to "retry after N s" and a 5xx to "try again"', () => {
    const base = {
      service: 'gitlab',
      repo: 'infra/ansible',
      access: 'read',
      credential: 'GITLAB_TOKEN',
      timeoutMs: 1000,
      secrets: ['s3cr3t-token'],
      now: NOW,
    } as const;
    expect(toForgeError(http(429, { 'retry-after': '42' }), base).userMessage).toBe(
      'GitLab is rate limiting opsbot; retry after 42 s',
    );
    expect(toForgeError(http(502), base).userMessage).toBe('GitLab is failing (status 502); try again');
    const e = toForgeError(http(400, {}, 'bad token s3cr3t-token here'), base);
    expect(e.userMessage).toBe(
      'GitLab rejected the request for infra/ansible (GitLab said: "bad token [redacted] here")',
    );
  });
});
