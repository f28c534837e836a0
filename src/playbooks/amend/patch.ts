/**
 * Checks a unified diff before git sees it: which files it touches, and the refusals the issue names.
 * Binary patches (`GIT binary patch`, `Binary files ... differ`) and paths outside the repository (absolute,
 * `..`, or inside `.git/`) are refused; git apply checks the rest (that each hunk applies).
 */

export type PatchCheck =
  | { readonly ok: true; readonly files: readonly string[] }
  | { readonly ok: false; readonly problem: string };

/** Largest diff accepted (Slack command text is at most a few thousand characters; the CLI may send more). */
export const MAX_PATCH_BYTES = 1024 * 1024;

const unquote = (p: string): string => {
  const t = p.trim();
  if (!t.startsWith('"')) return t;
  try {
    return JSON.parse(t) as string;
  } catch {
    return t.slice(1, -1);
  }
};

/** The repository path of a diff header path: strips `a/` / `b/` and a trailing tab + timestamp. */
const headerPath = (raw: string, stripPrefix: boolean): string | null => {
  const p = unquote(raw.replace(/\t.*$/, ''));
  if (p === '/dev/null') return null;
  return stripPrefix ? p.replace(/^[ab]\//, '') : p;
};

const badPath = (p: string): string | null => {
  if (p === '') return 'an empty path';
  if (p.startsWith('/') || /^[A-Za-z]:[\\/]/.test(p)) return `an absolute path (${p})`;
  const parts = p.split(/[\\/]/);
  if (parts.includes('..')) return `a path outside the repository (${p})`;
  if (parts.some((x) => x.toLowerCase() === '.git')) return `a path inside .git (${p})`;
  if (p.includes('\0')) return 'a path with a NUL byte';
  return null;
};

export const checkPatch = (patch: string): PatchCheck => {
  if (patch.trim() === '') return { ok: false, problem: 'the diff is empty' };
  if (Buffer.byteLength(patch) > MAX_PATCH_BYTES) {
    return { ok: false, problem: `the diff is larger than ${MAX_PATCH_BYTES / 1024} KiB` };
  }
  const files = new Set<string>();
  let hunks = 0;
  const lines = patch.split('\n');
  for (const line of lines) {
    if (line.startsWith('GIT binary patch') || /^Binary files .* differ$/.test(line)) {
      return { ok: false, problem: 'binary diffs are not supported: change text files only' };
    }
    let path: string | null | undefined;
    const git = /^diff --git (.+)$/.exec(line);
    if (git) {
      // "a/x b/y": both sides are checked through the ---/+++ and rename lines that follow; a bare header
      // (mode change, empty file) names the file here.
      const m = /^("?)a\/(.+?)\1 ("?)b\/(.+?)\3$/.exec(git[1] ?? '');
      for (const p of m ? [m[2] ?? '', m[4] ?? ''] : (git[1] ?? '').split(' ')) {
        const problem = badPath(p.replace(/^[ab]\//, ''));
        if (problem) return { ok: false, problem: `the diff touches ${problem}` };
      }
      continue;
    }
    const hdr = /^(---|\+\+\+) (.+)$/.exec(line);
    if (hdr) path = headerPath(hdr[2] ?? '', true);
    const rename = /^(rename|copy) (from|to) (.+)$/.exec(line);
    if (rename) path = unquote(rename[3] ?? '');
    if (path === undefined) {
      if (line.startsWith('@@ ')) hunks += 1;
      continue;
    }
    if (path === null) continue;
    const problem = badPath(path);
    if (problem) return { ok: false, problem: `the diff touches ${problem}` };
    files.add(path);
  }
  if (files.size === 0 || hunks === 0) {
    return { ok: false, problem: 'that is not a unified diff (no ---/+++ file headers and @@ hunks)' };
  }
  return { ok: true, files: [...files].sort() };
};
