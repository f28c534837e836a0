import { createHmac, timingSafeEqual } from 'node:crypto';

/** Slack rejects nothing older than this itself; we refuse replays older than 5 minutes. */
export const MAX_SIGNATURE_AGE_SECONDS = 5 * 60;

export type SignatureCheck =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'missing_headers' | 'stale_timestamp' | 'bad_signature' };

/**
 * Verifies a Slack request: `x-slack-signature` must be `v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{raw body}`
 * with the signing secret, and `x-slack-request-timestamp` at most 5 minutes from now (either way).
 * Several secrets may be given so a rotated secret keeps working during the switch.
 */
export const verifySlackSignature = (input: {
  readonly signingSecrets: readonly string[];
  readonly rawBody: Buffer | string;
  readonly timestamp: string | undefined;
  readonly signature: string | undefined;
  readonly nowMs: number;
}): SignatureCheck => {
  const { timestamp, signature } = input;
  if (!timestamp || !signature || !/^\d{1,12}$/.test(timestamp) || !signature.startsWith('v0=')) {
    return { ok: false, reason: 'missing_headers' };
  }
  if (Math.abs(input.nowMs / 1000 - Number(timestamp)) > MAX_SIGNATURE_AGE_SECONDS) {
    return { ok: false, reason: 'stale_timestamp' };
  }
  const given = Buffer.from(signature.slice(3), 'hex');
  for (const secret of input.signingSecrets) {
    const hmac = createHmac('sha256', secret);
    hmac.update(`v0:${timestamp}:`);
    hmac.update(input.rawBody);
    const expected = hmac.digest();
    if (given.length === expected.length && timingSafeEqual(given, expected)) return { ok: true };
  }
  return { ok: false, reason: 'bad_signature' };
};

/** Builds the headers Slack would send for `rawBody` (tests, benchmarks, and tools replaying requests). */
export const signSlackRequest = (
  signingSecret: string,
  rawBody: string,
  timestampSeconds: number,
): { 'x-slack-request-timestamp': string; 'x-slack-signature': string } => {
  const ts = String(Math.floor(timestampSeconds));
  const sig = createHmac('sha256', signingSecret).update(`v0:${ts}:${rawBody}`).digest('hex');
  return { 'x-slack-request-timestamp': ts, 'x-slack-signature': `v0=${sig}` };
};
