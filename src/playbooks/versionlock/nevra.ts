/**
 * Parsing of lock entries already in a file. Robust by design: anything that does not parse is reported as
 * null and the caller keeps the line untouched. Package matching is by the parsed name only, never by prefix
 * (`elasticsearch` is not `elasticsearch-oss`).
 */

export interface ParsedNevra {
  readonly name: string;
  readonly epoch: string | null;
  /** Where the epoch was written: `0:name-...` (yum), `name-0:...` (dnf), or absent. */
  readonly epochStyle: 'none' | 'prefix' | 'infix';
  readonly version: string | null;
  readonly release: string | null;
  readonly arch: string | null;
}

const KNOWN_ARCHES = new Set([
  'noarch',
  'x86_64',
  'i386',
  'i486',
  'i586',
  'i686',
  'athlon',
  'aarch64',
  'armv7hl',
  'armhfp',
  'ppc64',
  'ppc64le',
  's390',
  's390x',
  'riscv64',
  'ia64',
  'src',
  'nosrc',
]);

const isArchLike = (s: string): boolean =>
  KNOWN_ARCHES.has(s) || /^[A-Za-z0-9_]*[*?][A-Za-z0-9_*?]*$/.test(s);

/** `1.el7.x86_64` -> release `1.el7`, arch `x86_64`; `1.*` -> `1`, `*`; `1.el7` -> `1.el7`, null. */
export const splitReleaseArch = (relArch: string): { release: string; arch: string | null } => {
  const dot = relArch.lastIndexOf('.');
  if (dot > 0) {
    const arch = relArch.slice(dot + 1);
    if (isArchLike(arch)) return { release: relArch.slice(0, dot), arch };
  }
  return { release: relArch, arch: null };
};

const EPOCH_PREFIX = /^([0-9]+):(.+)$/;

type Epoch = Pick<ParsedNevra, 'epoch' | 'epochStyle'>;

/** `0:name-1.0-1` -> epoch `0` written as a prefix, and the rest; anything else has no epoch here. */
const splitEpochPrefix = (spec: string): Epoch & { readonly rest: string } => {
  const m = EPOCH_PREFIX.exec(spec);
  return m
    ? { epoch: m[1] ?? null, epochStyle: 'prefix', rest: m[2] ?? '' }
    : { epoch: null, epochStyle: 'none', rest: spec };
};

/**
 * The version with an epoch written before it (`name-0:1.0-1`) taken out; null when the spec already had an
 * epoch before the name (two epochs) or a `:` is left in the version.
 */
const takeVersionEpoch = (head: Epoch, version: string): (Epoch & { readonly version: string }) | null => {
  const m = EPOCH_PREFIX.exec(version);
  let taken: Epoch & { readonly version: string } = {
    epoch: head.epoch,
    epochStyle: head.epochStyle,
    version,
  };
  if (m) {
    if (head.epoch !== null) return null;
    taken = { epoch: m[1] ?? null, epochStyle: 'infix', version: m[2] ?? '' };
  }
  return taken.version.includes(':') ? null : taken;
};

/**
 * A versionlock.list spec as the yum and dnf plugins write it: `[E:]N-V-R[.A]` or `N-[E:]V-R[.A]`.
 * Positional (the last two `-` separate version and release), as the plugins split it.
 */
export const parseListSpec = (spec: string): ParsedNevra | null => {
  if (spec.length === 0 || /\s/.test(spec)) return null;
  const head = splitEpochPrefix(spec);
  const rest = head.rest;
  const lastDash = rest.lastIndexOf('-');
  if (lastDash <= 0) return null;
  const secondDash = rest.lastIndexOf('-', lastDash - 1);
  if (secondDash <= 0) return null;
  const name = rest.slice(0, secondDash);
  const version = rest.slice(secondDash + 1, lastDash);
  const relArch = rest.slice(lastDash + 1);
  if (version === '' || relArch === '') return null;
  const v = takeVersionEpoch(head, version);
  if (v === null || name.includes(':')) return null;
  const { release, arch } = splitReleaseArch(relArch);
  return { name, ...v, release, arch };
};

const looksLikeVersion = (seg: string): boolean => /^(?:[0-9]+:)?[0-9]/.test(seg);
const looksLikeRelease = (seg: string): boolean => /^[0-9*?]/.test(seg);

/**
 * An entry of a free-form list (Ansible vars): `name`, `name-version`, `name-version-release[.arch]`, with
 * an optional epoch before the name or before the version. Segments count as version/release only when they
 * start with a digit, so `python3-requests` is a name, not `python3` at version `requests`.
 */
export const parseLooseSpec = (spec: string): ParsedNevra | null => {
  if (spec.length === 0 || /\s/.test(spec)) return null;
  const head = splitEpochPrefix(spec);
  const rest = head.rest;
  const segs = rest.split('-');
  const n = segs.length;
  let name: string;
  let version: string | null = null;
  let relArch: string | null = null;
  if (n >= 3 && looksLikeVersion(segs[n - 2] ?? '') && looksLikeRelease(segs[n - 1] ?? '')) {
    name = segs.slice(0, n - 2).join('-');
    version = segs[n - 2] ?? null;
    relArch = segs[n - 1] ?? null;
  } else if (n >= 2 && looksLikeVersion(segs[n - 1] ?? '')) {
    name = segs.slice(0, n - 1).join('-');
    version = segs[n - 1] ?? null;
  } else {
    name = rest;
  }
  if (name === '' || name.includes(':')) return null;
  if (version === null) {
    if (head.epoch !== null) return null; // an epoch needs a version
    return { name, epoch: null, epochStyle: 'none', version: null, release: null, arch: null };
  }
  const v = takeVersionEpoch(head, version);
  if (v === null) return null;
  if (relArch === null) return { name, ...v, release: null, arch: null };
  const { release, arch } = splitReleaseArch(relArch);
  return { name, ...v, release, arch };
};
