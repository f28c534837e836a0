import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * GitHub signs each delivery: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>` with the
 * webhook's secret. Verified on the raw bytes, before the body is parsed, in constant time; several secrets
 * may be accepted while a rotated one rolls out.
 */
/** Is `header` shaped like GitHub's signature (`sha256=` and 64 hex digits): checked before the body is read. */
export const isGithubSignatureHeader = (header: string | undefined): header is string =>
  header !== undefined && /^sha256=[0-9a-f]{64}$/i.test(header);

export const verifyGithubSignature = (
  rawBody: Buffer,
  header: string | undefined,
  secrets: readonly string[],
): boolean => {
  if (!header?.startsWith('sha256=')) return false;
  const hex = header.slice('sha256='.length);
  if (!/^[0-9a-f]{64}$/i.test(hex)) return false;
  const given = Buffer.from(hex, 'hex');
  let ok = false;
  for (const secret of secrets) {
    const expected = createHmac('sha256', secret).update(rawBody).digest();
    if (timingSafeEqual(given, expected)) ok = true;
  }
  return ok;
};

/** The header GitHub would send for `body` (tests, benchmarks, replaying a delivery by hand). */
export const signGithubPayload = (secret: string, body: string | Buffer): string =>
  `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
