import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * GitLab sends the webhook's secret token as is, in `X-Gitlab-Token`. It is compared in constant time: both
 * sides are hashed first, so neither the length nor a common prefix leaks through the timing. Several
 * secrets may be accepted (the current one and, while a rotation rolls out, the previous one).
 */
export const verifyGitlabToken = (given: string | undefined, secrets: readonly string[]): boolean => {
  if (given === undefined || given === '') return false;
  const g = createHash('sha256').update(given, 'utf8').digest();
  let ok = false;
  for (const secret of secrets) {
    const s = createHash('sha256').update(secret, 'utf8').digest();
    // No early exit: the time taken does not say which secret matched.
    if (timingSafeEqual(g, s)) ok = true;
  }
  return ok;
};
