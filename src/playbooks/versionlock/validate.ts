import { AppError } from '../../core/errors.js';
import type { VersionSpec } from './types.js';

/**
 * RPM naming rules for what a user may ask to lock. Everything is ASCII on purpose: a space, quote, newline,
 * slash, NUL, `${`, or a Unicode look-alike never reaches a file. Each refusal quotes the rule it broke.
 */

export const NAME_RULE = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;
export const VERSION_RULE = /^[A-Za-z0-9][A-Za-z0-9._+~^]*$/;
export const RELEASE_RULE = /^[A-Za-z0-9][A-Za-z0-9._+~^]*$/;
export const RELEASE_GLOB_RULE = /^[A-Za-z0-9*?][A-Za-z0-9._+~^*?]*$/;
export const EPOCH_RULE = /^[0-9]{1,10}$/;
export const ARCH_RULE = /^(?:\*|[A-Za-z0-9_]+)$/;
const MAX_LEN = 200;

const shown = (value: string): string => JSON.stringify(value);

const refuse = (what: string, value: string, rule: string): never => {
  throw new AppError('bad_input', `${what} ${shown(value)} is refused: ${rule}`, {
    details: { field: what, rule },
  });
};

export const assertPackageName = (name: string): string => {
  if (name.length === 0) refuse('package name', name, 'it must not be empty');
  if (name.length > MAX_LEN) refuse('package name', name, `at most ${MAX_LEN} characters`);
  if (!NAME_RULE.test(name)) {
    refuse(
      'package name',
      name,
      'an RPM name must match ^[A-Za-z0-9][A-Za-z0-9._+-]*$ (ASCII letters, digits, . _ + -; no spaces, quotes, slashes, globs or newlines)',
    );
  }
  if (name.includes('..')) refuse('package name', name, 'it must not contain ".."');
  return name;
};

export const assertArch = (arch: string): string => {
  if (!ARCH_RULE.test(arch) || arch.length > 32) {
    refuse('arch', arch, 'an architecture is "*" or ASCII letters, digits and _ (e.g. x86_64, noarch)');
  }
  return arch;
};

export const assertRelease = (release: string, allowGlob: boolean, forYum: boolean): string => {
  if (release.length > MAX_LEN) refuse('release', release, `at most ${MAX_LEN} characters`);
  if (allowGlob ? RELEASE_GLOB_RULE.test(release) : RELEASE_RULE.test(release)) return release;
  if (forYum && /[*?[\]]/.test(release)) {
    return refuse(
      'release',
      release,
      'yum versionlock matches the exact release: a glob in the release locks to nothing and hides every version',
    );
  }
  return refuse(
    'release',
    release,
    allowGlob
      ? 'a release must match ^[A-Za-z0-9*?][A-Za-z0-9._+~^*?]*$ (no "-", ":", spaces or quotes)'
      : 'a release must match ^[A-Za-z0-9][A-Za-z0-9._+~^]*$ (no "-", ":", spaces, quotes or globs)',
  );
};

/**
 * Parses `[EPOCH:]VERSION[-RELEASE]` as a user types it (`7.10.2`, `7.10.2-1`, `1:7.10.2-1.el7`).
 * The version itself may not contain `-` or `:`, so both separators are unambiguous.
 */
export const parseVersionSpec = (
  input: string,
  opts: { allowReleaseGlob: boolean; forYum: boolean },
): VersionSpec => {
  if (input.length === 0) refuse('version', input, 'it must not be empty');
  if (input.length > MAX_LEN) refuse('version', input, `at most ${MAX_LEN} characters`);
  let rest = input;
  let epoch: string | null = null;
  const colon = rest.indexOf(':');
  if (colon >= 0) {
    epoch = rest.slice(0, colon);
    rest = rest.slice(colon + 1);
    if (!EPOCH_RULE.test(epoch))
      refuse('epoch', epoch, 'an epoch is digits only (e.g. 0 or 1 in 1:7.10.2-1)');
  }
  const dash = rest.indexOf('-');
  const version = dash >= 0 ? rest.slice(0, dash) : rest;
  const release = dash >= 0 ? rest.slice(dash + 1) : null;
  if (!VERSION_RULE.test(version)) {
    refuse(
      'version',
      version,
      'a version must match ^[A-Za-z0-9][A-Za-z0-9._+~^]*$ (no "-", ":", spaces, quotes, globs or newlines); write it as [EPOCH:]VERSION[-RELEASE]',
    );
  }
  if (release !== null) assertRelease(release, opts.allowReleaseGlob, opts.forYum);
  return { epoch, version, release };
};
