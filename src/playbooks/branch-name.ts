import { createHash } from 'node:crypto';

/**
 * The branch of a change: `opsbot/<kind>/<target>/<what>`. Deterministic (a retry, a double click or a second
 * replica finds the same branch), one per target (two targets in one repository never share a branch: the
 * target is a path segment of its own, so no target name and request can run together into another's), a
 * valid git ref (git check-ref-format) and at most about 190 characters (a shortened `what` keeps a hash of
 * the full one, so two long requests still differ).
 */

const MAX_WHAT = 100;

/** One path segment of a ref: allowed characters only, no "..", no leading or trailing "." or "-", no ".lock". */
const segment = (raw: string): string => {
  const safe = raw
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/\.{2,}/g, '.')
    .replace(/^[-.]+|[-.]+$/g, '')
    .replace(/\.lock$/i, '-lock');
  return safe === '' ? 'x' : safe;
};

export const buildChangeBranchName = (kind: string, target: string, what: string): string => {
  let tail = segment(what);
  if (tail.length > MAX_WHAT) {
    const hash = createHash('sha256').update(what).digest('hex').slice(0, 8);
    tail = `${segment(tail.slice(0, MAX_WHAT - 9))}-${hash}`;
  }
  return `opsbot/${segment(kind)}/${segment(target).slice(0, 63)}/${tail}`;
};
