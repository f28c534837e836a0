import { AppError } from '../../core/errors.js';
import { appendLine, joinRawLines, type RawLine, removeLines, splitRawLines } from './lines.js';
import { parseListSpec } from './nevra.js';
import type { LockEntry, VersionlockFileOptions, VersionlockOutcome, VersionlockRequest } from './types.js';
import { assertArch, assertPackageName, assertRelease, parseVersionSpec } from './validate.js';

/**
 * yum (EL7, `EPOCH:NAME-VERSION-RELEASE.ARCH`) and dnf (EL8/9, `NAME-EPOCH:VERSION-RELEASE.ARCH`)
 * `versionlock.list` files. Line based: only the lines about the package change; comments, blank lines,
 * `!` excludes, unknown lines, CRLF and the final newline stay byte for byte.
 */

type ListFormat = 'yum' | 'dnf';

interface ListLine extends RawLine {
  readonly entry: LockEntry | null;
}

const parseLines = (content: string): ListLine[] =>
  splitRawLines(content).map((raw, i) => {
    const trimmed = raw.text.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return { ...raw, entry: null };
    const exclude = trimmed.startsWith('!');
    const spec = exclude ? trimmed.slice(1).trim() : trimmed;
    const parsed = parseListSpec(spec);
    if (!parsed) return { ...raw, entry: null };
    return {
      ...raw,
      entry: {
        name: parsed.name,
        epoch: parsed.epoch,
        version: parsed.version,
        release: parsed.release,
        arch: parsed.arch,
        exclude,
        text: trimmed,
        line: i + 1,
      },
    };
  });

/** Every lock and exclude entry of a versionlock.list, in file order. Unparseable lines are skipped. */
export const listListFileEntries = (content: string): LockEntry[] =>
  parseLines(content).flatMap((l) => (l.entry ? [l.entry] : []));

const yumReleaseNeeded = (pkg: string, version: string): string =>
  `yum versionlock needs the release: give ${version}-<release> or set targets.versionlock[].releases.${pkg}`;

export const formatListEntry = (
  format: ListFormat,
  e: { name: string; epoch: string; version: string; release: string; arch: string },
): string =>
  format === 'yum'
    ? `${e.epoch}:${e.name}-${e.version}-${e.release}.${e.arch}`
    : `${e.name}-${e.epoch}:${e.version}-${e.release}.${e.arch}`;

export const editListFile = (
  format: ListFormat,
  content: string,
  request: VersionlockRequest,
  options: Omit<VersionlockFileOptions, 'format'> = {},
): VersionlockOutcome => {
  const pkg = assertPackageName(request.pkg);
  const lines = parseLines(content);
  const locks = lines.flatMap((l, i) => (l.entry && !l.entry.exclude && l.entry.name === pkg ? [i] : []));

  if (request.op === 'remove') {
    if (locks.length === 0) {
      return {
        kind: 'nothing-to-do',
        op: 'remove',
        pkg,
        reason: `not locked: no versionlock entry for ${pkg}`,
      };
    }
    const removed = locks.map((i) => (lines[i] as ListLine).text.trim());
    const after = joinRawLines(removeLines(lines, new Set(locks)));
    return {
      kind: 'changed',
      op: 'remove',
      pkg,
      before: content,
      after,
      summary: `unlock ${pkg} (remove ${removed.join(', ')})`,
      line: removed[0] as string,
      removed,
    };
  }

  const forYum = format === 'yum';
  const spec = parseVersionSpec(request.version, { allowReleaseGlob: !forYum, forYum });
  const arch = assertArch(options.arch ?? '*');
  let release = spec.release;
  const releaseGiven = release !== null || options.releases?.[pkg] !== undefined;
  if (release === null) {
    const fallback = options.releases?.[pkg];
    if (fallback !== undefined) release = assertRelease(fallback, !forYum, forYum);
    else if (forYum)
      throw new AppError('bad_input', yumReleaseNeeded(pkg, spec.version), { details: { pkg } });
    else release = '*';
  }
  const epoch = spec.epoch ?? '0';
  const text = formatListEntry(format, { name: pkg, epoch, version: spec.version, release, arch });

  const same = (e: LockEntry): boolean =>
    (e.epoch ?? '0') === epoch &&
    e.version === spec.version &&
    // dnf without a release asked for: an existing lock of that version (any release) already satisfies it.
    (e.release === release || (!releaseGiven && !forYum)) &&
    // yum ignores the arch when matching (FACTS); dnf matches the full NEVRA, no arch meaning any.
    (forYum || (e.arch ?? '*') === arch);
  const firstLock = locks[0];
  if (locks.length === 1 && firstLock !== undefined) {
    const existing = (lines[firstLock] as ListLine).entry as LockEntry;
    if (same(existing)) {
      return { kind: 'nothing-to-do', op: 'add', pkg, reason: `already locked: ${existing.text}` };
    }
  }
  let next: RawLine[];
  let removed: string[] = [];
  if (firstLock === undefined) {
    next = appendLine(lines, text);
  } else {
    removed = locks.map((i) => (lines[i] as ListLine).text.trim());
    const replaced: RawLine[] = lines.map((l, i) => (i === firstLock ? { text, eol: l.eol } : l));
    next = removeLines(replaced, new Set(locks.slice(1)));
  }
  return {
    kind: 'changed',
    op: 'add',
    pkg,
    before: content,
    after: joinRawLines(next),
    summary: removed.length ? `lock ${pkg} to ${text} (was ${removed.join(', ')})` : `lock ${pkg} to ${text}`,
    line: text,
    removed,
  };
};
